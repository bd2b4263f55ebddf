"""Predicted impact: an experiment's countermeasure run against the twin's model calibrated from
the node's own store, the prediction kept with the experiment.

A flow-level world (true parameters known to this test only) plays eight weeks of a
distribution centre and a shop into a node store. The experiment lowers the shop's base-stock
level by 10 units. Expected figures come by another route: the model is calibrated here from
the store's path and the same scenario run through :func:`keiretsu.sim.scenario.compare`
directly; and base-stock theory bounds the effect (Hopp & Spearman, *Factory Physics*, §2.4:
on hand is (S − X)⁺ for the lead-time demand X the shop's orders do not change, so lowering S
by 10 lowers on hand by between 0 and 10 units in every replication).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from keiretsu.analytics.log import Log
from keiretsu.kaizen import KaizenError, Target, a3, load, move, new_experiment, predict
from keiretsu.model.gs1 import canonical_id
from keiretsu.sim.calibrate import calibrate
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
)
from keiretsu.sim.scenario import Variant, compare
from keiretsu.sim.world import World, write_epcis_files
from keiretsu.store import Store

CUT = 10  # units off the shop's base-stock level
RUN = {"periods": 100, "replications": 256, "seed": 3}


@pytest.fixture(scope="module")
def world_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    truth = Network(
        name="dc-shop",
        period="day",
        companies=(
            Company(name="dc", buffers=(Buffer(name="dc", policy=BaseStock(level=50)),)),
            Company(name="shop", buffers=(Buffer(name="shop", policy=BaseStock(level=40)),)),
        ),
        links=(
            Link(target="dc", lead_time=Constant(value=1)),
            Link(source="dc", target="shop", lead_time=Gamma(mean=1.5, sd=0.4)),
        ),
        demand=(Demand(at="shop", distribution=Poisson(mean=10.0)),),
    )
    root = tmp_path_factory.mktemp("kaizen_world")
    world = World(truth, seed=5).run(56)
    with Store(root / "store.duckdb") as store:
        for path in write_epcis_files(world, root / "epcis").values():
            assert store.ingest_file(path).status == "accepted"
    # the twin is told what each GS1 site is called, nothing else
    names = {canonical_id(v["site"]): k for k, v in world.truth()["stock"].items()}
    return root / "store.duckdb", names


def test_the_prediction_is_the_twins_scenario_and_is_kept_with_the_experiment(
    world_store: tuple[Path, dict[str, str]],
) -> None:
    path, names = world_store
    # the other route: calibrate from the file, run the scenario directly
    with Store(path) as store:  # one configuration of the file per process (DuckDB)
        twin = calibrate(Log.from_connection(store.con), period="day", names=names).network
    level = twin.buffers["shop"].policy.target
    assert level is not None and level > CUT + 5
    variant = Variant("shop-lower", {"buffer.shop.policy.level": level - CUT})
    direct = compare(twin, [variant], kpis=("on_hand",), workers=1, **RUN)
    expected = next(r for r in direct.table.to_pylist() if r["scope"] == "shop")

    with Store(path) as store:
        eid = new_experiment(
            store,
            title="Less stock at the shop",
            problem="The shop holds more than it sells in its lead time",
            waste="inventory",
            hypothesis=f"{CUT} units less base stock cut on hand with the fill rate kept",
            countermeasure=variant,
            target=Target(metric="on_hand", scope="shop", direction="decrease", unit="units"),
            owner="shop manager",
        ).experiment_id
        view = predict(store, eid, names=names, workers=1, **RUN)
        got = view.to_pylist()[0]
        assert load(store, eid).status == "simulated"

    for key in ("baseline", "value", "difference", "ci_low", "ci_high", "pct"):
        assert got[key] == pytest.approx(expected[key], rel=1e-12), key
    assert got["replications"] == RUN["replications"] and got["seed"] == RUN["seed"]
    # base-stock theory: between 0 and CUT units less on hand, and significantly less
    assert -CUT <= got["difference"] < 0
    assert got["significant"] and got["ci_high"] < 0 and got["in_direction"]

    with Store(path, read_only=True) as again:
        kept = load(again, eid)
    rows = kept.predictions.to_pylist()
    assert len(rows) == 1
    assert rows[0]["difference"] == pytest.approx(expected["difference"], rel=1e-12)
    assert (rows[0]["ci_low"], rows[0]["ci_high"]) == pytest.approx(
        (expected["ci_low"], expected["ci_high"]), rel=1e-12
    )
    assert [h["status"] for h in kept.history.to_pylist()] == ["plan", "simulated"]
    page = a3(kept)
    assert page["results"]["predicted"]["difference"] == pytest.approx(expected["difference"])
    assert page["current_condition"]["baseline"] == pytest.approx(expected["baseline"])


def test_a_prediction_on_a_given_model_does_not_move_a_running_experiment(
    world_store: tuple[Path, dict[str, str]],
) -> None:
    """A second prediction (here on a model handed in) is kept beside the first; an experiment
    already running stays running. A target the twin does not simulate is refused, naming the
    ones it does."""
    path, names = world_store
    with Store(path) as store:  # one configuration of the file per process (DuckDB)
        twin = calibrate(Log.from_connection(store.con), period="day", names=names).network
    with Store(path) as store:
        eid = new_experiment(
            store,
            title="Share the shop's sales with the DC",
            problem="The DC's orders swing more than the shop's sales",
            hypothesis="Seeing end-customer demand calms the DC's orders",
            countermeasure=Variant("share", {"company.*.sees": ["orders", "end_customer_demand"]}),
            kind="information",
            target=Target(metric="on_hand", scope="network"),
            owner="DC planner",
        ).experiment_id
        move(store, eid, "simulated")
        move(store, eid, "running")
        predict(store, eid, model=twin, workers=1, periods=60, replications=256)
        predict(store, eid, model=twin, workers=1, periods=60, replications=256, seed=1)
        kept = load(store, eid)
        assert kept.status == "running" and kept.predictions.num_rows == 2
        assert [r["seed"] for r in kept.predictions.to_pylist()] == [0, 1]

        other = new_experiment(
            store,
            title="Faster answers",
            problem="Orders wait for confirmation",
            hypothesis="A second clerk halves the wait",
            countermeasure=Variant("clerk", {}),
            target=Target(metric="waiting_hours"),
            owner="sales",
        ).experiment_id
        with pytest.raises(KaizenError, match=r"not one the twin simulates.*fill_rate"):
            predict(store, other, model=twin)
        wrong = new_experiment(
            store,
            title="Less stock nowhere",
            problem="p",
            hypothesis="h",
            countermeasure=Variant("v", {}),
            target=Target(metric="on_hand", scope="moon"),
            owner="o",
        ).experiment_id
        with pytest.raises(KaizenError, match="'moon' is not a buffer"):
            predict(store, wrong, model=twin)
