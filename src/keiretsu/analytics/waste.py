"""The eight wastes (muda) of lean, each with its evidence and its cost in hours and money.

:func:`wastes` gives one row per waste, always all eight in the order
Transport, Inventory, Motion, Waiting, Overproduction, Overprocessing, Defects, unused Skills;
:func:`waste_evidence` lists the steps, objects and locations behind one of them; :func:`pareto`
ranks the measurable ones by money. A waste the data cannot show is marked ``measurable =
false`` with its hours and money left empty (never a zero) and the evidence says what data it
would need. Money uses the node's :class:`~keiretsu.analytics.rates.Rates`.

The precise definitions are in ``docs/analytics/waste.md``; in short:

- **Transport**: an object's move from one business location (EPCIS ``bizLocation``) to another:
  its event at the new location whose previous located event was elsewhere. Time in transit =
  from the object's previous event (the shipping) to the arrival. An object carried inside
  another that made the same move (a case on a pallet) is not counted again.
- **Inventory**: stock above its target days of supply (from
  :func:`keiretsu.analytics.inventory.days_of_supply`): excess units, their value, and the
  holding cost of that excess over the period the log covers.
- **Motion**: people or equipment (``resource`` objects, XES ``org:resource``) going from one
  read point to another within a site between two consecutive steps.
- **Waiting**: objects' waiting time (lead time less processing time, from
  :func:`keiretsu.analytics.flow.object_times`), priced per object-hour.
- **Overproduction**: output beyond customer demand, per product family: units made
  (EPCIS commissioning: an ObjectEvent ``ADD``; the outputs of a transformation) over the log's
  span less what the customers took (:func:`keiretsu.analytics.customer.customer_demand`), in
  units and in days of demand; and, named separately, what was made and never used downstream
  (never packed, shipped, consumed…: :func:`never_used`).
- **Overprocessing**: an inspecting step done again on the same object.
- **Defects**: rework loops (a step done again after another step on the same object), returns,
  non-conforming dispositions (damaged, non_conformant, recalled, expired…), steps named for a
  failure, and EPCIS error declarations.

Objects that go round — trucks, forklifts, people, whose traces repeat the same round of steps
(:mod:`keiretsu.analytics.cycling`) — are left out of Defects and Overprocessing: their rounds
are their work, not rework. ``cycling_types`` names them instead (``[]``: count every type).
- **Unused skills**: never measurable from events.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from keiretsu.analytics import flow
from keiretsu.analytics.customer import customer_demand, has_epcis_semantics
from keiretsu.analytics.cycling import NOT_COMPLETIONS, completions, cycling_object_types
from keiretsu.analytics.inventory import days_of_supply, product_of
from keiretsu.analytics.log import Log
from keiretsu.analytics.rates import Rates
from keiretsu.analytics.traces import object_events, seconds_between, stored_passes
from keiretsu.analytics.traces import steps as trace_steps
from keiretsu.analytics.view import View
from keiretsu.model.cbv import (
    BIZ_TRANSACTION,
    DESTINATION,
    PLACE_ROLES,
    SENSOR,
    SOURCE,
    WHAT_ROLES,
)

__all__ = [
    "WASTES",
    "never_used",
    "pareto",
    "waste_evidence",
    "wastes",
]

WASTES = (
    "transport",
    "inventory",
    "motion",
    "waiting",
    "overproduction",
    "overprocessing",
    "defects",
    "skills",
)
"""The eight wastes, in the order of every :func:`wastes` table (TIMWOODS)."""

LIFECYCLE = "lifecycle:transition"

# Roles in which an object is the setting of an event, not the thing handled by it.
_CONTEXT_QUALIFIERS = ("resource", *PLACE_ROLES, BIZ_TRANSACTION, SENSOR)
_CONTEXT_PREFIXES = (SOURCE, DESTINATION)
_CONTEXT_TYPES = ("resource", "location", "party", "transformation")
# Roles in which an EPCIS event handles the object itself.
_WHAT_QUALIFIERS = WHAT_ROLES

DEFECT_DISPOSITIONS = (
    "damaged",
    "destroyed",
    "disposed",
    "expired",
    "mismatch_class",
    "mismatch_instance",
    "mismatch_quantity",
    "needs_replacement",
    "non_conformant",
    "recalled",
    "returned",
)
"""CBV dispositions that say an object is not fit for use (``returned``: a return)."""

INSPECTION_PATTERN = re.compile(
    r"inspect|check|test|verif|control|audit|review|examin|valid|sampling", re.IGNORECASE
)
"""Steps read as inspections unless named: CBV ``inspecting``, ``sampling`` and steps named
check, test, verify, control, audit, review, examine, validate (also Dutch *valideren*)."""

DEFECT_STEP_PATTERN = re.compile(
    r"fail|defect|scrap|rework|repair|return|complain|error|reject(ed)? (goods|parts?|items?)",
    re.IGNORECASE,
)
"""Steps whose name says something went wrong: failed delivery, scrap, repair, return…"""

NOT_A_USE = (
    "commissioning",
    "inspecting",
    "sampling",
    "storing",
    "holding",
    "stock_taking",
    "cycle_counting",
    "sensor_reporting",
    "encoding",
    "decommissioning",
    "destroying",
)
"""CBV steps that do not move a made object on towards a customer (for Overproduction)."""


@dataclass(frozen=True)
class _Finding:
    """One waste's row of :func:`wastes`, and what it was computed from."""

    waste: str
    measurable: bool
    hours: float | None
    money: float | None
    count: float | None
    evidence: str
    notes: tuple[str, ...] = ()


