"""The data box under each process of a value stream map, filled from the events.

Rother & Shook (*Learning to See*) put under every process box what a practitioner measures at
the gemba: cycle time, changeover time, uptime, EPEI, operators, available time, and — with
Martin & Osterling (*Value Stream Mapping*) — the quality of what leaves the process (%C&A,
first-pass yield; rolled throughput yield for the stream). :func:`data_boxes` fills one row per
process (step) from the events where they carry the evidence, and says what each empty field
would need ("not measurable — needs …") where they do not. Formulas and references:
``docs/analytics/databox.md``.

* **A completion** of a step: a visit of an object to it (:func:`keiretsu.analytics.flow.visits`:
  its step-ending event). **C/T** = the mean time between consecutive completions of the step,
  on the calendar's available time (time outside shifts does not count).
* **P/T** = the mean process time per visit by :mod:`~keiretsu.analytics.flow`'s rules: start to
  complete where the events pair them, else (a step marked value-adding) the time from the
  object's previous step; on available time.
* **Where a step runs**: the equipment related to the event (an object of type machine,
  equipment, workstation, station, line or cell), else its EPCIS read point, else who did it
  (XES ``org:resource``; a related object of type resource, employee, worker…), else the step
  as a whole.
* **The product** of an object: a given object attribute (``product_attribute``); else an
  object it *is a* (an object-to-object relation to an object of type ``product``/``products``);
  else an object attribute named product, material, article, sku, part, variant or model; else
  its GTIN (:func:`keiretsu.analytics.inventory.product_of`, GS1 identifiers). Otherwise unknown.
* **A changeover**: two consecutive completions at the same place of different products; its
  time runs from the last unit of one product (its completion) to the first unit of the next
  (its start where the events have one, else its completion), on available time.
* **EPEI** at a place = available span of its completions ÷ product runs × products; the step's
  EPEI is the mean over its places that make more than one product.
* **Uptime** = 1 − downtime ÷ available time at the step's places, downtime from machine-state
  events (see :data:`DOWNTIME_PATTERN`).
* **Operators** = distinct people (XES ``org:resource``; related objects of type employee,
  resource, worker, operator…) at the step per working day, mean over the days it ran.
"""

from __future__ import annotations

import contextlib
import itertools
import re
from collections import defaultdict
from collections.abc import Collection, Generator, Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from keiretsu.analytics import flow
from keiretsu.analytics.calendar import Calendar
from keiretsu.analytics.inventory import product_of
from keiretsu.analytics.log import Log
from keiretsu.analytics.quality import escaped_defects, first_pass_yield
from keiretsu.analytics.view import View
from keiretsu.model.cbv import READ_POINT
from keiretsu.model.gs1 import PRODUCT_PREFIX

__all__ = [
    "DOWNTIME_PATTERN",
    "PEOPLE_TYPES",
    "PRODUCT_ATTRIBUTES",
    "data_boxes",
]

PEOPLE_TYPES = re.compile(
    r"^(resource|employee|worker|operator|person|people|staff|user)s?$", re.IGNORECASE
)
"""Object types whose objects are people working at a step (the operators)."""

EQUIPMENT_TYPES = re.compile(
    r"^(machine|equipment|workstation|station|line|cell)s?$", re.IGNORECASE
)
"""Object types whose objects are equipment a step runs on (a place for changeovers)."""

PRODUCT_ATTRIBUTES = (
    "product",
    "product_id",
    "product type",
    "product_type",
    "material",
    "article",
    "sku",
    "part",
    "part number",
    "variant",
    "model",
)
"""Object attributes (any case) read as the object's product."""

DOWNTIME_PATTERN = re.compile(
    r"break ?down|machine (down|stop|error|failure)|down ?time|out of order|outage|stoppage|"
    r"malfunction|maintenance|equipment (failure|error)|^(down|failure|error)$",
    re.IGNORECASE,
)
"""Activities that say the equipment at a place stopped: breakdown, machine down/error/failure,
downtime, outage, stoppage, malfunction, maintenance. An event attribute ``state`` or
``machine_state`` with a value down, breakdown, failure, error, maintenance or stopped says the
same."""

_STATE_ATTRIBUTES = ("state", "machine_state", "machine state", "equipment_state")
_DOWN_STATES = ("down", "breakdown", "failure", "error", "maintenance", "stopped")
_DAY = 86_400.0


