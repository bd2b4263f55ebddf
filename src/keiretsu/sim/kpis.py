"""What a simulation run reports: each KPI as a mean over replications with its confidence
interval.

A KPI of one replication is a number over its measured periods (cost per period, fill rate,
units on hand on average, the bullwhip ratio); over many replications it is an
:class:`Estimate`: the mean, the interval that holds the true mean with the stated confidence
(Student's t on the replications' values, from scipy), and how many replications it rests on.
One replication gives a mean without an interval (``low`` and ``high`` are NaN: say more
replications). A KPI that a replication cannot measure (a fill rate where nothing was asked
for) is left out of its estimate; if no replication measures it, the estimate is NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from keiretsu.sim.model.distributions import FloatArray

__all__ = ["KPI_UNITS", "Estimate", "PolicyResult", "estimate"]

KPI_UNITS = {
    "cost": "cost per period",
    "holding_cost": "cost per period",
    "shortage_cost": "cost per period",
    "ordering_cost": "cost per period",
    "transport_cost": "cost per period",
    "on_hand": "units",
    "backorders": "units",
    "fill_rate": "share of units asked for",
    "demand_mean": "units per period",
    "orders_mean": "units per period",
    "order_variance": "units² per period²",
    "demand_variance": "units² per period²",
    "bullwhip": "order variance / variance of demand received",
    "amplification": "order variance / variance of end-customer demand",
}
"""The unit of each KPI."""


@dataclass(frozen=True)
class Estimate:
    """A KPI's mean over replications and its confidence interval."""

    mean: float
    low: float
    high: float
    replications: int

    @property
    def half_width(self) -> float:
        """Half the interval's width (same unit as the KPI)."""
        return (self.high - self.low) / 2

    def __contains__(self, value: float) -> bool:
        return self.low <= value <= self.high

    def __str__(self) -> str:
        if math.isnan(self.low):
            return f"{self.mean:.4g}"
        return f"{self.mean:.4g} ± {self.half_width:.2g}"


def estimate(values: FloatArray, confidence: float = 0.95) -> Estimate:
    """The mean of per-replication ``values`` and its ``confidence`` interval (Student's t)."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    n = len(finite)
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    mean = float(finite.mean())
    if n < 2:
        return Estimate(mean, math.nan, math.nan, n)
    if np.ptp(finite) <= 1e-12 * max(abs(mean), 1.0):  # the same in every replication
        return Estimate(mean, mean, mean, n)
    from scipy import stats  # type: ignore[import-untyped]  # slow to import: only here

    interval = stats.ttest_1samp(finite, popmean=0.0).confidence_interval(confidence)
    return Estimate(mean, float(interval.low), float(interval.high), n)


@dataclass(frozen=True)
class PolicyResult:
    """The KPIs of a policy-level run: per buffer (``stages``) and for the network
    (``totals``: costs and stock summed over buffers, fill rate and demand of end customers)."""

    network: str
    period: str
    periods: int
    replications: int
    warmup: int
    confidence: float
    stages: dict[str, dict[str, Estimate]]
    totals: dict[str, Estimate]

    def to_arrow(self) -> pa.Table:
        """One row per (scope, KPI): scope is ``network`` or a buffer's name."""
        rows: list[dict[str, Any]] = []
        for scope, kpis in [("network", self.totals), *self.stages.items()]:
            for kpi, e in kpis.items():
                rows.append(
                    {
                        "scope": scope,
                        "kpi": kpi,
                        "unit": KPI_UNITS[kpi],
                        "mean": e.mean,
                        "low": e.low,
                        "high": e.high,
                        "replications": e.replications,
                    }
                )
        return pa.Table.from_pylist(rows)
