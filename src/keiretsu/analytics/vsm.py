"""The value stream map, as a lean practitioner reads it (Rother & Shook, *Learning to See*;
Martin & Osterling, *Value Stream Mapping*): the customer and takt, a product family's path of
process boxes with their data boxes, the inventory waiting between them, the material and
information flows, and the timeline (ladder) with lead time, value-added time and process cycle
efficiency — as data (:meth:`ValueStreamMap.to_json`) and as an SVG in the standard icon
language (:meth:`ValueStreamMap.to_svg`). Every figure is defined in ``docs/analytics/vsm.md``.

How the map is built, for the objects of one type (for XES logs: the cases):

- **The product family** (``family=``): for EPCIS logs a product (GTIN; by default the one the
  customers took most of), its objects being the followed objects of that product; for other
  logs every object of the type, and the family's **path** is the most frequent variant's
  steps (or the variant you name, or the ``steps`` you name).
- **Steps are ordered as the process map gives them**: the topological order of the
  directly-follows graph of the family's objects, cycles broken by dropping the weakest back
  edges (ties by where objects first reach a step, never alphabetically).
- **Branches**: a step at least ``min_share`` of the objects reach but that is not on the path
  is drawn off the path, under the step it most often leaves from, not in series.
- **A visit, the wait before it and the work** are :mod:`keiretsu.analytics.flow`'s: an object
  waits from leaving its previous step to the step's start (or to the step's event when the log
  has one timestamp per step); a first visit has no measurable wait and is left out.
- **Inventory before a step** by Little's law on the waiting arrivals: their total waiting
  object-time ÷ the span; the **end-of-log stock** before a step: the objects still open when
  the log ends whose last step was the one before it, in units and in days of customer demand.
- **The ladder** (timeline): per step on the map, the waiting and the value-added time per
  family object (inventory ÷ the family's daily throughput — Rother & Shook's "inventory ÷ daily
  requirement" — and work per object), plus one segment for the time not on the map, so that
  what is drawn sums to the totals: lead time = the family's measured mean lead time (first to
  last event), value-added = their mean processing time, and **process cycle efficiency**
  PCE = ΣVA ÷ ΣLT over the family's objects (the same rule as
  :func:`keiretsu.analytics.flow.object_times`).
"""

from __future__ import annotations

import html
import itertools
import math
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from keiretsu.analytics.calendar import Calendar
from keiretsu.analytics.customer import customer_demand, finished_objects, has_epcis_semantics
from keiretsu.analytics.databox import data_boxes
from keiretsu.analytics.durations import duration
from keiretsu.analytics.flow import object_times, visits
from keiretsu.analytics.inventory import product_of
from keiretsu.analytics.log import Log
from keiretsu.analytics.traces import object_events, stored_passes, variant_counts
from keiretsu.analytics.traces import steps as trace_steps
from keiretsu.analytics.view import View
from keiretsu.model.gs1 import CANONICAL_DOMAIN, PRODUCT_PREFIX

__all__ = [
    "ValueStreamMap",
    "duration",
    "future_state",
    "step_order",
    "value_stream_map",
]

_DAY = 86_400.0
_WEEK = 7 * _DAY

# steps where goods are put away to wait for a pull (CBV business steps and plain names)
_STORING = re.compile(r"(^|[^a-z])(stor(e|ing|age)|stock(ing)?|supermarket|put.?away)", re.I)
# object types that carry information (orders, advices, forecasts, schedules), not goods
_INFORMATION = re.compile(
    r"^(po|purchase.?orders?|customer.?orders?|orders?|desadv|despatch.?advices?|"
    r"dispatch.?advices?|asn|forecasts?|schedules?|invoices?|inv|recadv|receiving.?advices?|"
    r"transport.?documents?|bol|bill.?of.?lading)$",
    re.I,
)
_SHIPPING = ("shipping",)
_FUTURE_KEYS = {
    "wait_before_seconds",
    "process_seconds",
    "cycle_seconds",
    "changeover_seconds",
    "uptime",
    "epei_seconds",
    "operators",
    "available_seconds_per_day",
    "first_pass_yield",
}

_STEP_SCHEMA = pa.schema(
    [
        ("step", pa.string()),
        ("position", pa.int64()),
        ("path", pa.string()),
        ("branch_of", pa.string()),
        ("kind", pa.string()),
        ("objects", pa.int64()),
        ("visits", pa.int64()),
        ("waiting_arrivals", pa.int64()),
        ("process_seconds", pa.float64()),
        ("wait_before_seconds", pa.float64()),
        ("inventory_before", pa.float64()),
        ("end_stock_before", pa.int64()),
        ("end_stock_days", pa.float64()),
        ("ladder_wait_seconds", pa.float64()),
        ("ladder_process_seconds", pa.float64()),
        ("fifo", pa.bool_()),
        ("fifo_tau", pa.float64()),
        ("process_time_rule", pa.string()),
        ("cycle_seconds", pa.float64()),
        ("changeover_seconds", pa.float64()),
        ("uptime", pa.float64()),
        ("epei_seconds", pa.float64()),
        ("operators", pa.float64()),
        ("available_seconds_per_day", pa.float64()),
        ("first_pass_yield", pa.float64()),
        ("missing", pa.list_(pa.string())),
    ]
)