def data_boxes(
    log: Log,
    object_type: str,
    *,
    steps: Sequence[str] | None = None,
    calendar: Calendar | None = None,
    end_steps: Collection[str] | None = None,
    value_adding: Collection[str] | None = None,
    inspection_steps: Collection[str] | None = None,
    product_attribute: str | None = None,
) -> View:
    """The data box of every process (step) that objects of ``object_type`` go through (or of
    ``steps``, in that order; by default in flow order).

    Columns, one row per step (seconds are available seconds on ``calendar``, 24/7 by default):
    ``step``; ``completions`` (visits ending at the step); ``cycle_seconds`` (C/T: mean time
    between consecutive completions); ``process_seconds`` (P/T per visit); ``changeovers``
    (product switches at a resource or read point) and ``changeover_seconds`` (C/O: mean time
    from the last unit of one product to the first of the next); ``uptime`` (0 to 1);
    ``epei_seconds`` (every part every interval); ``operators`` (people at the step per working
    day); ``available_seconds_per_day`` (working time of a working day on the calendar);
    ``first_pass_yield`` (0 to 1; %C&A at the step); ``escaped_defects`` (objects that failed
    here and moved on anyway); ``missing`` (list of "field: not measurable — needs …").

    ``meta``: ``rolled_throughput_yield`` (product of the FPYs), ``first_time_through`` (share
    of the objects that failed at no step), ``escaped_defects`` (objects
    that failed an inspection and moved on), ``reached_customers`` (of those, how many reached
    a customer; ``end_steps`` as in :func:`keiretsu.analytics.customer.exits`), ``calendar``.
    ``value_adding`` marks steps for P/T where the log has no start/complete events;
    ``inspection_steps`` names the inspections (default: steps named like one);
    ``product_attribute`` names the object attribute holding the product."""
    cal = calendar or Calendar.always()
    fpy = first_pass_yield(log, object_type, steps=steps, inspection_steps=inspection_steps)
    names = [str(s) for s in fpy.table.column("step").to_pylist()]
    yields = dict(zip(names, fpy.table.column("first_pass_yield").to_pylist(), strict=True))
    escaped = escaped_defects(
        log, object_type, end_steps=end_steps, inspection_steps=inspection_steps
    )

    lifecycle = flow.has_work_intervals(log, object_type)
    marked = set(value_adding or ())
    people = _people_per_day(log, object_type, cal)
    downtime = _downtime(log)
    per_day = _available_per_day(log, cal)

    # each step's completions in time order, one step at a time (no other query meanwhile)
    filled: dict[str, dict[str, Any]] = {}
    # closed however the loop ends: an open stream would refuse the log's next query
    visits = contextlib.closing(_visits_by_step(log, object_type, product_attribute))
    with visits as by_step:
        for step, t in by_step:
            if step not in yields:
                continue
            missing: list[str] = []
            row: dict[str, Any] = {"step": step, "completions": t.num_rows}
            leave = t.column("leave")
            row["cycle_seconds"] = _cycle(cal, leave, missing)
            row["process_seconds"] = _process(cal, t, step, lifecycle, marked, missing)
            co_n, co_s, epei = _changeovers(cal, t, missing)
            row["changeovers"], row["changeover_seconds"], row["epei_seconds"] = co_n, co_s, epei
            row["uptime"] = _uptime(cal, t, downtime, missing)
            row["operators"] = _operators(people.get(step), missing)
            row["available_seconds_per_day"] = per_day
            row["first_pass_yield"] = yields.get(step)
            if row["first_pass_yield"] is None:
                missing.append("first-pass yield: none for a step named for a failure")
            row["escaped_defects"] = int(escaped.meta["by_step"].get(step, 0))
            row["missing"] = missing
            filled[step] = row

    rows: list[dict[str, Any]] = []
    for step in names:
        if step in filled:
            rows.append(filled[step])
            continue
        no_visits = f"everything: no {object_type} completes this step in the log"
        rows.append({"step": step, "completions": 0, **_empty_fields(), "missing": [no_visits]})

    table = pa.Table.from_pylist(rows, _SCHEMA)
    notes = [
        cal.label(),
        "C/T = mean time between consecutive completions of the step (available time between "
        "the first and the last ÷ completions - 1)",
        "P/T = mean process time per visit: " + _process_rule(lifecycle, marked),
        "changeover = consecutive completions of different products at one resource or read "
        "point; C/O time from the last unit of one to the first of the next; EPEI = span ÷ "
        "product runs × products",
        *fpy.notes,
        *escaped.notes[-1:],
    ]
    meta: dict[str, Any] = {
        "object_type": object_type,
        "rolled_throughput_yield": fpy.meta["rolled_throughput_yield"],
        "first_time_through": fpy.meta["first_time_through"],
        "escaped_defects": int(escaped.meta["escaped"]),
        "failed_inspections": int(escaped.meta["failed"]),
        "reached_customers": int(escaped.meta["reached_customers"]),
        "calendar": cal.label(),
    }
    return View("data_boxes", table, tuple(notes), meta)


