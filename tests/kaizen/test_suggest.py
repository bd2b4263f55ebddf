"""Suggestions: on a store the flow-level world filled, with a shop holding far more stock than
it needs, the twin's top suggestion attacks that stock; its money and hours agree with the
base-stock formula and with an independent simulation; ranking is by money per effort; an idea
abandoned here or at a partner is flagged with its lesson; a lean network gets nothing."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats  # type: ignore[import-untyped]

from keiretsu.analytics.log import Log
from keiretsu.analytics.rates import Rates
from keiretsu.analytics.waste import wastes
from keiretsu.kaizen import (
    KaizenError,
    Target,
    experiment_from_suggestion,
    move,
    new_experiment,
    predict,
    suggest,
)
from keiretsu.kaizen.suggest import EFFORT, candidates, priced
from keiretsu.model.gs1 import canonical_id
from keiretsu.sim.calibrate import CalibratedModel, calibrate
from keiretsu.sim.model import (
    BaseStock,
    Buffer,
    Company,
    Constant,
    Demand,
    Gamma,
    Link,
    Network,
    Poisson,
    Step,
)
from keiretsu.sim.policy_level import simulate
from keiretsu.sim.scenario import Variant, apply_variant
from keiretsu.sim.world import World, write_epcis_files
from keiretsu.store import Store
from keiretsu.store import kaizen as tables

SHOP_LEVEL = 60  # the shop sells 10 a day on a lead time of about 1.5 days: 60 is far too much
REPS, PERIODS = 64, 100


def _truth(shop: float = SHOP_LEVEL, dc: float = 40) -> Network:
    return Network(
        name="dc-shop",
        period="day",
        companies=(
            Company(name="dc", buffers=(Buffer(name="dc", policy=BaseStock(level=dc)),)),
            Company(name="shop", buffers=(Buffer(name="shop", policy=BaseStock(level=shop)),)),
        ),
        links=(
            Link(target="dc", lead_time=Constant(value=1)),
            Link(source="dc", target="shop", lead_time=Gamma(mean=1.5, sd=0.4)),
        ),
        demand=(Demand(at="shop", distribution=Poisson(mean=10.0)),),
    )


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("suggest")
    world = World(_truth(), seed=5).run(42)
    names = {canonical_id(v["site"]): k for k, v in world.truth()["stock"].items()}
    path = root / "node.duckdb"
    with Store(path) as store:
        for p in write_epcis_files(world, root / "epcis").values():
            assert store.ingest_file(p).status == "accepted"
        log = Log.from_connection(store.con)
        model = calibrate(log, names=names)
        findings = wastes(log, target_days=1.0)
    return {"path": path, "model": model, "findings": findings, "names": names}


def _suggest(store: Store, node: dict[str, Any], **kw: Any) -> Any:
    args: dict[str, Any] = {
        "model": node["model"],
        "findings": node["findings"],
        "replications": REPS,
        "periods": PERIODS,
        "object_type": None,
        "optimizer": False,
        "workers": 1,
    }
    args.update(kw)
    return suggest(store, **args)


def _copy(node: dict[str, Any], tmp_path: Path) -> Path:
    target = tmp_path / "node.duckdb"
    target.write_bytes(Path(node["path"]).read_bytes())
    return target


def test_top_suggestion_attacks_the_excess_stock_and_ranking_is_per_effort(
    node: dict[str, Any],
) -> None:
    with Store(node["path"]) as store:
        view = _suggest(store, node, object_type="trade item")
    rows = view.table.to_pylist()
    assert rows, view.notes
    top = rows[0]
    assert top["acts_on"] == "shop" and top["waste"] == "inventory"
    assert top["kind"] == "parameter"
    (path, level), *_ = json.loads(top["changes"]).items()
    assert path == "buffer.shop.policy.level" and level < SHOP_LEVEL
    assert "base stock 60 →" in top["rationale"]
    assert top["difference"] < 0 and top["ci_high"] < 0 and top["significant"]
    # ranked by money per effort point, each effort from the table of kinds × sites
    assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
    per = [r["per_effort"] for r in rows]
    assert per == sorted(per, reverse=True)
    for r in rows:
        assert r["per_effort"] == pytest.approx(r["money_removed"] / r["effort"])
        assert r["effort"] % EFFORT[r["kind"]] == 0
        assert r["money_removed"] > 0 and r["currency"] == "EUR"
    # the constraint the bottleneck view names is said; wastes the twin cannot simulate too
    assert view.meta["constraint"] is not None
    assert any("does not simulate" in n for n in view.notes)


def test_money_and_hours_agree_with_the_base_stock_formula_and_an_independent_run(
    node: dict[str, Any],
) -> None:
    rates = Rates(holding_per_year=0.3, unit_values={"shop": 4.0, "dc": 2.0})
    with Store(node["path"]) as store:
        view = _suggest(store, node, rates=rates)
    row = next(r for r in view.table.to_pylist() if r["candidate_id"] == "level-shop")
    new_level = json.loads(row["changes"])["buffer.shop.policy.level"]
    h = 4.0 * 0.3 / 365  # money per unit per day at the shop
    # the proposed level: lead-time demand at the service factor, by hand from the model
    net: Network = node["model"].network
    link = net.links_into("shop")[0]
    base = simulate(net, periods=PERIODS, replications=REPS, seed=0).stages["shop"]
    m, v = base["demand_mean"].mean, base["demand_variance"].mean
    lead, var_l = max(1.0, link.lead_time.mean_value), link.lead_time.variance
    z = stats.norm.ppf(0.98)
    assert new_level == math.ceil(m * lead + z * math.sqrt(v * lead + m * m * var_l) - 1e-9)
    # base-stock theory: on hand is (S − X)+, so cutting S by k cuts on hand by at most k —
    # by nearly k where the shelf seldom runs empty
    k = SHOP_LEVEL - new_level
    assert -k - 1e-9 <= row["difference"] <= -0.9 * k
    assert row["money_removed"] == pytest.approx(h * -row["difference"], rel=0.02)
    # an independent route: both networks simulated by hand, on-hand difference × the rate
    variant = apply_variant(net, Variant("x", {"buffer.shop.policy.level": new_level}))
    a = simulate(net, periods=PERIODS, replications=REPS, seed=0, warmup=20)
    b = simulate(variant, periods=PERIODS, replications=REPS, seed=0, warmup=20)
    d_shop = b.stages["shop"]["on_hand"].mean - a.stages["shop"]["on_hand"].mean
    d_net = b.totals["on_hand"].mean - a.totals["on_hand"].mean
    assert row["difference"] == pytest.approx(d_shop, abs=1e-9)
    assert row["hours_removed"] == pytest.approx(-d_net * 24, abs=1e-6)
    assert row["lead_hours_removed"] == pytest.approx(-d_net * 24 / net.demand[0].mean)
    # the dc's stock is untouched by the shop's level (it sees the same orders): all the money
    # is the shop's holding on its on-hand cut
    assert row["money_removed"] == pytest.approx(-d_shop * h, rel=1e-6)
    # the priced model carries the node's rates
    assert priced(net, rates).buffers["dc"].holding_cost == pytest.approx(2.0 * 0.3 / 365)


def test_an_abandoned_similar_experiment_here_flags_the_candidate(
    node: dict[str, Any], tmp_path: Path
) -> None:
    with Store(_copy(node, tmp_path)) as store:
        exp = new_experiment(
            store,
            title="Shop level down to 35",
            problem="too much on the shop's shelves",
            waste="inventory",
            hypothesis="less on hand, same fill rate",
            countermeasure=Variant("shop-35", {"buffer.shop.policy.level": 35}),
            kind="parameter",
            target=Target(metric="on_hand", scope="shop", direction="decrease"),
            owner="shop manager",
        )
        move(store, exp.experiment_id, "abandoned", note="Saturday rush emptied the shelf")
        view = _suggest(store, node)
    rows = {r["candidate_id"]: r for r in view.table.to_pylist()}
    flagged = rows["level-shop"]
    assert flagged["tried"] == "here"
    assert "Shop level down to 35" in flagged["lesson"]
    assert "Saturday rush emptied the shelf" in flagged["lesson"]
    assert exp.experiment_id in flagged["lesson"]
    # the dc's level was never tried
    assert rows["level-dc"]["tried"] is None and rows["level-dc"]["lesson"] is None


def test_a_partner_lesson_flags_the_candidate(node: dict[str, Any], tmp_path: Path) -> None:
    with Store(_copy(node, tmp_path)) as store:
        tables.add_lesson(
            store.con,
            "acme",
            {
                "experiment_id": "kz-acme01",
                "title": "Store levels cut to the forecast",
                "status": "abandoned",
                "waste": "inventory",
                "kind": "parameter",
                "variant_changes": {"buffer.store-9.policy.level": 20},
                "lesson": "lost sales on promotion days",
            },
        )
        tables.add_lesson(  # a success at a partner flags nothing
            store.con,
            "bolt",
            {
                "experiment_id": "kz-bolt01",
                "title": "Kanban at the line",
                "status": "adopted",
                "waste": "overproduction",
                "kind": "policy",
                "variant_changes": {"buffer.line.policy": {"kind": "kanban"}},
            },
        )
        view = _suggest(store, node)
    rows = view.table.to_pylist()
    levels = [r for r in rows if r["candidate_id"].startswith("level-")]
    assert levels and all(r["tried"] == "partner:acme" for r in levels)
    assert all("lost sales on promotion days" in r["lesson"] for r in levels)
    assert all(r["tried"] is None for r in rows if r["candidate_id"].startswith("kanban-"))


def test_nothing_to_improve_gives_an_empty_result_with_a_note(node: dict[str, Any]) -> None:
    lean = node["model"].network.with_policies(
        {"shop": BaseStock(level=18), "dc": BaseStock(level=12)}
    )
    with Store(node["path"]) as store:
        view = _suggest(store, node, model=lean)
    assert view.table.num_rows == 0
    assert "rank" in view.table.column_names
    assert any(n.startswith("nothing to improve") for n in view.notes)


def test_a_suggestion_becomes_an_experiment_whose_prediction_matches(
    node: dict[str, Any], tmp_path: Path
) -> None:
    model: CalibratedModel = node["model"]
    with Store(_copy(node, tmp_path)) as store:
        row = _suggest(store, node).table.to_pylist()[0]
        exp = experiment_from_suggestion(store, json.loads(json.dumps(row)), owner="shop lead")
        assert exp.status == "plan" and exp.kind == row["kind"] and exp.waste == "inventory"
        assert dict(exp.countermeasure.changes) == json.loads(row["changes"])
        assert exp.target.scope == row["acts_on"] and exp.target.direction == "decrease"
        assert exp.evidence.locations  # where the stock sits above a day of demand
        got = predict(store, exp.experiment_id, model=model, replications=REPS, periods=PERIODS)
    assert got.table.column("difference")[0].as_py() == pytest.approx(row["difference"])


def test_bad_input_is_refused_saying_what_is_wrong(node: dict[str, Any]) -> None:
    with Store(node["path"]) as store:
        with pytest.raises(KaizenError, match="effort: unknown kind 'magic'"):
            _suggest(store, node, effort={"magic": 2})
        with pytest.raises(KaizenError, match="replications: at least 2"):
            _suggest(store, node, replications=1)
        with pytest.raises(KaizenError, match="needs changes"):
            experiment_from_suggestion(
                store,
                {
                    "candidate_id": "x",
                    "kind": "parameter",
                    "waste": "inventory",
                    "acts_on": "shop",
                    "kpi": "on_hand",
                },
                owner="me",
            )


@settings(max_examples=60, deadline=None)
@given(
    level=st.integers(min_value=1, max_value=400),
    mean=st.floats(min_value=0.5, max_value=80),
    cv=st.floats(min_value=0.1, max_value=2.0),
    lead=st.floats(min_value=1.0, max_value=6.0),
)
def test_a_proposed_level_is_the_need_and_always_a_real_cut(
    level: int, mean: float, cv: float, lead: float
) -> None:
    net = _truth(shop=level).model_copy()
    net = Network.from_dict(
        {
            **_dict(net),
            "link": [
                {"to": "dc", "lead_time": {"kind": "constant", "value": 1}},
                {"from": "dc", "to": "shop", "lead_time": {"kind": "constant", "value": lead}},
            ],
        }
    )
    v = (cv * mean) ** 2
    baseline = {
        "shop": {"on_hand": level / 2, "demand_mean": mean, "demand_variance": v},
    }
    found = [c for c in candidates(net, baseline) if c.candidate_id == "level-shop"]
    need = math.ceil(mean * lead + stats.norm.ppf(0.98) * math.sqrt(v * lead) - 1e-9)
    if need <= level - max(1.0, 0.05 * level):
        (c,) = found
        assert c.variant.changes == {"buffer.shop.policy.level": need}
    else:
        assert not found


def _dict(net: Network) -> dict[str, Any]:
    import tomllib

    return tomllib.loads(net.to_toml())


def _moulder(level: float = 60) -> Network:
    """A moulder selling its housings: resin from outside (2 days), moulding in batches of 20,
    10 housings a day sold (Poisson) — far more stock than it needs."""
    return Network(
        name="moulder",
        period="day",
        companies=(
            Company(
                name="moulder",
                steps=(
                    Step(
                        name="moulding",
                        batch_size=20,
                        processing_time=Gamma(mean=2.0, sd=0.4),
                    ),
                ),
                buffers=(Buffer(name="housings", policy=BaseStock(level=level)),),
            ),
        ),
        links=(Link(target="housings", lead_time=Constant(value=2)),),
        demand=(Demand(at="housings", distribution=Poisson(mean=10.0)),),
    )


def test_smaller_batches_are_suggested_where_the_twin_sees_batches_and_predicted_in_batches(
    tmp_path: Path,
) -> None:
    """A moulder's twin reads its batches of 20 from its events; the stock it needs counts
    what waits for a batch to fill (19 units), and the suggestions include a set-up reduction
    (batches of 5) with the level cut to the need with the small batches — predicted by the
    twin's simulation working whole batches, and removing more stock than the level cut with
    the big batches at the same service."""
    world = World(_moulder(), seed=3).run(42)
    names = {canonical_id(v["site"]): k for k, v in world.truth()["stock"].items()}
    with Store(tmp_path / "node.duckdb") as store:
        for p in write_epcis_files(world, tmp_path / "epcis").values():
            assert store.ingest_file(p).status == "accepted"
        log = Log.from_connection(store.con)
        model = calibrate(log, names=names)
        (step,) = model.network.steps_of("housings")
        assert step.batch_size == 20  # read from the events, not from the world
        view = suggest(
            store,
            model=model,
            findings=wastes(log, target_days=1.0),
            replications=REPS,
            periods=PERIODS,
            object_type=None,
            optimizer=False,
            limit=None,
        )
    assert "setup-level-housings" in view.meta["considered"]
    rows = {r["candidate_id"]: r for r in view.table.to_pylist()}
    setup, cut = rows["setup-level-housings"], rows["level-housings"]
    new = json.loads(setup["changes"])
    assert new[f"step.{step.name}.batch_size"] == 5
    assert setup["kind"] == "policy" and "set-up reduction" in setup["rationale"]
    # the need: lead-time demand at 98 % service, plus a batch less one waiting to fill
    level = json.loads(cut["changes"])["buffer.housings.policy.level"]
    assert level - new["buffer.housings.policy.level"] == (20 - 1) - (5 - 1)
    assert "waiting for a batch" in cut["rationale"]
    # the prediction is the twin's simulation of the variant, whole batches and all
    net = priced(model.network, Rates())
    base = simulate(net, periods=PERIODS, replications=REPS, seed=0)
    alt = simulate(apply_variant(net, Variant("s", new)), periods=PERIODS, replications=REPS)
    diff = alt.stages["housings"]["on_hand"].mean - base.stages["housings"]["on_hand"].mean
    assert setup["difference"] == pytest.approx(diff, abs=1e-6)
    # smaller batches let the stock come down further at the same service
    assert setup["difference"] < cut["difference"] - 10
    assert setup["fill_rate_difference"] > -0.005 and cut["fill_rate_difference"] > -0.005
