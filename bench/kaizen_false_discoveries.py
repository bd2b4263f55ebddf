"""False discoveries and power of the kaizen's measured impact (issue #12, "False discoveries").

Over many simulated worlds where a change has no real effect, the share in which
:func:`keiretsu.kaizen.measure.measure_impact` declares an effect (aim: the nominal 5%); over
worlds with an effect of known size, the share in which it is found (the power). Each world is
a daily figure with a rising trend, a weekly rhythm and AR(1) noise (ρ), measured by an
interrupted time series (no control) and by difference-in-differences (a control step sharing
trend and rhythm), with the AR(1) GLS errors (default) and with HAC (Newey–West) errors.

    .venv/bin/python bench/kaizen_false_discoveries.py [--worlds 1000] [--days 120] [--rho 0.3]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from scipy import signal, stats

from keiretsu.kaizen.measure import measure_impact


def _ar1(rng: np.random.Generator, n: int, rho: float) -> np.ndarray:
    return np.asarray(signal.lfilter([1.0], [1.0, -rho], rng.normal(0.0, 1.0, n)))


def run(worlds: int, days: int, rho: float, effect: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    change = days // 2
    shared = 0.05 * t + 2 * np.sin(2 * np.pi * t / 7)
    counts: dict[tuple[str, str, float], int] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(worlds):
            noise, control_noise = _ar1(rng, days, rho), _ar1(rng, days, rho)
            control = dict(zip(t.tolist(), (10 + shared + control_noise).tolist(), strict=True))
            for size in (0.0, effect):
                y = 20 + shared + size * (t >= change) + noise
                series = dict(zip(t.tolist(), y.tolist(), strict=True))
                for errors in ("ar1", "hac"):
                    its = measure_impact(series, change, season=7, errors=errors)  # type: ignore[arg-type]
                    did = measure_impact(series, change, control=control, errors=errors)  # type: ignore[arg-type]
                    for method, impact in (("ITS", its), ("DiD", did)):
                        key = (method, errors, size)
                        counts[key] = counts.get(key, 0) + int(impact.detected)
    print(f"{worlds} worlds, {days} days (change on day {change}), AR(1) noise rho={rho}, sd 1")
    print(f"{'method':6} {'errors':6} {'false discoveries (95% CI)':30} power at effect {effect:g}")
    for method in ("ITS", "DiD"):
        for errors in ("ar1", "hac"):
            k0 = counts[(method, errors, 0.0)]
            k1 = counts[(method, errors, effect)]
            ci = stats.binomtest(k0, worlds).proportion_ci(0.95)
            fd = f"{k0 / worlds:6.1%} ({ci.low:.1%}-{ci.high:.1%})"
            print(f"{method:6} {errors:6} {fd:30} {k1 / worlds:6.1%}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--worlds", type=int, default=1000)
    p.add_argument("--days", type=int, default=120)
    p.add_argument("--rho", type=float, default=0.3)
    p.add_argument("--effect", type=float, default=1.0, help="the known effect (noise sd = 1)")
    p.add_argument("--seed", type=int, default=12)
    a = p.parse_args()
    start = time.perf_counter()
    run(a.worlds, a.days, a.rho, a.effect, a.seed)
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
