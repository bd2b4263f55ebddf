"""Suggestions — the optimization machine of the kaizen loop.

From what the node's own events show — the waste Pareto (:func:`keiretsu.analytics.waste.pareto`)
and the constraint (:func:`keiretsu.analytics.bottleneck.bottlenecks`) — and from the twin's
calibrated model (:func:`keiretsu.kaizen.predict.twin_model`), :func:`suggest` writes candidate
countermeasures as :class:`~keiretsu.sim.scenario.Variant` s of that model, simulates them all
against the baseline on the same demand (common random numbers, one
:func:`keiretsu.sim.scenario.compare` run), turns each predicted change into **waste removed in
hours and money**, and ranks them by money removed per unit of effort. A candidate like an idea
already tried and failed — here (the node's own experiments) or at a partner (lessons in
``kaizen_lesson``) — carries that lesson.

The candidates (each a ``kind``: parameter, policy or information; see ``docs/kaizen/suggest.md``):

- **stock above need** at a buffer: its level (base stock, reorder point, safety stock, kanban
  cards) cut to what covers its lead-time demand at the service factor ``z``:
  ``need = m·L + z·√(v·L + m²·Var L)`` with ``m``, ``v`` the mean and variance of the demand
  the buffer receives per period (the baseline run) and ``L`` its supply lead time (periods);
- **smaller order batches** (``R_Q``'s ``Q``, ``s_S``'s ``S − s``): the economic lot
  ``√(2·K·m/h)`` where the model has an ordering cost ``K``, else half the batch, never below
  one period's demand — named "before the constraint" when the buffer feeds the step the
  bottleneck view ranks first;
- **smaller production batches** (a set-up reduction, SMED) at a buffer whose steps work in
  batches: each step's batch cut to a quarter (at least one unit), with the base-stock level
  cut to the need with the smaller batches (the stock a batch held, no longer needed once
  batches are small, is what the cut takes away; alone, a smaller batch leaves a base
  stock's units in the position, moved from waiting for a batch to the shelf). The twin's
  simulation works whole batches (:mod:`keiretsu.sim.policy_level`), so the batch's lumps —
  and the shortages a level cut causes with them — are in the prediction;
- **a kanban limit** in place of a push policy (base stock, forecast): cards of one period's
  demand, as many as the need plus one;
- **information**: end-customer demand shared with a company that orders by forecast from the
  orders it receives (bullwhip);
- **network-optimal levels** from :func:`keiretsu.optimize.simopt.optimize_network` (the whole
  network's cost, keeping the end customers' fill rate).

Money and hours (per period of the model, e.g. per day):

- the model is priced with the node's :class:`~keiretsu.analytics.rates.Rates`, as the waste
  view prices inventory: holding ``h = unit value × holding_per_year × days per period / 365``
  per unit per period at every buffer (``rates.unit_values`` may name a buffer), a shortage
  cost per end-customer unit not served (``shortage_cost``; default the model's own);
  ``money_removed`` = − (the network's cost per period, variant − baseline), with its paired
  interval — holding on hand and in transit, shortage, ordering and transport as
  :mod:`keiretsu.sim.kpis` counts them;
- ``hours_removed`` = − Δ(network on hand) × hours per period: unit-hours of goods waiting in
  stock removed per period (Little's law: the time all units spend in stock over a period is
  the mean stock times the period); ``lead_hours_removed`` = that divided by the end-customer
  throughput per period: the hours a unit spends less in stock on its way to the customer.

A candidate enters the ranking only when it removes money (point estimate above 0) and keeps
the end customers' fill rate within ``fill_tolerance`` of the baseline; the others are named in
the notes, with why they were dropped.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import pyarrow as pa
from scipy import stats  # type: ignore[import-untyped]

from keiretsu.analytics.bottleneck import bottlenecks
from keiretsu.analytics.log import Log
from keiretsu.analytics.rates import Rates
from keiretsu.analytics.view import View
from keiretsu.analytics.waste import pareto, waste_evidence, wastes
from keiretsu.kaizen.experiment import (
    Evidence,
    Experiment,
    Target,
    evidence_from,
    new_experiment,
)
from keiretsu.kaizen.predict import twin_model
from keiretsu.optimize.simopt import optimize_network
from keiretsu.sim.calibrate import CalibratedModel
from keiretsu.sim.model import RQ, SS, BaseStock, Forecast, Kanban, Network
from keiretsu.sim.policy_level import simulate
from keiretsu.sim.scenario import Variant, compare
from keiretsu.sim.world import HOURS_PER_PERIOD
from keiretsu.store import Store
from keiretsu.store import kaizen as tables
from keiretsu.store.kaizen import KaizenError

__all__ = [
    "EFFORT",
    "SIMULATED_WASTES",
    "Candidate",
    "candidates",
    "experiment_from_suggestion",
    "priced",
    "suggest",
]

EFFORT: Mapping[str, float] = {"parameter": 1.0, "policy": 3.0, "information": 5.0}
"""Effort points per site (buffer or company) a countermeasure of each kind changes: a setting
changed in one site's system is 1; another replenishment rule (new routine, training) 3; an
agreement to share data with a partner (contract, interface) 5. Override with ``effort=``."""

SIMULATED_WASTES = ("inventory", "waiting", "overproduction")
"""The wastes the twin's policy-level model can move (stock, the time goods wait in it, goods
ordered or made ahead of demand); the others are named in the notes when the Pareto shows
them."""

Kind = Literal["parameter", "policy", "information"]

_COLUMNS = pa.schema(
    [
        ("rank", pa.int64()),
        ("candidate_id", pa.string()),
        ("kind", pa.string()),
        ("waste", pa.string()),
        ("acts_on", pa.string()),
        ("changes", pa.string()),
        ("before", pa.string()),
        ("rationale", pa.string()),
        ("kpi", pa.string()),
        ("unit", pa.string()),
        ("baseline", pa.float64()),
        ("difference", pa.float64()),
        ("ci_low", pa.float64()),
        ("ci_high", pa.float64()),
        ("fill_rate_difference", pa.float64()),
        ("hours_removed", pa.float64()),
        ("lead_hours_removed", pa.float64()),
        ("money_removed", pa.float64()),
        ("money_low", pa.float64()),
        ("money_high", pa.float64()),
        ("currency", pa.string()),
        ("effort", pa.float64()),
        ("per_effort", pa.float64()),
        ("significant", pa.bool_()),
        ("tried", pa.string()),
        ("lesson", pa.string()),
    ]
)


@dataclass(frozen=True)
class Candidate:
    """One countermeasure to try on the twin: the change (``variant``), what it changes
    (``kind``), the waste it attacks, where (``acts_on``: a buffer, or ``network``), why it was
    proposed (``rationale``), the KPI it should move and which way, and how many sites it
    touches (``sites``, for the effort)."""

    candidate_id: str
    kind: Kind
    waste: str
    acts_on: str
    variant: Variant
    rationale: str
    kpi: str = "on_hand"
    direction: Literal["decrease", "increase"] = "decrease"
    sites: int = 1
    source: str = ""


@dataclass
class _Context:
    net: Network
    base: dict[str, dict[str, float]] = field(default_factory=dict)
    z: float = 2.05
    service: float = 0.98
    constraint_buffers: set[str] = field(default_factory=set)
    constraint: str | None = None
    shares: dict[str, float] = field(default_factory=dict)


# --- pricing -----------------------------------------------------------------------------------


def _days_per_period(net: Network) -> float:
    try:
        return HOURS_PER_PERIOD[net.period.strip().lower()] / 24.0
    except KeyError:
        raise KaizenError(
            f"model {net.name!r}: period {net.period!r} is not one of "
            f"{', '.join(HOURS_PER_PERIOD)}; the waste cannot be put in hours"
        ) from None


def holding_rate(rates: Rates, buffer: str, net: Network) -> float:
    """Money per unit per period of holding stock at ``buffer``: unit value (``rates.unit_values``
    by buffer name, else ``unit_value``) × ``holding_per_year`` × days per period / 365."""
    return rates.value_of(buffer) * rates.holding_per_year * _days_per_period(net) / 365.0


def priced(net: Network, rates: Rates, *, shortage_cost: float | None = None) -> Network:
    """``net`` with every buffer's holding cost from ``rates`` (:func:`holding_rate`) and, when
    ``shortage_cost`` is given, every end-customer demand's backorder and lost-sale cost set to
    it (money per unit); ordering and transport costs stay the model's."""
    data = tomllib.loads(net.to_toml())
    for company in data["company"]:
        for buffer in company["buffer"]:
            buffer["holding_cost"] = holding_rate(rates, buffer["name"], net)
    if shortage_cost is not None:
        if not shortage_cost >= 0:
            raise KaizenError(
                f"shortage_cost: money per unit short, at least 0, not {shortage_cost}"
            )
        for demand in data["demand"]:
            demand["backorder_cost"] = float(shortage_cost)
            demand["lost_sale_cost"] = float(shortage_cost)
    return Network.from_dict(data, source=net.source)


