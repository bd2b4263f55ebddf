"""Where time goes: lead time, processing and waiting per object, and the flow through each step.

Definitions used by every view here (and by the bottleneck and waste views built on them):

* **Lead time** of an object: from its first event to its last event (all lifecycle states).
  An object is **finished** when its path reached the customer
  (:func:`keiretsu.analytics.customer.finished_objects`: sold, shipped outside the network, a
  declared end step, or a plain log's terminal step); the others are **open** — still in the
  process when the log ends, so their lead time is only known to be longer than what the log
  shows (right-censored). Lead time at a glance is therefore given two ways: the finished
  objects' own lead times (first event to the exit), and the lead time of *all* objects by
  Kaplan–Meier (1958), each open object counted as still in process at the log's end.
* **Processing (value-added) time** of an object, by the first rule the data allows:

  1. *start/complete lifecycle events* (the XES ``lifecycle:transition`` event attribute,
     ``start`` and ``complete``, any case): each ``complete`` is paired with the oldest still-open
     ``start`` of the same activity and the same object (first in, first out); processing is the
     time covered by those start-to-complete intervals, overlapping intervals counted once, so
     it can never exceed the lead time. Atomic events (a ``complete`` with no open ``start``)
     add no processing time.
  2. *steps the user marks as value-adding*: the time from the object's previous event to an
     event of a value-adding activity counts as processing (the object was being worked on for
     that step since it left the one before).
  3. otherwise processing is unknown (null), and the view's notes say so.

  Waiting time = lead time - processing time; an object's flow efficiency = its processing /
  its lead time. **Process cycle efficiency** (PCE, Rother & Shook) = the sum of processing
  time over the sum of lead time of the objects: the value-added share of all the time goods
  spent in the process. The mean of the objects' own ratios is another number (a one-hour
  object weighs as much as a one-month one) and is kept apart, named as what it is.

* **A visit to a step** (what :func:`step_stats` and :func:`wip_over_time` count): every event
  that *ends* a step for an object (its ``complete``, or the event itself in a log with one
  timestamp per step; ``start``, ``schedule``, ``assign``, ``suspend`` and ``resume`` events do
  not end a step). The object **arrives** at the step when it left its previous step (its
  previous step-ending event; for its first step, its first event of any kind) and **leaves**
  it at the step-ending event. *Time in step* = leaves - arrives: the queue before the step
  plus the work at it. The steps of an object tile its lead time, so the WIP of all steps adds
  up to the WIP of the process. *Wait before the step* = arrival to the step's paired
  ``start`` (with lifecycle events), or the whole time in step (one timestamp per step: the
  events cannot tell queueing from working).

  A **first visit** — an object's first step-ending event in the log, or its first one recorded
  by a company (a partner's pushed events are told apart by their id, see
  :mod:`keiretsu.analytics.chain`) — has no measurable time in step and no measurable wait:
  the object was there before the log (stock on hand when it begins) or came from another
  company (the time since is transit, not this step). It counts as an arrival and a visit, but
  stays out of the time-in-step and wait averages; a step whose visits are all first visits
  (commissioning, receiving) shows null, "not measurable — the step starts the object's life
  here".
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from keiretsu.analytics.calendar import Calendar
from keiretsu.analytics.customer import finished_objects
from keiretsu.analytics.durations import duration, parse_freq
from keiretsu.analytics.log import Log
from keiretsu.analytics.traces import epoch_micros, object_events, seconds_between, stored_passes
from keiretsu.analytics.traces import steps as trace_steps
from keiretsu.analytics.view import View
from keiretsu.store.received import RECEIVED_PREFIX

__all__ = ["object_times", "parse_freq", "step_stats", "wip_over_time"]

Basis = Literal["auto", "lifecycle", "value_adding"]

_DAY = 86_400.0
# lifecycle transitions that do not end a step (XES standard lifecycle model)
_NOT_ENDING = ("start", "schedule", "assign", "reassign", "suspend", "resume")
# buckets are counted from a Monday at midnight UTC, so days are calendar days (UTC) and weeks
# run Monday to Sunday
_ORIGIN = datetime(1970, 1, 5, tzinfo=UTC)
# a partner's pushed event: urn:keiretsu:from:<partner>:… (as analytics.chain reads it)
_PARTNER = "^" + re.escape(RECEIVED_PREFIX) + "([^:]+):"
NOT_MEASURABLE_FIRST = "not measurable — the step starts the object's life here"


# --- building blocks (shared with bottleneck.py and the waste views) ------------------------------


def lifecycle_events(log: Log, object_type: str) -> ir.Table:
    """One row per (object, event) of ``object_type`` with ``transition``: the event's XES
    lifecycle transition in lower case (null when the event has none)."""
    oe = object_events(log, object_type)
    a = log.event_attributes
    lc = a.filter(a.name == "lifecycle:transition").select(
        "event_id", transition=a.value.lower().strip()
    )
    return oe.left_join(lc, "event_id").select(
        "object_id", "object_type", "event_id", "activity", "time", "seq", "transition"
    )


def work_intervals(le: ir.Table) -> ir.Table:
    """Start/complete pairs of each object and activity, first in first out: ``object_type,
    object_id, activity, start_event_id, start_time, end_event_id, end_time``.

    A ``complete`` finds a partner when a ``start`` of the same activity is still open for the
    object. Counting +1 per start and -1 per complete in order, a complete is unmatched exactly
    when the running sum falls to a new low below zero; the m-th matched complete closes the
    m-th start."""
    lc = le.filter(le.transition.isin(["start", "complete"]))
    is_start = (lc.transition == "start").cast("int64")
    key = ["object_type", "object_id", "activity"]
    upto = ibis.window(group_by=key, order_by=["time", "seq"], rows=(None, 0))
    lc = lc.mutate(
        is_start=is_start,
        balance=(is_start * 2 - 1).sum().over(upto),
        n_start=is_start.sum().over(upto),
        n_complete=(1 - is_start).sum().over(upto),
    )
    lc = lc.mutate(low=ibis.least(lc.balance.min().over(upto), 0))
    before = ibis.window(group_by=key, order_by=["time", "seq"])
    lc = lc.mutate(low_before=lc.low.lag().over(before).fill_null(0))
    starts = lc.filter(lc.is_start == 1).select(
        *key, start_event_id=lc.event_id, start_time=lc.time, m=lc.n_start
    )
    ends = lc.filter((lc.is_start == 0) & (lc.balance >= lc.low_before))
    ends = ends.select(
        *key, end_event_id=ends.event_id, end_time=ends.time, m=ends.n_complete + ends.low
    )
    pairs = starts.join(ends, [*key, "m"])
    return pairs.select(*key, "start_event_id", "start_time", "end_event_id", "end_time")


def merged_seconds(intervals: ir.Table, by: list[str]) -> ir.Table:
    """Seconds covered by ``start_time``-``end_time`` intervals per group ``by``, overlapping
    intervals counted once: ``*by, covered_seconds``."""
    w = ibis.window(group_by=by, order_by=["start_time", "end_time"], rows=(None, -1))
    t = intervals.mutate(reach=intervals.end_time.max().over(w))
    t = t.mutate(new=(t.reach.isnull() | (t.start_time > t.reach)).cast("int64"))
    upto = ibis.window(group_by=by, order_by=["start_time", "end_time"], rows=(None, 0))
    t = t.mutate(island=t.new.sum().over(upto))
    islands = t.group_by([*by, "island"]).agg(lo=t.start_time.min(), hi=t.end_time.max())
    return islands.group_by(by).agg(covered_seconds=seconds_between(islands.lo, islands.hi).sum())


def recorder(event_id: ir.StringValue) -> ir.StringValue:
    """The company that recorded an event, read from its id as :mod:`keiretsu.analytics.chain`
    reads it: a partner's name for the events it pushed (``urn:keiretsu:from:<partner>:…``),
    ``""`` for this node's own."""
    pushed = event_id.startswith(RECEIVED_PREFIX)
    return ibis.ifelse(pushed, event_id.re_extract(_PARTNER, 1), ibis.literal(""))


