"""Reading a policy file: ``policy.toml`` → rules, or a :class:`PolicyError` — never half.

Every key is checked: an unknown key, a value of the wrong type, an unknown right or measure, a
regular expression RE2 does not accept, two rules with one id — the file is refused whole, and
the message names the file, the rule (index from 0, and id), the key and what was expected.
A node with a refused policy shares nothing.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from keiretsu.model.ocel import parse_time
from keiretsu.node.policy.rules import (
    DEMAND_STEPS,
    EFFECTS,
    MEASURES,
    RIGHTS,
    SHARES,
    STOCK_IN,
    STOCK_OUT,
    Condition,
    Rule,
    bare_step,
)

__all__ = ["PolicyError", "read_rules", "rules_from_dict"]

_STR = pa.string()


class PolicyError(ValueError):
    """A policy file that cannot be used: the message names the file, the rule (index and id),
    the key and what was expected. A refused file shares nothing."""


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
        biz_steps=tuple(bare_step(s) for s in biz_steps) if biz_steps is not None else None,
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


def rules_from_dict(data: Mapping[str, Any], *, source: str = "<policy>") -> tuple[Rule, ...]:
    """The rules of a policy in its parsed form (``{"rule": [{...}, ...]}``); ``source`` names
    it in error messages."""
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
    return rules
