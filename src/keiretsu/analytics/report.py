"""The morning report: every view of a twin, computed in one go for ``keiretsu analyze``.

:func:`analyze` picks the object type the report follows (the one most events are about —
the cases of an XES log, the orders or items of an object-centric log — unless told), computes
the process map, variants, where time goes, the bottlenecks, inventory and days of supply, the
eight wastes with their Pareto, bullwhip and the value stream map, and returns them as a
:class:`Report` of :class:`~keiretsu.analytics.view.View` s.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from keiretsu.analytics.bottleneck import bottlenecks, factory_physics
from keiretsu.analytics.bullwhip import bullwhip
from keiretsu.analytics.calendar import Calendar
from keiretsu.analytics.customer import customer_demand
from keiretsu.analytics.flow import object_times, ordered_visits, step_stats
from keiretsu.analytics.inventory import days_of_supply
from keiretsu.analytics.littles_law import littles_law_check
from keiretsu.analytics.log import Log
from keiretsu.analytics.process_map import ocdfg, variants
from keiretsu.analytics.quality import escaped_defects
from keiretsu.analytics.rates import Rates
from keiretsu.analytics.view import View
from keiretsu.analytics.vsm import ValueStreamMap, value_stream_map
from keiretsu.analytics.waste import pareto, wastes

# Object types that are places, parties or equipment rather than work flowing through the
# process: never the default object type a report follows.
NOT_FLOWING = {
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
}


def _flows(object_type: str) -> bool:
    """Whether objects of this type flow through the process (orders, items, pallets…) rather
    than being places, parties, people or equipment (singular or plural, any case)."""
    name = object_type.strip().lower()
    return name not in NOT_FLOWING and name.removesuffix("s") not in NOT_FLOWING


@dataclass(frozen=True)
class Report:
    """Every view of one twin, following the objects of ``object_type``."""

    object_type: str
    object_types: list[str]
    views: dict[str, View]
    vsm: ValueStreamMap | None
    seconds: dict[str, float] = field(default_factory=dict)
    not_measurable: dict[str, str] = field(default_factory=dict)
    """Views left out because the log cannot support them → what they would need (aggregate
    data: no flow times, no process maps)."""

    @property
    def aggregate(self) -> bool:
        """Whether the log is aggregate data (amounts per product and period, not one event
        per object and step): then only demand, stock, days of supply and bullwhip."""
        return bool(self.not_measurable)

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready data: each view's rows and notes, and the map."""
        return {
            "object_type": self.object_type,
            "object_types": self.object_types,
            "aggregate": self.aggregate,
            "views": {name: view.to_json() for name, view in self.views.items()},
            "not_measurable": self.not_measurable,
            "value_stream_map": self.vsm.to_json() if self.vsm is not None else None,
            "seconds": self.seconds,
        }


AGGREGATE_VIEWS = ("customer_demand", "daily_demand", "days_of_supply", "bullwhip")
"""What aggregate data (so much of a product per day: production, sales) can feed."""

NOT_FROM_AGGREGATES: dict[str, str] = {
    "process_map": "one event per object and step (the path each object took)",
    "variants": "one event per object and step",
    "object_times": "when each object started and finished (flow, lead and waiting times)",
    "step_stats": "one event per object and step (arrivals, time in step, wait before)",
    "bottlenecks": "each object's time in each step",
    "factory_physics": "each object's lead time",
    "littles_law": "each object's lead time and the work in process",
    "escaped_defects": "inspections of single objects",
    "wastes": "each object's waits, moves and rework",
    "value_stream_map": "one event per object and step",
}
"""Views aggregate data cannot feed → what they need instead."""


def is_aggregate(log: Log) -> bool:
    """Whether most of the log's events are aggregate rows (event attribute ``aggregate`` =
    ``true``, as the CSV/Parquet reader writes for product amounts,
    :mod:`keiretsu.io.tabular`)."""
    e = log.events
    total = int(log.scalar(e.count()) or 0)
    if not total:
        return False
    a = log.event_attributes
    marked = int(
        log.scalar(a.filter((a.name == "aggregate") & (a.value == "true")).event_id.nunique()) or 0
    )
    return marked * 2 > total


def _aggregate_roles(log: Log) -> tuple[list[str], list[str]]:
    """The activities that are supply (produced or received) and demand (sold, shipped,
    consumed) in aggregate data, from the EPCIS facts its rows carry."""
    a = log.event_attributes
    facts = a.filter(a.name.isin(["action", "disposition"]))
    e = log.events
    j = facts.join(e, "event_id")
    rows = log.execute(j.group_by(["activity", j.name, j.value]).agg(n=j.count())).to_pylist()
    supply = sorted({r["activity"] for r in rows if r["name"] == "action" and r["value"] == "ADD"})
    demand = sorted(
        {
            r["activity"]
            for r in rows
            if r["name"] == "disposition" and r["value"] in ("retail_sold", "in_transit")
        }
    )
    return supply, demand