def visits(log: Log, object_type: str) -> ir.Table:
    """Every visit of an object of ``object_type`` to a step (see the module docstring):
    ``object_id, activity, event_id, arrive, leave`` (UTC), ``first_visit`` (bool: the
    object's first step-ending event in the log, or its first one recorded by a company),
    ``start_time`` (the paired start, null without one), ``seconds_in_step`` and
    ``wait_before_seconds`` (seconds; null on a first visit: not measurable) and
    ``work_seconds`` (start to complete, null without a pair)."""
    shared = log.lent(("flow.visits", object_type))
    if shared is not None:  # computed once for the whole report (report.analyze)
        lent: ir.Table = shared
        return lent
    return ordered_visits(log, object_type).drop("seq")


def ordered_visits(log: Log, object_type: str) -> ir.Table:
    """:func:`visits` with ``seq``, the event's place in the order this log read events (it
    breaks ties in time; an engine's key, not comparable between logs), for views that order
    visits without joining every event again."""
    shared = log.lent(("flow.ordered_visits", object_type))
    if shared is not None:  # computed once for the whole report (report.analyze)
        lent: ir.Table = shared
        return lent
    le = lifecycle_events(log, object_type)
    if visits_are_steps(log):
        # every event ends a step and this node recorded every one: each visit is a step of
        # the store's traces, which carry the previous step already (schema 9) — the
        # object's first step is its first visit (no window over every trace)
        s = trace_steps(log, object_type)
        pairs = work_intervals(le).select(
            "object_id", event_id="end_event_id", start_time="start_time"
        )
        v = s.left_join(pairs, ["object_id", "event_id"])
        arrive = v.prev_time.fill_null(v.time)
        first = v.position == 0
    else:
        v, arrive, first = _visits_windowed(le)
    started = ibis.greatest(v.start_time.fill_null(v.time), arrive)
    return v.select(
        "object_id",
        "activity",
        "event_id",
        arrive=arrive,
        leave=v.time,
        first_visit=first,
        start_time=v.start_time,
        seconds_in_step=ibis.ifelse(first, ibis.null("float64"), seconds_between(arrive, v.time)),
        wait_before_seconds=ibis.ifelse(
            first, ibis.null("float64"), seconds_between(arrive, started)
        ),
        work_seconds=seconds_between(v.start_time, v.time),
        seq=v.seq,
    )


