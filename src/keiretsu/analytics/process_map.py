"""Process maps: how work actually flows, step to step, per kind of object.

A *directly-follows graph* (DFG) draws an arrow from one step to the next each time an object —
an order, a lot, a pallet, a case — went straight from the one to the other. The arrow carries
how often that happened (transitions, and the distinct objects that made them) and how long the
object took between the two steps (mean, median, p90, min, max, in seconds). Together with where
objects start and end, and the *variants* (the distinct step sequences, with how many objects
followed each), it is the first picture an operations engineer draws of a value stream.

Object-centric logs are flattened per object type (see :mod:`keiretsu.analytics.traces`): one
object's trace is every event related to it, once each, in time order, ties at one instant in
the order the source listed them. The *object-centric* DFG (:func:`ocdfg`) is the union of the
per-type maps, each arrow labelled with its object type, plus the activities with their event
and object counts — the same counts as pm4py's OC-DFG.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from keiretsu.analytics.log import Log
from keiretsu.analytics.traces import (
    object_events,
    seconds_between,
    stored_passes,
    transitions,
    variant_counts,
)
from keiretsu.analytics.view import View

__all__ = ["ProcessMap", "dfg", "ocdfg", "start_end_activities", "variants"]

VARIANT_SEPARATOR = " → "

_FLATTENING = (
    "flattened per object type: an object's trace is every event related to it (once, whatever "
    "the qualifier), in time order; events at one instant in the order the source listed them"
)
_DURATIONS = (
    "durations: seconds from an event to the next event of the same object (not business "
    "hours); median and p90 are exact, interpolated linearly between the two nearest values"
)


@dataclass(frozen=True)
class ProcessMap:
    """The object-centric process map: three views of one log.

    - ``edges``: the arrows, one row per object type and pair of steps (see :func:`ocdfg`);
    - ``activities``: each step with its events and objects, overall and per object type;
    - ``start_end``: per object type, the steps objects start and end at."""

    edges: View
    activities: View
    start_end: View

    def views(self) -> tuple[View, View, View]:
        """The three views, in the order a report shows them."""
        return (self.edges, self.activities, self.start_end)


def _types(object_types: str | Sequence[str] | None) -> list[str] | None:
    if object_types is None:
        return None
    return [object_types] if isinstance(object_types, str) else list(object_types)


def _trace_steps(log: Log, object_types: list[str] | None) -> ir.Table:
    """Each object's trace with each event's successor (``position``, ``next_event_id``,
    ``next_activity``, ``next_time``, ``next_seq``; null after the last event).

    Read from the store's trace table where the log has one (kept up to date on ingest),
    else computed from the events with a window over each object's trace."""
    steps: ir.Table | None = getattr(log, "steps", None)
    if steps is None:
        return transitions(object_events(log, object_types))
    if object_types is not None:
        steps = steps.filter(steps.object_type.isin(object_types))
    return steps


def _moves(log: Log, object_types: list[str] | None) -> ir.Table:
    """Every object transition (an event and the next event of the same object):
    ``object_type, object_id, activity, next_activity, seq, next_seq, seconds``.

    Events are told apart by their read order ``seq`` (unique per event, an integer) rather
    than their text ids: the last event of a trace is found, and event pairs counted, on
    integers, which DuckDB reads and groups several times faster than text."""
    steps = _trace_steps(log, object_types)
    moves = steps.filter(steps.next_seq.notnull())
    return moves.select(
        "object_type",
        "object_id",
        "activity",
        "next_activity",
        "seq",
        "next_seq",
        seconds=seconds_between(moves.time, moves.next_time),
    )


