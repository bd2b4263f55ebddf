"""End-customer demand: what the customers of a stock point ask for, period by period.

Demand is where the value stream starts being pulled. It is given at a buffer that serves end
customers (a retailer's shelf, a distributor's stock), in units per period, in one of three ways:

- a **distribution** of the demand in one period, the same every period;
- a distribution with a **seasonal** index: ``seasonal = [0.8, 1.0, 1.2, ...]`` multiplies the
  mean (and the spread, keeping the coefficient of variation) period by period, the index
  repeating after its last entry (seven entries for a weekly pattern of daily periods);
- a real **series**: the daily sales of a product, from a CSV file (``file`` and ``column``,
  relative to the model file) or inline (``values``). ``sample = "replay"`` plays the series
  in its order, each replication starting at its own day and wrapping around at the end;
  ``sample = "bootstrap"`` draws each period's demand from the series' days at random.

What is not delivered when asked is backordered or lost (``[network] unmet``), at
``backorder_cost`` per unit short per period or ``lost_sale_cost`` per unit lost.

```toml
[[demand]]
at = "retailer"
distribution = { kind = "poisson", mean = 20 }
seasonal = [0.7, 0.9, 1.0, 1.0, 1.1, 1.5, 0.8]
backorder_cost = 9.0

[[demand]]
at = "dc-north"
series = { file = "../../shared/data/supplygraph/Temporal Data/Unit/Sales Order.csv",
           column = "SOS008L02P" }
```
"""

from __future__ import annotations

import csv
import math
from functools import cache
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from keiretsu.sim.model.distributions import Distribution, FloatArray

__all__ = ["Demand", "Series"]


class Series(BaseModel):
    """A real demand series, one value per period (units per period)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: Path | None = None
    """A CSV file with a header row; relative paths are taken from the model file's folder."""
    column: str | None = None
    """The column of ``file`` holding the demand."""
    values: tuple[float, ...] | None = None
    """The series inline, instead of a file."""
    sample: Literal["replay", "bootstrap"] = "replay"

    @model_validator(mode="after")
    def _check(self) -> Series:
        if (self.file is None) == (self.values is None):
            raise ValueError("give either file (with column) or values")
        if self.file is not None:
            if self.column is None:
                raise ValueError("a series file needs the column that holds the demand")
            _read_column(self.file, self.column)
        elif self.values is not None:
            _check_values(self.values, "values")
        return self

    def data(self) -> FloatArray:
        """The series, one value per period."""
        if self.values is not None:
            return np.asarray(self.values, dtype=np.float64)
        assert self.file is not None and self.column is not None
        return _read_column(self.file, self.column)


def _check_values(values: tuple[float, ...], what: str) -> None:
    if len(values) < 2:
        raise ValueError(f"{what}: a series needs at least two periods")
    for i, v in enumerate(values):
        if not math.isfinite(v) or v < 0:
            raise ValueError(f"{what}: period {i} has {v!r}, expected a quantity not below 0")


@cache
def _read_column(file: Path, column: str) -> FloatArray:
    try:
        with open(file, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or column not in reader.fieldnames:
                known = ", ".join((reader.fieldnames or [])[:8])
                raise ValueError(f"{file}: no column {column!r} (columns: {known}, ...)")
            values: list[float] = []
            for row_number, row in enumerate(reader, start=2):
                text = (row.get(column) or "").strip()
                try:
                    values.append(float(text) if text else 0.0)
                except ValueError:
                    raise ValueError(
                        f"{file}: line {row_number}, column {column!r}: {text!r} is not a number"
                    ) from None
    except OSError as exc:
        raise ValueError(f"cannot read the series file {file}: {exc.strerror}") from None
    _check_values(tuple(values), f"{file}, column {column!r}")
    return np.asarray(values, dtype=np.float64)


class Demand(BaseModel):
    """End-customer demand at one buffer, and what a unit not served costs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    at: str
    """The buffer whose customers ask (its name)."""
    distribution: Distribution | None = None
    """Demand in one period (units per period)."""
    seasonal: tuple[float, ...] | None = None
    """Seasonal index per period, repeating; multiplies the distribution."""
    series: Series | None = None
    backorder_cost: float = Field(default=0.0, ge=0)
    """Cost per unit backordered per period (with ``unmet = "backorder"``)."""
    lost_sale_cost: float = Field(default=0.0, ge=0)
    """Cost per unit of demand lost (with ``unmet = "lost_sale"``)."""

    @model_validator(mode="after")
    def _check(self) -> Demand:
        if (self.distribution is None) == (self.series is None):
            raise ValueError("give either a distribution or a series")
        if self.seasonal is not None:
            if self.distribution is None:
                raise ValueError("a seasonal index applies to a distribution, not to a series")
            if not self.seasonal or any(f < 0 or not math.isfinite(f) for f in self.seasonal):
                raise ValueError("seasonal: expected a list of factors not below 0")
        return self

    @property
    def mean(self) -> float:
        """Mean demand per period (units per period), over a whole seasonal cycle."""
        if self.series is not None:
            return float(self.series.data().mean())
        assert self.distribution is not None
        factor = 1.0 if self.seasonal is None else float(np.mean(self.seasonal))
        return self.distribution.mean_value * factor

    def sample(self, rng: np.random.Generator, replications: int, periods: int) -> FloatArray:
        """Demand of ``replications`` replications for ``periods`` periods, shaped (periods,
        replications), in units per period.

        Drawn in chunks of :data:`CHUNK` periods, so the first periods' demand does not depend
        on how many periods are asked for: a longer run extends a shorter one."""
        out = np.empty((periods, replications))
        if self.series is not None:
            data = self.series.data()
            n = len(data)
            if self.series.sample == "replay":
                start = rng.integers(0, n, replications)
                out[:] = data[(start[None, :] + np.arange(periods)[:, None]) % n]
                return out
        factors = None if self.seasonal is None else np.asarray(self.seasonal, dtype=np.float64)
        for first in range(0, periods, CHUNK):
            if self.series is not None:
                data = self.series.data()
                chunk = data[rng.integers(0, len(data), (CHUNK, replications))]
            else:
                assert self.distribution is not None
                scale = None
                if factors is not None:
                    scale = factors[(first + np.arange(CHUNK)) % len(factors)][:, None]
                chunk = self.distribution.sample(rng, (CHUNK, replications), scale)
            out[first : first + CHUNK] = chunk[: periods - first]
        return out


CHUNK = 64
"""Periods drawn at a time (see :meth:`Demand.sample`)."""
