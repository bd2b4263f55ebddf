"""Quality as a lean practitioner reads it off the value stream: first-pass yield per step,
rolled throughput yield for the stream, and the defects that escaped an inspection.

Definitions (formulas and references in ``docs/analytics/databox.md``):

* **An object fails at a step** (one count per object and step) when the events show one of:

  1. *a non-conforming disposition*: an event of the step handles the object (EPCIS: named in it
     as EPC, parent, child, input or output) with a CBV disposition that says it is unfit
     (:data:`NONCONFORMING_DISPOSITIONS`: damaged, non_conformant, expired, recalled…);
  2. *a failed result at an inspecting step* (a step named like an inspection,
     :data:`keiretsu.analytics.waste.INSPECTION_PATTERN`, or one named in ``inspection_steps``):
     an event attribute named ``result``, ``outcome``, ``verdict``, ``status``,
     ``inspection_result`` or ``test_result`` whose value is fail(ed), reject(ed), NOK, not OK
     or non-conforming (:data:`FAILED_RESULT`);
  3. *rework*: the object comes back to the step after a different step;
  4. *a failure step next*: the object's next step is one named for something gone wrong
     (:data:`keiretsu.analytics.waste.DEFECT_STEP_PATTERN`: rework, repair, scrap, return…).

* **First-pass yield** (FPY, Martin & Osterling's %C&A measured at the step itself) of a step =
  objects that passed it without failing ÷ objects that reached it (0 to 1). An inspection
  step's FPY is its pass rate. A step named for a failure has none (it is not a first pass).
* **Rolled throughput yield** (RTY) = the product of the FPYs of the steps along the path: the
  chance an object goes through the whole stream right the first time.
* **An escaped defect**: an object that failed by rule 1 or 2 and later *moved on* — a later
  event of a step that takes it towards the customer (not an inspection, a failure step, or a
  step that does not use it: storing, holding, destroying…; :data:`waste.NOT_A_USE`) before
  anything dealt with it (a failure step such as repair or scrap, a passing re-inspection, or a
  destroying/disposing event). It **reached a customer** when it has an exit
  (:func:`keiretsu.analytics.customer.exits`) after the failure.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from keiretsu.analytics import flow
from keiretsu.analytics.customer import exits, has_epcis_semantics
from keiretsu.analytics.log import Log
from keiretsu.analytics.traces import steps as trace_steps
from keiretsu.analytics.view import View
from keiretsu.analytics.waste import (
    DEFECT_DISPOSITIONS,
    DEFECT_STEP_PATTERN,
    INSPECTION_PATTERN,
    NOT_A_USE,
)
from keiretsu.model.cbv import WHAT_ROLES

__all__ = [
    "FAILED_RESULT",
    "NONCONFORMING_DISPOSITIONS",
    "RESULT_ATTRIBUTES",
    "defect_steps",
    "escaped_defects",
    "first_pass_yield",
    "inspection_failures",
    "inspection_steps",
    "rolled_throughput_yield",
]

NONCONFORMING_DISPOSITIONS = tuple(d for d in DEFECT_DISPOSITIONS if d != "returned")
"""The CBV dispositions that fail an object at the step that records them: every unfit
disposition of the Defects waste but ``returned`` (a customer's return arriving is not a failure
of the receiving step)."""

RESULT_ATTRIBUTES = ("result", "outcome", "verdict", "status", "inspection_result", "test_result")
"""Event attributes (any case) read as an inspection's result."""

FAILED_RESULT = r"^\s*(fail(ed|ure)?|reject(ed)?|nok|not ok|n\.?o\.?k\.?|non[-_ ]?conform\w*)\s*$"
"""An inspection result that says the object failed (case-insensitive)."""

_GONE = ("destroyed", "disposed")
_GONE_STEPS = ("destroying", "decommissioning")
_FAILURE_KINDS = ("non-conforming disposition", "failed inspection", "rework", "failure step next")


def inspection_steps(log: Log, given: Collection[str] | None = None) -> list[str]:
    """The inspecting steps: ``given``, else every activity named like an inspection
    (:data:`keiretsu.analytics.waste.INSPECTION_PATTERN`)."""
    if given is not None:
        return sorted(given)
    return [a for a in _activities(log) if INSPECTION_PATTERN.search(a)]


