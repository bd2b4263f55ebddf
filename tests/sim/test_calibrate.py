"""Calibration: a twin fits the network model from its store alone, and the model it fits
plays back the lead times the store shows.

A flow-level world with known parameters (built here: the test knows them, the twin does not)
plays eight weeks and writes each company's EPCIS documents; the store holds them. Every
expected figure is recomputed here from the raw JSON files with plain Python, and compared with
the world's true parameters through sampling intervals from scipy — never copied from the
calibration's own output.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from keiretsu.analytics import Log
from keiretsu.model.gs1 import canonical_id
from keiretsu.sim.calibrate import (
    CalibratedModel,
    calibrate,
    calibrate_store,
    compare_lead_times,
    finished_lead_hours,
    fit_counts,
    fit_times,
    last_shift,
    regime_start,
    simulate_lead_times,
    world_lead_hours,
)
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
from keiretsu.sim.world import World, write_epcis_files
from keiretsu.store import Store

PERIODS = 56  # days
Z = stats.norm.ppf(0.995)  # two-sided 99% intervals
PRESS_SETUP, PRESS = 0.5, Gamma(mean=2.0, sd=0.6)  # hours
TRANSPORT = {"plant-fg->dc": Gamma(mean=2.0, sd=0.5), "dc->shop": Gamma(mean=1.5, sd=0.4)}
LEVELS = {"plant-fg": 60, "dc": 50, "shop": 40}
DEMAND = 10.0  # Poisson, units a day
YIELD, REWORK = 0.9, 0.5
OWNER = {"plant": "plant-fg", "dc": "dc", "shop": "shop"}


def _network(levels: dict[str, int] = LEVELS) -> Network:
    """Plant (a press: set-up, batches of 10, 90% yield, half the bad ones reworked) supplied
    from outside, a distribution centre, a shop selling Poisson(10) a day, base-stock
    everywhere."""
    return Network(
        name="plant-dc-shop",
        period="day",
        companies=(
            Company(
                name="plant",
                steps=(
                    Step(
                        name="press",
                        processing_time=PRESS,
                        setup_time=PRESS_SETUP,
                        batch_size=10,
                        yield_=YIELD,
                        rework=REWORK,
                    ),
                ),
                buffers=(Buffer(name="plant-fg", policy=BaseStock(level=levels["plant-fg"])),),
            ),
            Company(name="dc", buffers=(Buffer(name="dc", policy=BaseStock(level=levels["dc"])),)),
            Company(
                name="shop", buffers=(Buffer(name="shop", policy=BaseStock(level=levels["shop"])),)
            ),
        ),
        links=(
            Link(target="plant-fg", lead_time=Constant(value=1)),
            Link(source="plant-fg", target="dc", lead_time=TRANSPORT["plant-fg->dc"]),
            Link(source="dc", target="shop", lead_time=TRANSPORT["dc->shop"]),
        ),
        demand=(Demand(at="shop", distribution=Poisson(mean=DEMAND)),),
    )


def _play(network: Network, root: Path, seed: int) -> tuple[World, dict[str, Path], Path]:
    world = World(network, seed=seed).run(PERIODS)
    paths = write_epcis_files(world, root / "epcis")
    with Store(root / "store.duckdb") as store:
        for path in paths.values():
            assert store.ingest_file(path).status == "accepted"
    return world, paths, root / "store.duckdb"


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> tuple[World, dict[str, Path], Path]:
    return _play(_network(), tmp_path_factory.mktemp("observed"), seed=11)


@pytest.fixture(scope="module")
def model(played: tuple[World, dict[str, Path], Path]) -> CalibratedModel:
    world, _, store = played
    # readable names for the sites: the twin is told what each GS1 site is called, no more
    names = {canonical_id(v["site"]): k for k, v in world.truth()["stock"].items()}
    return calibrate(store, period="day", names=names)


def _raw(path: Path) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = json.loads(path.read_bytes())["epcisBody"]["eventList"]
    return events


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _mean_within(sample: np.ndarray, mean: float, sd: float) -> None:
    half = Z * sd / math.sqrt(len(sample))
    assert abs(sample.mean() - mean) < half, (sample.mean(), mean, half)


def _sd_within(sample: np.ndarray, sd: float) -> None:
    """The sample sd inside the 99% chi-square interval of a normal sample's sd."""
    n = len(sample)
    lo, hi = stats.chi2.ppf([0.005, 0.995], n - 1)
    s = sample.std(ddof=1)
    assert sd * math.sqrt(lo / (n - 1)) < s < sd * math.sqrt(hi / (n - 1)), (s, sd)


