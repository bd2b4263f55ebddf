"""The exact serial optimum (Clark-Scarf by Chen and Zheng's algorithm) against published
examples, and the policy-level simulation at its levels against its expected cost."""

from __future__ import annotations

import pytest

from keiretsu.optimize import optimal_echelon_base_stock, optimize_serial
from keiretsu.sim.model import (
    BaseStock,
    Buffer,
    Company,
    Constant,
    Demand,
    EchelonBaseStock,
    Link,
    Network,
    Normal,
    Poisson,
)
from keiretsu.sim.policy_level import simulate

# Snyder & Shen, Fundamentals of Supply Chain Theory, 2nd ed. (Wiley, 2019), Example 6.1:
# three stages, stage 1 facing customers; local holding costs 7, 4, 2 per unit per period
# (echelon 3, 2, 2); lead times 1, 1, 2 periods; backorder cost 37.12 per unit per period;
# demand normal, mean 5, sd 1 per period. Published optimum: echelon base-stock levels
# 6.49, 12.02, 22.71 and expected cost 47.65 per period (the numbers as the book's author
# quotes them in stockpyl's documentation, docs/tutorial/tutorial_sim.rst).
EXAMPLE_6_1 = {
    "holding": [7.0, 4.0, 2.0],
    "leads": [1, 1, 2],
    "backorder": 37.12,
    "demand": Normal(mean=5.0, sd=1.0),
    "levels": (6.49, 12.02, 22.71),
    "cost": 47.65,
}


def test_snyder_shen_example_6_1() -> None:
    """The three-stage example's optimal levels to the book's two decimals, its cost to 0.1%."""
    ex = EXAMPLE_6_1
    opt = optimal_echelon_base_stock(ex["holding"], ex["leads"], ex["backorder"], ex["demand"])
    assert [round(s, 2) for s in opt.echelon_levels] == pytest.approx(ex["levels"], abs=0.011)
    assert opt.cost == pytest.approx(ex["cost"], rel=1e-3)
    assert opt.local_levels == pytest.approx((6.49, 5.53, 10.69), abs=0.011)


def test_one_stage_is_the_newsvendor() -> None:
    """One stage with lead time 1 is the newsvendor problem. Snyder & Shen (2019) Example 4.3:
    holding 0.18, stockout 0.70, demand normal with mean 50 and sd 8: S* = 56.60, expected
    cost 2.00 (1.9976 as printed in stockpyl's README, by the book's author)."""
    opt = optimal_echelon_base_stock([0.18], [1], 0.70, Normal(mean=50.0, sd=8.0))
    assert opt.echelon_levels[0] == pytest.approx(56.604, abs=0.005)
    assert opt.cost == pytest.approx(1.9976, rel=1e-3)


def _example_network(levels: tuple[float, ...] | None = None, *, local: bool = False) -> Network:
    names = ["stage-1", "stage-2", "stage-3"]
    levels = levels or EXAMPLE_6_1["levels"]
    companies = []
    for k, name in enumerate(names):
        policy = BaseStock(level=levels[k]) if local else EchelonBaseStock(level=levels[k])
        companies.append(
            Company(
                name=name,
                sees=("orders", "partner_inventory"),
                buffers=(Buffer(name=name, policy=policy, holding_cost=EXAMPLE_6_1["holding"][k]),),
            )
        )
    links = tuple(
        Link(
            source=names[k + 1] if k + 1 < 3 else None,
            target=names[k],
            lead_time=Constant(value=EXAMPLE_6_1["leads"][k]),
        )
        for k in range(3)
    )
    demand = Demand(at="stage-1", distribution=EXAMPLE_6_1["demand"], backorder_cost=37.12)
    return Network(name="example-6-1", companies=tuple(companies), links=links, demand=(demand,))


def test_optimizing_the_model_gives_the_same_optimum() -> None:
    opt = optimize_serial(_example_network())
    assert opt.stages == ("stage-1", "stage-2", "stage-3")
    assert opt.cost == pytest.approx(EXAMPLE_6_1["cost"], rel=1e-3)


def test_simulation_at_the_optimum_gives_the_exact_cost() -> None:
    """Simulated at the optimal echelon levels, the cost per period's 95% interval holds the
    exact expected cost; as installation levels (S_j - S_(j-1)) the same policy costs the same,
    replication for replication."""
    model = _example_network()
    opt = optimize_serial(model)
    echelon = simulate(model.with_policies(opt.policies()), periods=500, replications=2000, seed=11)
    cost = echelon.totals["cost"]
    assert opt.cost in cost, (opt.cost, cost)
    assert cost.half_width < 0.002 * opt.cost  # a tight interval, not a vacuous one
    local = simulate(
        _example_network(opt.local_levels, local=True), periods=500, replications=2000, seed=11
    )
    assert local.totals["cost"].mean == pytest.approx(cost.mean, rel=1e-9)


def test_the_optimum_beats_its_neighbours() -> None:
    """With the same demand (common random numbers), moving any level by one unit up or down
    costs more: Poisson demand, four stages."""
    holding, leads = [4.0, 3.0, 2.0, 1.0], [1, 2, 1, 2]
    opt = optimal_echelon_base_stock(holding, leads, 20.0, Poisson(mean=6.0))
    names = [f"s{k}" for k in range(4)]

    def network(levels: list[float]) -> Network:
        return Network(
            name="poisson-4",
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
                    source=names[k + 1] if k + 1 < 4 else None,
                    target=names[k],
                    lead_time=Constant(value=leads[k]),
                )
                for k in range(4)
            ),
            demand=(Demand(at="s0", distribution=Poisson(mean=6.0), backorder_cost=20.0),),
        )

    base = simulate(network(list(opt.echelon_levels)), periods=300, replications=1000, seed=5)
    assert opt.cost in base.totals["cost"]
    for k in range(4):
        for move in (-1.0, 1.0):
            levels = list(opt.echelon_levels)
            levels[k] += move
            other = simulate(network(levels), periods=300, replications=1000, seed=5)
            assert other.totals["cost"].mean > base.totals["cost"].mean, (k, move)


def test_costs_that_grow_upstream_are_refused() -> None:
    with pytest.raises(ValueError, match="must not grow upstream"):
        optimal_echelon_base_stock([1.0, 2.0], [1, 1], 10.0, Poisson(mean=3.0))


def test_a_network_that_is_not_serial_is_refused() -> None:
    from pathlib import Path

    import keiretsu

    net = Network.load(Path(keiretsu.__file__).parent / "examples" / "sim" / "distribution-5.toml")
    with pytest.raises(ValueError, match="not serial"):
        optimize_serial(net)