def _process_rule(lifecycle: bool, marked: set[str]) -> str:
    if lifecycle:
        return "start to complete events"
    if marked:
        steps = ", ".join(sorted(marked))
        return f"the time from the object's previous step to a value-adding step ({steps})"
    return "not measurable — needs start/complete events or steps marked value-adding"


_SCHEMA = pa.schema(
    [
        ("step", pa.string()),
        ("completions", pa.int64()),
        ("cycle_seconds", pa.float64()),
        ("process_seconds", pa.float64()),
        ("changeovers", pa.int64()),
        ("changeover_seconds", pa.float64()),
        ("uptime", pa.float64()),
        ("epei_seconds", pa.float64()),
        ("operators", pa.float64()),
        ("available_seconds_per_day", pa.float64()),
        ("first_pass_yield", pa.float64()),
        ("escaped_defects", pa.int64()),
        ("missing", pa.list_(pa.string())),
    ]
)


def _empty_fields() -> dict[str, Any]:
    return {f.name: None for f in _SCHEMA if f.name not in ("step", "completions", "missing")}


# --- what the events say, fetched once ----------------------------------------------------------


def _places(log: Log) -> ir.Table:
    """``event_id, place``: where an event ran — the equipment related to it (an object of a
    machine, equipment, station… type), else its read point, else who did it (``org:resource``,
    or a related object of a people type)."""
    r = log.relations
    types = log.object_types()

    def related(pattern: re.Pattern[str]) -> ir.Table:
        o = log.objects.filter(
            log.objects.object_type.isin([t for t in types if pattern.match(t)] or ["\x00"])
        )
        j = r.join(o, "object_id")
        return j.select(event_id=j.event_id.cast("string"), place=j.object_id.cast("string"))

    attr = log.event_attribute("org:resource")
    attr = attr.select(event_id=attr.event_id.cast("string"), place=attr.value.cast("string"))
    rp = r.filter(r.qualifier == READ_POINT)
    rp = rp.select(event_id=rp.event_id.cast("string"), place=rp.object_id.cast("string"))
    ranked = ibis.union(
        related(EQUIPMENT_TYPES).mutate(rank=0),
        rp.mutate(rank=1),
        attr.mutate(rank=2),
        related(PEOPLE_TYPES).mutate(rank=2),
        distinct=False,
    )
    w = ibis.window(group_by="event_id", order_by=["rank", "place"])
    ranked = ranked.mutate(k=ibis.row_number().over(w))
    return ranked.filter(ranked.k == 0).select("event_id", "place")


def _products(log: Log, object_type: str, attribute: str | None) -> ir.Table:
    """``object_id, product`` for the objects of the type whose product the log says."""
    o = log.objects.filter(log.objects.object_type == object_type).select("object_id")
    oa = log.object_attributes
    if attribute is not None:
        named = oa.filter(oa.name == attribute)
    else:
        named = oa.filter(oa.name.lower().isin(list(PRODUCT_ATTRIBUTES)))
    named = named.group_by("object_id").agg(by_attr=named.value.max())
    kinds = [t for t in log.object_types() if t.strip().lower() in ("product", "products")]
    rel = log.object_relations
    prods = log.objects.filter(log.objects.object_type.isin(kinds or ["\x00"]))
    is_a = rel.join(prods, rel.target_id == prods.object_id)
    is_a = is_a.group_by(object_id=is_a.source_id).agg(by_rel=is_a.target_id.min())
    t = o.left_join(is_a, "object_id").drop("object_id_right")
    t = t.left_join(named, "object_id").drop("object_id_right")
    gtin = ibis.ifelse(
        t.object_id.startswith(PRODUCT_PREFIX), product_of(t.object_id), ibis.null("string")
    )
    if attribute is not None:
        product = t.by_attr
    else:
        product = t.by_rel.cast("string").fill_null(t.by_attr).fill_null(gtin)
    return t.select("object_id", product=product)


