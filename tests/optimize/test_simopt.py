"""The simulation-based optimizer: against the exact serial optimum of a published example,
with a fill-rate target, in both scopes, on every policy kind."""

from __future__ import annotations

import time

import numpy as np
import pytest
from scipy import stats

from keiretsu.optimize.simopt import (
    minimize_levels,
    optimize_network,
    parameters_of,
    with_parameters,
)
from keiretsu.sim.model import (
    RQ,
    SS,
    BaseStock,
    Buffer,
    Company,
    Constant,
    Demand,
    EchelonBaseStock,
    Forecast,
    Kanban,
    Link,
    Network,
    Normal,
    Poisson,
)
from keiretsu.sim.policy_level import simulate

# Snyder & Shen, Fundamentals of Supply Chain Theory, 2nd ed. (Wiley, 2019), Example 6.1:
# local holding costs 7, 4, 2; lead times 1, 1, 2; backorder cost 37.12; demand N(5, 1).
# The book's optimal expected cost: 47.65 per period (see tests/optimize/test_serial.py).
PUBLISHED_COST = 47.65


def _example_6_1(levels: tuple[float, float, float]) -> Network:
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


def test_lands_within_one_percent_of_the_exact_optimum() -> None:
    """From echelon levels 10, 20, 30 (cost far above the optimum), the optimizer's policy —
    evaluated on 2,000 replications it never searched on — costs within 1% of the book's
    optimum 47.65, its interval within 1% too, in well under 30 seconds."""
    start = _example_6_1((10.0, 20.0, 30.0))
    began = time.perf_counter()
    found = optimize_network(
        start,
        periods=100,
        replications=400,
        resolution=0.1,
        evaluation_replications=2000,
    )
    seconds = time.perf_counter() - began
    assert found.cost.mean == pytest.approx(PUBLISHED_COST, rel=0.01), found.cost
    assert found.cost.high < PUBLISHED_COST * 1.01
    before = simulate(start, periods=100, replications=2000, seed=1_000_003).totals["cost"]
    assert before.low > 1.05 * PUBLISHED_COST  # the start was far off
    assert seconds < 30
    levels = [found.policies[f"stage-{k}"].target for k in (1, 2, 3)]
    assert levels == pytest.approx([6.49, 12.02, 22.71], abs=0.5)  # the book's levels


def test_a_fill_rate_target_is_kept() -> None:
    """One shop, base stock, Poisson(10) demand, lead time 2, holding 1 and backorder 1 per
    unit per period: cost alone wants the newsvendor's level, the critical fractile
    b / (b + h) = 1/2 of the demand over the lead time (Poisson(20): scipy's median, 20); a
    98% fill-rate target costs a higher level. The evaluated fill rate meets the target."""

    def shop(level: float, backorder: float = 1.0) -> Network:
        return Network(
            name="shop",
            companies=(
                Company(
                    name="shop",
                    buffers=(Buffer(name="shop", policy=BaseStock(level=level), holding_cost=1.0),),
                ),
            ),
            links=(Link(target="shop", lead_time=Constant(value=2)),),
            demand=(Demand(at="shop", distribution=Poisson(mean=10.0), backorder_cost=backorder),),
        )

    # an order placed at the end of period t is on the shelf from period t + L (L = 2): the
    # level covers the demand of L periods, Poisson(20) (Snyder & Shen 2019, §4.3)
    newsvendor = stats.poisson(20).ppf(0.5)
    cheap = optimize_network(shop(40.0), periods=200, replications=200, evaluation_replications=500)
    assert cheap.policies["shop"].target == pytest.approx(newsvendor, abs=1.0)
    served = optimize_network(
        shop(40.0), fill_rate=0.98, periods=200, replications=200, evaluation_replications=500
    )
    assert served.fill_rate.mean >= 0.98 - served.fill_rate.half_width
    assert served.policies["shop"].target > cheap.policies["shop"].target
    assert served.cost.mean > cheap.cost.mean


def _two_stage(supplier_level: float, shop_level: float) -> Network:
    """A supplier with no backorder cost of its own feeding a shop."""
    return Network(
        name="two-stage",
        companies=(
            Company(
                name="shop",
                buffers=(
                    Buffer(name="shop", policy=BaseStock(level=shop_level), holding_cost=2.0),
                ),
            ),
            Company(
                name="supplier",
                buffers=(
                    Buffer(
                        name="supplier", policy=BaseStock(level=supplier_level), holding_cost=1.0
                    ),
                ),
            ),
        ),
        links=(
            Link(source="supplier", target="shop", lead_time=Constant(value=1)),
            Link(target="supplier", lead_time=Constant(value=2)),
        ),
        demand=(Demand(at="shop", distribution=Poisson(mean=8.0), backorder_cost=9.0),),
    )


