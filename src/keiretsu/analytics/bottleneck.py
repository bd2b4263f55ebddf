"""The constraint, by Factory Physics: the step that sets the pace of the value stream.

Hopp & Spearman (*Factory Physics*, 3rd ed., ch. 7 "Basic Factory Dynamics") call the
**bottleneck** the station with the highest long-run **utilisation** — the share of its
available time it spends working. A queue in front of a step is not a bottleneck by itself (a
batch policy, a transport or a customer who has not yet pulled make queues too), so the
ranking here rests on utilisation only, measured by the first rule the data allows (the view
says which, in ``rule``, its notes and ``meta["rule"]``):

1. **start/complete** work intervals (XES ``lifecycle:transition``): busy time = the time the
   step's resources spent between a start and its complete (overlaps of one resource counted
   once), on the node's working :class:`~keiretsu.analytics.calendar.Calendar`; utilisation =
   busy time ÷ (available time over the span × parallel resources — the distinct resources
   that did the step, events without one counted as one unnamed resource);
2. **value-adding process time** (steps the user marks value-adding, one timestamp per step):
   busy time = the time from the object's previous step to each value-adding event, merged per
   resource as above;
3. **t_e vs takt** (neither): a step with one timestamp per visit cannot tell working from
   queueing, so it is taken as one work-conserving server — busy whenever it holds an object.
   Its t_e is that busy time ÷ completions (an upper bound: queue and transport are inside it),
   set against the customer's takt (:func:`keiretsu.analytics.customer.customer_demand`); the
   constraint is the step whose t_e comes closest to takt.

**Finished goods are not a bottleneck.** The wait before an exit step at which the customer
pulls the goods (sold, shipped outside the network, a declared end step:
:func:`keiretsu.analytics.customer.exits`) is finished-goods inventory waiting for demand; such
a step is listed as ``kind = "finished goods"``, after the process steps, and never named the
constraint.

:func:`factory_physics` places the whole stream against Factory Physics' three reference cases
(best case, practical worst case, worst case) with the constraint's rate and the raw process
time. ``docs/analytics/constraints.md`` has every formula.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from keiretsu.analytics.calendar import Calendar
from keiretsu.analytics.customer import customer_demand, exits, finished_objects
from keiretsu.analytics.durations import duration
from keiretsu.analytics.flow import _resources, visits
from keiretsu.analytics.log import Log
from keiretsu.analytics.traces import object_events
from keiretsu.analytics.view import View

__all__ = ["FINISHED_GOODS_RULES", "bottlenecks", "describe_seconds", "factory_physics"]

FINISHED_GOODS_RULES = ("sold", "shipped outside the network", "declared end step")
"""Exit rules (:func:`keiretsu.analytics.customer.exits`) at which the customer pulls the goods:
the wait before such an exit is finished-goods inventory."""

_DAY = 86_400.0
_RULE_LIFECYCLE = "start/complete"
_RULE_VALUE_ADDING = "value-adding process time"
_RULE_TAKT = "t_e vs takt"

_COLUMNS = pa.schema(
    [
        ("rank", pa.int64()),
        ("activity", pa.string()),
        ("kind", pa.string()),
        ("rule", pa.string()),
        ("utilisation", pa.float64()),
        ("busy_seconds", pa.float64()),
        ("resources", pa.int64()),
        ("process_seconds", pa.float64()),
        ("effective_seconds", pa.float64()),
        ("takt_seconds", pa.float64()),
        ("effective_over_takt", pa.float64()),
        ("completions", pa.int64()),
        ("objects", pa.int64()),
        ("throughput_per_day", pa.float64()),
        ("capacity_per_day", pa.float64()),
        ("mean_wait_before_seconds", pa.float64()),
        ("mean_wip", pa.float64()),
        ("score", pa.float64()),
        ("evidence", pa.string()),
    ]
)


def describe_seconds(seconds: float) -> str:
    """A duration the way people say it: ``"45 minutes"``, ``"5.2 hours"``, ``"3.2 days"``
    (:func:`keiretsu.analytics.durations.duration` in words)."""
    return duration(seconds, words=True)


# --- measuring ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Measured:
    """Everything both views read: the steps' rows (unranked), the rule, the span and the
    calendar figures, the takt, and the notes."""

    rows: list[dict[str, object]]
    rule: str | None
    t0: datetime | None
    t1: datetime | None
    available: float
    days: float
    takt: float | None
    notes: list[str]
    marked: ir.Table  # visits with fg_exit (bool)
    calendar: Calendar


def _num(value: object) -> float | None:
    """A row's figure as a float (None when absent)."""
    return float(value) if isinstance(value, int | float) else None