def defect_steps(log: Log, inspections: Collection[str]) -> list[str]:
    """The steps named for something gone wrong (rework, repair, scrap, return…), inspections
    left out."""
    return [
        a for a in _activities(log) if DEFECT_STEP_PATTERN.search(a) and a not in set(inspections)
    ]


def _activities(log: Log) -> list[str]:
    e = log.events
    table = log.execute(e.select("activity").distinct().order_by("activity"))
    return [str(v) for v in table.column("activity").to_pylist()]


_CONTEXT_TYPE = re.compile(
    r"^(resource|employee|worker|operator|person|staff|user|location|party|site|"
    r"machine|equipment|forklift|truck|vehicle)s?$",
    re.IGNORECASE,
)


def _goods(log: Log, object_type: str | None) -> ir.Table:
    """``object_id, object_type`` of the objects followed: one type, or every type that is not a
    place, party, person or piece of equipment."""
    o = log.objects
    if object_type is not None:
        return o.filter(o.object_type == object_type).select("object_id", "object_type")
    types = [t for t in log.object_types() if not _CONTEXT_TYPE.match(t.strip())]
    return o.filter(o.object_type.isin(types)).select("object_id", "object_type")


def inspection_failures(
    log: Log, object_type: str | None = None, *, inspection_steps: Collection[str] | None = None
) -> ir.Table:
    """Every (object, event) at which an object failed by rule 1 or 2 of the module docstring:
    ``object_id, object_type, event_id, step, time, seq, kind, reason`` (the disposition or the
    result as written). ``object_type`` ``None``: every followed type (not places, parties,
    people or equipment)."""
    goods = _goods(log, object_type)
    a, r, e = log.event_attributes, log.relations, log.events
    if has_epcis_semantics(log):
        r = r.filter(r.qualifier.isin(list(WHAT_ROLES)))
    disp = a.filter((a.name == "disposition") & a.value.isin(list(NONCONFORMING_DISPOSITIONS)))
    disp = disp.select(
        event_id=disp.event_id.cast("string"),
        kind=ibis.literal(_FAILURE_KINDS[0]).cast("string"),
        reason=disp.value.cast("string"),
    )
    parts = [disp]
    inspections = _inspections(log, inspection_steps)
    if inspections:
        res = a.filter(
            a.name.lower().isin(list(RESULT_ATTRIBUTES)) & a.value.lower().re_search(FAILED_RESULT)
        )
        res = res.join(e.filter(e.activity.isin(inspections)).select("event_id"), "event_id")
        parts.append(
            res.select(
                event_id=res.event_id.cast("string"),
                kind=ibis.literal(_FAILURE_KINDS[1]).cast("string"),
                reason=res.value.cast("string"),
            )
        )
    flagged = ibis.union(*parts, distinct=False)
    flagged = flagged.group_by("event_id").agg(kind=flagged.kind.min(), reason=flagged.reason.min())
    # only the flagged events' links, made distinct: not every link of the log (at ten million
    # events, 20M links were de-duplicated for a few flagged events)
    rel = r.select("event_id", "object_id").semi_join(flagged, "event_id").distinct()
    rel = rel.join(goods, "object_id")
    j = flagged.join(rel, "event_id").join(e, "event_id")
    return j.select(
        "object_id",
        "object_type",
        "event_id",
        step=j.activity,
        time=j.time,
        seq=j.seq,
        kind=j.kind,
        reason=j.reason,
    )


def _inspections(log: Log, given: Collection[str] | None) -> list[str]:
    return inspection_steps(log, given)


def _step_visits(log: Log, object_type: str) -> ir.Table:
    """The object's visits to steps (flow.visits: step-ending events) with their read order."""
    v = flow.ordered_visits(log, object_type)
    return v.select("object_id", "activity", "event_id", "leave", "seq")


