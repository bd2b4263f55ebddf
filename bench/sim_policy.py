"""The policy-level simulation and the exact serial optimum against their peers.

    .venv/bin/python bench/sim_policy.py [--replications 4000] [--periods 500] [--no-stockpyl]

Needs the ``bench`` extra (SimPy): ``pip install -e '.[bench]'``.

1. **Periods simulated per second**, a four-stage serial chain (issue #11's figure): each stage
   an installation base-stock buffer, lead time 2 periods on every link (the top stage buys
   from an outside supplier), Poisson demand of 10 units per period at the bottom, holding
   costs 2, 1.5, 1, 0.5 per unit per period, backorders 10 per unit per period.
   - ours: :func:`keiretsu.sim.policy_level.simulate`, all replications at once (NumPy),
     demand drawing included;
   - SimPy 4: the same chain written the SimPy way, one replication at a time — a process
     per period that serves and orders stage by stage, a process per shipment that waits out
     its lead time (``env.timeout``) and puts the goods on the shelf;
   - stockpyl (``stockpyl.sim.simulation``), if it can be installed: it needs numpy < 2, so it
     gets its own virtual environment, ``bench/out/venv-stockpyl``, made on the first run.
   Both our run and SimPy's print the mean cost per period, so one sees they simulate the
   same chain. Periods per second = replications × periods / seconds.
2. **The exact serial optimum**, four stages, normal demand (mean 10, sd 3 per period),
   local holding costs 2, 1.5, 1, 0.5, lead times 2 each, backorder cost 10: ours
   (:func:`keiretsu.optimize.optimal_echelon_base_stock`) against stockpyl's
   ``ssm_serial.optimize_base_stock_levels`` (its defaults), seconds and cost.

Prints ratio lines (``... ratio Nx``); the median of ``--runs`` timings each.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import simpy

from keiretsu.optimize import optimal_echelon_base_stock
from keiretsu.sim.model import (
    BaseStock,
    Buffer,
    Company,
    Constant,
    Demand,
    Link,
    Network,
    Normal,
    Poisson,
)
from keiretsu.sim.policy_level import simulate

NAMES = ["retailer", "wholesaler", "distributor", "factory"]
HOLDING = [2.0, 1.5, 1.0, 0.5]
LEVELS = [30.0, 25.0, 25.0, 25.0]  # installation base-stock levels, retailer first
LEAD = 2
MEAN = 10.0
BACKORDER = 10.0
VENV = Path(__file__).parent / "out" / "venv-stockpyl"


def network() -> Network:
    companies = tuple(
        Company(
            name=name,
            buffers=(Buffer(name=name, policy=BaseStock(level=level), holding_cost=h),),
        )
        for name, level, h in zip(NAMES, LEVELS, HOLDING, strict=True)
    )
    links = tuple(
        Link(
            source=NAMES[k + 1] if k + 1 < len(NAMES) else None,
            target=NAMES[k],
            lead_time=Constant(value=LEAD),
        )
        for k in range(len(NAMES))
    )
    demand = Demand(at=NAMES[0], distribution=Poisson(mean=MEAN), backorder_cost=BACKORDER)
    return Network(name="bench-serial-4", companies=companies, links=links, demand=(demand,))


def simpy_replication(periods: int, seed: int) -> float:
    """One replication in SimPy; the mean cost per period."""
    env = simpy.Environment()
    demand = np.random.default_rng(seed).poisson(MEAN, periods).tolist()
    n = len(NAMES)
    on_hand = list(LEVELS)
    owed = [0.0] * n  # owed to each stage's customer (stage 0: end customers)
    on_order = [0.0] * n
    cost = [0.0]

    def deliver(stage: int, quantity: float) -> simpy.events.ProcessGenerator:
        yield env.timeout(LEAD)
        on_hand[stage] += quantity
        on_order[stage] -= quantity

    def review() -> simpy.events.ProcessGenerator:
        yield env.timeout(0.5)  # mid-period: the period's deliveries are in
        for t in range(periods):
            request = float(demand[t])
            for i in range(n):
                asked = owed[i] + request
                shipped = min(asked, on_hand[i])
                on_hand[i] -= shipped
                owed[i] = asked - shipped
                if i > 0:  # the shipment travels to the stage below
                    env.process(deliver(i - 1, shipped))
                position = on_hand[i] - owed[i] + on_order[i]
                order = max(LEVELS[i] - position, 0.0)
                on_order[i] += order
                if i == n - 1:  # the outside supplier ships at once
                    env.process(deliver(i, order))
                request = order
            cost[0] += BACKORDER * owed[0]
            for i in range(n):
                cost[0] += HOLDING[i] * on_hand[i]
                if i > 0:
                    cost[0] += HOLDING[i] * in_transit(i - 1, i)
            yield env.timeout(1)

    def in_transit(stage: int, shipper: int) -> float:
        # goods owed to stage by shipper are counted in on_order[stage]; in transit is the rest
        return on_order[stage] - owed[shipper]

    env.process(review())
    env.run()
    return cost[0] / periods


def stockpyl_python() -> Path | None:
    """The stockpyl environment's interpreter, made on first use; None if it cannot be."""
    python = VENV / "bin" / "python"
    if python.exists():
        return python
    print(f"# making {VENV} for stockpyl (numpy < 2) ...", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "stockpyl==1.0.2", "numpy<2"],
            check=True,
        )
    except subprocess.CalledProcessError as exc:
        print(f"# stockpyl could not be installed ({exc}); skipped")
        return None
    return python