@dataclass
class _Scope:
    """What one call of :func:`wastes` looks at."""

    log: Log
    rates: Rates
    object_type: str | None
    target_days: float | Mapping[str, float] | None
    value_adding: Collection[str] | None
    inspection_steps: Collection[str] | None
    _cache: dict[str, Any] = field(default_factory=dict)
    cycling_types: Collection[str] | None = None
    end_steps: Collection[str] | None = None

    def types(self) -> list[str]:
        """The object types whose objects are handled (not locations, parties, resources…)."""
        if "types" not in self._cache:
            if self.object_type is not None:
                self._cache["types"] = [self.object_type]
            else:
                log = self.log
                r = log.relations
                keep = ~r.qualifier.isin(_CONTEXT_QUALIFIERS)
                for prefix in _CONTEXT_PREFIXES:
                    keep &= ~r.qualifier.startswith(prefix)
                o = log.objects
                # the types of the objects some event handles: joined straight to the objects
                # (the hash table on their side) and reduced to a handful of types, not first
                # to the distinct ids of 20M relations (10M events: 1.0 s instead of 2.6-3.3)
                handled = (
                    r.filter(keep)
                    .select("object_id")
                    .join(o.filter(~o.object_type.isin(_CONTEXT_TYPES)), "object_id")
                    .select("object_type")
                    .distinct()
                    .order_by("object_type")
                )
                col = log.execute(handled).column("object_type")
                self._cache["types"] = [str(v) for v in col.to_pylist()]
        types: list[str] = self._cache["types"]
        return types

    def cycling(self) -> list[str]:
        """The handled types whose objects go round (trucks, forklifts, people): named with
        ``cycling_types``, else detected from their traces (:mod:`keiretsu.analytics.cycling`).
        Their repeated rounds are their work, not rework or repeated inspections."""
        if "cycling" not in self._cache:
            if self.cycling_types is not None:
                self._cache["cycling"] = sorted({str(t) for t in self.cycling_types})
                self._cache["cycling_view"] = None
            else:
                types = self.types()
                view = cycling_object_types(self.log, types) if types else None
                self._cache["cycling_view"] = view
                self._cache["cycling"] = list(view.meta["cycling"]) if view else []
        found: list[str] = self._cache["cycling"]
        return found

    def product_types(self) -> list[str]:
        """The handled types whose repeats are read as rework: :meth:`types` less
        :meth:`cycling`."""
        cycling = set(self.cycling())
        return [t for t in self.types() if t not in cycling]

    def cycling_notes(self) -> list[str]:
        """What was left out as cycling, with the evidence, and how to change it."""
        found = [t for t in self.cycling() if t in self.types()]
        if self.cycling_types is not None and not found:
            return ["every handled object type counted (cycling_types names none of them)"]
        if not found:
            return ["no handled object type goes round (cycling_object_types): all counted"]
        view: View | None = self._cache.get("cycling_view")
        why = ""
        if view is not None:
            evidence = {
                r["object_type"]: (r["cycling_objects"], r["objects"], r["mean_rounds"])
                for r in view.to_pylist()
            }
            parts = []
            for t in found:
                c, n, mean = evidence[t]
                parts.append(f"{t}: {c} of {n} objects go round, {mean:,.1f} rounds each")
            why = " (" + "; ".join(parts) + ")"
        how = (
            "named with cycling_types"
            if self.cycling_types is not None
            else "detected from their traces"
        )
        return [
            f"not counted: the repeated rounds of {', '.join(found)}, {how}{why} — their "
            "rounds are their work, not rework; count them with cycling_types=[] or name the "
            "types with cycling_types=[...]"
        ]

    def activities(self) -> list[str]:
        if "activities" not in self._cache:
            e = self.log.events
            table = self.log.execute(e.select("activity").distinct().order_by("activity"))
            self._cache["activities"] = [str(v) for v in table.column("activity").to_pylist()]
        acts: list[str] = self._cache["activities"]
        return acts

    def inspections(self) -> list[str]:
        if self.inspection_steps is not None:
            return sorted(self.inspection_steps)
        return [a for a in self.activities() if INSPECTION_PATTERN.search(a)]

    def defect_steps(self) -> list[str]:
        inspections = set(self.inspections())
        return [
            a for a in self.activities() if DEFECT_STEP_PATTERN.search(a) and a not in inspections
        ]


# --- public views ----------------------------------------------------------------------------


def wastes(
    log: Log,
    rates: Rates | None = None,
    object_type: str | None = None,
    target_days: float | Mapping[str, float] | None = None,
    *,
    value_adding: Collection[str] | None = None,
    inspection_steps: Collection[str] | None = None,
    cycling_types: Collection[str] | None = None,
    end_steps: Collection[str] | None = None,
) -> View:
    """The eight wastes of the node, one row each, always in the same order.

    Columns: ``waste``; ``measurable`` (false where the events cannot show it);
    ``hours`` (clock hours lost; empty where the waste has no time of its own or is not
    measurable); ``money`` (in ``rates.currency``); ``count`` (moves, objects, units, defects…
    as the evidence says); ``evidence`` (the steps, objects and locations behind it).

    ``object_type`` limits the object-level wastes to that type (default: every type of
    object handled — not locations, parties or resources). ``target_days`` is the target days
    of supply for Inventory (one figure, or per product). ``value_adding`` names the steps that
    add value, for the waiting time of logs without start/complete events.
    ``inspection_steps`` names the inspecting steps (default: steps named like an inspection).
    ``cycling_types`` names the object types that go round — trucks, forklifts, people — whose
    repeated rounds are not rework nor repeated inspections (default ``None``: detected from
    their traces by :func:`keiretsu.analytics.cycling.cycling_object_types`; ``[]`` counts
    every type); the notes say which were left out. ``end_steps`` names the steps at which
    goods leave to the customer, for Overproduction's demand where the events do not say
    (:func:`keiretsu.analytics.customer.customer_demand`).

    ``meta``: ``currency``, ``object_types`` (looked at), ``cycling_types`` (left out of
    Defects and Overprocessing) and ``overproduction`` (per product family: made, taken by the
    customers, over demand, days of demand, never used).
    """
    scope = _scope(
        log,
        rates,
        object_type,
        target_days,
        value_adding,
        inspection_steps,
        cycling_types,
        end_steps,
    )
    found = [_WASTE_FUNCTIONS[w](scope, False) for w in WASTES]
    rows: list[_Finding] = [f for f, _ in found]
    table = pa.table(
        {
            "waste": pa.array([f.waste for f in rows], pa.string()),
            "measurable": pa.array([f.measurable for f in rows], pa.bool_()),
            "hours": pa.array([f.hours for f in rows], pa.float64()),
            "money": pa.array([f.money for f in rows], pa.float64()),
            "count": pa.array([f.count for f in rows], pa.float64()),
            "evidence": pa.array([f.evidence for f in rows], pa.string()),
        }
    )
    notes = [f"money in {scope.rates.currency}"]
    types = scope.types()
    notes.append(
        "objects looked at: " + (", ".join(types) if types else "none (no handled objects)")
    )
    for f in rows:
        notes.extend(f"{f.waste}: {n}" for n in f.notes)
    meta: dict[str, Any] = {
        "currency": scope.rates.currency,
        "object_types": types,
        "cycling_types": [t for t in scope.cycling() if t in types],
        "overproduction": scope._cache.get("overproduction_families", []),
    }
    return View("wastes", table, tuple(notes), meta)


def waste_evidence(
    log: Log,
    waste: str,
    rates: Rates | None = None,
    object_type: str | None = None,
    target_days: float | Mapping[str, float] | None = None,
    *,
    value_adding: Collection[str] | None = None,
    inspection_steps: Collection[str] | None = None,
    cycling_types: Collection[str] | None = None,
    end_steps: Collection[str] | None = None,
) -> View:
    """The rows behind one waste of :func:`wastes` (same arguments): for Transport each move
    (object, from, to, departure, arrival, hours); for Inventory each location and product
    above target; for Motion each move of a resource; for Waiting each object's times; for
    Overproduction each product family (made, taken by the customers, over demand, days of
    demand, never used; :func:`never_used` lists the objects made and never used); for
    Overprocessing each repeated inspection; for Defects each defect with its kind. For unused
    Skills: no rows, and a note saying why."""
    if waste not in WASTES:
        raise ValueError(f"unknown waste {waste!r}: expected one of {', '.join(WASTES)}")
    scope = _scope(
        log,
        rates,
        object_type,
        target_days,
        value_adding,
        inspection_steps,
        cycling_types,
        end_steps,
    )
    finding, table = _WASTE_FUNCTIONS[waste](scope, True)
    notes = (finding.evidence, *finding.notes)
    return View(
        f"waste_evidence:{waste}",
        flow.utc_times(table) if table is not None else pa.table({}),
        notes,
        {"waste": waste, "measurable": finding.measurable, "currency": scope.rates.currency},
    )


