"""What one access rule of a sharing policy says.

A rule follows the access rules of the Asset Administration Shell security specification
(IDTA-01004): **subjects** (the partners it speaks of, or ``*``), **rights** (the channel:
``read`` covers every event channel, or ``query``, ``push``, ``subscribe``), **objects** (which
events: event type / bizStep, EPCIS event type, object types touched, locations, a time window),
a **condition** over the event's attributes (``when``), and — for a permit rule — what goes with
each event it lets out and under which names, or, for an aggregate rule, which daily total it
contributes to.

A **lesson rule** (``rights = ["lessons"]``) speaks of kaizen experiments instead of events:
which of the node's lessons (an experiment's A3 aggregates, :mod:`keiretsu.kaizen.lessons`) a
partner receives — by waste, status, countermeasure kind and experiment id — and which parts of
each are withheld. ``read`` does not grant ``lessons``: a policy written before lessons existed
shares none. How rules are read from ``policy.toml`` is :mod:`.loading`; which events a rule
matches, :mod:`.matching`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from keiretsu.model.cbv import BIZ_STEPS

__all__ = [
    "DEMAND_STEPS",
    "EFFECTS",
    "EVENT_RIGHTS",
    "LESSONS",
    "LESSON_PARTS",
    "MEASURES",
    "RIGHTS",
    "SHARES",
    "Condition",
    "Rule",
    "bare_step",
    "glob_any",
    "glob_regex",
]

EVENT_RIGHTS = ("read", "query", "push", "subscribe")
"""The channels events leave by. ``read`` in a rule grants all of them; a rule with ``push``
only lets events be pushed, not queried."""

LESSONS = "lessons"
"""The right of a lesson rule: which kaizen lessons a partner receives. Not granted by
``read``, and never mixed with an event right in one rule."""

RIGHTS = (*EVENT_RIGHTS, LESSONS)
"""Every right a rule may name."""

LESSON_PARTS = (
    "problem",
    "evidence",
    "hypothesis",
    "countermeasure",
    "target",
    "history",
    "predicted",
    "measured",
    "notes",
)
"""The parts of a lesson a lesson rule may ``withhold`` (the lesson's id, origin, title, waste
and status always go with it). The keys of :func:`keiretsu.kaizen.lessons.lesson_of`'s
document."""

EFFECTS = ("permit", "deny")
SHARES = ("events", "aggregate")
MEASURES = ("daily_demand", "net_stock_change")
"""What an aggregate rule shares: the daily demand per product, or the daily net change of
stock per product and location — each the twin's own view (``keiretsu.analytics.inventory``)
over the events the rule lets count."""

DEMAND_STEPS = ("shipping", "retail_selling")
"""The events a ``daily_demand`` rule lets count when it names no event types or bizSteps
itself: those where goods leave to customers (so consumption and moves between the node's own
locations stay home). What counts as demand, and how much, is the analytics' definition
(``keiretsu.analytics.inventory.daily_demand``); a ``net_stock_change`` rule that names no
events lets every event count."""

_CBV_STEP_PREFIXES = BIZ_STEPS.spellings


@dataclass(frozen=True)
class Condition:
    """A test on one event attribute: ``{attribute = "disposition", in = ["in_transit"]}``.

    ``op`` is one of ``equals``, ``in``, ``not_in``, ``matches`` (a regular expression that
    must match the whole value, RE2 syntax), ``ge``, ``gt``, ``le``, ``lt`` (against a number,
    or a date-time for time values) and ``exists`` (true or false). Values are compared as the
    text the twin keeps (``20``, ``true``, ``2026-11-02T00:00:00Z``); ``ge``… read the text as a
    number or a time. An event without the attribute, or whose value is not a number (time) for
    a comparison, cannot be evaluated: the rule does not permit it.
    """

    attribute: str
    op: str
    texts: tuple[str, ...] = ()
    number: float | None = None
    instant: datetime | None = None
    exists: bool = True

    def describe(self) -> str:
        """The condition as a person reads it."""
        if self.op == "exists":
            return f"{self.attribute!r} {'present' if self.exists else 'absent'}"
        if self.op in ("ge", "gt", "le", "lt"):
            sign = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}[self.op]
            bound = self.number if self.number is not None else self.instant
            return f"{self.attribute!r} {sign} {bound}"
        if self.op == "equals":
            return f"{self.attribute!r} = {self.texts[0]!r}"
        if self.op == "matches":
            return f"{self.attribute!r} matches {self.texts[0]!r}"
        return f"{self.attribute!r} {self.op.replace('_', ' ')} {list(self.texts)}"


@dataclass(frozen=True)
class Rule:
    """One access rule: who (subjects), by which channel (rights), which events (the filters,
    each narrowing; ``None`` = not filtered), under which condition (``when``, all must hold),
    and — for a permit rule — what goes with each event and under which names.

    Names in ``keep_attributes`` … and ``pseudonymise_ids`` may hold ``*`` wildcards.

    A lesson rule (:attr:`for_lessons`) filters experiments instead: ``wastes``, ``statuses``
    (where the experiment stands now), ``experiments`` (ids, ``*`` wildcards), ``kinds`` (of
    countermeasure), each ``None`` when not filtered; a permit lesson rule may ``withhold``
    parts of the lesson (:data:`LESSON_PARTS`).
    """

    id: str
    effect: str
    subjects: tuple[str, ...]
    rights: tuple[str, ...] = ("read",)
    share: str = "events"
    measure: str | None = None
    description: str = ""
    event_types: tuple[str, ...] | None = None
    biz_steps: tuple[str, ...] | None = None
    epcis_event_types: tuple[str, ...] | None = None
    object_types: tuple[str, ...] | None = None
    locations: tuple[str, ...] | None = None
    time_from: datetime | None = None
    time_until: datetime | None = None
    when: tuple[Condition, ...] = ()
    keep_attributes: tuple[str, ...] = ()
    remove_attributes: tuple[str, ...] = ()
    share_objects: tuple[str, ...] = ()
    keep_object_attributes: tuple[str, ...] = ()
    remove_object_attributes: tuple[str, ...] = ()
    pseudonymise: tuple[str, ...] = ()
    pseudonymise_ids: tuple[str, ...] = ()
    pseudonymise_event_ids: bool = False
    master_data: tuple[str, ...] = ()
    """The master-data attributes (URIs, ``*`` wildcards) that go with the places, goods and
    business steps of the events this rule permits; none by default."""
    wastes: tuple[str, ...] | None = None
    statuses: tuple[str, ...] | None = None
    experiments: tuple[str, ...] | None = None
    kinds: tuple[str, ...] | None = None
    withhold: tuple[str, ...] = ()

    @property
    def for_lessons(self) -> bool:
        """Whether this is a lesson rule (``rights = ["lessons"]``)."""
        return LESSONS in self.rights

    def names(self, partner: str) -> bool:
        """Whether this rule speaks of ``partner`` (by name or ``*``)."""
        return partner in self.subjects or "*" in self.subjects

    def grants(self, right: str) -> bool:
        """Whether this rule covers ``right`` (``read`` covers every event channel, not
        ``lessons``)."""
        return right in self.rights or ("read" in self.rights and right != LESSONS)

    def keeps_attribute(self, name: str) -> bool:
        """Whether an event attribute of this name goes with the events this rule permits."""
        return glob_any(self.keep_attributes, name) and not glob_any(self.remove_attributes, name)

    def keeps_object_attribute(self, name: str) -> bool:
        """Whether an object attribute of this name goes with the objects this rule shares."""
        return glob_any(self.keep_object_attributes, name) and not glob_any(
            self.remove_object_attributes, name
        )

    def shares_master_attribute(self, name: str) -> bool:
        """Whether a master-data attribute of this name (a URI) goes with what it permits."""
        return glob_any(self.master_data, name)

    def shares_object_type(self, object_type: str) -> bool:
        """Whether relations to (and objects of) this type go with the events it permits."""
        return "*" in self.share_objects or object_type in self.share_objects


def glob_regex(pattern: str) -> str:
    """``*`` wildcard text → an anchored regular expression (Python ``re`` and RE2 alike)."""
    return "^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$"


def glob_any(patterns: Sequence[str], name: str) -> bool:
    """Whether ``name`` fits one of the ``*`` wildcard ``patterns``."""
    return any(re.fullmatch(glob_regex(p)[1:-1], name, re.DOTALL) for p in patterns)


def bare_step(step: str) -> str:
    """A bizStep as its bare CBV word (``shipping``), whichever spelling was written (URN,
    GS1 Web URI, ``cbv:``); a bizStep of another vocabulary as written."""
    for prefix in _CBV_STEP_PREFIXES:
        if step.startswith(prefix):
            return step[len(prefix) :]
    return step
