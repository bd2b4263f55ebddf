"""The beer game: Sterman's four-echelon production-distribution game, played by rules.

The *beer distribution game* (MIT, 1960s; J. D. Sterman, "Modeling managerial behavior:
misperceptions of feedback in a dynamic decision making experiment", *Management Science*
35(3):321–339, 1989) is the classic demonstration of the bullwhip effect: a retailer, a
wholesaler, a distributor and a factory, each one company, each deciding every week how much
to order from its supplier on what it sees. The standard set-up, which :class:`BeerGame`
holds by default:

- **delays**: an order takes 2 weeks to reach the supplier (mailing), goods take 2 weeks to
  reach the customer (shipping); the factory's brewing request takes 1 week, brewing 2 weeks
  (so a stage gets what it orders 4 weeks later when its supplier has stock, the factory 3);
- **start**: 12 cases on hand at every stage, 4 cases in every shipping, brewing and order
  slot, expected demand 4 — the chain in equilibrium at 4 cases a week;
- **costs**: 0.50 per case on hand per week and 1.00 per case backlogged per week, at every
  stage (its own stock and its own backlog to its customer); the team's cost is the sum;
- **demand**: end customers buy 4 cases a week, then 8 from week 5 on, for 36 weeks. The
  stochastic variant (``stochastic=True``) draws each week's demand from a Poisson
  distribution of that mean, the same draws for every rule played with the same seed
  (common random numbers).

One week, at every stage at once (Sterman's board sequence): (1) receive the goods due and
advance the shipping slots; (2) read the incoming order (the retailer: the customers'
demand) and advance the order slots; (3) ship what is owed (backlog first) as far as stock
allows, the rest stays backlogged — the factory starts brewing the request that reached it;
(4) count costs on the stock and backlog now; (5) order.

**Ordering rules** (:class:`Sterman`, :class:`BaseStockRule`):

- *anchoring and adjustment* (Sterman 1989, eq. 5–9): expected demand is smoothed,
  L̂ ← θ·signal + (1 − θ)·L̂; the order is
  ``max(0, L̂ + α_S·(S' − S − β·SL))`` with S the effective inventory (on hand less backlog)
  and SL the supply line (ordered, not yet received). The defaults are the means of
  Sterman's estimates over the experiment's subjects: θ = 0.36, α_S = 0.26, β = 0.34,
  S' = 17 cases (Sterman 1989, Table 3). *What a stage sees* decides the signal: the orders it
  receives (``information="local"``, the board game) or the end customers' demand this week
  (``information="shared"``, point-of-sale data shared along the chain);
- *base stock*: order up to a level on the inventory position (on hand, less backlog, plus
  the supply line): ``max(0, level − (S + SL))`` — what replaces exactly what was asked for.

Every quantity is in cases, every period a week. :func:`play` runs the game vectorized over
replications and returns a :class:`BeerGameRun`, the week-by-week trajectories.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pyarrow as pa

from keiretsu.sim.kpis import Estimate, estimate
from keiretsu.sim.model.distributions import FloatArray

__all__ = [
    "STAGES",
    "BaseStockRule",
    "BeerGame",
    "BeerGameRun",
    "Rule",
    "Sterman",
    "play",
]

STAGES = ("retailer", "wholesaler", "distributor", "factory")
"""The four echelons, from the one selling to end customers up to the brewery."""

Information = Literal["local", "shared"]


@dataclass(frozen=True)
class BeerGame:
    """The game's set-up: Sterman's (1989) standard by default. Quantities in cases, time in
    weeks, costs per case per week."""

    weeks: int = 36
    order_delay: int = 2
    """Weeks an order takes to reach the supplier (retailer, wholesaler, distributor)."""
    shipping_delay: int = 2
    """Weeks goods take to reach the customer."""
    production_request_delay: int = 1
    """Weeks the factory's brewing request takes to start brewing."""
    production_delay: int = 2
    """Weeks brewing takes."""
    initial_inventory: float = 12.0
    initial_flow: float = 4.0
    """Cases in every shipping, brewing and order slot at the start; the expected demand too."""
    holding_cost: float = 0.5
    backlog_cost: float = 1.0
    demand_before: float = 4.0
    demand_after: float = 8.0
    step_week: int = 5
    """The first week (counting from 1) end customers buy ``demand_after``."""
    stochastic: bool = False
    """Draw each week's demand from a Poisson distribution of that mean."""

    def __post_init__(self) -> None:
        delays = (
            self.order_delay,
            self.shipping_delay,
            self.production_request_delay,
            self.production_delay,
        )
        if min(delays) < 1:
            raise ValueError("every delay is at least one week")
        if self.weeks < 2:
            raise ValueError("weeks: at least 2 (a variance needs two weeks)")

    def mean_demand(self) -> FloatArray:
        """End customers' mean demand per week (cases), week 1 first."""
        week = np.arange(1, self.weeks + 1)
        return np.where(week < self.step_week, self.demand_before, self.demand_after).astype(
            np.float64
        )

    def demand(self, replications: int, seed: int) -> FloatArray:
        """End customers' demand, shaped (weeks, replications): the mean path, or Poisson
        draws around it; the same ``seed`` gives the same draws."""
        mean = self.mean_demand()
        if not self.stochastic:
            return np.repeat(mean[:, None], replications, axis=1)
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed)))
        return rng.poisson(mean[:, None], (self.weeks, replications)).astype(np.float64)


