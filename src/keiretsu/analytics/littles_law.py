"""Little's law, checked against a WIP measured another way.

Little's law (Hopp & Spearman, *Factory Physics*, ch. 7: WIP = TH × CT; Little 1961) says the
average number of units in a system equals the rate at which they arrive times the time each one
spends in it: **L = λ·W**. A check is only worth something when the two sides come from
different measurements, so here:

* **with locations** (EPCIS logs: goods at business locations) — λ and W come from the
  goods' own *traces*: a serialised item is at a location from the event that puts it there
  (its ``bizLocation``, or its pallet's while it is packed on one) until an event puts it
  elsewhere or takes it away (shipped, sold, written off, consumed). λ = stays begun per day,
  W = the mean days of the stays that ended. The other side is the **stock ledger**
  (:func:`keiretsu.analytics.inventory.stock_levels`): the time-average of the pieces on hand
  at the location over the log's span — a running sum of movements, not a list of stays.
* **without locations** — per step (a visit as :mod:`keiretsu.analytics.flow` defines it):
  λ·W from the visits (:func:`~keiretsu.analytics.flow.visits`: arrivals per day × mean days
  in step; an object's first step lasts no time)
  against the WIP **sampled** at regular instants from the objects' events: at each instant an
  object is counted in the step whose ending event comes next after its latest step-ending
  event (it has left one step and not yet finished the next).

The gap (λ·W − measured WIP) is reported with its share of the measured WIP. It is not an
error by itself: stays still open when the log ends count in the measured WIP but not in W, and
stays under way before the log starts are not seen by either (edge effects); the notes give
the open stays so the reader can tell the two apart.
"""

from __future__ import annotations

from datetime import UTC, datetime

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from keiretsu.analytics.calendar import Calendar
from keiretsu.analytics.flow import lifecycle_events, visits
from keiretsu.analytics.inventory import LEAVING_DISPOSITIONS, event_facts, stock_levels
from keiretsu.analytics.log import Log
from keiretsu.analytics.traces import object_events, seconds_between
from keiretsu.analytics.view import View
from keiretsu.model.cbv import CHILD, GOODS_ROLES, INPUT, PARENT
from keiretsu.model.gs1 import TRADE_ITEM

__all__ = ["SAMPLES", "littles_law_check"]

SAMPLES = 1000
"""Instants at which the WIP of each step is sampled (logs without locations)."""

_DAY = 86_400.0
_NOT_ENDING = ("start", "schedule", "assign", "reassign", "suspend", "resume")
_GONE = "\x00gone"  # the place of goods that left every location