# --- candidates --------------------------------------------------------------------------------


def _lead(net: Network, buffer: str) -> tuple[float, float]:
    """Mean and variance of the supply lead time (periods; at least one, as the simulation
    rounds it) of the slowest link into ``buffer``."""
    link = max(net.links_into(buffer), key=lambda k: k.lead_time.mean_value)
    return max(1.0, link.lead_time.mean_value), float(link.lead_time.variance)


def _batch_wait(ctx: _Context, buffer: str, sizes: Mapping[str, int] | None = None) -> int:
    """Units of the buffer's position that may be waiting for a batch to fill, not yet able to
    serve: a batch's size less one at each of its steps (``sizes``: step → another size)."""
    sizes = sizes or {}
    return sum(max(0, sizes.get(s.name, s.batch_size) - 1) for s in ctx.net.steps_of(buffer))


def _need(
    ctx: _Context, buffer: str, z: float | None = None, sizes: Mapping[str, int] | None = None
) -> tuple[float, str]:
    """Units that cover the buffer's lead-time demand at the service factor (``z``, default
    the context's), plus what may wait for its steps' batches (``sizes``: other batch sizes
    than the model's), and how."""
    z = ctx.z if z is None else z
    m = ctx.base[buffer].get("demand_mean", 0.0)
    v = ctx.base[buffer].get("demand_variance", 0.0)
    L, var_l = _lead(ctx.net, buffer)
    sd = math.sqrt(max(v * L + m * m * var_l, 0.0))
    wait = _batch_wait(ctx, buffer, sizes)
    need = math.ceil(m * L + z * sd + wait - 1e-9)
    how = f"lead-time demand {m * L:.3g} ± {sd:.3g} units over {L:.3g} periods, z = {z:.2f}"
    if wait:
        how += f", + {wait} units waiting for a batch to fill"
    how += f": {need} units"
    return float(need), how


DEEPER_SERVICE = (0.9, 0.75, 0.5)
"""Lower cycle service levels a base-stock cut is also tried at, where the buffer is not the
one serving the end customers: an upstream buffer's own service is not the network's (the
stock downstream covers for it), so how deep a cut may go is the simulation's to say — each
size is simulated and kept only when the end customers' fill rate holds."""


def _fmt(x: float) -> str:
    return f"{x:.0f}" if float(x).is_integer() else f"{x:.3g}"