def _f(value: object) -> float:
    """A row's figure as a float, 0 when absent."""
    got = _num(value)
    return 0.0 if got is None else got


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _islands(t: ir.Table, by: list[str]) -> ir.Table:
    """Intervals ``start_time``-``end_time`` per group ``by`` merged into islands (overlaps
    counted once): ``*by, lo, hi``. Equal intervals are taken once first: the two windows
    below must see the rows in one order, which ties would leave to the engine."""
    t = t.select(*by, "start_time", "end_time").distinct()
    order = ["start_time", "end_time"]
    before = ibis.window(group_by=by, order_by=order, rows=(None, -1))
    t = t.mutate(reach=t.end_time.max().over(before))
    t = t.mutate(new=(t.reach.isnull() | (t.start_time > t.reach)).cast("int64"))
    upto = ibis.window(group_by=by, order_by=order, rows=(None, 0))
    t = t.mutate(island=t.new.sum().over(upto))
    return t.group_by([*by, "island"]).agg(lo=t.start_time.min(), hi=t.end_time.max())


def _busy(log: Log, intervals: ir.Table, cal: Calendar) -> dict[str, tuple[float, int, bool]]:
    """Per step: (busy seconds on the calendar, parallel resources, whether some work had no
    named resource), from ``activity, resource, start_time, end_time`` intervals."""
    islands = log.execute(_islands(intervals, ["activity", "resource"]))
    if islands.num_rows == 0:
        return {}
    seconds = cal.available_between(islands.column("lo"), islands.column("hi"))
    acts = islands.column("activity").to_pylist()
    res = islands.column("resource").to_pylist()
    out: dict[str, tuple[float, set[str]]] = {}
    for a, r, s in zip(acts, res, seconds, strict=True):
        total, names = out.setdefault(str(a), (0.0, set()))
        names.add(str(r))
        out[str(a)] = (total + float(s), names)
    return {a: (s, len(names), "" in names) for a, (s, names) in out.items()}


def _takt(
    log: Log, object_type: str, end_steps: Collection[str] | None, cal: Calendar
) -> tuple[float | None, str]:
    """The customer's takt for the stream (seconds of available time per unit) and a note."""
    try:
        demand = customer_demand(log, object_type=object_type, end_steps=end_steps, calendar=cal)
    except ValueError as err:  # pragma: no cover - customer_demand's own refusal
        return None, f"takt not measurable — {err}"
    rows = demand.to_pylist()
    units = {r["unit"] for r in rows}
    if not rows:
        return None, "takt not measurable — needs objects that reach the customer (an exit)"
    if len(units) > 1:
        return None, (
            "takt not measurable for the stream as one — the customers took goods in several "
            f"units ({', '.join(sorted(str(u) for u in units))}); needs one unit"
        )
    quantity = sum(float(r["quantity"]) for r in rows)
    available = rows[0]["available_seconds"]
    if not quantity or not available:
        return None, "takt not measurable — needs demand over a span longer than an instant"
    takt = float(available) / quantity
    return takt, (
        f"takt {describe_seconds(takt)} = available time ÷ {quantity:g} {rows[0]['unit']} the "
        "customers took (customer_demand)"
    )


