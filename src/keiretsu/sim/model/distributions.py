"""Distributions of demand, lead time and processing time.

A value-network model says how much is asked for in a period and how long a delivery or a step
takes, as a *distribution*: a table with a ``kind`` and its parameters, in the units of the
field it fills (units per period for demand, periods for a transport lead time, hours for a
processing or set-up time).

```toml
demand = { kind = "normal", mean = 5.0, sd = 1.0 }      # units per period
lead_time = { kind = "constant", value = 2 }              # periods
processing_time = { kind = "gamma", mean = 0.5, sd = 0.1 }  # hours per batch
```

Kinds: ``constant`` (``value``), ``normal`` (``mean``, ``sd``), ``poisson`` (``mean``),
``gamma`` (``mean``, ``sd``), ``uniform`` (``low``, ``high``) and ``empirical`` (``values``,
optional ``weights``: a table of observed values drawn with replacement). Quantities and times
cannot be negative: a normal draw below zero is taken as zero (choose a normal only where the
mean is at least three standard deviations above zero, where that almost never happens).
"""

from __future__ import annotations

import math
from abc import abstractmethod
from functools import cache
from typing import Annotated, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "Constant",
    "Distribution",
    "Empirical",
    "Gamma",
    "Normal",
    "Poisson",
    "Uniform",
]

FloatArray = npt.NDArray[np.float64]
"""An array of float64 (quantities, times, costs)."""