def _meaningful(new: float, old: float) -> bool:
    return new <= old - max(1.0, 0.05 * abs(old))


def _share(ctx: _Context, waste: str) -> str:
    s = ctx.shares.get(waste)
    return f" ({waste}: {100 * s:.2g}% of the waste money on the Pareto)" if s else ""


def candidates(
    net: Network,
    baseline: Mapping[str, Mapping[str, float]],
    *,
    service: float = 0.98,
    constraint: str | None = None,
    shares: Mapping[str, float] | None = None,
) -> list[Candidate]:
    """The countermeasures worth simulating on ``net``, given the baseline's figures per
    buffer (``baseline[buffer]["on_hand" | "demand_mean" | "demand_variance" | "fill_rate"]``,
    per period). ``service``: the cycle service level the need is sized for (its normal
    quantile is the factor ``z``); ``constraint``: the step the bottleneck view ranks first
    (batches of the buffers it feeds or that supply it are named "before the constraint");
    ``shares``: each waste's share of the Pareto's money (said in the rationale)."""
    if not 0.5 <= service < 1:
        raise KaizenError(f"service: a cycle service level from 0.5 to below 1, not {service}")
    ctx = _Context(
        net=net,
        base={b: dict(v) for b, v in baseline.items()},
        z=float(stats.norm.ppf(service)),
        service=service,
        constraint=constraint,
        shares=dict(shares or {}),
    )
    if constraint is not None:
        for b in net.buffers:
            if any(s.name == constraint for s in net.steps_of(b)):
                ctx.constraint_buffers.add(b)
                for link in net.links_into(b):
                    if link.source is not None:
                        ctx.constraint_buffers.add(link.source)
    out: list[Candidate] = []
    for name, buffer in net.buffers.items():
        if name not in ctx.base:
            continue
        out.extend(_buffer_candidates(ctx, name, buffer.policy, buffer.ordering_cost))
    out.extend(_information_candidates(ctx))
    return out


def _buffer_candidates(
    ctx: _Context, name: str, policy: Any, ordering_cost: float
) -> list[Candidate]:
    out: list[Candidate] = []
    base = ctx.base[name]
    on_hand = base.get("on_hand", 0.0)
    m = base.get("demand_mean", 0.0)
    if m <= 0:
        return out
    need, how = _need(ctx, name)
    days = on_hand / m
    stock = f"stock at {name}: {on_hand:.3g} units on hand, {days:.2g} periods of demand"
    prefix = f"buffer.{name}.policy"
    if isinstance(policy, BaseStock) and _meaningful(need, policy.level):
        out.append(
            Candidate(
                f"level-{name}",
                "parameter",
                "inventory",
                name,
                Variant(f"level-{name}", {f"{prefix}.level": need}),
                f"{stock}{_share(ctx, 'inventory')}; base stock {_fmt(policy.level)} → "
                f"{_fmt(need)} ({how})",
                source="stock above need",
            )
        )
    if isinstance(policy, BaseStock) and not any(d.at == name for d in ctx.net.demand):
        # deeper cuts upstream, each its own candidate (the simulation keeps those that hold
        # the end customers' service)
        last = need
        for p in DEEPER_SERVICE:
            if p >= ctx.service:
                continue
            deeper, how_p = _need(ctx, name, float(stats.norm.ppf(p)))
            if not (_meaningful(deeper, policy.level) and _meaningful(deeper, last)):
                continue
            last = deeper
            cid = f"level-{name}-s{round(100 * p)}"
            out.append(
                Candidate(
                    cid,
                    "parameter",
                    "inventory",
                    name,
                    Variant(cid, {f"{prefix}.level": deeper}),
                    f"{stock}{_share(ctx, 'inventory')}; base stock {_fmt(policy.level)} → "
                    f"{_fmt(deeper)} ({how_p}; an upstream buffer, covered by the stock "
                    "downstream)",
                    source="stock above need",
                )
            )
    out.extend(_setup_candidates(ctx, name, policy, stock))
    if isinstance(policy, RQ):
        if _meaningful(need, policy.R):
            out.append(
                Candidate(
                    f"reorder-{name}",
                    "parameter",
                    "inventory",
                    name,
                    Variant(f"reorder-{name}", {f"{prefix}.R": need}),
                    f"{stock}{_share(ctx, 'inventory')}; reorder point R {_fmt(policy.R)} → "
                    f"{_fmt(need)} ({how})",
                    source="stock above need",
                )
            )
        q = _lot(ctx, name, policy.Q, m, ordering_cost)
        if q is not None:
            out.append(_batch(ctx, name, f"{prefix}.Q", "R_Q Q", policy.Q, q[0], q[1], stock))
    if isinstance(policy, SS):
        lot = policy.S - policy.s
        if _meaningful(need, policy.s):
            out.append(
                Candidate(
                    f"reorder-{name}",
                    "parameter",
                    "inventory",
                    name,
                    Variant(f"reorder-{name}", {f"{prefix}.s": need, f"{prefix}.S": need + lot}),
                    f"{stock}{_share(ctx, 'inventory')}; s {_fmt(policy.s)} → {_fmt(need)}, "
                    f"S {_fmt(policy.S)} → {_fmt(need + lot)}, the lot kept ({how})",
                    source="stock above need",
                )
            )
        q = _lot(ctx, name, lot, m, ordering_cost)
        if q is not None:
            out.append(
                _batch(ctx, name, f"{prefix}.S", "s_S S − s", lot, q[0], q[1], stock, policy.s)
            )
    if isinstance(policy, Kanban):
        cards = max(1, math.ceil(need / policy.container - 1e-9) + 1)
        if cards < policy.cards:
            out.append(
                Candidate(
                    f"cards-{name}",
                    "parameter",
                    "inventory",
                    name,
                    Variant(f"cards-{name}", {f"{prefix}.cards": cards}),
                    f"{stock}{_share(ctx, 'inventory')}; kanban cards {policy.cards} → {cards} "
                    f"of {_fmt(policy.container)} ({how}, plus the card in use)",
                    source="stock above need",
                )
            )
    if isinstance(policy, Forecast):
        L, var_l = _lead(ctx.net, name)
        v = base.get("demand_variance", 0.0)
        safety = math.ceil(ctx.z * math.sqrt(max(v * L + m * m * var_l, 0.0)) - 1e-9)
        if _meaningful(safety, policy.safety_stock):
            out.append(
                Candidate(
                    f"safety-{name}",
                    "parameter",
                    "inventory",
                    name,
                    Variant(f"safety-{name}", {f"{prefix}.safety_stock": float(safety)}),
                    f"{stock}{_share(ctx, 'inventory')}; safety stock "
                    f"{_fmt(policy.safety_stock)} → {safety} (z = {ctx.z:.2f} × the sd of "
                    f"lead-time demand)",
                    source="stock above need",
                )
            )
    if isinstance(policy, BaseStock | Forecast):
        container = float(max(1, round(m)))
        cards = max(1, math.ceil(need / container - 1e-9) + 1)
        cap = cards * container
        current = policy.level if isinstance(policy, BaseStock) else None
        if current is None or _meaningful(cap, current):
            was = f"base stock {_fmt(current)}" if current is not None else "forecast ordering"
            out.append(
                Candidate(
                    f"kanban-{name}",
                    "policy",
                    "overproduction",
                    name,
                    Variant(
                        f"kanban-{name}",
                        {prefix: {"kind": "kanban", "cards": cards, "container": container}},
                    ),
                    f"{stock}{_share(ctx, 'overproduction')}; a kanban limit in place of "
                    f"{was}: {cards} cards of {_fmt(container)} (one period's demand), at most "
                    f"{_fmt(cap)} units ordered ahead ({how})",
                    source="kanban limit",
                )
            )
    return out


