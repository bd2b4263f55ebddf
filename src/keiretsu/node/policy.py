"""The sharing policy of a node: what may leave it, for which partner — deny by default.

A company decides, rule by rule, which of its events a partner may see, with what attached,
under which names, or only as daily totals. The rules follow the access rules of the Asset
Administration Shell security specification (IDTA-01004): each rule names **subjects** (the
partners), **rights** (the channel: ``read`` covers all, or ``query``, ``push``, ``subscribe``),
**objects** (which events: event type / bizStep, EPCIS event type, object types touched,
locations, a time window) and a **condition** over the event's attributes.

Combining, as in IDTA-01004: **permit-overrides** with **deny by default**. An event leaves
when at least one permit rule for the partner and right matches it; a matching deny rule does
not take it back (it records a decision and shows in :meth:`Policy.explain`). Nothing matches:
nothing leaves. A **faulty rule counts as deny**: a file with an unknown key or a value of the
wrong type is refused as a whole (:class:`PolicyError` names file, rule and key), and a rule
whose condition cannot be evaluated for an event (the attribute is missing, a number or time is
not one) does not permit that event.

What goes with a permitted event is deny-by-default too: only the attributes the rule keeps,
only the relations to (and the objects of) the object types it shares, object-to-object links
only between objects that both leave, identifiers pseudonymised where any rule for the partner
asks it, and never the source documents (``source_events``). See ``docs/node/policies.md``.

Speed: :meth:`Policy.apply` works column-wise over the Arrow tables (pyarrow.compute); Python
runs per rule, per distinct attribute name, per pseudonymised identifier and per aggregate
group, never per event. Measured on the 2-core development machine: 100,000 events with
500,000 attribute rows and 600,000 relations, three rules (one pseudonymising trade items,
one daily-demand aggregate): about 0.35 s (see ``tests/node/test_policy.py``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from keiretsu.model.cbv import BIZ_STEPS, GOODS_ROLES, PLACE_ROLES
from keiretsu.model.gs1 import canonical_id
from keiretsu.model.ocel import (
    EVENT_TYPES,
    OBJECT_TYPES,
    TIME,
    Ocel,
    parse_time,
)

__all__ = [
    "AGGREGATE_PREFIX",
    "MEASURES",
    "PSEUDONYM_PREFIX",
    "RIGHTS",
    "Condition",
    "Policy",
    "PolicyError",
    "Rule",
    "pseudonym",
]

RIGHTS = ("read", "query", "push", "subscribe")
"""The channels events leave by. ``read`` in a rule grants all of them; a rule with ``push``
only lets events be pushed, not queried."""

EFFECTS = ("permit", "deny")
SHARES = ("events", "aggregate")
MEASURES = ("daily_demand", "net_stock_change")
"""What an aggregate rule shares: the daily quantity per product leaving to customers, or the
daily net change of stock per product and location."""

DEMAND_STEPS = ("shipping", "retail_selling")
"""The bizSteps a ``daily_demand`` rule counts when it names no event types itself."""
STOCK_IN = ("receiving", "commissioning", "accepting")
"""bizSteps that add stock at a location (``net_stock_change``)."""
STOCK_OUT = ("shipping", "retail_selling", "destroying", "decommissioning", "dispensing")
"""bizSteps that take stock away from a location (``net_stock_change``)."""
PRODUCT_QUALIFIERS = GOODS_ROLES
"""Relations whose objects are counted as goods in an aggregate."""
LOCATION_QUALIFIERS = PLACE_ROLES

PSEUDONYM_PREFIX = "urn:keiretsu:pseudo:"
AGGREGATE_PREFIX = "urn:keiretsu:aggregate:"
AGGREGATE_EVENT_TYPES = {"daily_demand": "daily demand", "net_stock_change": "net stock change"}

_CBV_STEP_PREFIXES = BIZ_STEPS.spellings
_GTIN_PRODUCT = r"^(?P<product>https://id\.gs1\.org/01/\d{14})(?:/.*)?$"
_SERIAL = r"^https://id\.gs1\.org/01/\d{14}/21/"
# identifiers inside attribute values (JSON lists, free text) are found as tokens between these
_DELIMITERS = r"[\s\"',;|\[\]{}()<>\\]+"
_TOKEN = re.compile(r"[^\s\"',;|\[\]{}()<>\\]+")
_NUMBER = r"^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$"
_INSTANT = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}:?\d{2})?$"

_BOOL = pa.bool_()
_STR = pa.string()


class PolicyError(ValueError):
    """A policy file that cannot be used: the message names the file, the rule (index and id),
    the key and what was expected. A refused file shares nothing."""


# --- the rules -----------------------------------------------------------------------------


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

    def names(self, partner: str) -> bool:
        """Whether this rule speaks of ``partner`` (by name or ``*``)."""
        return partner in self.subjects or "*" in self.subjects

    def grants(self, right: str) -> bool:
        """Whether this rule covers ``right`` (``read`` covers every channel)."""
        return right in self.rights or "read" in self.rights

    def keeps_attribute(self, name: str) -> bool:
        """Whether an event attribute of this name goes with the events this rule permits."""
        return _glob_any(self.keep_attributes, name) and not _glob_any(self.remove_attributes, name)

    def keeps_object_attribute(self, name: str) -> bool:
        """Whether an object attribute of this name goes with the objects this rule shares."""
        return _glob_any(self.keep_object_attributes, name) and not _glob_any(
            self.remove_object_attributes, name
        )

    def shares_object_type(self, object_type: str) -> bool:
        """Whether relations to (and objects of) this type go with the events it permits."""
        return "*" in self.share_objects or object_type in self.share_objects


def _glob_regex(pattern: str) -> str:
    """``*`` wildcard text → an anchored regular expression (Python ``re`` and RE2 alike)."""
    return "^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$"


def _glob_any(patterns: Sequence[str], name: str) -> bool:
    return any(re.fullmatch(_glob_regex(p)[1:-1], name, re.DOTALL) for p in patterns)


def _bare_step(step: str) -> str:
    for prefix in _CBV_STEP_PREFIXES:
        if step.startswith(prefix):
            return step[len(prefix) :]
    return step


def pseudonym(identifier: str, *, secret: bytes, partner: str) -> str:
    """The name ``identifier`` is given for ``partner``: ``urn:keiretsu:pseudo:`` and 32 hex
    digits (128 bits) of HMAC-SHA256 keyed with the node's secret and the partner's name. The
    same object keeps its pseudonym for one partner (they can follow it over time); two
    partners see two unrelated names, and neither can recover the identifier."""
    return PSEUDONYM_PREFIX + _Keyed(_key(secret, partner)).digest(identifier)


def _key(secret: bytes, partner: str) -> bytes:
    return secret + b"\x00" + partner.encode()


class _Keyed:
    """HMAC-SHA256 (RFC 2104, the standard library's ``hmac``) keyed once: each pseudonym
    copies the keyed state instead of deriving the key's pads again."""

    def __init__(self, key: bytes) -> None:
        self._keyed = hmac.new(key, digestmod=hashlib.sha256)

    def digest(self, text: str) -> str:
        """The first 32 hex digits of HMAC-SHA256(key, text)."""
        mac = self._keyed.copy()
        mac.update(text.encode())
        return mac.hexdigest()[:32]


# --- loading -------------------------------------------------------------------------------

_LIST_KEYS = (
    "event_types",
    "biz_steps",
    "epcis_event_types",
    "object_types",
    "locations",
    "keep_attributes",
    "remove_attributes",
    "share_objects",
    "keep_object_attributes",
    "remove_object_attributes",
    "pseudonymise",
    "pseudonymise_ids",
)
_SHAPING_KEYS = (
    "keep_attributes",
    "remove_attributes",
    "share_objects",
    "keep_object_attributes",
    "remove_object_attributes",
    "pseudonymise",
    "pseudonymise_ids",
    "pseudonymise_event_ids",
    "share",
    "measure",
)
_RULE_KEYS = frozenset(
    (
        "id",
        "description",
        "effect",
        "subjects",
        "rights",
        "from",
        "until",
        "when",
        *_LIST_KEYS,
        *_SHAPING_KEYS,
    )
)
_CONDITION_OPS = ("equals", "in", "not_in", "matches", "ge", "gt", "le", "lt", "exists")
_TOP_KEYS = ("rule", "description", "version")


class _Where:
    """Names the place of a problem in a policy file."""

    def __init__(self, source: str, index: int, rule_id: str | None) -> None:
        self.source, self.index, self.rule_id = source, index, rule_id

    def error(self, key: str, expected: str, got: Any = None, *, show: bool = True) -> PolicyError:
        rule = f"rule {self.index}" + (f" (id {self.rule_id!r})" if self.rule_id else "")
        text = f"{self.source}: {rule}: key {key!r}: expected {expected}"
        if show:
            text += f", got {got!r}"
        return PolicyError(text)


def _text_list(where: _Where, key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise where.error(key, "a list of non-empty strings", value)
    return tuple(value)


def _instant(where: _Where, key: str, value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=UTC)
    if isinstance(value, str):
        try:
            return parse_time(value)
        except ValueError:
            pass
    raise where.error(key, "an ISO 8601 date-time such as 2026-11-01T00:00:00Z", value)


def _condition(where: _Where, index: int, raw: Any) -> Condition:
    key = f"when[{index}]"
    if not isinstance(raw, dict):
        raise where.error(key, 'a table such as {attribute = "disposition", in = ["x"]}', raw)
    attribute = raw.get("attribute")
    if not isinstance(attribute, str) or not attribute:
        raise where.error(f"{key}.attribute", "the name of an event attribute", attribute)
    unknown = sorted(set(raw) - {"attribute", *_CONDITION_OPS})
    if unknown:
        raise where.error(f"{key}.{unknown[0]}", f"one of {', '.join(_CONDITION_OPS)}", show=False)
    ops = [op for op in _CONDITION_OPS if op in raw]
    if len(ops) != 1:
        raise where.error(key, f"exactly one of {', '.join(_CONDITION_OPS)}", sorted(raw))
    op = ops[0]
    value = raw[op]
    at = f"{key}.{op}"
    if op == "exists":
        if not isinstance(value, bool):
            raise where.error(at, "true or false", value)
        return Condition(attribute, op, exists=value)
    if op in ("ge", "gt", "le", "lt"):
        if isinstance(value, bool):
            raise where.error(at, "a number or a date-time", value)
        if isinstance(value, int | float):
            return Condition(attribute, op, number=float(value))
        return Condition(attribute, op, instant=_instant(where, at, value))
    if op == "matches":
        if not isinstance(value, str):
            raise where.error(at, "a regular expression (RE2 syntax)", value)
        try:
            pc.match_substring_regex(pa.array([""], _STR), pattern=f"^(?:{value})$")
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise where.error(at, f"a regular expression in RE2 syntax ({exc})", value) from None
        return Condition(attribute, op, texts=(value,))
    values = [value] if op == "equals" else value
    if not isinstance(values, list) or not values:
        raise where.error(at, "a non-empty list of values", value)
    texts = []
    for v in values:
        if isinstance(v, bool):
            texts.append("true" if v else "false")
        elif isinstance(v, int | float | str):
            texts.append(str(v) if not isinstance(v, float) else repr(v))
        else:
            raise where.error(at, "strings, numbers or booleans", v)
    return Condition(attribute, op, texts=tuple(texts))


def _rule(source: str, index: int, raw: Any) -> Rule:
    rule_id = raw.get("id") if isinstance(raw, dict) else None
    where = _Where(source, index, rule_id if isinstance(rule_id, str) else None)
    if not isinstance(raw, dict):
        raise PolicyError(f"{source}: rule {index}: expected a table ([[rule]]), got {raw!r}")
    for key in raw:
        if key not in _RULE_KEYS:
            raise where.error(key, f"one of {', '.join(sorted(_RULE_KEYS))}", show=False)
    if "id" in raw and (not isinstance(rule_id, str) or not rule_id):
        raise where.error("id", "a non-empty string", rule_id)
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise where.error("description", "a string", description)
    effect = raw.get("effect")
    if effect not in EFFECTS:
        raise where.error("effect", '"permit" or "deny"', effect)
    if "subjects" not in raw:
        raise where.error("subjects", 'a list of partner names or "*"', show=False)
    subjects = _text_list(where, "subjects", raw["subjects"])
    if not subjects:
        raise where.error("subjects", 'at least one partner name or "*"', raw["subjects"])
    rights = _text_list(where, "rights", raw.get("rights", ["read"]))
    for right in rights:
        if right not in RIGHTS:
            raise where.error("rights", f"rights among {', '.join(RIGHTS)}", right)
    if effect == "deny":
        for key in _SHAPING_KEYS:
            if key in raw:
                raise where.error(
                    key,
                    "no such key in a deny rule (a deny rule only says which events it refuses)",
                    show=False,
                )
    lists: dict[str, tuple[str, ...] | None] = {
        key: _text_list(where, key, raw[key]) if key in raw else None for key in _LIST_KEYS
    }
    share = raw.get("share", "events")
    if share not in SHARES:
        raise where.error("share", '"events" or "aggregate"', share)
    measure = raw.get("measure")
    if share == "aggregate":
        if measure not in MEASURES:
            raise where.error("measure", f"one of {', '.join(MEASURES)}", measure)
        for key in (
            "keep_attributes",
            "remove_attributes",
            "share_objects",
            "keep_object_attributes",
            "remove_object_attributes",
            "pseudonymise_event_ids",
        ):
            if key in raw:
                raise where.error(
                    key,
                    "no such key in an aggregate rule (only the daily totals leave)",
                    show=False,
                )
        if lists["event_types"] is None and lists["biz_steps"] is None:
            lists["biz_steps"] = DEMAND_STEPS if measure == "daily_demand" else STOCK_IN + STOCK_OUT
    elif measure is not None:
        raise where.error("measure", 'no measure unless share = "aggregate"', measure)
    when_raw = raw.get("when", [])
    if isinstance(when_raw, dict):
        when_raw = [when_raw]
    if not isinstance(when_raw, list):
        raise where.error("when", "a list of condition tables", when_raw)
    when = tuple(_condition(where, i, c) for i, c in enumerate(when_raw))
    time_from = _instant(where, "from", raw["from"]) if "from" in raw else None
    time_until = _instant(where, "until", raw["until"]) if "until" in raw else None
    flag = raw.get("pseudonymise_event_ids", False)
    if not isinstance(flag, bool):
        raise where.error("pseudonymise_event_ids", "true or false", flag)
    share_objects = lists["share_objects"]
    if share_objects is None:  # by default the object types the rule filters on
        share_objects = lists["object_types"] or ()
    biz_steps = lists["biz_steps"]
    return Rule(
        id=rule_id if isinstance(rule_id, str) else f"rule-{index}",
        effect=effect,
        subjects=subjects,
        rights=rights,
        share=share,
        measure=measure,
        description=description,
        event_types=lists["event_types"],
        biz_steps=tuple(_bare_step(s) for s in biz_steps) if biz_steps is not None else None,
        epcis_event_types=lists["epcis_event_types"],
        object_types=lists["object_types"],
        locations=lists["locations"],
        time_from=time_from,
        time_until=time_until,
        when=when,
        keep_attributes=lists["keep_attributes"] or (),
        remove_attributes=lists["remove_attributes"] or (),
        share_objects=share_objects,
        keep_object_attributes=lists["keep_object_attributes"] or (),
        remove_object_attributes=lists["remove_object_attributes"] or (),
        pseudonymise=lists["pseudonymise"] or (),
        pseudonymise_ids=lists["pseudonymise_ids"] or (),
        pseudonymise_event_ids=flag,
    )


# --- evaluating rules over a log, column-wise --------------------------------------------------


def _ids_mask(ids: pa.Array, chosen: pa.Array) -> pa.Array:
    """Which of ``ids`` are among ``chosen``."""
    if len(chosen) == 0:
        return pa.repeat(pa.scalar(False), len(ids))
    return pc.fill_null(pc.is_in(ids, value_set=chosen), False)


def _positions(ids: pa.Array, within: pa.Array) -> np.ndarray[Any, Any]:
    """Where each of ``ids`` is in ``within`` (-1: nowhere)."""
    at = pc.fill_null(pc.index_in(ids, value_set=within), -1)
    return np.asarray(at.to_numpy(zero_copy_only=False), dtype=np.int64)


def _in(values: pa.Array, allowed: Iterable[str]) -> pa.Array:
    return pc.fill_null(pc.is_in(values, value_set=pa.array(list(allowed), _STR)), False)


def _any_of(masks: Sequence[pa.Array], n: int) -> pa.Array:
    out = pa.repeat(pa.scalar(False), n)
    for m in masks:
        out = pc.or_(out, m)
    return out


class _Log:
    """An :class:`Ocel` with the columns the rules look at, taken apart once."""

    def __init__(self, ocel: Ocel) -> None:
        self.ocel = ocel
        ev = ocel.events
        self.n = ev.num_rows
        self.ev_id = ev.column("ocel_id").combine_chunks()
        self.ev_type = ev.column("ocel_type").combine_chunks()
        self.ev_time = ev.column("ocel_time").combine_chunks()
        ea = ocel.event_attributes
        self.ea_id = ea.column("ocel_id").combine_chunks()
        self.ea_name = ea.column("ocel_name").combine_chunks()
        self.ea_value = ea.column("ocel_value").combine_chunks()
        eo = ocel.event_objects
        self.eo_event = eo.column("ocel_event_id").combine_chunks()
        self.eo_object = eo.column("ocel_object_id").combine_chunks()
        self.eo_qualifier = eo.column("ocel_qualifier").combine_chunks()
        ob = ocel.objects
        at = pc.index_in(self.eo_object, value_set=ob.column("ocel_id"))
        # an object the log does not describe has no type: no type rule matches it
        self.eo_type = (
            ob.column("ocel_type").combine_chunks().take(at) if len(at) else (pa.array([], _STR))
        )
        self._names: dict[str, pa.Array] = {}
        # the event each attribute and relation row belongs to, by position (-1: none), so
        # that rows and events are matched by array indexing rather than by id look-ups
        self.ea_at = _positions(self.ea_id, self.ev_id)
        self.eo_at = _positions(self.eo_event, self.ev_id)

    def events_with(self, at: np.ndarray[Any, Any], rows: Any) -> pa.Array:
        """Per event: has it one of the rows ``rows`` marks (rows positioned by ``at``)."""
        found = np.zeros(self.n + 1, dtype=bool)
        picked = at[np.asarray(pc.fill_null(rows, False).to_numpy(zero_copy_only=False))]
        found[picked] = True  # -1 (no event) lands on the spare last slot
        return pa.array(found[: self.n])

    def rows_of(self, at: np.ndarray[Any, Any], events: pa.Array) -> pa.Array:
        """Per row: is its event among those ``events`` marks."""
        marks = np.append(np.asarray(events.to_numpy(zero_copy_only=False), dtype=bool), False)
        return pa.array(marks[at])

    def attribute_rows(self, name: str) -> pa.Array:
        """Row mask of the event attributes called ``name``."""
        if name not in self._names:
            self._names[name] = pc.fill_null(pc.equal(self.ea_name, name), False)
        return self._names[name]

    def filters(self, rule: Rule) -> list[tuple[str, pa.Array]]:
        """The rule's tests, each as (what failed, per-event mask of passing), in order."""
        out: list[tuple[str, pa.Array]] = []
        if rule.event_types is not None:
            out.append(
                (f"event type not in {list(rule.event_types)}", _in(self.ev_type, rule.event_types))
            )
        if rule.biz_steps is not None:
            out.append(
                (f"bizStep not in {list(rule.biz_steps)}", _in(self.ev_type, rule.biz_steps))
            )
        if rule.epcis_event_types is not None:
            rows = pc.and_(
                self.attribute_rows("eventType"), _in(self.ea_value, rule.epcis_event_types)
            )
            out.append(
                (
                    f"EPCIS eventType not in {list(rule.epcis_event_types)}",
                    self.events_with(self.ea_at, rows),
                )
            )
        if rule.object_types is not None:
            rows = _in(self.eo_type, rule.object_types)
            out.append(
                (
                    f"touches no object of type {list(rule.object_types)}",
                    self.events_with(self.eo_at, rows),
                )
            )
        if rule.locations is not None:
            where = _in(self.eo_qualifier, LOCATION_QUALIFIERS)
            pattern = "|".join(_glob_regex(p) for p in rule.locations)
            rows = pc.and_(where, pc.match_substring_regex(self.eo_object, pattern=pattern))
            out.append(
                (
                    f"readPoint/bizLocation not in {list(rule.locations)}",
                    self.events_with(self.eo_at, rows),
                )
            )
        if rule.time_from is not None:
            bound = pa.scalar(rule.time_from, TIME)
            out.append(
                (f"before {rule.time_from.isoformat()}", pc.greater_equal(self.ev_time, bound))
            )
        if rule.time_until is not None:
            bound = pa.scalar(rule.time_until, TIME)
            out.append((f"not before {rule.time_until.isoformat()}", pc.less(self.ev_time, bound)))
        for cond in rule.when:
            evaluable, holds = self.condition(cond)
            out.append(
                (
                    f"condition {cond.describe()} cannot be evaluated "
                    "(attribute missing or of another type)",
                    evaluable,
                )
            )
            out.append((f"condition {cond.describe()} does not hold", holds))
        return out

    def condition(self, cond: Condition) -> tuple[pa.Array, pa.Array]:
        """Per event: can the condition be evaluated, and does it hold."""
        rows = pc.and_(self.attribute_rows(cond.attribute), pc.is_valid(self.ea_value))
        at = self.ea_at[np.asarray(rows.to_numpy(zero_copy_only=False))]
        values = self.ea_value.filter(rows)
        present = self.events_with(at, pa.repeat(pa.scalar(True), len(at)))
        true = pa.repeat(pa.scalar(True), self.n)
        if cond.op == "exists":
            return true, present if cond.exists else pc.invert(present)
        if cond.op in ("equals", "in"):
            return present, self.events_with(at, _in(values, cond.texts))
        if cond.op == "not_in":
            hit = self.events_with(at, _in(values, cond.texts))
            return present, pc.and_(present, pc.invert(hit))
        if cond.op == "matches":
            ok = pc.match_substring_regex(values, pattern=f"^(?:{cond.texts[0]})$")
            return present, self.events_with(at, ok)
        compare = {"ge": pc.greater_equal, "gt": pc.greater, "le": pc.less_equal, "lt": pc.less}
        if cond.number is not None:
            good = pc.match_substring_regex(values, pattern=_NUMBER)
            numbers = pc.cast(pc.utf8_trim_whitespace(values.filter(good)), pa.float64())
            bound: Any = pa.scalar(cond.number, pa.float64())
        else:
            good = pc.match_substring_regex(values, pattern=_INSTANT)
            numbers, good = _times(values, good)
            bound = pa.scalar(cond.instant, TIME)
        good_at = at[np.asarray(good.to_numpy(zero_copy_only=False), dtype=bool)]
        ok = pc.fill_null(compare[cond.op](numbers, bound), False)
        evaluable = self.events_with(good_at, pa.repeat(pa.scalar(True), len(good_at)))
        return evaluable, self.events_with(good_at, ok)

    def matches(self, rule: Rule) -> pa.Array:
        """Per event: does the rule match (all its tests pass)."""
        mask = pa.repeat(pa.scalar(True), self.n)
        for _, passing in self.filters(rule):
            mask = pc.and_(mask, passing)
        return mask


def _times(values: pa.Array, good: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Time text → instants for the rows ``good`` marks; rows that do not read are dropped
    from ``good`` (they cannot be evaluated)."""
    text = values.filter(good)
    try:
        return pc.cast(text, TIME), good
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        parsed: list[datetime | None] = []
        for t in text.to_pylist():
            try:
                parsed.append(parse_time(t))
            except ValueError:
                parsed.append(None)
        instants = pa.array(parsed, TIME)
        readable = pc.is_valid(instants)
        positions = pc.indices_nonzero(good)
        keep = pa.array([False] * len(values))
        keep_np = keep.to_numpy(zero_copy_only=False).copy()
        keep_np[positions.filter(readable).to_numpy()] = True
        return instants.filter(readable), pa.array(keep_np)


# --- the policy -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """A node's sharing policy: its rules, in file order. Deny by default, permit-overrides."""

    rules: tuple[Rule, ...] = field(default_factory=tuple)

    @classmethod
    def load(cls, path: str | Path) -> Policy:
        """Read a policy file (TOML, ``[[rule]]`` tables); :class:`PolicyError` if anything in
        it is not understood — a policy is used whole or not at all."""
        path = Path(path)
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except OSError as exc:
            raise PolicyError(f"{path}: cannot read the policy file: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise PolicyError(f"{path}: not valid TOML: {exc}") from None
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "<policy>") -> Policy:
        """A policy from its parsed form (``{"rule": [{...}, ...]}``)."""
        if not isinstance(data, Mapping):
            raise PolicyError(f"{source}: expected a table with [[rule]] entries, got {data!r}")
        for key in data:
            if key not in _TOP_KEYS:
                raise PolicyError(
                    f"{source}: key {key!r} at the top level: expected one of "
                    f"{', '.join(_TOP_KEYS)} (rules are [[rule]] tables)"
                )
        raw_rules = data.get("rule", [])
        if not isinstance(raw_rules, list):
            raise PolicyError(f"{source}: key 'rule': expected [[rule]] tables, got {raw_rules!r}")
        rules = tuple(_rule(source, i, raw) for i, raw in enumerate(raw_rules))
        seen: set[str] = set()
        for i, rule in enumerate(rules):
            if rule.id in seen:
                raise _Where(source, i, rule.id).error("id", "an id no other rule has", rule.id)
            seen.add(rule.id)
        return cls(rules)

    @classmethod
    def deny_all(cls) -> Policy:
        """The policy of a node without a policy file: nothing leaves."""
        return cls(())

    def partners(self) -> set[str]:
        """The partners the rules name explicitly (``*`` is not a partner)."""
        return {s for rule in self.rules for s in rule.subjects if s != "*"}

    def _permits(self, partner: str, right: str) -> list[Rule]:
        if right not in RIGHTS:
            raise ValueError(f"unknown right {right!r}: expected one of {', '.join(RIGHTS)}")
        return [
            r for r in self.rules if r.effect == "permit" and r.names(partner) and r.grants(right)
        ]

    def _marks(self, partner: str) -> tuple[set[str], list[str], bool]:
        """What is pseudonymised for ``partner``: object types, id patterns, event ids. Taken
        from every permit rule naming the partner, whatever the channel, so an object never
        travels under its name by one channel and under a pseudonym by another."""
        types: set[str] = set()
        patterns: list[str] = []
        events = False
        for r in self.rules:
            if r.effect == "permit" and r.names(partner):
                types.update(r.pseudonymise)
                patterns.extend(r.pseudonymise_ids)
                events = events or r.pseudonymise_event_ids
        return types, patterns, events

    def event_name(self, event_id: str, partner: str, *, secret: bytes) -> str:
        """The id ``partner`` knows the event ``event_id`` by: its pseudonym where a rule for
        the partner pseudonymises event ids, else the id itself."""
        if self._marks(partner)[2]:
            return pseudonym(event_id, secret=secret, partner=partner)
        return event_id

    def event_names(self, event_ids: Sequence[str], partner: str, *, secret: bytes) -> list[str]:
        """:meth:`event_name` for many events at once (the key derived once)."""
        if not self._marks(partner)[2]:
            return list(event_ids)
        key = _Keyed(_key(secret, partner))
        return [PSEUDONYM_PREFIX + key.digest(i) for i in event_ids]

    def candidate_types(self, partner: str, right: str) -> frozenset[str] | None:
        """The event types (activities) of every event that could leave for ``partner`` by
        ``right`` as an event — a superset, for a store to narrow what it hands to
        :meth:`apply` — or ``None`` when some permit rule names no event type or bizStep (any
        event may then match). Aggregate rules are not counted: their totals are pushed."""
        found: set[str] = set()
        for rule in self._permits(partner, right):
            if rule.share != "events":
                continue
            if rule.event_types is None and rule.biz_steps is None:
                return None
            if rule.event_types is not None and rule.biz_steps is not None:
                found.update(set(rule.event_types) & set(rule.biz_steps))
            else:
                found.update(rule.event_types or rule.biz_steps or ())
        return frozenset(found)

    def fingerprint(self) -> str:
        """A digest of the rules: two policies with the same fingerprint share the same."""
        return hashlib.sha256(repr(self.rules).encode()).hexdigest()[:32]

    def apply(
        self,
        ocel: Ocel,
        partner: str,
        *,
        secret: bytes,
        right: str = "read",
        aggregates: bool = True,
    ) -> Ocel:
        """What of ``ocel`` may leave this node for ``partner`` by ``right``: the permitted
        events with what their rules let go with them, pseudonymised as the policy says, plus
        the daily aggregates of aggregate rules (unless ``aggregates`` is false: the totals
        are pushed, never queried). ``source_events`` is always empty.

        The relations of ``ocel`` must name objects it describes (``objects``): a relation to
        an object of unknown type is not shared.
        """
        permits = self._permits(partner, right)
        if not permits or ocel.num_events == 0:
            return Ocel()
        log = _Log(ocel)
        key = _Keyed(_key(secret, partner))
        event_rules = [(r, log.matches(r)) for r in permits if r.share == "events"]
        shared = _share_events(log, event_rules)
        totals = _aggregate(
            log,
            [(r, log.matches(r)) for r in permits if r.share == "aggregate" and aggregates],
            key=key,
        )
        out = _merge(shared, totals)
        types, patterns, event_ids = self._marks(partner)
        if types or patterns or event_ids:
            out = _pseudonymise(out, ocel, types, patterns, event_ids, key)
        return out

    def explain(self, ocel: Ocel, partner: str, right: str = "read") -> pa.Table:
        """Per event of ``ocel``, whether it leaves for ``partner`` by ``right`` and why:
        columns ``ocel_id``, ``ocel_type``, ``ocel_time``, ``permitted`` (leaves as an event),
        ``rule`` (the first permit rule that lets it), ``aggregated_by`` (the first aggregate
        rule that counts it), ``reason`` (for an event that does not leave: each rule's first
        test that failed, and the deny rules that matched)."""
        permits = self._permits(partner, right)
        log = _Log(ocel)
        n = log.n
        null = pa.nulls(n, _STR)
        rule_col, agg_col, reason = null, null, null
        permitted = pa.repeat(pa.scalar(False), n)
        for r in reversed(permits):  # the first rule in file order wins the column
            filters = log.filters(r)
            mask = pa.repeat(pa.scalar(True), n)
            why = null
            for label, passing in reversed(filters):
                why = pc.if_else(passing, why, pa.scalar(f"rule {r.id!r}: {label}", _STR))
            for _, passing in filters:
                mask = pc.and_(mask, passing)
            why = pc.if_else(mask, null, pc.fill_null(why, ""))
            reason = pc.if_else(
                pc.is_null(reason), why, pc.binary_join_element_wise(why, reason, "; ")
            )
            if r.share == "events":
                rule_col = pc.if_else(mask, pa.scalar(r.id, _STR), rule_col)
                permitted = pc.or_(permitted, mask)
            else:
                agg_col = pc.if_else(mask, pa.scalar(r.id, _STR), agg_col)
        if not permits:
            reason = pa.repeat(
                pa.scalar(f"no permit rule names partner {partner!r} with right {right!r}"), n
            )
        denies = [
            r for r in self.rules if r.effect == "deny" and r.names(partner) and r.grants(right)
        ]
        for r in reversed(denies):
            text = pa.scalar(f"denied by rule {r.id!r}", _STR)
            joined = pc.if_else(
                pc.is_null(reason), text, pc.binary_join_element_wise(text, reason, "; ")
            )
            reason = pc.if_else(log.matches(r), joined, reason)
        reason = pc.if_else(pc.or_(permitted, pc.is_valid(agg_col)), null, reason)
        return pa.table(
            {
                "ocel_id": log.ev_id,
                "ocel_type": log.ev_type,
                "ocel_time": log.ev_time,
                "permitted": permitted,
                "rule": rule_col,
                "aggregated_by": agg_col,
                "reason": reason,
            }
        )


# --- what goes with the permitted events ---------------------------------------------------------


def _allowed_names(names: pa.Array, keep: Any) -> pa.Array:
    """Row mask of the names ``keep`` (a predicate on one name) lets through, asking it once
    per distinct name."""
    distinct = pc.unique(names).to_pylist()
    return _in(names, [n for n in distinct if n is not None and keep(n)])


def _share_events(log: _Log, rules: list[tuple[Rule, pa.Array]]) -> Ocel:
    ocel = log.ocel
    if not rules:
        return Ocel()
    permitted = _any_of([m for _, m in rules], log.n)
    events = ocel.events.filter(permitted)

    ea_masks, eo_masks = [], []
    object_rules: list[tuple[Rule, pa.Array]] = []
    for rule, mask in rules:
        ea_masks.append(
            pc.and_(log.rows_of(log.ea_at, mask), _allowed_names(log.ea_name, rule.keeps_attribute))
        )
        types = pc.fill_null(
            _allowed_names(log.eo_type, rule.shares_object_type)
            if len(log.eo_type)
            else pa.array([], _BOOL),
            False,
        )
        rows = pc.and_(log.rows_of(log.eo_at, mask), types)
        eo_masks.append(rows)
        object_rules.append((rule, log.eo_object.filter(rows)))
    event_attributes = ocel.event_attributes.filter(_any_of(ea_masks, len(log.ea_id)))
    event_objects = ocel.event_objects.filter(_any_of(eo_masks, len(log.eo_event)))

    leaving = event_objects.column("ocel_object_id").combine_chunks()
    ob_ids = ocel.objects.column("ocel_id")
    objects = ocel.objects.filter(_ids_mask(ob_ids, leaving))
    oa = ocel.object_attributes
    oa_ids = oa.column("ocel_id").combine_chunks()
    oa_names = oa.column("ocel_name").combine_chunks()
    oa_masks = [
        pc.and_(_ids_mask(oa_ids, objs), _allowed_names(oa_names, rule.keeps_object_attribute))
        for rule, objs in object_rules
    ]
    object_attributes = oa.filter(_any_of(oa_masks, len(oa_ids)))
    oo = ocel.object_objects
    object_objects = oo.filter(
        pc.and_(
            _ids_mask(oo.column("ocel_source_id"), leaving),
            _ids_mask(oo.column("ocel_target_id"), leaving),
        )
    )
    return Ocel(
        events=events,
        event_attributes=event_attributes,
        objects=objects,
        object_attributes=object_attributes,
        event_objects=event_objects,
        object_objects=object_objects,
        event_types=_types_left(ocel.event_types, events, event_attributes),
        object_types=_types_left(ocel.object_types, objects, object_attributes),
    )


def _types_left(declared: pa.Table, things: pa.Table, attributes: pa.Table) -> pa.Table:
    """The type declarations of what leaves, each with only the attribute names that leave."""
    if declared.num_rows == 0 or things.num_rows == 0:
        return declared.schema.empty_table()
    at = pc.index_in(attributes.column("ocel_id"), value_set=things.column("ocel_id"))
    pairs = (
        pa.table({"t": things.column("ocel_type").take(at), "n": attributes.column("ocel_name")})
        .group_by(["t", "n"], use_threads=False)
        .aggregate([])
    )
    names: dict[str, set[str]] = {}
    for t, n in zip(pairs.column("t").to_pylist(), pairs.column("n").to_pylist(), strict=True):
        names.setdefault(t, set()).add(n)
    present = set(pc.unique(things.column("ocel_type")).to_pylist())
    rows_type, rows_attrs = [], []
    for t, attrs in zip(
        declared.column("ocel_type").to_pylist(),
        declared.column("attributes").to_pylist(),
        strict=True,
    ):
        if t in present:
            rows_type.append(t)
            rows_attrs.append([a for a in attrs if a["name"] in names.get(t, ())])
    return pa.Table.from_arrays(
        [pa.array(rows_type, _STR), pa.array(rows_attrs, EVENT_TYPES.field("attributes").type)],
        schema=EVENT_TYPES,
    )


# --- aggregates ------------------------------------------------------------------------------


def _products(object_ids: pa.Array, object_types: pa.Array) -> pa.Array:
    """The product (GTIN class) an object is of: a ``product class`` is its own product; a GS1
    Digital Link with a GTIN (a serialised item, a lot) belongs to ``https://id.gs1.org/01/<GTIN>``;
    anything else (a pallet, a location…) is no product (null)."""
    if len(object_ids) == 0:
        return pa.array([], _STR)
    found = pc.struct_field(pc.extract_regex(object_ids, pattern=_GTIN_PRODUCT), [0])
    own = pc.fill_null(pc.equal(object_types, "product class"), False)
    return pc.if_else(own, object_ids, found)


def _aggregate(log: _Log, rules: list[tuple[Rule, pa.Array]], *, key: _Keyed) -> Ocel:
    """Daily totals per product (and location) over the events the aggregate rules match."""
    parts = []
    for measure in MEASURES:
        masks = [m for r, m in rules if r.measure == measure]
        if masks:
            parts.append(_measure(log, measure, _any_of(masks, log.n), key))
    if not parts:
        return Ocel()
    if len(parts) == 1:
        return parts[0]
    first, second = parts
    return _merge(first, second)


def _measure(log: _Log, measure: str, events: pa.Array, key: _Keyed) -> Ocel:
    sign_of = {**{s: 1.0 for s in STOCK_IN}, **{s: -1.0 for s in STOCK_OUT}}
    # every event of the log: its day, and its sign (0 = not counted by this measure)
    steps = list(sign_of)
    at = pc.index_in(log.ev_type, value_set=pa.array(steps, _STR))
    if measure == "daily_demand":  # every event the rules match leaves to a customer
        sign = pc.if_else(events, 1.0, 0.0)
    else:
        by_step = pa.array([sign_of[s] for s in steps], pa.float64()).take(at)
        sign = pc.if_else(events, pc.fill_null(by_step, 0.0), 0.0)
    day = pc.floor_temporal(log.ev_time, unit="day")

    eo = log.ocel.event_objects
    rows = pc.and_(log.rows_of(log.eo_at, events), _in(log.eo_qualifier, PRODUCT_QUALIFIERS))
    goods = eo.filter(rows)
    goods_type = log.eo_type.filter(rows) if len(log.eo_type) else pa.array([], _STR)
    product = _products(goods.column("ocel_object_id").combine_chunks(), goods_type)
    direct = pa.table(
        {
            "event": goods.column("ocel_event_id").combine_chunks(),
            "product": product,
            "quantity": pc.fill_null(goods.column("quantity").combine_chunks(), 1.0),
            "uom": goods.column("uom").combine_chunks(),
            "qualifier": goods.column("ocel_qualifier").combine_chunks(),
        }
    )
    counted = direct.filter(pc.is_valid(product))
    # an event that lists only pallets counts what they contain (instance level only: a
    # link carries no quantity), when the log holds the packing links
    containers = goods.filter(pc.is_null(product)).select(["ocel_event_id", "ocel_object_id"])
    containers = containers.filter(
        pc.invert(_ids_mask(containers.column("ocel_event_id"), counted.column("event")))
    )
    contents = _contents(log.ocel, containers)
    table = pa.concat_tables([counted, contents]) if contents.num_rows else counted
    if table.num_rows == 0:
        return Ocel()
    at = pc.index_in(table.column("event"), value_set=log.ev_id)
    table = table.append_column("day", day.take(at))
    factor = sign.take(at)
    if measure == "net_stock_change":  # what a transformation consumes leaves the stock
        used = pc.equal(table.column("qualifier"), "input")
        factor = pc.if_else(used, pc.negate(factor), factor)
    table = table.set_column(2, "quantity", pc.multiply(table.column("quantity"), factor))
    table = table.drop_columns(["qualifier"])
    table = table.filter(pc.not_equal(sign.take(at), 0.0))
    keys = ["product", "uom", "day"]
    if measure == "net_stock_change":
        table = table.append_column(
            "location", _event_locations(log).take(at).filter(pc.not_equal(sign.take(at), 0.0))
        )
        keys.append("location")
    if table.num_rows == 0:
        return Ocel()
    groups = table.group_by(keys, use_threads=False).aggregate(
        [("quantity", "sum"), ("event", "distinct")]
    )
    groups = groups.sort_by([(k, "ascending") for k in keys])
    return _aggregate_events(measure, groups, key)


def _contents(ocel: Ocel, containers: pa.Table, depth: int = 3) -> pa.Table:
    """(event, product, 1 piece) for each serialised item packed (``contains``, up to
    ``depth`` levels) in the containers an event lists."""
    out = []
    links = ocel.object_objects.filter(
        pc.equal(ocel.object_objects.column("ocel_qualifier"), "contains")
    )
    level = containers.rename_columns(["event", "object"])
    for _ in range(depth):
        if level.num_rows == 0 or links.num_rows == 0:
            break
        inside = (
            level.join(
                links.select(["ocel_source_id", "ocel_target_id"]),
                keys="object",
                right_keys="ocel_source_id",
                join_type="inner",
            )
            .select(["event", "ocel_target_id"])
            .rename_columns(["event", "object"])
        )
        objects = inside.column("object").combine_chunks()
        serial = pc.match_substring_regex(objects, pattern=_SERIAL)
        product = pc.struct_field(pc.extract_regex(objects, pattern=_GTIN_PRODUCT), [0])
        items = inside.filter(serial)
        out.append(
            pa.table(
                {
                    "event": items.column("event").combine_chunks(),
                    "product": product.filter(serial),
                    "quantity": pa.repeat(pa.scalar(1.0), items.num_rows),
                    "uom": pa.nulls(items.num_rows, _STR),
                    "qualifier": pa.repeat(pa.scalar("contains"), items.num_rows),
                }
            )
        )
        level = inside.filter(pc.is_null(product))
    if not out:
        return pa.table(
            {
                "event": pa.array([], _STR),
                "product": pa.array([], _STR),
                "quantity": pa.array([], pa.float64()),
                "uom": pa.array([], _STR),
                "qualifier": pa.array([], _STR),
            }
        )
    return pa.concat_tables(out)


def _event_locations(log: _Log) -> pa.Array:
    """Per event: its bizLocation, else its readPoint, else null."""
    found = pa.nulls(log.n, _STR)
    for qualifier in ("readPoint", "bizLocation"):  # bizLocation last: it wins
        rows = pc.fill_null(pc.equal(log.eo_qualifier, qualifier), False)
        events = log.eo_event.filter(rows)
        places = log.eo_object.filter(rows)
        at = pc.index_in(log.ev_id, value_set=events)
        found = pc.coalesce(places.take(at), found)
    return found


def _aggregate_events(measure: str, groups: pa.Table, key: _Keyed) -> Ocel:
    event_type = AGGREGATE_EVENT_TYPES[measure]
    ev_id, ev_time = [], []
    ea_id, ea_name, ea_value, ea_type = [], [], [], []
    eo_event, eo_object, eo_qualifier = [], [], []
    ob_id, ob_type = [], []
    locations = groups.column("location").to_pylist() if "location" in groups.column_names else None
    for i, (product, uom, day, quantity, events) in enumerate(
        zip(
            groups.column("product").to_pylist(),
            groups.column("uom").to_pylist(),
            groups.column("day").to_pylist(),
            groups.column("quantity_sum").to_pylist(),
            groups.column("event_distinct").to_pylist(),
            strict=True,
        )
    ):
        location = locations[i] if locations is not None else None
        basis = "\x1f".join(
            [measure, product, uom or "", location or "", day.isoformat(), *sorted(events)]
        )
        agg_id = f"{AGGREGATE_PREFIX}{measure}:{key.digest(basis)}"
        ev_id.append(agg_id)
        ev_time.append(day)
        for name, value, vtype in (
            ("quantity", repr(float(quantity)), "float"),
            ("uom", uom, "string"),
            ("period", "P1D", "string"),
        ):
            if value is not None:
                ea_id.append(agg_id)
                ea_name.append(name)
                ea_value.append(value)
                ea_type.append(vtype)
        eo_event.append(agg_id)
        eo_object.append(product)
        eo_qualifier.append("product")
        ob_id.append(product)
        ob_type.append("product class")
        if location is not None:
            eo_event.append(agg_id)
            eo_object.append(location)
            eo_qualifier.append("bizLocation")
            ob_id.append(location)
            ob_type.append("location")
    objects = (
        pa.table({"ocel_id": ob_id, "ocel_type": ob_type})
        .group_by(["ocel_id", "ocel_type"], use_threads=False)
        .aggregate([])
    )
    attributes = [{"name": "quantity", "type": "float"}, {"name": "period", "type": "string"}]
    if any(n == "uom" for n in ea_name):
        attributes.insert(1, {"name": "uom", "type": "string"})
    return Ocel(
        events=pa.table(
            {
                "ocel_id": ev_id,
                "ocel_type": [event_type] * len(ev_id),
                "ocel_time": pa.array(ev_time, TIME),
            }
        ),
        event_attributes=pa.table(
            {
                "ocel_id": ea_id,
                "ocel_name": ea_name,
                "ocel_value": ea_value,
                "ocel_value_type": ea_type,
            }
        ),
        event_objects=pa.table(
            {"ocel_event_id": eo_event, "ocel_object_id": eo_object, "ocel_qualifier": eo_qualifier}
        ),
        objects=objects,
        event_types=pa.table(
            {"ocel_type": [event_type], "attributes": [attributes]}, schema=EVENT_TYPES
        ),
        object_types=pa.table(
            {
                "ocel_type": sorted(set(ob_type)),
                "attributes": [[] for _ in set(ob_type)],
            },
            schema=OBJECT_TYPES,
        ),
    )


def _merge(shared: Ocel, aggregates: Ocel) -> Ocel:
    """The shared events and the aggregates as one log; an object or type both carry is
    listed once (the shared events' row kept)."""
    if aggregates.num_events == 0:
        return shared
    if shared.num_events == 0:
        return aggregates
    # (also joins the two measures' aggregates)
    new_objects = aggregates.objects.filter(
        pc.invert(_ids_mask(aggregates.objects.column("ocel_id"), shared.objects.column("ocel_id")))
    )
    tables = {}
    for name in Ocel.table_names():
        a, b = getattr(shared, name), getattr(aggregates, name)
        if name == "objects":
            b = new_objects
        elif name in ("event_types", "object_types"):
            b = b.filter(pc.invert(_ids_mask(b.column("ocel_type"), a.column("ocel_type"))))
        tables[name] = pa.concat_tables([a, b]).combine_chunks()
    return Ocel(**tables)


# --- pseudonyms ------------------------------------------------------------------------------


def _pseudonymise(
    out: Ocel, source: Ocel, types: set[str], patterns: list[str], event_ids: bool, key: _Keyed
) -> Ocel:
    """Replace every marked identifier in ``out`` by its pseudonym: in id columns, and as a
    token inside attribute values (a JSON list of ids, free text)."""
    # the identifiers marked: objects of the marked types (as the source and the output
    # describe them), ids matching a pattern, and, if asked, the event ids
    typed = []
    for objects in (source.objects, out.objects):
        if types and objects.num_rows:
            typed.append(objects.column("ocel_id").filter(_in(objects.column("ocel_type"), types)))
    candidates = [
        source.objects.column("ocel_id"),
        source.event_objects.column("ocel_object_id"),
        source.object_objects.column("ocel_source_id"),
        source.object_objects.column("ocel_target_id"),
        out.objects.column("ocel_id"),
    ]
    regex = "|".join(_glob_regex(p) for p in patterns)
    marked_parts = [
        pc.unique(t.combine_chunks() if isinstance(t, pa.ChunkedArray) else t) for t in typed
    ]
    if regex:
        for c in candidates:
            c = c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c
            marked_parts.append(pc.unique(c.filter(pc.match_substring_regex(c, pattern=regex))))
    marked_objects = pc.unique(
        pa.concat_arrays([pa.array([], _STR), *[p.cast(_STR) for p in marked_parts]])
    )
    marked_events = (
        pc.unique(source.events.column("ocel_id").combine_chunks())
        if event_ids
        else pa.array([], _STR)
    )
    marked = pc.unique(pa.concat_arrays([marked_objects, marked_events]))
    names: dict[str, str] = {}

    def name_of(identifier: str) -> str:
        found = names.get(identifier)
        if found is None:
            found = names[identifier] = PSEUDONYM_PREFIX + key.digest(identifier)
        return found

    def renamer(present: pa.Array) -> Any:
        """Pseudonyms for the marked ids ``present`` (distinct), each computed once."""
        replaced = pa.array([name_of(i) for i in present.to_pylist()], _STR)

        def swap(column: Any) -> pa.Array:
            column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
            if len(present) == 0 or len(column) == 0:
                return column
            return pc.coalesce(replaced.take(pc.index_in(column, value_set=present)), column)

        return swap

    def values(column: Any) -> pa.Array:
        return _swap_tokens(column, marked, regex, name_of)

    tables = out.tables()
    object_columns = [
        ("event_objects", 1),
        ("objects", 0),
        ("object_attributes", 0),
        ("object_objects", 0),
        ("object_objects", 1),
    ]
    event_columns = [("event_objects", 0), ("events", 0), ("event_attributes", 0)]
    # every id in an id column of the output is an object the output describes (or an event
    # it holds), so the marked ones are found there, without looking through the source
    objects = out.objects.column("ocel_id").combine_chunks()
    marked_here = _in(out.objects.column("ocel_type").combine_chunks(), types)
    if regex:
        marked_here = pc.or_(marked_here, pc.match_substring_regex(objects, pattern=regex))
    events = out.events.column("ocel_id").combine_chunks()
    own = pc.invert(pc.starts_with(events, AGGREGATE_PREFIX))
    for columns, present in (
        (object_columns, pc.unique(objects.filter(marked_here))),
        (event_columns, events.filter(own) if event_ids else pa.array([], _STR)),
    ):
        swap = renamer(present)
        for name, c in columns:
            t = tables[name]
            tables[name] = t.set_column(c, t.schema.field(c).name, swap(t.column(c)))
    for name, col in (("event_attributes", 2), ("object_attributes", 3)):
        t = tables[name]
        tables[name] = t.set_column(col, "ocel_value", values(t.column(col)))
    return Ocel(**tables)


def _swap_tokens(column: Any, marked: pa.Array, regex: str, name_of: Any) -> pa.Array:
    """Attribute values with every marked identifier in them replaced by its pseudonym. An
    identifier is found as a whole value or as a token between blanks, quotes, commas,
    brackets…; an identifier that itself holds such characters is found anywhere in a value."""
    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if len(column) == 0 or (len(marked) == 0 and not regex):
        return column
    parts = pc.split_pattern_regex(column, pattern=_DELIMITERS)
    tokens = pc.list_flatten(parts)
    hit = pc.fill_null(pc.is_in(tokens, value_set=marked), False)
    if regex:
        hit = pc.or_(hit, pc.fill_null(pc.match_substring_regex(tokens, pattern=regex), False))
    marked_set = set(marked.to_pylist())
    # the same thing in another spelling (an EPC URN in a sensor report, a Digital Link on
    # another domain) is the same identifier: its canonical form is looked up too
    spelled = pc.fill_null(
        pc.match_substring_regex(tokens, pattern=r"^(urn:epc:|https?://)"), False
    )
    aliases: dict[str, str] = {}
    for text in pc.unique(tokens.filter(pc.and_(spelled, pc.invert(hit)))).to_pylist():
        canonical = canonical_id(text)
        if canonical != text and canonical in marked_set:
            aliases[text] = canonical
    if aliases:
        hit = pc.or_(hit, _in(tokens, aliases))
    rows = pc.unique(pc.list_parent_indices(parts).filter(hit))
    pattern = re.compile(regex) if regex else None
    awkward = pc.filter(marked, pc.match_substring_regex(marked, pattern=_DELIMITERS)).to_pylist()
    extra: list[int] = []
    for m in awkward:
        extra.extend(
            pc.indices_nonzero(pc.fill_null(pc.match_substring(column, m), False)).to_pylist()
        )
    todo = sorted(set(rows.to_pylist()) | set(extra))
    if not todo:
        return column

    def token(match: re.Match[str]) -> str:
        text = match.group(0)
        if text in marked_set or (pattern is not None and pattern.fullmatch(text)):
            return str(name_of(text))
        if text in aliases:
            return str(name_of(aliases[text]))
        return text

    fixed = []
    for value in column.take(pa.array(todo, pa.int64())).to_pylist():
        for m in awkward:
            value = value.replace(m, name_of(m))
        fixed.append(_TOKEN.sub(token, value))
    mask = np.zeros(len(column), dtype=bool)
    mask[todo] = True
    return pc.replace_with_mask(column, pa.array(mask), pa.array(fixed, _STR))