@dataclass(frozen=True)
class ValueStreamMap:
    """A value stream map of one product family (see the module docstring).

    ``steps``: a :class:`View`, one row per process box — the family's path (``path="main"``)
    in flow order, then the branches (``path="branch"``, ``branch_of`` the path step they leave
    from). ``ladder``: the timeline's segments, in order, which sum to ``lead_seconds`` (wait)
    and ``value_added_seconds`` (process). ``customer``: the family's demand row
    (:func:`~keiretsu.analytics.customer.customer_demand`: quantity, per_day, takt_seconds).
    ``information``: the business documents flowing (orders, advices, schedules);
    ``shipments``: the trucks between companies. ``to_svg()`` draws it, ``to_json()`` gives
    the same data."""

    object_type: str
    steps: View
    lead_seconds: float | None
    value_added_seconds: float | None
    process_cycle_efficiency: float | None
    measured_lead_seconds: float | None
    objects: int
    notes: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)
    family: str | None = None
    ladder: tuple[dict[str, Any], ...] = ()
    customer: dict[str, Any] | None = None
    information: tuple[dict[str, Any], ...] = ()
    shipments: tuple[dict[str, Any], ...] = ()
    kaizen_bursts: tuple[str, ...] = ()
    future: bool = False

    @property
    def flow_efficiency(self) -> float | None:
        """The process cycle efficiency under its older name (the same number)."""
        return self.process_cycle_efficiency

    @property
    def takt_seconds(self) -> float | None:
        """Takt time (seconds of available time per unit the customers take), or None."""
        return None if self.customer is None else self.customer.get("takt_seconds")

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dictionary of the map (what ``keiretsu analyze --json`` prints): the
        same data the drawing shows."""
        return {
            "view": "value_stream_map",
            "object_type": self.object_type,
            "family": self.family,
            "objects": self.objects,
            "future_state": self.future,
            "customer": _plain(self.customer),
            "takt_seconds": self.takt_seconds,
            "lead_seconds": self.lead_seconds,
            "value_added_seconds": self.value_added_seconds,
            "process_cycle_efficiency": self.process_cycle_efficiency,
            "measured_lead_seconds": self.measured_lead_seconds,
            "ladder": [_plain(s) for s in self.ladder],
            "information": [_plain(i) for i in self.information],
            "shipments": [_plain(s) for s in self.shipments],
            "kaizen_bursts": list(self.kaizen_bursts),
            "notes": list(self.notes),
            "meta": _plain(self.meta),
            "steps": self.steps.to_json()["rows"],
        }

    def to_svg(self, title: str | None = None) -> str:
        """The map as a standalone SVG document in the standard icon language (no scripts, no
        external resources). Each icon group has a class: ``vsm-customer``, ``vsm-supplier``,
        ``vsm-production-control``, ``vsm-information``, ``vsm-truck``, ``vsm-process``,
        ``vsm-data-box``, ``vsm-inventory``, ``vsm-push``, ``vsm-fifo``, ``vsm-supermarket``,
        ``vsm-branch``, ``vsm-takt``, ``vsm-kaizen-burst``, ``vsm-ladder``, ``vsm-totals``."""
        label = "Future-state value stream" if self.future else "Value stream"
        what = self.family or self.object_type
        return _draw(self, title or f"{label} — {what}")


# --- the order of the steps -------------------------------------------------------------------


def step_order(
    edges: Mapping[tuple[str, str], int],
    steps: Collection[str],
    tie_break: Mapping[str, float] | None = None,
) -> tuple[list[str], list[tuple[str, str]]]:
    """The steps in the order the process map gives them: a topological order of the
    directly-follows graph ``edges`` ((from, to) → transitions) restricted to ``steps``, its
    cycles broken by dropping, one at a time, the weakest edge inside a cycle (fewest
    transitions; of equals, the one whose reverse is strongest). Steps no edge orders are
    placed by ``tie_break`` (lower first: e.g. the median position where objects first reach
    them), then by name only as a last resort. Returns the order and the dropped back edges."""
    nodes = set(steps)
    live = {(a, b): n for (a, b), n in edges.items() if a in nodes and b in nodes and a != b}
    dropped: list[tuple[str, str]] = []
    while True:
        cyclic = _cycle_edges(nodes, live)
        if not cyclic:
            break
        weakest = min(cyclic, key=lambda e: (live[e], -live.get((e[1], e[0]), 0), e))
        dropped.append(weakest)
        del live[weakest]
    key = tie_break or {}
    indegree = dict.fromkeys(nodes, 0)
    for _, b in live:
        indegree[b] += 1
    order: list[str] = []
    ready = [s for s in nodes if indegree[s] == 0]
    while ready:
        ready.sort(key=lambda s: (key.get(s, math.inf), s))
        s = ready.pop(0)
        order.append(s)
        for a, b in list(live):
            if a == s:
                indegree[b] -= 1
                if indegree[b] == 0:
                    ready.append(b)
    return order, dropped


def _cycle_edges(nodes: set[str], edges: Mapping[tuple[str, str], int]) -> list[tuple[str, str]]:
    """The edges that lie on a cycle: both ends in one strongly connected component."""
    out: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        out[a].append(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    comp: dict[str, int] = {}
    counter = [0, 0]

    def visit(v: str) -> None:  # Tarjan, iterative enough for process maps (tens of steps)
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in out[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            while True:
                w = stack.pop()
                on.discard(w)
                comp[w] = counter[1]
                if w == v:
                    break
            counter[1] += 1

    for n in sorted(nodes):
        if n not in index:
            visit(n)
    return sorted(e for e in edges if comp[e[0]] == comp[e[1]])


# --- the map --------------------------------------------------------------------------------


def value_stream_map(
    log: Log,
    object_type: str,
    *,
    value_adding: Collection[str] | None = None,
    steps: Sequence[str] | None = None,
    min_share: float = 0.05,
    max_steps: int = 10,
    calendar: Calendar | None = None,
    end_steps: Collection[str] | None = None,
    family: str | None = None,
) -> ValueStreamMap:
    """The value stream map of a product family of ``object_type`` objects (see the module
    docstring and ``docs/analytics/vsm.md`` for every figure).

    ``family``: for EPCIS logs a product's GTIN (Digital Link ``https://id.gs1.org/01/…``;
    default: the product the customers took most of); for other logs a variant written as
    ``"a → b → c"`` whose steps are the path (default: the most frequent variant).
    ``steps``: the path's steps yourself, in your order (no branches are added).
    ``value_adding``: the steps whose time counts as processing in a log without start/complete
    events. ``min_share``: a step off the path is drawn as a branch when at least this share of
    the objects reach it; ``max_steps``: at most this many boxes (the path's steps, and at
    least the three branches holding the most object-time). ``calendar``: the working
    time takt and the data boxes are measured on (24/7 by default, said so).
    ``end_steps``: the steps where objects leave to the customer (default: see
    :func:`keiretsu.analytics.customer.exits`)."""
    log.require("object type", object_type, where="object_type")
    cal = calendar or Calendar.always()
    marked = set(value_adding or ())
    notes: list[str] = []
    epcis = has_epcis_semantics(log)

    members, family_name, family_note = _family_objects(log, object_type, family, epcis, end_steps)
    notes.append(family_note)
    oe = object_events(log, object_type).join(members, "object_id")
    oe = oe.select("object_id", "object_type", "event_id", "activity", "time", "seq")
    totals = log.execute(
        oe.aggregate(objects=oe.object_id.nunique(), first=oe.time.min(), last=oe.time.max())
    ).to_pylist()[0]
    n_objects = int(totals["objects"] or 0)
    if n_objects == 0:
        raise ValueError(f"no objects of type {object_type!r} in this log")
    span_seconds = max((totals["last"] - totals["first"]).total_seconds(), 1.0)

    # the process map of the family: edges, first positions, variants
    # each object's trace with its successors: the store's traces (kept on ingest) where the
    # log has them — every event of a member object is kept, so they equal a window over oe
    tr = trace_steps(log, object_type).join(members, "object_id")
    moves = tr.filter(tr.next_activity.notnull())
    edge_rows = log.execute(
        moves.group_by(["activity", "next_activity"]).agg(n=moves.count())
    ).to_pylist()
    edges = {(r["activity"], r["next_activity"]): int(r["n"]) for r in edge_rows}
    firsts = first_positions(log, tr)
    order_key = {
        r["activity"]: float(r["k"])
        for r in log.execute(
            firsts.group_by("activity").agg(k=firsts.first_position.cast("float64").quantile(0.5))
        ).to_pylist()
    }

    # the visits (flow's definition) of the family's objects, per step
    v = visits(log, object_type).join(members, "object_id")
    per_step = v.group_by("activity").agg(
        visits=v.count(),
        objects=v.object_id.nunique(),
        waiting=v.wait_before_seconds.count(),
        wait_sum=v.wait_before_seconds.sum(),
        sit_n=(~v.first_visit).cast("int64").sum(),
        sit_sum=v.seconds_in_step.sum(where=~v.first_visit),
        work_n=v.work_seconds.count(),
        work_sum=v.work_seconds.sum(),
    )
    stats_by_step = {r["activity"]: r for r in log.execute(per_step).to_pylist()}
    lifecycle = any((r["work_n"] or 0) > 0 for r in stats_by_step.values())

    # the path and the branches
    dropped: list[tuple[str, str]] = []
    if steps is not None:
        missing = [s for s in steps if s not in stats_by_step]
        if missing:
            raise ValueError(f"no step {missing[0]!r} among the activities of {object_type!r}")
        main = list(steps)
        branches: list[str] = []
        notes.append("the path: the steps you named, in your order")
    else:
        walked = tr
        if epcis:  # the path to the customer: the variants of the objects that reached them
            done = finished_objects(log, object_type, end_steps=end_steps).select("object_id")
            if log.scalar(oe.join(done, "object_id").count()):
                walked = tr.semi_join(done, "object_id")
        path, path_note = _path(log, walked, family if not epcis else None, n_objects)
        notes.append(path_note)
        # the branches: the steps off the path enough objects reach, those holding the most
        # object-time first (the map shows where the time goes)
        common = [
            s
            for s, r in sorted(
                stats_by_step.items(),
                key=lambda kv: -float(kv[1]["wait_sum"] or 0.0) - float(kv[1]["work_sum"] or 0.0),
            )
            if r["objects"] >= min_share * n_objects and s not in path
        ]
        # room for the boxes left, and always for the three branches holding the most time
        branches = common[: max(max_steps - len(path), 3)]
        ordered, dropped = step_order(edges, [*path, *branches], order_key)
        main = [s for s in ordered if s in path]
        branches = [s for s in ordered if s in branches]
        notes.append(
            "steps in the process map's order: the topological order of the directly-follows "
            "graph"
            + (
                ", cycles broken by dropping the weakest back edges ("
                + "; ".join(f"{a} → {b}: {edges[(a, b)]}" for a, b in dropped)
                + ")"
                if dropped
                else ""
            )
        )
    ranked = [*main, *branches] if steps is not None else ordered
    branch_of = {b: _attach(b, main, edges, ranked) for b in branches}

    # demand: the customer, takt, and the family's daily pace
    demand = customer_demand(log, object_type=object_type, end_steps=end_steps, calendar=cal)
    customer = _demand_row(demand, family_name, object_type)
    per_day = customer.get("per_day") if customer else None
    if customer is None:
        notes.append(
            "customer demand and takt: not measurable — needs objects that reach the customer "
            "(an exit: sold, shipped outside the network, or a declared end step)"
        )

    # end-of-log stock: open objects, counted before the path step that comes next for them
    end_stock, to_customer, end_note = _end_stock(
        log, object_type, members, main, branch_of, end_steps
    )
    notes.append(end_note)

    fifo = _fifo(log, v, main)
    boxes = _data_boxes(
        log, object_type, [*main, *branches], cal, end_steps, sorted(marked) or None
    )

    rows: list[dict[str, Any]] = []
    for i, name in enumerate([*main, *branches]):
        r = stats_by_step[name]
        on_path = name in main
        waiting = int(r["waiting"] or 0)
        wait_sum = float(r["wait_sum"] or 0.0)
        if (r["work_n"] or 0) > 0:
            p_t: float | None = float(r["work_sum"]) / int(r["work_n"])
            va: float | None = float(r["work_sum"])
            rule = "start→complete"
        elif name in marked and not lifecycle:
            sit_n = int(r["sit_n"] or 0)
            p_t = float(r["sit_sum"] or 0.0) / sit_n if sit_n else None
            va = float(r["sit_sum"] or 0.0)
            waiting, wait_sum, rule = 0, 0.0, "value-adding (marked)"
        elif lifecycle:
            p_t, va, rule = 0.0, 0.0, "instant (no start event)"
        else:
            p_t, va, rule = None, None, "unknown"
        wait = wait_sum / waiting if waiting else (0.0 if rule.startswith("value") else None)
        stock = end_stock.get(name, 0) if on_path else None
        box = boxes.get(name, {})
        row: dict[str, Any] = {
            "step": name,
            "position": i + 1,
            "path": "main" if on_path else "branch",
            "branch_of": None if on_path else branch_of[name],
            "kind": "supermarket" if on_path and _STORING.search(name) else "process",
            "objects": int(r["objects"]),
            "visits": int(r["visits"]),
            "waiting_arrivals": waiting,
            "process_seconds": p_t,
            "wait_before_seconds": wait,
            "inventory_before": wait_sum / span_seconds,
            "end_stock_before": stock,
            "end_stock_days": (stock / per_day if stock is not None and per_day else None),
            "ladder_wait_seconds": wait_sum / n_objects,
            "ladder_process_seconds": None if va is None else va / n_objects,
            "fifo": fifo.get(name, (None, None))[0],
            "fifo_tau": fifo.get(name, (None, None))[1],
            "process_time_rule": rule,
        }
        for key in (
            "cycle_seconds",
            "changeover_seconds",
            "uptime",
            "epei_seconds",
            "operators",
            "available_seconds_per_day",
            "first_pass_yield",
        ):
            value = box.get(key)
            row[key] = None if value is None else float(value)
        row["missing"] = list(box.get("missing") or [])
        rows.append(row)

    # the totals: the family's measured lead and processing (flow.object_times' rule)
    ot = object_times(log, object_type, sorted(marked) if marked else None).table
    ot = ot.join(log.execute(members), "object_id")
    lead_sum = float(pc.sum(ot.column("lead_seconds")).as_py() or 0.0)
    known_va = ot.column("processing_seconds").drop_null()
    va_sum = float(pc.sum(known_va).as_py() or 0.0) if len(known_va) else None
    measured = lead_sum / n_objects
    value_added = None if va_sum is None else va_sum / n_objects
    pce = va_sum / lead_sum if va_sum is not None and lead_sum > 0 else None

    ladder = _ladder(rows, measured, value_added)
    notes += _process_notes(lifecycle, marked)
    notes += [
        "inventory before a step by Little's law on the waiting arrivals: their total waiting "
        "object-time ÷ the span (a first visit has no measurable wait and is left out)",
        "the ladder: per step, the waiting (inventory ÷ the family's daily throughput) and the "
        "value-added time per family object; the last segment is the time not on the map",
        "process cycle efficiency = ΣVA ÷ ΣLT over the family's objects",
        _reconcile(rows, ladder, measured, n_objects),
    ]
    information = _information(log, object_type, span_seconds)
    shipments = _shipments(log, span_seconds) if epcis else []
    if epcis and not shipments:
        notes.append("trucks: none — no shipment to a destination in these events")
    meta: dict[str, Any] = {
        "calendar": cal.label(),
        "span_seconds": span_seconds,
        "end_stock_to_customer": to_customer,
        "end_stock_to_customer_days": to_customer / per_day if per_day else None,
        "dropped_back_edges": [list(e) for e in dropped],
        "rolled_throughput_yield": boxes.get("", {}).get("rolled_throughput_yield"),
    }
    view = View("value_stream_map", pa.Table.from_pylist(rows, _STEP_SCHEMA), tuple(notes), meta)
    return ValueStreamMap(
        object_type=object_type,
        steps=view,
        lead_seconds=measured,
        value_added_seconds=value_added,
        process_cycle_efficiency=pce,
        measured_lead_seconds=measured,
        objects=n_objects,
        notes=tuple(notes),
        meta=meta,
        family=family_name,
        ladder=tuple(ladder),
        customer=customer,
        information=tuple(information),
        shipments=tuple(shipments),
    )


def first_positions(log: Log, tr: ir.Table) -> ir.Table:
    """``activity, first_position``: where each object of the traces ``tr`` first reaches each
    step (its position in its trace, from 0), one row per object and step. From the store's
    passes where the log keeps them (an object's first pass of a step is its first position
    there: no grouping of millions of text ids, 1.6 s at ten million events), else the least
    position per object and step."""
    if stored_passes(log) and "pass_index" in tr.columns:
        first = tr.filter(tr.pass_index == 0)
        return first.select("activity", first_position=first.position)
    per = tr.group_by(["object_id", "activity"]).agg(first_position=tr.position.min())
    return per.select("activity", "first_position")


def _family_objects(
    log: Log,
    object_type: str,
    family: str | None,
    epcis: bool,
    end_steps: Collection[str] | None,
) -> tuple[ir.Table, str | None, str]:
    """``object_id`` of the family's objects, the family's name, and a note saying which."""
    o = log.objects
    objs = o.filter(o.object_type == object_type).select("object_id")
    if not epcis:
        return objs, None, f"product family: every object of type {object_type!r}"
    product = product_of(objs.object_id)
    counted = objs.filter(objs.object_id.startswith(PRODUCT_PREFIX))
    products = log.execute(
        counted.group_by(p=product_of(counted.object_id)).agg(n=counted.count())
    ).to_pylist()
    if not products:
        return objs, None, f"product family: every object of type {object_type!r} (no GTIN)"
    if family is None:
        demand = customer_demand(log, object_type=object_type, end_steps=end_steps)
        known = {r["p"] for r in products}
        taken = [r["family"] for r in demand.to_pylist() if r["family"] in known]
        family = taken[0] if taken else max(products, key=lambda r: (r["n"], r["p"]))["p"]
        why = "the product the customers took most of" if taken else "the product with most objects"
    else:
        why = "as asked"
        if family not in {r["p"] for r in products}:
            raise ValueError(f"no product family {family!r} among the {object_type!r} objects")
    chosen = objs.filter(product == family)
    return chosen, family, f"product family: {family} ({why})"


def _path(log: Log, tr: ir.Table, family: str | None, n_objects: int) -> tuple[list[str], str]:
    """The path's steps: the named variant's or the most frequent variant's, each step once.
    ``tr``: the walked objects' traces (every step of each, with its position and successor)."""
    rows = log.execute(variant_counts(tr)).to_pylist()
    n_walked = sum(int(r["n"]) for r in rows)
    rows.sort(key=lambda r: (-int(r["n"]), " → ".join(r["variant"])))
    if family is not None:
        wanted = [s.strip() for s in family.split("→")]
        hit = [r for r in rows if list(r["variant"]) == wanted]
        if not hit:
            raise ValueError(f"no variant {family!r} among the objects")
        top = hit[0]
        why = "the variant you named"
    elif rows and int(rows[0]["n"]) * 2 < n_walked:
        # no variant is the family's way: walk the process map's heaviest arrows instead
        path = _heaviest_path(rows)
        follow = sum(int(r["n"]) for r in rows if list(dict.fromkeys(r["variant"])) == path)
        among = (
            "" if n_walked == n_objects else f" among the {n_walked:,} that reached the customer"
        )
        return path, (
            "the path: no variant is followed by half the objects (the most frequent by "
            f"{int(rows[0]['n']) / n_walked:.1%}), so the process map's heaviest path: from the "
            "most common first step, each time the most frequent next step not yet on it, "
            "until more objects end there than go on"
            f"{among} ({follow / n_objects:.1%} of the objects follow it exactly)"
        )
    else:
        top = rows[0]
        why = "the most frequent variant"
    path = list(dict.fromkeys(top["variant"]))
    share = int(top["n"]) / n_objects
    among = "" if n_walked == n_objects else f" among the {n_walked:,} that reached the customer"
    return path, (f"the path: {why}{among}'s steps ({share:.1%} of the objects follow it exactly)")


