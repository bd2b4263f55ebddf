"""Simulation-based optimization of any network's inventory policies.

Where theory gives no exact optimum — a distribution or an assembly tree, (s, S), (R, Q),
kanban or forecast policies, lost sales, capacities, a fill-rate target — the policies'
parameters are searched on the policy-level simulation (:func:`keiretsu.sim.simulate`):

- **the objective** is the expected total cost per period (holding, shortage, ordering and
  transport, as the simulation counts them), estimated by a *sample average*: the mean over
  ``replications`` runs of ``periods`` periods. Every candidate is simulated with the **same
  seed** — common random numbers: the same demand and lead times, replication by replication
  — so two candidates are compared on the same weeks, and the estimate is a deterministic
  function of the parameters the search can work on (sample-average approximation; Kleywegt,
  Shapiro and Homem-de-Mello, *SIAM J. Optim.* 12(2):479–502, 2002);
- **a fill-rate target** (share of units asked for that were shipped from stock in the period
  asked) is kept by an exact penalty: a candidate below the target pays, per point of fill rate
  missing, a hundredth of the starting cost times 100 — far more than any saving, so the search
  stays on the feasible side when it can;
- **the search** is scipy's Nelder–Mead (``scipy.optimize.minimize``, bounded) on the
  parameters as real numbers, from the model's own policies, then an **integer coordinate
  search** on the grid of ``resolution`` units (cards: whole cards): each parameter in turn is
  moved one grid step up or down while the cost falls, until no move helps;
- **the answer** is re-simulated with another seed (``evaluation_seed``) and more
  replications, so the reported cost is not the optimistic in-sample figure.

Two scopes (:func:`optimize_network`):

- ``"network"``: one objective over the whole chain — the network's total cost, the fill rate
  of end customers — over every buffer's parameters at once;
- ``"local"``: each company optimizes its own cost (its buffers' costs) over its own
  parameters, the others' policies fixed, keeping its fill rate to its own customers at the
  target; companies take turns until no one changes (best responses to a Nash equilibrium;
  Cachon and Zipkin, *Management Science* 45(7):936–953, 1999). A company judges only what it
  experiences — the orders it receives and its own stock — which is what it sees.

Parameters searched per policy kind: ``base_stock`` and ``echelon_base_stock`` — ``level``;
``s_S`` — ``s`` and ``S − s``; ``R_Q`` — ``R`` and ``Q``; ``kanban`` — ``cards`` (the
container is the physical bin, kept); ``forecast`` — ``safety_stock`` (the window and cover
are kept). Levels are in units, at least 0.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pyarrow as pa
from scipy import optimize  # type: ignore[import-untyped]

from keiretsu.sim.kpis import Estimate, PolicyResult
from keiretsu.sim.model import (
    RQ,
    SS,
    BaseStock,
    EchelonBaseStock,
    Forecast,
    Kanban,
    Network,
    Policy,
)
from keiretsu.sim.model.distributions import FloatArray
from keiretsu.sim.policy_level import simulate

__all__ = [
    "OptimizedNetwork",
    "Search",
    "minimize_levels",
    "optimize_network",
    "parameters_of",
    "with_parameters",
]

Scope = Literal["local", "network"]

PENALTY = 100.0
"""Cost added per unit of fill rate missing, in multiples of the starting cost."""


@dataclass(frozen=True)
class Search:
    """Where a search ended: the parameters, the objective there, how many simulations."""

    x: tuple[float, ...]
    value: float
    evaluations: int


def minimize_levels(
    objective: Callable[[FloatArray], float],
    start: Sequence[float],
    *,
    resolution: Sequence[float] | float = 1.0,
    lower: Sequence[float] | float = 0.0,
    initial_step: Sequence[float] | None = None,
    max_evaluations: int = 400,
    tolerance: float = 1e-4,
) -> Search:
    """Minimize ``objective`` (a deterministic function: a sample average under common random
    numbers) over parameters at least ``lower``: scipy's bounded Nelder–Mead from ``start``,
    then an integer coordinate search on the grid of ``resolution`` (each parameter moved one
    step while that lowers the objective). ``initial_step``: the initial simplex's size per
    parameter (default a fifth of the start, at least two grid steps). Nelder–Mead stops when
    the simplex is within half a grid step and its values within ``tolerance`` (relative) of
    the start's."""
    x0 = np.asarray(start, dtype=np.float64)
    k = len(x0)
    res = np.broadcast_to(np.asarray(resolution, dtype=np.float64), (k,)).copy()
    low = np.broadcast_to(np.asarray(lower, dtype=np.float64), (k,)).copy()
    if np.any(res <= 0):
        raise ValueError("resolution: positive steps")
    x0 = np.maximum(x0, low)
    cache: dict[tuple[float, ...], float] = {}
    count = 0

    def f(x: FloatArray) -> float:
        nonlocal count
        key = tuple(float(v) for v in np.round(np.maximum(x, low), 9))
        if key not in cache:
            count += 1
            cache[key] = float(objective(np.asarray(key)))
        return cache[key]

    step = (
        np.asarray(initial_step, dtype=np.float64)
        if initial_step is not None
        else np.maximum(0.2 * np.abs(x0), 2 * res)
    )
    simplex = np.vstack([x0, x0 + np.diag(step)])
    found = optimize.minimize(
        f,
        x0,
        method="Nelder-Mead",
        bounds=list(zip(low, [None] * k, strict=True)),
        options={
            "initial_simplex": simplex,
            "xatol": float(res.min()) / 2,
            "fatol": tolerance * max(abs(f(x0)), 1e-9),
            "maxfev": max_evaluations,
        },
    )
    # the grid: round, then move one coordinate at a time while it pays
    x = np.maximum(low, np.round(np.asarray(found.x) / res) * res)
    best = f(x)
    improved = True
    while improved and count < 2 * max_evaluations:
        improved = False
        for j in range(k):
            for direction in (-1.0, 1.0):
                while True:
                    trial = x.copy()
                    trial[j] += direction * res[j]
                    if trial[j] < low[j] - 1e-12:
                        break
                    value = f(trial)
                    if value < best - 1e-12:
                        x, best, improved = trial, value, True
                    else:
                        break
    return Search(x=tuple(float(v) for v in x), value=best, evaluations=count)