class _Kind(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # each kind of distribution says what these are (pydantic's model class is an ABCMeta,
    # so a kind that forgets one cannot be made)
    @property
    @abstractmethod
    def mean_value(self) -> float:
        """The distribution's mean, in the units of the field it fills."""

    @property
    @abstractmethod
    def variance(self) -> float:
        """The distribution's variance (units squared)."""

    @abstractmethod
    def sample(
        self, rng: np.random.Generator, size: int | tuple[int, ...], scale: FloatArray | None = None
    ) -> FloatArray:
        """Independent draws, an array of shape ``size``; ``scale`` (broadcast against it, e.g.
        a seasonal index per period)
        multiplies the mean and the spread alike (the coefficient of variation is kept, and a
        Poisson draw is a Poisson draw of the scaled mean)."""


class Constant(_Kind):
    """Always the same value: a fixed lead time, a steady demand."""

    kind: Literal["constant"] = "constant"
    value: float = Field(ge=0)

    @property
    def mean_value(self) -> float:
        return self.value

    @property
    def variance(self) -> float:
        return 0.0

    def sample(
        self, rng: np.random.Generator, size: int | tuple[int, ...], scale: FloatArray | None = None
    ) -> FloatArray:
        out = np.full(size, self.value, dtype=np.float64)
        return out if scale is None else out * scale


class Normal(_Kind):
    """Normal with ``mean`` and standard deviation ``sd``; draws below zero count as zero."""

    kind: Literal["normal"] = "normal"
    mean: float
    sd: float = Field(ge=0)

    @property
    def mean_value(self) -> float:
        return self.mean

    @property
    def variance(self) -> float:
        return self.sd**2

    def sample(
        self, rng: np.random.Generator, size: int | tuple[int, ...], scale: FloatArray | None = None
    ) -> FloatArray:
        z = rng.standard_normal(size)
        out = self.mean + self.sd * z if scale is None else scale * (self.mean + self.sd * z)
        return np.maximum(out, 0.0)


class Poisson(_Kind):
    """Poisson with ``mean``: whole units, the demand of many small independent customers."""

    kind: Literal["poisson"] = "poisson"
    mean: float = Field(ge=0)

    @property
    def mean_value(self) -> float:
        return self.mean

    @property
    def variance(self) -> float:
        return self.mean

    def sample(
        self, rng: np.random.Generator, size: int | tuple[int, ...], scale: FloatArray | None = None
    ) -> FloatArray:
        if scale is not None or self.mean > 1000:
            lam = self.mean if scale is None else self.mean * scale
            return rng.poisson(lam, size).astype(np.float64)
        # inverse transform on the cumulative table: exact up to a 1e-15 tail, and several
        # times faster than numpy's Poisson sampler for the means demand usually has
        return _poisson_table(self.mean)[np.searchsorted(_poisson_cdf(self.mean), rng.random(size))]


class Gamma(_Kind):
    """Gamma with ``mean`` and standard deviation ``sd``: positive and right-skewed, the usual
    shape of processing and waiting times."""

    kind: Literal["gamma"] = "gamma"
    mean: float = Field(gt=0)
    sd: float = Field(gt=0)

    @property
    def mean_value(self) -> float:
        return self.mean

    @property
    def variance(self) -> float:
        return self.sd**2

    def sample(
        self, rng: np.random.Generator, size: int | tuple[int, ...], scale: FloatArray | None = None
    ) -> FloatArray:
        shape = (self.mean / self.sd) ** 2
        theta = self.sd**2 / self.mean
        out = rng.gamma(shape, theta, size)
        return out if scale is None else out * scale


class Uniform(_Kind):
    """Uniform between ``low`` and ``high``."""

    kind: Literal["uniform"] = "uniform"
    low: float = Field(ge=0)
    high: float = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.high < self.low:
            raise ValueError(f"high ({self.high}) must be at least low ({self.low})")
        return self

    @property
    def mean_value(self) -> float:
        return (self.low + self.high) / 2

    @property
    def variance(self) -> float:
        return (self.high - self.low) ** 2 / 12

    def sample(
        self, rng: np.random.Generator, size: int | tuple[int, ...], scale: FloatArray | None = None
    ) -> FloatArray:
        out = rng.uniform(self.low, self.high, size)
        return out if scale is None else out * scale


class Empirical(_Kind):
    """Observed values, drawn with replacement (with ``weights`` if given)."""

    kind: Literal["empirical"] = "empirical"
    values: tuple[float, ...] = Field(min_length=1)
    weights: tuple[float, ...] | None = None

    @model_validator(mode="after")
    def _check(self) -> Empirical:
        if any(v < 0 or not math.isfinite(v) for v in self.values):
            raise ValueError("values must be finite and not negative")
        if self.weights is not None:
            if len(self.weights) != len(self.values):
                raise ValueError(
                    f"weights must have one entry per value ({len(self.values)}), "
                    f"got {len(self.weights)}"
                )
            if any(w < 0 for w in self.weights) or sum(self.weights) <= 0:
                raise ValueError("weights must not be negative and must not all be zero")
        return self

    def _p(self) -> FloatArray | None:
        if self.weights is None:
            return None
        w = np.asarray(self.weights, dtype=np.float64)
        out: FloatArray = w / w.sum()
        return out

    @property
    def mean_value(self) -> float:
        p = self._p()
        v = np.asarray(self.values)
        return float(v.mean() if p is None else (v * p).sum())

    @property
    def variance(self) -> float:
        p = self._p()
        v = np.asarray(self.values)
        m = self.mean_value
        return float(((v - m) ** 2).mean() if p is None else (((v - m) ** 2) * p).sum())

    def sample(
        self, rng: np.random.Generator, size: int | tuple[int, ...], scale: FloatArray | None = None
    ) -> FloatArray:
        out = rng.choice(np.asarray(self.values, dtype=np.float64), size=size, p=self._p())
        return out if scale is None else out * scale


@cache
def _poisson_cdf(mean: float) -> FloatArray:
    # scipy.stats is imported on first use: a second or more that loading a model file
    # (every command that reads one) should not pay
    from scipy import stats  # type: ignore[import-untyped]

    top = int(stats.poisson.ppf(1 - 1e-15, mean)) + 1
    cdf: FloatArray = stats.poisson.cdf(np.arange(top + 1), mean)
    cdf[-1] = 1.0
    return cdf


@cache
def _poisson_table(mean: float) -> FloatArray:
    return np.arange(len(_poisson_cdf(mean)), dtype=np.float64)


Distribution = Annotated[
    Constant | Normal | Poisson | Gamma | Uniform | Empirical, Field(discriminator="kind")
]
"""Any of the distribution kinds, told apart by ``kind``."""
