"""Reading a policy file: ``policy.toml`` → rules, or a :class:`PolicyError` — never half.

The file's shape is written down once, as pydantic models (:class:`PolicyFile`,
:class:`RuleEntry`, :class:`ConditionEntry`): every key, its type, what it may hold, which keys
a deny rule or an aggregate rule may not have. Nothing is coerced: ``"true"`` is not a boolean
and ``1`` is not a name. Whatever the models refuse — an unknown key, a value of the wrong type,
an unknown right or measure, a regular expression RE2 does not accept, a time that is not one,
two rules with one id — refuses the file whole, and the first problem is told the way a person
fixes it: the file, the rule (index from 0, and id), the key and what was expected::

    policy.toml: rule 2 (id 'ship'): key 'keep_atributes': expected one of biz_steps, …

A node with a refused policy shares nothing.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Annotated, Any

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from keiretsu.model.ocel import parse_time
from keiretsu.node.policy.rules import (
    DEMAND_STEPS,
    EFFECTS,
    LESSON_PARTS,
    LESSONS,
    MEASURES,
    RIGHTS,
    SHARES,
    Condition,
    Rule,
    bare_step,
)

__all__ = [
    "ConditionEntry",
    "PolicyError",
    "PolicyFile",
    "RuleEntry",
    "read_rules",
    "rules_from_dict",
]


class PolicyError(ValueError):
    """A policy file that cannot be used: the message names the file, the rule (index and id),
    the key and what was expected. A refused file shares nothing."""


# --- the words of a problem -----------------------------------------------------------------


_FOUND = object()


def _expected(
    text: str, *, show: bool = True, at: tuple[str | int, ...] = (), got: Any = _FOUND
) -> PydanticCustomError:
    """A refusal saying what was expected. ``show``: tell the value found (``got``, by default
    the value checked); ``at``: the key it is about, below the place the validator checks."""
    context: dict[str, Any] = {"expected": text, "show": show, "at": at}
    if got is not _FOUND:
        context["got"] = got
    return PydanticCustomError("policy", "expected {expected}", context)


def _among(words: tuple[str, ...], expected: str) -> Callable[[str], str]:
    """A check that a word is one of ``words``."""

    def check(value: str) -> str:
        if value not in words:
            raise _expected(expected)
        return value

    return check


def _listed(value: Any) -> Any:
    """One name may stand for a list of one: ``subjects = "acme"``."""
    return [value] if isinstance(value, str) else value


def _instant(value: Any) -> datetime:
    """A TOML date-time (naive: UTC), a TOML date (its midnight, UTC) or ISO 8601 text."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=UTC)
    if isinstance(value, str):
        try:
            return parse_time(value)
        except ValueError:
            pass
    raise _expected("an ISO 8601 date-time such as 2026-11-01T00:00:00Z")


def _bound(value: Any) -> float | datetime:
    """The bound of a comparison: a number, or a date-time for time values."""
    if isinstance(value, bool):
        raise _expected("a number or a date-time")
    if isinstance(value, int | float):
        return float(value)
    return _instant(value)


def _scalar(value: Any) -> str | int | float | bool:
    """A value a condition compares with: text, a number or a boolean."""
    if not isinstance(value, str | int | float | bool):
        raise _expected("strings, numbers or booleans")
    return value


def _re2(pattern: str) -> str:
    """A regular expression the matcher (RE2, through Arrow) accepts."""
    try:
        pc.match_substring_regex(pa.array([""], pa.string()), pattern=f"^(?:{pattern})$")
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise _expected(f"a regular expression in RE2 syntax ({exc})") from None
    return pattern


def _conditions(value: Any) -> Any:
    """One condition table may stand for a list of one."""
    return [value] if isinstance(value, dict) else value