def _heaviest_path(variants: Sequence[Mapping[str, Any]]) -> list[str]:
    """The heaviest path through the directly-follows graph the variants make: from the most
    common first step, each time the most frequent next step not yet on the path, until more
    objects end at a step than leave it for a step not yet on the path."""
    starts: dict[str, int] = {}
    ends: dict[str, int] = {}
    edges: dict[tuple[str, str], int] = {}
    for r in variants:
        steps, n = list(r["variant"]), int(r["n"])
        if not steps:
            continue
        starts[steps[0]] = starts.get(steps[0], 0) + n
        ends[steps[-1]] = ends.get(steps[-1], 0) + n
        for a, b in itertools.pairwise(steps):
            edges[(a, b)] = edges.get((a, b), 0) + n
    if not starts:
        return []
    here = min(starts, key=lambda a: (-starts[a], a))
    path = [here]
    while True:
        out = [(b, n) for (a, b), n in edges.items() if a == here and b not in path]
        if not out:
            break
        nxt, n = min(out, key=lambda e: (-e[1], e[0]))
        if ends.get(here, 0) > n:
            break
        path.append(nxt)
        here = nxt
    return path


def _attach(
    branch: str,
    main: Sequence[str],
    edges: Mapping[tuple[str, str], int],
    ranked: Sequence[str],
) -> str | None:
    """The path step a branch leaves from: the one with most transitions into it; else the
    last path step before it in the process map's order; else the path's first step."""
    into = [(edges.get((m, branch), 0), m) for m in main]
    best = max(into, default=(0, None))
    if best[0] > 0:
        return best[1]
    before = [m for m in ranked[: ranked.index(branch)] if m in main] if branch in ranked else []
    if before:
        return before[-1]
    return main[0] if main else None