def pareto(view: View) -> View:
    """The measurable wastes of a :func:`wastes` view ranked by money (then hours), with
    ``share`` (of the total money) and ``cumulative_share``: the few wastes that make most of
    the cost come first. Shares add up to 1; when nothing costs money they are empty."""
    t = view.table
    mask = pc.and_(t.column("measurable"), pc.is_valid(t.column("money")))
    t = t.filter(mask)
    rows = sorted(
        t.to_pylist(),
        key=lambda r: (-r["money"], -(r["hours"] or 0.0), WASTES.index(r["waste"])),
    )
    total = sum(r["money"] for r in rows)
    shares: list[float | None] = []
    cumulative: list[float | None] = []
    running = 0.0
    for r in rows:
        if total > 0:
            running += r["money"]
            shares.append(r["money"] / total)
            cumulative.append(running / total)
        else:
            shares.append(None)
            cumulative.append(None)
    if rows and total > 0:
        cumulative[-1] = 1.0  # exact, whatever the float rounding on the way
    out = pa.table(
        {
            "waste": pa.array([r["waste"] for r in rows], pa.string()),
            "money": pa.array([r["money"] for r in rows], pa.float64()),
            "hours": pa.array([r["hours"] for r in rows], pa.float64()),
            "count": pa.array([r["count"] for r in rows], pa.float64()),
            "share": pa.array(shares, pa.float64()),
            "cumulative_share": pa.array(cumulative, pa.float64()),
        }
    )
    notes = ["measurable wastes only, ranked by money then hours"]
    if total <= 0:
        notes.append("no measurable waste costs money here: shares left empty")
    return View("waste_pareto", out, tuple(notes), dict(view.meta))


# --- shared pieces ---------------------------------------------------------------------------


def _scope(
    log: Log,
    rates: Rates | None,
    object_type: str | None,
    target_days: float | Mapping[str, float] | None,
    value_adding: Collection[str] | None,
    inspection_steps: Collection[str] | None,
    cycling_types: Collection[str] | None = None,
    end_steps: Collection[str] | None = None,
) -> _Scope:
    return _Scope(
        log,
        rates or Rates(),
        object_type,
        target_days,
        value_adding,
        inspection_steps,
        cycling_types=cycling_types,
        end_steps=end_steps,
    )


def _handled_events(scope: _Scope, types: list[str] | None = None) -> ir.Table:
    """Each handled object's passes (of ``types``, default every handled type), without the XES
    lifecycle events that are not completions (so that a step with a start and a complete is
    one pass, not two: :func:`keiretsu.analytics.cycling.completions`)."""
    return completions(scope.log, scope.types() if types is None else types)


def _repeats(
    scope: _Scope,
    keep: Callable[[ir.Table], ir.BooleanValue] | None = None,
    types: list[str] | None = None,
) -> ir.Table:
    """Every pass of a step on an object after its first (``visit`` >= 1), with the previous
    step of the object and the time of the previous pass of the same step; ``keep`` narrows
    them (e.g. to inspections) before the multiplicity check below, which is the costly part.

    A pass made for a different object of another type than the previous pass (an order's
    second item picked; an employee confirming the next order) is the step's multiplicity,
    not a repetition, and is left out: for some other handled type both passes touch objects
    of that type, and none in common."""
    if stored_passes(scope.log, NOT_COMPLETIONS):
        # every event is a completion: the store's traces carry the previous step and the
        # passes already (schema 9), no window over every handled object's trace
        s = trace_steps(scope.log, scope.types() if types is None else types)
        t = s.select(
            "object_id",
            "object_type",
            "event_id",
            "activity",
            "time",
            "seq",
            "prev_activity",
            visit=s.pass_index,
            prev_pass_time=s.prev_pass_time,
            prev_pass_event=s.prev_pass_event_id,
            prev_pass_seq=s.prev_pass_seq,
        )
    else:
        oe = _handled_events(scope, types)
        trace = ibis.window(group_by=["object_type", "object_id"], order_by=["time", "seq"])
        same = ibis.window(
            group_by=["object_type", "object_id", "activity"], order_by=["time", "seq"]
        )
        t = oe.mutate(
            prev_activity=oe.activity.lag().over(trace),
            visit=ibis.row_number().over(same),
            prev_pass_time=oe.time.lag().over(same),
            prev_pass_event=oe.event_id.lag().over(same),
            prev_pass_seq=oe.seq.lag().over(same),
        )
    rep = t.filter(t.visit > 0)
    if keep is not None:
        rep = rep.filter(keep(rep))
    if len(scope.types()) < 2 and scope.object_type is None:
        return rep.drop("prev_pass_seq")  # no other handled type to tell multiplicity by
    # The two passes' events are told apart by their read order (``seq``, one per event):
    # integer keys join faster than text ids.
    pairs = rep.select(x="object_id", x_type="object_type", s1="prev_pass_seq", s2="seq")
    # only the two passes' events are ever looked at: the handled objects' rows narrowed to
    # them first (a semi-join on integers), not every event's objects counted (at 10M events
    # counting them all took 12 of this query's 13 CPU-seconds)
    passes = pairs.select(s=pairs.s1).union(pairs.select(s=pairs.s2))
    h = object_events(scope.log, _all_handled(scope))
    h = h.select(s="seq", other_id="object_id", other_type="object_type")
    h = h.semi_join(passes, "s")
    # objects of each type on each pass, the object itself left out
    per_type = h.group_by(["s", "other_type"]).agg(n=h.count())
    seen = []
    for key in ("s1", "s2"):
        j = pairs.join(per_type, pairs[key] == per_type.s)
        others = j.n - (j.other_type == j.x_type).cast("int64")
        seen.append(j.filter(others > 0).select("x", "s2", "other_type"))
    both_seen = seen[0].join(seen[1], ["x", "s2", "other_type"]).select("x", "s2", "other_type")
    # objects on both passes (other than the object itself), by type
    first = pairs.join(h, [pairs.s1 == h.s, pairs.x != h.other_id]).select(
        "x", "s2", "other_type", "other_id"
    )
    h2 = h.view()
    common = (
        first.semi_join(h2, [first.s2 == h2.s, first.other_id == h2.other_id])
        .select("x", "s2", "other_type")
        .distinct()
    )
    divergent = both_seen.anti_join(common, ["x", "s2", "other_type"]).select("x", "s2").distinct()
    out = rep.anti_join(divergent, [rep.object_id == divergent.x, rep.seq == divergent.s2])
    return out.drop("prev_pass_seq")


def _top(items: list[tuple[str, float]], n: int = 3) -> str:
    shown = "; ".join(text for text, _ in items[:n])
    if len(items) > n:
        shown += f"; and {len(items) - n} more"
    return shown


