"""False discoveries and power of the kaizen's measured impact (issue #12, "False discoveries").

Over many simulated worlds where a change has no real effect, the share in which
:func:`keiretsu.kaizen.measure.measure_impact` declares an effect (aim: the nominal 5%); over
the same worlds with an effect of known size added from the change on, the share in which it is
found (the power). Each world is a daily figure with a rising trend, a weekly rhythm and AR(1)
noise (ρ, sd 1), 4 or 8 weeks each side of the change, measured

* by an interrupted time series (ITS: no control; trend, level and slope change, weekly season),
* by difference-in-differences (DiD: a control step sharing trend and rhythm, its own noise),
* by the naive before/after comparison of means (Welch's t-test on the treated series),

with each error model of ``measure_impact``: ``ar1`` (GLS, AR(1) ρ by REML, Satterthwaite df —
the default), ``glsar`` (statsmodels' feasible GLS, iterated Cochrane–Orcutt) and ``hac``
(OLS with Newey–West errors). The effect sizes are in noise sds.

``--candidates N`` measures, on N worlds of the same kind, the remedies that were tried for the
interrupted time series beside the one chosen: REML's ρ with the plain n − k degrees of freedom
(no Satterthwaite), and exact maximum likelihood of a regression with AR(1) errors (statsmodels
``SARIMAX``, the normal reference its z-statistics come with).

    .venv/bin/python bench/kaizen_false_discoveries.py [--worlds 2000] [--days 56 112]
        [--rho 0.3] [--effects 0.5 1 2] [--errors ar1 glsar hac] [--workers 2] [--seed 12]
        [--candidates 0]
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections import Counter
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from scipy import signal, stats

from keiretsu.kaizen.measure import measure_impact


def _ar1(rng: np.random.Generator, n: int, rho: float) -> np.ndarray:
    """Stationary AR(1) noise with innovations of sd 1 (a burn-in of 50 periods)."""
    e = signal.lfilter([1.0], [1.0, -rho], rng.normal(0.0, 1.0, n + 50))
    return np.asarray(e[50:])


def _chunk(
    args: tuple[int, int, float, tuple[float, ...], tuple[str, ...], int],
) -> Counter[tuple[str, str, float]]:
    """Detections in ``worlds`` worlds of one stream: (method, errors, effect) → count."""
    worlds, days, rho, effects, errors, seed = args
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    change = days // 2
    shared = 0.05 * t + 2 * np.sin(2 * np.pi * t / 7)
    counts: Counter[tuple[str, str, float]] = Counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(worlds):
            noise, control_noise = _ar1(rng, days, rho), _ar1(rng, days, rho)
            control = dict(zip(t.tolist(), (10 + shared + control_noise).tolist(), strict=True))
            for size in (0.0, *effects):
                y = 20 + shared + size * (t >= change) + noise
                series = dict(zip(t.tolist(), y.tolist(), strict=True))
                for how in errors:
                    its = measure_impact(series, change, season=7, errors=how)  # type: ignore[arg-type]
                    did = measure_impact(series, change, control=control, errors=how)  # type: ignore[arg-type]
                    counts[("ITS", how, size)] += int(its.detected)
                    counts[("DiD", how, size)] += int(did.detected)
                p = its.naive_p_value
                counts[("naive", "Welch t", size)] += int(p is not None and p < 0.05)
    return counts


def run(
    worlds: int,
    days: int,
    rho: float,
    effects: tuple[float, ...],
    errors: tuple[str, ...],
    seed: int,
    workers: int,
) -> None:
    parts = max(1, workers) * 4
    sizes = [worlds // parts + (1 if i < worlds % parts else 0) for i in range(parts)]
    seeds = np.random.SeedSequence([seed, days]).generate_state(parts).tolist()
    jobs = [(n, days, rho, effects, errors, s) for n, s in zip(sizes, seeds, strict=True) if n]
    counts: Counter[tuple[str, str, float]] = Counter()
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            for c in pool.map(_chunk, jobs):
                counts.update(c)
    else:
        for job in jobs:
            counts.update(_chunk(job))
    print(
        f"\n{worlds} worlds, {days} days ({days // 2} before the change, {days - days // 2} "
        f"after), trend + weekly rhythm, AR(1) noise rho={rho}, sd 1; alpha = 5%"
    )
    head = " | ".join(f"power at {e:g} sd" for e in effects)
    print(f"| method | errors | false discoveries (95% CI) | {head} |")
    print("|---|---|---|" + "---|" * len(effects))
    rows = [(m, e) for m in ("ITS", "DiD") for e in errors] + [("naive", "Welch t")]
    for method, how in rows:
        k0 = counts[(method, how, 0.0)]
        ci = stats.binomtest(k0, worlds).proportion_ci(0.95)
        fd = f"{k0 / worlds:.1%} ({ci.low:.1%}–{ci.high:.1%})"
        power = " | ".join(f"{counts[(method, how, e)] / worlds:.1%}" for e in effects)
        print(f"| {method} | {how} | {fd} | {power} |")


def _its_design(days: int, change: int) -> np.ndarray:
    """The interrupted time series' regressors as measure_impact builds them for a weekly
    season: constant, level change, trend, slope change, three Fourier pairs of period 7."""
    t = np.arange(days, dtype=float)
    post = (t >= change).astype(float)
    cols = [np.ones(days), post, t, np.where(post > 0, t - change, 0.0)]
    for k in range(1, 4):
        cols += [np.cos(2 * np.pi * k * t / 7), np.sin(2 * np.pi * k * t / 7)]
    return np.column_stack(cols)


def _candidates_chunk(
    args: tuple[int, int, float, tuple[float, ...], int],
) -> Counter[tuple[str, float]]:
    import statsmodels.api as sm

    from keiretsu.kaizen.measure import _reml_fit

    worlds, days, rho, effects, seed = args
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    change = days // 2
    X = _its_design(days, change)
    n, k = X.shape
    shared = 0.05 * t + 2 * np.sin(2 * np.pi * t / 7)
    counts: Counter[tuple[str, float]] = Counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(worlds):
            noise = _ar1(rng, days, rho)
            _ar1(rng, days, rho)  # the control's noise in the main run: same worlds
            for size in (0.0, *effects):
                y = 20 + shared + size * (t >= change) + noise
                fit = _reml_fit(y, X, 1)
                p = 2 * stats.t.sf(abs(fit.params[1]) / fit.bse[1], n - k)
                counts[("REML, n − k df", size)] += int(p < 0.05)
                ml = sm.tsa.SARIMAX(y, exog=X, order=(1, 0, 0), concentrate_scale=True).fit(
                    disp=False
                )
                z = ml.params[1] / ml.bse[1]
                counts[("exact ML (SARIMAX), normal", size)] += int(
                    2 * stats.norm.sf(abs(z)) < 0.05
                )
    return counts


def run_candidates(
    worlds: int, days: int, rho: float, effects: tuple[float, ...], seed: int, workers: int
) -> None:
    parts = max(1, workers) * 4
    sizes = [worlds // parts + (1 if i < worlds % parts else 0) for i in range(parts)]
    seeds = np.random.SeedSequence([seed, days]).generate_state(parts).tolist()
    jobs = [(m, days, rho, effects, s) for m, s in zip(sizes, seeds, strict=True) if m]
    counts: Counter[tuple[str, float]] = Counter()
    with ProcessPoolExecutor(max(1, workers)) as pool:
        for c in pool.map(_candidates_chunk, jobs):
            counts.update(c)
    print(f"\nother remedies tried, ITS only: {worlds} worlds, {days} days, rho={rho}")
    head = " | ".join(f"power at {e:g} sd" for e in effects)
    print(f"| ITS errors | false discoveries (95% CI) | {head} |")
    print("|---|---|" + "---|" * len(effects))
    for name in ("REML, n − k df", "exact ML (SARIMAX), normal"):
        k0 = counts[(name, 0.0)]
        ci = stats.binomtest(k0, worlds).proportion_ci(0.95)
        power = " | ".join(f"{counts[(name, e)] / worlds:.1%}" for e in effects)
        print(f"| {name} | {k0 / worlds:.1%} ({ci.low:.1%}–{ci.high:.1%}) | {power} |")


def main() -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--worlds", type=int, default=2000)
    p.add_argument("--days", type=int, nargs="+", default=[56, 112])
    p.add_argument("--rho", type=float, default=0.3)
    p.add_argument("--effects", type=float, nargs="+", default=[0.5, 1.0, 2.0])
    p.add_argument("--errors", nargs="+", default=["ar1", "glsar", "hac"])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seed", type=int, default=12)
    p.add_argument("--candidates", type=int, default=0, help="worlds for the other remedies")
    a = p.parse_args()
    start = time.perf_counter()
    for days in a.days:
        if a.worlds:
            run(a.worlds, days, a.rho, tuple(a.effects), tuple(a.errors), a.seed, a.workers)
        if a.candidates:
            run_candidates(a.candidates, days, a.rho, tuple(a.effects), a.seed, a.workers)
    print(f"\n({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