def visits_are_steps(log: Log) -> bool:
    """Whether every visit is a step of the store's traces with its previous step kept
    (schema 9): every event ends a step (no XES start, schedule… transition) and this node
    recorded every one (no partner's pushed events, whose first visits are read per company).
    Then a visit's previous step, next step and pass are the trace's
    (:func:`keiretsu.analytics.traces.steps`), and the views read them instead of sorting
    every object's visits again."""
    return stored_passes(log, _NOT_ENDING) and not _has_received(log)


def _has_received(log: Log) -> bool:
    """Whether the log holds events a partner pushed (a visit's first step is then read per
    company: :func:`recorder`)."""

    def count() -> bool:
        e = log.events
        return int(log.scalar(e.filter(e.event_id.startswith(RECEIVED_PREFIX)).count())) > 0

    return bool(log.memo(("flow.has_received",), count))


def _visits_windowed(le: ir.Table) -> tuple[ir.Table, ir.TimestampValue, ir.BooleanValue]:
    """The visits' rows with windows over each object's step-ending events: the rows, each
    visit's arrival and whether it is a first visit (the object's first step-ending event, or
    its first one recorded by a company)."""
    whole = ibis.window(group_by=["object_type", "object_id"])
    le = le.mutate(first_time=le.time.min().over(whole))
    ending = le.filter(le.transition.isnull() | ~le.transition.isin(list(_NOT_ENDING)))
    ending = ending.mutate(company=recorder(ending.event_id))
    w = ibis.window(group_by=["object_type", "object_id"], order_by=["time", "seq"])
    here = ibis.window(group_by=["object_type", "object_id", "company"], order_by=["time", "seq"])
    ending = ending.mutate(
        prev_time=ending.time.lag().over(w), prev_here=ending.time.lag().over(here)
    )
    pairs = work_intervals(le).select("object_id", event_id="end_event_id", start_time="start_time")
    v = ending.left_join(pairs, ["object_id", "event_id"])
    arrive = v.prev_time.fill_null(v.first_time)
    return v, arrive, v.prev_here.isnull()


def has_work_intervals(log: Log, object_type: str) -> bool:
    """Whether the objects of ``object_type`` have any start/complete pair."""

    def count() -> bool:
        pairs = work_intervals(lifecycle_events(log, object_type))
        return int(log.scalar(pairs.count())) > 0

    return log.memo(("flow.has_work_intervals", object_type), count)


# --- object_times ---------------------------------------------------------------------------------


def object_times(
    log: Log,
    object_type: str,
    value_adding: Collection[str] | None = None,
    *,
    basis: Basis = "auto",
    end_steps: Collection[str] | None = None,
) -> View:
    """Lead time, processing time, waiting time and flow efficiency of every object of a type,
    and whether it reached the customer.

    One row per object: ``object_id, object_type, first_time, last_time`` (UTC),
    ``lead_seconds, processing_seconds, waiting_seconds`` (seconds), ``flow_efficiency``
    (processing / lead, 0 to 1; null when the lead time is 0 or processing is unknown),
    ``finished`` (bool: its path reached the customer, see
    :func:`keiretsu.analytics.customer.finished_objects`; ``end_steps`` declares the steps
    that hand goods to the customer) and ``finished_at`` (UTC, the exit; null while open).

    Processing comes from start/complete lifecycle events where the objects have them, else
    from ``value_adding`` (activity names; the time from the object's previous event to a
    value-adding event counts as processing), else it is unknown (null). ``basis`` forces one
    rule (``"lifecycle"`` or ``"value_adding"``); the notes say which rule was used.

    ``meta`` holds the figures at a glance (see :func:`lead_time_at_a_glance`):
    ``process_cycle_efficiency`` (Σ processing ÷ Σ lead, 0 to 1), the finished objects' lead
    time, the Kaplan–Meier lead time of all objects, and how many are still open.

    Computed once per log and options (:meth:`Log.memo`): the views that read it share it."""
    log.require("object type", object_type, where="object_type")
    key = (
        "flow.object_times",
        object_type,
        tuple(sorted(value_adding or ())),
        basis,
        tuple(sorted(end_steps or ())),
    )
    return log.memo(key, lambda: _object_times(log, object_type, value_adding, basis, end_steps))