_SCHEMA = pa.schema(
    [
        ("location", pa.string()),
        ("step", pa.string()),
        ("arrivals", pa.int64()),
        ("arrivals_per_day", pa.float64()),
        ("mean_days", pa.float64()),
        ("littles_law_wip", pa.float64()),
        ("measured_wip", pa.float64()),
        ("gap", pa.float64()),
        ("gap_pct", pa.float64()),
        ("open_at_end", pa.int64()),
        ("note", pa.string()),
    ]
)


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _epoch(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Timestamps as float UTC epoch seconds (NaN for nulls)."""
    us = pc.cast(pc.cast(values, pa.timestamp("us", tz="UTC")), pa.int64())
    return np.asarray(us.to_numpy(zero_copy_only=False), dtype="float64") / 1e6


def _gap(lw: float | None, measured: float | None) -> tuple[float | None, float | None]:
    if lw is None or measured is None:
        return None, None
    gap = lw - measured
    return gap, (gap / measured * 100.0 if measured > 0 else None)


# --- locations: traces against the stock ledger --------------------------------------------------


def _item_places(log: Log, object_type: str) -> ir.Table:
    """Every event that says where an item of ``object_type`` is: its own events naming it as
    goods, and its container's events while it is packed (an AggregationEvent ADD until its next
    aggregation event): ``object_id, time, seq, place`` (null: the event does not move it;
    ``_GONE``: it left every location)."""
    facts = event_facts(log)
    o = log.objects.filter(log.objects.object_type == object_type).select("object_id")
    r = log.relations
    own = r.filter(r.qualifier.isin(list(GOODS_ROLES))).join(o, "object_id")
    own = own.select("object_id", "event_id", "qualifier")
    # packing: from each ADD of the item as a child to its next aggregation event
    agg = facts.filter(facts.event_type == "AggregationEvent").select(
        "event_id", "time", "seq", "action"
    )
    kids = own.filter(own.qualifier == CHILD).join(agg, "event_id")
    parents = r.filter(r.qualifier == PARENT).select("event_id", container="object_id")
    kids = kids.join(parents, "event_id")
    w = ibis.window(group_by="object_id", order_by=["time", "seq"])
    kids = kids.mutate(until=kids.time.lead().over(w))
    packed = kids.filter(kids.action != "DELETE").select(
        "object_id", "container", since=kids.time, until=kids.until
    )
    box = r.select("event_id", container="object_id").join(
        facts.select("event_id", box_time="time"), "event_id"
    )
    inherited = box.join(
        packed,
        [
            box.container == packed.container,
            box.box_time > packed.since,
            packed.until.isnull() | (box.box_time < packed.until),
        ],
    ).select(packed.object_id, box.event_id, qualifier=ibis.literal("packed"))
    rows = own.union(inherited).join(facts, "event_id")
    leaving = rows.disposition.isin(list(LEAVING_DISPOSITIONS)) | (rows.qualifier == INPUT)
    leaving = leaving | ((rows.event_type == "ObjectEvent") & (rows.action == "DELETE"))
    place = ibis.cases((leaving, ibis.literal(_GONE)), else_=rows.biz_location)
    rows = rows.select("object_id", "time", "seq", place=place)
    return rows.filter(rows.place.notnull()).distinct()


def _stays(log: Log, object_type: str) -> pa.Table:
    """Each item's stays at locations from its trace: ``object_id, place, arrive, leave`` (leave
    null: still there when the log ends)."""
    rows = _item_places(log, object_type)
    w = ibis.window(group_by="object_id", order_by=["time", "seq", "place"])
    rows = rows.mutate(before=rows.place.lag().over(w))
    changes = rows.filter(rows.before.isnull() | (rows.before != rows.place))
    w2 = ibis.window(group_by="object_id", order_by=["time", "seq", "place"])
    changes = changes.mutate(leave=changes.time.lead().over(w2))
    stays = changes.filter(changes.place != _GONE)
    return log.execute(stays.select("object_id", "place", arrive=stays.time, leave=stays.leave))


def _ledger_average(log: Log, t0: float, t1: float) -> dict[str, float]:
    """Per location: the time-average of the pieces on hand over [t0, t1] (epoch seconds),
    from the stock ledger's running stock (pieces: no unit of measure)."""
    levels = stock_levels(log).table
    levels = levels.filter(pc.is_null(levels.column("uom")))
    out: dict[str, float] = {}
    if levels.num_rows == 0 or t1 <= t0:
        return out
    levels = levels.sort_by(
        [("location", "ascending"), ("product", "ascending"), ("time", "ascending")]
    )
    loc = levels.column("location").to_pylist()
    prod = levels.column("product").to_pylist()
    times = _epoch(levels.column("time"))
    qty = np.asarray(levels.column("quantity").to_numpy(zero_copy_only=False), dtype="float64")
    for i in range(levels.num_rows):
        same_next = i + 1 < levels.num_rows and loc[i + 1] == loc[i] and prod[i + 1] == prod[i]
        end = times[i + 1] if same_next else t1
        lo, hi = max(times[i], t0), min(end, t1)
        if hi > lo:
            out[loc[i]] = out.get(loc[i], 0.0) + qty[i] * (hi - lo)
        else:
            out.setdefault(loc[i], 0.0)
    return {k: v / (t1 - t0) for k, v in out.items()}


def _by_location(log: Log, object_type: str, t0: float, t1: float) -> list[dict[str, object]]:
    stays = _stays(log, object_type)
    ledger = _ledger_average(log, t0, t1)
    days = (t1 - t0) / _DAY
    places = stays.column("place").to_pylist()
    arrive = _epoch(stays.column("arrive"))
    leave = _epoch(stays.column("leave"))
    rows: list[dict[str, object]] = []
    for place in sorted(set(places) | set(ledger)):
        mask = np.array([p == place for p in places], dtype=bool)
        a, lv = arrive[mask], leave[mask]
        n = int(mask.sum())
        done = np.isfinite(lv)
        open_end = int((~done).sum())
        mean_days = float(np.mean(lv[done] - a[done]) / _DAY) if done.any() else None
        rate = n / days if days > 0 else None
        lw = rate * mean_days if rate is not None and mean_days is not None else None
        measured = ledger.get(place)
        gap, pct = _gap(lw, measured)
        note = []
        if open_end:
            note.append(
                f"{open_end} of {n} stays still open at the log's end: in the ledger's WIP, "
                "not in W"
            )
        if measured is None:
            note.append("not measurable — needs stock-ledger movements at this location")
        rows.append(
            {
                "location": place,
                "step": None,
                "arrivals": n,
                "arrivals_per_day": rate,
                "mean_days": mean_days,
                "littles_law_wip": lw,
                "measured_wip": measured,
                "gap": gap,
                "gap_pct": pct,
                "open_at_end": open_end,
                "note": "; ".join(note) or None,
            }
        )
    return rows


