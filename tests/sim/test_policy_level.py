"""The policy-level simulation: what a supply-chain analyst sees when running it."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import keiretsu
from keiretsu.sim.model import (
    BaseStock,
    Buffer,
    Company,
    Constant,
    Demand,
    Link,
    Network,
    Poisson,
    Step,
)
from keiretsu.sim.policy_level import simulate

EXAMPLES = Path(keiretsu.__file__).parent / "examples" / "sim"


def _shop(level: float, *, unmet: str = "backorder", capacity: float | None = None) -> Network:
    steps = () if capacity is None else (Step(name="pack", capacity=capacity),)
    return Network(
        name="shop",
        unmet=unmet,  # type: ignore[arg-type]
        companies=(
            Company(
                name="shop",
                steps=steps,
                buffers=(Buffer(name="shop", policy=BaseStock(level=level), holding_cost=1.0),),
            ),
        ),
        links=(Link(target="shop", lead_time=Constant(value=2)),),
        demand=(
            Demand(
                at="shop",
                distribution=Poisson(mean=10.0),
                backorder_cost=4.0,
                lost_sale_cost=6.0,
            ),
        ),
    )


def test_the_same_seed_gives_the_same_demand_to_a_baseline_and_a_variant() -> None:
    """Common random numbers: a variant's replications see the baseline's demand exactly,
    whatever the number of replications; another seed sees other demand."""
    base = simulate(_shop(30), periods=200, replications=300, seed=4)
    variant = simulate(_shop(40), periods=200, replications=300, seed=4)
    fewer = simulate(_shop(40), periods=200, replications=256, seed=4)
    other = simulate(_shop(30), periods=200, replications=300, seed=5)
    assert variant.totals["demand_mean"] == base.totals["demand_mean"]
    assert variant.totals["demand_variance"] == base.totals["demand_variance"]
    assert fewer.totals["demand_mean"].mean != base.totals["demand_mean"].mean
    assert other.totals["demand_mean"].mean != base.totals["demand_mean"].mean
    # more stock: fewer backorders, more holding
    assert variant.totals["backorders"].mean < base.totals["backorders"].mean
    assert variant.totals["holding_cost"].mean > base.totals["holding_cost"].mean


def test_a_longer_run_extends_a_shorter_one() -> None:
    """The first periods' demand does not depend on how many periods are drawn."""
    demand = _shop(30).demand[0]
    short = demand.sample(np.random.default_rng(2), 10, 70)
    long = demand.sample(np.random.default_rng(2), 10, 300)
    assert (long[:70] == short).all()


def test_lost_sales_are_not_backordered() -> None:
    """Under lost sales nothing waits; what is not served is lost at its cost per unit."""
    lost = simulate(_shop(28, unmet="lost_sale"), periods=400, replications=200, seed=1)
    t = lost.totals
    assert t["backorders"].mean == 0.0
    assert 0.8 < t["fill_rate"].mean < 1.0
    lost_units = (1 - t["fill_rate"].mean) * t["demand_mean"].mean
    assert t["shortage_cost"].mean == pytest.approx(6.0 * lost_units, rel=0.02)


def test_a_step_capacity_below_demand_starves_the_customers() -> None:
    """A packing step of 9 units per period cannot keep up with 10 per period on average."""
    free = simulate(_shop(40), periods=300, replications=100, seed=3)
    capped = simulate(_shop(40, capacity=9.0), periods=300, replications=100, seed=3)
    assert free.totals["fill_rate"].mean > 0.95
    assert capped.totals["fill_rate"].mean < 0.9
    assert capped.totals["backorders"].mean > 10 * free.totals["backorders"].mean


def test_an_assembly_draws_its_components_by_the_bill_of_materials() -> None:
    """A bicycle takes one frame and two wheels: the wheel stock ships twice the bicycles."""
    net = Network(
        name="bicycles",
        companies=(
            Company(
                name="assembler",
                buffers=(Buffer(name="bicycles", policy=BaseStock(level=40), holding_cost=3),),
            ),
            Company(
                name="frame-maker",
                buffers=(Buffer(name="frames", policy=BaseStock(level=30), holding_cost=1),),
            ),
            Company(
                name="wheel-maker",
                buffers=(Buffer(name="wheels", policy=BaseStock(level=60), holding_cost=0.5),),
            ),
        ),
        links=(
            Link(source="frames", target="bicycles", lead_time=Constant(value=1)),
            Link(source="wheels", target="bicycles", lead_time=Constant(value=2), units=2),
            Link(target="frames", lead_time=Constant(value=2)),
            Link(target="wheels", lead_time=Constant(value=1)),
        ),
        demand=(Demand(at="bicycles", distribution=Poisson(mean=8.0), backorder_cost=10),),
    )
    assert net.shape == "assembly"
    result = simulate(net, periods=300, replications=200, seed=8)
    bikes = result.stages["bicycles"]["demand_mean"].mean
    assert result.stages["wheels"]["demand_mean"].mean == pytest.approx(2 * bikes, rel=0.01)
    assert result.stages["frames"]["demand_mean"].mean == pytest.approx(bikes, rel=0.01)
    assert result.totals["fill_rate"].mean > 0.9