@dataclass(frozen=True)
class Sterman:
    """The anchoring-and-adjustment ordering rule with Sterman's (1989) mean estimates."""

    theta: float = 0.36
    """Weight of the newest signal in the expected demand (0..1)."""
    alpha_s: float = 0.26
    """Share of the stock discrepancy ordered each week (per week)."""
    beta: float = 0.34
    """Weight of the supply line relative to stock on hand (0: ignores what is on order)."""
    s_prime: float = 17.0
    """Desired stock, supply line included (cases)."""


@dataclass(frozen=True)
class BaseStockRule:
    """Order up to a level on the inventory position, one level per stage (cases), retailer
    first."""

    levels: tuple[float, float, float, float]


Rule = Sterman | BaseStockRule


@dataclass(frozen=True)
class BeerGameRun:
    """One rule played: trajectories shaped (replications, stages, weeks), stages retailer
    first; ``demand`` shaped (replications, weeks)."""

    game: BeerGame
    rule: Rule
    information: Information
    demand: FloatArray
    incoming: FloatArray
    """Orders each stage received in the week (the retailer: end customers' demand)."""
    orders: FloatArray
    """Orders each stage placed in the week (the factory: its brewing requests)."""
    inventory: FloatArray
    """Cases on hand after shipping, when costs are counted."""
    backlog: FloatArray
    """Cases owed to the customer after shipping."""
    shipped: FloatArray
    """Cases each stage shipped in the week (the retailer: to end customers)."""

    @property
    def cost(self) -> FloatArray:
        """Each stage's cost over the game, shaped (replications, stages)."""
        g = self.game
        weekly = g.holding_cost * self.inventory + g.backlog_cost * self.backlog
        return np.asarray(weekly.sum(axis=2), dtype=np.float64)

    @property
    def team_cost(self) -> FloatArray:
        """The team's cost over the game, one value per replication."""
        return np.asarray(self.cost.sum(axis=1), dtype=np.float64)

    def fill_rate(self) -> FloatArray:
        """End customers' fill rate: the share of cases asked for that the retailer shipped in
        the week they were asked for (what it ships goes to the backlog first), one value per
        replication."""
        shipped, owed_before = self.shipped[:, 0], np.zeros_like(self.demand)
        owed_before[:, 1:] = self.backlog[:, 0, :-1]
        served_new = np.minimum(self.demand, np.maximum(shipped - owed_before, 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            share = served_new.sum(axis=1) / self.demand.sum(axis=1)
        return np.asarray(share, dtype=np.float64)

    def amplification(self) -> FloatArray:
        """Each stage's order variance over the variance of end customers' demand, over the
        game's weeks, shaped (replications, stages)."""
        demand_var = self.demand.var(axis=1, ddof=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = self.orders.var(axis=2, ddof=1) / demand_var[:, None]
        return np.asarray(ratio, dtype=np.float64)

    def bullwhip(self) -> FloatArray:
        """Each stage's order variance over the variance of the orders it received (the
        analytics' bullwhip ratio), shaped (replications, stages)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = self.orders.var(axis=2, ddof=1) / self.incoming.var(axis=2, ddof=1)
        return np.asarray(ratio, dtype=np.float64)

    def kpis(self, confidence: float = 0.95) -> dict[str, dict[str, Estimate]]:
        """Per stage and for the team (``"team"``): cost over the game, cases on hand and
        backlogged on average per week, bullwhip and amplification — each a mean over
        replications with its interval (one replication: no interval)."""
        out: dict[str, dict[str, Estimate]] = {}
        amp, bw, cost = self.amplification(), self.bullwhip(), self.cost
        for i, stage in enumerate(STAGES):
            out[stage] = {
                "cost": estimate(cost[:, i], confidence),
                "on_hand": estimate(self.inventory[:, i].mean(axis=1), confidence),
                "backorders": estimate(self.backlog[:, i].mean(axis=1), confidence),
                "bullwhip": estimate(bw[:, i], confidence),
                "amplification": estimate(amp[:, i], confidence),
            }
        out["team"] = {
            "cost": estimate(self.team_cost, confidence),
            "on_hand": estimate(self.inventory.sum(axis=1).mean(axis=1), confidence),
            "backorders": estimate(self.backlog.sum(axis=1).mean(axis=1), confidence),
            "fill_rate": estimate(self.fill_rate(), confidence),
        }
        return out

    def to_arrow(self, confidence: float = 0.95) -> pa.Table:
        """One row per (scope, KPI): scope a stage or ``team``; mean, low, high."""
        units = {
            "cost": "cost over the game",
            "on_hand": "cases on hand, mean per week",
            "backorders": "cases backlogged, mean per week",
            "bullwhip": "order variance / variance of orders received",
            "amplification": "order variance / variance of end-customer demand",
            "fill_rate": "share of end customers' cases shipped in the week asked",
        }
        rows = [
            {
                "scope": scope,
                "kpi": kpi,
                "unit": units[kpi],
                "mean": e.mean,
                "low": e.low,
                "high": e.high,
                "replications": e.replications,
            }
            for scope, kpis in self.kpis(confidence).items()
            for kpi, e in kpis.items()
        ]
        return pa.Table.from_pylist(rows)


def play(
    game: BeerGame | None = None,
    rule: Rule | None = None,
    *,
    information: Information = "local",
    replications: int = 1,
    seed: int = 0,
) -> BeerGameRun:
    """Play ``game`` (default: Sterman's standard set-up) with every stage ordering by
    ``rule`` (default: Sterman's estimated anchoring-and-adjustment rule), ``replications``
    times at once. ``information``: what the anchoring-and-adjustment rule forecasts from —
    the orders each stage receives (``"local"``) or the end customers' demand (``"shared"``);
    a base-stock rule needs no forecast. ``seed`` fixes the stochastic variant's demand."""
    game = game or BeerGame()
    rule = rule or Sterman()
    if replications < 1:
        raise ValueError("replications: at least 1")
    if information not in ("local", "shared"):
        raise ValueError(f"information: 'local' or 'shared', not {information!r}")
    R, W, n = replications, game.weeks, len(STAGES)
    demand = game.demand(R, seed)
    flow = game.initial_flow
    ship_delay = [game.shipping_delay] * 3 + [game.production_delay]
    order_delay = [game.order_delay] * 3 + [game.production_request_delay]
    ship = [np.full((d, R), flow) for d in ship_delay]  # goods on their way to stage i
    mail = [np.full((d, R), flow) for d in order_delay]  # stage i's orders on their way
    inv = np.full((n, R), game.initial_inventory)
    backlog = np.zeros((n, R))
    expected = np.full((n, R), flow)
    supply = np.array([ship[i].sum(axis=0) + mail[i].sum(axis=0) for i in range(n)])
    if isinstance(rule, BaseStockRule):
        if len(rule.levels) != n:
            raise ValueError("a base-stock rule needs one level per stage, retailer first")
        levels = np.asarray(rule.levels, dtype=np.float64)[:, None]
    rec_in, rec_orders, rec_inv, rec_back, rec_ship = (np.empty((W, n, R)) for _ in range(5))
    incoming = np.empty((n, R))
    for t in range(W):
        # 1. receive the goods due, advance the shipping slots
        for i in range(n):
            arrived = ship[i][0].copy()
            inv[i] += arrived
            supply[i] -= arrived
            ship[i][:-1] = ship[i][1:]
            ship[i][-1] = 0.0
        # 2. read the incoming order, advance the order slots
        incoming[0] = demand[t]
        for i in range(n):
            reached = mail[i][0].copy()
            mail[i][:-1] = mail[i][1:]
            mail[i][-1] = 0.0
            if i + 1 < n:
                incoming[i + 1] = reached
            else:  # the factory's own request: brewing starts
                ship[i][-1] += reached
        # 3. ship what is owed, backlog first
        owed = backlog + incoming
        shipped = np.minimum(inv, owed)
        inv -= shipped
        backlog = owed - shipped
        for i in range(1, n):
            ship[i - 1][-1] += shipped[i]
        # 4. (costs are counted on the state recorded here)
        rec_in[t], rec_inv[t], rec_back[t], rec_ship[t] = incoming, inv, backlog, shipped
        # 5. order
        if isinstance(rule, Sterman):
            signal = incoming if information == "local" else np.broadcast_to(demand[t], (n, R))
            expected = rule.theta * signal + (1 - rule.theta) * expected
            gap = rule.s_prime - (inv - backlog) - rule.beta * supply
            order = np.maximum(0.0, expected + rule.alpha_s * gap)
        else:
            order = np.maximum(0.0, levels - (inv - backlog + supply))
        for i in range(n):
            mail[i][-1] += order[i]
        supply += order
        rec_orders[t] = order
    return BeerGameRun(
        game=game,
        rule=rule,
        information=information,
        demand=np.ascontiguousarray(demand.T),
        incoming=rec_in.transpose(2, 1, 0).copy(),
        orders=rec_orders.transpose(2, 1, 0).copy(),
        inventory=rec_inv.transpose(2, 1, 0).copy(),
        backlog=rec_back.transpose(2, 1, 0).copy(),
        shipped=rec_ship.transpose(2, 1, 0).copy(),
    )