def _visits_by_step(
    log: Log, object_type: str, product_attribute: str | None
) -> Generator[tuple[str, pa.Table], None, None]:
    """Each step's visits with what the data box needs: ``activity, arrive, leave,
    start_time, seq, place, product`` (not the visits' ids: at ten million events they were
    most of the memory these rows took), one step at a time (:meth:`Log.groups`), sorted by
    completion, read order and product (one event's objects of several products in a fixed
    order). Sorted by the engine: sorting the 5.9M visits of a ten-million-event log in Arrow
    took ~5 s, DuckDB ~1 s. Only one step's visits are held at a time: all of them at once
    were ~0.6 GB at ten million events. No other query may run on the log until the last
    step is taken (:meth:`Log.groups`)."""
    # each event's place and each object's product stored first (DuckDB): in one query with
    # the joins they took more of DuckDB's memory at once (10M events: past a 1 GB cap)
    places = log.temporary(_places(log), "places")
    products = log.temporary(_products(log, object_type, product_attribute), "products")
    try:
        v = flow.ordered_visits(log, object_type)
        v = v.left_join(places, "event_id").drop("event_id_right")
        v = v.left_join(products, "object_id")
        v = v.select("activity", "arrive", "leave", "start_time", "seq", "place", "product")
        joined = log.temporary(v, "visits_placed")
    finally:
        # gone before the sort: DuckDB's memory for it, not for them
        log.drop_temporary([places, products])
    steps = log.groups(joined, "activity", ("leave", "seq", "product"))
    try:
        for step, rows in steps:
            yield str(step), flow.utc_times(rows)
    finally:
        steps.close()  # its stream closed before its table goes
        log.drop_temporary([joined])


def _people_per_day(log: Log, object_type: str, cal: Calendar) -> dict[str, float]:
    """Mean distinct people per local working day at each step (days it ran with people
    known)."""
    attr = log.event_attribute("org:resource")
    attr = attr.select(event_id=attr.event_id.cast("string"), person=attr.value.cast("string"))
    types = [t for t in log.object_types() if PEOPLE_TYPES.match(t)]
    r = log.relations
    o = log.objects.filter(log.objects.object_type.isin(types or ["\x00"]))
    obj = r.join(o, "object_id")
    obj = obj.select(event_id=obj.event_id.cast("string"), person=obj.object_id.cast("string"))
    # no distinct here: people are counted distinct per step and day below (an event's person
    # named both ways counts once there), and 7.5M links made distinct first cost seconds
    who = attr.union(obj, distinct=False)
    who = who.filter(who.person.notnull())  # a resource left empty is nobody
    v = flow.visits(log, object_type).select("activity", "event_id", "leave")
    v = v.join(who, "event_id")
    if cal.timezone in ("UTC", "Etc/UTC"):
        # UTC days from the epoch, whatever the engine's session time zone: the engine counts
        # and only a row per step is fetched (the visits themselves were millions of rows)
        day = (v.leave.epoch_seconds() / _DAY).floor()
        per_day = v.group_by(["activity", day.name("day")]).agg(n=v.person.nunique())
        per_step = per_day.group_by("activity").agg(mean=per_day.n.mean())
        return {str(r["activity"]): float(r["mean"]) for r in log.execute(per_step).to_pylist()}
    v = v.select("activity", "leave", "person").distinct()
    got = flow.utc_times(log.execute(v))
    if got.num_rows == 0:
        return {}
    local = pc.local_timestamp(got.column("leave").cast(pa.timestamp("us", tz=cal.timezone)))
    days = pc.cast(pc.cast(local, pa.timestamp("us")), pa.date32())
    # distinct people per step and local day, then their mean per step (in Arrow: a Python
    # set per day took ~5 s per million visits); means of whole numbers are exact in any order
    per_day = (
        pa.table({"activity": got.column("activity"), "day": days, "person": got.column("person")})
        .group_by(["activity", "day"])
        .aggregate([("person", "count_distinct", pc.CountOptions(mode="all"))])
    )
    per_step = per_day.group_by("activity").aggregate(
        [("person_count_distinct", "sum"), ("person_count_distinct", "count")]
    )
    return {
        str(a): float(total) / float(n)
        for a, total, n in zip(
            per_step.column("activity").to_pylist(),
            per_step.column("person_count_distinct_sum").to_pylist(),
            per_step.column("person_count_distinct_count").to_pylist(),
            strict=True,
        )
    }