def _measure(
    log: Log,
    object_type: str,
    *,
    calendar: Calendar | None,
    end_steps: Collection[str] | None,
    value_adding: Collection[str] | None,
    visit_table: ir.Table | None,
) -> _Measured:
    cal = calendar or Calendar.always()
    notes = [cal.label()]
    v = visits(log, object_type) if visit_table is None else visit_table
    x = exits(log, object_type, end_steps=end_steps)
    fg = x.filter(x.rule.isin(list(FINISHED_GOODS_RULES)))
    fg = fg.select("object_id", "event_id", fg_flag=ibis.literal(1)).distinct()
    j = v.left_join(fg, ["object_id", "event_id"])
    marked = j.select(*[j[c] for c in v.columns], fg_exit=j.fg_flag.fill_null(0).cast("int64") == 1)
    oe = object_events(log, object_type)
    span = log.execute(oe.aggregate(t0=oe.time.min(), t1=oe.time.max()))
    t0, t1 = span.column("t0")[0].as_py(), span.column("t1")[0].as_py()
    if t0 is None or t1 is None:
        return _Measured([], None, None, None, 0.0, 0.0, None, notes, marked, cal)
    t0, t1 = _utc(t0), _utc(t1)
    available = cal.available_seconds(t0, t1)
    days = (t1 - t0).total_seconds() / _DAY
    span_seconds = (t1 - t0).total_seconds()

    m = marked
    per = m.group_by("activity").agg(
        completions=m.count(),
        objects=m.object_id.nunique(),
        fg_exits=m.fg_exit.cast("int64").sum(),
        paired=m.start_time.notnull().cast("int64").sum(),
        time_in_step=m.seconds_in_step.sum(),
        mean_wait_before_seconds=m.wait_before_seconds.mean(),
    )
    steps = log.execute(per.order_by("activity")).to_pylist()
    lifecycle = any(int(s["paired"] or 0) > 0 for s in steps)
    marked_steps = set(value_adding or ())

    # busy intervals, by the first rule the data allows
    res = _resources(log)
    if lifecycle:
        rule = _RULE_LIFECYCLE
        w = m.filter(m.start_time.notnull() & ~m.fg_exit)
        w = w.left_join(res, "event_id")
        intervals = w.select(
            "activity",
            resource=w.resource.fill_null(""),
            start_time=w.start_time,
            end_time=w.leave,
        )
        notes.append(
            "utilisation (start/complete): busy time = the step's start-to-complete intervals "
            "on the calendar, overlaps of one resource counted once, ÷ (available time over "
            "the span × the distinct resources that did the step)"
        )
        if marked_steps:
            notes.append("the value-adding steps given were not used: the log has start/complete")
    elif marked_steps:
        rule = _RULE_VALUE_ADDING
        w = m.filter(m.activity.isin(sorted(marked_steps)) & ~m.first_visit & ~m.fg_exit)
        w = w.left_join(res, "event_id")
        intervals = w.select(
            "activity", resource=w.resource.fill_null(""), start_time=w.arrive, end_time=w.leave
        )
        notes.append(
            "utilisation (value-adding process time): busy time = from the object's previous "
            "step to each event of a step marked value-adding ("
            + ", ".join(sorted(marked_steps))
            + "), on the calendar, ÷ (available time × the distinct resources)"
        )
    else:
        rule = _RULE_TAKT
        w = m.filter((m.seconds_in_step > 0) & ~m.fg_exit)
        intervals = w.select(
            "activity", resource=ibis.literal("*"), start_time=w.arrive, end_time=w.leave
        )
        notes.append(
            "t_e vs takt: no start/complete events and no value-adding steps, so each step is "
            "taken as one server busy whenever it holds an object (from leaving the previous "
            "step to its own event) — queue and transport are inside it: utilisation and t_e "
            "are upper bounds; t_e = that busy time ÷ completions (the data box's C/T is the time "
            "between completions)"
        )
    busy = _busy(log, intervals.filter(intervals.end_time > intervals.start_time), cal)
    takt, takt_note = _takt(log, object_type, end_steps, cal)
    notes.append(takt_note)
    unnamed = any(b[2] for b in busy.values()) and rule != _RULE_TAKT
    if unnamed:
        notes.append(
            "some work has no resource (org:resource or a related resource object): it is "
            "counted as one unnamed resource"
        )

    rows: list[dict[str, object]] = []
    per_day = available / days if days > 0 else None
    for s in steps:
        activity = str(s["activity"])
        completions = int(s["completions"])
        is_fg = int(s["fg_exits"] or 0) > 0
        row: dict[str, object] = {
            "activity": activity,
            "kind": "finished goods" if is_fg else "process",
            "rule": None if is_fg else rule,
            "completions": completions,
            "objects": int(s["objects"]),
            "throughput_per_day": completions / days if days > 0 else None,
            "mean_wait_before_seconds": s["mean_wait_before_seconds"],
            "mean_wip": float(s["time_in_step"] or 0.0) / span_seconds if span_seconds else None,
            "utilisation": None,
            "busy_seconds": None,
            "resources": None,
            "process_seconds": None,
            "effective_seconds": None,
            "takt_seconds": takt,
            "effective_over_takt": None,
            "capacity_per_day": None,
        }
        if not is_fg and activity in busy and available > 0:
            seconds, servers, _ = busy[activity]
            worked = int(s["paired"] or 0) if rule == _RULE_LIFECYCLE else completions
            row["busy_seconds"] = seconds
            row["resources"] = servers if rule != _RULE_TAKT else None
            row["utilisation"] = seconds / (available * servers)
            if worked and seconds > 0:
                process = seconds / worked
                row["process_seconds"] = process
                row["effective_seconds"] = process / servers
                if takt:
                    row["effective_over_takt"] = process / servers / takt
                if per_day is not None:
                    row["capacity_per_day"] = servers * per_day / process
        rows.append(row)
    return _Measured(rows, rule, t0, t1, available, days, takt, notes, marked, cal)