def test_each_links_transport_time_is_the_pallets_shipping_to_receiving(
    played: tuple[World, dict[str, Path], Path], model: CalibratedModel
) -> None:
    _, paths, _ = played
    shipped: dict[str, tuple[str, datetime]] = {}
    received: dict[str, tuple[str, datetime]] = {}
    for company, path in paths.items():
        for e in _raw(path):
            if e.get("bizStep") == "shipping":
                shipped[e["epcList"][0]] = (OWNER[company], _t(e["eventTime"]))
            elif e.get("bizStep") == "receiving" and "epcList" in e:
                received[e["epcList"][0]] = (OWNER[company], _t(e["eventTime"]))
    by_link: dict[str, list[float]] = defaultdict(list)
    for sscc, (source, t0) in shipped.items():
        if sscc in received:
            target, t1 = received[sscc]
            by_link[f"{source}->{target}"].append((t1 - t0).total_seconds() / 86_400)
    assert set(by_link) == set(TRANSPORT)
    links = {f"{x.source}->{x.target}": x for x in model.network.links if x.source}
    assert set(links) == set(TRANSPORT)
    for key, truth in TRANSPORT.items():
        raw = np.asarray(by_link[key])
        fit = model.samples[("transport time", key.replace("->", " -> "))]
        assert fit.n == len(raw) >= 40
        assert fit.sample.mean() == pytest.approx(raw.mean(), rel=1e-9)
        assert fit.family in ("gamma", "normal", "uniform")
        assert fit.aic == min(fit.candidates.values())
        assert 0 <= fit.ks_distance <= 1 and 0 <= fit.ks_pvalue <= 1  # type: ignore[operator]
        # the twin's estimate is within sampling error of the world's truth
        _mean_within(raw, truth.mean, truth.sd)
        _sd_within(raw, truth.sd)
        assert abs(links[key].lead_time.mean_value - truth.mean) < Z * truth.sd / math.sqrt(
            len(raw)
        )
    # the outside supplier's lead time cannot be seen: it is set, and said so
    outside = [x for x in model.network.links if x.source is None]
    assert [x.target for x in outside] == ["plant-fg"]
    assert any(n.startswith("not measurable") and "outside" in n for n in model.notes)


def test_the_press_batch_time_size_and_yield(
    played: tuple[World, dict[str, Path], Path], model: CalibratedModel
) -> None:
    _, paths, _ = played
    plant = _raw(paths["plant"])
    made = {
        epc: _t(e["eventTime"])
        for e in plant
        if e["type"] == "TransformationEvent"
        for epc in e["outputEPCList"]
    }
    press = [e for e in plant if e.get("bizStep") == "urn:keiretsu:bizstep:press"]
    durations = np.asarray(
        [
            (_t(e["eventTime"]) - max(made[x] for x in e["epcList"])).total_seconds() / 3600
            for e in press
        ]
    )
    sizes = [len(e["epcList"]) for e in press]
    bad = sum(len(e["epcList"]) for e in plant if e.get("disposition") == "non_conformant")
    fixed = sum(len(e["epcList"]) for e in plant if e.get("bizStep") == "repairing")

    fit = model.samples[("processing time", "plant-fg/press")]
    assert fit.n == len(press) >= 50
    assert fit.sample.mean() == pytest.approx(durations.mean(), rel=1e-9)
    # set-up and processing together: the world's truth is their sum
    _mean_within(durations, PRESS_SETUP + PRESS.mean, PRESS.sd)
    _sd_within(durations, PRESS.sd)
    (step,) = (s for c in model.network.companies for s in c.steps)
    assert (step.name, step.buffer, step.setup_time) == ("press", "plant-fg", 0.0)
    assert step.processing_time is not None
    assert abs(step.processing_time.mean_value - (PRESS_SETUP + PRESS.mean)) < Z * PRESS.sd / (
        math.sqrt(len(press))
    )
    # the batch size is the most common one the events show, the world's
    assert max(set(sizes), key=sizes.count) == step.batch_size == 10
    # yield: the bad share of the items pressed, inside its binomial interval around the truth
    n = sum(sizes)
    assert step.yield_ == pytest.approx(1 - bad / n, abs=1e-6)
    lo, hi = stats.binom.interval(0.99, n, 1 - YIELD)
    assert lo <= bad <= hi
    assert step.rework == pytest.approx(fixed / bad, abs=1e-6)
    lo, hi = stats.binom.interval(0.99, bad, REWORK)
    assert lo <= fixed <= hi


