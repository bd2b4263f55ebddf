"""The gain of connecting: what a network saves when its companies share what they know and
are optimized as one, against each company optimizing alone.

Three arms, each simulated on the same demand (common random numbers):

- **isolated** — every company sees only the orders it receives and sets its own policy for
  its own cost (the local scope: best responses until no one moves, each company keeping
  ``fill_rate`` to its own customers); an echelon policy, which needs partners' stock, becomes
  the installation policy that holds the same stock;
- **connected** — the same companies, still each for its own cost, but seeing the end
  customers' demand too (shared sales): a forecasting buffer forecasts from it;
- **network-optimal** — one objective over the whole chain (the network scope), every
  company seeing everything, end customers' fill rate at least ``fill_rate``.

For :class:`~keiretsu.sim.beer_game.BeerGame` the arms are the game's: *isolated* is every
stage ordering by Sterman's estimated anchoring-and-adjustment rule on the orders it
receives, *connected* the same rule forecasting from shared end-customer demand,
*network-optimal* base-stock levels searched for the team's cost (:mod:`.simopt`).

Each arm reports cost per period and the waste it carries — units on hand and backordered on
average, units not served when asked (lost or backordered) per period, the end customers'
fill rate — each with a confidence interval, and its **difference from the isolated arm**
with the interval of that difference. The differences are paired: replication by replication
for the beer game; for a network, batch by batch (``batches`` runs of
``batch_replications`` replications each, seeds ``evaluation_seed + k`` — the method of
independent replications, each batch mean one observation), every arm on the same batches.
Intervals are Student's t from scipy (:func:`keiretsu.sim.kpis.estimate`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from keiretsu.optimize.simopt import minimize_levels, optimize_network
from keiretsu.sim.beer_game import STAGES, BaseStockRule, BeerGame, Sterman, play
from keiretsu.sim.kpis import Estimate, estimate
from keiretsu.sim.model import BaseStock, EchelonBaseStock, Network, Policy
from keiretsu.sim.model.distributions import FloatArray
from keiretsu.sim.policy_level import simulate

__all__ = ["ARMS", "KPIS", "Arm", "Gain", "gain_of_connecting"]

ARMS = ("isolated", "connected", "network-optimal")
"""The arms, from each company alone to the network optimized as one."""

KPIS = {
    "cost": "cost per period",
    "on_hand": "units on hand, mean",
    "backorders": "units backordered, mean",
    "short": "units not served when asked, per period",
    "fill_rate": "share of end customers' units served when asked",
}
"""What each arm reports, and its unit."""


@dataclass(frozen=True)
class Arm:
    """One arm: its KPIs (mean and interval), the paired samples they rest on, and the
    policies it ran."""

    name: str
    kpis: dict[str, Estimate]
    samples: dict[str, FloatArray] = field(repr=False)
    policies: dict[str, str]
    """Each buffer's (or stage's) policy, in words."""
    seconds: float
    """Time spent optimizing this arm's policies."""


@dataclass(frozen=True)
class Gain:
    """The three arms of :func:`gain_of_connecting` for one system."""

    system: str
    period: str
    arms: dict[str, Arm]
    confidence: float

    def difference(self, arm: str, kpi: str, baseline: str = "isolated") -> Estimate:
        """``arm`` minus ``baseline`` on ``kpi``, paired, with its interval."""
        a, b = self.arms[arm].samples[kpi], self.arms[baseline].samples[kpi]
        return estimate(a - b, self.confidence)

    def to_arrow(self) -> pa.Table:
        """One row per (arm, KPI): mean, interval, and the difference from the isolated arm
        with its interval and as a share of the isolated mean."""
        rows = []
        for name, arm in self.arms.items():
            for kpi, e in arm.kpis.items():
                d = self.difference(name, kpi)
                base = self.arms["isolated"].kpis[kpi].mean
                rows.append(
                    {
                        "arm": name,
                        "kpi": kpi,
                        "unit": KPIS[kpi],
                        "mean": e.mean,
                        "low": e.low,
                        "high": e.high,
                        "vs_isolated": d.mean,
                        "vs_isolated_low": d.low,
                        "vs_isolated_high": d.high,
                        "vs_isolated_share": d.mean / base if base else None,
                    }
                )
        return pa.Table.from_pylist(rows)


def gain_of_connecting(
    system: Network | BeerGame,
    *,
    fill_rate: float = 0.95,
    seed: int = 0,
    evaluation_seed: int = 1_000_003,
    periods: int = 300,
    replications: int = 200,
    batches: int = 20,
    batch_replications: int = 50,
    resolution: float = 1.0,
    max_rounds: int = 3,
    confidence: float = 0.95,
) -> Gain:
    """Isolated vs connected vs network-optimal for a network model or the beer game.

    Policies are searched on ``replications`` replications of ``periods`` periods with
    ``seed`` (a beer game: its weeks) and evaluated on other seeds (``evaluation_seed``):
    a network on ``batches`` batches of ``batch_replications``, the beer game on
    ``batches × batch_replications`` replications. ``fill_rate``: the service every arm
    keeps (network arms only; the beer game's rules are the game's); ``max_rounds``: turns
    of the local scope's best responses."""
    if isinstance(system, BeerGame):
        return _beer_game(
            system, seed, evaluation_seed, replications, batches * batch_replications, confidence
        )
    arms: dict[str, Arm] = {}
    for name in ARMS:
        began = time.perf_counter()
        if name == "network-optimal":
            net = _with_sight(system, ("orders", "end_customer_demand", "partner_inventory"))
            scope = "network"
        else:
            sees = ("orders",) if name == "isolated" else ("orders", "end_customer_demand")
            net = _with_sight(_installation(system), sees)
            scope = "local"
        found = optimize_network(
            net,
            scope=scope,  # type: ignore[arg-type]
            fill_rate=fill_rate,
            periods=periods,
            replications=replications,
            seed=seed,
            resolution=resolution,
            max_rounds=max_rounds,
            evaluation_replications=2,
        )
        seconds = time.perf_counter() - began
        samples = _batches(found.network, periods, batches, batch_replications, evaluation_seed)
        arms[name] = Arm(
            name=name,
            kpis={k: estimate(v, confidence) for k, v in samples.items()},
            samples=samples,
            policies={b: _describe(p) for b, p in found.policies.items()},
            seconds=seconds,
        )
    return Gain(system=system.name, period=system.period, arms=arms, confidence=confidence)