def main_object_type(log: Log) -> str:
    """The object type the report follows by default: of the types whose objects flow through
    the process (not locations, parties or resources), the one most events are about (ties:
    the one with more objects, then by name)."""
    if log.steps is None:
        r = log.relations.select("event_id", "object_id").distinct()
        j = r.join(log.objects, "object_id")
        per_type = j.group_by("object_type").agg(
            events=j.event_id.nunique(), objects=j.object_id.nunique()
        )
        counts = log.execute(per_type).to_pylist()
        return _most_events(counts)
    # The store's traces: one row per object and event, and each trace has one first step.
    # Counting distinct events is the costly part (a hash of every event per type: 3 s at
    # 10M events), so each type's rows, a bound on its events, come first, and the events are
    # counted only for the types that could still come out on top.
    s = log.steps
    bounds = log.execute(
        s.group_by("object_type").agg(rows=s.count(), objects=(s.position == 0).cast("int64").sum())
    ).to_pylist()
    if not bounds:
        raise ValueError("the log has no objects: nothing to analyse")
    flowing = [b for b in bounds if _flows(b["object_type"])] or bounds
    flowing.sort(key=lambda b: (-int(b["rows"]), b["object_type"]))
    counted: list[dict[str, Any]] = []
    for b in flowing:
        best = max((int(c["events"]) for c in counted), default=-1)
        if int(b["rows"]) < best:  # it cannot have more events than the best has
            break
        one = s.filter(s.object_type == b["object_type"])
        events = int(log.scalar(one.seq.nunique()) or 0)
        counted.append({**b, "events": events})
    return _most_events(counted)


def _most_events(counts: list[dict[str, Any]]) -> str:
    """Of ``counts`` (``object_type, events, objects``), the flowing type with most events,
    then most objects, then first by name (any type when none flows)."""
    flowing = [c for c in counts if _flows(c["object_type"])]
    chosen = flowing or counts
    if not chosen:
        raise ValueError("the log has no objects: nothing to analyse")
    best = min(chosen, key=lambda c: (-int(c["events"]), -int(c["objects"]), c["object_type"]))
    return str(best["object_type"])