def _key(row: dict[str, object], rule: str | None) -> float | None:
    """What ranks a process step: its utilisation, or under t_e vs takt its t_e ÷ takt."""
    if row["kind"] != "process":
        return None
    value = row["effective_over_takt"] if rule == _RULE_TAKT and row["takt_seconds"] else None
    value = value if value is not None else row["utilisation"]
    return _num(value)


def _ranked(measured: _Measured) -> list[dict[str, object]]:
    rows = measured.rows
    for r in rows:
        r["score"] = _key(r, measured.rule)

    def order(r: dict[str, object]) -> tuple[int, float, str]:
        score = r["score"]
        if r["kind"] != "process":
            return (2, 0.0, str(r["activity"]))
        if score is None:
            return (1, 0.0, str(r["activity"]))
        return (0, -_f(score), str(r["activity"]))

    rows = sorted(rows, key=order)
    for i, r in enumerate(rows, start=1):
        r["rank"] = i
    return rows


def _evidence(r: dict[str, object], top: bool, rule: str | None) -> str:
    wait = r["mean_wait_before_seconds"]
    if r["kind"] == "finished goods":
        text = "finished goods waiting for the customer's pull"
        if isinstance(wait, float):
            text += f": {describe_seconds(wait)} on average before the customer takes them"
        return text + " — inventory, not a constraint"
    parts: list[str] = []
    util = r["utilisation"]
    if util is None:
        if rule == _RULE_TAKT:
            parts.append("holds no object for any time (events at one instant)")
        else:
            parts.append(f"utilisation not measurable — needs {_needs(rule)} at this step")
    elif rule == _RULE_TAKT:
        parts.append(f"holds work {_f(util):.1%} of available time (an upper bound)")
    else:
        parts.append(
            f"resources busy {_f(util):.1%} of available time ({r['resources']} in parallel)"
        )
    ct, takt = r["effective_seconds"], r["takt_seconds"]
    if isinstance(ct, float) and isinstance(takt, float):
        parts.append(
            f"busy {describe_seconds(ct)} a unit (t_e) against takt {describe_seconds(takt)}"
        )
    if isinstance(wait, float):
        parts.append(f"waits {describe_seconds(wait)} on average before it")
    text = "; ".join(parts)
    return ("the constraint: " + text) if top else text


def _needs(rule: str | None) -> str:
    if rule == _RULE_LIFECYCLE:
        return "start/complete events"
    if rule == _RULE_VALUE_ADDING:
        return "the step marked value-adding"
    return "events with a duration"