def _demand_row(demand: View, family: str | None, object_type: str) -> dict[str, Any] | None:
    rows = demand.to_pylist()
    wanted = family or object_type
    hit = [r for r in rows if r["family"] == wanted]
    if hit:
        return hit[0]
    return rows[0] if rows and family is None else None


def _end_stock(
    log: Log,
    object_type: str,
    members: ir.Table,
    main: Sequence[str],
    branch_of: Mapping[str, str | None],
    end_steps: Collection[str] | None,
) -> tuple[dict[str, int], int, str]:
    """Open objects (not finished when the log ends) per path step they wait before, the open
    objects past the path's last step (waiting to go to the customer), and a note."""
    if log.steps is not None:  # each object's last step: the store's traces keep it
        tr = trace_steps(log, object_type).join(members, "object_id")
        last = tr.filter(tr.next_event_id.isnull()).select("object_id", "activity")
    else:
        le = object_events(log, object_type).join(members, "object_id")
        w = ibis.window(group_by="object_id", order_by=[ibis.desc("time"), ibis.desc("seq")])
        le = le.mutate(k=ibis.row_number().over(w))
        last = le.filter(le.k == 0).select("object_id", "activity")
    done = finished_objects(log, object_type, end_steps=end_steps).select("object_id")
    open_ = last.anti_join(done, "object_id")
    counts = {
        r["activity"]: int(r["n"])
        for r in log.execute(open_.group_by("activity").agg(n=open_.count())).to_pylist()
    }
    before: dict[str, int] = {}
    to_customer = 0
    off_map = 0
    for act, n in counts.items():
        at = act if act in main else branch_of.get(act)
        if at is None or at not in main:
            off_map += n
            continue
        i = main.index(at)
        if i + 1 < len(main):
            before[main[i + 1]] = before.get(main[i + 1], 0) + n
        else:
            to_customer += n
    note = (
        "end-of-log stock: the objects still open when the log ends (no exit to the customer), "
        "counted before the path step that comes after their last step"
    )
    if off_map:
        note += f"; {off_map:,} open objects whose last step is not on the map are not counted"
    return before, to_customer, note


def _fifo(
    log: Log, v: ir.Table, main: Sequence[str]
) -> dict[str, tuple[bool | None, float | None]]:
    """FIFO between consecutive path steps: do objects leave the second step in the order they
    left the first? Kendall's tau (scipy) between the two orders; a FIFO lane when no object
    overtook another (tau = 1) over at least three objects that queued (one arrived before the
    one ahead of it left)."""
    out: dict[str, tuple[bool | None, float | None]] = {}
    if len(main) < 2:
        return out
    pairs = v.filter(v.activity.isin(list(main)))
    w = ibis.window(group_by="object_id", order_by=["leave"])
    pairs = pairs.mutate(
        next_activity=pairs.activity.lead().over(w), next_leave=pairs.leave.lead().over(w)
    )
    rows = log.execute(
        pairs.filter(pairs.next_activity.notnull()).select(
            "activity", "next_activity", "leave", "next_leave"
        )
    ).to_pylist()
    from scipy import stats  # type: ignore[import-untyped]  # slow to import: only here

    for a, b in itertools.pairwise(main):
        got = sorted(
            (r["leave"], r["next_leave"])
            for r in rows
            if r["activity"] == a and r["next_activity"] == b
        )
        if len(got) < 3:
            out[b] = (None, None)
            continue
        queued = any(got[i + 1][0] < got[i][1] for i in range(len(got) - 1))
        tau = stats.kendalltau([g[0].timestamp() for g in got], [g[1].timestamp() for g in got])
        t = float(tau.statistic) if tau.statistic == tau.statistic else None
        kept = all(got[i][1] <= got[i + 1][1] for i in range(len(got) - 1))
        out[b] = (bool(kept and queued), t)
    return out


def _data_boxes(
    log: Log,
    object_type: str,
    steps: Sequence[str],
    calendar: Calendar,
    end_steps: Collection[str] | None,
    value_adding: Collection[str] | None,
) -> dict[str, dict[str, Any]]:
    """The data box of each step (:func:`keiretsu.analytics.databox.data_boxes`; key ``""``:
    the view's meta)."""
    view = data_boxes(
        log,
        object_type,
        steps=list(steps),
        calendar=calendar,
        end_steps=end_steps,
        value_adding=value_adding,
    )
    out: dict[str, dict[str, Any]] = {r["step"]: r for r in view.to_pylist()}
    out[""] = dict(view.meta)
    return out


