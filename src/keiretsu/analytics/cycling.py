"""Object types whose objects go round and round: trucks, forklifts, people, totes.

A truck loads, drives to the terminal, comes back and loads again; a picker picks one order's
item, then the next order's. Their traces repeat the same round of steps, and read like an
order's trace they look like rework — every round "a step done again after another step". They
are not defects: the round *is* their work. :func:`cycling_object_types` finds such types from
the evidence in their traces, so that :func:`keiretsu.analytics.waste.wastes` can leave them
out of Defects (and Overprocessing) by default, saying so.

The evidence, per object (completions only where the log has start/complete events):

* its **first step** is the step of its first event; a **round** starts at that first event
  and again at each later pass of the first step that follows a *different* step (the object
  came back to where it starts: ``load … drive … load``). ``load load`` in a row is one round
  (several things loaded at once), not two;
* an object whose trace is **one step only**, done again and again (a clerk who only confirms
  orders), is a one-step cycle: every pass is a round;
* the object **cycles** when it makes at least :data:`MIN_ROUNDS` rounds.

A type **cycles** when at least :data:`MIN_SHARE` of its objects cycle — or
:data:`MIN_SHARE_HINTED` when its name also says it is equipment, a person or a place
(:data:`RESOURCE_NAMES`: truck, forklift, employee, tote, container…). The name is only a
hint that lowers the bar: a type is never called cycling on its name alone, and a "container"
type whose containers make one trip each is not cycling.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from keiretsu.analytics.log import Log
from keiretsu.analytics.traces import object_events, steps, stored_passes
from keiretsu.analytics.view import View

__all__ = [
    "MIN_ROUNDS",
    "MIN_SHARE",
    "MIN_SHARE_HINTED",
    "NOT_COMPLETIONS",
    "RESOURCE_NAMES",
    "completions",
    "cycling_object_types",
    "name_hints_a_resource",
    "object_rounds",
]

MIN_ROUNDS = 3
"""An object cycles when its trace makes at least this many rounds."""

MIN_SHARE = 0.5
"""A type cycles when at least this share of its objects cycle."""

MIN_SHARE_HINTED = 0.25
"""The share needed when the type's name says it is equipment, a person or a place."""

RESOURCE_NAMES = frozenset(
    {
        # the report's types that do not flow (report.NOT_FLOWING)
        "resource",
        "location",
        "party",
        "parties",
        "business transaction",
        "transformation",
        "employee",
        "customer",
        "supplier",
        "user",
        "vendor",
        # equipment, people and returnable carriers that go round
        "truck",
        "lorry",
        "vehicle",
        "trailer",
        "forklift",
        "machine",
        "equipment",
        "tool",
        "robot",
        "agv",
        "operator",
        "worker",
        "driver",
        "picker",
        "staff",
        "clerk",
        "agent",
        "tote",
        "container",
        "crate",
        "bin",
        "cart",
        "trolley",
        "rack",
        "kanban",
        "returnable",
    }
)
"""Words in an object type's name that hint at equipment, people or returnable carriers
(singular; a plural ``s`` and case are ignored). A hint only: see the module docstring."""

_LIFECYCLE = "lifecycle:transition"


def name_hints_a_resource(object_type: str) -> bool:
    """Whether the type's name says equipment, a person, a place or a returnable carrier
    (``Truck``, ``forklifts``, ``employees``, ``Returnable Tote``): the whole name or its last
    word (the thing named: a ``Customer Order`` is an order), singular or plural, any case, in
    :data:`RESOURCE_NAMES`."""
    name = object_type.strip().lower()
    words = name.replace("-", " ").replace("_", " ").split()
    candidates = [name, *words[-1:]]
    return any(w in RESOURCE_NAMES or w.removesuffix("s") in RESOURCE_NAMES for w in candidates)


NOT_COMPLETIONS = (
    "schedule",
    "assign",
    "reassign",
    "start",
    "suspend",
    "resume",
    "withdraw",
    "ate_abort",
    "pi_abort",
    "autoskip",
    "manualskip",
)
"""XES standard lifecycle transitions that are not the completion of a step: left out, so that
a step scheduled, started and completed is one pass. Other values (no lifecycle, ``complete``,
or a log's own statuses such as BPI Challenge 2013's ``In Progress``) are kept."""


def completions(log: Log, object_types: Sequence[str] | None = None) -> ir.Table:
    """Each object's passes through steps, as :func:`keiretsu.analytics.traces.object_events`
    gives them (``object_id, object_type, event_id, activity, time, seq``) without the XES
    lifecycle events that are not completions (:data:`NOT_COMPLETIONS`): a step with a start
    and a complete is one pass, not two."""
    oe = object_events(log, object_types)
    lc = log.event_attribute(_LIFECYCLE).rename(transition="value")
    oe = oe.left_join(lc, oe.event_id == lc.event_id).drop("event_id_right")
    oe = oe.filter(oe.transition.isnull() | ~oe.transition.lower().isin(NOT_COMPLETIONS))
    return oe.drop("transition")