def bottlenecks(
    log: Log,
    object_type: str,
    *,
    stats: View | None = None,
    visit_table: ir.Table | None = None,
    calendar: Calendar | None = None,
    end_steps: Collection[str] | None = None,
    value_adding: Collection[str] | None = None,
) -> View:
    """The steps of ``object_type``'s value stream ranked by load, the constraint first
    (Factory Physics: the bottleneck is the busiest station; see the module docstring).

    One row per step: ``rank`` (1 = the constraint), ``activity``, ``kind`` (``process``, or
    ``finished goods`` for a step at which the customer pulls the goods: its wait is
    finished-goods inventory, ranked last and never the constraint), ``rule`` (how load was
    measured), ``utilisation`` (0-1 of available time; null where not measurable),
    ``busy_seconds`` (s, on the calendar), ``resources`` (parallel resources; null under t_e vs
    takt: one server assumed), ``process_seconds`` (P/T per visit, s), ``effective_seconds`` (t_e,
    Hopp & Spearman's effective process time per unit and resource: P/T ÷ resources, s; not
    the data box's C/T, which is the time between completions), ``takt_seconds`` (the
    customer's takt, s), ``effective_over_takt`` (0-1 and
    beyond: above 1 the step cannot keep up with demand), ``completions`` (visits),
    ``objects``, ``throughput_per_day`` (visits per calendar day), ``capacity_per_day``
    (visits a day the step could finish if busy all its available time),
    ``mean_wait_before_seconds`` (s), ``mean_wip`` (objects in the step, time-average),
    ``score`` (what ranked it: utilisation, or t_e ÷ takt) and ``evidence`` in words.

    ``calendar``: the node's working time (24/7 by default, said in the notes);
    ``end_steps``: the steps at which objects leave to the customer (else read from the log:
    :func:`keiretsu.analytics.customer.exits`); ``value_adding``: steps that are work, for logs
    without start/complete events. ``stats`` is accepted for callers that have the step
    statistics at hand and not needed; ``visit_table`` (the type's
    :func:`~keiretsu.analytics.flow.visits`) saves computing them again."""
    log.require("object type", object_type, where="object_type")
    del stats  # the figures here are measured on available time, not read from step_stats
    measured = _measure(
        log,
        object_type,
        calendar=calendar,
        end_steps=end_steps,
        value_adding=value_adding,
        visit_table=visit_table,
    )
    notes = list(measured.notes)
    meta: dict[str, object] = {
        "object_type": object_type,
        "rule": measured.rule,
        "calendar": measured.calendar.label(),
        "takt_seconds": measured.takt,
        "constraint": None,
    }
    if not measured.rows:
        return View(
            "bottlenecks", _COLUMNS.empty_table(), (*notes, f"no {object_type} objects"), meta
        )
    rows = _ranked(measured)
    top = rows[0] if rows[0]["kind"] == "process" and rows[0]["score"] else None
    for r in rows:
        r["evidence"] = _evidence(r, r is top, measured.rule)
    if top is not None:
        meta["constraint"] = top["activity"]
    else:
        notes.append("no constraint named: no process step has a measurable load")
    fg = [str(r["activity"]) for r in rows if r["kind"] == "finished goods"]
    if fg:
        notes.append(
            "finished goods: the wait before "
            + ", ".join(fg)
            + " is goods waiting for the customer's pull (an exit: sold, shipped outside the "
            "network or a declared end step) — inventory, listed last, not a constraint"
        )
    table = pa.Table.from_pylist(rows, _COLUMNS)
    return View("bottlenecks", table, tuple(notes), meta)


# --- the stream against Factory Physics' reference cases ----------------------------------------

_FP_COLUMNS = pa.schema(
    [
        ("constraint", pa.string()),
        ("rule", pa.string()),
        ("bottleneck_rate_per_day", pa.float64()),
        ("raw_process_seconds", pa.float64()),
        ("critical_wip", pa.float64()),
        ("wip", pa.float64()),
        ("throughput_per_day", pa.float64()),
        ("best_case_per_day", pa.float64()),
        ("practical_worst_case_per_day", pa.float64()),
        ("worst_case_per_day", pa.float64()),
        ("zone", pa.string()),
        ("finished_goods_wip", pa.float64()),
        ("objects", pa.int64()),
        ("finished", pa.int64()),
        ("available_seconds_per_day", pa.float64()),
    ]
)


def _zone(th: float, best: float, pwc: float, worst: float) -> str:
    """Where the observed throughput sits among the three reference cases."""
    eps = 1e-9
    if th > best * (1 + eps):
        return "above the best case — the measured times do not hold together"
    if th >= best * (1 - 1e-6):
        return "at the best case"
    if th >= pwc * (1 - eps):
        return "good: between the practical worst case and the best case"
    if th >= worst * (1 - eps):
        return "bad: between the worst case and the practical worst case"
    return "below the worst case"