def _available_per_day(log: Log, cal: Calendar) -> float | None:
    """Available seconds of a working day: the calendar's working time over the local days
    the log covers ÷ the days among them with any working time."""
    e = log.events
    span = log.execute(e.aggregate(first=e.time.min(), last=e.time.max()))
    first, last = span.column("first")[0].as_py(), span.column("last")[0].as_py()
    if first is None:
        return None
    zone = ZoneInfo(cal.timezone)
    d = _aware(first).astimezone(zone).date()
    end = _aware(last).astimezone(zone).date()
    total, days = 0.0, 0
    while d <= end:
        lo = datetime.combine(d, time(0), zone)
        hi = datetime.combine(d + timedelta(days=1), time(0), zone)
        got = cal.available_seconds(lo, hi)
        if got > 0:
            total += got
            days += 1
        d += timedelta(days=1)
    return total / days if days else None


def _aware(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t


def _downtime(log: Log) -> dict[str, list[tuple[float, float]]]:
    """Down intervals (UTC epoch seconds) per place: from a down event (its start, or the event
    itself) to the place's next event that is not a down event (a down activity's complete ends
    it too)."""
    e = log.events
    acts = log.execute(e.select("activity").distinct())
    down_acts = [a for a in acts.column("activity").to_pylist() if DOWNTIME_PATTERN.search(str(a))]
    a = log.event_attributes
    state = a.filter(
        a.name.lower().isin(list(_STATE_ATTRIBUTES)) & a.value.lower().isin(list(_DOWN_STATES))
    ).select(event_id=a.event_id.cast("string"), by_state=ibis.literal(True))
    n_state = int(log.scalar(state.count()) or 0)
    if not down_acts and not n_state:
        return {}
    lc = a.filter(a.name == "lifecycle:transition").select(
        event_id=a.event_id.cast("string"), transition=a.value.lower()
    )
    places = _places(log)
    at = e.select(event_id=e.event_id.cast("string"), activity=e.activity, time=e.time, seq=e.seq)
    at = at.join(places.filter(places.place.notnull()), "event_id")
    at = at.left_join(state, "event_id").drop("event_id_right")
    at = at.left_join(lc, "event_id").drop("event_id_right")
    is_down_act = at.activity.isin(down_acts or ["\x00"])
    at = at.select(
        "place",
        "time",
        "seq",
        down=(is_down_act & (at.transition.isnull() | (at.transition != "complete")))
        | at.by_state.fill_null(False),
    )
    got = flow.utc_times(log.execute(at.order_by(["place", "time", "seq"])))
    out: dict[str, list[tuple[float, float]]] = defaultdict(list)
    places_col = got.column("place").to_pylist()
    times = got.column("time").cast(pa.int64()).to_numpy() / 1e6
    down = got.column("down").to_pylist()
    since: float | None = None
    for i, place in enumerate(places_col):
        if i > 0 and place != places_col[i - 1]:
            since = None  # a place whose last event is down: open, not counted
        if down[i]:
            if since is None:
                since = float(times[i])
        elif since is not None:
            out[str(place)].append((since, float(times[i])))
            since = None
    return dict(out)


# --- the fields ---------------------------------------------------------------------------------


def _cycle(cal: Calendar, leave: pa.ChunkedArray, missing: list[str]) -> float | None:
    if len(leave) < 2:
        missing.append("C/T: not measurable — needs at least two completions of the step")
        return None
    gaps = cal.available_between(leave.slice(0, len(leave) - 1), leave.slice(1))
    return float(np.nanmean(gaps))


def _process(
    cal: Calendar,
    t: pa.Table,
    step: str,
    lifecycle: bool,
    marked: set[str],
    missing: list[str],
) -> float | None:
    if lifecycle:
        starts = t.column("start_time")
        if starts.null_count == len(starts):
            missing.append("P/T: not measurable — needs start events paired with this step's")
            return None
        work = cal.available_between(starts, t.column("leave"))
        return float(np.nanmean(work))
    if step in marked:
        return float(np.nanmean(cal.available_between(t.column("arrive"), t.column("leave"))))
    missing.append(
        "P/T: not measurable — needs start/complete events, or the step marked value-adding"
    )
    return None


def _changeovers(
    cal: Calendar, t: pa.Table, missing: list[str]
) -> tuple[int | None, float | None, float | None]:
    """(changeovers, mean changeover seconds, EPEI seconds) of one step's completions (sorted
    by time)."""
    if t.column("product").null_count == t.num_rows:
        missing.append(
            "changeover: not measurable — needs each object's product (GS1 identifiers, a "
            "'product' object attribute, or an object related to a product)"
        )
        missing.append("EPEI: not measurable — needs each object's product")
        return None, None, None
    if t.column("place").null_count == t.num_rows:
        missing.append(
            "changeover: counted on the step as a whole — the events name no resource or read point"
        )
    leave = t.column("leave").cast(pa.int64()).to_numpy() / 1e6
    start_us = t.column("start_time").cast(pa.int64())
    # a completion's first moment: its start where paired, else the completion itself
    first_at = np.where(
        np.asarray(pc.is_valid(start_us).to_numpy(zero_copy_only=False), dtype=bool),
        np.asarray(start_us.fill_null(0).to_numpy(zero_copy_only=False)) / 1e6,
        leave,
    )
    seq = np.asarray(t.column("seq").fill_null(0).to_numpy(zero_copy_only=False))
    product = _codes(t.column("product"))
    place = _codes(t.column("place"))
    # the completions with a product, in time order (then read order), grouped by place in
    # the order each place first appears — in arrays: a Python loop per completion took
    # seconds per million visits
    order = np.lexsort((seq, leave))
    order = order[product[order] >= 0]
    first_seen = np.full(int(place.max(initial=-1)) + 2, len(order), dtype=np.int64)
    np.minimum.at(first_seen, place[order] + 1, np.arange(len(order)))
    order = order[np.argsort(first_seen[place[order] + 1], kind="stable")]
    grouped = place[order]
    same_place = grouped[1:] == grouped[:-1]
    switch = same_place & (product[order][1:] != product[order][:-1])
    a, b = order[:-1][switch], order[1:][switch]
    switch_lo = leave[a]
    switch_hi = np.maximum(first_at[b], leave[a])
    n_switches = int(switch.sum())
    epeis: list[float] = []
    bounds = np.flatnonzero(np.concatenate(([True], ~same_place, [True])))
    for lo_i, hi_i in itertools.pairwise(bounds):
        idx = order[lo_i:hi_i]
        kinds = len(np.unique(product[idx]))
        if kinds > 1:
            runs = 1 + int(switch[lo_i : hi_i - 1].sum())
            span = _available(cal, float(leave[idx[0]]), float(leave[idx[-1]]))
            epeis.append(span / runs * kinds)
    if not n_switches:
        missing.append("changeover time: none observed — one product at a time at each place")
        co = None
    else:
        co = float(np.mean(cal.available_between(_ts(switch_lo), _ts(switch_hi))))
    if not epeis:
        missing.append("EPEI: not measurable — needs more than one product at a place")
    return n_switches, co, (float(np.mean(epeis)) if epeis else None)


def _codes(column: pa.ChunkedArray) -> np.ndarray:
    """Each value's code (equal values, equal codes; null -1)."""
    encoded = pc.dictionary_encode(column).combine_chunks()
    return np.asarray(encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False), np.int64)