# --- a policy's parameters --------------------------------------------------------------------


def parameters_of(policy: Policy) -> tuple[list[str], list[float]]:
    """The names and values of the parameters the optimizer searches for ``policy``."""
    if isinstance(policy, BaseStock | EchelonBaseStock):
        return ["level"], [policy.level]
    if isinstance(policy, SS):
        return ["s", "S - s"], [policy.s, policy.S - policy.s]
    if isinstance(policy, RQ):
        return ["R", "Q"], [policy.R, policy.Q]
    if isinstance(policy, Kanban):
        return ["cards"], [float(policy.cards)]
    if isinstance(policy, Forecast):
        return ["safety_stock"], [policy.safety_stock]
    raise TypeError(f"no parameters known for {type(policy).__name__}")


def _bounds(policy: Policy, resolution: float) -> tuple[list[float], list[float]]:
    """Lower bounds and grid steps of ``policy``'s parameters."""
    if isinstance(policy, RQ):
        return [0.0, resolution], [resolution, resolution]
    if isinstance(policy, SS):
        return [0.0, 0.0], [resolution, resolution]
    if isinstance(policy, Kanban):
        return [1.0], [1.0]
    return [0.0], [resolution]


def with_parameters(policy: Policy, values: Sequence[float]) -> Policy:
    """``policy`` with the searched parameters set to ``values`` (as :func:`parameters_of`)."""
    if isinstance(policy, BaseStock | EchelonBaseStock):
        return policy.model_copy(update={"level": float(values[0])})
    if isinstance(policy, SS):
        return SS(s=float(values[0]), S=float(values[0] + values[1]))
    if isinstance(policy, RQ):
        return RQ(R=float(values[0]), Q=float(values[1]))
    if isinstance(policy, Kanban):
        return Kanban(cards=max(1, round(values[0])), container=policy.container)
    if isinstance(policy, Forecast):
        return policy.model_copy(update={"safety_stock": float(values[0])})
    raise TypeError(f"no parameters known for {type(policy).__name__}")


# --- the network optimizer --------------------------------------------------------------------