def step_failures(
    log: Log, object_type: str, *, inspection_steps: Collection[str] | None = None
) -> ir.Table:
    """``object_id, step, kind``: each object failing at each step, by the four rules of the
    module docstring (one row per object, step and kind)."""
    inspections = _inspections(log, inspection_steps)
    failing = defect_steps(log, inspections)
    if flow.visits_are_steps(log):  # the store's traces carry them (schema 9)
        s = trace_steps(log, object_type)
        v = s.select("object_id", "activity", "prev_activity", "next_activity", k=s.pass_index)
    else:
        v = _step_visits(log, object_type)
        trace = ibis.window(group_by="object_id", order_by=["leave", "seq"])
        same = ibis.window(group_by=["object_id", "activity"], order_by=["leave", "seq"])
        v = v.mutate(
            prev_activity=v.activity.lag().over(trace),
            next_activity=v.activity.lead().over(trace),
            k=ibis.row_number().over(same),
        )
    rework = v.filter((v.k > 0) & (v.prev_activity != v.activity))
    parts = [_failure(rework, rework.activity, ibis.literal("rework"))]
    if failing:
        nxt = v.filter(v.next_activity.isin(failing) & ~v.activity.isin(failing))
        parts.append(_failure(nxt, nxt.activity, ibis.literal("failure step next")))
    insp = inspection_failures(log, object_type, inspection_steps=inspections)
    parts.append(_failure(insp, insp.step, insp.kind))
    return ibis.union(*parts, distinct=True)


def _failure(t: ir.Table, step: ir.Value, kind: ir.Value) -> ir.Table:
    return t.select(
        object_id=t.object_id.cast("string"), step=step.cast("string"), kind=kind.cast("string")
    )


def first_pass_yield(
    log: Log,
    object_type: str,
    *,
    steps: Sequence[str] | None = None,
    inspection_steps: Collection[str] | None = None,
) -> View:
    """First-pass yield of every step of ``object_type`` (or of ``steps``, in that order).

    Columns: ``step``; ``objects`` (objects that reached it); ``failed`` (objects that failed
    there, by the rules of the module docstring); ``first_pass_yield`` (0 to 1: (objects -
    failed) / objects; null for a step named for a failure, or one no object reached) and
    ``failures`` (how many objects failed by each rule, e.g. ``non-conforming disposition: 12``).
    ``meta["rolled_throughput_yield"]``: the product of the FPYs (null when none is known);
    ``meta["first_time_through"]``: the share of objects that failed at no step (0 to 1).
    Steps are listed in flow order (the mean place of each step in the objects' paths)."""
    inspections = _inspections(log, inspection_steps)
    failing = set(defect_steps(log, inspections))
    if flow.visits_are_steps(log):  # each visit's place in the trace kept (schema 9)
        s = trace_steps(log, object_type)
        v = s.select("activity", "position", "pass_index")
        # an object's first pass of a step counts it once there: a sum, not a distinct count
        # of millions of ids
        objects = (v.pass_index == 0).cast("int64").sum()
    else:
        v = _step_visits(log, object_type)
        trace = ibis.window(group_by="object_id", order_by=["leave", "seq"])
        v = v.mutate(position=ibis.row_number().over(trace))
        objects = v.object_id.nunique()
    # one pass each over the visits and over the failures (each is a window over every
    # visit): an object's first visit (position 0) counts it once for the total
    reached = log.execute(
        v.group_by("activity").agg(
            objects=objects,
            position=v.position.mean(),
            firsts=(v.position == 0).cast("int64").sum(),
        )
    )
    f = step_failures(log, object_type, inspection_steps=inspections)
    # f holds each (object, step, kind) once: per (object, step), which kinds; per object,
    # one row marked first
    per = f.group_by(["object_id", "step"]).agg(
        **{f"k{i}": (f.kind == k).cast("int64").max() for i, k in enumerate(_FAILURE_KINDS)}
    )
    per = per.mutate(
        first=(ibis.row_number().over(ibis.window(group_by="object_id")) == 0).cast("int64")
    )
    failures = log.execute(
        per.group_by("step").agg(
            n=per.count(),
            firsts=per.first.sum(),
            **{f"k{i}": per[f"k{i}"].sum() for i in range(len(_FAILURE_KINDS))},
        )
    )
    total = int(pc.sum(reached.column("firsts")).as_py() or 0)
    ever_failed = int(pc.sum(failures.column("firsts")).as_py() or 0)
    through = (total - ever_failed) / total if total else None
    acts = [str(a) for a in reached.column("activity").to_pylist()]
    objects = dict(zip(acts, reached.column("objects").to_pylist(), strict=True))
    positions = dict(zip(acts, reached.column("position").to_pylist(), strict=True))
    order = sorted(acts, key=lambda a: (positions[a], a))
    names = list(steps) if steps is not None else order
    n_failed: dict[Any, Any] = {}
    kinds: dict[str, dict[str, int]] = {}
    for row in failures.to_pylist():
        n_failed[row["step"]] = row["n"]
        for i, k in enumerate(_FAILURE_KINDS):
            if row[f"k{i}"]:
                kinds.setdefault(str(row["step"]), {})[k] = int(row[f"k{i}"])
    rows: list[dict[str, Any]] = []
    for s in names:
        n = int(objects.get(s) or 0)
        bad = int(n_failed.get(s) or 0)
        fpy = None if s in failing or n == 0 else (n - bad) / n
        per = kinds.get(s, {})
        rows.append(
            {
                "step": s,
                "objects": n,
                "failed": bad,
                "first_pass_yield": fpy,
                "failures": ", ".join(f"{k}: {per[k]}" for k in _FAILURE_KINDS if k in per),
            }
        )
    schema = pa.schema(
        [
            ("step", pa.string()),
            ("objects", pa.int64()),
            ("failed", pa.int64()),
            ("first_pass_yield", pa.float64()),
            ("failures", pa.string()),
        ]
    )
    table = pa.Table.from_pylist(rows, schema)
    rty = rolled_throughput_yield([r["first_pass_yield"] for r in rows])
    notes = [
        "first-pass yield = objects that passed the step without failing / objects that "
        "reached it; a failure: a non-conforming disposition, a failed result at an "
        "inspecting step, rework (the object back at the step after another step) or a "
        "failure step next (rework, repair, scrap, return…); only the failures the events "
        "record are counted",
        "inspecting steps: " + (", ".join(inspections) if inspections else "none"),
        "rolled throughput yield = the product of the steps' first-pass yields (on a stream "
        "with branches every branch counts as if every object took it); first time through = "
        "share of the objects that failed nowhere on their path",
    ]
    if failing & set(names):
        notes.append(
            "no first-pass yield for steps named for a failure: "
            + ", ".join(sorted(failing & set(names)))
        )
    return View(
        "first_pass_yield",
        table,
        tuple(notes),
        {
            "object_type": object_type,
            "rolled_throughput_yield": rty,
            "first_time_through": through,
        },
    )