def _line(
    log: Log, measured: _Measured, object_type: str, end_steps: Collection[str] | None
) -> pa.Table:
    """Per object: ``first`` (its first event), ``fg_arrive`` (when it joined the
    finished-goods queue, null if never), ``last_leave`` (its last step-ending event),
    ``last_activity``, ``finished`` (it reached the customer)."""
    m = measured.marked
    # the activity of the last step-ending event (the greatest name among ties): the greatest
    # (leave, activity) pair, in the same pass as the other figures — a window for the
    # object's last leave first cost a sort of every visit by object (~1 s at 10M events)
    per = m.group_by("object_id").agg(
        first=m.arrive.min(),
        fg_arrive=m.arrive.min(where=m.fg_exit),
        last_leave=m.leave.max(),
        last_activity=m.activity.argmax(
            ibis.struct({"leave": m.leave, "activity": m.activity}), where=m.leave.notnull()
        ),
    )
    done = finished_objects(log, object_type, end_steps=end_steps).select(
        "object_id", finished=ibis.literal(1)
    )
    j = per.left_join(done, "object_id")
    return log.execute(
        j.select(
            j.object_id,
            j.first,
            j.fg_arrive,
            j.last_leave,
            j.last_activity,
            finished=j.finished.fill_null(0),
        )
    )