def test_demand_is_the_units_sold_per_day(
    played: tuple[World, dict[str, Path], Path], model: CalibratedModel
) -> None:
    world, paths, _ = played
    start = world.start
    per_day = np.zeros(PERIODS)
    for e in _raw(paths["shop"]):
        if e.get("disposition") == "retail_sold":
            day = int((_t(e["eventTime"]) - start).total_seconds() // 86_400)
            per_day[day] += len(e["epcList"])
    fit = model.samples[("demand", "shop")]
    assert list(fit.sample) == list(per_day)
    (demand,) = model.network.demand
    assert demand.at == "shop"
    assert demand.mean == pytest.approx(per_day.mean(), rel=1e-9)
    # sales are demand, shifted by what waits on backorder: inside Poisson(10)'s interval
    truth = world.truth()["demand"]["shop"]
    lo, hi = stats.poisson.interval(0.99, DEMAND * PERIODS)
    assert lo - truth["backordered"] <= per_day.sum() <= hi
    assert fit.family in ("poisson", "normal", "gamma")


def test_base_stock_levels_are_read_from_the_positions(model: CalibratedModel) -> None:
    levels = {
        b.name: b.policy.level  # type: ignore[union-attr]
        for c in model.network.companies
        for b in c.buffers
    }
    assert levels == LEVELS
    assert model.network.shape == "serial"


def test_the_model_file_reads_back_to_the_same_model(
    model: CalibratedModel, tmp_path: Path
) -> None:
    path = tmp_path / "calibrated.toml"
    path.write_text(model.to_toml())
    again = Network.load(path)
    assert again.model_dump(exclude={"source"}) == model.network.model_dump(exclude={"source"})
    assert "not measurable" in path.read_text()


@pytest.fixture(scope="module")
def runs(model: CalibratedModel) -> list[np.ndarray]:
    return simulate_lead_times(model, replications=99, seed=100)


def test_a_runs_lead_times_are_what_object_times_measures_on_its_store(
    played: tuple[World, dict[str, Path], Path],
) -> None:
    """The validation reads simulated runs' lead times straight from their events (dozens of
    runs, no store): the same figures the analytics measure on the store."""
    world, _, store = played
    direct = np.sort(world_lead_hours(world))
    measured = np.sort(finished_lead_hours(Log.open(store)))
    assert len(direct) == len(measured) > 300
    assert direct == pytest.approx(measured, abs=1e-6)


def test_the_calibrated_model_reproduces_the_stores_lead_times(
    played: tuple[World, dict[str, Path], Path], runs: list[np.ndarray]
) -> None:
    _, _, store = played
    observed = finished_lead_hours(Log.open(store))
    rows = {r["test"]: r for r in compare_lead_times(observed, runs).to_pylist()}
    ks = rows["Kolmogorov-Smirnov (ks_2samp)"]
    pooled = np.concatenate(runs)
    expected = stats.ks_2samp(observed, pooled)
    assert ks["distance"] == pytest.approx(expected.statistic)
    assert ks["p_value_independent"] == pytest.approx(expected.pvalue)
    assert ks["observed_n"] == len(observed) > 300
    # not rejected: the store is no further from the model's runs than the runs from each other
    assert ks["p_value"] > 0.05 and not ks["rejected_at_5pct"], ks
    ad = rows["Anderson-Darling k-sample (anderson_ksamp)"]
    assert ad["p_value"] > 0.05 and not ad["rejected_at_5pct"], ad


def test_a_wrong_model_is_rejected(
    tmp_path: Path, model: CalibratedModel, runs: list[np.ndarray]
) -> None:
    """Stores holding twice the stock make goods wait far longer: the calibrated model's runs
    do not reproduce them, and the validation says so."""
    _, _, store = _play(_network({k: 2 * v for k, v in LEVELS.items()}), tmp_path, seed=11)
    observed = finished_lead_hours(Log.open(store))
    rows = {r["test"]: r for r in compare_lead_times(observed, runs).to_pylist()}
    for row in rows.values():
        assert row["p_value"] == pytest.approx(1 / 100) and row["rejected_at_5pct"], row


def test_fitting_picks_the_family_by_aic() -> None:
    rng = np.random.default_rng(3)
    gamma = fit_times(rng.gamma(2.0, 1.5, 400), quantity="t", subject="s", unit="hours")
    assert gamma.family == "gamma"
    assert gamma.parameters["a"] == pytest.approx(
        stats.gamma.fit(gamma.sample, floc=0)[0], rel=1e-9
    )
    flat = fit_times(rng.uniform(1, 3, 400), quantity="t", subject="s", unit="periods")
    assert flat.family == "uniform"
    assert fit_times([2.0] * 5, quantity="t", subject="s", unit="periods").family == "constant"
    counts = fit_counts(rng.poisson(7, 300), quantity="d", subject="s", unit="units")
    assert counts.family == "poisson"
    assert counts.distribution.mean_value == pytest.approx(counts.sample.mean())


def test_calibrate_store_gives_the_cli_the_file_the_fits_and_the_validation(
    played: tuple[World, dict[str, Path], Path],
) -> None:
    _, _, store = played
    text, fits, check = calibrate_store(store, replications=2)
    assert text.startswith("# calibrated from 56 periods")
    assert "[[company]]" in text and "base_stock" in text
    assert set(fits.table.column("quantity").to_pylist()) == {
        "transport time",
        "processing time",
        "batch size",
        "demand",
    }
    assert check.num_rows == 2 and check.table.column("replications").to_pylist() == [2, 2]


# --- the current regime: a policy changed mid-way ----------------------------------------------

NEW_LEVELS = {"plant-fg": 40, "dc": 35, "shop": 30}


@pytest.fixture(scope="module")
def changed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, Log, datetime]]:
    """Four weeks at the old levels, then every level cut (the world's ``change``, as a
    kaizen puts a new level on the floor) and four weeks more; the twin's store has it all
    (one log open for every test: what a calibration computes once, the next reuses)."""
    root = tmp_path_factory.mktemp("changed")
    world = World(_network(), seed=5).run(28)
    when = world.now
    world.change({f"buffer.{b}.policy.level": v for b, v in NEW_LEVELS.items()})
    world.run(28)
    with Store(root / "store.duckdb") as store:
        for path in write_epcis_files(world, root / "epcis").values():
            assert store.ingest_file(path).status == "accepted"
    log = Log.open(root / "store.duckdb")
    yield world, log, when
    log.backend.disconnect()