Name = Annotated[StrictStr, Field(min_length=1)]
Names = Annotated[tuple[Name, ...], BeforeValidator(_listed)]
Instant = Annotated[datetime, BeforeValidator(_instant)]
Bound = Annotated[float | datetime, BeforeValidator(_bound)]
Scalar = Annotated[str | int | float | bool, BeforeValidator(_scalar)]
Values = Annotated[tuple[Scalar, ...], Field(min_length=1)]
Right = Annotated[StrictStr, AfterValidator(_among(RIGHTS, f"rights among {', '.join(RIGHTS)}"))]


def _lesson_word(kind: str) -> Callable[[str], str]:
    """A check that a word of a lesson rule is one the kaizen room knows: a waste
    (``analytics.waste.WASTES``), a status (``store.kaizen.STATUSES``), a countermeasure kind
    (``kaizen.experiment.KINDS``) or a part of a lesson (:data:`LESSON_PARTS`). The lists are
    read when a lesson rule uses them (the analytics are not loaded for a policy without)."""

    def words() -> tuple[str, ...]:
        if kind == "wastes":
            from keiretsu.analytics.waste import WASTES

            return WASTES
        if kind == "statuses":
            from keiretsu.store.kaizen import STATUSES

            return STATUSES
        if kind == "kinds":
            from keiretsu.kaizen.experiment import KINDS

            return KINDS
        return LESSON_PARTS

    def check(value: str) -> str:
        known = words()
        if value not in known:
            raise _expected(f"{kind} among {', '.join(known)}")
        return value

    return check


Wastes = Annotated[
    tuple[Annotated[StrictStr, AfterValidator(_lesson_word("wastes"))], ...],
    BeforeValidator(_listed),
    Field(min_length=1),
]
Statuses = Annotated[
    tuple[Annotated[StrictStr, AfterValidator(_lesson_word("statuses"))], ...],
    BeforeValidator(_listed),
    Field(min_length=1),
]
Kinds = Annotated[
    tuple[Annotated[StrictStr, AfterValidator(_lesson_word("kinds"))], ...],
    BeforeValidator(_listed),
    Field(min_length=1),
]
Parts = Annotated[
    tuple[Annotated[StrictStr, AfterValidator(_lesson_word("withhold"))], ...],
    BeforeValidator(_listed),
]

Measure = Annotated[StrictStr, AfterValidator(_among(MEASURES, f"one of {', '.join(MEASURES)}"))]

_OPS = ("equals", "in", "not_in", "matches", "ge", "gt", "le", "lt", "exists")
_COMPARISONS = ("ge", "gt", "le", "lt")


class ConditionEntry(BaseModel):
    """One table of a rule's ``when``: an event attribute and exactly one test."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    attribute: Name
    equals: Scalar | None = None
    in_: Values | None = Field(None, alias="in")
    not_in: Values | None = None
    matches: Annotated[StrictStr, AfterValidator(_re2)] | None = None
    ge: Bound | None = None
    gt: Bound | None = None
    le: Bound | None = None
    lt: Bound | None = None
    exists: StrictBool | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_test(cls, raw: Any) -> Any:
        # (an unknown key is told first, by the model: it may be a misspelt test)
        known = isinstance(raw, dict) and set(raw) <= {"attribute", *_OPS}
        if known and sum(op in raw for op in _OPS) != 1:
            raise _expected(f"exactly one of {', '.join(_OPS)}", got=sorted(raw))
        return raw

    def condition(self) -> Condition:
        """The condition as the matcher reads it."""
        op = next(op for op in _OPS if getattr(self, "in_" if op == "in" else op) is not None)
        value = getattr(self, "in_" if op == "in" else op)
        if op == "exists":
            return Condition(self.attribute, op, exists=value)
        if op in _COMPARISONS:
            if isinstance(value, datetime):
                return Condition(self.attribute, op, instant=value)
            return Condition(self.attribute, op, number=value)
        if op == "matches":
            return Condition(self.attribute, op, texts=(value,))
        values = (value,) if op == "equals" else value
        return Condition(self.attribute, op, texts=tuple(_text(v) for v in values))


def _text(value: str | int | float | bool) -> str:
    """A compared value as the twin keeps attribute values: as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