STOCKPYL_SIM = """
import json, sys, time
from stockpyl.supply_chain_network import serial_system
from stockpyl.sim import simulation
periods, reps = int(sys.argv[1]), int(sys.argv[2])
net = serial_system(num_nodes=4, node_order_in_system=[4, 3, 2, 1],
    local_holding_cost={1: 2.0, 2: 1.5, 3: 1.0, 4: 0.5}, shipment_lead_time=2,
    stockout_cost={1: 10.0, 2: 0, 3: 0, 4: 0}, demand_type='P', mean=10.0,
    policy_type='BS', base_stock_level={1: 30.0, 2: 25.0, 3: 25.0, 4: 25.0})
start = time.perf_counter()
costs = [simulation(network=net, num_periods=periods, rand_seed=r + 1, progress_bar=False)
         for r in range(reps)]
print(json.dumps({"seconds": time.perf_counter() - start, "cost": sum(costs) / reps / periods}))
"""

STOCKPYL_OPT = """
import json, time
from stockpyl.ssm_serial import optimize_base_stock_levels
start = time.perf_counter()
S, C = optimize_base_stock_levels(num_nodes=4, echelon_holding_cost=[0.5, 0.5, 0.5, 0.5],
    lead_time=[2, 2, 2, 2], stockout_cost=10.0, demand_mean=10.0, demand_standard_deviation=3.0)
print(json.dumps({"seconds": time.perf_counter() - start, "cost": C,
                  "levels": [S[k] for k in sorted(S)]}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=4000)
    parser.add_argument("--periods", type=int, default=500)
    parser.add_argument("--simpy-replications", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-stockpyl", action="store_true")
    args = parser.parse_args()
    net = network()
    R, P = args.replications, args.periods

    print("# 1. policy-level simulation, 4-stage serial chain, Poisson(10) demand")
    simulate(net, periods=50, replications=64)  # warm the imports
    times, result = [], None
    for _ in range(args.runs):
        start = time.perf_counter()
        result = simulate(net, periods=P, replications=R, seed=1, warmup=0)
        times.append(time.perf_counter() - start)
    assert result is not None
    ours = R * P / statistics.median(times)
    print(
        f"keiretsu  {R} replications x {P} periods: {statistics.median(times):.2f} s, "
        f"{ours:,.0f} periods/s, cost per period {result.totals['cost']}"
    )

    simpy_times, simpy_costs = [], []
    for run in range(args.runs):
        start = time.perf_counter()
        simpy_costs = [
            simpy_replication(P, seed=1000 * run + r) for r in range(args.simpy_replications)
        ]
        simpy_times.append(time.perf_counter() - start)
    theirs = args.simpy_replications * P / statistics.median(simpy_times)
    print(
        f"SimPy     {args.simpy_replications} replications x {P} periods: "
        f"{statistics.median(simpy_times):.2f} s, {theirs:,.0f} periods/s, "
        f"cost per period {statistics.mean(simpy_costs):.4g}"
    )
    print(f"policy level vs SimPy: ratio {ours / theirs:.0f}x (aim 100x)")

    python = None if args.no_stockpyl else stockpyl_python()
    if python is not None:
        reps = 2
        out = subprocess.run(
            [str(python), "-c", STOCKPYL_SIM, str(P), str(reps)],
            check=True,
            capture_output=True,
            text=True,
        )
        sp = json.loads(out.stdout.strip().splitlines()[-1])
        theirs_sp = reps * P / sp["seconds"]
        print(
            f"stockpyl  {reps} replications x {P} periods: {sp['seconds']:.2f} s, "
            f"{theirs_sp:,.0f} periods/s, cost per period {sp['cost']:.4g} "
            "(stockpyl's own cost accounting)"
        )
        print(f"policy level vs stockpyl: ratio {ours / theirs_sp:.0f}x")

    print("# 2. exact serial optimum, 4 stages, normal demand (10, 3)")
    opt_times = []
    for _ in range(max(args.runs, 5)):
        start = time.perf_counter()
        opt = optimal_echelon_base_stock(HOLDING, [LEAD] * 4, BACKORDER, Normal(mean=10, sd=3))
        opt_times.append(time.perf_counter() - start)
    mine = statistics.median(opt_times)
    levels = ", ".join(f"{s:.3f}" for s in opt.echelon_levels)
    print(f"keiretsu  {mine * 1000:.1f} ms, cost {opt.cost:.5f}, echelon levels {levels}")
    if python is not None:
        out = subprocess.run(
            [str(python), "-c", STOCKPYL_OPT], check=True, capture_output=True, text=True
        )
        sp = json.loads(out.stdout.strip().splitlines()[-1])
        levels = ", ".join(f"{s:.3f}" for s in sp["levels"])
        print(f"stockpyl  {sp['seconds'] * 1000:.0f} ms, cost {sp['cost']:.5f}, levels {levels}")
        diff = (opt.cost - sp["cost"]) / sp["cost"]
        print(f"exact optimum vs stockpyl: ratio {sp['seconds'] / mine:.0f}x, cost {diff:+.3%}")


if __name__ == "__main__":
    main()