def rolled_throughput_yield(yields: Sequence[float | None]) -> float | None:
    """The product of the known first-pass yields (0 to 1); ``None`` when none is known."""
    known = [y for y in yields if y is not None]
    if not known:
        return None
    out = 1.0
    for y in known:
        out *= y
    return out


def escaped_defects(
    log: Log,
    object_type: str | None = None,
    *,
    end_steps: Collection[str] | None = None,
    inspection_steps: Collection[str] | None = None,
) -> View:
    """The objects that failed an inspection (a non-conforming disposition, or a failed result
    at an inspecting step) and what became of them: whether they moved on towards the
    customer anyway (escaped) and whether they reached one.

    One row per failed object: ``object_id, object_type, step`` (where it failed), ``reason``
    (the disposition or result), ``failed_at`` (UTC), ``escaped`` (it moved on before anything
    dealt with it), ``moved_on_step`` and ``moved_on_at`` (the first step that took it on),
    ``reached_customer`` and ``exited_at`` (its exit to a customer after the failure, by
    :func:`keiretsu.analytics.customer.exits`; ``end_steps`` as there).
    ``meta``: ``failed``, ``escaped``, ``reached_customers`` (objects) and ``by_step`` (escaped
    objects per failing step).

    Computed once per log and options (:meth:`Log.memo`): the report and the data boxes
    read the same view."""
    key = (
        "quality.escaped_defects",
        object_type,
        tuple(sorted(end_steps or ())),
        None if inspection_steps is None else tuple(sorted(inspection_steps)),
    )
    return log.memo(key, lambda: _escaped_defects(log, object_type, end_steps, inspection_steps))