_NO_SHAPING = (
    "keep_attributes",
    "remove_attributes",
    "share_objects",
    "keep_object_attributes",
    "remove_object_attributes",
    "pseudonymise",
    "pseudonymise_ids",
    "pseudonymise_event_ids",
    "master_data",
    "share",
    "measure",
)
"""Keys a deny rule may not have: it only says which events it refuses."""
_NO_EVENT_SHAPING = (
    "keep_attributes",
    "remove_attributes",
    "share_objects",
    "keep_object_attributes",
    "remove_object_attributes",
    "pseudonymise_event_ids",
    "master_data",
)
"""Keys an aggregate rule may not have: only the daily totals leave."""
_EVENT_KEYS = (
    "event_types",
    "biz_steps",
    "epcis_event_types",
    "object_types",
    "locations",
    "time_from",
    "time_until",
    "when",
    *_NO_SHAPING,
)
"""Keys a lesson rule may not have: they speak of events."""
_LESSON_KEYS = ("wastes", "statuses", "experiments", "kinds", "withhold")
"""Keys only a lesson rule may have."""
_ALIASES = {"time_from": "from", "time_until": "until"}


class RuleEntry(BaseModel):
    """One ``[[rule]]`` table, as written (see ``docs/node/policies.md`` for every key)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Name | None = None
    description: StrictStr = ""
    effect: Annotated[StrictStr, AfterValidator(_among(EFFECTS, '"permit" or "deny"'))]
    subjects: Annotated[Names, Field(min_length=1)]
    rights: Annotated[tuple[Right, ...], BeforeValidator(_listed)] = ("read",)
    event_types: Names | None = None
    biz_steps: Names | None = None
    epcis_event_types: Names | None = None
    object_types: Names | None = None
    locations: Names | None = None
    time_from: Instant | None = Field(None, alias="from")
    time_until: Instant | None = Field(None, alias="until")
    when: Annotated[tuple[ConditionEntry, ...], BeforeValidator(_conditions)] = ()
    keep_attributes: Names | None = None
    remove_attributes: Names | None = None
    share_objects: Names | None = None
    keep_object_attributes: Names | None = None
    remove_object_attributes: Names | None = None
    pseudonymise: Names | None = None
    pseudonymise_ids: Names | None = None
    pseudonymise_event_ids: StrictBool = False
    master_data: Names | None = None
    share: Annotated[StrictStr, AfterValidator(_among(SHARES, '"events" or "aggregate"'))] = (
        "events"
    )
    measure: Measure | None = None
    wastes: Wastes | None = None
    statuses: Statuses | None = None
    experiments: Annotated[Names, Field(min_length=1)] | None = None
    kinds: Kinds | None = None
    withhold: Parts | None = None

    @model_validator(mode="after")
    def _fits_effect_and_share(self) -> RuleEntry:
        given = self.model_fields_set
        if LESSONS in self.rights:
            return self._fits_lessons(given)
        for key in _LESSON_KEYS:
            if key in given:
                raise _expected(
                    f'no such key unless rights = ["{LESSONS}"] (a lesson rule)',
                    show=False,
                    at=(key,),
                )
        if self.effect == "deny":
            for key in _NO_SHAPING:
                if key in given:
                    raise _expected(
                        "no such key in a deny rule (a deny rule only says which events it "
                        "refuses)",
                        show=False,
                        at=(key,),
                    )
        if self.share == "aggregate":
            if self.measure is None:
                raise _expected(f"one of {', '.join(MEASURES)}", at=("measure",), got=None)
            for key in _NO_EVENT_SHAPING:
                if key in given:
                    raise _expected(
                        "no such key in an aggregate rule (only the daily totals leave)",
                        show=False,
                        at=(key,),
                    )
        elif self.measure is not None:
            raise _expected(
                'no measure unless share = "aggregate"', at=("measure",), got=self.measure
            )
        return self

    def _fits_lessons(self, given: set[str]) -> RuleEntry:
        if self.rights != (LESSONS,):
            raise _expected(
                f'["{LESSONS}"] alone: a lesson rule speaks of experiments, not events '
                "(write a rule of its own for them)",
                at=("rights",),
                got=list(self.rights),
            )
        for key in _EVENT_KEYS:
            if key in given:
                raise _expected(
                    "no such key in a lesson rule (it speaks of experiments: "
                    f"{', '.join(_LESSON_KEYS)})",
                    show=False,
                    at=(_ALIASES.get(key, key),),
                )
        if self.effect == "deny" and "withhold" in given:
            raise _expected(
                "no such key in a deny rule (a deny rule only says which lessons it refuses)",
                show=False,
                at=("withhold",),
            )
        return self

    def rule(self, index: int) -> Rule:
        """The rule as the policy applies it (``index``: its place in the file, for its
        default id)."""
        biz_steps = self.biz_steps
        if self.measure == "daily_demand" and self.event_types is None and biz_steps is None:
            biz_steps = DEMAND_STEPS  # what leaves to customers, unless the rule says more
        share_objects = self.share_objects
        if share_objects is None:  # by default the object types the rule filters on
            share_objects = self.object_types or ()
        return Rule(
            id=self.id if self.id is not None else f"rule-{index}",
            effect=self.effect,
            subjects=self.subjects,
            rights=self.rights,
            share=self.share,
            measure=self.measure,
            description=self.description,
            event_types=self.event_types,
            biz_steps=tuple(bare_step(s) for s in biz_steps) if biz_steps is not None else None,
            epcis_event_types=self.epcis_event_types,
            object_types=self.object_types,
            locations=self.locations,
            time_from=self.time_from,
            time_until=self.time_until,
            when=tuple(c.condition() for c in self.when),
            keep_attributes=self.keep_attributes or (),
            remove_attributes=self.remove_attributes or (),
            share_objects=share_objects,
            keep_object_attributes=self.keep_object_attributes or (),
            remove_object_attributes=self.remove_object_attributes or (),
            pseudonymise=self.pseudonymise or (),
            pseudonymise_ids=self.pseudonymise_ids or (),
            pseudonymise_event_ids=self.pseudonymise_event_ids,
            master_data=self.master_data or (),
            wastes=self.wastes,
            statuses=self.statuses,
            experiments=self.experiments,
            kinds=self.kinds,
            withhold=self.withhold or (),
        )


class PolicyFile(BaseModel):
    """A whole ``policy.toml``: ``[[rule]]`` tables, and optionally a description and a
    version at the top. Two rules may not share an id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: tuple[RuleEntry, ...] = ()
    description: StrictStr = ""
    version: Any = None

    @model_validator(mode="after")
    def _ids_differ(self) -> PolicyFile:
        seen: set[str] = set()
        for i, entry in enumerate(self.rule):
            rule_id = entry.id if entry.id is not None else f"rule-{i}"
            if rule_id in seen:
                raise _expected("an id no other rule has", at=("rule", i, "id"), got=rule_id)
            seen.add(rule_id)
        return self

    def rules(self) -> tuple[Rule, ...]:
        """The rules, in file order."""
        return tuple(entry.rule(i) for i, entry in enumerate(self.rule))


