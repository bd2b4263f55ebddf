"""The Check of PDCA on a node's real events (issue #12): an experiment's effect measured from
the date it went to the floor, kept with it, the experiment moved to checked, shown on its A3.

A flow-level world (its true parameters known to this test only) plays eight weeks of a plant
— a press (set-up 3 h + a Gamma(2 h, 0.5 h) draw per batch of 5) then a paint step — supplying
a shop. On day 28 the plant cuts the press's set-up to 1 h (SMED): the world reads a step's
set-up afresh at every batch start and keeps its processing-time draws (common random numbers),
so every batch from then on spends exactly 2 h less in the press. The true change of the mean
time in the press is therefore −2 h, from the world's own parameters. A second world, the same
seed with nothing changed, is the null."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from keiretsu.kaizen import (
    MEASURED_METRICS,
    KaizenError,
    Target,
    a3,
    check,
    load,
    measured,
    move,
    new_experiment,
    render_a3,
)
from keiretsu.model.gs1 import canonical_id
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
from keiretsu.sim.scenario import Variant
from keiretsu.sim.world import World, write_epcis_files
from keiretsu.store import Store

SETUP_BEFORE, SETUP_AFTER = 3.0, 1.0
TRUE_CHANGE = SETUP_AFTER - SETUP_BEFORE  # hours per batch, so per item, in the press
DAYS, CHANGE_DAY = 56, 28

NETWORK = Network(
    name="plant-shop",
    period="day",
    companies=(
        Company(
            name="plant",
            buffers=(Buffer(name="plant", policy=BaseStock(level=60)),),
            steps=(
                Step(
                    name="press",
                    processing_time=Gamma(mean=2.0, sd=0.5),
                    setup_time=SETUP_BEFORE,
                    batch_size=5,
                ),
                Step(name="paint", processing_time=Gamma(mean=1.0, sd=0.3), batch_size=5),
            ),
        ),
        Company(name="shop", buffers=(Buffer(name="shop", policy=BaseStock(level=40)),)),
    ),
    links=(
        Link(target="plant", lead_time=Constant(value=1)),
        Link(source="plant", target="shop", lead_time=Gamma(mean=1.5, sd=0.4)),
    ),
    demand=(Demand(at="shop", distribution=Poisson(mean=10.0)),),
)


def _store(root: Path, *, smed: bool) -> tuple[Path, datetime, dict[str, str]]:
    world = World(NETWORK, seed=5).run(CHANGE_DAY)
    if smed:
        plant = world.buffers["plant"]
        plant.steps = (
            plant.steps[0].model_copy(update={"setup_time": SETUP_AFTER}),
            *plant.steps[1:],
        )
    world.run(DAYS - CHANGE_DAY)
    path = root / "node.duckdb"
    with Store(path) as store:
        for p in write_epcis_files(world, root / "epcis").values():
            assert store.ingest_file(p).status == "accepted"
    names = {canonical_id(v["site"]): k for k, v in world.truth()["stock"].items()}
    return path, world.start + timedelta(days=CHANGE_DAY), names


@pytest.fixture(scope="module")
def smed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, datetime, dict[str, str]]:
    return _store(tmp_path_factory.mktemp("smed"), smed=True)


@pytest.fixture(scope="module")
def null(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, datetime, dict[str, str]]:
    return _store(tmp_path_factory.mktemp("null"), smed=False)


def _running(store: Store, since: datetime, target: Target) -> str:
    eid = new_experiment(
        store,
        title="Quick die change at the press",
        problem="Batches wait while the press is set up",
        waste="waiting",
        hypothesis="SMED cuts the press's set-up from 3 h to 1 h",
        countermeasure=Variant("smed", {}),
        target=target,
        owner="plant manager",
        at=since - timedelta(days=CHANGE_DAY + 1),
    ).experiment_id
    move(store, eid, "simulated", at=since - timedelta(hours=2))
    move(store, eid, "running", note="new set-up on the floor", at=since)
    return eid


PRESS = Target(metric="time_in_step_hours", scope="press", direction="decrease", unit="hours")


def test_check_finds_the_set_up_cut_and_keeps_it(
    smed: tuple[Path, datetime, dict[str, str]],
) -> None:
    path, changed, _ = smed
    with Store(path) as store:
        eid = _running(store, changed, PRESS)
        row = check(store, eid).to_pylist()[0]  # the change date: when it moved to running

    assert row["method"] == "interrupted time series" and row["unit"] == "hours"
    assert row["change_at"] == changed
    assert row["periods_after"] == DAYS - CHANGE_DAY
    assert row["detected"] and row["in_direction"]
    assert row["effect"] < 0
    assert row["low"] < TRUE_CHANGE < row["high"]
    assert row["high"] - row["low"] < 1.0  # a tight interval: a batch's noise is 0.5 h
    assert row["mde"] < abs(TRUE_CHANGE)
    assert row["status"] == "checked" and row["seq"] == 1

    with Store(path, read_only=True) as again:  # kept across a reopen
        kept = load(again, eid)
        newest = measured(again, eid)
        page = a3(kept, store=again)
        text = render_a3(kept, store=again)
    assert kept.status == "checked"
    last = kept.history.to_pylist()[-1]
    assert last["status"] == "checked" and "effect detected" in last["note"]
    assert newest is not None
    for key, value in {
        "metric": "time_in_step_hours",
        "scope": "press",
        "unit": "hours",
        "method": "interrupted time series",
        "effect": row["effect"],
        "ci_low": row["low"],
        "ci_high": row["high"],
        "p_value": row["p_value"],
        "detected": True,
        "mde": row["mde"],
        "periods_before": row["periods_before"],
        "periods_after": DAYS - CHANGE_DAY,
        "alpha": 0.05,
        "naive_effect": row["naive_effect"],
        "naive_p_value": row["naive_p_value"],
        "control": None,
        "verdict": row["verdict"],
    }.items():
        assert newest[key] == value, key
    assert newest["change_at"] == changed
    assert "restricted maximum likelihood" in newest["note"]
    assert page["results"]["measured"]["effect"] == pytest.approx(row["effect"])
    assert "Measured (interrupted time series, time_in_step_hours at press" in text
    assert "effect detected" in text


def test_a_null_change_is_not_declared(null: tuple[Path, datetime, dict[str, str]]) -> None:
    path, changed, _ = null
    with Store(path) as store:
        eid = _running(store, changed, PRESS)
        row = check(store, eid).to_pylist()[0]
        assert load(store, eid).status == "checked"  # "no effect" is a result too
    assert not row["detected"] and row["in_direction"] is False
    assert row["low"] < 0 < row["high"]
    assert row["verdict"].startswith("no effect detected")
    assert 0 < row["mde"] < abs(TRUE_CHANGE)  # it would have seen the real cut


def test_too_few_periods_are_said_kept_and_the_experiment_keeps_running(
    smed: tuple[Path, datetime, dict[str, str]],
) -> None:
    path, changed, _ = smed
    late = changed + timedelta(days=DAYS - CHANGE_DAY - 4)  # four days of events after it
    with Store(path) as store:
        eid = _running(store, late, PRESS)
        view = check(store, eid)
        row = view.to_pylist()[0]
        kept = measured(store, eid)
        assert load(store, eid).status == "running"
    assert row["verdict"].startswith("too few data to tell")
    assert row["effect"] is None and row["low"] is None and row["mde"] is None
    assert row["periods_after"] == 4 and not row["detected"]
    assert any("too few data" in n for n in view.notes)
    assert kept is not None and kept["verdict"] == row["verdict"]
    assert kept["effect"] is None and kept["detected"] is False


def test_a_control_step_gives_difference_in_differences(
    smed: tuple[Path, datetime, dict[str, str]],
) -> None:
    path, changed, _ = smed
    with Store(path) as store:
        eid = _running(store, changed, PRESS)
        view = check(store, eid, control=["paint"], advance=False)
        assert load(store, eid).status == "running"  # advance=False: measured, not moved
    row = view.to_pylist()[0]
    assert row["method"] == "difference-in-differences"
    assert row["control"] == "urn:keiretsu:bizstep:paint"
    assert any("parallel trends" in n or "no drift" in n for n in view.notes)


def test_on_hand_at_a_named_location(smed: tuple[Path, datetime, dict[str, str]]) -> None:
    path, changed, names = smed
    with Store(path) as store:
        eid = _running(store, changed, Target(metric="on_hand", scope="shop", unit="units"))
        row = check(store, eid, names=names, advance=False).to_pylist()[0]
        with pytest.raises(KaizenError, match=r"'moon' is not a location.*\(shop\)"):
            check(store, eid, scope="moon", names=names)
    assert row["metric"] == "on_hand" and row["unit"] == "units"
    assert row["periods_before"] == CHANGE_DAY and row["periods_after"] == DAYS - CHANGE_DAY
    assert row["effect"] is not None and row["low"] <= row["effect"] <= row["high"]


def test_what_cannot_be_checked_is_refused_plainly(
    smed: tuple[Path, datetime, dict[str, str]],
) -> None:
    path, changed, _ = smed
    with Store(path) as store:
        eid = _running(store, changed, Target(metric="fill_rate", scope="shop"))
        with pytest.raises(KaizenError) as refused:
            check(store, eid)
        message = str(refused.value)
        assert "'fill_rate' cannot be measured from the events" in message
        for name in MEASURED_METRICS:
            assert name in message
        assert measured(store, eid) is None  # nothing kept
        with pytest.raises(KaizenError, match=r"'lathe' is not a step or company.*press"):
            check(store, eid, metric="time_in_step_hours", scope="lathe")
        with pytest.raises(KaizenError, match="control 'kiln' is not a step"):
            check(store, eid, metric="wait_hours", scope="paint", control=["kiln"])
        planned = new_experiment(
            store,
            title="Not yet on the floor",
            problem="p",
            hypothesis="h",
            countermeasure=Variant("v", {}),
            target=PRESS,
            owner="o",
        ).experiment_id
        with pytest.raises(KaizenError, match=r"never moved to running.*pass change_at"):
            check(store, planned)