def _ladder(
    rows: Sequence[Mapping[str, Any]], lead: float, value_added: float | None
) -> list[dict[str, Any]]:
    """The timeline's segments: each step's wait and value-added time per family object, in
    the order drawn (the path, then the branches), and the time not on the map, so that the
    segments sum to the lead time and the value-added time."""
    ladder: list[dict[str, Any]] = []
    for r in rows:
        ladder.append(
            {
                "step": r["step"],
                "path": r["path"],
                "wait_seconds": r["ladder_wait_seconds"] or 0.0,
                "process_seconds": r["ladder_process_seconds"],
            }
        )
    waits = sum(s["wait_seconds"] for s in ladder)
    processes = sum(s["process_seconds"] or 0.0 for s in ladder)
    other_process = None if value_added is None else value_added - processes
    other_wait = lead - (value_added or 0.0) - waits
    ladder.append(
        {
            "step": None,
            "path": "not on the map",
            "wait_seconds": other_wait,
            "process_seconds": other_process,
        }
    )
    return ladder


def _reconcile(
    rows: Sequence[Mapping[str, Any]], ladder: Sequence[Mapping[str, Any]], lead: float, n: int
) -> str:
    """A note saying how the ladder's steps add up to the measured lead time."""
    on_map = sum((s["wait_seconds"] or 0.0) + (s["process_seconds"] or 0.0) for s in ladder[:-1])
    # times are whole microseconds: a residual below one is the float sums' noise, not time
    # (it flipped the note's sign from run to run); + 0.0 turns -0.0 into 0.0
    rest = round(lead - on_map, 6) + 0.0
    loops = [r["step"] for r in rows if r["path"] == "main" and r["visits"] > r["objects"]]
    skips = [r["step"] for r in rows if r["path"] == "main" and r["objects"] < n]
    text = (
        f"the ladder's steps add up to {duration(on_map)} of the {duration(lead)} measured mean "
        f"lead time; {duration(rest)} is not on the map (steps reached by too few objects to "
        "draw, time after an object's last step-ending event"
        + (", overlapping work counted once in the value-added time" if rest < 0 else "")
        + ")"
    )
    if loops:
        text += f"; objects loop at {', '.join(loops)} (their waits counted per visit)"
    if skips:
        text += f"; some objects skip {', '.join(skips)}"
    return text


def _process_notes(lifecycle: bool, marked: Collection[str]) -> list[str]:
    if lifecycle:
        return ["process time (P/T) from start/complete lifecycle events"]
    if marked:
        return [
            "process time of the steps marked value-adding: the time from the object's "
            "previous step; the other steps' time is waiting"
        ]
    return [
        "process time unknown: the log has no start/complete events and no step is marked "
        "value-adding (mark them with --value-adding); value-added time and process cycle "
        "efficiency: not measurable — needs start/complete events or value-adding steps"
    ]


def _information(log: Log, object_type: str, span_seconds: float) -> list[dict[str, Any]]:
    """The business documents the events carry (EPCIS bizTransaction objects, or object types
    named like orders, advices, forecasts, schedules): per document type, how many and how
    often."""
    r = log.relations
    o = log.objects
    by_qualifier = r.filter(r.qualifier == "bizTransaction").select("object_id")
    named = [t for t in log.object_types() if _INFORMATION.match(t.strip()) and t != object_type]
    docs = o.filter(o.object_id.isin(by_qualifier.object_id) | o.object_type.isin(named or [""]))
    rows = log.execute(
        docs.group_by("object_type").agg(documents=docs.object_id.nunique())
    ).to_pylist()
    weeks = span_seconds / _WEEK
    out = []
    for row in sorted(rows, key=lambda x: (-int(x["documents"]), x["object_type"])):
        kind = _document_kind(row["object_type"])
        out.append(
            {
                "document": row["object_type"],
                "kind": kind,
                "documents": int(row["documents"]),
                "per_week": int(row["documents"]) / weeks if weeks > 0 else None,
            }
        )
    return out


def _document_kind(name: str) -> str:
    n = name.lower()
    if "forecast" in n:
        return "forecast"
    if "schedule" in n:
        return "schedule"
    if n in ("po", "order", "orders") or "order" in n:
        return "order"
    if "desadv" in n or "despatch" in n or "dispatch" in n or n == "asn":
        return "ship notice"
    return "document"


def _shipments(log: Log, span_seconds: float) -> list[dict[str, Any]]:
    """Trucks: shipping events with a destination, per (from, to) — the shipping event's
    party or place and the destination's — with shipments per week."""
    a = log.event_attributes
    disp = a.filter(a.name == "disposition").select("event_id", disposition=a.value)
    e = log.events.left_join(disp, "event_id")
    ship = e.filter(e.activity.isin(list(_SHIPPING)) | (e.disposition == "in_transit"))
    ship = ship.select(event_id=ship.event_id)
    r = log.relations
    src = r.filter(r.qualifier.startswith("source") | (r.qualifier == "bizLocation"))
    src = src.group_by("event_id").agg(
        source=src.object_id.min(where=src.qualifier.startswith("source:owning")),
        place=src.object_id.min(),
    )
    dst = r.filter(r.qualifier.startswith("destination"))
    dst = dst.group_by("event_id").agg(
        destination=dst.object_id.min(where=dst.qualifier.startswith("destination:owning")),
        to_place=dst.object_id.min(),
    )
    j = ship.join(dst, "event_id").left_join(src, "event_id")
    j = j.select(
        frm=j.source.fill_null(j.place).fill_null("?"),
        to=j.destination.fill_null(j.to_place),
        event_id=j.event_id,
    )
    rows = log.execute(j.group_by(["frm", "to"]).agg(n=j.event_id.nunique())).to_pylist()
    weeks = span_seconds / _WEEK
    return [
        {
            "from": r["frm"],
            "to": r["to"],
            "shipments": int(r["n"]),
            "per_week": int(r["n"]) / weeks if weeks > 0 else None,
        }
        for r in sorted(rows, key=lambda x: (x["frm"], x["to"]))
    ]


# --- the future state -----------------------------------------------------------------------