def factory_physics(
    log: Log,
    object_type: str,
    *,
    calendar: Calendar | None = None,
    end_steps: Collection[str] | None = None,
    value_adding: Collection[str] | None = None,
) -> View:
    """The value stream of ``object_type`` against Factory Physics' reference cases (Hopp &
    Spearman, ch. 7): one row.

    ``constraint`` (the step :func:`bottlenecks` ranks first) and ``rule``;
    ``bottleneck_rate_per_day`` (r_b: objects a calendar day the constraint can finish,
    busy all its available time); ``raw_process_seconds`` (T0: the mean process times of the
    steps along an object's path, each times its visits per object, s of available time);
    ``critical_wip`` (W0 = r_b × T0, objects); ``wip`` (w: objects in the line, time-average over
    the span — from an object's first event until it joins the finished-goods queue, or its
    last event; objects not finished and not in finished goods stay in it to the span's end);
    ``throughput_per_day`` (TH: objects that left the line per calendar day);
    ``best_case_per_day`` (min(w/T0, r_b)), ``practical_worst_case_per_day``
    (w/(W0 + w - 1) × r_b), ``worst_case_per_day`` (1/T0); ``zone`` (where TH sits among
    them); ``finished_goods_wip`` (objects waiting for the customer's pull, time-average);
    ``objects``, ``finished`` (left the line) and ``available_seconds_per_day``. A figure the
    data cannot give is null and the notes say what it needs."""
    log.require("object type", object_type, where="object_type")
    measured = _measure(
        log,
        object_type,
        calendar=calendar,
        end_steps=end_steps,
        value_adding=value_adding,
        visit_table=None,
    )
    notes = list(measured.notes)
    meta: dict[str, object] = {
        "object_type": object_type,
        "calendar": measured.calendar.label(),
        "rule": measured.rule,
    }
    if not measured.rows or measured.t0 is None or measured.t1 is None or measured.days <= 0:
        return View(
            "factory_physics",
            _FP_COLUMNS.empty_table(),
            (*notes, f"not measurable — needs {object_type} objects over a span of time"),
            meta,
        )
    rows = _ranked(measured)
    top = rows[0] if rows[0]["kind"] == "process" and rows[0]["score"] else None
    per_day = measured.available / measured.days  # available seconds per calendar day
    span_seconds = (measured.t1 - measured.t0).total_seconds()

    objects = _line(log, measured, object_type, end_steps)
    n = objects.num_rows
    t0_us = measured.t0.timestamp()
    t1_us = measured.t1.timestamp()

    def epoch(col: str) -> np.ndarray:
        a = pc.cast(objects.column(col), pa.timestamp("us", tz="UTC")).cast(pa.int64())
        return np.asarray(a.to_numpy(zero_copy_only=False), dtype="float64") / 1e6

    first = epoch("first")
    fg_arrive = epoch("fg_arrive") if n else np.zeros(0)
    last_leave = epoch("last_leave")
    finished = np.asarray(objects.column("finished").to_numpy(zero_copy_only=False)) == 1
    last_act = objects.column("last_activity").to_pylist()
    in_fg = np.isfinite(fg_arrive)
    # steps that hand goods to the finished-goods queue: the objects last seen there wait in it
    pre_fg = _steps_before_fg(log, measured)
    waiting = np.array([a in pre_fg for a in last_act], dtype=bool) & ~in_fg
    left = in_fg | finished | waiting
    line_end = np.where(in_fg, fg_arrive, np.where(left, last_leave, t1_us))
    inside = np.clip(line_end, t0_us, t1_us) - np.clip(first, t0_us, t1_us)
    w = float(np.maximum(inside, 0.0).sum() / span_seconds) if span_seconds else None
    th = float(left.sum()) / measured.days
    fg_rows = [r for r in rows if r["kind"] == "finished goods"]
    fg_wip = sum(_f(r["mean_wip"]) for r in fg_rows)
    fg_open = np.where(waiting, t1_us - last_leave, 0.0).sum() / span_seconds
    fg_wip += float(fg_open)

    # T0: each process step's mean process time times its visits per object
    t_raw: float | None = 0.0
    for r in rows:
        if r["kind"] != "process":
            continue
        p = r["process_seconds"]
        if p is None:
            continue
        t_raw = (t_raw or 0.0) + _f(p) * _f(r["completions"]) / n
    t_raw = t_raw if t_raw else None

    r_b: float | None = None
    if top is not None and top["capacity_per_day"] is not None:
        visits_per_object = _f(top["completions"]) / _f(top["objects"])
        r_b = _f(top["capacity_per_day"]) / visits_per_object

    best = pwc = worst = w0 = None
    zone: str | None = None
    if r_b is not None and t_raw is not None and w is not None:
        r_b_avail = r_b / per_day  # objects per available second
        w0 = r_b_avail * t_raw
        best = min(w / t_raw, r_b_avail) * per_day
        pwc = (w / (w0 + w - 1) * r_b if w0 + w - 1 > 0 else None) if w > 0 else 0.0
        worst = per_day / t_raw
        if pwc is not None:
            zone = _zone(th, best, pwc, worst)
        if w < 1:
            notes.append(
                f"w = {w:.2f}: the line holds less than one object on average — the practical "
                "worst and worst cases assume at least one (a closed line); read the zone "
                "against the best case"
            )
    else:
        needs = []
        if top is None:
            needs.append("a constraint with a measurable load")
        if t_raw is None:
            needs.append("process times (start/complete events or value-adding steps)")
        notes.append(
            "r_b, W0 and the reference cases not measurable — needs " + " and ".join(needs)
        )
    notes += [
        "r_b = the constraint's capacity (its parallel resources × available time a day ÷ its "
        "process time per visit) ÷ its visits per object, objects/day",
        "T0 = Σ over the process steps of mean process time × visits per object (s of "
        "available time); W0 = r_b × T0",
        "best case TH = min(w/T0, r_b); practical worst case TH = w/(W0 + w − 1) × r_b; worst "
        "case TH = 1/T0 (Hopp & Spearman, Factory Physics, ch. 7)",
        "w: objects in the line, time-average over the span — from the first event until "
        "joining the finished-goods queue (or the last event when finished); objects still "
        "open stay in it until the span's end (edge effect)",
    ]
    row = {
        "constraint": None if top is None else top["activity"],
        "rule": measured.rule,
        "bottleneck_rate_per_day": r_b,
        "raw_process_seconds": t_raw,
        "critical_wip": w0,
        "wip": w,
        "throughput_per_day": th,
        "best_case_per_day": best,
        "practical_worst_case_per_day": pwc,
        "worst_case_per_day": worst,
        "zone": zone,
        "finished_goods_wip": fg_wip,
        "objects": n,
        "finished": int(left.sum()),
        "available_seconds_per_day": per_day,
    }
    table = pa.Table.from_pylist([row], _FP_COLUMNS)
    return View("factory_physics", table, tuple(notes), meta)


def _steps_before_fg(log: Log, measured: _Measured) -> set[str]:
    """The steps an object leaves just before it joins the finished-goods queue."""
    m = measured.marked
    w = ibis.window(group_by="object_id", order_by=["leave", "event_id"])
    m = m.mutate(prev_activity=m.activity.lag().over(w))
    before = m.filter(m.fg_exit & m.prev_activity.notnull()).select("prev_activity").distinct()
    return {str(a) for a in log.execute(before).column("prev_activity").to_pylist()}
