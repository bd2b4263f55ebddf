"""The two fidelities agree on a shared case: the flow-level world, measured on the EPCIS events
it emitted (keiretsu.sim.flow_kpis), and the policy-level simulation of the same chain.

The case: a plant supplied from outside in one day and a shop two days from the plant, no
process steps (nothing limits processing), base-stock at both, Poisson(8) a day at the shop,
backorders. The world reviews each buffer at the start of a day and its customers come during
the day; the policy level serves the day's demand and then reviews, so the shop covers one more
day of demand in the world: the policy level plays the same chain with one more day on the
link into the shop (policy_counterpart), and counts that day's goods as in transit from the
plant, at the plant's holding cost, where the world still has them on the plant's shelf."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest
from scipy import stats  # type: ignore[import-untyped]

from keiretsu.analytics.inventory import stock_levels
from keiretsu.sim import simulate
from keiretsu.sim.flow_kpis import (
    aligned_start,
    flow_kpis,
    policy_counterpart,
    simulate_flow,
    site_names,
    world_log,
)
from keiretsu.sim.model import Network
from keiretsu.sim.world import World

MODEL = """
[network]
name = "plant-shop"
period = "day"
unmet = "backorder"

[[company]]
name = "plant"
  [[company.buffer]]
  name = "plant"
  policy = { kind = "base_stock", level = 40 }
  holding_cost = 0.5

[[company]]
name = "shop"
  [[company.buffer]]
  name = "shop"
  policy = { kind = "base_stock", level = 30 }
  holding_cost = 1.0

[[link]]
to = "plant"
lead_time = { kind = "constant", value = 1 }

[[link]]
from = "plant"
to = "shop"
lead_time = { kind = "constant", value = 2 }