def _edge_table(log: Log, object_types: list[str] | None, *, event_pairs: bool) -> ir.Table:
    """Edges per object type with frequency, distinct objects and duration statistics."""
    moves = _moves(log, object_types)
    secs = moves.seconds
    keys = ["object_type", "activity", "next_activity"]
    metrics: dict[str, ir.Value] = {
        "frequency": moves.count(),
    }
    if event_pairs:
        # two objects of one type moving together from one event to the same next event
        # make one event pair (pm4py's "event couples"); events told by their integer seq
        pair = ibis.struct({"seq": moves.seq, "next_seq": moves.next_seq})
        metrics["event_pairs"] = pair.nunique()
    metrics |= {
        "objects": moves.object_id.nunique(),
        "mean_seconds": secs.mean(),
        # both quantiles from one sort of each edge's durations
        "quantiles": secs.quantile([0.5, 0.9]),
        "min_seconds": secs.min(),
        "max_seconds": secs.max(),
    }
    agg = moves.group_by(keys).agg(**metrics)
    columns = [c for c in agg.columns if c not in ("quantiles", "min_seconds", "max_seconds")]
    shaped = agg.select(
        *columns,
        median_seconds=agg.quantiles[0],
        p90_seconds=agg.quantiles[1],
        min_seconds=agg.min_seconds,
        max_seconds=agg.max_seconds,
    )
    return shaped.order_by(keys)


def dfg(log: Log, object_type: str) -> View:
    """The directly-follows graph of one object type (e.g. ``"case"`` for an XES log, or
    ``"order"``): one row per pair of steps an object of that type went straight between.

    Columns: ``object_type``, ``activity`` (from), ``next_activity`` (to), ``frequency``
    (transitions), ``objects`` (distinct objects making them), ``mean_seconds``,
    ``median_seconds``, ``p90_seconds``, ``min_seconds``, ``max_seconds`` (time between the two
    events, seconds). Counts and durations equal pm4py's ``discover_dfg`` and
    ``discover_performance_dfg`` on the flattened log."""
    log.require("object type", object_type, where="object_type")
    table = log.execute(_edge_table(log, [object_type], event_pairs=False))
    table = _cast_counts(table, ("frequency", "objects"))
    return View(
        "dfg",
        table,
        notes=(
            f"object type {object_type!r}, " + _FLATTENING,
            "frequency: transitions; objects: distinct objects making them",
            _DURATIONS,
        ),
        meta={"object_type": object_type},
    )


def _start_end_table(log: Log, object_types: list[str] | None) -> ir.Table:
    steps = _trace_steps(log, object_types)
    ends = steps.filter((steps.position == 0) | steps.next_seq.isnull())
    # per event first (grouped on the integer seq; its step follows from it): how many objects
    # of the type it starts and ends; an event starting any is one start event
    per_event = ends.group_by(["object_type", "seq"]).agg(
        activity=ends.activity.arbitrary(),
        starts=(ends.position == 0).sum(),
        ends=ends.next_seq.isnull().sum(),
    )
    return (
        per_event.group_by(["object_type", "activity"])
        .agg(
            starts=per_event.starts.sum(),
            ends=per_event.ends.sum(),
            start_events=(per_event.starts > 0).sum(),
            end_events=(per_event.ends > 0).sum(),
        )
        .order_by(["object_type", "activity"])
    )


def start_end_activities(log: Log, object_type: str | Sequence[str] | None = None) -> View:
    """Where objects enter and leave the process: per object type and step, ``starts`` (objects
    whose first event is that step), ``ends`` (objects whose last event is), ``start_events``
    and ``end_events`` (distinct events doing so: one event can start several objects — a
    purchase order created with its five lines). Steps neither start nor end anything are left
    out. ``object_type``: one type, several, or every type (``None``)."""
    log.require("object type", object_type, where="object_type")
    types = _types(object_type)
    table = log.execute(_start_end_table(log, types))
    table = _cast_counts(table, ("starts", "ends", "start_events", "end_events"))
    return View(
        "start_end_activities",
        table,
        notes=(_FLATTENING,),
        meta={"object_types": types} if types else {},
    )