SMALLER_BATCH = 4
"""A set-up reduction cuts a step's batch to a quarter (at least one unit)."""

MACHINE_LOAD = 0.85
"""At most this share of a step's hours may go to the batches a smaller batch size needs (the
period's mean demand over the batch, each taking the step's set-up and processing time)."""


def _setup_candidates(ctx: _Context, name: str, policy: Any, stock: str) -> list[Candidate]:
    """Smaller production batches at ``name`` (its steps' batches to a quarter), alone and
    with the base-stock level cut to the need with the smaller batches (at the context's
    service, and deeper upstream, as the level cuts)."""
    batched = [s for s in ctx.net.steps_of(name) if s.batch_size > 1]
    if not batched or not isinstance(policy, BaseStock):
        return []
    changes: dict[str, Any] = {}
    sizes: dict[str, int] = {}
    said = []
    m = ctx.base[name].get("demand_mean", 0.0)
    hours = _days_per_period(ctx.net) * 24.0
    for step in batched:
        new = max(1, math.ceil(step.batch_size / SMALLER_BATCH))
        # the machine must keep up: a batch takes its set-up and processing whatever its size
        # (the twin's processing time is per batch), so smaller batches take more of its hours
        per_batch = step.setup_time + (
            step.processing_time.mean_value if step.processing_time is not None else 0.0
        )
        if per_batch > 0 and m > 0:
            new = max(new, math.ceil(m * per_batch / (MACHINE_LOAD * hours) - 1e-9))
        if new > 0.8 * step.batch_size:
            continue
        changes[f"step.{step.name}.batch_size"] = new
        sizes[step.name] = new
        said.append(f"{step.name} {step.batch_size} → {new}")
    if not changes:
        return []
    words = ", ".join(said)
    why = (
        f"{stock}{_share(ctx, 'inventory')}; smaller batches (a set-up reduction): {words} — "
        "a batch's units wait for it to fill and arrive in a lump"
    )
    # not alone: under base stock the position keeps its units, only moved from waiting for a
    # batch to the shelf (the demo's floor: −0.1 to −1.8 units at the resin supplier, +10.8
    # measured at the parts maker) — the lever is the stock the level no longer needs
    out: list[Candidate] = []
    services = [ctx.service]
    if not any(d.at == name for d in ctx.net.demand):  # deeper upstream, as the level cuts
        services += [p for p in DEEPER_SERVICE if p < ctx.service]
    last: float | None = None
    for p in services:
        level, how = _need(ctx, name, float(stats.norm.ppf(p)), sizes)
        if not _meaningful(level, policy.level) or (
            last is not None and not _meaningful(level, last)
        ):
            continue
        last = level
        cid = f"setup-level-{name}" + ("" if p == ctx.service else f"-s{round(100 * p)}")
        out.append(
            Candidate(
                cid,
                "policy",
                "inventory",
                name,
                Variant(cid, {**changes, f"buffer.{name}.policy.level": level}),
                f"{why}; and base stock {_fmt(policy.level)} → {_fmt(level)} ({how}): the "
                "stock the big batches held",
                source="smaller batches",
            )
        )
    return out


def _lot(
    ctx: _Context, name: str, lot: float, m: float, ordering_cost: float
) -> tuple[float, str] | None:
    """A smaller batch for ``name``: the economic lot where ordering costs money, else half."""
    floor = float(max(1, math.ceil(m - 1e-9)))
    h = ctx.base[name].get("holding_rate", 0.0)
    if ordering_cost > 0 and h > 0:
        eoq = math.sqrt(2 * ordering_cost * m / h)
        new = max(floor, float(round(eoq)))
        how = f"economic lot √(2·{_fmt(ordering_cost)}·{m:.3g}/{h:.3g}) = {eoq:.3g}"
    else:
        new = max(floor, float(math.ceil(lot / 2)))
        how = "half the batch (no ordering cost in the model), at least one period's demand"
    if new > 0.8 * lot:
        return None
    return new, how