# --- a network's arms -------------------------------------------------------------------------


def _with_sight(net: Network, sees: tuple[str, ...]) -> Network:
    """``net`` with every company seeing ``sees``."""
    data = net.model_dump(by_alias=False)
    companies = tuple(c.model_copy(update={"sees": sees}) for c in net.companies)
    return Network.model_validate({**data, "companies": companies, "source": net.source})


def _installation(net: Network) -> Network:
    """Echelon base-stock policies replaced by the installation base-stock levels that keep
    the same stock (the echelon level less what the buffers right below keep)."""
    policies: dict[str, Policy] = {}
    for name, buffer in net.buffers.items():
        if isinstance(buffer.policy, EchelonBaseStock):
            below = 0.0
            for link in net.links_out_of(name):
                target = net.buffers[link.target].policy.target
                below += link.units * (target or 0.0)
            policies[name] = BaseStock(level=max(buffer.policy.level - below, 0.0))
    return net.with_policies(policies) if policies else net


def _batches(
    net: Network, periods: int, batches: int, size: int, seed: int
) -> dict[str, FloatArray]:
    """Each KPI's batch means: one simulation of ``size`` replications per batch, seeds
    ``seed``, ``seed + 1``, ... (the same for every arm: paired)."""
    out: dict[str, list[float]] = {k: [] for k in KPIS}
    for k in range(batches):
        totals = simulate(net, periods=periods, replications=size, seed=seed + k).totals
        out["cost"].append(totals["cost"].mean)
        out["on_hand"].append(totals["on_hand"].mean)
        out["backorders"].append(totals["backorders"].mean)
        fill = totals["fill_rate"].mean
        out["fill_rate"].append(fill)
        out["short"].append(totals["demand_mean"].mean * (1.0 - fill))
    return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}


def _describe(policy: Policy) -> str:
    values = {k: v for k, v in policy.model_dump().items() if k != "kind" and v is not None}
    inner = ", ".join(
        f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items()
    )
    return f"{policy.kind}({inner})"


# --- the beer game's arms ---------------------------------------------------------------------


def _beer_game(
    game: BeerGame,
    seed: int,
    evaluation_seed: int,
    replications: int,
    evaluation_replications: int,
    confidence: float,
) -> Gain:
    sterman = Sterman()
    runs = {}
    seconds = {"isolated": 0.0, "connected": 0.0}
    runs["isolated"] = play(
        game,
        sterman,
        information="local",
        replications=evaluation_replications,
        seed=evaluation_seed,
    )
    runs["connected"] = play(
        game,
        sterman,
        information="shared",
        replications=evaluation_replications,
        seed=evaluation_seed,
    )
    began = time.perf_counter()
    search_reps = replications if game.stochastic else 1
    start = _initial_position(game)
    found = minimize_levels(
        lambda x: float(
            play(
                game, BaseStockRule(_four(x)), replications=search_reps, seed=seed
            ).team_cost.mean()
        ),
        start,
    )
    seconds["network-optimal"] = time.perf_counter() - began
    optimal = BaseStockRule(_four(found.x))
    runs["network-optimal"] = play(
        game, optimal, replications=evaluation_replications, seed=evaluation_seed
    )
    arms = {}
    for name, run in runs.items():
        samples = {
            "cost": run.team_cost / game.weeks,
            "on_hand": run.inventory.sum(axis=1).mean(axis=1),
            "backorders": run.backlog.sum(axis=1).mean(axis=1),
            "short": run.demand.mean(axis=1) * (1.0 - run.fill_rate()),
            "fill_rate": run.fill_rate(),
        }
        if name == "network-optimal":
            policies = {
                s: f"base_stock(level={v:g})" for s, v in zip(STAGES, optimal.levels, strict=True)
            }
        else:
            info = "orders received" if name == "isolated" else "end-customer demand"
            policies = {
                s: f"anchoring_and_adjustment(theta={sterman.theta}, alpha_s={sterman.alpha_s}, "
                f"beta={sterman.beta}, s_prime={sterman.s_prime}; forecasts {info})"
                for s in STAGES
            }
        arms[name] = Arm(
            name=name,
            kpis={k: estimate(v, confidence) for k, v in samples.items()},
            samples=samples,
            policies=policies,
            seconds=seconds[name],
        )
    return Gain(system="beer-game", period="week", arms=arms, confidence=confidence)


def _four(x: tuple[float, ...] | FloatArray) -> tuple[float, float, float, float]:
    a, b, c, d = (float(v) for v in x)
    return (a, b, c, d)


def _initial_position(game: BeerGame) -> list[float]:
    """Each stage's inventory position at the start: stock plus everything in its slots —
    the base-stock levels that pass orders on unchanged."""
    f = game.initial_flow
    up = game.initial_inventory + f * (game.order_delay + game.shipping_delay)
    top = game.initial_inventory + f * (game.production_request_delay + game.production_delay)
    return [up, up, up, top]