def _levels_of(model: CalibratedModel) -> dict[str, float]:
    return {
        b.name: b.policy.level  # type: ignore[union-attr]
        for c in model.network.companies
        for b in c.buffers
    }


def test_a_log_whose_levels_changed_mid_way_is_calibrated_on_the_new_regime(
    changed: tuple[World, Log, datetime],
) -> None:
    """The median position of the whole log would sit between the two levels (neither); the
    twin reads the new one — found in the positions alone, and from a window it is given."""
    world, store, when = changed
    names = {canonical_id(v["site"]): k for k, v in world.truth()["stock"].items()}
    assert _levels_of(calibrate(store, names=names)) == NEW_LEVELS
    windowed = calibrate(store, names=names, since=when)
    assert _levels_of(windowed) == NEW_LEVELS
    assert windowed.origin == when and windowed.periods == 28
    # the demand of the window only: within the 99% Poisson interval of 28 days' sales
    sold = windowed.samples[("demand", "shop")].sample
    assert len(sold) == 28
    lo, hi = stats.poisson.interval(0.99, DEMAND * 28)
    assert lo - 30 <= sold.sum() <= hi  # (a backorder open at the window's edges moves a sale)


def test_before_the_change_the_old_levels(changed: tuple[World, Log, datetime]) -> None:
    world, store, when = changed
    names = {canonical_id(v["site"]): k for k, v in world.truth()["stock"].items()}
    assert _levels_of(calibrate(store, names=names, until=when)) == LEVELS


@settings(max_examples=60, deadline=None)
@given(
    before=st.integers(7, 40),
    after=st.integers(7, 40),
    old=st.integers(20, 200),
    step=st.integers(-80, 80).filter(lambda d: abs(d) >= 15),
    seed=st.integers(0, 2**16),
)
def test_last_shift_finds_a_new_level_where_it_starts(
    before: int, after: int, old: int, step: int, seed: int
) -> None:
    """An order-up-to position: the level less the day's demand (Poisson 5). A new level at
    least 15 units away is found where it starts."""
    rng = np.random.default_rng(seed)
    x = np.r_[old - rng.poisson(5, before), old + step - rng.poisson(5, after)]
    assert last_shift(x) == before


def test_last_shift_rarely_splits_one_level() -> None:
    """One level alone is one regime: of 500 such series (7 to 60 days), at most 1% split
    (the best of many splits is tested, so a small rate remains; a false split only shortens
    the window the level's median is read from)."""
    rng = np.random.default_rng(2026)
    split = sum(last_shift(50 - rng.poisson(5, int(rng.integers(7, 61)))) != 0 for _ in range(500))
    assert split <= 5, split


def test_the_regime_starts_at_the_last_change_leaving_four_weeks(
    changed: tuple[World, Log, datetime],
) -> None:
    """``regime_start``: the latest recorded change that leaves 28 days; none recorded and
    every site seen from the start: the whole log."""
    _, store, _ = changed
    start, why = regime_start(store, changes=[datetime(2025, 1, 20, tzinfo=UTC)])
    assert start == datetime(2025, 1, 20, tzinfo=UTC) and "change" in why
    late, why = regime_start(store, changes=[datetime(2025, 2, 20, tzinfo=UTC)])
    assert late is not None and late < datetime(2025, 2, 20, tzinfo=UTC) and "28" in why
    assert regime_start(store)[0] is None