def _batch(
    ctx: _Context,
    name: str,
    path: str,
    label: str,
    lot: float,
    new: float,
    how: str,
    stock: str,
    s: float | None = None,
) -> Candidate:
    where = " before the constraint" if name in ctx.constraint_buffers else ""
    if ctx.constraint is not None and where:
        where += f" ({ctx.constraint})"
    value = new if s is None else s + new
    return Candidate(
        f"batch-{name}",
        "parameter",
        "inventory",
        name,
        Variant(f"batch-{name}", {path: value}),
        f"{stock}{_share(ctx, 'inventory')}; order batches of {_fmt(lot)}{where} → "
        f"{label} {_fmt(new)} ({how}; cycle stock is about half a batch)",
        source="smaller batches",
    )


def _information_candidates(ctx: _Context) -> list[Candidate]:
    out: list[Candidate] = []
    net = ctx.net
    for company in net.companies:
        if "end_customer_demand" in company.sees:
            continue
        forecasting = [
            b.name
            for b in company.buffers
            if isinstance(b.policy, Forecast) and net.links_out_of(b.name)
        ]
        if not forecasting:
            continue
        sees = [
            s
            for s in ("orders", "end_customer_demand", "partner_inventory")
            if s in company.sees or s == "end_customer_demand"
        ]
        where = ", ".join(forecasting)
        out.append(
            Candidate(
                f"share-demand-{company.name}",
                "information",
                "overproduction",
                "network",
                Variant(f"share-demand-{company.name}", {f"company.{company.name}.sees": sees}),
                f"{company.name} forecasts at {where} from the orders it receives, which swing "
                f"more than what end customers buy (bullwhip){_share(ctx, 'overproduction')}; "
                f"share end-customer demand with {company.name}",
                sites=2,
                source="information",
            )
        )
    return out


# --- tried before? -----------------------------------------------------------------------------


def _shape(path: str) -> str:
    parts = path.split(".")
    if len(parts) >= 2:
        parts[1] = "*"
    return ".".join(parts)


def _changes_of(item: Mapping[str, Any]) -> dict[str, Any]:
    for key in ("variant_changes", "changes"):
        v = item.get(key)
        if isinstance(v, Mapping):
            return dict(v)
        if isinstance(v, str):
            try:
                parsed = json.loads(v)
            except ValueError:
                continue
            if isinstance(parsed, Mapping):
                return dict(parsed)
    cm = item.get("countermeasure")
    if isinstance(cm, Mapping):
        inner = cm.get("changes") or cm.get("variant_changes")
        if isinstance(inner, Mapping):
            return dict(inner)
    return {}


def _kind_of(item: Mapping[str, Any]) -> str | None:
    for key in ("kind", "countermeasure_kind"):
        if isinstance(item.get(key), str):
            return str(item[key])
    cm = item.get("countermeasure")
    if isinstance(cm, Mapping) and isinstance(cm.get("kind"), str):
        return str(cm["kind"])
    return None


def _failed_partner(item: Mapping[str, Any]) -> str | None:
    """Why a partner's lesson says the idea failed, or None."""
    if item.get("status") == "abandoned":
        return "abandoned"
    measured = item.get("measured") or item.get("measurement")
    if isinstance(measured, Mapping):
        direction = item.get("direction") or (item.get("target") or {}).get("direction")
        effect = measured.get("effect")
        detected = measured.get("detected")
        if detected is False:
            return "measured: no effect detected"
        if isinstance(effect, int | float) and direction in ("decrease", "increase"):
            wrong = effect >= 0 if direction == "decrease" else effect <= 0
            if wrong:
                return "measured: the metric moved the wrong way"
    return None


def _own_failures(store: Store) -> list[dict[str, Any]]:
    con = store.con
    out = []
    for row in tables.experiments(con).to_pylist():
        eid = row["experiment_id"]
        full = tables.experiment_row(con, eid)
        why: str | None = None
        if row["status"] == "abandoned":
            hist = tables.history(con, eid).to_pylist()
            note = hist[-1]["note"] if hist else None
            why = "abandoned" + (f": {note}" if note else "")
        else:
            ms = tables.measurements(con, eid).to_pylist()
            if ms:
                last = ms[-1]
                eff = last.get("effect")
                wrong = eff is not None and (
                    eff >= 0 if full["target_direction"] == "decrease" else eff <= 0
                )
                if wrong or not last.get("detected"):
                    why = f"measured: {last.get('verdict')}"
        if why is None:
            continue
        results = {n["section"]: n["text"] for n in tables.notes(con, eid).to_pylist()}
        out.append(
            {
                "experiment_id": eid,
                "title": full["title"],
                "waste": full["waste"],
                "kind": full["countermeasure_kind"],
                "changes": full["variant_changes"],
                "scope": full["target_scope"],
                "why": why,
                "results": results.get("results") or results.get("standardize"),
            }
        )
    return out