def _hours(seconds: ir.FloatingValue) -> ir.FloatingValue:
    return seconds / 3600.0


def _fmt(x: float) -> str:
    # sums taken in another order (another engine, the store's traces or the windows) differ
    # in the last bits: 0.35 h printed 0.4 from one and 0.3 from the other. Rounded to 1e-9
    # first, both print the same.
    x = round(x, 9)
    return f"{x:,.1f}" if abs(x) < 1e5 else f"{x:,.0f}"


def _empty(schema: Mapping[str, pa.DataType]) -> pa.Table:
    return pa.table({k: pa.array([], v) for k, v in schema.items()})


_Result = tuple[_Finding, pa.Table | None]


# --- Transport --------------------------------------------------------------------------------


def _moves(scope: _Scope) -> ir.Table:
    """Every counted move of a handled object between two business locations."""
    log = scope.log
    # containers may be of a type not asked for (a pallet carrying the cases asked for)
    everything = _Scope(log, scope.rates, None, None, None, None, {"types": _all_handled(scope)})
    if stored_passes(log):
        # the store's traces keep each step's location, the object's previous one and the
        # previous step's time (schema 9): no join, no window over every handled trace
        s = trace_steps(log, everything.types())
        located = s.filter(s.location.notnull()).select(
            "object_id",
            "object_type",
            "event_id",
            "time",
            "prev_time",
            "location",
            from_location=s.prev_location,
        )
    else:
        r = log.relations
        site = (
            r.filter(r.qualifier == "bizLocation")
            .group_by("event_id")
            .agg(location=r.filter(r.qualifier == "bizLocation").object_id.min())
        )
        oe = object_events(log, everything.types())
        trace = ibis.window(group_by=["object_type", "object_id"], order_by=["time", "seq"])
        oe = oe.mutate(prev_time=oe.time.lag().over(trace))
        located = oe.join(site, "event_id")
        located = located.mutate(from_location=located.location.lag().over(trace))
    moves = located.filter(
        located.from_location.notnull() & (located.from_location != located.location)
    ).select(
        "object_id",
        "object_type",
        "event_id",
        "from_location",
        to_location=located.location,
        departure=located.prev_time,
        arrival=located.time,
    )
    # a move made inside a container that made the same move meanwhile is the container's
    c = log.object_relations.filter(log.object_relations.qualifier == "contains")
    outer = moves.view()
    # each contained object with its containers' moves, made distinct first: the DISTINCT
    # keeps the planner from joining the moves to their containers' moves on the lane alone
    # (from, to: a handful of values) before the object — a product of every object's move
    # with every container's move on the same lane (minutes and tens of GB on 1M events)
    inside = (
        c.join(outer, outer.object_id == c.source_id)
        .select(
            carried_id=c.target_id,
            lane_from=outer.from_location,
            lane_to=outer.to_location,
            outer_arrival=outer.arrival,
        )
        .distinct()
    )
    carried = (
        moves.join(
            inside,
            [
                inside.carried_id == moves.object_id,
                inside.lane_from == moves.from_location,
                inside.lane_to == moves.to_location,
                inside.outer_arrival >= moves.departure,
                inside.outer_arrival <= moves.arrival,
            ],
        )
        .select(carried_id=moves.object_id, carried_event=moves.event_id)
        .distinct()
    )
    counted = moves.anti_join(
        carried,
        [moves.object_id == carried.carried_id, moves.event_id == carried.carried_event],
    )
    if scope.object_type is not None:
        counted = counted.filter(counted.object_type == scope.object_type)
    return counted.mutate(hours=_hours(seconds_between(counted.departure, counted.arrival)))


def _all_handled(scope: _Scope) -> list[str]:
    if scope.object_type is None:
        return scope.types()
    return _Scope(scope.log, scope.rates, None, None, None, None).types()


def _has_qualifier(log: Log, qualifier: str) -> bool:
    r = log.relations
    return bool(log.scalar(r.filter(r.qualifier == qualifier).count()) > 0)


def _transport(scope: _Scope, detail: bool) -> _Result:
    log, rates = scope.log, scope.rates
    if not _has_qualifier(log, "bizLocation"):
        return _Finding(
            "transport",
            False,
            None,
            None,
            None,
            "not measurable: needs where each event happened (EPCIS bizLocation); "
            "this log has no locations",
        ), None
    moves = _moves(scope)
    routes = log.execute(
        moves.group_by(["from_location", "to_location"])
        .agg(moves=moves.count(), hours=moves.hours.sum())
        .order_by([ibis.desc("moves"), "from_location", "to_location"])
    )
    n = int(pc.sum(routes.column("moves")).as_py() or 0)
    hours = float(pc.sum(routes.column("hours")).as_py() or 0.0)
    money = n * rates.transport_per_move + hours * rates.transport_per_hour
    items = [
        (f"{f} → {t}: {m} moves, {_fmt(h)} h", m)
        for f, t, m, h in zip(
            routes.column("from_location").to_pylist(),
            routes.column("to_location").to_pylist(),
            routes.column("moves").to_pylist(),
            routes.column("hours").to_pylist(),
            strict=True,
        )
    ]
    evidence = f"{n} moves between locations, {_fmt(hours)} h in transit" + (
        f": {_top(items)}" if items else ""
    )
    finding = _Finding(
        "transport",
        True,
        hours,
        money,
        float(n),
        evidence,
        (
            "a move = an object's event at a business location after one elsewhere; "
            "time from its previous event (the shipping) to the arrival; objects carried "
            "inside a container that made the same move are counted once, with the container",
            f"money = moves x {rates.transport_per_move:g} + hours x {rates.transport_per_hour:g}",
        ),
    )
    table = None
    if detail:
        table = log.execute(moves.order_by(["arrival", "object_id", "event_id"]))
        table = table.append_column(
            "money",
            pc.add(
                pc.multiply(table.column("hours"), rates.transport_per_hour),
                rates.transport_per_move,
            ),
        )
    return finding, table


# --- Inventory --------------------------------------------------------------------------------