def _object_times(
    log: Log,
    object_type: str,
    value_adding: Collection[str] | None,
    basis: Basis,
    end_steps: Collection[str] | None,
) -> View:
    oe = object_events(log, object_type)
    spans = oe.group_by(["object_type", "object_id"]).agg(
        first_time=oe.time.min(), last_time=oe.time.max()
    )
    notes: list[str] = [
        "lead time: from the object's first event to its last event",
    ]
    rule = basis
    if rule == "auto":
        if has_work_intervals(log, object_type):
            rule = "lifecycle"
        elif value_adding:
            rule = "value_adding"
    processing: ir.Table | None = None
    if rule == "lifecycle":
        intervals = work_intervals(lifecycle_events(log, object_type))
        processing = merged_seconds(intervals, ["object_type", "object_id"]).rename(
            processing_seconds="covered_seconds"
        )
        notes.append(
            "processing time from start/complete lifecycle events (each complete paired with "
            "the oldest open start of the same activity and object; overlaps counted once; "
            "atomic events add none)"
        )
        if value_adding:
            notes.append("the value-adding steps given were not used: the log has start/complete")
    elif rule == "value_adding":
        steps = list(value_adding or ())
        if stored_passes(log):  # each step's previous one kept in the store's traces
            t = trace_steps(log, object_type)
        else:
            w = ibis.window(group_by=["object_type", "object_id"], order_by=["time", "seq"])
            t = oe.mutate(prev_time=oe.time.lag().over(w))
        t = t.filter(t.activity.isin(steps) & t.prev_time.notnull()) if steps else t.limit(0)
        processing = t.group_by(["object_type", "object_id"]).agg(
            processing_seconds=seconds_between(t.prev_time, t.time).sum()
        )
        notes.append(
            "processing time from the steps marked value-adding ("
            + ", ".join(sorted(steps))
            + "): the time from the object's previous event to each of their events"
        )
    else:
        notes.append(
            "processing time unknown: the log has no start/complete lifecycle events for "
            f"{object_type!r} and no steps were marked value-adding; waiting time and flow "
            "efficiency are unknown too"
        )
    if processing is not None:
        joined = spans.left_join(processing, ["object_type", "object_id"])
        proc = joined.processing_seconds.fill_null(0.0)
    else:
        joined = spans
        proc = ibis.null("float64")
    lead = seconds_between(joined.first_time, joined.last_time)
    result = joined.select(
        "object_id",
        "object_type",
        "first_time",
        "last_time",
        lead_seconds=lead,
        processing_seconds=proc,
    )
    done = finished_objects(log, object_type, end_steps=end_steps)
    result = result.left_join(done, "object_id")
    result = result.select(
        "object_id",
        "object_type",
        "first_time",
        "last_time",
        "lead_seconds",
        "processing_seconds",
        waiting_seconds=result.lead_seconds - result.processing_seconds,
        flow_efficiency=ibis.ifelse(
            result.lead_seconds > 0,
            result.processing_seconds / result.lead_seconds,
            ibis.null("float64"),
        ),
        finished=result.finished_at.notnull(),
        finished_at=result.finished_at,
    ).order_by("object_id")
    table = utc_times(log.execute(result))
    log_end = log.scalar(log.events.time.max())
    glance, glance_notes = lead_time_at_a_glance(
        table, _utc(log_end) if log_end is not None else None
    )
    notes.extend(glance_notes)
    meta: dict[str, object] = {
        "object_type": object_type,
        "processing_rule": rule if processing is not None else None,
        **glance,
    }
    return View("object_times", table, tuple(notes), meta)