def _flag(
    c: Candidate, own: Sequence[Mapping[str, Any]], partners: Sequence[Mapping[str, Any]]
) -> tuple[str | None, str | None]:
    paths = set(c.variant.changes)
    shapes = {_shape(p) for p in paths}
    for e in own:
        same_path = bool(paths & set(e["changes"]))
        same_idea = (
            e["kind"] == c.kind
            and e["waste"] == c.waste
            and e["scope"] == c.acts_on
            and bool(shapes & {_shape(p) for p in e["changes"]})
        )
        if same_path or same_idea:
            text = f"'{e['title']}' ({e['experiment_id']}) here: {e['why']}"
            if e.get("results"):
                text += f" — {e['results']}"
            return "here", text
    for item in partners:
        why = _failed_partner(item)
        if why is None:
            continue
        kind = _kind_of(item)
        theirs = {_shape(p) for p in _changes_of(item)}
        waste = item.get("waste")
        if kind not in (None, c.kind):
            continue
        if waste is not None and waste != c.waste:
            continue
        if theirs and not shapes & theirs:
            continue
        if not theirs and kind is None:
            continue
        source = item.get("source", "a partner")
        text = f"'{item.get('title')}' ({item.get('experiment_id')}) at {source}: {why}"
        lesson = item.get("lesson") or item.get("results")
        if isinstance(lesson, str) and lesson:
            text += f" — {lesson}"
        return f"partner:{source}", text
    return None, None


# --- the suggestion run ------------------------------------------------------------------------


def _baseline(
    net: Network, periods: int, replications: int, seed: int, rates: Rates
) -> dict[str, dict[str, float]]:
    result = simulate(net, periods=periods, replications=replications, seed=seed)
    out: dict[str, dict[str, float]] = {}
    for b in net.buffers:
        st = result.stages[b]
        out[b] = {
            k: float(st[k].mean)
            for k in ("on_hand", "demand_mean", "demand_variance", "fill_rate")
            if k in st and math.isfinite(st[k].mean)
        }
        out[b]["holding_rate"] = holding_rate(rates, b, net)
    out["network"] = {
        k: float(result.totals[k].mean)
        for k in ("on_hand", "fill_rate", "cost")
        if k in result.totals and math.isfinite(result.totals[k].mean)
    }
    return out


def _optimizer_candidate(
    net: Network,
    fill: float | None,
    periods: int,
    replications: int,
    seed: int,
    budget: int,
) -> Candidate | None:
    found = optimize_network(
        net,
        scope="network",
        fill_rate=fill,
        periods=periods,
        replications=replications,
        seed=seed,
        evaluation_replications=replications,
        max_rounds=2,
        max_evaluations=budget,
    )
    changes: dict[str, Any] = {}
    said = []
    for b, policy in found.policies.items():
        old = net.buffers[b].policy
        if policy != old:
            changes[f"buffer.{b}.policy"] = policy.model_dump()
            said.append(f"{b} {_policy_words(old)} → {_policy_words(policy)}")
    if not changes:
        return None
    return Candidate(
        "network-optimal",
        "parameter",
        "inventory",
        "network",
        Variant("network-optimal", changes),
        "network-optimal levels from the optimizer (the whole network's cost, the end "
        f"customers' fill rate kept at {fill:.3f}): " + "; ".join(said)
        if fill is not None
        else "network-optimal levels from the optimizer: " + "; ".join(said),
        sites=len(changes),
        source="optimizer",
    )


