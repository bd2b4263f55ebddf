"""Measured impact (issue #12 item 3): trend and seasonality do not pass for an effect, a real
effect is recovered within its interval, too few data is said plainly, and over many series
with no effect the measurement declares one at about the nominal rate. The AR(1) fit is
restricted maximum likelihood, checked against REML written with dense matrices.

Every series is simulated here with its effect known by construction; the naive comparison is
recomputed with scipy, independently of the code under test."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import signal, stats

from _data import data
from keiretsu.analytics import Log
from keiretsu.kaizen.measure import measure_impact, split_units, step_series
from keiretsu.store import Store


def _ar1(rng: np.random.Generator, n: int, rho: float, sd: float = 1.0) -> np.ndarray:
    """Errors that resemble their neighbours (AR(1)), as daily operations figures do."""
    return np.asarray(signal.lfilter([1.0], [1.0, -rho], rng.normal(0.0, sd, n)))


def _daily(values: np.ndarray, start: datetime = datetime(2024, 1, 1, tzinfo=UTC)) -> pa.Table:
    periods = [start + timedelta(days=i) for i in range(len(values))]
    return pa.table({"period": periods, "value": values.astype(float)})


def test_a_rising_trend_fools_the_naive_comparison_not_the_time_series() -> None:
    # lead time creeping up 0.1 h a day (demand growing), a change on day 60 that does nothing
    rng = np.random.default_rng(11)
    n = 120
    t = np.arange(n)
    y = 20 + 0.1 * t + _ar1(rng, n, 0.3)
    naive = stats.ttest_ind(y[60:], y[:60], equal_var=False)
    assert naive.pvalue < 1e-6  # the naive before/after says "lead time rose ~6 h"
    assert y[60:].mean() - y[:60].mean() == pytest.approx(6, abs=1)

    impact = measure_impact(_daily(y), datetime(2024, 3, 1, tzinfo=UTC), metric="lead hours")
    assert impact.method == "interrupted time series"
    assert impact.naive_effect == pytest.approx(y[60:].mean() - y[:60].mean())
    assert impact.naive_p_value == pytest.approx(naive.pvalue)
    assert not impact.detected
    assert impact.low is not None and impact.high is not None
    assert impact.low < 0 < impact.high
    assert impact.verdict.startswith("no effect detected")
    assert impact.mde is not None and 0 < impact.mde < 3  # it could have seen a 3 h change


def test_a_seasonal_cycle_fools_the_naive_comparison_not_the_time_series() -> None:
    # a 60-day cycle (±5 h); the change on day 90 falls at the start of a low half-cycle
    rng = np.random.default_rng(5)
    n = 120
    t = np.arange(n)
    y = 30 + 5 * np.sin(2 * np.pi * t / 60) + rng.normal(0, 1, n)
    naive = stats.ttest_ind(y[90:], y[:90], equal_var=False)
    assert naive.pvalue < 1e-6 and y[90:].mean() < y[:90].mean() - 3  # "waiting fell 4 h"

    impact = measure_impact(_daily(y), datetime(2024, 3, 31, tzinfo=UTC), season=60)
    assert impact.periods_before == 90 and impact.periods_after == 30
    assert impact.season == 60
    assert not impact.detected
    assert impact.low is not None and impact.high is not None and impact.low < 0 < impact.high


def test_a_real_effect_of_known_size_is_recovered_within_its_interval() -> None:
    # trend and weekly rhythm, and a kaizen that takes 2 h off the wait from day 70 on
    rng = np.random.default_rng(3)
    n = 140
    t = np.arange(n)
    y = 12 + 0.05 * t + 1.5 * np.sin(2 * np.pi * t / 7) - 2.0 * (t >= 70) + _ar1(rng, n, 0.3)
    impact = measure_impact(_daily(y), datetime(2024, 3, 11, tzinfo=UTC))
    assert impact.season == 7  # daily figures: the weekly rhythm is fitted
    assert impact.detected
    assert impact.low is not None and impact.high is not None
    assert impact.low < -2.0 < impact.high
    assert impact.verdict.startswith("effect detected")
    assert impact.mde is not None and impact.mde < 2.0


def test_difference_in_differences_against_a_control_step() -> None:
    # two comparable steps share a trend and a weekly rhythm; only the treated one changes
    rng = np.random.default_rng(8)
    n = 100
    t = np.arange(n)
    common = 0.08 * t + 2 * np.sin(2 * np.pi * t / 7)
    control = 10 + common + _ar1(rng, n, 0.3)
    treated = 14 + common - 1.5 * (t >= 50) + _ar1(rng, n, 0.3)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    days = [start + timedelta(days=i) for i in range(n)]
    table = pa.table(
        {
            "unit": ["pack"] * n + ["pick"] * n,
            "period": days + days,
            "value": np.concatenate([treated, control]),
        }
    )
    mine, others = split_units(table, "pack")
    impact = measure_impact(mine, days[50], control=others, metric="wait hours")
    assert impact.method == "difference-in-differences"
    assert impact.detected
    assert impact.low is not None and impact.high is not None
    assert impact.low < -1.5 < impact.high
    # the naive comparison on the treated step alone sees the trend, not the kaizen
    assert impact.naive_effect == pytest.approx(treated[50:].mean() - treated[:50].mean())
    assert impact.naive_effect is not None and impact.naive_effect > 0


def test_too_few_periods_are_said_plainly() -> None:
    y = np.array([5.0, 6.0, 5.5, 7.0, 4.0, 6.5, 5.0, 5.5, 6.0, 4.5])
    impact = measure_impact(_daily(y), datetime(2024, 1, 6, tzinfo=UTC))
    assert impact.effect is None and impact.low is None and impact.mde is None
    assert not impact.detected
    assert impact.verdict.startswith("too few data to tell")
    assert "5 period(s) before the change and 5 after" in impact.verdict
    assert any(note.startswith("not measurable — needs") for note in impact.notes)
    row = impact.to_view().to_pylist()[0]
    assert row["effect"] is None and row["verdict"] == impact.verdict


def test_false_discoveries_stay_near_the_nominal_rate() -> None:
    # 400 worlds of eight weeks (four each side of the change) with a trend, a weekly rhythm and
    # autocorrelated noise, and no effect at all: the share declared an effect must sit in the
    # 99% binomial range around 5% (10 to 32 of 400). On these very worlds the earlier default
    # (statsmodels' GLSAR, Cochrane–Orcutt ρ, n − k df) declares 40 — 10% — and fails here.
    rng = np.random.default_rng(2024)
    n, worlds = 56, 400
    t = np.arange(n)
    declared = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(worlds):
            y = 20 + 0.05 * t + 2 * np.sin(2 * np.pi * t / 7) + _ar1(rng, n, 0.3)
            series = dict(zip(t.tolist(), y.tolist(), strict=True))
            declared += measure_impact(series, n // 2, season=7).detected
    lo, hi = stats.binom.interval(0.99, worlds, 0.05)
    assert lo <= declared <= hi, f"{declared} of {worlds} declared an effect"


def _reml_dense(y: np.ndarray, X: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """REML by the textbook route: the full AR(1) correlation matrix R(ρ)_ij = ρ^|i−j|, the
    restricted log-likelihood −½[log|V| + log|X'V⁻¹X| + (n−k)·log σ̂² ] with V = R/(1−ρ²),
    maximised over a grid then refined; the GLS β̂ and its covariance σ̂²(X'V⁻¹X)⁻¹."""
    n, k = X.shape
    lags = np.abs(np.subtract.outer(np.arange(n), np.arange(n)))

    def parts(rho: float) -> tuple[float, np.ndarray, np.ndarray]:
        V = rho**lags / (1 - rho**2)
        Vi = np.linalg.inv(V)
        A = X.T @ Vi @ X
        beta = np.linalg.solve(A, X.T @ Vi @ y)
        r = y - X @ beta
        s2 = float(r @ Vi @ r) / (n - k)
        ll = -0.5 * (np.linalg.slogdet(V)[1] + np.linalg.slogdet(A)[1] + (n - k) * np.log(s2))
        return float(ll), beta, s2 * np.linalg.inv(A)

    grid = np.linspace(-0.95, 0.95, 381)
    best = grid[int(np.argmax([parts(r)[0] for r in grid]))]
    fine = np.linspace(best - 0.005, best + 0.005, 201)
    rho = float(fine[int(np.argmax([parts(r)[0] for r in fine]))])
    _, beta, cov = parts(rho)
    return rho, beta, cov


def test_the_ar1_fit_is_restricted_maximum_likelihood() -> None:
    # the fit's ρ, effect and standard error against REML written with dense matrices
    from keiretsu.kaizen.measure import _reml_fit

    rng = np.random.default_rng(7)
    n = 42
    t = np.arange(n, dtype=float)
    post = (t >= 21).astype(float)
    X = np.column_stack([np.ones(n), post, t, np.cos(2 * np.pi * t / 7)])
    y = 5 + 0.1 * t - 1.0 * post + _ar1(rng, n, 0.5)
    fit = _reml_fit(y, X, 1)
    rho, beta, cov = _reml_dense(y, X)
    assert fit.rho == pytest.approx(rho, abs=1e-4)
    assert np.allclose(fit.params, beta, rtol=1e-3, atol=1e-4)  # ρ on a 5e-5 grid
    assert fit.bse[1] == pytest.approx(np.sqrt(cov[1, 1]), rel=1e-3)
    assert 1 <= fit.df <= n - X.shape[1]  # Satterthwaite: fewer df than n − k, never more


@settings(max_examples=12, deadline=None)
@given(
    scale=st.floats(0.01, 100.0),
    shift=st.floats(-1e3, 1e3),
    seed=st.integers(0, 2**16),
)
def test_the_effect_follows_the_units_of_the_metric(scale: float, shift: float, seed: int) -> None:
    # hours or minutes, a different zero: the effect and its interval change unit with the
    # metric, the p-value and the verdict do not
    rng = np.random.default_rng(seed)
    n = 42
    t = np.arange(n)
    y = 3 + 0.02 * t + np.sin(2 * np.pi * t / 7) - 0.8 * (t >= 21) + _ar1(rng, n, 0.3)
    a = measure_impact(dict(enumerate(y.tolist())), 21, season=7)
    b = measure_impact(dict(enumerate((scale * y + shift).tolist())), 21, season=7)
    assert a.effect is not None and b.effect is not None and a.p_value is not None
    assert b.effect == pytest.approx(scale * a.effect, rel=1e-5, abs=1e-9 * scale)
    assert b.mde == pytest.approx(scale * (a.mde or 0), rel=1e-4)
    assert b.p_value == pytest.approx(a.p_value, rel=1e-3, abs=1e-9)


def test_unknown_error_models_are_refused() -> None:
    with pytest.raises(ValueError, match="errors must be one of ar1, glsar, hac, got 'ols'"):
        measure_impact({i: float(i % 3) for i in range(30)}, 15, errors="ols")  # type: ignore[arg-type]


def test_step_series_on_the_receipt_log_matches_pm4py(tmp_path: Path) -> None:
    # the WABO receipt log: every event a "complete", so the wait before a step is the time
    # since the case's previous event; the case's first event is not measurable
    source = data("logs", "receipt.xes.gz")
    with Store(tmp_path / "node.duckdb") as store:
        assert store.ingest_file(source).status == "accepted"
    view = step_series(Log.open(tmp_path / "node.duckdb"), "case", freq="1d")

    import pm4py

    df = pm4py.read_xes(str(source))
    df = df.rename(columns={"case:concept:name": "case", "concept:name": "step"})
    df["time"] = pd.to_datetime(df["time:timestamp"], utc=True)
    df = df.sort_values(["case", "time"], kind="stable")
    df["wait"] = df.groupby("case")["time"].diff().dt.total_seconds() / 3600.0
    df = df.dropna(subset=["wait"])
    df["period"] = df["time"].dt.floor("D")
    expected = df.groupby(["step", "period"])["wait"].agg(["mean", "count"]).reset_index()

    got = view.to_pandas().sort_values(["unit", "period"]).reset_index(drop=True)
    expected = expected.sort_values(["step", "period"]).reset_index(drop=True)
    assert got["unit"].tolist() == expected["step"].tolist()
    assert (got["period"] == expected["period"]).all()
    assert got["n"].tolist() == expected["count"].tolist()
    assert np.allclose(got["value"], expected["mean"], rtol=1e-9, atol=1e-6)