def _uptime(
    cal: Calendar,
    t: pa.Table,
    downtime: dict[str, list[tuple[float, float]]],
    missing: list[str],
) -> float | None:
    places = {p for p in pc.unique(t.column("place")).to_pylist() if p is not None}
    if not downtime or not places & set(downtime):
        missing.append(
            "uptime: not measurable — needs machine-state or error events (breakdown, "
            "failure, downtime, maintenance) at the step's resource or read point"
        )
        return None
    leave = t.column("leave").cast(pa.int64()).to_numpy() / 1e6
    lo, hi = float(leave.min()), float(leave.max())
    available = _available(cal, lo, hi) * len(places)
    if available <= 0:
        missing.append("uptime: not measurable — no available time between the completions")
        return None
    down = 0.0
    for p in places:
        for a, b in downtime.get(p, []):
            a, b = max(a, lo), min(b, hi)
            if b > a:
                down += _available(cal, a, b)
    return max(0.0, 1.0 - down / available)


def _operators(per_day: float | None, missing: list[str]) -> float | None:
    if per_day is None:
        missing.append(
            "operators: not measurable — needs who did the work (XES org:resource, or "
            "employee/resource objects related to the events)"
        )
    return per_day


def _ts(seconds: np.ndarray) -> pa.Array:
    return pa.array((seconds * 1e6).round().astype(np.int64), pa.timestamp("us", tz="UTC"))


def _available(cal: Calendar, lo: float, hi: float) -> float:
    return cal.available_seconds(datetime.fromtimestamp(lo, UTC), datetime.fromtimestamp(hi, UTC))