def _inventory(scope: _Scope, detail: bool) -> _Result:
    log, rates = scope.log, scope.rates
    if not _has_qualifier_in(log, ("bizLocation", "readPoint")):
        return _Finding(
            "inventory",
            False,
            None,
            None,
            None,
            "not measurable: needs stock per location and product (EPCIS events with "
            "bizLocation and quantities or EPCs); this log has no locations",
        ), None
    t = days_of_supply(log, targets=scope.target_days).table
    if t.num_rows == 0 or scope.target_days is None:
        why = (
            "no stock found"
            if t.num_rows == 0
            else "no target days of supply set (pass target_days)"
        )
        return _Finding(
            "inventory",
            False,
            None,
            None,
            None,
            f"not measurable: {why}; needs stock per location and product and a target "
            "days of supply",
        ), None
    span_days = _span_days(log)
    rows = []
    for row in t.to_pylist():
        excess = row["stock_above_target"]
        if excess is None or not excess > 0:
            continue
        value = excess * rates.value_of(str(row["product"]))
        yearly = value * rates.holding_per_year
        rows.append(
            {
                "location": row["location"],
                "product": row["product"],
                "uom": row["uom"],
                "stock": row["stock"],
                "daily_demand": row["daily_demand"],
                "days_of_supply": row["days_of_supply"],
                "target_days": row["target_days"],
                "excess_units": float(excess),
                "excess_value": value,
                "holding_cost_per_year": yearly,
                "money": yearly * span_days / 365.0,
            }
        )
    rows.sort(key=lambda r: (-r["money"], str(r["location"]), str(r["product"])))
    money = sum(r["money"] for r in rows)
    units = sum(r["excess_units"] for r in rows)
    items = [
        (
            f"{r['product']} at {r['location']}: {_fmt(r['excess_units'])} units above "
            f"{_fmt(r['target_days'])} days",
            r["money"],
        )
        for r in rows
    ]
    evidence = (
        f"{_fmt(units)} units above target in {len(rows)} location-product pairs, "
        f"{_fmt(sum(r['excess_value'] for r in rows))} {rates.currency} tied up"
        + (f": {_top(items)}" if items else "")
    )
    finding = _Finding(
        "inventory",
        True,
        None,
        money,
        units,
        evidence,
        (
            "excess = stock above target days x daily demand (inventory.days_of_supply: "
            "all of it when nothing was demanded), in the product's unit of measure",
            "money = excess x unit value x holding rate per year x the "
            f"{_fmt(span_days)} days the log covers; no hours of its own",
        ),
    )
    table = None
    if detail:
        schema = {
            "location": pa.string(),
            "product": pa.string(),
            "uom": pa.string(),
            "stock": pa.float64(),
            "daily_demand": pa.float64(),
            "days_of_supply": pa.float64(),
            "target_days": pa.float64(),
            "excess_units": pa.float64(),
            "excess_value": pa.float64(),
            "holding_cost_per_year": pa.float64(),
            "money": pa.float64(),
        }
        table = pa.Table.from_pylist(rows, pa.schema(schema)) if rows else _empty(schema)
    return finding, table


def _has_qualifier_in(log: Log, qualifiers: tuple[str, ...]) -> bool:
    r = log.relations
    return bool(log.scalar(r.filter(r.qualifier.isin(qualifiers)).count()) > 0)


def _span_days(log: Log) -> float:
    e = log.events
    seconds = log.scalar(seconds_between(e.time.min(), e.time.max()))
    return float(seconds or 0.0) / 86400.0


# --- Motion -----------------------------------------------------------------------------------


def _motion(scope: _Scope, detail: bool) -> _Result:
    log, rates = scope.log, scope.rates
    r = log.relations
    who = r.filter(r.qualifier == "resource").select("event_id", resource="object_id")
    where = (
        r.filter(r.qualifier == "readPoint")
        .group_by("event_id")
        .agg(read_point=r.filter(r.qualifier == "readPoint").object_id.min())
    )
    site = (
        r.filter(r.qualifier == "bizLocation")
        .group_by("event_id")
        .agg(site=r.filter(r.qualifier == "bizLocation").object_id.min())
    )
    steps = who.join(where, "event_id").join(log.events, "event_id")
    if not log.scalar(steps.count()):
        return _Finding(
            "motion",
            False,
            None,
            None,
            None,
            "not measurable: needs who did each step (XES org:resource or a resource object) "
            "and where it was done (EPCIS readPoint) on the same events; this log has "
            + ("neither" if not _has_qualifier_in(log, ("resource", "readPoint")) else "not both"),
        ), None
    steps = steps.left_join(site, steps.event_id == site.event_id).drop("event_id_right")
    w = ibis.window(group_by="resource", order_by=["time", "seq"])
    steps = steps.mutate(
        from_read_point=steps.read_point.lag().over(w),
        from_site=steps.site.lag().over(w),
        from_time=steps.time.lag().over(w),
    )
    same_site = (steps.from_site == steps.site) | (steps.from_site.isnull() & steps.site.isnull())
    moves = steps.filter(
        steps.from_read_point.notnull() & (steps.from_read_point != steps.read_point) & same_site
    ).select(
        "resource",
        "event_id",
        "activity",
        site=steps.site,
        from_read_point=steps.from_read_point,
        to_read_point=steps.read_point,
        departure=steps.from_time,
        arrival=steps.time,
        hours=_hours(seconds_between(steps.from_time, steps.time)),
    )
    per = log.execute(
        moves.group_by("resource")
        .agg(moves=moves.count(), hours=moves.hours.sum())
        .order_by([ibis.desc("hours"), "resource"])
    )
    n = int(pc.sum(per.column("moves")).as_py() or 0)
    hours = float(pc.sum(per.column("hours")).as_py() or 0.0)
    items = [
        (f"{res}: {m} moves, {_fmt(h)} h", h)
        for res, m, h in zip(
            per.column("resource").to_pylist(),
            per.column("moves").to_pylist(),
            per.column("hours").to_pylist(),
            strict=True,
        )
    ]
    evidence = f"{n} moves of people or equipment between read points within a site" + (
        f", {_fmt(hours)} h: {_top(items)}" if items else ""
    )
    finding = _Finding(
        "motion",
        True,
        hours,
        hours * rates.motion_per_hour,
        float(n),
        evidence,
        (
            "hours = time between a resource's two consecutive steps at different read "
            "points of one site (an upper bound of the walking)",
            f"money = hours x {rates.motion_per_hour:g}",
        ),
    )
    table = None
    if detail:
        table = log.execute(moves.order_by(["arrival", "resource", "event_id"]))
        table = table.append_column(
            "money", pc.multiply(table.column("hours"), rates.motion_per_hour)
        )
    return finding, table


# --- Waiting ----------------------------------------------------------------------------------