# --- steps: λ·W against WIP sampled from the objects' events -------------------------------------


def sample_instants(t0: float, t1: float, samples: int = SAMPLES) -> np.ndarray:
    """The sampling instants (epoch seconds): the midpoints of ``samples`` equal slices of
    [t0, t1]."""
    return t0 + (np.arange(samples) + 0.5) * (t1 - t0) / samples


def _sampled(log: Log, object_type: str, instants: np.ndarray) -> dict[str, float]:
    """Per step: the mean over ``instants`` of the objects whose latest step-ending event is
    before the instant and whose next step-ending event (of that step) is at or after it."""
    le = log.execute(
        lifecycle_events(log, object_type)
        .select("object_id", "activity", "time", "seq", "transition")
        .order_by(["object_id", "time", "seq"])
    )
    n = le.num_rows
    if n == 0:
        return {}
    # one pass in arrays over each object's trace in order (a Python loop per event took
    # ~7 s per million): an object's visit to a step runs from its previous step-ending
    # event (its first event for the first visit) to the step's own ending event
    obj = le.column("object_id")
    new_object = np.ones(n, dtype=bool)
    if n > 1:
        same = pc.equal(obj.slice(1), obj.slice(0, n - 1)).fill_null(False)
        new_object[1:] = ~np.asarray(same.to_numpy(zero_copy_only=False), dtype=bool)
    group = np.cumsum(new_object) - 1
    t = _epoch(le.column("time"))
    first = t[np.flatnonzero(new_object)]  # each object's first event
    not_ending = pc.is_in(le.column("transition"), pa.array(_NOT_ENDING)).fill_null(False)
    ending = np.flatnonzero(~np.asarray(not_ending.to_numpy(zero_copy_only=False), dtype=bool))
    if ending.size == 0:
        return {}
    g, te = group[ending], t[ending]
    arrive = first[g].copy()
    after = np.flatnonzero(g[1:] == g[:-1]) + 1  # an ending event after another of its object
    arrive[after] = te[after - 1]
    lo = np.searchsorted(instants, arrive, side="left")
    hi = np.searchsorted(instants, te, side="left")
    inside = np.maximum(hi - lo, 0).astype("float64")
    steps = pc.dictionary_encode(le.column("activity").take(pa.array(ending))).combine_chunks()
    codes = np.asarray(steps.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    counts = np.bincount(codes, weights=inside, minlength=len(steps.dictionary))
    return {
        str(a): float(c) / len(instants)
        for a, c in zip(steps.dictionary.to_pylist(), counts, strict=True)
    }


def _by_step(
    log: Log, object_type: str, t0: float, t1: float, samples: int
) -> list[dict[str, object]]:
    v = visits(log, object_type)
    per = v.group_by("activity").agg(
        arrivals=v.count(), mean_seconds_in_step=seconds_between(v.arrive, v.leave).mean()
    )
    stats = log.execute(per.order_by("activity")).to_pylist()
    instants = sample_instants(t0, t1, samples)
    measured = _sampled(log, object_type, instants)
    days = (t1 - t0) / _DAY
    rows: list[dict[str, object]] = []
    for s in stats:
        step = str(s["activity"])
        n = int(s["arrivals"] or 0)
        rate = n / days if days > 0 else None
        mean_s = s["mean_seconds_in_step"]
        mean_days = float(mean_s) / _DAY if mean_s is not None else None
        lw = rate * mean_days if rate is not None and mean_days is not None else None
        got = measured.get(step, 0.0)
        gap, pct = _gap(lw, got)
        rows.append(
            {
                "location": None,
                "step": step,
                "arrivals": n,
                "arrivals_per_day": rate,
                "mean_days": mean_days,
                "littles_law_wip": lw,
                "measured_wip": got,
                "gap": gap,
                "gap_pct": pct,
                "open_at_end": None,
                "note": None
                if got > 0
                else "no object seen in the step at any sampled instant: its visits are "
                "shorter than the sampling interval",
            }
        )
    return rows


def littles_law_check(
    log: Log,
    object_type: str | None = None,
    *,
    calendar: Calendar | None = None,
    samples: int = SAMPLES,
) -> View:
    """Little's law L = λ·W per location (EPCIS logs) or per step (other logs), against a WIP
    measured independently (see the module docstring).

    Columns: ``location`` or ``step`` (the other null), ``arrivals`` (stays or visits begun in
    the span), ``arrivals_per_day`` (λ, per calendar day), ``mean_days`` (W, days),
    ``littles_law_wip`` (λ·W, units), ``measured_wip`` (pieces on hand by the stock ledger, or
    objects in the step sampled at ``samples`` instants; time-average, units), ``gap``
    (λ·W − measured, units), ``gap_pct`` (gap ÷ measured, %), ``open_at_end`` (stays still
    open when the log ends) and ``note``.

    ``object_type``: the goods followed at locations (serialised trade items by default) or
    the objects whose steps are checked (required without locations). ``calendar`` is named in
    the notes only: Little's law holds on the clock, in elapsed time, whatever the shifts."""
    cal = calendar or Calendar.always()
    e = log.events
    span = log.execute(e.aggregate(t0=e.time.min(), t1=e.time.max()))
    first, last = span.column("t0")[0].as_py(), span.column("t1")[0].as_py()
    notes = [
        cal.label() + " — named only: Little's law holds in elapsed time, so λ is per calendar "
        "day and W in calendar days"
    ]
    meta: dict[str, object] = {"calendar": cal.label()}
    if first is None or last is None:
        return View("littles_law", _SCHEMA.empty_table(), (*notes, "the log holds no events"), meta)
    t0, t1 = _utc(first).timestamp(), _utc(last).timestamp()
    has_places = bool(
        log.scalar(log.relations.filter(log.relations.qualifier == "bizLocation").count())
    )
    if has_places:
        followed = object_type or TRADE_ITEM
        rows = _by_location(log, followed, t0, t1)
        meta.update(mode="location", object_type=followed)
        notes += [
            f"λ and W from the traces of the {followed} objects: at a location from the event "
            "that puts it there (its bizLocation, or its pallet's while packed) until an event "
            "puts it elsewhere or takes it away (shipped, sold, written off, consumed); "
            "λ = stays begun per day over the log's span, W = mean days of the stays that ended",
            "measured WIP: the stock ledger's pieces on hand (stock_levels; no unit of measure), "
            "time-averaged over the log's span (first to last event)",
            "edge effects: a stay still open when the log ends is in the ledger's WIP but not in "
            "W (λ·W falls short); one begun before the log starts is seen by neither",
        ]
    else:
        if object_type is None:
            raise ValueError(
                "name the object type whose steps are checked (the log has no locations)"
            )
        oe = object_events(log, object_type)
        own = log.execute(oe.aggregate(t0=oe.time.min(), t1=oe.time.max()))
        lo, hi = own.column("t0")[0].as_py(), own.column("t1")[0].as_py()
        if lo is None or hi is None:
            raise ValueError(f"no {object_type} objects in the log")
        t0, t1 = _utc(lo).timestamp(), _utc(hi).timestamp()
        rows = _by_step(log, object_type, t0, t1, samples)
        every = (t1 - t0) / samples if samples else 0.0
        meta.update(mode="step", object_type=object_type, samples=samples, every_seconds=every)
        notes += [
            "λ·W per step from the visits: arriving per day × mean days in the step (from "
            "leaving the previous step to the step's own ending event; an object's first step "
            "lasts no time)",
            f"measured WIP: objects in the step sampled at {samples} instants, the midpoints of "
            f"equal slices of the span (every {every / 3600:.3g} hours): at each instant "
            "an object counts in the step whose ending event comes next after its latest "
            "step-ending event",
            f"edge effects: the span is the {object_type} objects' (first to last event); "
            "visits under way at its ends and the sampling grid make the gap; objects whose "
            "next step is not in the log are in neither number",
        ]
    table = pa.Table.from_pylist(rows, _SCHEMA)
    return View("littles_law", table, tuple(notes), meta)