@dataclass(frozen=True)
class OptimizedNetwork:
    """The policies found, and what they cost on an independent evaluation run."""

    network: Network
    """The model with the policies found."""
    scope: Scope
    fill_rate_target: float | None
    policies: dict[str, Policy]
    evaluation: PolicyResult
    """The policies simulated with ``evaluation_seed`` (not the seed searched on)."""
    in_sample_cost: float
    """The policies' sample-average cost per period on the seed searched (optimistic)."""
    evaluations: int
    """Simulations run by the search."""
    seconds: float

    @property
    def cost(self) -> Estimate:
        """Expected total cost per period of the network, with its interval."""
        return self.evaluation.totals["cost"]

    @property
    def fill_rate(self) -> Estimate:
        """End customers' fill rate (share of units shipped from stock when asked)."""
        return self.evaluation.totals["fill_rate"]

    def to_arrow(self) -> pa.Table:
        """One row per searched parameter: buffer, policy kind, parameter, value (units)."""
        rows = []
        for buffer, policy in self.policies.items():
            names, values = parameters_of(policy)
            for name, value in zip(names, values, strict=True):
                rows.append(
                    {"buffer": buffer, "kind": policy.kind, "parameter": name, "value": value}
                )
        return pa.Table.from_pylist(rows)


def optimize_network(
    network: Network,
    *,
    scope: Scope = "network",
    fill_rate: float | None = None,
    periods: int = 300,
    replications: int = 200,
    seed: int = 0,
    warmup: int | None = None,
    resolution: float = 1.0,
    evaluation_seed: int = 1_000_003,
    evaluation_replications: int = 1000,
    max_rounds: int = 6,
    max_evaluations: int = 400,
) -> OptimizedNetwork:
    """Search ``network``'s policy parameters for the lowest expected total cost per period.

    ``scope="network"``: one objective, the network's cost, subject to the end customers'
    fill rate of at least ``fill_rate`` (if given); ``scope="local"``: each company its own
    cost subject to its own fill rate to its customers, in turns until no one moves. Each
    candidate is simulated for ``periods`` periods × ``replications`` replications with
    ``seed`` (common random numbers); levels are searched to ``resolution`` units. The answer
    is evaluated on ``evaluation_replications`` replications with ``evaluation_seed``."""
    if scope not in ("local", "network"):
        raise ValueError(f"scope: 'local' or 'network', not {scope!r}")
    if fill_rate is not None and not 0 < fill_rate <= 1:
        raise ValueError("fill_rate: a share above 0, at most 1")
    began = time.perf_counter()
    names = list(network.buffers)
    policies: dict[str, Policy] = {b: network.buffers[b].policy for b in names}
    order = _downstream_first(network)
    below = _echelon_children(network)

    def run(candidate: dict[str, Policy]) -> _Average:
        return _sample_average(
            network.with_policies(candidate), periods, replications, seed, warmup
        )

    def searched(b: str, current: dict[str, Policy]) -> list[float]:
        """A buffer's searched values: an echelon level as its part above the buffers below."""
        policy = current[b]
        values = parameters_of(policy)[1]
        if isinstance(policy, EchelonBaseStock):
            values = [values[0] - _level_below(b, current, below)]
        return values

    total = 0
    if scope == "network":
        groups = [names]
    else:
        groups = [[b.name for b in c.buffers] for c in network.companies]
    start_cost = run(policies).cost
    weight = PENALTY * max(abs(start_cost), 1e-9)
    for _round in range(1 if scope == "network" else max_rounds):
        moved = False
        for group in groups:
            layout = {b: len(parameters_of(policies[b])[1]) for b in group}
            x0 = [v for b in group for v in searched(b, policies)]
            lower: list[float] = []
            steps: list[float] = []
            for b in group:
                lo, st = _bounds(policies[b], resolution)
                lower += lo
                steps += st

            def decode(
                x: FloatArray,
                group: list[str] = group,
                layout: dict[str, int] = layout,
                current: dict[str, Policy] = policies,
            ) -> dict[str, Policy]:
                values: dict[str, list[float]] = {}
                at = 0
                for b in group:
                    values[b] = [float(v) for v in x[at : at + layout[b]]]
                    at += layout[b]
                out = dict(current)
                for b in order:  # downstream first: an echelon level sits on the ones below
                    if b not in values:
                        continue
                    v = values[b]
                    if isinstance(out[b], EchelonBaseStock):
                        v = [v[0] + _level_below(b, out, below)]
                    out[b] = with_parameters(out[b], v)
                return out

            def objective(x: FloatArray, group: list[str] = group) -> float:
                result = run(decode(x))
                if scope == "network":
                    cost, fills = result.cost, [result.fill_rate]
                else:
                    cost = sum(result.stage_cost[b] for b in group)
                    fills = [result.stage_fill[b] for b in group]
                if fill_rate is not None:
                    missing = sum(max(0.0, fill_rate - f) for f in fills if math.isfinite(f))
                    cost += weight * missing
                return cost

            search = minimize_levels(
                objective, x0, resolution=steps, lower=lower, max_evaluations=max_evaluations
            )
            total += search.evaluations
            found = decode(np.asarray(search.x))
            if any(found[b] != policies[b] for b in group):
                moved = True
            policies = found
        if not moved:
            break
    in_sample = run(policies).cost
    best = network.with_policies(policies)
    evaluation = simulate(
        best,
        periods=periods,
        replications=evaluation_replications,
        seed=evaluation_seed,
        warmup=warmup,
    )
    return OptimizedNetwork(
        network=best,
        scope=scope,
        fill_rate_target=fill_rate,
        policies=policies,
        evaluation=evaluation,
        in_sample_cost=in_sample,
        evaluations=total + 2,
        seconds=time.perf_counter() - began,
    )