def _escaped_defects(
    log: Log,
    object_type: str | None,
    end_steps: Collection[str] | None,
    inspection_steps: Collection[str] | None,
) -> View:
    inspections = _inspections(log, inspection_steps)
    failing_steps = defect_steps(log, inspections)
    fails = inspection_failures(log, object_type, inspection_steps=inspections)
    w = ibis.window(group_by="object_id", order_by=["time", "seq"])
    fails = fails.mutate(n=ibis.row_number().over(w))
    first = fails.filter(fails.n == 0).drop("n")

    # the failed objects' later events, classified
    goods = _goods(log, object_type)
    r = log.relations
    if has_epcis_semantics(log):
        r = r.filter(r.qualifier.isin(list(WHAT_ROLES)))
    f = first.select("object_id", f_event="event_id", f_time="time", f_seq="seq", f_step="step")
    # the failed objects' relations only, before the de-duplication and the join to the
    # events (at 10M events, de-duplicating every relation was most of this view's time)
    own = r.select("event_id", "object_id").semi_join(f, "object_id").distinct()
    own = own.join(log.events, "event_id").semi_join(goods, "object_id")
    a = log.event_attributes
    disp = a.filter(a.name == "disposition").select("event_id", disposition=a.value)
    later = own.join(f, "object_id")
    later = later.filter(
        (later.time > later.f_time) | ((later.time == later.f_time) & (later.seq > later.f_seq))
    )
    later = later.left_join(disp, later.event_id == disp.event_id).drop("event_id_right")
    refail = fails.select("object_id", failed_event="event_id")
    later = later.left_join(
        refail,
        (later.object_id == refail.object_id) & (later.event_id == refail.failed_event),
    ).drop("object_id_right")
    d = later.disposition.fill_null("")
    is_failure = later.failed_event.notnull()
    moves_on = (
        ~later.activity.isin([*NOT_A_USE, *inspections, *failing_steps])
        & ~d.isin(list(DEFECT_DISPOSITIONS))
        & ~is_failure
    )
    dealt = (
        later.activity.isin(failing_steps or ["\x00"])
        | (later.activity.isin(inspections or ["\x00"]) & ~is_failure)
        | d.isin(list(_GONE))
        | later.activity.isin(list(_GONE_STEPS))
    )
    later = later.mutate(moves_on=moves_on, dealt=dealt)
    mv = later.filter(later.moves_on)
    wm = ibis.window(group_by="object_id", order_by=["time", "seq"])
    mv = mv.mutate(k=ibis.row_number().over(wm))
    mv = mv.filter(mv.k == 0).select(
        "object_id", moved_on_step=mv.activity, moved_on_at=mv.time, mv_seq=mv.seq
    )
    dl = later.filter(later.dealt)
    dl = dl.group_by("object_id").agg(dealt_at=dl.time.min())

    x = exits(log, object_type, end_steps=end_steps)
    x = x.join(f, "object_id")
    x = x.filter(x.time >= x.f_time)
    x = x.group_by("object_id").agg(exited_at=x.time.min())

    t = first.left_join(mv, "object_id").drop("object_id_right")
    t = t.left_join(dl, "object_id").drop("object_id_right")
    t = t.left_join(x, "object_id").drop("object_id_right")
    escaped = t.moved_on_at.notnull() & (t.dealt_at.isnull() | (t.dealt_at > t.moved_on_at))
    t = t.select(
        "object_id",
        "object_type",
        "step",
        "reason",
        failed_at=t.time,
        escaped=escaped,
        moved_on_step=ibis.ifelse(escaped, t.moved_on_step, ibis.null("string")),
        moved_on_at=ibis.ifelse(escaped, t.moved_on_at, ibis.null("timestamp")),
        reached_customer=t.exited_at.notnull(),
        exited_at=t.exited_at,
    )
    table = flow.utc_times(log.execute(t.order_by(["failed_at", "object_id"])))
    rows = table.to_pylist()
    by_step: dict[str, int] = {}
    for row in rows:
        if row["escaped"]:
            by_step[row["step"]] = by_step.get(row["step"], 0) + 1
    meta: dict[str, Any] = {
        "object_type": object_type,
        "failed": len(rows),
        "escaped": sum(1 for row in rows if row["escaped"]),
        "reached_customers": sum(1 for row in rows if row["reached_customer"]),
        "by_step": by_step,
    }
    notes = [
        "failed = a non-conforming disposition ("
        + ", ".join(NONCONFORMING_DISPOSITIONS)
        + ") or a failed result at an inspecting step ("
        + (", ".join(inspections) if inspections else "none in this log")
        + ")",
        "escaped = the object moved on afterwards (a later step other than "
        + ", ".join(NOT_A_USE)
        + ", an inspection or a failure step) before anything dealt with it (a failure step "
        "such as repair or scrap, a passing re-inspection, destroying or disposing)",
        "reached a customer = an exit after the failure (sold, shipped outside the network, a "
        "declared end step, or a finished object's last step)",
        f"{meta['failed']} objects failed, {meta['escaped']} moved on anyway, "
        f"{meta['reached_customers']} reached customers",
    ]
    return View("escaped_defects", table, tuple(notes), meta)
