"""The simulation-based optimizer and the gain of connecting.

    .venv/bin/python bench/sim_optimize.py [--quick]

1. **The optimizer against the exact optimum**: Snyder & Shen (2019) Example 6.1 (three
   stages, echelon base stock, normal demand), searched from echelon levels 10, 20, 30 on
   400 replications × 100 periods to 0.1 unit, evaluated on 2,000 other replications; the
   exact Chen–Zheng cost beside it, the gap in %, the seconds.
2. **The gain of connecting on the beer game** (Sterman's set-up, Poisson demand around
   4-then-8, 36 weeks, 1,000 replications): isolated (anchoring and adjustment on the
   orders received), connected (on shared end-customer demand), network-optimal (base-stock
   levels searched for the team's cost) — cost per week and waste, with 95% intervals and the
   paired difference from isolated.
3. **The same on** ``src/keiretsu/examples/sim/distribution-5.toml`` (a plant, a central DC,
   three stores; lost sales): each arm's policies searched (local scope: each company for
   itself at 95% fill rate to its customers; network scope: one objective, 95% to end
   customers), then 20 batches × 50 replications on other seeds.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from keiretsu.optimize import optimize_serial
from keiretsu.optimize.gain import Gain, gain_of_connecting
from keiretsu.optimize.simopt import optimize_network
from keiretsu.sim.beer_game import BeerGame
from keiretsu.sim.model import (
    Buffer,
    Company,
    Constant,
    Demand,
    EchelonBaseStock,
    Link,
    Network,
    Normal,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "src" / "keiretsu" / "examples" / "sim"


def example_6_1(levels: tuple[float, float, float]) -> Network:
    names, holding, leads = ["stage-1", "stage-2", "stage-3"], [7.0, 4.0, 2.0], [1, 1, 2]
    return Network(
        name="example-6-1",
        companies=tuple(
            Company(
                name=n,
                sees=("orders", "partner_inventory"),
                buffers=(Buffer(name=n, policy=EchelonBaseStock(level=s), holding_cost=h),),
            )
            for n, s, h in zip(names, levels, holding, strict=True)
        ),
        links=tuple(
            Link(
                source=names[k + 1] if k < 2 else None,
                target=names[k],
                lead_time=Constant(value=leads[k]),
            )
            for k in range(3)
        ),
        demand=(Demand(at="stage-1", distribution=Normal(mean=5.0, sd=1.0), backorder_cost=37.12),),
    )


def print_gain(gain: Gain) -> None:
    print(
        f"  {'arm':<16} {'kpi':<11} {'mean':>9} {'95% interval':>22} {'vs isolated':>12} "
        f"{'its interval':>22} {'%':>7}"
    )
    for row in gain.to_arrow().to_pylist():
        share = row["vs_isolated_share"]
        print(
            f"  {row['arm']:<16} {row['kpi']:<11} {row['mean']:>9.3f} "
            f"[{row['low']:>9.3f}, {row['high']:>9.3f}] {row['vs_isolated']:>12.3f} "
            f"[{row['vs_isolated_low']:>9.3f}, {row['vs_isolated_high']:>9.3f}] "
            f"{(share * 100 if share is not None else float('nan')):>6.1f}%"
        )
    for arm in gain.arms.values():
        print(f"  {arm.name}: optimized in {arm.seconds:.1f} s; policies {arm.policies}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer periods for distribution-5")
    args = parser.parse_args()

    print("1. simulation-based optimizer vs exact (Snyder & Shen Example 6.1)")
    exact = optimize_serial(example_6_1((6.49, 12.02, 22.71)))
    began = time.perf_counter()
    found = optimize_network(
        example_6_1((10.0, 20.0, 30.0)),
        periods=100,
        replications=400,
        resolution=0.1,
        evaluation_replications=2000,
    )
    seconds = time.perf_counter() - began
    levels = [round(p.target or 0.0, 2) for p in found.policies.values()]
    gap = (found.cost.mean / exact.cost - 1) * 100
    print(
        f"  exact (Chen-Zheng): levels {[round(x, 2) for x in exact.echelon_levels]}, "
        f"cost {exact.cost:.3f}"
    )
    print(
        f"  simulation-based: levels {levels}, cost {found.cost} ({gap:+.2f}%), "
        f"{found.evaluations} simulations in {seconds:.1f} s"
    )

    print("\n2. gain of connecting: the beer game (Poisson demand, 1,000 replications)")
    began = time.perf_counter()
    gain = gain_of_connecting(BeerGame(stochastic=True))
    print(f"  ({time.perf_counter() - began:.1f} s)")
    print_gain(gain)

    print("\n3. gain of connecting: distribution-5.toml (95% fill rate)")
    net = Network.load(EXAMPLES / "distribution-5.toml")
    began = time.perf_counter()
    gain = gain_of_connecting(
        net, periods=60 if args.quick else 100, replications=100, fill_rate=0.95
    )
    print(f"  ({time.perf_counter() - began:.1f} s)")
    print_gain(gain)


if __name__ == "__main__":
    main()
