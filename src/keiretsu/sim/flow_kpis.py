"""The flow-level world's KPIs, measured on the EPCIS events it emitted.

The world (:mod:`keiretsu.sim.world`) plays the value chain and writes what each company's
systems record; nothing here reads its true parameters or its state. Its events are read as a
twin reads any EPCIS document (:func:`keiretsu.io.epcis.read_epcis`, into a log in memory) and
measured with the analytics' own definitions:

- **on hand** per buffer at the end of each period — the stock ledger
  (:func:`keiretsu.analytics.inventory.stock_levels`) at the buffer's site, for the goods it
  ships or sells (raw material waiting to be used is an input, not stock);
- **in transit** from a buffer at the end of each period — items whose ``shipped`` movement in
  the ledger (:func:`keiretsu.analytics.inventory.movements`) is followed by a ``received``
  one, counted between the two;
- **fill rate** at a buffer facing end customers — of the units leaving to the customer
  (:func:`keiretsu.analytics.customer.exits`), the share that left at another instant than a
  delivery to the site. A sale recorded at the very instant goods arrive is a waiting customer
  served from the delivery (a backorder filled); a customer served from the shelf arrives at
  any other moment. Measured by the time of the exit, over the measured periods;
- **backorders** at a buffer facing end customers, at the end of each period — units owed to
  customers. The events say when a waiting customer was served, not when they asked: a
  stock-out *episode* (the site's stock at 0, from the instant it ran out to the delivery that
  leaves stock again) served N waiting units at its deliveries; the units asked up to an
  instant of the episode are taken as N × (time elapsed ÷ the episode's length) — the expected
  count for customers arriving at a constant rate — less those already served. Exact at the
  episode's ends; periods in an episode still open when the events end are not measured;
- **bullwhip** per buffer — :func:`keiretsu.analytics.bullwhip.bullwhip` with windows of one
  period (purchase orders when first seen, sales), over the whole run;
- **cost** per period at the model's rates (costs are not in the events): holding on hand and
  in transit to customers at the shipper's rate, backorders at the end customers' rate,
  transport per unit and per shipment paid by the receiving buffer — as the policy level
  counts them (:mod:`keiretsu.sim.policy_level`).

Figures are per period over the measured periods (after ``warmup``); :func:`simulate_flow`
runs independent replications (seeds) and gives each KPI's mean with its Student's t interval
(:func:`keiretsu.sim.kpis.estimate`, scipy), as the policy level reports them.

**The two fidelities' clocks.** The world reviews each buffer at the *start* of a period and
its end customers arrive during the period; the policy level serves the period's demand and
then reviews. A buffer facing end customers therefore orders one period later in the world:
it covers L + 1 periods of demand where the policy level covers L. :func:`policy_counterpart`
gives the policy-level model that plays the same chain (one more period on the links into the
buffers that face end customers); on those links the policy level then counts one more period
of goods in transit, at the shipper's rate.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from keiretsu.analytics.bullwhip import bullwhip
from keiretsu.analytics.customer import exits
from keiretsu.analytics.inventory import movements
from keiretsu.analytics.log import Log
from keiretsu.analytics.view import View
from keiretsu.io.epcis import read_epcis
from keiretsu.model import Ocel
from keiretsu.model.gs1 import identify
from keiretsu.sim.kpis import KPI_UNITS, Estimate, estimate
from keiretsu.sim.model import Network
from keiretsu.sim.model.distributions import FloatArray
from keiretsu.sim.world import World, epcis_document
from keiretsu.sim.world.identity import company_prefix, sgln

__all__ = [
    "FLOW_KPIS",
    "FlowResult",
    "aligned_start",
    "flow_kpis",
    "policy_counterpart",
    "simulate_flow",
    "site_names",
    "world_log",
]

FLOW_KPIS: dict[str, str] = {
    "cost": KPI_UNITS["cost"],
    "holding_cost": KPI_UNITS["holding_cost"],
    "shortage_cost": KPI_UNITS["shortage_cost"],
    "transport_cost": KPI_UNITS["transport_cost"],
    "on_hand": KPI_UNITS["on_hand"],
    "in_transit": "units",
    "backorders": KPI_UNITS["backorders"],
    "fill_rate": KPI_UNITS["fill_rate"],
    "bullwhip": KPI_UNITS["bullwhip"],
}
"""The KPIs measured on the world's events and their units (the policy level's names)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CREATED = "2000-01-01T00:00:00Z"