[[demand]]
at = "shop"
distribution = { kind = "poisson", mean = 8 }
backorder_cost = 9.0
"""
MEAN, SHOP_LEAD, PLANT_LEAD, SHOP_LEVEL, PLANT_LEVEL = 8.0, 2, 1, 30, 40


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Network:
    path = tmp_path_factory.mktemp("fidelity") / "plant-shop.toml"
    path.write_text(MODEL)
    return Network.load(path)


@pytest.fixture(scope="module")
def both(network: Network) -> tuple[dict[str, dict[str, object]], dict[str, dict[str, object]]]:
    flow = simulate_flow(network, periods=250, replications=5, seed=3, warmup=20)
    policy = simulate(
        policy_counterpart(network), periods=250, replications=2000, seed=0, warmup=20
    )
    stages: dict[str, dict[str, object]] = {"network": dict(policy.totals)}
    stages.update({k: dict(v) for k, v in policy.stages.items()})
    return dict(flow.estimates), stages  # type: ignore[arg-type]


def _agree(flow: object, policy: object, shift: float = 0.0) -> None:
    """The two 95% intervals overlap (after ``shift``, added to the policy's figure)."""
    f_lo, f_hi = flow.low, flow.high  # type: ignore[attr-defined]
    p_lo, p_hi = policy.low + shift, policy.high + shift  # type: ignore[attr-defined]
    assert f_lo <= p_hi and p_lo <= f_hi, f"flow {flow} vs policy {policy} (+{shift})"


def test_on_hand_agrees_at_every_stage(both: tuple[dict, dict]) -> None:  # type: ignore[type-arg]
    flow, policy = both
    for stage in ("plant", "shop"):
        _agree(flow[stage]["on_hand"], policy[stage]["on_hand"])
    # and both are what base-stock theory gives for Poisson demand, from scipy: the shop
    # holds E[(S - D)+] over its protection of L + 1 days, the plant S - mean (always in stock)
    d = stats.poisson(MEAN * (SHOP_LEAD + 1))
    k = np.arange(SHOP_LEVEL + 1)
    shop = float(((SHOP_LEVEL - k) * d.pmf(k)).sum())
    assert flow["shop"]["on_hand"].low - 0.3 <= shop <= flow["shop"]["on_hand"].high + 0.3
    over = np.arange(SHOP_LEVEL, 200)
    backorders = float(((over - SHOP_LEVEL) * d.pmf(over)).sum())
    assert math.isclose(policy["shop"]["backorders"].mean, backorders, rel_tol=0.1)


def test_service_agrees(both: tuple[dict, dict]) -> None:  # type: ignore[type-arg]
    flow, policy = both
    _agree(flow["shop"]["fill_rate"], policy["shop"]["fill_rate"])
    _agree(flow["shop"]["backorders"], policy["shop"]["backorders"])
    _agree(flow["network"]["fill_rate"], policy["network"]["fill_rate"])


def test_cost_agrees_once_transit_is_counted_alike(both: tuple[dict, dict]) -> None:  # type: ignore[type-arg]
    flow, policy = both
    # the policy level counts one more day of the plant's shipments (MEAN units) in transit,
    # at the plant's holding cost, that the world keeps on the plant's shelf until morning
    extra = 0.5 * MEAN
    _agree(flow["plant"]["holding_cost"], policy["plant"]["holding_cost"], shift=-extra)
    _agree(flow["shop"]["cost"], policy["shop"]["cost"])
    _agree(flow["network"]["cost"], policy["network"]["cost"], shift=-extra)
    # in transit from the plant: the shop's daily order for SHOP_LEAD days
    _agree(flow["plant"]["in_transit"], type(flow["plant"]["in_transit"])(16.0, 16.0, 16.0, 1))


def test_bullwhip_of_base_stock_is_near_one(both: tuple[dict, dict]) -> None:  # type: ignore[type-arg]
    flow, policy = both
    # base stock passes demand on: exactly 1 at the policy level; the world's events show an
    # order when first shipped and a sale when served, so a stock-out's backorders, served at
    # the next delivery, bunch the demand the analytics read: near 1, not exactly
    assert policy["shop"]["bullwhip"].mean == pytest.approx(1.0)
    for stage in ("plant", "shop"):
        assert 0.9 < flow[stage]["bullwhip"].mean < 1.25


def test_on_hand_is_the_stock_ledgers(network: Network) -> None:
    """The per-period stock flow_kpis reads is stock_levels' (the analytics' own view) at the
    end of each day, and the fill rate is recounted from the raw EPCIS events."""
    start = aligned_start(24.0)
    world = World(network, seed=5, start=start).run(60)
    log = world_log(world)
    view = flow_kpis(log, network, origin=start, periods=60, hours_per_period=24.0, warmup=10)
    got = {(r["scope"], r["kpi"]): r["value"] for r in view.table.to_pylist()}
    sites = {v: k for k, v in site_names(network).items()}
    levels = stock_levels(log, freq="1d").table.to_pandas()
    for stage in ("plant", "shop"):
        rows = levels[
            (levels.location == sites[stage]) & levels["product"].str.endswith("09520001000010")
        ]
        ends = [start.timestamp() + 86400 * d for d in range(11, 61)]
        by_end = {t.timestamp(): q for t, q in zip(rows.time, rows.quantity, strict=True)}
        last = 0.0
        series = []
        for e in sorted(set(by_end) | set(ends)):
            last = by_end.get(e, last)
            if e in ends:
                series.append(last)
        assert got[(stage, "on_hand")] == pytest.approx(float(np.mean(series)))
    # fill rate: sales at any instant but a delivery's, over all sales in days 10..59 (plain
    # Python over the events the shop recorded)
    events = world.events()["shop"]
    deliveries = {e["eventTime"] for e in events if e.get("bizStep") == "storing"}
    lo, hi = start.timestamp() + 10 * 86400, start.timestamp() + 60 * 86400
    on_time = late = 0
    for e in events:
        if e.get("bizStep") != "retail_selling":
            continue
        t = datetime.fromisoformat(e["eventTime"]).astimezone(UTC).timestamp()
        if lo <= t < hi:
            if e["eventTime"] in deliveries:
                late += len(e["epcList"])
            else:
                on_time += len(e["epcList"])
    assert got[("shop", "fill_rate")] == pytest.approx(on_time / (on_time + late))