def test_sharing_sales_calms_the_distribution_centre() -> None:
    """The distribution example's central DC forecasts from the stores' orders; when the
    stores share their sales, it forecasts from those and its orders swing less."""
    alone = Network.load(EXAMPLES / "distribution-5.toml")
    data = alone.model_dump(by_alias=True)
    for company in data["company"]:
        if company["name"] == "central-dc":
            company["sees"] = ["orders", "end_customer_demand"]
    shared = Network.model_validate(data)
    a = simulate(alone, periods=300, replications=200, seed=9)
    s = simulate(shared, periods=300, replications=200, seed=9)
    assert (
        s.stages["central-dc"]["amplification"].high < a.stages["central-dc"]["amplification"].low
    )
    for scope in (a.totals, *a.stages.values()):
        for kpi, estimate in scope.items():
            assert math.isfinite(estimate.mean), kpi


def test_results_come_as_a_table() -> None:
    result = simulate(_shop(30), periods=100, replications=20, seed=1)
    table = result.to_arrow()
    assert table.column_names == ["scope", "kpi", "unit", "mean", "low", "high", "replications"]
    rows = {(r["scope"], r["kpi"]): r for r in table.to_pylist()}
    cost = rows[("network", "cost")]
    assert cost["low"] <= cost["mean"] <= cost["high"]
    assert cost["unit"] == "cost per period"
    assert rows[("shop", "fill_rate")]["replications"] == 20


def _moulder(level: float, batch: int, demand: float, *, lead: int = 1) -> Network:
    """A moulding shop: raw material from outside (``lead`` periods), one step working
    batches of ``batch``, base stock ``level``, a constant ``demand`` a period."""
    return Network(
        name="moulder",
        companies=(
            Company(
                name="moulder",
                steps=(Step(name="moulding", batch_size=batch),),
                buffers=(Buffer(name="housings", policy=BaseStock(level=level), holding_cost=1.0),),
            ),
        ),
        links=(Link(target="housings", lead_time=Constant(value=lead)),),
        demand=(Demand(at="housings", distribution=Constant(value=demand)),),
    )


@settings(max_examples=25, deadline=None)
@given(batch=st.integers(1, 10), demand=st.integers(1, 10), lead=st.integers(1, 3))
def test_raw_material_waits_for_a_whole_batch_half_a_batch_on_average(
    batch: int, demand: int, lead: int
) -> None:
    """Steady demand of d a period through a step working batches of B: what is received
    waits until a whole batch is there, cycling through the multiples of gcd(B, d) below B —
    (B − gcd(B, d)) / 2 units on average, on site (counted on hand, not held as the finished
    item). The site's stock is the level less what is in transit, batches or not."""
    level = 3 * (batch + demand * (lead + 1))
    run = simulate(_moulder(level, batch, demand, lead=lead), periods=2520, replications=2, seed=1)
    stage = run.stages["housings"]
    finished = stage["holding_cost"].mean  # holding 1 a unit: the finished housings only
    waiting = stage["on_hand"].mean - finished
    assert waiting == pytest.approx((batch - math.gcd(batch, demand)) / 2, abs=1e-6)
    # base stock: on site (finished + waiting) = level − what is in transit (lead × d)
    assert stage["on_hand"].mean == pytest.approx(level - lead * demand, abs=1e-6)
    assert stage["fill_rate"].mean == pytest.approx(1.0)


def test_a_level_cut_takes_less_stock_off_a_buffer_that_works_in_batches() -> None:
    """The same cut of a base-stock level: one unit at a time it comes off the stock nearly
    one for one; in batches of 20 the finished stock is lumpy and the cut runs it dry more
    often — less stock removed, more customers kept waiting."""
    from keiretsu.sim.scenario import Variant, compare

    def net(batch: int) -> Network:
        base = _moulder(40, batch, 10)
        return base.model_copy(
            update={"demand": (Demand(at="housings", distribution=Poisson(mean=10.0)),)}
        )

    cut = Variant("cut", {"buffer.housings.policy.level": 20})
    rows = {}
    for batch in (1, 20):
        table = compare(net(batch), [cut], periods=400, replications=64, seed=2).table
        rows[batch] = {
            r["kpi"]: r for r in table.to_pylist() if r["scope"] in ("housings", "network")
        }
    one, lumpy = rows[1], rows[20]
    assert one["on_hand"]["difference"] == pytest.approx(-20.0, abs=0.6)
    assert one["fill_rate"]["difference"] > -0.01
    assert one["on_hand"]["difference"] + 2 < lumpy["on_hand"]["difference"] < 0
    assert lumpy["fill_rate"]["difference"] < one["fill_rate"]["difference"] - 0.1