def _waiting(scope: _Scope, detail: bool) -> _Result:
    log, rates = scope.log, scope.rates
    parts: list[pa.Table] = []
    notes: list[str] = []
    for object_type in scope.types():
        times = flow.object_times(log, object_type, value_adding=scope.value_adding)
        table = times.table
        notes.extend(f"{object_type}: {n}" for n in times.notes)
        keep = ["object_id", "object_type", "lead_seconds", "processing_seconds"]
        keep.append("waiting_seconds")
        table = table.select(keep)
        rate = rates.waiting_rate(object_type)
        hours = pc.divide(pc.cast(table.column("waiting_seconds"), pa.float64()), 3600.0)
        table = table.append_column("waiting_hours", hours)
        table = table.append_column("money", pc.multiply(hours, rate))
        parts.append(table)
    if not parts or sum(p.num_rows for p in parts) == 0:
        return _Finding(
            "waiting", False, None, None, None, "not measurable: no objects with events"
        ), None
    t = pa.concat_tables(parts)
    known = t.filter(pc.is_valid(t.column("waiting_hours")))
    if known.num_rows == 0:
        return _Finding(
            "waiting",
            False,
            None,
            None,
            None,
            "not measurable: waiting needs processing times: start/complete events, or name "
            "the value-adding steps (value_adding=...)",
            tuple(notes),
        ), (t if detail else None)
    hours = float(pc.sum(known.column("waiting_hours")).as_py() or 0.0)
    money = float(pc.sum(known.column("money")).as_py() or 0.0)
    waited = known.filter(pc.greater(known.column("waiting_hours"), 0.0))
    by_type = []
    for object_type in scope.types():
        mine = waited.filter(pc.equal(waited.column("object_type"), object_type))
        if mine.num_rows:
            h = float(pc.sum(mine.column("waiting_hours")).as_py() or 0.0)
            by_type.append((f"{object_type}: {mine.num_rows} objects, {_fmt(h)} h", h))
    by_type.sort(key=lambda x: -x[1])
    longest = waited.sort_by([("waiting_hours", "descending"), ("object_id", "ascending")])
    longest_ids = [
        f"{o} ({_fmt(h)} h)"
        for o, h in zip(
            longest.column("object_id").to_pylist()[:3],
            longest.column("waiting_hours").to_pylist()[:3],
            strict=True,
        )
    ]
    evidence = f"{waited.num_rows} objects waited {_fmt(hours)} h in all"
    if by_type:
        evidence += f" — {_top(by_type)}"
    if longest_ids:
        evidence += f"; longest: {', '.join(longest_ids)}"
    finding = _Finding(
        "waiting",
        True,
        hours,
        money,
        float(waited.num_rows),
        evidence,
        (
            "waiting = lead time - processing time per object (flow.object_times); "
            "money = hours x the waiting rate of the object's type",
            "which steps objects wait before: flow.step_stats (mean_wait_before_seconds)",
            *notes,
        ),
    )
    table_out = None
    if detail:
        table_out = t.sort_by([("object_type", "ascending"), ("object_id", "ascending")])
    return finding, table_out


# --- Overproduction ---------------------------------------------------------------------------

_FAMILY_SCHEMA = pa.schema(
    [
        ("family", pa.string()),
        ("unit", pa.string()),
        ("made", pa.float64()),
        ("taken", pa.float64()),
        ("over_demand", pa.float64()),
        ("per_day", pa.float64()),
        ("days_of_demand", pa.float64()),
        ("never_used", pa.float64()),
        ("money", pa.float64()),
    ]
)


def _made(scope: _Scope) -> ir.Table:
    """Each object made, once (its first making): ``object_id, object_type, made_event,
    made_step, made_time, made_seq, units, uom`` (class-level outputs carry a quantity)."""
    log = scope.log
    r, ea, e = log.relations, log.event_attributes, log.events
    action = ea.filter(ea.name == "action").select("event_id", action="value")
    kind = ea.filter(ea.name == "eventType").select("event_id", event_type="value")
    made_rel = r.left_join(action, r.event_id == action.event_id).drop("event_id_right")
    made_rel = made_rel.left_join(kind, made_rel.event_id == kind.event_id).drop("event_id_right")
    commissioned = (
        (made_rel.qualifier == "epc")
        & (made_rel.action == "ADD")
        & (made_rel.event_type == "ObjectEvent")
    )
    made = made_rel.filter(commissioned | (made_rel.qualifier == "output"))
    made = made.join(e, "event_id").join(log.objects, "object_id")
    if scope.object_type is not None:
        made = made.filter(made.object_type == scope.object_type)
    w = ibis.window(group_by="object_id", order_by=["time", "seq"])
    made = made.mutate(n=ibis.row_number().over(w))
    return made.filter(made.n == 0).select(
        "object_id",
        "object_type",
        made_event=made.event_id,
        made_step=made.activity,
        made_time=made.time,
        made_seq=made.seq,
        units=made.quantity.fill_null(1.0),
        uom=made.uom,
    )


def _unused(scope: _Scope, made: ir.Table) -> ir.Table:
    """The objects of ``made`` that nothing downstream ever used, with their ``product``."""
    log = scope.log
    r, e = log.relations, log.events
    # only the made objects' links (the rest of the log's cannot be a use of one)
    later = r.select("event_id", "object_id").semi_join(made, "object_id").distinct()
    later = later.join(e, "event_id")
    later = later.filter(~later.activity.isin(NOT_A_USE))
    uses = made.join(
        later,
        [
            made.object_id == later.object_id,
            (later.time > made.made_time)
            | ((later.time == made.made_time) & (later.seq > made.made_seq)),
        ],
    )
    first_use = uses.group_by(uses.object_id).agg(used_at=uses.time.min())
    # objects made after the last time anything made moved on have had no chance yet
    horizon = first_use.used_at.max().as_scalar()
    unused = made.anti_join(first_use, "object_id").filter(made.made_time < horizon)
    return unused.mutate(product=product_of(unused.object_id))


def _by_type(scope: _Scope) -> bool:
    """Whether product families are object types (declared end steps, or a log without EPCIS
    semantics: the demand is finished objects) rather than products (GTINs)."""
    return bool(scope.end_steps) or not has_epcis_semantics(scope.log)


def _families(scope: _Scope, made: ir.Table, unused: ir.Table) -> tuple[list[dict[str, Any]], str]:
    """One row per product family (:data:`_FAMILY_SCHEMA`), and why the over-demand is not
    measurable ("" when it is)."""
    log, rates = scope.log, scope.rates
    by_type = _by_type(scope)

    def per_family(t: ir.Table, what: str) -> dict[str, tuple[float, str | None]]:
        family = t.object_type if by_type else product_of(t.object_id)
        amount = t.count().cast("float64") if by_type else t.units.sum()
        t = t.mutate(family=family)
        rows = log.execute(
            t.group_by("family").agg(amount=amount, uom=t.uom.max()).order_by("family")
        ).to_pylist()
        return {str(r["family"]): (float(r["amount"] or 0.0), r["uom"]) for r in rows}

    made_per = per_family(made, "made")
    unused_per = per_family(unused, "unused")
    demand: dict[str, dict[str, Any]] = {}
    if by_type:
        for object_type in made_per:
            view = customer_demand(log, object_type=object_type, end_steps=scope.end_steps)
            demand.update({str(r["family"]): r for r in view.to_pylist()})
    else:
        demand = {str(r["family"]): r for r in customer_demand(log).to_pylist()}
    why = ""
    if not any(float(r["quantity"] or 0.0) > 0 for r in demand.values()):
        why = (
            "not measurable — needs where goods leave to the customer (sold, or shipped outside "
            "the network; or name the end steps with end_steps=...)"
        )
    rows: list[dict[str, Any]] = []
    for family in sorted(set(made_per) | set(unused_per)):
        made_units, uom = made_per.get(family, (0.0, None))
        never = unused_per.get(family, (0.0, None))[0]
        d = demand.get(family)
        unit = str(d["unit"]) if d else (family if by_type else (uom or "pieces"))
        value = rates.value_of(family)
        if why:
            taken = over = per_day = days = None
            money = never * value
        else:
            taken = float(d["quantity"]) if d else 0.0
            over = max(0.0, made_units - taken)
            per_day = float(d["per_day"]) if d and d["per_day"] is not None else None
            days = over / per_day if per_day else None
            money = over * value
        rows.append(
            {
                "family": family,
                "unit": unit,
                "made": made_units,
                "taken": taken,
                "over_demand": over,
                "per_day": per_day,
                "days_of_demand": days,
                "never_used": never,
                "money": money,
            }
        )
    rows.sort(key=lambda x: (-float(x["money"]), str(x["family"])))
    return rows, why


