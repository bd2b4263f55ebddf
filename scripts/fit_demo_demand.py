"""Fit the demo network's end-customer demand once, from real daily sales.

The data: SupplyGraph (Wasi et al., "SupplyGraph: A Benchmark Dataset for Supply Chain Planning
using Graph Neural Networks", arXiv:2401.15299; ciol-researchlab/SupplyGraph @ 0e6d010e,
LGPL-2.1) — the daily sales orders, in units, of an FMCG company's 41 products over 221 days
from 2023-01-01. We take one product family, group ``S`` (its 14 products), sum its sales per
day, and fit:

- the weekly season: the mean of each weekday over the mean of all days (Monday first);
- the level and the spread after the season is taken out: mean and standard deviation of
  sales / season, and a gamma distribution fitted to them by maximum likelihood (scipy), with
  the Kolmogorov-Smirnov distance reported.

The demo sells in cases of ``SCALE`` units so a day's sales at the retailer is tens of cases,
not tens of thousands of units: the mean is divided by ``SCALE``; the coefficient of variation
and the season are kept as measured. The numbers printed go into
``src/keiretsu/examples/demo/demo-5.toml`` (the demo needs nothing outside the repository).

    .venv/bin/python scripts/fit_demo_demand.py [/work/shared/data/supplygraph]
"""

from __future__ import annotations

import csv
import sys
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import numpy as np
from scipy import stats

GROUP = "S"
SCALE = 2000.0  # units per case in the demo


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data/supplygraph")
    with open(root / "Nodes" / "Node Types (Product Group and Subgroup).csv") as fh:
        members = {row["Node"] for row in csv.DictReader(fh) if row["Group"] == GROUP}
    daily: dict[datetime, float] = defaultdict(float)
    with open(root / "Temporal Data" / "Unit" / "Sales Order.csv") as fh:
        for row in csv.DictReader(fh):
            day = datetime.fromisoformat(row["Date"])
            daily[day] += sum(float(row[p] or 0) for p in members if p in row)
    days = sorted(daily)
    y = np.array([daily[d] for d in days])
    weekday = np.array([d.weekday() for d in days])
    season = np.array([y[weekday == k].mean() for k in range(7)]) / y.mean()
    season /= season.mean()
    open_day = season[weekday] > 0.05  # the company sells nothing on Fridays (its weekend)
    adjusted = y[open_day] / season[weekday[open_day]]
    mean, sd = float(adjusted.mean()), float(adjusted.std(ddof=1))
    positive = adjusted[adjusted > 0]  # a day without sales on a working day: a holiday
    shape, _loc, scale = stats.gamma.fit(positive, floc=0)
    ks = stats.kstest(positive, "gamma", args=(shape, 0, scale))
    print(
        f"product group {GROUP}: {len(members)} products, {len(days)} days "
        f"{days[0]:%Y-%m-%d} .. {days[-1]:%Y-%m-%d}, {int((y == 0).sum())} days without sales"
    )
    print(f"daily sales (units): mean {y.mean():.1f}, sd {y.std(ddof=1):.1f}")
    print("weekly season (Mon..Sun): [" + ", ".join(f"{s:.2f}" for s in season) + "]")
    print(f"working days {int(open_day.sum())}, of them without sales {int((adjusted == 0).sum())}")
    print(f"deseasonalised: mean {mean:.1f}, sd {sd:.1f}, CV {sd / mean:.3f}")
    print(
        f"gamma MLE: shape {shape:.3f} (CV {1 / np.sqrt(shape):.3f}), "
        f"KS distance {ks.statistic:.3f}"
    )
    print(
        f"deseasonalised, days with sales: mean {positive.mean():.1f}, "
        f"sd {positive.std(ddof=1):.1f}, CV {positive.std(ddof=1) / positive.mean():.3f}"
    )
    print(f"in cases of {SCALE:.0f}: mean {mean / SCALE:.2f}, sd {sd / SCALE:.2f}")


if __name__ == "__main__":
    main()