def object_rounds(log: Log, object_types: Sequence[str] | None = None) -> ir.Table:
    """One row per object: ``object_type, object_id, first_step`` (the step of its first
    event), ``events`` (its passes), ``steps`` (distinct steps) and ``rounds`` (how many times
    it started its round: see the module docstring). ``object_types`` limits it to those
    types (all by default)."""
    if stored_passes(log, NOT_COMPLETIONS):
        # every event is a completion: the store's traces carry each step's place and the one
        # before it (schema 9); per object and step the returns, then per object the first
        # step's — two aggregates, no window over every trace
        per = _rounds_stored(steps(log, object_types))
    else:
        per = _rounds_windowed(log, object_types)
    return _with_rounds(per)


def _with_rounds(per: ir.Table) -> ir.Table:
    rounds = ibis.ifelse(per.steps == 1, per.events, per.returns + 1)
    return per.select(
        "object_type", "object_id", "first_step", "events", "steps", rounds=rounds.cast("int64")
    )


def _rounds_stored(s: ir.Table) -> ir.Table:
    """Per object its first step, passes, distinct steps and returns to the first step, from
    the store's traces ``s``."""
    came_back = (s.prev_activity.notnull() & (s.prev_activity != s.activity)).cast("int64")
    g = s.group_by(["object_type", "object_id", "activity"]).agg(
        n=s.count(),
        back=came_back.sum(),
        first=(s.position == 0).cast("int64").max(),
    )
    return g.group_by(["object_type", "object_id"]).agg(
        first_step=g.activity.max(where=g.first == 1),
        events=g.n.sum(),
        steps=g.count(),
        returns=g.back.max(where=g.first == 1),
    )


def _per_first_step(log: Log, object_types: Sequence[str] | None, min_rounds: int) -> ir.Table:
    """Per object type and first step: ``n`` objects, ``cycling_objects`` (at least
    ``min_rounds`` rounds), their ``rounds`` and ``events``."""

    def summed(per: ir.Table) -> ir.Table:
        cycles = (per.rounds >= min_rounds).cast("int64")
        return per.group_by(["object_type", "first_step"]).agg(
            n=per.count(),
            cycling_objects=cycles.sum(),
            rounds=per.rounds.sum(),
            events=per.events.sum(),
        )

    if not stored_passes(log, NOT_COMPLETIONS):
        return summed(object_rounds(log, object_types))
    s = steps(log, object_types)
    # an object whose trace is one step (most items of a large log: 3.4M of 4.2M at ten
    # million events) makes one round of one event there: counted per step, not gathered
    # per object first
    alone = (s.position == 0) & s.next_seq.isnull()
    one = s.filter(alone)
    one = one.group_by(["object_type", one.activity.name("first_step")]).agg(
        n=one.count(),
        rounds=one.count(),
        events=one.count(),
    )
    one = one.mutate(cycling_objects=ibis.literal(0))  # one round < min_rounds (≥ 2)
    many = summed(_with_rounds(_rounds_stored(s.filter(~alone))))
    cols = ["n", "cycling_objects", "rounds", "events"]
    one = one.select("object_type", "first_step", *[one[c].cast("int64").name(c) for c in cols])
    many = many.select("object_type", "first_step", *[many[c].cast("int64").name(c) for c in cols])
    both = one.union(many)
    return both.group_by(["object_type", "first_step"]).agg(**{c: both[c].sum() for c in cols})


def _rounds_windowed(log: Log, object_types: Sequence[str] | None) -> ir.Table:
    """Per object its first step, passes, distinct steps and returns to the first step, with
    windows over its completions (a log whose traces the store does not keep so)."""
    oe = completions(log, object_types)
    w = ibis.window(group_by=["object_type", "object_id"], order_by=["time", "seq"])
    t = oe.mutate(
        first_step=oe.activity.first().over(w),
        prev=oe.activity.lag().over(w),
        position=ibis.row_number().over(w),
    )
    back = (t.activity == t.first_step) & t.prev.notnull() & (t.prev != t.activity)
    t = t.mutate(back=back.cast("int64"), first=(t.position == 0).cast("int64"))
    per = t.group_by(["object_type", "object_id"]).agg(
        first_step=t.first_step.max(where=t.first == 1),
        events=t.count(),
        steps=t.activity.nunique(),
        returns=t.back.sum(),
    )
    return per


_SCHEMA = pa.schema(
    [
        ("object_type", pa.string()),
        ("objects", pa.int64()),
        ("cycling_objects", pa.int64()),
        ("share", pa.float64()),
        ("mean_rounds", pa.float64()),
        ("events_per_round", pa.float64()),
        ("first_step", pa.string()),
        ("name_hint", pa.bool_()),
        ("cycling", pa.bool_()),
        ("evidence", pa.string()),
    ]
)