def _overproduction(scope: _Scope, detail: bool) -> _Result:
    log = scope.log
    made = _made(scope)
    if not log.scalar(made.count()):
        return _Finding(
            "overproduction",
            False,
            None,
            None,
            None,
            "not measurable: needs events that make objects (EPCIS commissioning: an "
            "ObjectEvent ADD, or a transformation's outputs); this log has none",
        ), None
    unused = _unused(scope, made)
    rows, why = _families(scope, made, unused)
    scope._cache["overproduction_families"] = rows
    never = sum(float(r["never_used"]) for r in rows)
    money = sum(float(r["money"]) for r in rows)
    never_text = f"made and never used downstream: {_fmt(never)} units"
    if why:
        count = never
        items = [
            (f"{r['family']}: {_fmt(float(r['never_used']))} units", float(r["money"]))
            for r in rows
            if r["never_used"]
        ]
        evidence = (
            never_text
            + (f" ({_top(items)})" if items else "")
            + f"; made beyond customer demand {why}"
        )
    else:
        count = sum(float(r["over_demand"]) for r in rows)
        items = []
        for r in rows:
            if not r["over_demand"]:
                continue
            text = (
                f"{r['family']}: made {_fmt(float(r['made']))}, taken {_fmt(float(r['taken']))}, "
                f"{_fmt(float(r['over_demand']))} {r['unit']} over"
            )
            if r["days_of_demand"] is not None:
                text += (
                    f" = {_fmt(float(r['days_of_demand']))} days of demand at "
                    f"{_fmt(float(r['per_day']))}/day"
                )
            else:
                text += " (no customer demand for it: days of demand not measurable)"
            items.append((text, float(r["money"])))
        evidence = (
            f"{_fmt(count)} units made beyond what the customers took"
            + (f": {_top(items)}" if items else "")
            + f"; {never_text}"
        )
    notes = [
        "made = EPCIS commissioning (ObjectEvent ADD) or transformation output, over the log's "
        "span; taken = what the customers took (customer.customer_demand: sold, or shipped "
        "outside the network; finished objects where the events do not say); over demand = "
        "made - taken per product family, never below 0; days of demand = over demand / "
        "taken per day",
        "made and never used (named separately, not added): objects made that no later step "
        f"moved on (any step other than {', '.join(NOT_A_USE)}); objects made after the last "
        "use of anything made are left out (too soon to tell)",
        "the goods made beyond demand are in stock or on their way: the same goods as "
        "Inventory's excess, so do not add the two",
    ]
    if why:
        notes.append(
            f"made beyond customer demand {why}: count and money are the units made and never used"
        )
        notes.append("money = units made and never used x unit value; no hours of its own")
    else:
        notes.append("money = units over demand x unit value; no hours of its own")
    if _by_type(scope):
        notes.append("families are object types and units are objects (no GTINs to count by)")
    finding = _Finding("overproduction", True, None, money, count, evidence, tuple(notes))
    table = pa.Table.from_pylist(rows, _FAMILY_SCHEMA) if detail else None
    return finding, table


def never_used(
    log: Log,
    rates: Rates | None = None,
    object_type: str | None = None,
) -> View:
    """The objects made and never used downstream: each object made (EPCIS commissioning, a
    transformation's output) that no later step moved on — the part of Overproduction that
    sits where it was made. Columns: ``object_id, object_type, product, made_event,
    made_step, made_time, units`` and ``money`` (units x unit value, in ``rates.currency``).
    Objects made after the last use of anything made are left out (too soon to tell)."""
    scope = _scope(log, rates, object_type, None, None, None)
    made = _made(scope)
    unused = _unused(scope, made)
    table = log.execute(
        unused.select(
            "object_id",
            "object_type",
            "product",
            "made_event",
            "made_step",
            "made_time",
            "units",
        ).order_by(["made_time", "object_id"])
    )
    values = [
        u * scope.rates.value_of(str(p))
        for u, p in zip(
            table.column("units").to_pylist(),
            table.column("product").to_pylist(),
            strict=True,
        )
    ]
    table = table.append_column("money", pa.array(values, pa.float64()))
    notes = (
        "made = EPCIS commissioning (ObjectEvent ADD) or transformation output; used = any "
        f"later step other than {', '.join(NOT_A_USE)}; objects made after the last use of "
        "anything made are left out (too soon to tell)",
        f"money in {scope.rates.currency}",
    )
    return View("never_used", flow.utc_times(table), notes, {"currency": scope.rates.currency})


# --- Overprocessing ---------------------------------------------------------------------------


def _overprocessing(scope: _Scope, detail: bool) -> _Result:
    log, rates = scope.log, scope.rates
    inspections = scope.inspections()
    if not inspections:
        return _Finding(
            "overprocessing",
            True,
            0.0,
            0.0,
            0.0,
            "no inspecting steps in this log (name them with inspection_steps=...)",
            ("steps nothing downstream depends on are not inferred from events",),
        ), (_empty({"object_id": pa.string()}) if detail else None)
    product_types = scope.product_types()
    rep = _repeats(scope, lambda t: t.activity.isin(inspections), product_types)
    if not product_types:
        rep = rep.filter(ibis.literal(False))
    per = log.execute(
        rep.group_by("activity")
        .agg(repeats=rep.count(), objects=rep.object_id.nunique())
        .order_by([ibis.desc("repeats"), "activity"])
    )
    n = 0
    hours = 0.0
    items = []
    for act, repeats, objects in zip(
        per.column("activity").to_pylist(),
        per.column("repeats").to_pylist(),
        per.column("objects").to_pylist(),
        strict=True,
    ):
        h = repeats * rates.inspection_hours_of(str(act))
        n += repeats
        hours += h
        items.append((f"{act}: {repeats} repeats on {objects} objects", h))
    evidence = f"{n} inspections repeated on the same object" + (
        f": {_top(items)}" if items else ""
    )
    finding = _Finding(
        "overprocessing",
        True,
        hours,
        hours * rates.overprocessing_per_hour,
        float(n),
        evidence,
        (
            f"inspecting steps: {', '.join(inspections)}",
            "hours = repeats x the standard time of the inspection in the rates (not "
            f"measured); money = hours x {rates.overprocessing_per_hour:g}",
            "steps nothing downstream depends on are not inferred from events",
            *scope.cycling_notes(),
        ),
    )
    table = None
    if detail:
        table = log.execute(
            rep.select(
                "object_id",
                "object_type",
                "event_id",
                "activity",
                "time",
                pass_number=rep.visit + 1,
                previous_pass=rep.prev_pass_time,
            ).order_by(["time", "object_type", "object_id", "event_id"])
        )
        h = [rates.inspection_hours_of(str(a)) for a in table.column("activity").to_pylist()]
        table = table.append_column("hours", pa.array(h, pa.float64()))
        table = table.append_column(
            "money", pc.multiply(table.column("hours"), rates.overprocessing_per_hour)
        )
    return finding, table


