"""Measured impact: did the change move the metric, once trend and seasonality are taken out?

A kaizen is checked on the real events after the change against those before. A plain
before/after comparison of means is fooled by anything else that moves the metric over time —
demand rising through the year, a busy end of month, a weekly rhythm — so the effect is
measured one of two ways (see ``docs/kaizen/measure.md``):

* **difference-in-differences** (DiD), when comparable steps or companies that did not change
  are at hand (the *control*): per period, the treated series minus the mean of the controls
  cancels what both share (trend, season, network-wide shocks); the effect is how much that
  gap moved at the change. With one treated unit this is the two-way fixed-effects DiD
  regression written on the differences.
* **interrupted time series** (ITS, segmented regression; Wagner et al. 2002), without a
  control: the series regressed on time, a step at the change (the effect: the level change
  at the change), a change of slope after it, and seasonal terms (Fourier pairs for a cycle of
  ``season`` periods).

Both are fitted with errors that allow for periods resembling their neighbours — the rule in
operations data, which otherwise pass for independent evidence (Bertrand, Duflo & Mullainathan
2004): by default GLS with AR(1) errors whose ρ is estimated by restricted maximum likelihood
(REML), the effect tested against Student's t with Satterthwaite's degrees of freedom — the
method closest to the nominal level on short interrupted time series (Turner et al. 2021);
statsmodels' feasible GLS (``GLSAR``, iterated Cochrane–Orcutt) and OLS with HAC standard
errors (Newey & West 1987) on request, both too ready to declare an effect on short series.
The **minimum detectable effect** (MDE) is the smallest effect the design could have detected
with 80% power at the chosen level: Bloom's multiplier t₁₋α/₂ + t₀.₈₀ times the effect's
standard error.

Series come from a node's log through :func:`object_series` (the objects finishing each
period: lead, waiting or processing hours) and :func:`step_series` (per step or per company:
the wait before the step or the time in it, of the visits ending each period).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, TypeAlias

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy import stats  # type: ignore[import-untyped]

from keiretsu.analytics.durations import parse_freq
from keiretsu.analytics.flow import object_times, recorder, visits
from keiretsu.analytics.log import Log
from keiretsu.analytics.traces import epoch_micros
from keiretsu.analytics.view import View

__all__ = [
    "Impact",
    "measure_impact",
    "object_series",
    "split_units",
    "step_series",
]

Method = Literal["difference-in-differences", "interrupted time series"]
ObjectMetric = Literal["lead_hours", "waiting_hours", "processing_hours"]
StepMetric = Literal["wait_hours", "time_in_step_hours"]
Errors = Literal["ar1", "glsar", "hac"]
ERRORS: tuple[str, ...] = ("ar1", "glsar", "hac")
Period: TypeAlias = datetime | date | int | float
SeriesLike: TypeAlias = View | pa.Table | Mapping[Any, float]

TOO_FEW = "too few data to tell"
POWER = 0.8
# buckets start on a Monday at midnight UTC, as in analytics.flow: days are calendar days (UTC)
_ORIGIN = datetime(1970, 1, 5, tzinfo=UTC)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Impact:
    """The measured effect of one change on one metric.

    ``effect`` is in the metric's own unit (e.g. hours of lead time; negative = the metric
    fell), with its ``low``–``high`` confidence interval at level 1 - ``alpha`` and its
    two-sided ``p_value``; ``detected`` is True when the interval leaves out zero. ``mde`` is
    the smallest effect (same unit, either sign) the data could have detected with 80% power.
    All four are None, and ``verdict`` says "too few data to tell", when the periods are too
    few. ``naive_effect`` / ``naive_p_value`` are the plain before/after difference of means
    (Welch's t-test), kept to show what trend and season would have made of it."""

    metric: str
    method: Method
    effect: float | None
    low: float | None
    high: float | None
    p_value: float | None
    detected: bool
    mde: float | None
    periods_before: int
    periods_after: int
    alpha: float
    naive_effect: float | None
    naive_p_value: float | None
    verdict: str
    slope_change: float | None = None
    """ITS only: the change of slope after the change (metric units per period)."""
    season: int | None = None
    hac_lags: int | None = None
    notes: tuple[str, ...] = field(default=())

    def to_view(self) -> View:
        """The impact as a one-row :class:`View` (Arrow table + notes)."""
        row = {
            "metric": self.metric,
            "method": self.method,
            "effect": self.effect,
            "low": self.low,
            "high": self.high,
            "p_value": self.p_value,
            "detected": self.detected,
            "mde": self.mde,
            "periods_before": self.periods_before,
            "periods_after": self.periods_after,
            "naive_effect": self.naive_effect,
            "naive_p_value": self.naive_p_value,
            "slope_change": self.slope_change,
            "verdict": self.verdict,
        }
        schema = pa.schema(
            [
                ("metric", pa.string()),
                ("method", pa.string()),
                ("effect", pa.float64()),
                ("low", pa.float64()),
                ("high", pa.float64()),
                ("p_value", pa.float64()),
                ("detected", pa.bool_()),
                ("mde", pa.float64()),
                ("periods_before", pa.int64()),
                ("periods_after", pa.int64()),
                ("naive_effect", pa.float64()),
                ("naive_p_value", pa.float64()),
                ("slope_change", pa.float64()),
                ("verdict", pa.string()),
            ]
        )
        return View(
            "kaizen.measured_impact",
            pa.Table.from_pylist([row], schema=schema),
            notes=self.notes,
            meta={"alpha": self.alpha, "season": self.season, "hac_lags": self.hac_lags},
        )


# --- the measurement ------------------------------------------------------------------------------


def measure_impact(
    series: SeriesLike,
    change_at: Period,
    *,
    control: SeriesLike | None = None,
    metric: str = "value",
    alpha: float = 0.05,
    season: int | Literal["auto"] | None = "auto",
    slope_change: bool = True,
    min_periods: int = 8,
    freq: timedelta | str | None = None,
    errors: Errors = "ar1",
) -> Impact:
    """The effect of a change made at ``change_at`` on a metric measured per period.

    ``series`` is the treated step's or company's metric per period: a table (or
    :class:`View`) with columns ``period`` (time, date or period number) and ``value``, or a
    mapping period → value. Periods at or after ``change_at`` are *after*. ``control`` is the
    same for comparable units that did not change (several units in one table with a ``unit``
    column are averaged per period); with it the effect is measured by
    difference-in-differences, without it by an interrupted time series with trend, a change
    of slope (``slope_change``) and seasonal terms.

    ``season`` is the length of the cycle in periods (7 for daily figures with a weekly
    rhythm); ``"auto"`` takes 7 for daily periods when at least two weeks precede the change,
    else none; ``None`` fits no season. ``freq`` is the period length for time periods
    (inferred from the smallest gap between periods when not given). Fewer than
    ``min_periods`` periods before or after the change gives an :class:`Impact` whose verdict
    is "too few data to tell" and whose figures are None.

    ``errors`` says how the standard errors allow for periods resembling their neighbours:
    ``"ar1"`` (the default) is GLS with first-order autoregressive errors whose ρ is estimated
    by restricted maximum likelihood (REML), the effect tested against Student's t with
    Satterthwaite's degrees of freedom; ``"glsar"`` is feasible GLS with AR(1) errors by
    statsmodels ``GLSAR`` (iterated Cochrane–Orcutt, t with n − k df); ``"hac"`` keeps OLS with
    Newey–West (HAC) errors. On the short series kaizen has (4–8 weeks of days each side) only
    ``"ar1"`` keeps false discoveries at ``alpha``: ``"glsar"`` declares effects that are not
    there 6–8% of the time at α = 5%, ``"hac"`` 9–15% (``"ar1"``: 4.8–5.4%)
    (``bench/kaizen_false_discoveries.py``, ``docs/kaizen/measure.md``)."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    if errors not in ERRORS:
        raise ValueError(f"errors must be one of {', '.join(ERRORS)}, got {errors!r}")
    treated = _points(series)
    ctl = _points(control) if control is not None else None
    step = _step(treated[0] if ctl is None else np.concatenate([treated[0], ctl[0]]), freq)
    x0 = _number(change_at)
    notes: list[str] = []
    if ctl is not None:
        method: Method = "difference-in-differences"
        ct, cy = _mean_per_period(*ctl)
        common, ti, ci = np.intersect1d(treated[0], ct, return_indices=True)
        dropped = len(treated[0]) - len(common)
        if dropped:
            notes.append(f"{dropped} period(s) without a control figure left out")
        x, y = common, treated[1][ti] - cy[ci]
        notes.append(
            "difference-in-differences: per period, the treated figure minus the controls' mean;"
            " the effect is the change of that gap at the change (parallel trends assumed)"
        )
    else:
        method = "interrupted time series"
        x, y = treated
    t = np.rint((x - x.min()) / step) if len(x) else x
    post = x >= x0
    n_before, n_after = int((~post).sum()), int(post.sum())
    naive, naive_p = _naive(treated[0], treated[1], x0)
    if ctl is None and season == "auto":
        season = 7 if abs(step - 86_400.0) < 1 and n_before >= 14 else None
    else:
        season = None if season == "auto" else season
    cycle = season if ctl is None and isinstance(season, int) and season >= 2 else None

    def too_few(reason: str) -> Impact:
        return Impact(
            metric=metric,
            method=method,
            effect=None,
            low=None,
            high=None,
            p_value=None,
            detected=False,
            mde=None,
            periods_before=n_before,
            periods_after=n_after,
            alpha=alpha,
            naive_effect=naive,
            naive_p_value=naive_p,
            verdict=f"{TOO_FEW} — {reason}",
            season=cycle,
            notes=(*notes, f"not measurable — needs {reason.split('needs ', 1)[-1]}"),
        )

    if n_before < min_periods or n_after < min_periods:
        return too_few(
            f"{n_before} period(s) before the change and {n_after} after; "
            f"needs at least {min_periods} each"
        )
    columns = [np.ones_like(t), post.astype(float)]
    names = ["const", "change"]
    if ctl is None:
        columns.append(t)
        names.append("trend")
        if slope_change:
            t_change = t[post].min()
            columns.append(np.where(post, t - t_change, 0.0))
            names.append("slope_change")
        if cycle is not None:
            if t[~post].max() - t[~post].min() + 1 < cycle:
                return too_few(f"needs a whole seasonal cycle ({cycle} periods) before the change")
            for k in range(1, min(3, cycle // 2) + 1):
                angle = 2 * math.pi * k * t / cycle
                columns.append(np.cos(angle))
                names.append(f"cos{k}")
                if 2 * k != cycle:
                    columns.append(np.sin(angle))
                    names.append(f"sin{k}")
            notes.append(f"seasonal cycle of {cycle} periods (Fourier terms)")
        notes.append(
            "interrupted time series (Wagner et al. 2002): trend, level change at the change"
            + (", slope change after it" if slope_change else "")
        )
    X = np.column_stack(columns)
    n, k = X.shape
    if n - k < 4 or np.linalg.matrix_rank(X) < k:
        return too_few(f"needs more periods than the {k} terms of the model, with room to spare")
    if errors == "hac":
        fit = _hac_fit(y, X)
    elif errors == "glsar":
        fit = _glsar_fit(y, X)
    else:
        fit = _reml_fit(y, X, names.index("change"))
    i = names.index("change")
    effect = float(fit.params[i])
    se = float(fit.bse[i])
    df = float(fit.df)
    half = float(stats.t.ppf(1 - alpha / 2, df)) * se
    lo, hi = effect - half, effect + half
    p = float(2 * stats.t.sf(abs(effect) / se, df)) if se > 0 else 0.0
    mde = _mde(se, df, alpha)
    slope = float(fit.params[names.index("slope_change")]) if "slope_change" in names else None
    lags = fit.lags
    if errors == "hac":
        how = f"OLS with HAC (Newey–West) standard errors, {lags} lag(s); t with {df:.0f} df"
    elif errors == "glsar":
        how = (
            f"feasible GLS with AR(1) errors (GLSAR, iterated Cochrane–Orcutt, ρ = {fit.rho:.2f})"
            f"; t with {df:.0f} df"
        )
    else:
        how = (
            f"GLS with AR(1) errors, ρ = {fit.rho:.2f} by restricted maximum likelihood (REML);"
            f" t with {df:.1f} df (Satterthwaite)"
        )
    if errors != "hac" and len(t) and t.max() + 1 > len(t):
        how += "; periods without a figure are skipped, neighbours taken in order"
    notes.append(f"{how}; minimum detectable effect at {POWER:.0%} power")
    if ctl is not None:
        pre = _pre_trend(t[~post], y[~post], alpha)
        if pre is not None:
            notes.append(pre)
    detected = bool(p < alpha)
    level = f"{1 - alpha:.0%}"
    span = f"{effect:+.3g} ({level} interval {lo:+.3g} to {hi:+.3g}, p = {p:.3g})"
    if detected:
        verdict = f"effect detected: {span}"
    else:
        verdict = (
            f"no effect detected: {span}; the data could have detected an effect of "
            f"±{mde:.3g} or larger"
        )
    return Impact(
        metric=metric,
        method=method,
        effect=effect,
        low=lo,
        high=hi,
        p_value=p,
        detected=detected,
        mde=mde,
        periods_before=n_before,
        periods_after=n_after,
        alpha=alpha,
        naive_effect=naive,
        naive_p_value=naive_p,
        verdict=verdict,
        slope_change=slope,
        season=cycle,
        hac_lags=lags if errors == "hac" else None,
        notes=tuple(notes),
    )


@dataclass(frozen=True)
class _Fit:
    """A fitted regression: coefficients, their standard errors, the t reference's degrees of
    freedom, the AR(1) coefficient (0 for OLS) and the HAC lags (0 unless HAC)."""

    params: np.ndarray
    bse: np.ndarray
    df: float
    rho: float = 0.0
    lags: int = 0


def _hac_fit(y: np.ndarray, X: np.ndarray) -> _Fit:
    import statsmodels.api as sm  # type: ignore[import-untyped]

    n = len(y)
    lags = math.floor(4 * (n / 100) ** (2 / 9))  # Newey & West (1994)
    fit = sm.OLS(y, X).fit(
        cov_type="HAC", cov_kwds={"maxlags": lags, "use_correction": True}, use_t=True
    )
    return _Fit(np.asarray(fit.params), np.asarray(fit.bse), float(fit.df_resid), lags=lags)


def _glsar_fit(y: np.ndarray, X: np.ndarray) -> _Fit:
    import statsmodels.api as sm

    fit = sm.GLSAR(y, X, rho=1).iterative_fit(maxiter=20)
    rho = float(np.asarray(fit.model.rho).ravel()[0])
    return _Fit(np.asarray(fit.params), np.asarray(fit.bse), float(fit.df_resid), rho=rho)


# --- AR(1) errors by restricted maximum likelihood ------------------------------------------------
#
# y = Xβ + u, u_t = ρ u_{t−1} + e_t, e_t ~ N(0, σ²). The Prais–Winsten transform P(ρ) (first row
# √(1−ρ²)·u_1, then u_t − ρ u_{t−1}) whitens u, so for a given ρ the GLS estimate is OLS on PX, Py.
# ρ is estimated by maximising the *restricted* likelihood (REML; Patterson & Thompson 1971), the
# likelihood of the residuals' contrasts, which — unlike ML or Cochrane–Orcutt on OLS residuals —
# allows for the k coefficients fitted alongside and so does not bias ρ towards 0 on short series
# (Cheang & Reinsel 2000). With σ² profiled out, −2·log L_R(ρ) = (n−k)·log RSS(ρ) − log(1−ρ²)
# + log|X'P'PX| + const. The effect is tested against Student's t with Satterthwaite's degrees of
# freedom (Satterthwaite 1946; as lmerTest does for mixed models): var(β̂_j) = σ²[(X'P'PX)⁻¹]_jj
# is itself estimated, its own variance taken by the delta method from the inverse of the REML
# information of (ρ, log σ²), and df = 2·var(β̂_j)² / var(var(β̂_j)). Turner et al. (2021)
# compared the common methods on short interrupted time series by simulation: REML with
# Satterthwaite df came closest to the nominal level, ahead of OLS, Newey–West, Prais–Winsten
# and ARIMA.

_RHO_BOUND = 0.98
_H = 1e-4  # step of the numerical derivatives (in ρ and in log σ²)


def _prais_winsten(rho: float, m: np.ndarray) -> np.ndarray:
    out = np.empty_like(m)
    out[0] = math.sqrt(1.0 - rho * rho) * m[0]
    out[1:] = m[1:] - rho * m[:-1]
    return out


def _gls(rho: float, y: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """β̂, RSS and X'P'PX at ρ."""
    ys, Xs = _prais_winsten(rho, y), _prais_winsten(rho, X)
    beta, *_ = np.linalg.lstsq(Xs, ys, rcond=None)
    r = ys - Xs @ beta
    return beta, float(r @ r), Xs.T @ Xs


def _reml_profile(rho: float, y: np.ndarray, X: np.ndarray) -> float:
    """−log L_R(ρ) with σ² profiled out (constants dropped)."""
    n, k = X.shape
    _, rss, xtx = _gls(rho, y, X)
    logdet = float(np.linalg.slogdet(xtx)[1])
    return 0.5 * (float(n - k) * math.log(max(rss, 1e-300)) - math.log(1.0 - rho * rho) + logdet)


def _reml_full(theta: np.ndarray, y: np.ndarray, X: np.ndarray) -> float:
    """−log L_R(ρ, log σ²) (constants dropped)."""
    rho, log_s2 = float(theta[0]), float(theta[1])
    n, k = X.shape
    _, rss, xtx = _gls(rho, y, X)
    logdet = float(np.linalg.slogdet(xtx)[1])
    return 0.5 * (
        float(n - k) * log_s2 + rss / math.exp(log_s2) - math.log(1.0 - rho * rho) + logdet
    )


def _var_coef(theta: np.ndarray, X: np.ndarray, j: int) -> float:
    xs = _prais_winsten(float(theta[0]), X)
    return math.exp(float(theta[1])) * float(np.linalg.inv(xs.T @ xs)[j, j])


def _reml_fit(y: np.ndarray, X: np.ndarray, j: int) -> _Fit:
    """GLS with AR(1) errors, ρ by REML; standard errors at ρ̂ and Satterthwaite's degrees of
    freedom for coefficient ``j`` (``n − k`` when they cannot be computed, or are larger)."""
    from scipy import optimize

    n, k = X.shape
    found = optimize.minimize_scalar(
        _reml_profile,
        bounds=(-_RHO_BOUND, _RHO_BOUND),
        args=(y, X),
        method="bounded",
        options={"xatol": 1e-6},
    )
    rho = float(found.x)
    beta, rss, xtx = _gls(rho, y, X)
    s2 = rss / (n - k)
    cov = s2 * np.linalg.inv(xtx)
    bse = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    df = float(n - k)
    if s2 > 0 and abs(rho) + 2 * _H < 1:
        theta = np.array([rho, math.log(s2)])
        e = np.eye(2) * _H
        info = np.empty((2, 2))
        for a in range(2):
            for b in range(2):
                info[a, b] = (
                    _reml_full(theta + e[a] + e[b], y, X)
                    - _reml_full(theta + e[a] - e[b], y, X)
                    - _reml_full(theta - e[a] + e[b], y, X)
                    + _reml_full(theta - e[a] - e[b], y, X)
                ) / (4 * _H * _H)
        grad = np.array(
            [
                (_var_coef(theta + e[a], X, j) - _var_coef(theta - e[a], X, j)) / (2 * _H)
                for a in (0, 1)
            ]
        )
        try:
            spread = float(grad @ np.linalg.solve(info, grad))
        except np.linalg.LinAlgError:
            spread = float("nan")
        v = float(cov[j, j])
        if np.isfinite(spread) and spread > 0 and np.all(np.linalg.eigvalsh(info) > 0):
            df = min(df, max(2 * v * v / spread, 1.0))
    return _Fit(beta, bse, df, rho=rho)


def _mde(se: float, df: float, alpha: float) -> float:
    """The smallest effect the two-sided t-test on ``df`` degrees of freedom detects with 80%
    power: Bloom's (1995) multiplier (t₁₋α/₂ + t₀.₈₀, Student's t on ``df``) times the effect's
    standard error — within 0.5% of the exact noncentral-t solution from 6 df on."""
    return float(stats.t.ppf(1 - alpha / 2, df) + stats.t.ppf(POWER, df)) * se


def _pre_trend(t: np.ndarray, gap: np.ndarray, alpha: float) -> str | None:
    if len(t) < 4 or np.ptp(t) == 0:
        return None
    fit = _hac_fit(gap, np.column_stack([np.ones_like(t), t]))
    p = float(2 * stats.t.sf(abs(fit.params[1]) / fit.bse[1], fit.df)) if fit.bse[1] > 0 else 0.0
    if p < alpha:
        return (
            f"the treated and the controls drifted apart before the change "
            f"({float(fit.params[1]):+.3g} per period, p = {p:.3g}): parallel trends doubtful"
        )
    return f"no drift between treated and controls before the change (p = {p:.3g})"


def _naive(x: np.ndarray, y: np.ndarray, x0: float) -> tuple[float | None, float | None]:
    """After minus before, and Welch's two-sided p (unequal variances, Welch–Satterthwaite df)."""
    before, after = y[x < x0], y[x >= x0]
    if len(before) < 2 or len(after) < 2:
        return None, None
    diff = float(after.mean() - before.mean())
    va, vb = after.var(ddof=1) / len(after), before.var(ddof=1) / len(before)
    se = math.sqrt(va + vb)
    if se == 0:
        return diff, (1.0 if diff == 0 else 0.0)
    df = (va + vb) ** 2 / (va**2 / (len(after) - 1) + vb**2 / (len(before) - 1))
    return diff, float(2 * stats.t.sf(abs(diff) / se, df))