def future_state(
    vsm: ValueStreamMap,
    changes: Mapping[str, Mapping[str, float]],
    bursts: Collection[str] = (),
) -> ValueStreamMap:
    """The future-state map: ``vsm`` with new figures at some steps — ``changes`` maps a step
    to its new figures, e.g. ``{"pick item": {"wait_before_seconds": 3600}}`` (seconds per
    visit; also ``process_seconds`` and the data box's ``cycle_seconds``,
    ``changeover_seconds``, ``uptime``, ``epei_seconds``, ``operators``,
    ``available_seconds_per_day``, ``first_pass_yield``) — and kaizen bursts drawn at the
    steps named in ``bursts``. Inventory, the ladder, the lead time, the value-added time and
    PCE follow: a step's waiting per object scales with its new wait per visit (the same
    arrivals), its inventory by Little's law likewise; the time not on the map is kept."""
    rows = vsm.steps.to_pylist()
    names = {r["step"] for r in rows}
    for step, figures in changes.items():
        if step not in names:
            raise ValueError(f"no step {step!r} on the map")
        bad = set(figures) - _FUTURE_KEYS
        if bad:
            raise ValueError(f"cannot change {sorted(bad)[0]!r}; figures: {sorted(_FUTURE_KEYS)}")
    unknown = [b for b in bursts if b not in names]
    if unknown:
        raise ValueError(f"no step {unknown[0]!r} on the map for a kaizen burst")
    for r in rows:
        new = changes.get(r["step"], {})
        if "wait_before_seconds" in new:
            old = r["wait_before_seconds"]
            value = float(new["wait_before_seconds"])
            if old:
                ratio = value / old
                r["ladder_wait_seconds"] *= ratio
                r["inventory_before"] *= ratio
            elif r["waiting_arrivals"]:
                r["ladder_wait_seconds"] = 0.0
            r["wait_before_seconds"] = value
        if "process_seconds" in new:
            old = r["process_seconds"]
            value = float(new["process_seconds"])
            per_object = (r["ladder_process_seconds"] or 0.0) / old if old else None
            if per_object is None:
                per_object = r["visits"] / max(vsm.objects, 1)
            r["ladder_process_seconds"] = value * per_object
            r["process_seconds"] = value
        for key in _FUTURE_KEYS - {"wait_before_seconds", "process_seconds"}:
            if key in new:
                r[key] = float(new[key])
                r["missing"] = [m for m in r["missing"] or [] if not m.startswith(_label_of(key))]
    other = vsm.ladder[-1] if vsm.ladder else {"wait_seconds": 0.0, "process_seconds": None}
    waits = sum(r["ladder_wait_seconds"] or 0.0 for r in rows) + (other["wait_seconds"] or 0.0)
    processes = [
        r["ladder_process_seconds"] for r in rows if r["ladder_process_seconds"] is not None
    ]
    if vsm.value_added_seconds is None and not processes:
        value_added = None
    else:
        value_added = sum(processes) + (other["process_seconds"] or 0.0)
    lead = waits + (value_added or 0.0)
    ladder = [
        {
            "step": r["step"],
            "path": r["path"],
            "wait_seconds": r["ladder_wait_seconds"] or 0.0,
            "process_seconds": r["ladder_process_seconds"],
        }
        for r in rows
    ]
    ladder.append(dict(other))
    notes = (
        *vsm.notes,
        "future state: "
        + "; ".join(
            f"{s}: " + ", ".join(f"{k} = {v:g}" for k, v in f.items()) for s, f in changes.items()
        ),
    )
    view = View(vsm.steps.name, pa.Table.from_pylist(rows, _STEP_SCHEMA), notes, vsm.steps.meta)
    return replace(
        vsm,
        steps=view,
        lead_seconds=lead,
        value_added_seconds=value_added,
        process_cycle_efficiency=(
            value_added / lead if value_added is not None and lead > 0 else None
        ),
        notes=notes,
        ladder=tuple(ladder),
        kaizen_bursts=tuple(bursts),
        future=True,
    )


def future_state_from_scenario(
    vsm: ValueStreamMap,
    comparison: pa.Table,
    variant: str,
    steps: Mapping[str, str],
    *,
    kpi: str = "on_hand",
) -> ValueStreamMap:
    """The future-state map a what-if scenario predicts: ``comparison`` is a scenario
    comparison's table (:class:`keiretsu.sim.scenario.Comparison` ``.table``: variant, kpi,
    scope, baseline, value, …), ``variant`` the countermeasure, and ``steps`` maps each scope
    of the model (a buffer or company) to the step of this map where its stock waits.

    By Little's law, at the same throughput the stock before a step and the time objects wait
    there change together: each mapped step's wait per visit (and with it its inventory and
    its part of the ladder) is scaled by the predicted ratio ``value ÷ baseline`` of the
    scope's ``kpi`` (on-hand stock by default). Kaizen bursts mark the steps changed."""
    rows = [r for r in comparison.to_pylist() if r["variant"] == variant and r["kpi"] == kpi]
    if not rows:
        raise ValueError(f"no {kpi!r} figures for variant {variant!r} in the comparison")
    by_scope = {r["scope"]: r for r in rows}
    current = {r["step"]: r for r in vsm.steps.to_pylist()}
    changes: dict[str, dict[str, float]] = {}
    for scope, step in steps.items():
        if scope not in by_scope:
            raise ValueError(
                f"no scope {scope!r} in the comparison; scopes: {', '.join(sorted(by_scope))}"
            )
        if step not in current:
            raise ValueError(f"no step {step!r} on the map")
        r = by_scope[scope]
        wait = current[step]["wait_before_seconds"]
        if not r["baseline"] or r["value"] is None or wait is None:
            continue  # nothing to scale: the step's wait or the scope's stock is not measured
        changes[step] = {"wait_before_seconds": wait * float(r["value"]) / float(r["baseline"])}
    return future_state(vsm, changes, bursts=list(changes))


def _label_of(key: str) -> str:
    return {
        "cycle_seconds": "C/T",
        "changeover_seconds": "C/O",
        "uptime": "uptime",
        "epei_seconds": "EPEI",
        "operators": "operators",
        "available_seconds_per_day": "available",
        "first_pass_yield": "FPY",
    }.get(key, key)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# --- drawing (Rother & Shook's icons) ---------------------------------------------------------


_BOX_W, _GAP, _MARGIN = 150, 80, 30
_TOP, _PROC_Y, _BOX_H, _DATA_H = 60, 250, 44, 138
_DATA_FIELDS = (
    ("C/T", "cycle_seconds", ("c/t", "cycle")),
    ("P/T", "process_seconds", ("p/t", "process")),
    ("C/O", "changeover_seconds", ("c/o", "changeover")),
    ("Uptime", "uptime", ("uptime",)),
    ("EPEI", "epei_seconds", ("epei",)),
    ("Operators", "operators", ("operator",)),
    ("Avail.", "available_seconds_per_day", ("available",)),
    ("FPY", "first_pass_yield", ("first", "fpy", "%c&a")),
)


def _fmt(key: str, value: Any) -> str:
    if value is None:
        return "—"
    if key in ("uptime", "first_pass_yield"):
        return f"{value:.0%}"
    if key == "operators":
        return f"{value:g}"
    if key == "available_seconds_per_day":
        return f"{value:,.0f} s/d"
    return duration(value)


def _why(row: Mapping[str, Any], key: str, aliases: Sequence[str]) -> str:
    for m in row.get("missing") or []:
        if any(m.lower().startswith(a) for a in aliases):
            return str(m)
    if key == "process_seconds":
        return "not measurable — needs start/complete events or the step marked value-adding"
    return f"{key}: not measurable"