# --- Defects ----------------------------------------------------------------------------------

_DEFECT_KINDS = ("error declaration", "return", "non-conforming", "defect step", "rework")


def _defect_rows(scope: _Scope) -> ir.Table:
    """One row per defect: ``kind, step, reason, object_id, object_type, event_id, time,
    hours`` (hours only for rework: the time round the loop)."""
    log = scope.log
    r, ea, e = log.relations, log.event_attributes, log.events
    types = scope.product_types()  # the objects that go round are left out
    string, float64 = "string", "float64"

    def shape(t: ir.Table, kind: Any, reason: Any, hours: Any) -> ir.Table:
        return t.select(
            kind=kind,
            step=t.activity.cast(string),
            reason=reason,
            object_id=t.object_id.cast(string),
            object_type=t.object_type.cast(string),
            event_id=t.event_id.cast(string),
            time=t.time,
            hours=hours,
        )

    no_reason = ibis.literal("", string)
    no_hours = ibis.null().cast(float64)
    parts = []

    # rework: a step done again after another step (not inspections nor failure steps)
    not_rework = [*scope.inspections(), *scope.defect_steps()]
    rework = _repeats(
        scope, lambda t: (t.prev_activity != t.activity) & ~t.activity.isin(not_rework), types
    )
    if not types:
        rework = rework.filter(ibis.literal(False))
    parts.append(
        shape(
            rework,
            ibis.literal("rework"),
            no_reason,
            _hours(seconds_between(rework.prev_pass_time, rework.time)),
        )
    )

    # dispositions on the things an EPCIS event handled
    disp = ea.filter((ea.name == "disposition") & ea.value.isin(DEFECT_DISPOSITIONS))
    disp = disp.select("event_id", reason="value")
    what = r.filter(r.qualifier.isin(_WHAT_QUALIFIERS)).select("event_id", "object_id")
    flagged = (
        disp.join(what, "event_id")
        .distinct()
        .join(log.objects.filter(log.objects.object_type.isin(types)), "object_id")
        .join(e, "event_id")
    )
    parts.append(
        shape(
            flagged,
            ibis.ifelse(flagged.reason == "returned", "return", "non-conforming"),
            flagged.reason.cast(string),
            no_hours,
        )
    )

    # steps named for a failure
    named = scope.defect_steps()
    if named and types:
        oe = _handled_events(scope, types)
        hit = oe.filter(oe.activity.isin(named))
        is_return = hit.activity.lower().contains("return")
        parts.append(
            shape(hit, ibis.ifelse(is_return, "return", "defect step"), no_reason, no_hours)
        )

    # EPCIS error declarations: the sender said an event was wrong
    declared = ea.filter(ea.name.startswith("errorDeclaration.")).select("event_id").distinct()
    reason = ea.filter(ea.name == "errorDeclaration.reason").select("event_id", reason="value")
    decl = declared.join(e, "event_id")
    decl = decl.left_join(reason, decl.event_id == reason.event_id).drop("event_id_right")
    if scope.object_type is not None:
        mine = r.join(log.objects.filter(log.objects.object_type == scope.object_type), "object_id")
        decl = decl.semi_join(mine, decl.event_id == mine.event_id)
    decl = decl.mutate(object_id=ibis.null().cast(string), object_type=ibis.null().cast(string))
    parts.append(
        shape(decl, ibis.literal("error declaration"), decl.reason.fill_null(""), no_hours)
    )

    rows = ibis.union(*parts, distinct=False)
    # an object flagged two ways by one event is one defect: keep the most telling kind
    priority = ibis.cases(
        *((rows.kind == k, i) for i, k in enumerate(_DEFECT_KINDS)), else_=len(_DEFECT_KINDS)
    )
    rows = rows.mutate(priority=priority)
    w = ibis.window(group_by=["event_id", "object_id"], order_by=["priority", "reason"])
    rows = rows.mutate(k=ibis.row_number().over(w))
    return rows.filter(rows.k == 0).drop("k", "priority")


def _defects(scope: _Scope, detail: bool) -> _Result:
    log, rates = scope.log, scope.rates
    rows = _defect_rows(scope)
    per = log.execute(
        rows.group_by(["kind", "step", "reason"])
        .agg(n=rows.count(), hours=rows.hours.sum())
        .order_by([ibis.desc("n"), "kind", "step", "reason"])
    )
    n = int(pc.sum(per.column("n")).as_py() or 0)
    hours = float(pc.sum(per.column("hours")).as_py() or 0.0)
    items = []
    for kind, step, reason, k in zip(
        per.column("kind").to_pylist(),
        per.column("step").to_pylist(),
        per.column("reason").to_pylist(),
        per.column("n").to_pylist(),
        strict=True,
    ):
        why = f", {reason}" if reason else ""
        items.append((f"{k} {kind} ({step}{why})", float(k)))
    kinds: dict[str, int] = {}
    for kind, k in zip(per.column("kind").to_pylist(), per.column("n").to_pylist(), strict=True):
        kinds[kind] = kinds.get(kind, 0) + int(k)
    summary = ", ".join(f"{kinds[k]} {k}" for k in _DEFECT_KINDS if k in kinds)
    evidence = f"{n} defects" + (f" ({summary}): {_top(items)}" if items else "")
    finding = _Finding(
        "defects",
        True,
        hours,
        n * rates.defect_cost,
        float(n),
        evidence,
        (
            "rework = a step done again on an object after a different step (completions "
            "only where the log has start/complete events; inspections count as "
            "overprocessing); hours = time round the rework loops",
            f"money = defects x {rates.defect_cost:g}",
            *scope.cycling_notes(),
        ),
    )
    table = None
    if detail:
        table = log.execute(
            rows.order_by(["time", "event_id", "kind", "object_id"]).select(
                "kind", "step", "reason", "object_id", "object_type", "event_id", "time", "hours"
            )
        )
        table = table.append_column(
            "money", pa.array([rates.defect_cost] * table.num_rows, pa.float64())
        )
    return finding, table


# --- unused Skills ----------------------------------------------------------------------------


def _skills(scope: _Scope, detail: bool) -> _Result:
    return _Finding(
        "skills",
        False,
        None,
        None,
        None,
        "not measurable from events: needs what people can do (skills, training, "
        "suggestions made and taken up), which no event log records",
    ), None


_WASTE_FUNCTIONS: dict[str, Callable[[_Scope, bool], _Result]] = {
    "transport": _transport,
    "inventory": _inventory,
    "motion": _motion,
    "waiting": _waiting,
    "overproduction": _overproduction,
    "overprocessing": _overprocessing,
    "defects": _defects,
    "skills": _skills,
}