def analyze(
    log: Log,
    *,
    object_type: str | None = None,
    value_adding: Collection[str] | None = None,
    rates: Rates | None = None,
    target_days: float | Mapping[str, float] | None = None,
    window_days: float = 28,
    calendar: Calendar | None = None,
    end_steps: Collection[str] | None = None,
    orders: Collection[str] | None = None,
    demand: Collection[str] | None = None,
    echelon_type: str | None = None,
) -> Report:
    """Compute every view of the twin for the morning report (see the module docstring).

    ``value_adding`` marks the value-adding steps where the log has no start/complete events;
    ``rates`` prices the wastes; ``target_days`` is the target days of supply; ``calendar`` is
    the node's working time (24/7 when not given: every figure that uses it says so);
    ``end_steps`` names the steps at which objects leave to the customer, where the events do
    not say it themselves (:mod:`keiretsu.analytics.customer`). ``orders``, ``demand`` and
    ``echelon_type`` go to :func:`~keiretsu.analytics.bullwhip.bullwhip`.

    On aggregate data (:func:`is_aggregate`: amounts per product and day, as from a wide sales
    table) the report holds what such data can feed — customer demand, daily demand, days of
    supply and bullwhip (per product: production as the orders, sales as the demand, unless
    told) — and names the views it cannot compute in :attr:`Report.not_measurable`."""
    log.require("object type", object_type, where="object_type")
    log.require("activity", value_adding, where="value_adding")
    log.require("activity", end_steps, where="end_steps")
    log.require("activity", orders, where="orders")
    log.require("activity", demand, where="demand")
    log.require("object type", echelon_type, where="echelon_type")
    followed = object_type or main_object_type(log)
    types = log.object_types()
    if followed not in types:
        raise ValueError(
            f"no objects of type {followed!r}; the log has: {', '.join(types) or 'none'}"
        )
    if is_aggregate(log):
        return _aggregate_report(
            log, followed, types, target_days, window_days, calendar, orders, demand, echelon_type
        )
    views: dict[str, View] = {}
    seconds: dict[str, float] = {}

    def timed(name: str, make: Any) -> Any:
        t0 = time.perf_counter()
        result = make()
        seconds[name] = round(time.perf_counter() - t0, 3)
        return result

    cal = calendar or Calendar.always()
    views["customer_demand"] = timed(
        "customer_demand",
        lambda: customer_demand(log, object_type=followed, end_steps=end_steps, calendar=cal),
    )
    pm = timed("process_map", lambda: ocdfg(log))
    views["process_map"] = pm.edges
    views["activities"] = pm.activities
    views["start_end"] = pm.start_end
    views["variants"] = timed("variants", lambda: variants(log, followed))
    views["object_times"] = timed(
        "object_times", lambda: object_times(log, followed, value_adding, end_steps=end_steps)
    )
    # the followed objects' visits to steps feed step_stats, bottlenecks and every later
    # view that reads them (factory physics, quality, data boxes, the value stream map):
    # computed once into a temporary table, lent to flow.visits for the whole report (with
    # each event's read order, which the data boxes and quality sort by)
    ordered = timed("visits", lambda: log.temporary(ordered_visits(log, followed), "visits"))
    visit_table = ordered.drop("seq")
    try:
        with (
            log.lend(("flow.visits", followed), visit_table),
            log.lend(("flow.ordered_visits", followed), ordered),
        ):
            views["step_stats"] = timed(
                "step_stats",
                lambda: step_stats(log, followed, visit_table=visit_table, calendar=cal),
            )
            views["bottlenecks"] = timed(
                "bottlenecks",
                lambda: bottlenecks(
                    log,
                    followed,
                    visit_table=visit_table,
                    calendar=cal,
                    end_steps=end_steps,
                    value_adding=value_adding,
                ),
            )
            views["factory_physics"] = timed(
                "factory_physics",
                lambda: factory_physics(
                    log, followed, calendar=cal, end_steps=end_steps, value_adding=value_adding
                ),
            )
            views["littles_law"] = timed(
                "littles_law", lambda: littles_law_check(log, followed, calendar=cal)
            )
            views["escaped_defects"] = timed(
                "escaped_defects", lambda: escaped_defects(log, followed, end_steps=end_steps)
            )
            views["days_of_supply"] = timed(
                "days_of_supply", lambda: days_of_supply(log, window_days, targets=target_days)
            )
            waste_view = timed(
                "wastes",
                lambda: wastes(
                    log,
                    rates,
                    target_days=target_days,
                    value_adding=value_adding,
                    end_steps=end_steps,
                ),
            )
            views["wastes"] = waste_view
            views["waste_pareto"] = pareto(waste_view)
            views["bullwhip"] = timed(
                "bullwhip",
                lambda: bullwhip(
                    log,
                    orders=None if orders is None else list(orders),
                    demand=None if demand is None else list(demand),
                    echelon_type=echelon_type,
                ),
            )
            vsm = timed(
                "value_stream_map",
                lambda: value_stream_map(
                    log, followed, value_adding=value_adding, calendar=cal, end_steps=end_steps
                ),
            )
    finally:
        log.drop_temporary([ordered])
    return Report(followed, types, views, vsm, seconds)


def _aggregate_report(
    log: Log,
    followed: str,
    types: list[str],
    target_days: float | Mapping[str, float] | None,
    window_days: float,
    calendar: Calendar | None,
    orders: Collection[str] | None,
    demand: Collection[str] | None,
    echelon_type: str | None,
) -> Report:
    """The report on aggregate data: demand, stock, days of supply and bullwhip only."""
    from keiretsu.analytics.inventory import daily_demand

    seconds: dict[str, float] = {}
    views: dict[str, View] = {}

    def timed(name: str, make: Any) -> Any:
        t0 = time.perf_counter()
        result = make()
        seconds[name] = round(time.perf_counter() - t0, 3)
        return result

    supply, sold = _aggregate_roles(log)
    cal = calendar or Calendar.always()
    views["customer_demand"] = timed(
        "customer_demand", lambda: customer_demand(log, object_type=followed, calendar=cal)
    )
    views["daily_demand"] = timed("daily_demand", lambda: daily_demand(log, by_location=False))
    views["days_of_supply"] = timed(
        "days_of_supply", lambda: days_of_supply(log, window_days, targets=target_days)
    )
    bw_orders = list(orders) if orders is not None else (supply or None)
    bw_demand = list(demand) if demand is not None else (sold or None)
    if echelon_type is None and bw_orders is not None and "product" in types:
        echelon_type = "product"
    views["bullwhip"] = timed(
        "bullwhip",
        lambda: bullwhip(
            log, window_days=7, orders=bw_orders, demand=bw_demand, echelon_type=echelon_type
        ),
    )
    return Report(followed, types, views, None, seconds, dict(NOT_FROM_AGGREGATES))
