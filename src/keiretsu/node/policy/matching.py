"""Which events a rule matches, worked out column-wise over a log's Arrow tables.

Each filter of a rule (event type, bizStep, EPCIS event type, object types touched, locations,
time window, each condition of ``when``) becomes one mask over the log's events: ``True`` where
the event passes. A rule matches an event when every one of its masks passes; :meth:`LogColumns.
filters` keeps the masks apart, with the words of the test, so that ``Policy.explain`` can say
which test failed. Python runs per rule and per distinct attribute name, never per event.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from keiretsu.model.cbv import PLACE_ROLES
from keiretsu.model.ocel import TIME, Ocel, parse_time
from keiretsu.node.policy.rules import Condition, Rule, glob_regex

__all__ = ["LOCATION_QUALIFIERS", "LogColumns", "any_of", "ids_mask", "in_set", "positions"]

LOCATION_QUALIFIERS = PLACE_ROLES
"""The relations that name an event's place (``readPoint``, ``bizLocation``): what a rule's
``locations`` filter looks at."""

_NUMBER = r"^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$"
_INSTANT = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}:?\d{2})?$"
_STR = pa.string()


def ids_mask(ids: pa.Array, chosen: pa.Array) -> pa.Array:
    """Which of ``ids`` are among ``chosen``."""
    if len(chosen) == 0:
        return pa.repeat(pa.scalar(False), len(ids))
    return pc.fill_null(pc.is_in(ids, value_set=chosen), False)


def positions(ids: pa.Array, within: pa.Array) -> np.ndarray[Any, Any]:
    """Where each of ``ids`` is in ``within`` (-1: nowhere)."""
    at = pc.fill_null(pc.index_in(ids, value_set=within), -1)
    return np.asarray(at.to_numpy(zero_copy_only=False), dtype=np.int64)


def in_set(values: pa.Array, allowed: Iterable[str]) -> pa.Array:
    """Which of ``values`` are among ``allowed`` (null: no)."""
    return pc.fill_null(pc.is_in(values, value_set=pa.array(list(allowed), _STR)), False)


def any_of(masks: Sequence[pa.Array], n: int) -> pa.Array:
    """Per row: does one of ``masks`` mark it (``n`` rows; no masks: none)."""
    out = pa.repeat(pa.scalar(False), n)
    for m in masks:
        out = pc.or_(out, m)
    return out


class LogColumns:
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
        self.ea_at = positions(self.ea_id, self.ev_id)
        self.eo_at = positions(self.eo_event, self.ev_id)

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
                (
                    f"event type not in {list(rule.event_types)}",
                    in_set(self.ev_type, rule.event_types),
                )
            )
        if rule.biz_steps is not None:
            out.append(
                (f"bizStep not in {list(rule.biz_steps)}", in_set(self.ev_type, rule.biz_steps))
            )
        if rule.epcis_event_types is not None:
            rows = pc.and_(
                self.attribute_rows("eventType"), in_set(self.ea_value, rule.epcis_event_types)
            )
            out.append(
                (
                    f"EPCIS eventType not in {list(rule.epcis_event_types)}",
                    self.events_with(self.ea_at, rows),
                )
            )
        if rule.object_types is not None:
            rows = in_set(self.eo_type, rule.object_types)
            out.append(
                (
                    f"touches no object of type {list(rule.object_types)}",
                    self.events_with(self.eo_at, rows),
                )
            )
        if rule.locations is not None:
            where = in_set(self.eo_qualifier, LOCATION_QUALIFIERS)
            pattern = "|".join(glob_regex(p) for p in rule.locations)
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
            return present, self.events_with(at, in_set(values, cond.texts))
        if cond.op == "not_in":
            hit = self.events_with(at, in_set(values, cond.texts))
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
