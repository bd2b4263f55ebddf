"""The exact optimum of a serial supply chain: echelon base-stock levels and their cost.

A serial chain — stage 1 sells to end customers, stage 2 supplies stage 1, …, stage N buys
from an outside supplier that always has stock — with periodic review, fixed lead times
``L_j`` (periods), stationary independent demand per period, linear holding costs and a
backorder cost ``p`` per unit per period at stage 1. Clark and Scarf (1960) proved that an
**echelon base-stock** policy is optimal: stage j orders every period what brings its echelon
inventory position (its own stock, everything downstream of it and in transit between, less
the end customers' backorders) up to a level ``S_j``. Chen and Zheng (1994) turned the proof
into a short algorithm, which is the one here (as Snyder and Shen, *Fundamentals of Supply
Chain Theory*, 2nd ed., 2019, §6.2 write it). With the echelon holding cost
``h_j = h'_j - h'_{j+1}`` (the value added at stage j; ``h'`` the local holding cost per unit per
period, ``h'_{N+1} = 0``) and ``D_j`` the demand over ``L_j`` periods:

    C̲_0(x) = (p + h'_1) · max(-x, 0)
    for j = 1 … N:
        Ĉ_j(x) = h_j · x + C̲_{j-1}(x)
        C_j(y) = E[ Ĉ_j(y - D_j) ]
        S*_j   = argmin_y C_j(y)
        C̲_j(x) = C_j(min(S*_j, x))

and the optimal expected cost per period is ``C_N(S*_N)`` — holding on stock on hand and in
transit (at the shipping stage's rate) plus backorders, exactly what the policy-level
simulation counts.

**Numerics.** Poisson demand is computed exactly on the whole units. Normal demand is laid on a
grid of ``sd / 400`` units (each grid point carrying the probability of its cell), where
every expectation is one convolution (FFT, scipy); the levels are then refined between grid
points by a parabola through the minimum. The grid's error in the cost is of the order of
the grid step squared, far below 0.01% for any sensible instance. A normal demand is taken as
a normal (negative demand included, as in the theory): keep its mean at three standard
deviations or more above zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import signal, stats  # type: ignore[import-untyped]

from keiretsu.sim.model import Constant, EchelonBaseStock, Network, Normal, Poisson
from keiretsu.sim.model.distributions import FloatArray

__all__ = ["SerialOptimum", "optimal_echelon_base_stock", "optimize_serial"]

_TAIL = 1e-12
"""Probability left out at each end of a lead-time demand distribution."""
_STEPS_PER_SD = 400


@dataclass(frozen=True)
class SerialOptimum:
    """Optimal levels of a serial chain, stage 1 (facing end customers) first."""

    stages: tuple[str, ...]
    echelon_levels: tuple[float, ...]
    """Optimal echelon base-stock levels S*_j (units)."""
    cost: float
    """Expected cost per period at the optimum (holding + backorders)."""

    @property
    def local_levels(self) -> tuple[float, ...]:
        """The same policy as installation base-stock levels, S*_j - S*_{j-1} (units)."""
        s = self.echelon_levels
        return tuple(s[j] - (s[j - 1] if j else 0.0) for j in range(len(s)))

    def policies(self) -> dict[str, EchelonBaseStock]:
        """The optimum as policies for :meth:`Network.with_policies`."""
        return {
            name: EchelonBaseStock(level=level)
            for name, level in zip(self.stages, self.echelon_levels, strict=True)
        }


def optimal_echelon_base_stock(
    holding_costs: Sequence[float],
    lead_times: Sequence[int],
    backorder_cost: float,
    demand: Normal | Poisson,
    *,
    stages: Sequence[str] | None = None,
) -> SerialOptimum:
    """Optimal echelon base-stock levels and expected cost per period of a serial chain.

    ``holding_costs``: local holding cost per unit per period of each stage, stage 1 (facing
    end customers) first; they must not rise going downstream-to-upstream… i.e. each stage's
    at least its supplier's (a unit gains value as it moves down). ``lead_times``: whole
    periods from each stage's order to its arrival (0 allowed). ``backorder_cost``: per unit
    backordered per period at stage 1. ``demand``: end-customer demand per period.
    """
    n = len(holding_costs)
    if n == 0 or len(lead_times) != n:
        raise ValueError("one holding cost and one lead time per stage, at least one stage")
    local = [float(h) for h in holding_costs]
    echelon = [local[j] - (local[j + 1] if j + 1 < n else 0.0) for j in range(n)]
    if any(h < 0 for h in echelon):
        raise ValueError(
            "holding costs must not grow upstream: stage j's holding cost must be at least its "
            f"supplier's (got {local})"
        )
    if any(int(x) != x or x < 0 for x in lead_times):
        raise ValueError(f"lead times must be whole periods, not negative (got {list(lead_times)})")
    if backorder_cost < 0:
        raise ValueError("the backorder cost must not be negative")
    names = tuple(stages) if stages is not None else tuple(f"stage {j + 1}" for j in range(n))
    leads = [int(x) for x in lead_times]

    if isinstance(demand, Poisson):
        step = 1.0
        kernels = [_poisson_kernel(demand.mean * L) for L in leads]
        total = stats.poisson(demand.mean * sum(leads)) if sum(leads) else None
        spread = 10 * math.sqrt(max(demand.mean * sum(leads), 1.0))
    else:
        if demand.sd <= 0:
            raise ValueError("a normal demand needs a positive standard deviation")
        step = demand.sd / _STEPS_PER_SD
        kernels = [_normal_kernel(demand.mean * L, demand.sd * math.sqrt(L), step) for L in leads]
        total = stats.norm(demand.mean * sum(leads), demand.sd * math.sqrt(sum(leads)))
        spread = 10 * demand.sd * math.sqrt(max(sum(leads), 1))
    # the grid: from below every level (each stage's expectation needs the one below it over
    # its lead-time demand's range) to above the highest level
    top = (total.ppf(1 - _TAIL) if total is not None else 0.0) + spread
    bottom = -spread - sum((len(k) - 1 + first) * step for first, k in kernels)
    bottom = min(bottom, -spread)
    first_index = math.floor(bottom / step)
    size = math.ceil(top / step) - first_index + 1
    x = (first_index + np.arange(size)) * step

    below = (backorder_cost + local[0]) * np.maximum(-x, 0.0)  # C̲_0
    valid_from = 0
    levels: list[float] = []
    cost = math.nan
    for j in range(n):
        hat = echelon[j] * x + below
        first, kernel = kernels[j]
        c, valid_from, valid_to = _expect(hat, first, kernel, valid_from)
        window = c[valid_from : valid_to + 1]
        k = int(np.argmin(window))
        if k == 0 or k == len(window) - 1:
            raise ArithmeticError(
                f"{names[j]}: the optimum fell at the edge of the computed range; "
                "check the costs (a backorder cost of 0 makes stock worthless)"
            )
        at = valid_from + k
        level, cost = _refine(x, c, at, step, exact=isinstance(demand, Poisson))
        levels.append(level)
        flat = x >= x[at]
        below = np.where(flat, c[at], c)
        below[:valid_from] = np.nan
    return SerialOptimum(stages=names, echelon_levels=tuple(levels), cost=float(cost))


def optimize_serial(network: Network) -> SerialOptimum:
    """The exact optimum of a serial network model: its buffers' holding costs, its links'
    constant lead times, its one end-customer demand (normal or Poisson, backordered)."""
    chain = network.chain()
    if network.unmet != "backorder":
        raise ValueError('the exact serial optimum is for backorders (unmet = "backorder")')
    (demand,) = network.demand
    dist = demand.distribution
    if (
        demand.series is not None
        or demand.seasonal is not None
        or not isinstance(dist, Normal | Poisson)
    ):
        raise ValueError("the exact serial optimum needs a normal or Poisson demand, not seasonal")
    leads = []
    for name in chain:
        (link,) = network.links_into(name)
        if not isinstance(link.lead_time, Constant) or link.lead_time.value != int(
            link.lead_time.value
        ):
            raise ValueError(
                f"{name}: the exact optimum needs a constant lead time in whole periods"
            )
        leads.append(int(link.lead_time.value))
    holding = [network.buffers[name].holding_cost for name in chain]
    return optimal_echelon_base_stock(holding, leads, demand.backorder_cost, dist, stages=chain)


def _poisson_kernel(mean: float) -> tuple[int, FloatArray]:
    if mean <= 0:
        return 0, np.ones(1)
    hi = int(stats.poisson.ppf(1 - _TAIL, mean))
    return 0, stats.poisson.pmf(np.arange(hi + 1), mean)


def _normal_kernel(mean: float, sd: float, step: float) -> tuple[int, FloatArray]:
    """Cells of width ``step`` centred on multiples of ``step``: (first index, probabilities)."""
    if sd <= 0:
        k = round(mean / step)
        return k, np.ones(1)
    lo = math.floor(stats.norm.ppf(_TAIL, mean, sd) / step)
    hi = math.ceil(stats.norm.ppf(1 - _TAIL, mean, sd) / step)
    edges = (np.arange(lo, hi + 2) - 0.5) * step
    p = np.diff(stats.norm.cdf(edges, mean, sd))
    return lo, p / p.sum()


def _expect(
    hat: FloatArray, first: int, kernel: FloatArray, valid_from: int
) -> tuple[FloatArray, int, int]:
    """C(y_i) = Σ_k p_k · Ĉ(y_i - (first + k)·step) on the grid, and the index range where
    every term was on the grid (and valid)."""
    size = len(hat)
    filled = np.where(np.isnan(hat), 0.0, hat)
    full = signal.fftconvolve(filled, kernel)  # full[m] = Σ_k p_k Ĉ[m - k]
    out = np.full(size, np.nan)
    k_last = len(kernel) - 1
    # C(y_i) = full[i - first], valid where all of Ĉ[i - first - k], k = 0..k_last, are valid
    lo = max(valid_from + k_last + first, 0, first)
    hi = min(size - 1 + first, size - 1)
    idx = np.arange(lo, hi + 1)
    out[idx] = full[idx - first]
    return out, lo, hi


def _refine(
    x: FloatArray, c: FloatArray, at: int, step: float, *, exact: bool
) -> tuple[float, float]:
    """The minimum between grid points: a parabola through the three lowest (for a continuous
    demand); on whole units the grid point itself."""
    if exact:
        return float(x[at]), float(c[at])
    a, b, d = c[at - 1], c[at], c[at + 1]
    curve = a - 2 * b + d
    if curve <= 0:
        return float(x[at]), float(b)
    shift = 0.5 * (a - d) / curve
    return float(x[at] + shift * step), float(b - 0.25 * (a - d) * shift)