# --- reading --------------------------------------------------------------------------------

# What was expected, said the practitioner's way, for pydantic's own refusals (a wrong type, a
# missing key, an empty list), by key (list positions as "*") and, where it differs, by kind.
_EXPECTED: dict[tuple[str, ...], str] = {
    ("id",): "a non-empty string",
    ("description",): "a string",
    ("effect",): '"permit" or "deny"',
    ("subjects",): "a list of non-empty strings",
    ("subjects", "missing"): 'a list of partner names or "*"',
    ("subjects", "too_short"): 'at least one partner name or "*"',
    ("when",): "a list of condition tables",
    ("when", "*"): 'a table such as {attribute = "disposition", in = ["x"]}',
    ("when", "*", "attribute"): "the name of an event attribute",
    ("when", "*", "exists"): "true or false",
    ("when", "*", "matches"): "a regular expression (RE2 syntax)",
    ("when", "*", "equals"): "strings, numbers or booleans",
    ("when", "*", "in"): "a non-empty list of values",
    ("when", "*", "not_in"): "a non-empty list of values",
    ("pseudonymise_event_ids",): "true or false",
    ("share",): '"events" or "aggregate"',
    ("measure",): f"one of {', '.join(MEASURES)}",
    ("wastes", "too_short"): "at least one waste",
    ("statuses", "too_short"): "at least one status",
    ("kinds", "too_short"): "at least one countermeasure kind",
    ("experiments", "too_short"): "at least one experiment id (or pattern such as kz-*)",
}
_RULE_KEYS = sorted(f.alias or name for name, f in RuleEntry.model_fields.items())
_TOP_KEYS = tuple(PolicyFile.model_fields)