def cycling_object_types(
    log: Log,
    object_types: Collection[str] | None = None,
    *,
    min_rounds: int = MIN_ROUNDS,
) -> View:
    """Which object types go round and round (trucks, forklifts, people, totes) rather than
    flowing through once: one row per object type, those that cycle first.

    Columns: ``object_type``; ``objects``; ``cycling_objects`` (objects that make at least
    ``min_rounds`` rounds); ``share`` (``cycling_objects / objects``, 0 to 1); ``mean_rounds``
    (rounds per object, on average); ``events_per_round`` (the round's length in steps, on
    average over the type's events); ``first_step`` (the step most of its objects start from:
    where a round begins); ``name_hint`` (the name says equipment, a person or a carrier);
    ``cycling`` (the type is read as cycling: ``share`` at least :data:`MIN_SHARE`, or
    :data:`MIN_SHARE_HINTED` with a name hint); ``evidence`` (the same in words).

    ``meta["cycling"]`` lists the cycling types (sorted). ``object_types`` limits the view to
    those types (all by default)."""
    if min_rounds < 2:
        raise ValueError(f"min_rounds must be at least 2 (a round made again), not {min_rounds}")
    types = sorted(object_types) if object_types is not None else None
    # one pass over the traces: per type and first step; the type's totals are their sums
    starts = _per_first_step(log, types, min_rounds)
    start_rows = log.execute(starts).to_pylist()
    # the most frequent first step of each type (ties: the first by name, nulls last)
    start_rows.sort(
        key=lambda r: (
            str(r["object_type"]),
            -int(r["n"]),
            r["first_step"] is None,
            str(r["first_step"] or ""),
        )
    )
    first_step: dict[str, str] = {}
    sums: dict[str, dict[str, int]] = {}
    for r in start_rows:
        name = str(r["object_type"])
        first_step.setdefault(name, str(r["first_step"]))
        total = sums.setdefault(
            name, {"objects": 0, "cycling_objects": 0, "rounds": 0, "events": 0}
        )
        total["objects"] += int(r["n"])
        for k in ("cycling_objects", "rounds", "events"):
            total[k] += int(r[k] or 0)
    totals: list[dict[str, Any]] = [{"object_type": name, **sums[name]} for name in sorted(sums)]
    rows: list[dict[str, Any]] = []
    for r in totals:
        name = str(r["object_type"])
        objects = int(r["objects"])
        cycling_objects = int(r["cycling_objects"] or 0)
        rounds = int(r["rounds"] or 0)
        share = cycling_objects / objects if objects else 0.0
        hint = name_hints_a_resource(name)
        bar = MIN_SHARE_HINTED if hint else MIN_SHARE
        cycling = objects > 0 and cycling_objects > 0 and share >= bar
        start = first_step.get(name, "")
        mean_rounds = rounds / objects if objects else 0.0
        evidence = (
            f"{cycling_objects} of {objects} objects ({share:.0%}) make at least {min_rounds} "
            f"rounds; {mean_rounds:,.1f} rounds per object on average, a round starting at "
            f"{start!r}"
        )
        verdict = (
            f"cycling (at least {bar:.0%} of the objects"
            + (", the name hints at equipment or people)" if hint else ")")
            if cycling
            else f"flows (fewer than {bar:.0%} of the objects go round"
            + ("; the name alone does not make it cycling)" if hint else ")")
        )
        rows.append(
            {
                "object_type": name,
                "objects": objects,
                "cycling_objects": cycling_objects,
                "share": share,
                "mean_rounds": mean_rounds,
                "events_per_round": int(r["events"] or 0) / rounds if rounds else None,
                "first_step": start or None,
                "name_hint": hint,
                "cycling": cycling,
                "evidence": f"{evidence}: {verdict}",
            }
        )
    rows.sort(key=lambda x: (not x["cycling"], -float(x["share"]), str(x["object_type"])))
    table = pa.Table.from_pylist(rows, _SCHEMA)
    found = sorted(str(x["object_type"]) for x in rows if x["cycling"])
    notes = (
        f"a round starts at an object's first event and again each time it comes back to "
        f"its first step after a different step (the same step in a row is one round); an "
        f"object whose trace is one step only makes one round per pass; an object cycles "
        f"with at least {min_rounds} rounds",
        f"a type cycles when at least {MIN_SHARE:.0%} of its objects do, or "
        f"{MIN_SHARE_HINTED:.0%} when its name says equipment, a person or a carrier (a hint "
        "only, never enough alone)",
        "cycling types: " + (", ".join(found) if found else "none"),
    )
    return View("cycling_object_types", table, notes, {"cycling": found})