def _before(net: Network, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Each changed path's value in ``net`` before the change: a buffer's whole policy (its
    fields) or one field of it; None for other paths."""
    out: dict[str, Any] = {}
    for path in changes:
        parts = path.split(".")
        value: Any = None
        if len(parts) >= 3 and parts[0] == "buffer" and parts[2] == "policy":
            buffer = net.buffers.get(parts[1])
            if buffer is not None:
                policy = buffer.policy.model_dump()
                value = policy if len(parts) == 3 else policy.get(".".join(parts[3:]))
        out[path] = value
    return out


def _policy_words(p: Any) -> str:
    d = p.model_dump()
    kind = str(d.pop("kind"))
    return kind + " " + ", ".join(f"{k} {_fmt(float(v))}" for k, v in d.items() if v is not None)


def suggest(
    store: Store,
    *,
    model: Network | CalibratedModel | None = None,
    names: Mapping[str, str] | None = None,
    rates: Rates | None = None,
    effort: Mapping[str, float] | None = None,
    replications: int = 64,
    periods: int = 100,
    seed: int = 0,
    workers: int | None = 1,
    limit: int | None = 10,
    lessons: bool = True,
    findings: View | None = None,
    target_days: float = 1.0,
    object_type: str | None = "trade item",
    service: float = 0.98,
    shortage_cost: float | None = None,
    fill_tolerance: float = 0.005,
    optimizer: bool = True,
    optimizer_budget: int = 60,
    confidence: float = 0.95,
) -> View:
    """Suggest countermeasures for the node's waste, simulated on its twin and ranked by money
    removed per unit of effort.

    ``store``: the node's store (the waste Pareto and the constraint are read from its log;
    the twin's model is calibrated from it unless ``model`` is given: a
    :class:`~keiretsu.sim.model.Network` or a calibrated model; ``names`` gives the sites
    readable names for the calibration). ``rates``: the node's cost rates (money in
    ``rates.currency``). ``effort``: effort points per site changed, per kind (defaults:
    :data:`EFFORT`). ``replications`` × ``periods`` paired runs (common random numbers,
    ``seed``; ``workers`` processes). ``limit``: at most this many rows (None: all).
    ``lessons``: flag candidates like ideas that failed here or at a partner.
    ``findings``: a :func:`~keiretsu.analytics.waste.wastes` view already computed (else
    computed with ``target_days`` of supply as the inventory target). ``object_type``: whose
    value stream the constraint is read from (None: no constraint). ``service``: the cycle
    service level stock is sized for. ``shortage_cost``: money per end-customer unit not
    served from stock (default: the model's own backorder or lost-sale cost).
    ``fill_tolerance``: how far the end customers' fill rate may fall (a share) before a
    candidate is dropped. ``optimizer``: add the network-optimal levels (a search of about
    ``optimizer_budget`` simulations).

    One row per candidate predicted to remove waste, best first: ``rank``, ``candidate_id``,
    ``kind``, ``waste``, ``acts_on``, ``changes`` (JSON: model path → new value),
    ``before`` (JSON: model path → its value in the twin's model now, null where the path names
    no buffer's policy or a field of it) — a change applied elsewhere (a floor whose settings
    are spelled differently) can be made as the same step,
    ``rationale``, ``kpi`` / ``unit`` / ``baseline`` / ``difference`` / ``ci_low`` /
    ``ci_high`` (the candidate's own KPI at ``acts_on``, variant − baseline per period),
    ``fill_rate_difference`` (end customers'), ``hours_removed`` (unit-hours of stock per
    period), ``lead_hours_removed`` (hours per unit), ``money_removed`` / ``money_low`` /
    ``money_high`` (per period, ``currency``), ``effort``, ``per_effort`` (money per period
    per effort point), ``significant`` (the money interval leaves out 0), ``tried``
    (``here``, ``partner:<name>``, or null) and ``lesson``."""
    if replications < 2:
        raise KaizenError(f"replications: at least 2 for an interval, not {replications}")
    if periods < 2:
        raise KaizenError(f"periods: at least 2, not {periods}")
    if limit is not None and limit < 1:
        raise KaizenError(f"limit: at least 1 row (or None for all), not {limit}")
    rates = rates or Rates()
    efforts = dict(EFFORT)
    for k, v in (effort or {}).items():
        if k not in EFFORT:
            raise KaizenError(f"effort: unknown kind {k!r} (expected one of {', '.join(EFFORT)})")
        if not (isinstance(v, int | float) and v > 0):
            raise KaizenError(f"effort[{k!r}]: a number of points above 0, not {v!r}")
        efforts[k] = float(v)
    notes: list[str] = []
    log = Log.from_connection(store.con)

    # what the events show: the waste Pareto and the constraint
    if findings is None:
        findings = wastes(log, rates, target_days=target_days)
    ranked = pareto(findings).table.to_pylist()
    shares = {r["waste"]: r["share"] for r in ranked if r["share"]}
    for r in ranked:
        if r["waste"] not in SIMULATED_WASTES and (r["money"] or 0) > 0:
            notes.append(
                f"{r['waste']}: {r['money']:.4g} {rates.currency} on the Pareto, but the twin's "
                "model does not simulate it — no countermeasure predicted (act on its evidence)"
            )
    constraint = None
    if object_type is not None:
        constraint = bottlenecks(log, object_type).meta.get("constraint")
        if constraint is not None:
            notes.append(f"constraint (bottleneck view, {object_type}): {constraint}")

    # the twin's model, priced with the node's rates
    if model is None:
        calibrated = twin_model(store, names=dict(names) if names else None)
        net = calibrated.network
        source = f"model calibrated from {store.path.name}"
    elif isinstance(model, CalibratedModel):
        net = model.network
        source = f"calibrated model {net.name!r}"
    else:
        net = model
        source = f"model {net.name!r}"
    net = priced(net, rates, shortage_cost=shortage_cost)
    hpp = _days_per_period(net) * 24.0
    base = _baseline(net, periods, replications, seed, rates)
    found = candidates(net, base, service=service, constraint=constraint, shares=shares)
    fill0 = base["network"].get("fill_rate")
    if optimizer and (fill0 is None or fill0 - fill_tolerance <= 0):
        # the network-optimal levels keep the end customers' fill rate: with none to keep, the
        # cheapest network holds no stock at all — not a countermeasure to offer
        notes.append(
            "network-optimal levels not searched: the twin's model serves its end customers "
            f"{0.0 if fill0 is None else fill0:.1%} of the time (nothing to keep while cutting "
            "cost; its sites' stock may be seen only for part of the log)"
        )
    elif optimizer and fill0 is not None:
        target = fill0 - fill_tolerance
        opt = _optimizer_candidate(net, target, periods, replications, seed, optimizer_budget)
        if opt is not None:
            found.append(opt)
    meta: dict[str, Any] = {
        "currency": rates.currency,
        "period": net.period,
        "hours_per_period": hpp,
        "model": source,
        "constraint": constraint,
        "pareto": ranked,
        "considered": [c.candidate_id for c in found],
        "replications": replications,
        "periods": periods,
        "seed": seed,
        "effort": efforts,
    }
    notes.append(
        f"money per {net.period} in {rates.currency}: − (network cost per {net.period}, variant "
        f"− baseline), the model priced with the node's rates (holding = unit value × "
        f"{rates.holding_per_year:g} a year)"
    )
    notes.append(
        f"hours: unit-hours of stock removed per {net.period} = − Δ network on hand × {hpp:g} h "
        "(Little's law); per unit: divided by the end customers' demand per period"
    )
    if not found:
        notes.append(
            "nothing to improve: no buffer holds stock above what its lead-time demand needs, "
            "no batch or information gap found"
        )
        return View("kaizen_suggestions", _COLUMNS.empty_table(), tuple(notes), meta)

    result = compare(
        net,
        [c.variant for c in found],
        periods=periods,
        replications=replications,
        seed=seed,
        workers=workers,
        kpis=("cost", "on_hand", "fill_rate"),
        confidence=confidence,
    )
    notes.extend(result.notes)
    by: dict[tuple[str, str, str], dict[str, Any]] = {
        (r["variant"], r["kpi"], r["scope"]): r for r in result.table.to_pylist()
    }
    throughput = sum(d.mean for d in net.demand)
    own = _own_failures(store) if lessons else []
    partners = tables.lessons(store.con) if lessons else []
    rows: list[dict[str, Any]] = []
    dropped: list[str] = []
    for c in found:
        name = c.variant.name
        cost = by.get((name, "cost", "network"))
        oh_net = by.get((name, "on_hand", "network"))
        own_kpi = by.get((name, c.kpi, c.acts_on))
        fill = by.get((name, "fill_rate", "network"))
        if cost is None or cost["difference"] is None or oh_net is None or own_kpi is None:
            dropped.append(f"{c.candidate_id} (not measurable)")
            continue
        fill_d = fill["difference"] if fill is not None else None
        money = -float(cost["difference"])
        if fill_d is not None and fill_d < -fill_tolerance:
            dropped.append(
                f"{c.candidate_id} (end customers' fill rate {fill_d:+.3f}: service lost)"
            )
            continue
        if not money > 0:
            dropped.append(f"{c.candidate_id} (removes no money: {money:+.3g} a {net.period})")
            continue
        hours = -float(oh_net["difference"]) * hpp
        e = efforts[c.kind] * c.sites
        tried, lesson = _flag(c, own, partners) if lessons else (None, None)
        lo = None if cost["ci_high"] is None else -float(cost["ci_high"])
        hi = None if cost["ci_low"] is None else -float(cost["ci_low"])
        rows.append(
            {
                "candidate_id": c.candidate_id,
                "kind": c.kind,
                "waste": c.waste,
                "acts_on": c.acts_on,
                "changes": json.dumps(dict(c.variant.changes), sort_keys=True),
                "before": json.dumps(_before(net, c.variant.changes), sort_keys=True),
                "rationale": c.rationale,
                "kpi": c.kpi,
                "unit": own_kpi["unit"],
                "baseline": own_kpi["baseline"],
                "difference": own_kpi["difference"],
                "ci_low": own_kpi["ci_low"],
                "ci_high": own_kpi["ci_high"],
                "fill_rate_difference": fill_d,
                "hours_removed": hours,
                "lead_hours_removed": hours / throughput if throughput > 0 else None,
                "money_removed": money,
                "money_low": lo,
                "money_high": hi,
                "currency": rates.currency,
                "effort": e,
                "per_effort": money / e,
                "significant": bool(lo is not None and lo > 0),
                "tried": tried,
                "lesson": lesson,
            }
        )
    rows.sort(key=lambda r: (-r["per_effort"], -r["money_removed"], r["candidate_id"]))
    if limit is not None:
        rows = rows[:limit]
    for i, r in enumerate(rows, 1):
        r["rank"] = i
    if dropped:
        notes.append("considered and dropped: " + "; ".join(dropped))
    if not rows:
        notes.append(
            f"nothing to improve: none of the {len(found)} candidates is predicted to remove "
            "waste without losing service"
        )
    return View(
        "kaizen_suggestions",
        pa.Table.from_pylist(rows, _COLUMNS) if rows else _COLUMNS.empty_table(),
        tuple(notes),
        meta,
    )


# --- from a suggestion to an experiment -------------------------------------------------------


def experiment_from_suggestion(
    store: Store,
    suggestion: Mapping[str, Any],
    *,
    owner: str,
    title: str | None = None,
    problem: str | None = None,
    hypothesis: str | None = None,
    evidence: Evidence | None = None,
    rates: Rates | None = None,
    target_days: float = 1.0,
    by: str = "local",
    at: datetime | None = None,
    experiment_id: str | None = None,
) -> Experiment:
    """A new experiment (in ``plan``) from one row of :func:`suggest` (a dict, e.g. from
    ``view.table.to_pylist()`` or the JSON the CLI wrote): its change as the countermeasure
    (a :class:`~keiretsu.sim.scenario.Variant` named after the candidate), its kind and waste,
    the target (its KPI at ``acts_on``, to decrease), the rationale as the problem and the
    prediction as the hypothesis unless given, and the waste's evidence from the node's log
    (:func:`~keiretsu.analytics.waste.waste_evidence`) unless ``evidence`` is given."""
    missing = [
        k
        for k in ("candidate_id", "kind", "waste", "acts_on", "changes", "kpi")
        if suggestion.get(k) in (None, "")
    ]
    if missing:
        raise KaizenError(f"a suggestion needs {', '.join(missing)} (a row of suggest())")
    changes = suggestion["changes"]
    if isinstance(changes, str):
        try:
            changes = json.loads(changes)
        except ValueError as exc:
            raise KaizenError(f"suggestion changes: not JSON ({exc})") from exc
    if not isinstance(changes, Mapping) or not changes:
        raise KaizenError("suggestion changes: a JSON object of model path → new value")
    cid = str(suggestion["candidate_id"])
    waste = str(suggestion["waste"])
    if evidence is None:
        view = waste_evidence(Log.from_connection(store.con), waste, rates, target_days=target_days)
        evidence = evidence_from(view)
    money = suggestion.get("money_removed")
    currency = suggestion.get("currency") or (rates or Rates()).currency
    diff = suggestion.get("difference")
    said = ""
    if isinstance(diff, int | float):
        said = f" by {-float(diff):.3g} {suggestion.get('unit') or ''}".rstrip()
    if isinstance(money, int | float):
        said += f", removing {float(money):.3g} {currency} of waste per period"
    return new_experiment(
        store,
        title=title or f"Suggestion {cid}: {suggestion.get('rationale', '')}"[:120].rstrip(),
        problem=problem or str(suggestion.get("rationale") or cid),
        waste=waste,
        evidence=evidence,
        hypothesis=hypothesis
        or f"The twin predicts {suggestion['kpi']} at {suggestion['acts_on']} falls{said}",
        countermeasure=Variant(cid, dict(changes)),
        kind=str(suggestion["kind"]),
        target=Target(
            metric=str(suggestion["kpi"]),
            scope=str(suggestion["acts_on"]),
            direction="decrease",
            unit=suggestion.get("unit"),
        ),
        owner=owner,
        by=by,
        at=at,
        experiment_id=experiment_id,
    )