def _key_text(loc: tuple[str | int, ...]) -> str:
    """A place in a rule as the file writes it: ``when[0].matches``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _problem(error: ErrorDetails, data: Mapping[str, Any], source: str) -> PolicyError:
    """One of pydantic's refusals, told the way a person fixes it."""
    ctx = error.get("ctx") or {}
    loc = tuple(error["loc"]) + tuple(ctx.get("at", ()))
    kind = error["type"]
    got = ctx.get("got", error.get("input"))
    show = bool(ctx.get("show", True)) and kind not in ("missing", "extra_forbidden")
    if not loc or loc[0] != "rule":
        key = loc[0] if loc else "rule"
        expected = f"one of {', '.join(_TOP_KEYS)} (rules are [[rule]] tables)"
        if kind != "extra_forbidden":
            expected = ctx.get("expected", "a string" if key == "description" else expected)
        return PolicyError(f"{source}: key {key!r} at the top level: expected {expected}")
    if len(loc) == 1:
        return PolicyError(f"{source}: key 'rule': expected [[rule]] tables, got {got!r}")
    index = int(loc[1])
    if len(loc) == 2 and kind != "policy":
        return PolicyError(f"{source}: rule {index}: expected a table ([[rule]]), got {got!r}")
    raw = data["rule"][index]
    rule_id = raw.get("id") if isinstance(raw, dict) else None
    place = f"rule {index}" + (f" (id {rule_id!r})" if isinstance(rule_id, str) and rule_id else "")
    key_loc = loc[2:]
    if kind == "extra_forbidden":
        within = len(key_loc) > 1
        words = _OPS if within else _RULE_KEYS
        return PolicyError(
            f"{source}: {place}: key {_key_text(key_loc)!r}: expected one of {', '.join(words)}"
        )
    # an element of a list is told as the list it is in: 'rights', 'when[0].in' — only the
    # conditions are counted: 'when[0]'
    while len(key_loc) > 1 and isinstance(key_loc[-1], int) and key_loc[-2] != "when":
        key_loc = key_loc[:-1]
    if "expected" in ctx:
        expected = str(ctx["expected"])
    else:
        pattern = tuple("*" if isinstance(p, int) else p for p in key_loc)
        expected = _EXPECTED.get(
            (*pattern, kind), _EXPECTED.get(pattern, "a list of non-empty strings")
        )
    text = f"{source}: {place}: key {_key_text(key_loc)!r}: expected {expected}"
    return PolicyError(text + (f", got {got!r}" if show else ""))


def rules_from_dict(data: Mapping[str, Any], *, source: str = "<policy>") -> tuple[Rule, ...]:
    """The rules of a policy in its parsed form (``{"rule": [{...}, ...]}``); ``source`` names
    it in error messages."""
    if not isinstance(data, Mapping):
        raise PolicyError(f"{source}: expected a table with [[rule]] entries, got {data!r}")
    try:
        policy = PolicyFile.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        raise _problem(first, data, source) from None
    return policy.rules()


def read_rules(path: str | Path) -> tuple[Rule, ...]:
    """The rules of the policy file at ``path`` (TOML, ``[[rule]]`` tables); :class:`PolicyError`
    if anything in it is not understood — a policy is used whole or not at all."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read the policy file: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{path}: not valid TOML: {exc}") from None
    return rules_from_dict(data, source=str(path))