def _seconds(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A duration or float column as float seconds (NaN for nulls)."""
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64)


def kaplan_meier(finished: np.ndarray, still_open: np.ndarray) -> tuple[float | None, float]:
    """The Kaplan–Meier median and restricted mean of lead times (seconds) with the open
    objects right-censored (:func:`scipy.stats.ecdf` over :class:`scipy.stats.CensoredData`).

    ``finished``: lead times of the objects that reached the customer; ``still_open``: how
    long each open object had been in process when the log ended. Returns (median, restricted
    mean): the median is the first time at which the share of objects still in process falls
    to one half or below (None when it never does: fewer than half finished within the longest
    time observed); the restricted mean is the area under that curve from 0 to the longest
    time observed (finished or open), the mean lead time if nothing took longer than that."""
    # scipy is imported here, not with the module: scipy.stats takes a second or more to
    # import, and most commands never need it
    from scipy import stats  # type: ignore[import-untyped]

    data = stats.CensoredData(uncensored=finished, right=still_open)
    sf = stats.ecdf(data).sf
    times = np.asarray(sf.quantiles, dtype=np.float64)
    share = np.asarray(sf.probabilities, dtype=np.float64)
    reached = np.flatnonzero(share <= 0.5 + 1e-12)
    median = float(times[reached[0]]) if len(reached) else None
    horizon = float(max(np.max(finished, initial=0.0), np.max(still_open, initial=0.0)))
    # the survival curve is 1 before the first time and share[i] from times[i] to times[i+1]
    edges = np.concatenate(([0.0], times, [horizon]))
    heights = np.concatenate(([1.0], share))
    widths = np.clip(np.diff(np.minimum(edges, horizon)), 0.0, None)
    return median, float(np.sum(heights * widths))


def lead_time_at_a_glance(
    table: pa.Table, log_end: datetime | None
) -> tuple[dict[str, object], list[str]]:
    """The objects of :func:`object_times` in a few figures, and the notes that go with them.

    * ``objects``, ``finished_objects`` (reached the customer), ``open_objects`` (still in the
      process when the log ends: right-censored);
    * ``finished_lead_seconds_mean`` / ``_median``: the finished objects' lead time, first
      event to the exit (seconds; the median is the middle value, of two their mean);
    * ``km_lead_seconds_median``: the median lead time of *all* objects by Kaplan–Meier, the
      open ones censored at the log's end (``log_end``); ``km_lead_seconds_restricted_mean``:
      the area under the Kaplan–Meier curve up to ``km_horizon_seconds``, the longest time
      observed;
    * ``process_cycle_efficiency``: Σ processing ÷ Σ lead time over the objects whose
      processing is known (0 to 1); ``mean_object_flow_efficiency``: the mean of the objects'
      own ratios (another, smaller-weighted figure); ``processing_seconds_mean``;
    * deprecated, kept for readers written before these: ``lead_seconds_median`` and
      ``lead_seconds_mean`` (= the finished objects' figures) and ``flow_efficiency_mean``
      (= ``mean_object_flow_efficiency``).

    A figure no object supports is None, with a note saying what it needs."""
    notes: list[str] = []
    n = table.num_rows
    first = table.column("first_time")
    finished_mask = np.asarray(
        table.column("finished").fill_null(False).to_numpy(zero_copy_only=False), dtype=bool
    )
    finished_at = table.column("finished_at")
    to_exit = _seconds(pc.subtract(finished_at, first).cast(pa.duration("us"))) / 1e6
    done = to_exit[finished_mask]
    open_n = int(n - finished_mask.sum())

    fin_mean = float(np.mean(done)) if len(done) else None
    fin_median = float(np.median(done)) if len(done) else None
    if n and not len(done):
        notes.append(
            "lead time of finished objects not measurable — needs objects whose path reached "
            "the customer (a sale, a shipment outside the network, a declared end step)"
        )

    km_median: float | None = None
    km_mean: float | None = None
    horizon: float | None = None
    if n and log_end is not None:
        end = pa.scalar(log_end, pa.timestamp("us", tz="UTC"))
        since = pc.subtract(end, first.cast(pa.timestamp("us", tz="UTC")))
        censored = (_seconds(since.cast(pa.duration("us"))) / 1e6)[~finished_mask]
        if len(done):
            km_median, km_mean = kaplan_meier(done, censored)
            horizon = float(max(np.max(done, initial=0.0), np.max(censored, initial=0.0)))
            if km_median is None:
                notes.append(
                    "Kaplan–Meier median lead time not measurable — needs more than half of "
                    "the objects to reach the customer within the longest time observed"
                )
        else:
            notes.append(
                "Kaplan–Meier lead time not measurable — needs at least one finished object"
            )
    if n:
        notes.append(
            f"lead time: {n - open_n:,} of {n:,} objects reached the customer; {open_n:,} "
            "still open when the log ends are right-censored: the Kaplan–Meier (1958) median "
            "and restricted mean count each as still in process at the log's end instead of "
            "as finished at its last event"
            + (
                f" (restricted mean: the area under the curve up to the longest time observed, "
                f"{duration(horizon)}; a longer lead time beyond it is not counted)"
                if horizon is not None
                else ""
            )
        )

    processing = _seconds(table.column("processing_seconds"))
    lead = _seconds(table.column("lead_seconds"))
    known = ~np.isnan(processing)
    pce: float | None = None
    if known.any() and float(lead[known].sum()) > 0:
        pce = float(processing[known].sum() / lead[known].sum())
        notes.append(
            "process cycle efficiency = Σ processing ÷ Σ lead time over the objects "
            f"({pce:.2%}); the mean of the objects' own ratios "
            "(mean_object_flow_efficiency) weighs a one-hour object like a one-month one"
        )
    efficiency = _seconds(table.column("flow_efficiency"))
    efficiency = efficiency[~np.isnan(efficiency)]
    mean_eff = float(np.mean(efficiency)) if len(efficiency) else None
    return {
        "objects": n,
        "finished_objects": n - open_n,
        "open_objects": open_n,
        "finished_lead_seconds_mean": fin_mean,
        "finished_lead_seconds_median": fin_median,
        "km_lead_seconds_median": km_median,
        "km_lead_seconds_restricted_mean": km_mean,
        "km_horizon_seconds": horizon,
        "process_cycle_efficiency": pce,
        "mean_object_flow_efficiency": mean_eff,
        "processing_seconds_mean": float(np.mean(processing[known])) if known.any() else None,
        # deprecated aliases (text.py, before it reads the names above)
        "lead_seconds_median": fin_median,
        "lead_seconds_mean": fin_mean,
        "flow_efficiency_mean": mean_eff,
    }, notes


# --- step_stats -----------------------------------------------------------------------------------


def _utc(value: datetime | str) -> datetime:
    t = datetime.fromisoformat(value) if isinstance(value, str) else value
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _resources(log: Log) -> ir.Table:
    """``event_id, resource``: the ``org:resource`` event attribute, else a related object of
    type ``resource``."""
    attr = log.event_attribute("org:resource").select("event_id", by_attr="value")
    attr = attr.group_by("event_id").agg(by_attr=attr.by_attr.min())
    o = log.objects.filter(log.objects.object_type.lower() == "resource")
    rel = log.relations.join(o, "object_id")
    rel = rel.group_by("event_id").agg(by_obj=rel.object_id.min())
    both = attr.outer_join(rel, "event_id")
    return both.select(
        event_id=both.event_id.fill_null(both.event_id_right),
        resource=both.by_attr.fill_null(both.by_obj),
    )


def step_stats(
    log: Log,
    object_type: str,
    window: tuple[datetime | str, datetime | str] | None = None,
    *,
    visit_table: ir.Table | None = None,
    calendar: Calendar | None = None,
) -> View:
    """The flow through each step (activity) for objects of ``object_type``, over the observed
    span (first to last event of the type) or over ``window`` = (start, end).

    Columns, one row per step: ``activity``; ``arrivals`` (visits arriving at the step in the
    span) and ``objects`` (distinct objects reaching it); ``completions`` (visits leaving it in
    the span); ``first_visits`` (of those, the visits that start an object's life in the log or
    at a company: no measurable time in step); ``throughput_per_day`` (completions per day);
    ``mean_wip`` (time-average number of objects in the step, objects);
    ``mean_seconds_in_step`` and ``mean_wait_before_seconds`` (seconds, over the visits
    completed in the span that are not first visits; null, with a note, where every visit is
    one); ``mean_work_seconds`` (start to complete, where paired); ``resources`` and
    ``utilisation`` (0 to 1: time the step's resources spent working on it ÷ (resources ×
    available time of ``calendar`` over the span); only with start/complete pairs and known
    resources, else null). "In the step" is defined in the module docstring.

    ``calendar``: the node's working time (:class:`~keiretsu.analytics.calendar.Calendar`;
    24/7 when none is given — the notes and ``meta["calendar"]`` say which).
    ``visit_table``: :func:`visits` of the type already at hand (e.g. cached by the morning
    report for the views that share it)."""
    log.require("object type", object_type, where="object_type")
    cal = calendar if calendar is not None else Calendar.always()
    v = visits(log, object_type) if visit_table is None else visit_table
    if window is not None:
        lo, hi = (_utc(window[0]), _utc(window[1]))
        if hi <= lo:
            raise ValueError(f"window ends ({hi}) before it starts ({lo})")
        span = ibis.memtable({"k": [1]}).select(t0=ibis.literal(lo), t1=ibis.literal(hi))
        t0: datetime | None = lo
        t1: datetime | None = hi
    else:
        oe = object_events(log, object_type)
        span = oe.aggregate(t0=oe.time.min(), t1=oe.time.max())
        ends = log.execute(span).to_pylist()[0]
        t0 = _utc(ends["t0"]) if ends["t0"] is not None else None
        t1 = _utc(ends["t1"]) if ends["t1"] is not None else None
        if t0 is not None and t1 is not None:
            span = ibis.memtable({"k": [1]}).select(t0=ibis.literal(t0), t1=ibis.literal(t1))
    available = cal.available_seconds(t0, t1) if t0 is not None and t1 is not None else 0.0
    span = span.mutate(span_seconds=seconds_between(span.t0, span.t1))
    s = v.cross_join(span)
    inside_leave = (s.leave >= s.t0) & (s.leave <= s.t1)
    inside_arrive = (s.arrive >= s.t0) & (s.arrive <= s.t1)
    overlap = seconds_between(ibis.greatest(s.arrive, s.t0), ibis.least(s.leave, s.t1))
    s = s.mutate(
        inside_leave=inside_leave,
        inside_arrive=inside_arrive,
        overlap=ibis.greatest(overlap, 0.0),
    )
    done = s.inside_leave
    per_step = s.group_by("activity").agg(
        arrivals=s.inside_arrive.cast("int64").sum(),
        objects=s.object_id.nunique(where=s.inside_arrive | s.inside_leave),
        completions=done.cast("int64").sum(),
        first_visits=(done & s.first_visit).cast("int64").sum(),
        time_in_span=s.overlap.sum(),
        mean_seconds_in_step=s.seconds_in_step.mean(where=done),
        mean_wait_before_seconds=s.wait_before_seconds.mean(where=done),
        mean_work_seconds=s.work_seconds.mean(where=done),
        span_seconds=s.span_seconds.max(),
    )
    days = per_step.span_seconds / _DAY
    positive = per_step.span_seconds > 0
    t = per_step.select(
        "activity",
        "arrivals",
        "objects",
        "completions",
        "first_visits",
        throughput_per_day=ibis.ifelse(positive, per_step.completions / days, ibis.null("float64")),
        mean_wip=ibis.ifelse(
            positive, per_step.time_in_span / per_step.span_seconds, ibis.null("float64")
        ),
        mean_seconds_in_step="mean_seconds_in_step",
        mean_wait_before_seconds="mean_wait_before_seconds",
        mean_work_seconds="mean_work_seconds",
    )
    table = log.execute(t.order_by("activity"))
    resources, utilisation = _utilisation(log, v, span, cal, available, table)
    table = table.append_column("resources", resources).append_column("utilisation", utilisation)
    notes = [
        "an object is in a step from leaving its previous step (its previous step-ending "
        "event) until the step's own ending event (its complete, or the event itself)",
        "first visits (an object's first step-ending event in the log, or its first one "
        "recorded by a company) count as arrivals and visits but not in time in step or wait: "
        "the object was there before the log begins or came from another company",
    ]
    for row in table.select(["activity", "completions", "first_visits"]).to_pylist():
        if row["completions"] and row["first_visits"] == row["completions"]:
            notes.append(
                f"{row['activity']}: time in step and wait {NOT_MEASURABLE_FIRST} (every visit "
                "is an object's first)"
            )
    paired = pc_any_valid(table.column("mean_work_seconds"))
    if paired:
        notes.append(
            "wait before a step: from leaving the previous step to the step's paired start "
            "event; work: start to complete"
        )
    else:
        notes.append(
            "wait before a step: the whole time in step — with one timestamp per step the "
            "events cannot tell queueing from working"
        )
    if pc_any_valid(table.column("utilisation")):
        notes.append(
            "utilisation: time the step's resources spent between start and complete events "
            "of the step ÷ (resources × available time over the span on the calendar); work "
            "recorded outside the calendar's hours counts as busy, so a figure above 1 says "
            "the calendar is short of the hours worked"
        )
    else:
        notes.append(
            "utilisation not measurable: busy time needs start/complete events with the "
            "resource that did the work (org:resource or a related resource object); a single "
            "timestamp per step says when work ended, not how long it took"
        )
    notes.append(cal.label())
    meta: dict[str, object] = {"object_type": object_type, "calendar": cal.label()}
    if window is not None:
        meta["window"] = [str(_utc(window[0])), str(_utc(window[1]))]
    return View("step_stats", table, tuple(notes), meta)


def _utilisation(
    log: Log,
    v: ir.Table,
    span: ir.Table,
    calendar: Calendar,
    available: float,
    steps: pa.Table,
) -> tuple[pa.Array, pa.Array]:
    """``resources`` (int64) and ``utilisation`` (float64) in the order of ``steps``'
    activities: the resources' start-to-complete intervals at the step, clipped to the span,
    one resource's overlaps counted once, over (resources × ``available`` seconds)."""
    work = v.filter(v.start_time.notnull()).join(_resources(log), "event_id")
    work = work.cross_join(span)
    work = work.select(
        "activity",
        "resource",
        start_time=ibis.greatest(work.start_time, work.t0),
        end_time=ibis.least(work.leave, work.t1),
    )
    work = work.filter(work.end_time > work.start_time)
    busy = merged_seconds(work, ["activity", "resource"])
    util = busy.group_by("activity").agg(
        resources=busy.resource.nunique(), busy_seconds=busy.covered_seconds.sum()
    )
    found = {r["activity"]: r for r in log.execute(util).to_pylist()}
    resources: list[int | None] = []
    share: list[float | None] = []
    for activity in steps.column("activity").to_pylist():
        r = found.get(activity)
        n = int(r["resources"]) if r is not None and r["resources"] else 0
        resources.append(n or None)
        share.append(
            float(r["busy_seconds"]) / (n * available)
            if r is not None and n and available > 0
            else None
        )
    return pa.array(resources, pa.int64()), pa.array(share, pa.float64())