# --- series in --------------------------------------------------------------------------------


def _number(p: Any) -> float:
    if isinstance(p, datetime):
        aware = p if p.tzinfo is not None else p.replace(tzinfo=UTC)
        return (aware - _EPOCH).total_seconds()
    if isinstance(p, date):
        return (datetime(p.year, p.month, p.day, tzinfo=UTC) - _EPOCH).total_seconds()
    if isinstance(p, int | float | np.integer | np.floating):
        return float(p)
    raise TypeError(f"a period must be a time, a date or a number, got {type(p).__name__}")


def _points(series: SeriesLike) -> tuple[np.ndarray, np.ndarray]:
    """(period as a number, value), sorted, nulls and NaN left out."""
    if isinstance(series, View):
        series = series.table
    if isinstance(series, pa.Table):
        for name in ("period", "value"):
            if name not in series.column_names:
                raise ValueError(
                    f"a series needs columns 'period' and 'value', got {series.schema}"
                )
        periods = series.column("period").to_pylist()
        values = series.column("value").to_pylist()
        if "unit" in series.column_names and len(set(series.column("unit").to_pylist())) > 1:
            # several units: the caller passes them as a control, averaged per period
            x = np.array([_number(p) for p in periods], dtype=float)
            y = np.array([np.nan if v is None else float(v) for v in values])
            keep = ~np.isnan(y)
            return _mean_per_period(x[keep], y[keep])
    else:
        periods, values = list(series.keys()), list(series.values())
    pairs = sorted(
        (_number(p), float(v))
        for p, v in zip(periods, values, strict=True)
        if p is not None and v is not None and not math.isnan(float(v))
    )
    x = np.array([p for p, _ in pairs], dtype=float)
    y = np.array([v for _, v in pairs], dtype=float)
    if len(np.unique(x)) != len(x):
        raise ValueError("a series has one value per period; found a period twice")
    return x, y