def world_log(world: World) -> Log:
    """Every company's events so far, read through the EPCIS reader (checked as any document a
    node accepts) into one log in memory — what a twin of the whole chain would hold."""
    parts: list[Ocel] = []
    for company, events in world.events().items():
        if events:
            body = orjson.dumps(epcis_document(events, _CREATED))
            parts += list(read_epcis(body, document=company))
    return Log.from_ocel(Ocel.concat(parts))


def site_names(network: Network) -> dict[str, str]:
    """Each buffer's site as the log spells it (a GLN Digital Link) -> the buffer's name, by
    the world's naming of companies and sites (``docs/sim/world.md``: company prefixes
    ``9520001``… in the model's order, sites numbered from 1 in each company)."""
    out: dict[str, str] = {}
    for i, company in enumerate(network.companies):
        for j, buffer in enumerate(company.buffers):
            out[identify(sgln(company_prefix(i), j + 1))[0]] = buffer.name
    return out


def aligned_start(hours_per_period: float, before: datetime | None = None) -> datetime:
    """The latest instant at or before ``before`` (default: 2025-01-06 UTC) that is a whole
    number of periods after 1970-01-01 UTC — where the ledger's buckets begin, so a world
    started there has its periods on the buckets."""
    when = (before or datetime(2025, 1, 6, tzinfo=UTC)).astimezone(UTC)
    step = hours_per_period * 3600.0
    n = math.floor((when - _EPOCH).total_seconds() / step)
    return _EPOCH + timedelta(seconds=n * step)


def _seconds(t: datetime) -> float:
    t = t.replace(tzinfo=UTC) if t.tzinfo is None else t
    return (t - _EPOCH).total_seconds()


