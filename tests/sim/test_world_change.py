"""A running world changes its floor as a company would: policies, lead times and demand from
the moment of the change on, everything in it kept where it was."""

from __future__ import annotations

import pytest

from keiretsu.sim.model import (
    BaseStock,
    Buffer,
    Company,
    Constant,
    Demand,
    Gamma,
    Link,
    ModelError,
    Network,
    Poisson,
)
from keiretsu.sim.scenario import Variant
from keiretsu.sim.world import World

NET = Network(
    name="dc-shop",
    period="day",
    companies=(
        Company(name="dc", buffers=(Buffer(name="dc", policy=BaseStock(level=60)),)),
        Company(name="shop", buffers=(Buffer(name="shop", policy=BaseStock(level=40)),)),
    ),
    links=(
        Link(target="dc", lead_time=Constant(value=1)),
        Link(source="dc", target="shop", lead_time=Gamma(mean=1.5, sd=0.4)),
    ),
    demand=(Demand(at="shop", distribution=Poisson(mean=10.0)),),
)


def _daily_on_hand(world: World, days: int) -> list[int]:
    out = []
    for _ in range(days):
        world.run(1)
        out.append(world.truth()["stock"]["shop"]["on_hand"])
    return out


def test_a_lower_base_stock_lowers_what_the_shop_holds_from_the_change_on() -> None:
    world = World(NET, seed=3)
    world.run(10)  # past the opening stock
    before = _daily_on_hand(world, 40)
    world.change({"buffer.shop.policy.level": 20})
    world.run(5)  # the pipeline drains to the new level
    after = _daily_on_hand(world, 40)
    drop = sum(before) / len(before) - sum(after) / len(after)
    # base stock: on hand is (S - lead-time demand)+, so 20 units less S lowers it by 0..20
    # units a day; with Poisson(10) over ~2.5 days of cover most of that shows
    assert 10 < drop <= 20.5, (before, after)
    assert world.network.buffers["shop"].policy == BaseStock(level=20)


def test_a_longer_lead_time_is_what_the_world_now_says_it_is() -> None:
    world = World(NET, seed=1).run(5)
    world.change(Variant("slow", {"link.dc->shop.lead_time": {"kind": "constant", "value": 3}}))
    assert world.truth()["links"]["dc->shop"]["mean_hours"] == pytest.approx(72.0)


def test_the_same_seed_and_change_give_the_same_events() -> None:
    def run() -> list[str]:
        w = World(NET, seed=7).run(8)
        w.change({"buffer.shop.policy.level": 25})
        w.run(8)
        return [e["eventID"] for e in w.events()["shop"]]

    assert run() == run()


def test_a_change_of_layout_is_refused() -> None:
    world = World(NET, seed=1).run(2)
    with pytest.raises(ModelError, match="no end-customer demand reaches"):
        world.change({"link.dc->shop.from": None})  # the dc would supply no one
    with pytest.raises(ValueError, match="layout"):
        world.change({"company.shop.name": "store"})
    with pytest.raises(ModelError, match="nonsense"):
        world.change({"buffer.shop.policy.nonsense": 1})