def variants(log: Log, object_type: str) -> View:
    """The variants of one object type: each distinct sequence of steps, with ``frequency``
    (objects that followed it) and ``share`` (of the objects of that type that have events,
    0–1), most frequent first (ties by the text). ``variant`` is the sequence as a list and
    ``variant_text`` the same joined by " → "; ``steps`` is its length."""
    log.require("object type", object_type, where="object_type")
    counted = variant_counts(_trace_steps(log, [object_type])).rename(frequency="n")
    counted = counted.mutate(
        variant_text=counted.variant.join(VARIANT_SEPARATOR),
        steps=counted.variant.length(),
    )
    table = log.execute(counted.order_by([ibis.desc("frequency"), "variant_text"]))
    total = pc.sum(table.column("frequency")).as_py() or 0
    share = pc.divide(pc.cast(table.column("frequency"), pa.float64()), float(total or 1))
    table = pa.table(
        {
            "object_type": pa.array([object_type] * table.num_rows, pa.string()),
            "variant": table.column("variant"),
            "variant_text": table.column("variant_text"),
            "steps": pc.cast(table.column("steps"), pa.int64()),
            "frequency": pc.cast(table.column("frequency"), pa.int64()),
            "share": share,
        }
    )
    return View(
        "variants",
        table,
        notes=(f"object type {object_type!r}, " + _FLATTENING,),
        meta={"object_type": object_type, "objects": int(total)},
    )


def _activities_table(log: Log, object_types: list[str] | None) -> ir.Table:
    oe = _trace_steps(log, object_types)
    if stored_passes(log):
        # an object's first pass of a step is counted once per object: no distinct text ids
        objects: ir.IntegerValue = (oe.pass_index == 0).cast("int64").sum()
    else:
        objects = oe.object_id.nunique()
    per_type = oe.group_by(["object_type", "activity"]).agg(
        events=oe.seq.nunique(),  # seq: one per event, an integer
        objects=objects,
        object_events=oe.count(),
    )
    # an object has one type, so all types' objects and links are the sums of the per-type
    # ones; only the events (one event touches objects of several types) need counting again
    sums = per_type.group_by("activity").agg(
        objects=per_type.objects.sum(), object_events=per_type.object_events.sum()
    )
    events = oe.group_by("activity").agg(events=oe.seq.nunique())
    overall = events.join(sums, "activity").mutate(object_type=ibis.null("string"))
    per_type = per_type.mutate(object_type=per_type.object_type.cast(dt.String(nullable=True)))
    overall = overall.select(**{c: overall[c].cast(per_type[c].type()) for c in per_type.columns})
    both = per_type.union(overall)
    return both.order_by([both.object_type.isnull().desc(), "object_type", "activity"])


def ocdfg(log: Log, object_types: str | Sequence[str] | None = None) -> ProcessMap:
    """The object-centric directly-follows graph (OC-DFG): the per-type DFGs of every object
    type (or of ``object_types``) drawn on one map.

    ``edges``: ``object_type``, ``activity``, ``next_activity``, ``frequency`` (object
    transitions: pm4py's "total objects"), ``event_pairs`` (distinct pairs of events: pm4py's
    "event couples" — two items moving together from one event to the next count once),
    ``objects`` (distinct objects), and the seconds between the two events per object transition
    (``mean_seconds`` … ``max_seconds``).

    ``activities``: per step, ``events`` (distinct events), ``objects`` (distinct objects
    related), ``object_events`` (event–object links), on rows with ``object_type`` null for
    all types together and one row per type and step.

    ``start_end``: :func:`start_end_activities` of those object types."""
    log.require("object type", object_types, where="object_types")
    types = _types(object_types)
    edges = log.execute(_edge_table(log, types, event_pairs=True))
    activities = log.execute(_activities_table(log, types))
    activities = _cast_counts(activities, ("events", "objects", "object_events"))
    notes = (_FLATTENING,)
    meta = {"object_types": types} if types else {}
    return ProcessMap(
        edges=View(
            "ocdfg_edges",
            _cast_counts(edges, ("frequency", "event_pairs", "objects")),
            notes=(
                *notes,
                "frequency: object transitions; event_pairs: distinct (event, next event) "
                "pairs; objects: distinct objects",
                _DURATIONS + " (one value per object transition)",
            ),
            meta=meta,
        ),
        activities=View(
            "ocdfg_activities",
            activities,
            notes=(
                "object_type null: every object type together",
                "events: distinct events; objects: distinct objects; object_events: "
                "event-object links",
            ),
            meta=meta,
        ),
        start_end=start_end_activities(log, types),
    )


def _cast_counts(table: pa.Table, columns: Sequence[str]) -> pa.Table:
    """Counts as int64 on every engine (Spark hands some back as int32 or decimals)."""
    for name in columns:
        i = table.column_names.index(name)
        table = table.set_column(i, name, pc.cast(table.column(name), pa.int64()))
    return table