def _times(column: pa.ChunkedArray | pa.Array) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Timestamps as seconds since 1970 UTC."""
    arr = column.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=np.float64) / 1e6


def flow_kpis(
    log: Log,
    network: Network,
    *,
    origin: datetime,
    periods: int,
    hours_per_period: float,
    warmup: int = 0,
    sites: Mapping[str, str] | None = None,
) -> View:
    """The KPIs of one run of the world, from its events (see the module docstring).

    ``origin``: the instant period 0 starts (the world's ``start``, UTC); ``periods``: periods
    played; ``warmup``: the first periods left out of every per-period figure (bullwhip is over
    the whole run); ``sites``: site -> buffer name (default :func:`site_names`).

    Columns: ``scope`` (``network`` or a buffer), ``kpi``, ``unit``, ``value`` (per period over
    the measured periods; null where not measurable), ``note`` (why not)."""
    if periods - warmup < 2:
        raise ValueError("at least 2 measured periods are needed after the warm-up")
    sites = dict(sites or site_names(network))
    buffer_site = {b: s for s, b in sites.items()}
    step = hours_per_period * 3600.0
    t0 = _seconds(origin)
    if abs(math.remainder(t0, step)) > 1e-6:
        raise ValueError(
            f"origin {origin.isoformat()} is not a whole number of {hours_per_period:g}-hour "
            "periods after 1970-01-01 UTC, where the stock ledger's buckets start; start the "
            "world at aligned_start(...)"
        )
    # the measured periods' ends, seconds since 1970 UTC
    ends: FloatArray = t0 + step * np.arange(warmup + 1, periods + 1, dtype=np.float64)
    lo, hi = t0 + warmup * step, t0 + periods * step
    measured = periods - warmup

    ledger = log.run(("flow_kpis.movements",), lambda _: movements(log))
    loc = np.asarray(ledger.column("location").to_pylist(), dtype=object)
    prod = np.asarray(ledger.column("product").to_pylist(), dtype=object)
    kind = np.asarray(ledger.column("kind").to_pylist(), dtype=object)
    obj = np.asarray(ledger.column("object_id").to_pylist(), dtype=object)
    eid = ledger.column("event_id").to_pylist()
    when = _times(ledger.column("time"))
    seq = np.asarray(ledger.column("seq").to_numpy(zero_copy_only=False), dtype=np.int64)
    delta = np.asarray(ledger.column("delta").to_numpy(zero_copy_only=False), dtype=np.float64)
    # the goods each site ships or sells: its stock (raw material is consumed, not shipped)
    goods: dict[str, set[str]] = {}
    for s, p, k in zip(loc, prod, kind, strict=True):
        if k in ("shipped", "sold"):
            goods.setdefault(s, set()).add(p)
    # stock on hand: the running sum of the ledger per location and product (stock_levels)
    stock_at: dict[tuple[str, str], tuple[FloatArray, FloatArray]] = {}
    by_pair = np.lexsort((seq, when, prod, loc))
    s_loc, s_prod, s_time, s_delta = loc[by_pair], prod[by_pair], when[by_pair], delta[by_pair]
    cuts = np.flatnonzero((s_loc[1:] != s_loc[:-1]) | (s_prod[1:] != s_prod[:-1])) + 1
    for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(s_loc)], strict=True):
        if a == b:
            continue
        t, level = s_time[a:b], np.cumsum(s_delta[a:b])
        last = np.r_[t[1:] != t[:-1], True]  # the stock after every movement of an instant
        stock_at[(str(s_loc[a]), str(s_prod[a]))] = (t[last], level[last])
    # where each unit left to the customer (analytics.customer.exits), by the ledger's row
    place = {(e, o): lc for e, o, lc in zip(eid, obj, loc, strict=True)}
    gone = log.execute(exits(log))
    ex_loc = np.asarray(
        [
            place.get((e, o))
            for e, o in zip(
                gone.column("event_id").to_pylist(),
                gone.column("object_id").to_pylist(),
                strict=True,
            )
        ],
        dtype=object,
    )
    ex_time = _times(gone.column("time"))

    bw = bullwhip(log, hours_per_period / 24.0).table
    bw_by = dict(
        zip(bw.column("echelon").to_pylist(), bw.column("bullwhip").to_pylist(), strict=True)
    )

    rows: list[dict[str, Any]] = []
    notes: list[str] = [
        f"{measured} periods of {hours_per_period:g} h measured after a warm-up of {warmup}, "
        f"from {datetime.fromtimestamp(lo, UTC).isoformat()}",
        "bullwhip over the whole run (analytics.bullwhip, one-period windows)",
    ]
    per: dict[str, dict[str, float | None]] = {}
    served: dict[str, tuple[int, int]] = {}  # buffer -> (units asked, served from stock)
    not_measured: dict[tuple[str, str], str] = {}

    # in transit: each shipped item until it is received (its next movement in the ledger);
    # one not received when the events end is still on its way, unless it left to the customer
    order = np.lexsort((seq, when, obj))
    o_obj, o_kind, o_loc, o_time = obj[order], kind[order], loc[order], when[order]
    o_eid = np.asarray(eid, dtype=object)[order]
    same = np.r_[o_obj[:-1] == o_obj[1:], False]
    nxt_kind = np.r_[o_kind[1:], None]
    pair = (o_kind == "shipped") & same & (nxt_kind == "received")
    to_customer = {
        (e, o)
        for e, o in zip(
            gone.column("event_id").to_pylist(), gone.column("object_id").to_pylist(), strict=True
        )
    }
    open_ = (o_kind == "shipped") & ~same
    open_ &= np.fromiter(
        ((e, o) not in to_customer for e, o in zip(o_eid, o_obj, strict=True)), bool, len(o_obj)
    )
    first = np.flatnonzero(pair)
    travelling = np.flatnonzero(open_)
    src_of = np.r_[o_loc[first], o_loc[travelling]]
    dst_of = np.r_[o_loc[first + 1], np.full(len(travelling), "", dtype=object)]
    shipped_at = np.r_[o_time[first], o_time[travelling]]
    received_at = np.r_[o_time[first + 1], np.full(len(travelling), np.inf)]
    transit: dict[str, FloatArray] = {}
    freight_units: dict[tuple[str, str], float] = {}
    freight_shipments: dict[tuple[str, str], set[float]] = {}
    for src in set(src_of.tolist()):
        sel = src_of == src
        out_ = np.searchsorted(np.sort(shipped_at[sel]), ends, side="left")
        back = np.searchsorted(np.sort(received_at[sel]), ends, side="left")
        transit[str(src)] = (out_ - back).astype(np.float64)
    counted = (shipped_at >= lo) & (shipped_at < hi)
    for src, dst, ts in zip(src_of[counted], dst_of[counted], shipped_at[counted], strict=True):
        key = (str(src), str(dst))
        freight_units[key] = freight_units.get(key, 0.0) + 1.0
        freight_shipments.setdefault(key, set()).add(float(ts))
    for name in network.buffers:
        per[name] = _buffer_kpis(
            name,
            network,
            site=buffer_site.get(name),
            buffer_site=buffer_site,
            goods=goods,
            stock_at=stock_at,
            ledger=(loc, prod, kind, when, delta),
            gone=(ex_loc, ex_time),
            transit=transit,
            freight=(freight_units, freight_shipments),
            ends=ends,
            window=(lo, hi),
            bullwhip_of=bw_by,
            served=served,
            not_measured=not_measured,
            notes=notes,
        )

    total: dict[str, float | None] = {}
    summed = ("cost", "holding_cost", "shortage_cost", "transport_cost", "on_hand", "in_transit")
    for k in (*summed, "backorders"):
        vals = [per[b].get(k) for b in per]
        total[k] = None if any(v is None for v in vals) else math.fsum(v or 0.0 for v in vals)
        if total[k] is None:
            not_measured[("network", k)] = "not measurable — a buffer's figure is missing"
    asked = sum(n for n, _ in served.values())
    total["fill_rate"] = sum(n for _, n in served.values()) / asked if asked else None
    if total["fill_rate"] is None:
        not_measured[("network", "fill_rate")] = (
            not_measured.get((next(iter(served), ""), "fill_rate"))
            or "not measurable — no end-customer sales measured"
        )

    for scope, kpis in [("network", total), *per.items()]:
        for k, unit in FLOW_KPIS.items():
            if k not in kpis:
                continue
            value = kpis[k]
            rows.append(
                {
                    "scope": scope,
                    "kpi": k,
                    "unit": unit,
                    "value": value,
                    "note": not_measured.get((scope, k)) if value is None else None,
                }
            )
    if any(b.ordering_cost for b in network.buffers.values()):
        notes.append("ordering cost not counted (the world's orders have no events of their own)")
    schema = pa.schema(
        [
            ("scope", pa.string()),
            ("kpi", pa.string()),
            ("unit", pa.string()),
            ("value", pa.float64()),
            ("note", pa.string()),
        ]
    )
    meta = {
        "periods": periods,
        "warmup": warmup,
        "hours_per_period": hours_per_period,
        "origin": datetime.fromtimestamp(t0, UTC),
    }
    return View("flow_kpis", pa.Table.from_pylist(rows, schema), tuple(notes), meta)


def _buffer_kpis(
    name: str,
    network: Network,
    *,
    site: str | None,
    buffer_site: Mapping[str, str],
    goods: Mapping[str, set[str]],
    stock_at: Mapping[tuple[str, str], tuple[FloatArray, FloatArray]],
    ledger: tuple[Any, Any, Any, FloatArray, FloatArray],
    gone: tuple[Any, FloatArray],
    transit: Mapping[str, FloatArray],
    freight: tuple[Mapping[tuple[str, str], float], Mapping[tuple[str, str], set[float]]],
    ends: FloatArray,
    window: tuple[float, float],
    bullwhip_of: Mapping[str, Any],
    served: dict[str, tuple[int, int]],
    not_measured: dict[tuple[str, str], str],
    notes: list[str],
) -> dict[str, float | None]:
    """One buffer's KPIs per period over the measured periods."""
    buffer = network.buffers[name]
    if site is None:
        for k in FLOW_KPIS:
            not_measured[(name, k)] = f"not measurable — buffer {name!r} has no site"
        return dict.fromkeys(FLOW_KPIS)
    loc, prod, kind, when, delta = ledger
    lo, hi = window
    measured = len(ends)
    mine = goods.get(site, set())
    kpis: dict[str, float | None] = {}
    on_hand = np.zeros(measured)
    for p in mine:
        t, level = stock_at[(site, p)]
        idx = np.searchsorted(t, ends, side="left") - 1  # the last instant before each end
        on_hand += np.where(idx >= 0, level[np.maximum(idx, 0)], 0.0)
    moving = transit.get(site, np.zeros(measured))
    kpis["on_hand"] = float(on_hand.mean())
    kpis["in_transit"] = float(moving.mean())
    kpis["holding_cost"] = buffer.holding_cost * float((on_hand + moving).mean())
    demand = network.demand_at(name)
    if demand is None:
        kpis["backorders"] = 0.0
        kpis["shortage_cost"] = 0.0
        kpis["fill_rate"] = None
        not_measured[(name, "fill_rate")] = (
            "not measurable — needs the orders' times (the world's orders travel on the "
            "shipments: an order is seen when first shipped)"
        )
    elif network.unmet == "lost_sale":
        kpis["backorders"] = 0.0
        kpis["fill_rate"] = kpis["shortage_cost"] = None
        not_measured[(name, "fill_rate")] = (
            "not measurable — needs the lost customers (a sale lost to an empty shelf leaves no "
            "event)"
        )
        not_measured[(name, "shortage_cost")] = "not measurable — needs the lost sales"
    else:
        ours = (loc == site) & (delta > 0) & np.isin(prod, list(mine))
        deliveries = set(when[ours].tolist())
        ex_loc, ex_time = gone
        t_exit = ex_time[ex_loc == site]
        late = np.fromiter((t in deliveries for t in t_exit.tolist()), bool, len(t_exit))
        inside = (t_exit >= lo) & (t_exit < hi)
        asked = int(inside.sum())
        on_time = int((inside & ~late).sum())
        kpis["fill_rate"] = on_time / asked if asked else None
        served[name] = (asked, on_time)
        if not asked:
            not_measured[(name, "fill_rate")] = "not measurable — no sales in the measured periods"
        backlog = np.zeros(measured)
        for p in mine:
            t, level = stock_at[(site, p)]
            backlog += _backorders(t, level, t_exit[late], ends)
        valid = ~np.isnan(backlog)
        if not valid.any():
            kpis["backorders"] = kpis["shortage_cost"] = None
            not_measured[(name, "backorders")] = "not measurable — the run ends inside a stock-out"
            not_measured[(name, "shortage_cost")] = not_measured[(name, "backorders")]
        else:
            if not valid.all():
                notes.append(
                    f"{name}: {int((~valid).sum())} period ends inside a stock-out still open "
                    "when the events end are not counted in its backorders"
                )
            owed = float(backlog[valid].mean())
            kpis["backorders"] = owed
            kpis["shortage_cost"] = demand.backorder_cost * owed
    units_in, shipments_in = freight
    transport = 0.0
    for link in network.links_into(name):
        if not (link.cost_per_unit or link.cost_per_shipment):
            continue
        if link.source is None:  # lots from outside, in the supplier's units
            lots = (loc == site) & (kind == "received") & (when >= lo) & (when < hi)
            lots &= ~np.isin(prod, list(mine))
            transport += link.cost_per_unit * float(delta[lots].sum())
            transport += link.cost_per_shipment * len(set(when[lots].tolist()))
        else:
            key = (buffer_site.get(link.source, ""), site)
            transport += link.cost_per_unit * units_in.get(key, 0.0)
            transport += link.cost_per_shipment * len(shipments_in.get(key, ()))
    kpis["transport_cost"] = transport / measured
    ratio = bullwhip_of.get(site)
    kpis["bullwhip"] = None if ratio is None or not math.isfinite(ratio) else float(ratio)
    if kpis["bullwhip"] is None:
        not_measured[(name, "bullwhip")] = "not measurable — needs orders and varying demand"
    parts = [kpis[k] for k in ("holding_cost", "shortage_cost", "transport_cost")]
    kpis["cost"] = None if any(v is None for v in parts) else math.fsum(v or 0.0 for v in parts)
    return kpis


def _backorders(
    times: np.ndarray[Any, np.dtype[np.float64]],
    stock: np.ndarray[Any, np.dtype[np.float64]],
    late: np.ndarray[Any, np.dtype[np.float64]],
    ends: np.ndarray[Any, np.dtype[np.float64]],
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Units owed to end customers at each period end (NaN inside a stock-out still open when
    the events end); see the module docstring."""
    out = np.zeros(len(ends))
    order = np.argsort(times, kind="stable")
    times, stock = times[order], stock[order]
    late = np.sort(late)
    i, n = 0, len(times)
    while i < n:
        if stock[i] > 1e-9:
            i += 1
            continue
        start = times[i]
        j = i
        while j < n and stock[j] <= 1e-9:
            j += 1
        if j == n:  # open at the end: not measurable
            out[ends > start] = np.nan
            break
        stop = times[j]
        served = late[(late > start) & (late <= stop)]
        inside = (ends > start) & (ends <= stop)
        if served.size and inside.any():
            e = ends[inside]
            asked = served.size * (e - start) / (stop - start)
            done = np.searchsorted(served, e, side="left")
            out[inside] = np.maximum(asked - done, 0.0)
        i = j
    return out


@dataclass(frozen=True)
class FlowResult:
    """KPIs of the flow-level world over replications: ``estimates[scope][kpi]`` (mean and
    Student's t interval over the replications; NaN where no replication measures it),
    ``runs`` (every replication's figures: ``replication, scope, kpi, value``), ``notes``."""

    network: str
    period: str
    periods: int
    replications: int
    warmup: int
    confidence: float
    estimates: dict[str, dict[str, Estimate]]
    runs: pa.Table
    notes: tuple[str, ...]
    events: int

    def to_arrow(self) -> pa.Table:
        """One row per (scope, KPI): ``scope, kpi, unit, mean, low, high, replications`` — the
        policy level's :meth:`~keiretsu.sim.kpis.PolicyResult.to_arrow` columns."""
        rows = [
            {
                "scope": scope,
                "kpi": kpi,
                "unit": FLOW_KPIS[kpi],
                "mean": e.mean,
                "low": e.low,
                "high": e.high,
                "replications": e.replications,
            }
            for scope, kpis in self.estimates.items()
            for kpi, e in kpis.items()
        ]
        return pa.Table.from_pylist(rows)


def simulate_flow(
    network: Network,
    *,
    periods: int = 200,
    replications: int = 10,
    seed: int = 0,
    warmup: int | None = None,
    confidence: float = 0.95,
    progress: Callable[[int], None] | None = None,
) -> FlowResult:
    """Play the world ``replications`` times (seeds ``seed``, ``seed + 1``…) for ``warmup`` +
    ``periods`` periods each, measure each run's KPIs from its events (:func:`flow_kpis`) and
    give each KPI's mean over the runs with its ``confidence`` interval. ``warmup`` defaults to
    the policy level's (five times the longest chain of lead times, at least 20).
    ``progress(k)`` is called after each replication."""
    if replications < 1:
        raise ValueError("replications: at least 1")
    if warmup is None:
        depth = _longest_chain(network)
        warmup = max(20, 5 * depth)
    from keiretsu.sim.world import HOURS_PER_PERIOD

    hpp = HOURS_PER_PERIOD.get(network.period.strip().lower())
    if hpp is None:
        raise ValueError(
            f"period {network.period!r}: the world knows {', '.join(HOURS_PER_PERIOD)}"
        )
    start = aligned_start(hpp)
    sites = site_names(network)
    values: dict[tuple[str, str], list[float]] = {}
    run_rows: list[dict[str, Any]] = []
    notes: list[str] = []
    events = 0
    for r in range(replications):
        world = World(network, seed=seed + r, start=start).run(warmup + periods)
        events += world.event_count()
        log = world_log(world)
        try:
            view = flow_kpis(
                log,
                network,
                origin=start,
                periods=warmup + periods,
                hours_per_period=hpp,
                warmup=warmup,
                sites=sites,
            )
        finally:
            log.backend.disconnect()
        for row in view.table.to_pylist():
            v = row["value"]
            values.setdefault((row["scope"], row["kpi"]), []).append(
                math.nan if v is None else float(v)
            )
            run_rows.append({"replication": r, **{k: row[k] for k in ("scope", "kpi", "value")}})
        for n in view.notes[2:]:
            if n not in notes:
                notes.append(n)
        if progress is not None:
            progress(r + 1)
    estimates: dict[str, dict[str, Estimate]] = {}
    for (scope, kpi), vals in values.items():
        estimates.setdefault(scope, {})[kpi] = estimate(np.asarray(vals), confidence)
    notes.insert(
        0,
        f"{replications} runs of the world (seeds {seed}…{seed + replications - 1}), "
        f"{periods} {network.period}s measured after {warmup}; KPIs from each run's EPCIS "
        "events through the analytics' definitions; mean with a Student's t interval",
    )
    return FlowResult(
        network=network.name,
        period=network.period,
        periods=periods,
        replications=replications,
        warmup=warmup,
        confidence=confidence,
        estimates=estimates,
        runs=pa.Table.from_pylist(run_rows),
        notes=tuple(notes),
        events=events,
    )


def _longest_chain(net: Network) -> int:
    memo: dict[str, float] = {}

    def depth(name: str) -> float:
        if name not in memo:
            memo[name] = max(
                link.lead_time.mean_value + (0 if link.source is None else depth(link.source))
                for link in net.links_into(name)
            )
        return memo[name]

    return math.ceil(max(depth(name) for name in net.buffers))


def policy_counterpart(network: Network) -> Network:
    """The policy-level model that plays what the world plays for ``network``: each link into
    a buffer facing end customers one period longer (the world reviews before the period's
    customers arrive; see the module docstring). Constant lead times only."""
    data = network.model_dump(by_alias=True, exclude={"source"})
    facing = {d.at for d in network.demand}
    for link in data["link"]:
        if link["to"] in facing:
            lead = link["lead_time"]
            if lead.get("kind") != "constant":
                raise ValueError(
                    f"link to {link['to']!r}: the counterpart needs a constant lead time"
                )
            lead["value"] = float(lead["value"]) + 1
    return Network.model_validate(data)
