"""The policy-level simulation: periodic review across echelons, thousands of replications at
once.

Every buffer of the network reviews its stock once a period. One period, in order:

1. **receive** — shipments due this period arrive; a buffer turns the inputs it has into its
   own item (one unit takes ``units`` of each supplier's item, divided by its steps' good
   share), at most its steps' capacity (units per period), **in whole batches**: each of the
   buffer's steps (in order) works batches of its ``batch_size`` — its first step starts as
   many whole batches as the inputs on hand make, a later step as many as the units the step
   before it passed on and those still waiting for it make — and a smaller batch only when
   nothing more is on its way (nothing ordered for the buffer still to arrive, no units
   waiting at an earlier step), as the flow-level world's machines do. What waits for a
   batch — inputs received, units between steps — is stock at the buffer's site: it counts
   in its ``on_hand`` (as the analytics count the stock at a location: received, not yet
   shipped) and in its inventory position;
2. **serve, downstream first** — each buffer, from the ones facing end customers up to the
   ones supplied from outside: takes this period's end-customer demand and its customers'
   orders, ships from stock on hand (what was owed from earlier periods first, then this
   period's requests, sharing a shortage in proportion), backorders the rest (end-customer
   demand not served is lost instead under ``unmet = "lost_sale"``), then orders from its
   suppliers by its policy. An order placed this period is a request its supplier serves in
   the same period, and goods shipped arrive ``lead time`` periods later;
3. **count** — costs on the end-of-period state: holding on stock on hand and in transit
   (at the shipper's rate), backorders per unit per period or lost sales per unit, ordering
   per order, transport per unit and per shipment (paid by the receiving buffer).

With these events an order placed at the end of period t is available from period t + L, so a
base-stock buffer covers L periods of demand; Clark and Scarf's echelon costs are exactly the
costs counted here, and the exact serial optimum (:mod:`keiretsu.optimize.serial`) is what
this simulation measures at its levels.

**Vectorized**: the state is arrays shaped (replications, buffers) and (replications, links);
each period is a few dozen NumPy operations on all replications together.

**Common random numbers**: replication *i* draws its demand at a buffer and its lead times on
a link from streams keyed by (seed, *i*, the buffer's or link's name), so a baseline and a
variant run with the same seed see the same demand, period for period, whatever else changed.

KPIs (per buffer and for the network, each the mean over replications with its confidence
interval, :mod:`keiretsu.sim.kpis`) follow the analytics' definitions: the bullwhip ratio is the
variance of the orders a buffer places over the variance of the demand it receives (per
period), as in :mod:`keiretsu.analytics.bullwhip`; the fill rate is the share of requested
units shipped from stock in the period they were asked for.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from keiretsu.sim.kpis import Estimate, PolicyResult, estimate
from keiretsu.sim.model import (
    RQ,
    SS,
    BaseStock,
    Constant,
    EchelonBaseStock,
    Forecast,
    Kanban,
    Network,
)
from keiretsu.sim.model.demand import CHUNK
from keiretsu.sim.model.distributions import FloatArray

__all__ = ["simulate"]

IntArray = npt.NDArray[np.int64]

_BLOCK = 4096
"""Replications simulated together (bounds the memory of one block)."""

_KIND = {BaseStock: 0, EchelonBaseStock: 1, SS: 2, RQ: 3, Kanban: 3, Forecast: 4}


@dataclass
class _Plan:
    """The network compiled to arrays: buffers in processing order (downstream first)."""

    names: list[str]
    kind: list[int]
    level: FloatArray  # order-up-to (base stock, echelon, S, forecast safety stock)
    reorder: FloatArray  # s or R
    lot: FloatArray  # Q
    periods: list[int]  # forecast window
    cover: FloatArray  # forecast cover, periods
    sees_demand: list[bool]
    initial: FloatArray
    holding: FloatArray
    ordering: FloatArray
    capacity: FloatArray
    demand: list[int | None]  # index into network.demand, per buffer
    backorder_cost: FloatArray
    lost_sale_cost: FloatArray
    in_edges: list[list[int]]
    out_edges: list[list[int]]
    echelon: list[tuple[list[int], FloatArray]]  # downstream buffers and their multipliers
    reach: FloatArray  # (buffers, demand points): units of a buffer per unit of end demand
    mean_signal: FloatArray  # mean end-customer demand reaching each buffer (its units)
    # links (edges), supplying buffer (-1: outside) and receiving buffer
    src: list[int]
    dst: list[int]
    units: FloatArray  # supplier's units per unit of the receiver's item (yield included)
    lead: list[int | None]  # constant lead time, or None (drawn)
    edge_names: list[str]
    transit_holding: FloatArray  # holding cost of goods in transit (shipper's rate)
    cost_per_unit: FloatArray
    cost_per_shipment: FloatArray
    lost_sales: bool
    demand_names: list[str] = field(default_factory=list)
    batches: list[list[int]] = field(default_factory=list)
    """Per buffer: its steps' batch sizes in order (empty when no step batches more than one
    unit)."""


def _compile(net: Network) -> _Plan:
    order: list[str] = []
    placed: set[str] = set()
    remaining = list(net.buffers)
    while remaining:  # downstream first: a buffer after all its customers
        for name in remaining:
            if all(link.target in placed for link in net.links_out_of(name)):
                order.append(name)
                placed.add(name)
                remaining.remove(name)
                break
    index = {name: i for i, name in enumerate(order)}
    n = len(order)
    edges = list(net.links)
    src = [-1 if e.source is None else index[e.source] for e in edges]
    dst = [index[e.target] for e in edges]
    good = np.ones(n)
    capacity = np.full(n, np.inf)
    for name, i in index.items():
        for step in net.steps_of(name):
            good[i] *= step.good_share
            if step.capacity is not None:
                capacity[i] = min(capacity[i], step.capacity)
    units = np.array([e.units for e in edges]) / good[dst]
    holding = np.array([net.buffers[name].holding_cost for name in order])

    kind, level, reorder, lot, periods, cover, sees, initial = [], [], [], [], [], [], [], []
    for name in order:
        policy = net.buffers[name].policy
        kind.append(_KIND[type(policy)])
        lead = net.replenishment_lead_time(name)
        mean = net.end_customer_mean(name)
        lv = rp = q = 0.0
        p, cv = 1, 0.0
        if isinstance(policy, BaseStock | EchelonBaseStock):
            lv = policy.level
        elif isinstance(policy, SS):
            lv, rp = policy.S, policy.s
        elif isinstance(policy, RQ):
            rp, q = policy.R, policy.Q
        elif isinstance(policy, Kanban):
            rp, q = (policy.cards - 1) * policy.container, policy.container
        elif isinstance(policy, Forecast):
            lv, p = policy.safety_stock, policy.periods
            cv = lead if policy.cover is None else policy.cover
        level.append(lv)
        reorder.append(rp)
        lot.append(q)
        periods.append(p)
        cover.append(cv)
        sees.append("end_customer_demand" in net.owner[name].sees)
        start = net.buffers[name].initial
        if start is None:
            start = policy.target if policy.target is not None else cv * mean + lv
        initial.append(start)
    # echelon policies: an echelon level counts the buffers below, in this buffer's units
    echelon: list[tuple[list[int], FloatArray]] = []
    for name in order:
        below: list[int] = []
        mult: list[float] = []

        def walk(
            at: str, factor: float, below: list[int] = below, mult: list[float] = mult
        ) -> None:
            for link in net.links_out_of(at):
                i = index[link.target]
                f = factor * float(units[edges.index(link)])
                below.append(i)
                mult.append(f)
                walk(link.target, f)

        walk(name, 1.0)
        echelon.append((below, np.array(mult)))
    # an echelon level counts the stock below; the buffer itself starts with its own share
    for i, name in enumerate(order):
        if kind[i] == 1 and net.buffers[name].initial is None:
            for e in range(len(edges)):
                if src[e] == i and kind[dst[e]] == 1:
                    initial[i] -= float(units[e]) * level[dst[e]]
    reach = np.zeros((n, len(net.demand)))
    for d, demand in enumerate(net.demand):
        i = index[demand.at]
        reach[i, d] = 1.0
        for j, (down, factors) in enumerate(echelon):
            if i in down:
                reach[j, d] = float(factors[down.index(i)])
    demand_at = []
    for name in order:
        found = [d for d, x in enumerate(net.demand) if x.at == name]
        demand_at.append(found[0] if found else None)
    bo = np.zeros(n)
    ls = np.zeros(n)
    for demand in net.demand:
        bo[index[demand.at]] = demand.backorder_cost
        ls[index[demand.at]] = demand.lost_sale_cost
    return _Plan(
        names=order,
        kind=kind,
        level=np.array(level),
        reorder=np.array(reorder),
        lot=np.array(lot),
        periods=periods,
        cover=np.array(cover),
        sees_demand=sees,
        initial=np.array(initial, dtype=np.float64),
        holding=holding,
        ordering=np.array([net.buffers[name].ordering_cost for name in order]),
        capacity=capacity,
        demand=demand_at,
        backorder_cost=bo,
        lost_sale_cost=ls,
        in_edges=[[e for e in range(len(edges)) if dst[e] == i] for i in range(n)],
        out_edges=[[e for e in range(len(edges)) if src[e] == i] for i in range(n)],
        echelon=echelon,
        reach=reach,
        mean_signal=np.array([net.end_customer_mean(name) for name in order]),
        src=src,
        dst=dst,
        units=units,
        lead=[
            max(1, round(e.lead_time.value)) if isinstance(e.lead_time, Constant) else None
            for e in edges
        ],
        edge_names=[f"{e.supplier}->{e.target}" for e in edges],
        transit_holding=np.array([0.0 if s < 0 else holding[s] for s in src]),
        cost_per_unit=np.array([e.cost_per_unit for e in edges]),
        cost_per_shipment=np.array([e.cost_per_shipment for e in edges]),
        lost_sales=net.unmet == "lost_sale",
        demand_names=[d.at for d in net.demand],
        batches=[_batches(net, name) for name in order],
    )


def _batches(net: Network, buffer: str) -> list[int]:
    """The batch sizes of the steps that feed ``buffer``, in order; empty when every step
    works one unit at a time (nothing waits for a batch)."""
    sizes = [int(step.batch_size) for step in net.steps_of(buffer)]
    return sizes if any(b > 1 for b in sizes) else []


def _stream(seed: int, group: int, name: str) -> np.random.Generator:
    """The random stream of replications ``group × 256 …`` for ``name`` (a buffer's demand or
    a link's lead times)."""
    key = zlib.crc32(name.encode())
    sequence = np.random.SeedSequence(seed, spawn_key=(group, key))
    return np.random.Generator(np.random.PCG64(sequence))


_GROUP = 256
"""Replications sharing one random stream per name: replication i's draws depend only on the
seed, i and the name (not on how many replications run)."""


def _draws(
    net: Network, plan: _Plan, seed: int, first: int, count: int, periods: int
) -> tuple[list[FloatArray], list[IntArray | None]]:
    """Demand per demand point and lead times per drawn link, each shaped (periods,
    replications), for replications ``first .. first + count - 1`` (``first`` a multiple of
    256)."""
    groups = range(first // _GROUP, (first + count + _GROUP - 1) // _GROUP)
    demand = []
    for spec in net.demand:
        parts = [
            spec.sample(_stream(seed, g, "demand:" + spec.at), _GROUP, periods) for g in groups
        ]
        demand.append(np.ascontiguousarray(np.concatenate(parts, axis=1)[:, :count]))
    leads: list[IntArray | None] = []
    for e, link in enumerate(net.links):
        if plan.lead[e] is not None:
            leads.append(None)
            continue
        parts = []
        for g in groups:
            rng = _stream(seed, g, "lead:" + plan.edge_names[e])
            chunks = [link.lead_time.sample(rng, (CHUNK, _GROUP)) for _ in range(0, periods, CHUNK)]
            parts.append(np.concatenate(chunks)[:periods])
        drawn = np.concatenate(parts, axis=1)[:, :count]
        leads.append(np.ascontiguousarray(np.maximum(1, np.rint(drawn)).astype(np.int64)))
    return demand, leads


@dataclass
class _Totals:
    """Per-replication sums over the measured periods, shaped (buffers, replications)."""

    holding: FloatArray
    shortage: FloatArray
    ordering: FloatArray
    transport: FloatArray
    on_hand: FloatArray
    backorders: FloatArray
    asked: FloatArray
    served: FloatArray
    orders: FloatArray
    orders_sq: FloatArray
    received: FloatArray
    received_sq: FloatArray
    signal: FloatArray
    signal_sq: FloatArray
    end_demand: FloatArray  # (replications,)
    end_demand_sq: FloatArray
    end_asked: FloatArray
    end_served: FloatArray


def _block(
    net: Network, plan: _Plan, seed: int, first: int, count: int, periods: int, warmup: int
) -> _Totals:
    """Simulate ``count`` replications. State arrays are (buffers, replications) and
    (links, replications) — one contiguous row per buffer or link."""
    n = len(plan.names)
    m = len(plan.src)
    R = count
    demand, leads = _draws(net, plan, seed, first, count, periods + warmup)
    horizon = 1 + max(
        [x for x in plan.lead if x is not None] + [int(x.max()) for x in leads if x is not None]
    )
    zeros = np.zeros
    oh = np.repeat(plan.initial[:, None], R, axis=1)
    backlog = zeros((n, R))
    owed = zeros((m, R))  # supplier's units owed on each link from earlier periods
    new = zeros((m, R))  # this period's requests on each link
    on_order = zeros((m, R))  # ordered on a link, not yet turned into the receiver's item
    inputs = zeros((m, R))  # received on a link, waiting to be used
    transit = zeros((m, R))
    pipe = zeros((horizon, m, R))
    ip_after = zeros((n, R))
    # units between a buffer's steps, waiting for the next step's batch: (steps - 1, R) each
    between = [zeros((max(0, len(b) - 1), R)) for b in plan.batches]
    batched = [bool(b) for b in plan.batches]
    batched_with_steps = [i for i in range(n) if len(plan.batches[i]) > 1]
    waiting = zeros((n, R))  # inputs and units between steps at a buffer: its site's stock
    # each buffer's order of the period before (its supply flows on)
    last_q = zeros((n, R))
    cols = np.arange(R)
    pmax = max(plan.periods)
    history = np.repeat(plan.mean_signal[:, None, None], pmax, axis=1).repeat(R, axis=2)
    ma_sum = (plan.mean_signal * np.asarray(plan.periods))[:, None] * np.ones((1, R))
    T = _Totals(*(zeros((n, R)) for _ in range(14)), *(zeros(R) for _ in range(4)))
    reach = plan.reach
    in_edges, out_edges = plan.in_edges, plan.out_edges
    units = plan.units
    single_in = [ins[0] if len(ins) == 1 else -1 for ins in in_edges]
    customers = [len(out_edges[i]) + (plan.demand[i] is not None) for i in range(n)]
    uses_signal = any(k == 4 and plan.sees_demand[i] for i, k in enumerate(plan.kind))
    capped = [bool(np.isfinite(c)) for c in plan.capacity]
    carried = [e for e in range(m) if plan.src[e] >= 0 and plan.transit_holding[e] > 0]
    no_request = zeros(R)
    charged = [bool(plan.cost_per_unit[e] or plan.cost_per_shipment[e]) for e in range(m)]

    for t in range(periods + warmup):
        slot = t % horizon
        measured = t >= warmup
        # 1. receive, and turn inputs into the buffer's item
        arrived = pipe[slot]
        inputs += arrived
        transit -= arrived
        arrived[:] = 0.0
        for i in range(n):
            e = single_in[i]
            if e >= 0:
                made = inputs[e] / units[e] if units[e] != 1.0 else inputs[e].copy()
            else:
                ins = in_edges[i]
                made = np.min(inputs[ins] / units[ins, None], axis=0)
            if batched[i]:  # whole batches, then at most the capacity (a batch above it
                # takes more than a period: its units come out over several)
                made, done = _in_batches(
                    made,
                    plan.batches[i],
                    between[i],
                    on_order,
                    inputs,
                    in_edges[i],
                    last_q[i],
                    plan.capacity[i] if capped[i] else None,
                )
            else:
                if capped[i]:
                    np.minimum(made, plan.capacity[i], out=made)
                done = made
            oh[i] += done
            for e in in_edges[i]:
                used = made * units[e] if units[e] != 1.0 else made
                inputs[e] -= used
                on_order[e] -= used
            if batched[i]:
                waiting[i] = between[i].sum(axis=0)
                for e in in_edges[i]:
                    waiting[i] += inputs[e]
        d_t = [d[t] for d in demand]
        if measured or uses_signal:
            end_now = np.stack(d_t) if d_t else zeros((0, R))
            signal_all = reach @ end_now  # end-customer demand reaching each buffer
        # 2. serve and order, downstream first
        for i in range(n):
            outs = out_edges[i]
            d_idx = plan.demand[i]
            avail = oh[i]
            if customers[i] == 0:
                received = no_request
                served_new = no_request
            elif customers[i] == 1:  # one customer: serve what is owed, then the new request
                if d_idx is not None:
                    old, received = backlog[i], d_t[d_idx]
                else:
                    e = outs[0]
                    old, received = owed[e], new[e].copy()
                served_old = np.minimum(old, avail)
                left = avail - served_old
                served_new = np.minimum(received, left)
                oh[i] = left - served_new
                remaining = old + received - served_old - served_new
                if d_idx is not None:
                    backlog[i] = 0.0 if plan.lost_sales else remaining
                else:
                    owed[e] = remaining
                    _ship(pipe, transit, e, t, horizon, plan, leads, cols, served_old + served_new)
                    if measured and charged[e]:
                        _freight(T, plan, e, served_old + served_new)
                    new[e] = 0.0
            else:  # several customers share a shortage in proportion
                old = backlog[i].copy()
                received = no_request.copy() if d_idx is None else d_t[d_idx].copy()
                for e in outs:
                    old += owed[e]
                    received += new[e]
                f_old = np.divide(avail, old, out=np.ones(R), where=old > avail)
                left = np.maximum(avail - old * f_old, 0.0)
                f_new = np.divide(left, received, out=np.ones(R), where=received > left)
                served_new = received * f_new
                oh[i] = np.maximum(left - served_new, 0.0)
                if d_idx is not None:
                    remaining = (backlog[i] * (1 - f_old)) + d_t[d_idx] * (1 - f_new)
                    backlog[i] = 0.0 if plan.lost_sales else remaining
                for e in outs:
                    ship = owed[e] * f_old + new[e] * f_new
                    owed[e] += new[e] - ship
                    new[e] = 0.0
                    _ship(pipe, transit, e, t, horizon, plan, leads, cols, ship)
                    if measured and charged[e]:
                        _freight(T, plan, e, ship)
            if d_idx is not None and measured:
                short = remaining  # backordered at the end of the period, or lost
                rate = plan.lost_sale_cost[i] if plan.lost_sales else plan.backorder_cost[i]
                T.shortage[i] += rate * short
                T.end_asked += d_t[d_idx]
                T.end_served += served_new if customers[i] == 1 else d_t[d_idx] * f_new
            # inventory position and the order
            e = single_in[i]
            if e >= 0:
                pipeline = on_order[e] / units[e] if units[e] != 1.0 else on_order[e]
            else:
                ins = in_edges[i]
                pipeline = np.min(on_order[ins] / units[ins, None], axis=0)
            ip = oh[i] + pipeline
            if batched[i] and len(between[i]):
                ip = ip + between[i].sum(axis=0)  # made by a first step, not yet stored
            if d_idx is not None:
                ip = ip - backlog[i]
            for e in outs:
                ip -= owed[e]
            kind = plan.kind[i]
            if kind == 0:
                q = np.maximum(plan.level[i] - ip, 0.0)
            elif kind == 1:
                below, mult = plan.echelon[i]
                echelon_ip = ip + mult @ ip_after[below] if below else ip
                q = np.maximum(plan.level[i] - echelon_ip, 0.0)
            elif kind == 2:
                q = np.where(ip <= plan.reorder[i], plan.level[i] - ip, 0.0)
            elif kind == 3:
                lots = np.floor((plan.reorder[i] - ip) / plan.lot[i]) + 1
                q = np.where(ip <= plan.reorder[i], lots * plan.lot[i], 0.0)
            else:
                sig = signal_all[i] if plan.sees_demand[i] else received
                p = plan.periods[i]
                at = t % p
                ma_sum[i] += sig - history[i, at]
                history[i, at] = sig
                target = plan.cover[i] * ma_sum[i] / p + plan.level[i]
                q = np.maximum(target - ip, 0.0)
            ip_after[i] = ip + q
            if batched[i]:
                last_q[i] = q
            for e in in_edges[i]:
                req = q * units[e] if units[e] != 1.0 else q
                on_order[e] += req
                if plan.src[e] < 0:  # an outside supplier ships at once
                    _ship(pipe, transit, e, t, horizon, plan, leads, cols, req)
                    if measured and charged[e]:
                        _freight(T, plan, e, req)
                else:
                    new[e] += req
            if measured:
                T.asked[i] += received
                T.served[i] += served_new
                T.orders[i] += q
                T.orders_sq[i] += q * q
                T.received[i] += received
                T.received_sq[i] += received * received
                if plan.ordering[i]:
                    T.ordering[i] += plan.ordering[i] * (q > 0)
        # 3. count
        if measured:
            T.signal += signal_all
            T.signal_sq += signal_all * signal_all
            T.on_hand += oh + waiting
            T.backorders += backlog
            T.holding += oh * plan.holding[:, None]
            for i in batched_with_steps:  # units between steps: the buffer's own item
                T.holding[i] += between[i].sum(axis=0) * plan.holding[i]
            for e in carried:
                rate = plan.transit_holding[e]
                T.holding[plan.src[e]] += rate * transit[e]
                T.holding[plan.dst[e]] += rate * inputs[e]
            total_end = end_now.sum(axis=0)
            T.end_demand += total_end
            T.end_demand_sq += total_end * total_end
    return T


def _in_batches(
    made: FloatArray,
    sizes: list[int],
    between: FloatArray,
    on_order: FloatArray,
    inputs: FloatArray,
    ins: list[int],
    ordered: FloatArray,
    capacity: float | None = None,
) -> tuple[FloatArray, FloatArray]:
    """What a buffer's steps start (in its first step's units: the inputs it uses) and what
    its last step puts in stock this period, in whole batches of ``sizes`` (one per step, in
    order). A step runs a smaller batch only when nothing more is on its way: nothing ordered
    for the buffer still to arrive (``on_order`` above what was received, ``inputs``), no
    order placed the period before (``ordered``: a buffer that orders every period has its
    supply flowing even when a one-period lead time leaves nothing in transit as goods
    arrive) and no units waiting at an earlier step; ``capacity`` (units a period) caps what
    the first step starts. ``between`` (the units waiting for each later step) is updated in
    place."""
    coming = ordered > 1e-9
    for e in ins:
        coming |= on_order[e] - inputs[e] > 1e-9
    first = sizes[0]
    if first > 1:
        whole = np.floor(made / first + 1e-9) * first
        made = np.where(coming, whole, made)
    if capacity is not None:
        made = np.minimum(made, capacity)
    out = made
    for k, size in enumerate(sizes[1:]):
        queue = between[k]
        queue += out
        coming = coming | (between[:k].sum(axis=0) > 1e-9) if k else coming
        if size > 1:
            whole = np.floor(queue / size + 1e-9) * size
            out = np.where(coming, whole, queue)
        else:
            out = queue.copy()
        queue -= out
    return made, out


def _ship(
    pipe: FloatArray,
    transit: FloatArray,
    e: int,
    t: int,
    horizon: int,
    plan: _Plan,
    leads: list[IntArray | None],
    cols: IntArray,
    quantity: FloatArray,
) -> None:
    """Put ``quantity`` on link ``e`` in period ``t``, to arrive after its lead time."""
    lead = plan.lead[e]
    if lead is not None:
        pipe[(t + lead) % horizon, e] += quantity
    else:
        drawn = leads[e]
        assert drawn is not None
        pipe[(t + drawn[t]) % horizon, e, cols] += quantity
    transit[e] += quantity


def _freight(T: _Totals, plan: _Plan, e: int, quantity: FloatArray) -> None:
    """Transport cost of a shipment on link ``e``, paid by the receiving buffer."""
    cost = plan.cost_per_unit[e] * quantity
    if plan.cost_per_shipment[e]:
        cost = cost + plan.cost_per_shipment[e] * (quantity > 0)
    if plan.cost_per_unit[e] or plan.cost_per_shipment[e]:
        T.transport[plan.dst[e]] += cost


def simulate(
    network: Network,
    *,
    periods: int = 1000,
    replications: int = 1000,
    seed: int = 0,
    warmup: int | None = None,
    confidence: float = 0.95,
) -> PolicyResult:
    """Run the policy-level simulation of ``network``: ``replications`` independent runs of
    ``periods`` measured periods each, after ``warmup`` periods not measured (default: five
    times the longest chain of lead times, at least 20).

    Same ``seed``, same demand and lead times replication by replication (common random
    numbers). Returns the KPIs per buffer and for the network with ``confidence`` intervals.
    """
    if periods < 2:
        raise ValueError("periods: at least 2 measured periods are needed for a variance")
    if replications < 1:
        raise ValueError("replications: at least 1")
    plan = _compile(network)
    if warmup is None:
        warmup = max(20, 5 * _longest_chain(network))
    blocks: list[_Totals] = []
    for first in range(0, replications, _BLOCK):
        count = min(_BLOCK, replications - first)
        blocks.append(_block(network, plan, seed, first, count, periods, warmup))
    totals = _Totals(
        *(
            np.concatenate([getattr(b, f) for b in blocks], axis=-1)
            for f in _Totals.__dataclass_fields__
        )
    )
    return _result(network, plan, totals, periods, replications, warmup, confidence)


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


def _variance(total: FloatArray, squares: FloatArray, n: int) -> FloatArray:
    return np.maximum(squares - total * total / n, 0.0) / (n - 1)


def _result(
    net: Network,
    plan: _Plan,
    T: _Totals,
    periods: int,
    replications: int,
    warmup: int,
    confidence: float,
) -> PolicyResult:
    n = periods

    def est(values: FloatArray) -> Estimate:
        return estimate(values, confidence)

    cost = (T.holding + T.shortage + T.ordering + T.transport) / n
    order_var = _variance(T.orders, T.orders_sq, n)
    received_var = _variance(T.received, T.received_sq, n)
    signal_var = _variance(T.signal, T.signal_sq, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        bullwhip = order_var / received_var
        amplification = order_var / signal_var
        fill = T.served / T.asked
        end_fill = T.end_served / T.end_asked
    stages: dict[str, dict[str, Estimate]] = {}
    for i, name in enumerate(plan.names):
        stages[name] = {
            "cost": est(cost[i]),
            "holding_cost": est(T.holding[i] / n),
            "shortage_cost": est(T.shortage[i] / n),
            "ordering_cost": est(T.ordering[i] / n),
            "transport_cost": est(T.transport[i] / n),
            "on_hand": est(T.on_hand[i] / n),
            "backorders": est(T.backorders[i] / n),
            "fill_rate": est(fill[i]),
            "demand_mean": est(T.received[i] / n),
            "orders_mean": est(T.orders[i] / n),
            "order_variance": est(order_var[i]),
            "demand_variance": est(received_var[i]),
            "bullwhip": est(bullwhip[i]),
            "amplification": est(amplification[i]),
        }
    order = [name for name in net.buffers]
    stages = {name: stages[name] for name in order}
    end_var = _variance(T.end_demand, T.end_demand_sq, n)
    network = {
        "cost": est(cost.sum(axis=0)),
        "holding_cost": est(T.holding.sum(axis=0) / n),
        "shortage_cost": est(T.shortage.sum(axis=0) / n),
        "ordering_cost": est(T.ordering.sum(axis=0) / n),
        "transport_cost": est(T.transport.sum(axis=0) / n),
        "on_hand": est(T.on_hand.sum(axis=0) / n),
        "backorders": est(T.backorders.sum(axis=0) / n),
        "fill_rate": est(end_fill),
        "demand_mean": est(T.end_demand / n),
        "demand_variance": est(end_var),
    }
    return PolicyResult(
        network=net.name,
        period=net.period,
        periods=periods,
        replications=replications,
        warmup=warmup,
        confidence=confidence,
        stages=stages,
        totals=network,
    )