# --- helpers ----------------------------------------------------------------------------------


def _downstream_first(net: Network) -> list[str]:
    """Buffers ordered so that every buffer comes after all it supplies."""
    order: list[str] = []
    remaining = list(net.buffers)
    while remaining:
        for name in remaining:
            if all(link.target in order for link in net.links_out_of(name)):
                order.append(name)
                remaining.remove(name)
                break
    return order


def _echelon_children(net: Network) -> dict[str, list[tuple[str, float]]]:
    """Each buffer's direct customers and the buffer's units in one of theirs (yield
    included), as the echelon position counts them."""
    out: dict[str, list[tuple[str, float]]] = {}
    for name in net.buffers:
        children = []
        for link in net.links_out_of(name):
            good = 1.0
            for step in net.steps_of(link.target):
                good *= step.good_share
            children.append((link.target, link.units / good))
        out[name] = children
    return out


def _level_below(
    b: str, policies: dict[str, Policy], below: dict[str, list[tuple[str, float]]]
) -> float:
    """What the buffers right below ``b`` keep on their own positions, in ``b``'s units."""
    total = 0.0
    for child, units in below[b]:
        target = policies[child].target
        total += units * (target if target is not None else 0.0)
    return total


@dataclass(frozen=True)
class _Average:
    """Sample averages of one candidate: the network's cost per period and end customers'
    fill rate; each buffer's cost per period and fill rate to its customers."""

    cost: float
    fill_rate: float
    stage_cost: dict[str, float]
    stage_fill: dict[str, float]


def _sample_average(
    network: Network, periods: int, replications: int, seed: int, warmup: int | None
) -> _Average:
    """The KPIs the search needs, as :func:`simulate` measures them. Through the simulation's
    engine without its confidence intervals where that engine is reachable (the intervals,
    scipy's t-tests on some fifty KPIs, take half the time of a short run)."""
    try:
        from keiretsu.sim import policy_level as engine

        if replications > engine._BLOCK:
            raise TypeError("more replications than one block")
        plan = engine._compile(network)
        if warmup is None:
            warmup = max(20, 5 * engine._longest_chain(network))
        T = engine._block(network, plan, seed, 0, replications, periods, warmup)
    except (AttributeError, TypeError):  # the engine changed: the public road
        result = simulate(
            network, periods=periods, replications=replications, seed=seed, warmup=warmup
        )
        return _Average(
            cost=result.totals["cost"].mean,
            fill_rate=result.totals["fill_rate"].mean,
            stage_cost={b: k["cost"].mean for b, k in result.stages.items()},
            stage_fill={b: k["fill_rate"].mean for b, k in result.stages.items()},
        )
    cost = (T.holding + T.shortage + T.ordering + T.transport) / periods
    with np.errstate(divide="ignore", invalid="ignore"):
        fill = T.served / T.asked
        end_fill = T.end_served / T.end_asked
    return _Average(
        cost=float(cost.sum(axis=0).mean()),
        fill_rate=_finite_mean(end_fill),
        stage_cost={b: float(cost[i].mean()) for i, b in enumerate(plan.names)},
        stage_fill={b: _finite_mean(fill[i]) for i, b in enumerate(plan.names)},
    )


def _finite_mean(values: FloatArray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if len(finite) else math.nan