def _draw(vsm: ValueStreamMap, title: str) -> str:
    e = html.escape
    rows = vsm.steps.to_pylist()
    main = [r for r in rows if r["path"] == "main"]
    branches = [r for r in rows if r["path"] == "branch"]
    n = max(len(main), 1)
    x0 = _MARGIN + _GAP
    xs = {r["step"]: x0 + i * (_BOX_W + _GAP) for i, r in enumerate(main)}
    # wide enough for the boxes and the customer, and for the ladder with its totals box
    ladder_end = x0 - _GAP / 2 + len(vsm.ladder) * (_BOX_W + _GAP) + 20 + 180
    width = int(max(x0 + n * (_BOX_W + _GAP) + 230, ladder_end + _MARGIN))
    stacks: dict[str, int] = {}
    branch_y = _PROC_Y + _BOX_H + _DATA_H + 40
    for b in branches:
        stacks[b["branch_of"] or ""] = stacks.get(b["branch_of"] or "", 0) + 1
    depth = max(stacks.values(), default=0)
    ladder_y = branch_y + depth * (_BOX_H + 30) + 90
    height = int(ladder_y + 150 + 16 * min(len(vsm.notes), 8))
    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" '
        'font-size="12">',
        f"<title>{e(title)}</title>",
        "<defs>"
        '<marker id="vsm-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#334155"/></marker>'
        '<pattern id="vsm-stripes" width="8" height="8" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="4" height="8" fill="#334155"/></pattern>'
        "</defs>",
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{_MARGIN}" y="26" font-size="17" font-weight="bold">{e(title)}</text>',
        f'<text x="{_MARGIN}" y="44" fill="#555">{vsm.objects:,} objects of type '
        f"{e(vsm.object_type)}; {e(str(vsm.meta.get('calendar', '')))}</text>",
    ]
    last_x = x0 + (n - 1) * (_BOX_W + _GAP)
    # supplier and customer: factory icons; production control in between
    c = vsm.customer or {}
    unit = str(c.get("unit") or "units")
    demand = f"{c['per_day']:,.1f} {unit}/day" if c.get("per_day") is not None else "demand: —"
    out.append(_factory("vsm-supplier", _MARGIN, _TOP + 10, "Supplier", []))
    out.append(
        _factory(
            "vsm-customer",
            last_x + _BOX_W - 20,
            _TOP + 10,
            "Customer",
            [demand, f"{c.get('quantity') or 0:,.0f} {unit} taken"],
            None
            if vsm.customer
            else "not measurable — needs objects that reach the customer (an exit)",
        )
    )
    takt = vsm.takt_seconds
    out.append(
        f'<g class="vsm-takt"><title>takt = available time ÷ customer demand</title>'
        f'<rect x="{last_x + _BOX_W - 20}" y="{_TOP + 126}" width="120" height="26" '
        'fill="#fef9c3" stroke="#854d0e"/>'
        f'<text x="{last_x + _BOX_W + 40}" y="{_TOP + 144}" text-anchor="middle" '
        f'font-weight="bold">Takt {e(duration(takt))}</text></g>'
    )
    pc_x = (x0 + last_x + _BOX_W) / 2 - 80
    out.append(
        f'<g class="vsm-production-control"><rect x="{pc_x}" y="{_TOP}" width="160" '
        'height="50" fill="#f1f5f9" stroke="#334155"/>'
        f'<text x="{pc_x + 80}" y="{_TOP + 22}" text-anchor="middle" font-weight="bold">'
        "Production control</text>"
        f'<text x="{pc_x + 80}" y="{_TOP + 40}" text-anchor="middle" fill="#555">'
        f"{len(vsm.information)} document type(s)</text></g>"
    )
    for j, info in enumerate(vsm.information[:4]):
        per_week = info["per_week"]
        label = f"{info['document']} ({info['kind']}): {info['documents']:,}" + (
            f", {per_week:,.1f}/wk" if per_week is not None else ""
        )
        y = _TOP + 12 + j * 12
        from_customer = info["kind"] in ("order", "forecast")
        x1, x2 = (last_x + _BOX_W - 24, pc_x + 160) if from_customer else (pc_x, _MARGIN + 104)
        out.append(
            f'<g class="vsm-information"><title>{e(label)}</title>'
            f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="#334155" '
            'marker-end="url(#vsm-arrow)"/>'
            f'<text x="{(x1 + x2) / 2}" y="{y - 2}" text-anchor="middle" font-size="9">'
            f"{e(label)}</text></g>"
        )
    if main:
        out.append(
            f'<g class="vsm-information"><title>schedules to the process boxes</title>'
            f'<line x1="{pc_x + 80}" y1="{_TOP + 50}" x2="{pc_x + 80}" y2="{_PROC_Y - 20}" '
            'stroke="#334155" stroke-dasharray="5 3" marker-end="url(#vsm-arrow)"/></g>'
        )
    # trucks: one row each under the supplier, as many as fit above the process boxes
    room = max(1, int((_PROC_Y - 30 - (_TOP + 100)) // 30))
    for j, s in enumerate(vsm.shipments[:room]):
        per_week = s["per_week"]
        label = f"{_short(s['from'])} → {_short(s['to'])}: {s['shipments']:,} shipments" + (
            f", {per_week:,.1f}/week" if per_week is not None else ""
        )
        out.append(_truck(_MARGIN, _TOP + 100 + j * 30, label))
    if len(vsm.shipments) > room:
        out.append(
            f'<text x="{_MARGIN}" y="{_TOP + 100 + room * 30 + 10}" font-size="10" '
            f'fill="#555">… and {len(vsm.shipments) - room} more lanes (in the JSON)</text>'
        )
    # process boxes, inventory, flows
    for i, r in enumerate(main):
        x = xs[r["step"]]
        out.append(_inventory(x - _GAP / 2, r))
        if i > 0:
            out.append(_flow_arrow(x - _GAP, x, main[i - 1], r))
        out.append(_process_box(x, _PROC_Y, r, data=True))
        if r["step"] in vsm.kaizen_bursts:
            out.append(_burst(x + _BOX_W - 10, _PROC_Y - 12, r["step"]))
    level: dict[str, int] = {}
    for b in branches:
        anchor = b["branch_of"] or ""
        k = level.get(anchor, 0)
        level[anchor] = k + 1
        bx = xs.get(anchor, x0) + 30
        by = branch_y + k * (_BOX_H + 30)
        out.append(
            f'<g class="vsm-branch"><title>{e(b["step"])}: leaves the path at '
            f"{e(anchor)}; {b['objects']:,} objects, {b['visits']:,} visits; wait "
            f"{e(duration(b['wait_before_seconds']))}, P/T {e(duration(b['process_seconds']))}"
            "</title>"
            f'<line x1="{bx}" y1="{_PROC_Y + _BOX_H + _DATA_H}" x2="{bx}" y2="{by}" '
            'stroke="#64748b" stroke-dasharray="3 3" marker-end="url(#vsm-arrow)"/>'
            + _process_box(bx, by, b, data=False)
            + "</g>"
        )
        if b["step"] in vsm.kaizen_bursts:
            out.append(_burst(bx + _BOX_W - 10, by - 12, b["step"]))
    out.append(_draw_ladder(vsm, ladder_y, x0))
    for j, note in enumerate(vsm.notes[:8]):
        out.append(
            f'<text x="{_MARGIN}" y="{ladder_y + 130 + j * 16}" fill="#555" font-size="10">'
            f"{e(note[:220])}</text>"
        )
    out.append("</svg>")
    return "\n".join(out)


def _short(text: Any) -> str:
    s = str(text or "?")
    for prefix in (CANONICAL_DOMAIN + "/", "urn:epc:id:"):
        s = s.removeprefix(prefix)
    return s if len(s) <= 28 else "…" + s[-27:]


def _factory(
    cls: str, x: float, y: float, name: str, lines: Sequence[str], why: str | None = None
) -> str:
    e = html.escape
    tip = f"<title>{e(why)}</title>" if why else f"<title>{e(name)}</title>"
    body = [
        f'<g class="{cls}">{tip}'
        f'<polygon points="{x},{y + 70} {x},{y + 20} {x + 25},{y} {x + 25},{y + 20} {x + 50},'
        f'{y} {x + 50},{y + 20} {x + 75},{y} {x + 75},{y + 70}" fill="#e2e8f0" '
        'stroke="#334155"/>'
        f'<text x="{x + 38}" y="{y + 50}" text-anchor="middle" font-weight="bold" '
        f'font-size="11">{e(name)}</text>'
    ]
    for j, line in enumerate(lines):
        body.append(
            f'<text x="{x + 38}" y="{y + 84 + j * 13}" text-anchor="middle" font-size="10">'
            f"{e(line)}</text>"
        )
    body.append("</g>")
    return "".join(body)


def _truck(x: float, y: float, label: str) -> str:
    e = html.escape
    return (
        f'<g class="vsm-truck"><title>{e(label)}</title>'
        f'<rect x="{x}" y="{y}" width="44" height="22" fill="white" stroke="#334155"/>'
        f'<rect x="{x + 44}" y="{y + 8}" width="16" height="14" fill="white" stroke="#334155"/>'
        f'<circle cx="{x + 10}" cy="{y + 25}" r="4" fill="#334155"/>'
        f'<circle cx="{x + 50}" cy="{y + 25}" r="4" fill="#334155"/>'
        f'<text x="{x + 66}" y="{y + 16}" font-size="10">{e(label)}</text></g>'
    )


def _inventory(cx: float, r: Mapping[str, Any]) -> str:
    e = html.escape
    inv = r["inventory_before"]
    stock = r["end_stock_before"]
    days = r["end_stock_days"]
    tip = (
        f"before {r['step']}: {inv:,.1f} objects on average (Little's law on "
        f"{r['waiting_arrivals']:,} waiting arrivals), waiting "
        f"{duration(r['wait_before_seconds'])} per visit; at the end of the log "
        f"{stock if stock is not None else '—'} waiting"
        + (f" ({days:,.1f} days of demand)" if days is not None else "")
    )
    y = _PROC_Y
    lines = [
        f'<g class="vsm-inventory"><title>{e(tip)}</title>'
        f'<polygon points="{cx - 16},{y + 40} {cx + 16},{y + 40} {cx},{y + 12}" '
        'fill="#fde68a" stroke="#b45309"/>'
        f'<text x="{cx}" y="{y + 36}" text-anchor="middle" font-weight="bold">I</text>'
        f'<text x="{cx}" y="{y + 56}" text-anchor="middle">{inv:,.1f}</text>'
        f'<text x="{cx}" y="{y + 70}" text-anchor="middle" fill="#555" font-size="10">'
        f"end {stock if stock is not None else '—'}"
        + (f" · {days:,.1f} d" if days is not None else "")
        + "</text></g>"
    ]
    return "".join(lines)


def _flow_arrow(x1: float, x2: float, prev: Mapping[str, Any], r: Mapping[str, Any]) -> str:
    e = html.escape
    y = _PROC_Y - 8
    if prev["kind"] == "supermarket":
        return (
            f'<g class="vsm-supermarket"><title>{e(prev["step"])}: goods wait in stock '
            f"for {e(r['step'])} to pull them</title>"
            f'<path d="M{x1 + 22},{y - 22} h30 v30 h-30" fill="none" stroke="#334155" '
            'stroke-width="2"/>'
            f'<line x1="{x1 + 22}" y1="{y - 12}" x2="{x1 + 52}" y2="{y - 12}" stroke="#334155"/>'
            f'<line x1="{x1 + 22}" y1="{y - 2}" x2="{x1 + 52}" y2="{y - 2}" stroke="#334155"/>'
            f'<path d="M{x2 - 4},{y + 12} C{x2 - 20},{y - 30} {x1 + 60},{y - 30} {x1 + 54},'
            f'{y - 8}" fill="none" stroke="#334155" marker-end="url(#vsm-arrow)"/></g>'
        )
    if r["fifo"]:
        return (
            f'<g class="vsm-fifo"><title>FIFO lane: {e(prev["step"])} → {e(r["step"])} '
            f"kept first-in-first-out (Kendall tau {r['fifo_tau']:.2f})</title>"
            f'<line x1="{x1 + 4}" y1="{y - 10}" x2="{x2 - 4}" y2="{y - 10}" stroke="#334155"/>'
            f'<line x1="{x1 + 4}" y1="{y + 4}" x2="{x2 - 4}" y2="{y + 4}" stroke="#334155"/>'
            f'<text x="{(x1 + x2) / 2}" y="{y - 1}" text-anchor="middle" font-size="9">'
            "FIFO</text></g>"
        )
    return (
        f'<g class="vsm-push"><title>push: {e(prev["step"])} → {e(r["step"])}</title>'
        f'<rect x="{x1 + 4}" y="{y - 6}" width="{x2 - x1 - 18}" height="7" '
        'fill="url(#vsm-stripes)"/>'
        f'<polygon points="{x2 - 14},{y - 11} {x2 - 2},{y - 2.5} {x2 - 14},{y + 6}" '
        'fill="#334155"/></g>'
    )


def _process_box(x: float, y: float, r: Mapping[str, Any], *, data: bool) -> str:
    e = html.escape
    name = r["step"] if len(r["step"]) <= 24 else r["step"][:23] + "…"
    size = 12 if len(name) <= 17 else 10
    out = [
        f'<g class="vsm-process"><title>{e(r["step"])}: {r["objects"]:,} objects, '
        f"{r['visits']:,} visits</title>"
        f'<rect x="{x}" y="{y}" width="{_BOX_W}" height="{_BOX_H}" fill="#dbeafe" '
        'stroke="#1e3a8a" stroke-width="1.5"/>'
        f'<text x="{x + _BOX_W / 2}" y="{y + 27}" text-anchor="middle" font-size="{size}" '
        f'font-weight="bold">{e(name)}</text></g>'
    ]
    if not data:
        return "".join(out)
    out.append(
        f'<g class="vsm-data-box"><rect x="{x}" y="{y + _BOX_H}" width="{_BOX_W}" '
        f'height="{_DATA_H}" fill="white" stroke="#1e3a8a"/>'
    )
    for j, (label, key, aliases) in enumerate(_DATA_FIELDS):
        value = r.get(key)
        ty = y + _BOX_H + 16 + j * 15
        if value is None:
            out.append(
                f'<text x="{x + 8}" y="{ty}" font-size="11"><title>{e(_why(r, key, aliases))}'
                f"</title>{e(label)} —</text>"
            )
        else:
            out.append(
                f'<text x="{x + 8}" y="{ty}" font-size="11">{e(label)} {e(_fmt(key, value))}</text>'
            )
    out.append("</g>")
    return "".join(out)


def _burst(cx: float, cy: float, step: str) -> str:
    points = []
    for k in range(16):
        radius = 16 if k % 2 == 0 else 8
        angle = math.pi * k / 8
        points.append(f"{cx + radius * math.cos(angle):.1f},{cy + radius * math.sin(angle):.1f}")
    return (
        f'<g class="vsm-kaizen-burst"><title>kaizen: {html.escape(step)}</title>'
        f'<polygon points="{" ".join(points)}" fill="#fecaca" stroke="#b91c1c"/></g>'
    )


def _draw_ladder(vsm: ValueStreamMap, y: float, x0: float) -> str:
    """The timeline: every segment of ``vsm.ladder`` — waits up, value-added down — and the
    totals box, which the segments sum to."""
    e = html.escape
    out = ['<g class="vsm-ladder">']
    seg_w = (_BOX_W + _GAP) / 2
    x = x0 - _GAP / 2
    for s in vsm.ladder:
        name = s["step"] or "not on the map"
        colour = "#b91c1c" if s["path"] == "main" else "#94a3b8"
        wait = s["wait_seconds"]
        out.append(
            f"<g><title>{e(name)} ({e(s['path'])}): wait {e(duration(wait))} per object"
            "</title>"
            f'<line x1="{x}" y1="{y - 30}" x2="{x + seg_w}" y2="{y - 30}" stroke="{colour}" '
            'stroke-width="2"/>'
            f'<text x="{x + seg_w / 2}" y="{y - 36}" text-anchor="middle" fill="{colour}" '
            f'font-size="10">{e(duration(wait))}</text></g>'
        )
        x += seg_w
        proc = s["process_seconds"]
        out.append(
            f'<line x1="{x}" y1="{y - 30}" x2="{x}" y2="{y}" stroke="#555"/>'
            f"<g><title>{e(name)}: value-added {e(duration(proc))} per object</title>"
            f'<line x1="{x}" y1="{y}" x2="{x + seg_w}" y2="{y}" stroke="#15803d" '
            'stroke-width="2"/>'
            f'<text x="{x + seg_w / 2}" y="{y + 16}" text-anchor="middle" fill="#15803d" '
            f'font-size="10">{e(duration(proc))}</text></g>'
            f'<line x1="{x + seg_w}" y1="{y}" x2="{x + seg_w}" y2="{y - 30}" stroke="#555"/>'
        )
        x += seg_w
    out.append("</g>")
    pce = vsm.process_cycle_efficiency
    lines = [
        ("Lead time", duration(vsm.lead_seconds)),
        ("Value-added", duration(vsm.value_added_seconds)),
        ("PCE", "—" if pce is None else f"{pce:.2%}"),
        ("Measured lead", duration(vsm.measured_lead_seconds)),
    ]
    bx = x + 20
    out.append(
        f'<g class="vsm-totals"><rect x="{bx}" y="{y - 70}" width="180" height="100" '
        'fill="#f8fafc" stroke="#334155"/>'
    )
    for j, (k, v) in enumerate(lines):
        out.append(
            f'<text x="{bx + 8}" y="{y - 50 + j * 22}">{e(k)}: '
            f'<tspan font-weight="bold">{e(v)}</tspan></text>'
        )
    out.append("</g>")
    return "".join(out)