def utc_times(table: pa.Table) -> pa.Table:
    """Time columns as UTC microseconds whatever the engine handed back (Spark gives naive
    UTC times)."""
    for i, f in enumerate(table.schema):
        if pa.types.is_timestamp(f.type):
            column = table.column(i)
            if f.type.tz is None:
                column = pc.assume_timezone(column.cast(pa.timestamp("us")), "UTC")
            table = table.set_column(i, f.name, column.cast(pa.timestamp("us", tz="UTC")))
    return table


def pc_any_valid(column: pa.ChunkedArray) -> bool:
    """Whether an Arrow column holds any non-null value."""
    return bool(column.null_count < len(column))


# --- wip_over_time --------------------------------------------------------------------------------


@dataclass(frozen=True)
class WipSeries:
    """WIP per bucket for one group (numpy arrays, bucket index from the Monday origin)."""

    bucket: np.ndarray
    arrivals: np.ndarray
    departures: np.ndarray
    wip_end: np.ndarray
    mean_wip: np.ndarray


def bucket_counts(log: Log, intervals: ir.Table, freq: timedelta, by: list[str]) -> pa.Table:
    """Per group ``by`` and time bucket: arrivals, departures, the microseconds of presence
    falling in the bucket from intervals that start or end in it (``part_us``), and the change in
    the number of intervals covering whole buckets (``cover_delta``). Intervals are ``arrive``
    to ``leave``; one query, a few rows per bucket."""
    f = int(freq.total_seconds() * 1_000_000)
    # microseconds from the origin as integers (a calendar DATE_DIFF is far slower)
    origin_us = int((_ORIGIN - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()) * 1_000_000
    xa = epoch_micros(intervals.arrive) - origin_us
    xl = epoch_micros(intervals.leave) - origin_us
    t = intervals.select(*by, xa=xa, xl=xl)
    t = t.mutate(ia=(t.xa // f).cast("int64"), il=(t.xl // f).cast("int64"))
    first_part = ibis.least(t.xl, (t.ia + 1) * f) - t.xa
    a = t.select(*by, b=t.ia, arr=1, dep=0, part_us=first_part, cover=(t.il > t.ia).cast("int64"))
    d = t.select(
        *by,
        b=t.il,
        arr=0,
        dep=1,
        part_us=ibis.ifelse(t.il > t.ia, t.xl - t.il * f, 0),
        cover=-(t.il > t.ia).cast("int64"),
    )
    # cover: +1 in the bucket after the arrival's, -1 in the departure's bucket (shifted below)
    u = a.union(d)
    g = u.group_by([*by, "b"]).agg(
        arrivals=u.arr.sum(),
        departures=u.dep.sum(),
        part_us=u.part_us.sum(),
        cover_start=u.cover.sum(where=u.arr == 1),
        cover_end=u.cover.sum(where=u.dep == 1),
    )
    return log.execute(g.order_by([*by, "b"]))


def wip_series(
    rows: pa.Table, freq: timedelta, lo: int | None = None, hi: int | None = None
) -> WipSeries:
    """Fill the buckets of one group's :func:`bucket_counts` rows into a continuous series."""
    b = np.asarray(rows.column("b").to_numpy(zero_copy_only=False), dtype=np.int64)
    first = int(b.min()) if lo is None else lo
    last = int(b.max()) if hi is None else hi
    n = last - first + 1
    idx = b - first
    keep = (idx >= 0) & (idx < n)

    def filled(name: str) -> np.ndarray:
        col = rows.column(name).to_numpy(zero_copy_only=False)
        out = np.zeros(n, dtype=np.float64)
        np.add.at(out, idx[keep], np.nan_to_num(np.asarray(col, dtype=np.float64))[keep])
        return out

    arrivals, departures = filled("arrivals"), filled("departures")
    part = filled("part_us")
    # an interval arriving in bucket i and leaving in bucket j > i covers buckets i+1..j-1 whole
    start_cover = filled("cover_start")
    end_cover = filled("cover_end")  # negative counts, in the departure bucket
    delta = np.zeros(n + 1)
    delta[1:] += start_cover
    delta[:n] += end_cover
    cover = np.cumsum(delta[:n])
    f_us = freq.total_seconds() * 1_000_000
    wip_end = np.cumsum(arrivals - departures)
    mean = (part + cover * f_us) / f_us
    return WipSeries(np.arange(first, last + 1), arrivals, departures, wip_end, mean)


def _bucket_times(bucket: np.ndarray, freq: timedelta) -> pa.Array:
    origin_us = int(_ORIGIN.timestamp() * 1_000_000)
    f_us = int(freq.total_seconds() * 1_000_000)
    return pa.array(origin_us + bucket * f_us, pa.timestamp("us", tz="UTC"))


def process_intervals(log: Log, object_type: str) -> ir.Table:
    """``object_id, arrive, leave``: each object of the type from its first to its last event."""
    oe = object_events(log, object_type)
    return oe.group_by("object_id").agg(arrive=oe.time.min(), leave=oe.time.max())


def wip_over_time(
    log: Log, object_type: str, step: str | None = None, freq: str | timedelta = "1 day"
) -> View:
    """Work in progress as a time series: objects of ``object_type`` in process (first to last
    event) or, with ``step``, in that step (see the module docstring), per bucket of ``freq``
    (UTC calendar days by default; weeks start on Monday).

    Columns: ``bucket_start, bucket_end`` (UTC), ``arrivals`` and ``departures`` in the bucket,
    ``wip_end`` (objects in process at the bucket's end: arrived before it, not yet left) and
    ``mean_wip`` (time-average over the bucket, objects)."""
    length = parse_freq(freq)
    if step is None:
        intervals = process_intervals(log, object_type)
        what = f"{object_type} objects in process, from their first to their last event"
    else:
        v = visits(log, object_type)
        intervals = v.filter(v.activity == step).select("object_id", "arrive", "leave")
        what = f"{object_type} objects in step {step!r}, from leaving their previous step"
    rows = bucket_counts(log, intervals, length, [])
    notes = [what, f"buckets of {length} from {_ORIGIN.date()} (a Monday), UTC"]
    if rows.num_rows == 0:
        empty = pa.table(
            {
                "bucket_start": pa.array([], pa.timestamp("us", tz="UTC")),
                "bucket_end": pa.array([], pa.timestamp("us", tz="UTC")),
                "arrivals": pa.array([], pa.int64()),
                "departures": pa.array([], pa.int64()),
                "wip_end": pa.array([], pa.int64()),
                "mean_wip": pa.array([], pa.float64()),
            }
        )
        return View(
            "wip_over_time", empty, (*notes, "no objects: no WIP"), {"object_type": object_type}
        )
    s = wip_series(rows, length)
    table = pa.table(
        {
            "bucket_start": _bucket_times(s.bucket, length),
            "bucket_end": _bucket_times(s.bucket + 1, length),
            "arrivals": pa.array(s.arrivals.astype(np.int64)),
            "departures": pa.array(s.departures.astype(np.int64)),
            "wip_end": pa.array(s.wip_end.astype(np.int64)),
            "mean_wip": pa.array(s.mean_wip),
        }
    )
    meta: dict[str, object] = {"object_type": object_type, "freq_seconds": length.total_seconds()}
    if step is not None:
        meta["step"] = step
    return View("wip_over_time", table, tuple(notes), meta)