def test_local_scope_costs_the_network_more() -> None:
    """Each company for itself, each keeping 98% fill rate to its customers, against one
    objective for the chain with 98% to end customers: the network scope's cost is lower,
    beyond both intervals (the supplier need not serve the shop at 98% for the shop to serve
    its customers at 98%); in the local scope each company meets its own target."""
    start = _two_stage(30.0, 20.0)
    kwargs = {"fill_rate": 0.98, "periods": 150, "replications": 150}
    local = optimize_network(start, scope="local", evaluation_replications=600, **kwargs)
    network = optimize_network(start, scope="network", evaluation_replications=600, **kwargs)
    assert network.cost.high < local.cost.low, (network.cost, local.cost)
    for buffer in ("shop", "supplier"):
        fill = local.evaluation.stages[buffer]["fill_rate"]
        assert fill.mean >= 0.98 - 2 * fill.half_width, buffer
    assert network.fill_rate.mean >= 0.98 - 2 * network.fill_rate.half_width


def test_every_policy_kind_on_an_assembly() -> None:
    """An assembly (two parts into one product) with (s, S) and (R, Q) parts, a kanban
    assembly line and a forecasting shop: the search improves on the starting policies on
    demand it never searched on, and each kind keeps its shape."""
    net = Network(
        name="assembly",
        companies=(
            Company(
                name="maker",
                buffers=(
                    Buffer(name="part-a", policy=SS(s=10, S=60), holding_cost=0.2, ordering_cost=5),
                    Buffer(name="part-b", policy=RQ(R=10, Q=40), holding_cost=0.2),
                    Buffer(name="product", policy=Kanban(cards=8, container=10), holding_cost=0.5),
                ),
            ),
            Company(
                name="shop",
                buffers=(
                    Buffer(
                        name="shop",
                        policy=Forecast(periods=4, safety_stock=40),
                        holding_cost=1.0,
                    ),
                ),
            ),
        ),
        links=(
            Link(target="part-a", lead_time=Constant(value=1)),
            Link(target="part-b", lead_time=Constant(value=2)),
            Link(source="part-a", target="product", lead_time=Constant(value=1)),
            Link(source="part-b", target="product", lead_time=Constant(value=1), units=2),
            Link(source="product", target="shop", lead_time=Constant(value=1)),
        ),
        demand=(Demand(at="shop", distribution=Poisson(mean=6.0), backorder_cost=5.0),),
    )
    found = optimize_network(
        net, periods=80, replications=60, evaluation_replications=400, max_evaluations=150
    )
    before = simulate(net, periods=80, replications=400, seed=1_000_003).totals["cost"]
    assert found.cost.high < before.low, (found.cost, before)
    kinds = {b: p.kind for b, p in found.policies.items()}
    assert kinds == {"part-a": "s_S", "part-b": "R_Q", "product": "kanban", "shop": "forecast"}
    table = found.to_arrow()
    assert table.num_rows == 2 + 2 + 1 + 1


@pytest.mark.parametrize(
    "policy",
    [
        BaseStock(level=12),
        EchelonBaseStock(level=30),
        SS(s=5, S=20),
        RQ(R=7, Q=12),
        Kanban(cards=3, container=10),
        Forecast(periods=5, safety_stock=8),
    ],
)
def test_parameters_read_back(policy: object) -> None:
    names, values = parameters_of(policy)  # type: ignore[arg-type]
    assert len(names) == len(values)
    assert with_parameters(policy, values) == policy  # type: ignore[arg-type]


def test_minimize_levels_finds_a_grid_minimum() -> None:
    """A bowl whose minimum is at (3.3, 7.8): on a grid of 0.5 the search ends at (3.5, 8.0),
    the grid point nearest the minimum of a round bowl."""
    found = minimize_levels(
        lambda x: float((x[0] - 3.3) ** 2 + (x[1] - 7.8) ** 2), [10.0, 1.0], resolution=0.5
    )
    assert np.allclose(found.x, (3.5, 8.0))