def _mean_per_period(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    periods, inverse = np.unique(x, return_inverse=True)
    sums = np.bincount(inverse, weights=y)
    counts = np.bincount(inverse)
    return periods, sums / counts


def _step(x: np.ndarray, freq: timedelta | str | None) -> float:
    if freq is not None:
        return parse_freq(freq).total_seconds()
    gaps = np.diff(np.unique(x))
    return float(gaps.min()) if len(gaps) else 1.0


# --- series from a node's log -------------------------------------------------------------------


def object_series(
    log: Log,
    object_type: str,
    *,
    metric: ObjectMetric = "lead_hours",
    freq: str | timedelta = "1d",
    value_adding: Collection[str] | None = None,
    end_steps: Collection[str] | None = None,
) -> View:
    """The mean lead, waiting or processing time (hours) of the objects of ``object_type``
    finishing in each period, from :func:`keiretsu.analytics.flow.object_times`.

    Columns ``period`` (start of the period, UTC; days are calendar days, weeks start on
    Monday), ``value`` (hours), ``n`` (objects finishing in it). Periods where nothing
    finished have no row; open objects are left out (their times are not known yet)."""
    length = parse_freq(freq)
    times = object_times(log, object_type, value_adding, end_steps=end_steps)
    source = {
        "lead_hours": "lead_seconds",
        "waiting_hours": "waiting_seconds",
        "processing_hours": "processing_seconds",
    }[metric]
    t = times.table.filter(pc.field("finished"))
    seconds = t.column(source).to_numpy(zero_copy_only=False).astype(float)
    ended = t.column("finished_at")
    micros = pc.cast(pc.cast(ended, pa.timestamp("us", tz="UTC")), pa.int64()).to_numpy(
        zero_copy_only=False
    )
    notes = [
        f"{metric.replace('_', ' ')}: mean over the objects finishing in each "
        f"{_describe(length)} (from flow.object_times)",
        *times.notes,
    ]
    return _bucketed(micros, seconds / 3600.0, length, f"kaizen.series.{metric}", notes)


def step_series(
    log: Log,
    object_type: str,
    *,
    metric: StepMetric = "wait_hours",
    by: Literal["step", "company"] = "step",
    freq: str | timedelta = "1d",
    steps: Sequence[str] | None = None,
) -> View:
    """The mean wait before a step (or the time in it), in hours, of the visits ending in each
    period, per step (``by="step"``) or per company that recorded the visit
    (``by="company"``: ``""`` for this node's own events, a partner's name for what it
    pushed), from :func:`keiretsu.analytics.flow.visits`. ``steps`` keeps only those
    activities.

    Columns ``unit`` (the step or company), ``period`` (start, UTC), ``value`` (hours), ``n``
    (visits). First visits (the object's first step here) have no measurable wait and are left
    out. Pick the treated unit and its controls with :func:`split_units`."""
    length = parse_freq(freq)
    v = visits(log, object_type)
    v = v.filter(v.first_visit == ibis.literal(False))
    if steps is not None:
        v = v.filter(v.activity.isin(list(steps)))
    unit = v.activity if by == "step" else recorder(v.event_id)
    col = v.wait_before_seconds if metric == "wait_hours" else v.seconds_in_step
    f = int(length.total_seconds() * 1_000_000)
    origin = int((_ORIGIN - _EPOCH).total_seconds()) * 1_000_000
    t = v.select(unit=unit, b=((epoch_micros(v.leave) - origin) // f).cast("int64"), s=col)
    t = t.filter(t.s.notnull())
    g = t.group_by(["unit", "b"]).agg(value=(t.s.mean() / 3600.0), n=t.s.count())
    rows = log.execute(g.order_by(["unit", "b"]))
    b = rows.column("b").to_numpy(zero_copy_only=False).astype(np.int64)
    periods = pa.array(origin + b * f, pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    table = pa.table(
        {
            "unit": rows.column("unit").cast(pa.string()),
            "period": periods,
            "value": rows.column("value").cast(pa.float64()),
            "n": rows.column("n").cast(pa.int64()),
        }
    )
    what = "wait before the step" if metric == "wait_hours" else "time in the step"
    return View(
        f"kaizen.series.{metric}",
        table,
        notes=(
            f"{what} (hours): mean over the visits ending in each {_describe(length)}, "
            f"per {by} (from flow.visits; first visits not measurable, left out)",
        ),
        meta={"freq_seconds": length.total_seconds(), "by": by},
    )


def split_units(
    view: View | pa.Table, treated: str, controls: Sequence[str] | None = None
) -> tuple[pa.Table, pa.Table]:
    """The treated unit's series and its controls' (every other unit unless ``controls``
    names them), from a :func:`step_series` table, ready for :func:`measure_impact`."""
    table = view.table if isinstance(view, View) else view
    units = table.column("unit")
    mine = table.filter(pc.equal(units, treated))
    if mine.num_rows == 0:
        known = sorted(set(units.to_pylist()))
        raise ValueError(f"no unit {treated!r} in the series; it has {known}")
    others = (
        table.filter(pc.is_in(units, pa.array(list(controls), pa.string())))
        if controls is not None
        else table.filter(pc.not_equal(units, treated))
    )
    return mine, others


def _bucketed(
    micros: np.ndarray,
    values: np.ndarray,
    length: timedelta,
    name: str,
    notes: list[str],
) -> View:
    f = int(length.total_seconds() * 1_000_000)
    origin = int((_ORIGIN - _EPOCH).total_seconds()) * 1_000_000
    keep = ~np.isnan(values)
    b = (micros[keep] - origin) // f
    buckets, inverse = np.unique(b, return_inverse=True)
    sums = np.bincount(inverse, weights=values[keep])
    counts = np.bincount(inverse)
    periods = pa.array(origin + buckets * f, pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    table = pa.table(
        {
            "period": periods,
            "value": pa.array(sums / np.maximum(counts, 1), pa.float64()),
            "n": pa.array(counts, pa.int64()),
        }
    )
    return View(name, table, notes=tuple(notes), meta={"freq_seconds": length.total_seconds()})


def _describe(length: timedelta) -> str:
    s = length.total_seconds()
    for unit, size in (("week", 604_800), ("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if s == size:
            return unit
    return f"period of {s:g} s"
