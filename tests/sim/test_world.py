"""The flow-level world: what a twin reading only its events measures agrees with its truth.

The world (``keiretsu.sim.world``) plays a small network for a few simulated weeks and writes
each company's EPCIS 2.0 events; the twin side ingests the files into a node store and measures
through keiretsu's own analytics. Expected figures come from the world's truth (which only tests
read) with sampling intervals from scipy, and from the raw JSON files read with plain Python —
never from the analytics under test.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from scipy import stats

import keiretsu
from keiretsu.analytics import Log
from keiretsu.analytics.customer import customer_demand
from keiretsu.analytics.flow import step_stats
from keiretsu.analytics.inventory import stock_levels
from keiretsu.model.gs1 import LOGISTIC_UNIT, PRODUCT_PREFIX, TRADE_ITEM, canonical_id
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
from keiretsu.sim.world import NodeTarget, World, post_epcis, write_epcis_files
from keiretsu.store import Store

EXAMPLES = Path(keiretsu.__file__).parent / "examples" / "sim"
WEEKS = 4
PRESS = "urn:keiretsu:bizstep:press"
Z = stats.norm.ppf(0.995)  # two-sided 99% intervals


def _serial() -> Network:
    """A plant (a press with set-up, batches of 10, 90% yield, half the bad ones reworked)
    supplied with raw material from outside, a distribution centre and a shop selling a
    Poisson(10) a day; transport plant -> DC -> shop Gamma(2 days, sd 0.5 day)."""
    transport = Gamma(mean=2.0, sd=0.5)
    return Network(
        name="plant-dc-shop",
        period="day",
        companies=(
            Company(
                name="plant",
                steps=(
                    Step(
                        name="press",
                        processing_time=Gamma(mean=2.0, sd=0.6),
                        setup_time=0.5,
                        batch_size=10,
                        yield_=0.9,
                        rework=0.5,
                    ),
                ),
                buffers=(Buffer(name="plant-fg", policy=BaseStock(level=60)),),
            ),
            Company(name="dc", buffers=(Buffer(name="dc", policy=BaseStock(level=50)),)),
            Company(name="shop", buffers=(Buffer(name="shop", policy=BaseStock(level=40)),)),
        ),
        links=(
            Link(target="plant-fg", lead_time=Constant(value=1)),
            Link(source="plant-fg", target="dc", lead_time=transport),
            Link(source="dc", target="shop", lead_time=transport),
        ),
        demand=(Demand(at="shop", distribution=Poisson(mean=10)),),
    )


def _ingest(paths: dict[str, Path], store: Path) -> None:
    with Store(store) as s:
        for company, path in paths.items():
            report = s.ingest_file(path)
            assert report.status == "accepted", (company, report.problem)


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> tuple[World, dict[str, Path], Path]:
    """The serial network played for four weeks, its files, and a store holding them all."""
    world = World(_serial(), seed=7).run(7 * WEEKS)
    root = tmp_path_factory.mktemp("world")
    paths = write_epcis_files(world, root / "epcis")
    _ingest(paths, root / "network.duckdb")
    return world, paths, root / "network.duckdb"


def _raw(path: Path) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = json.loads(path.read_bytes())["epcisBody"]["eventList"]
    return events


def _seconds(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_every_document_is_accepted_whole_and_each_company_is_its_own_party(
    played: tuple[World, dict[str, Path], Path],
) -> None:
    world, paths, store = played
    assert set(paths) == {"plant", "dc", "shop"}
    with Store(store) as s:
        log = s.ingest_log()
        assert log.column("status").to_pylist() == ["accepted"] * 3
        stored = s.summary().events
    emitted = sum(len(_raw(p)) for p in paths.values())
    assert stored == emitted == world.event_count() > 500
    # each company writes its own GS1 company prefix: every bizLocation in its file is its own
    prefixes = {}
    for company, path in paths.items():
        sites = {e["bizLocation"]["id"] for e in _raw(path) if "bizLocation" in e}
        assert len({site.split(":")[-1].split(".")[0] for site in sites}) == 1
        prefixes[company] = next(iter(sites)).split(":")[-1].split(".")[0]
    assert len(set(prefixes.values())) == 3
    steps = Counter(e.get("bizStep") for p in paths.values() for e in _raw(p))
    for expected in (
        "commissioning",
        "inspecting",
        "packing",
        "shipping",
        "receiving",
        "unpacking",
        "storing",
        "retail_selling",
        PRESS,
    ):
        assert steps[expected] > 0, expected
    plant = _raw(paths["plant"])
    assert any(e.get("disposition") == "non_conformant" for e in plant)
    shipped = [e for e in plant if e.get("bizStep") == "shipping"]
    assert all(
        {t["type"] for t in e["bizTransactionList"]} == {"po", "desadv"}
        and e["destinationList"][0]["destination"] == "urn:epc:id:pgln:9520002.00000"
        for e in shipped
    )


def test_the_twin_measures_the_true_processing_time_of_the_press(
    played: tuple[World, dict[str, Path], Path],
) -> None:
    world, paths, store = played
    truth = world.truth()["steps"]["plant/press"]
    row = next(
        r
        for r in step_stats(Log.open(store), TRADE_ITEM).table.to_pylist()
        if r["activity"] == PRESS
    )
    measured_hours = row["mean_seconds_in_step"] / 3600.0

    # the raw file, read by hand: a batch starts when its serial numbers are commissioned and
    # ends at the press event; each item of a batch is one visit
    plant = _raw(paths["plant"])
    made = {
        epc: _seconds(e["eventTime"])
        for e in plant
        if e["type"] == "TransformationEvent"
        for epc in e["outputEPCList"]
    }
    per_item = []
    batch_sizes = []
    for e in plant:
        if e.get("bizStep") == PRESS:
            batch_sizes.append(len(e["epcList"]))
            per_item += [(_seconds(e["eventTime"]) - made[epc]) / 3600 for epc in e["epcList"]]
    assert measured_hours == pytest.approx(sum(per_item) / len(per_item), rel=1e-9)

    # within the sampling interval around the truth: batches are independent draws, each
    # weighing its items (n_eff = (sum w)^2 / sum w^2)
    true_mean = truth["setup_hours"] + truth["mean_hours"]
    n_eff = sum(batch_sizes) ** 2 / sum(w * w for w in batch_sizes)
    half = Z * truth["sd_hours"] / math.sqrt(n_eff)
    assert len(batch_sizes) >= 30
    assert abs(measured_hours - true_mean) < half, (measured_hours, true_mean, half)


def test_the_twin_measures_the_true_transport_time(
    played: tuple[World, dict[str, Path], Path],
) -> None:
    world, _, store = played
    links = world.truth()["links"]
    truth = links["plant-fg->dc"]
    assert links["dc->shop"] == truth  # one distribution on both links: pooled is fair
    row = next(
        r
        for r in step_stats(Log.open(store), LOGISTIC_UNIT).table.to_pylist()
        if r["activity"] == "receiving"
    )
    n = row["completions"]
    measured = row["mean_seconds_in_step"] / 3600.0
    half = Z * truth["sd_hours"] / math.sqrt(n)
    assert n >= 30
    assert abs(measured - truth["mean_hours"]) < half, (measured, truth["mean_hours"], half)


def test_customer_demand_is_the_units_sold_and_the_true_rate(
    played: tuple[World, dict[str, Path], Path],
) -> None:
    world, paths, store = played
    truth = world.truth()["demand"]["shop"]
    sold_in_file = sum(
        len(e["epcList"]) for e in _raw(paths["shop"]) if e.get("disposition") == "retail_sold"
    )
    view = customer_demand(Log.open(store))
    (row,) = view.to_pylist()
    gtin = world.truth()["stock"]["shop"]["gtin"]
    assert row["family"] == PRODUCT_PREFIX + gtin
    assert row["unit"] == "pieces"
    assert row["quantity"] == sold_in_file == truth["sold"]
    assert truth["sold"] + truth["lost"] + truth["backordered"] == truth["asked"]
    # what the customers asked for is a Poisson count of mean 10 a day over the run
    low, high = stats.poisson.interval(0.99, truth["mean_per_period"] * 7 * WEEKS)
    assert low <= truth["asked"] <= high
    assert low <= row["quantity"] + truth["backordered"] <= high


def test_stock_at_each_site_is_what_the_world_holds_there(
    played: tuple[World, dict[str, Path], Path],
) -> None:
    world, _, store = played
    table = stock_levels(Log.open(store)).table.to_pylist()
    last: dict[tuple[str, str], float] = {}
    for r in table:  # sorted by location, product, time: the last row is the end
        last[(r["location"], r["product"])] = r["quantity"]
    for name, held in world.truth()["stock"].items():
        key = (canonical_id(held["site"]), PRODUCT_PREFIX + held["gtin"])
        assert last.get(key, 0.0) == held["on_hand"] + held["in_steps"], name


def test_the_same_seed_gives_the_same_world(tmp_path: Path) -> None:
    a = World(_serial(), seed=3).run(5)
    b = World(_serial(), seed=3).run(5)
    c = World(_serial(), seed=4).run(5)
    assert a.events() == b.events()
    assert a.events() != c.events()
    # running in two goes is running in one
    d = World(_serial(), seed=3).run(2).run(3)
    assert d.events() == a.events()


def _assembly() -> Network:
    """Two part makers supplied from outside feed an assembler (one of each per unit), which
    ships to a retailer under (s, S); an unserved sale is lost."""
    from keiretsu.sim.model import SS, Kanban

    return Network(
        name="assembly",
        period="day",
        unmet="lost_sale",
        companies=(
            Company(name="frames", buffers=(Buffer(name="frames", policy=BaseStock(level=30)),)),
            Company(name="wheels", buffers=(Buffer(name="wheels", policy=BaseStock(level=60)),)),
            Company(
                name="assembler",
                steps=(Step(name="assembling", processing_time=Gamma(mean=1, sd=0.2)),),
                buffers=(Buffer(name="bikes", policy=Kanban(cards=3, container=5), initial=10),),
            ),
            Company(name="shop", buffers=(Buffer(name="shop", policy=SS(s=4, S=12)),)),
        ),
        links=(
            Link(target="frames", lead_time=Constant(value=1)),
            Link(target="wheels", lead_time=Constant(value=1)),
            Link(source="frames", target="bikes", lead_time=Constant(value=1)),
            Link(source="wheels", target="bikes", lead_time=Constant(value=1), units=2),
            Link(source="bikes", target="shop", lead_time=Constant(value=1)),
        ),
        demand=(Demand(at="shop", distribution=Poisson(mean=3)),),
    )


@pytest.mark.parametrize(
    "network",
    [
        pytest.param(lambda: Network.load(EXAMPLES / "serial-4.toml"), id="serial-4 (echelon)"),
        pytest.param(
            lambda: Network.load(EXAMPLES / "distribution-5.toml"),
            id="distribution-5 (forecast, R_Q, kanban, s_S, lost sales)",
        ),
        pytest.param(_assembly, id="assembly (two inputs, kanban, s_S)"),
    ],
)
def test_every_shape_and_policy_emits_documents_the_store_accepts(
    network: Any, tmp_path: Path
) -> None:
    net = network()
    world = World(net, seed=1).run(21 if net.period == "day" else 8)
    paths = write_epcis_files(world, tmp_path)
    _ingest(paths, tmp_path / "store.duckdb")
    view = stock_levels(Log.open(tmp_path / "store.duckdb"))
    assert not any("below zero" in n for n in view.notes), view.notes
    sold = 0
    for d in world.truth()["demand"].values():
        assert d["sold"] + d["lost"] + d["backordered"] == d["asked"] > 0
        sold += d["sold"]
    assert sold > 0
    if net.name == "assembly":  # the assembler consumes one frame and two wheels per bike
        made = [
            e
            for e in json.loads(paths["assembler"].read_bytes())["epcisBody"]["eventList"]
            if e["type"] == "TransformationEvent"
        ]
        assert made
        for e in made:
            inputs = Counter(epc.rsplit(".", 1)[0] for epc in e["inputEPCList"])
            n = len(e["outputEPCList"])
            assert sorted(inputs.values()) == [n, 2 * n]


def test_live_capture_posts_each_companys_new_events_to_its_node(tmp_path: Path) -> None:
    """What a node receives over HTTP: EPCIS JSON-LD with the company's bearer token, each
    event once, and documents the store accepts."""
    seen: list[httpx.Request] = []

    def node(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202, headers={"Location": f"/capture/{len(seen)}"})

    nodes = {
        "plant": NodeTarget("http://plant.test:8101", "tok-plant"),
        "dc": NodeTarget("http://dc.test:8102/", "tok-dc"),
        "shop": NodeTarget("http://shop.test:8103", "tok-shop"),
    }
    world = World(_serial(), seed=5)
    client = httpx.Client(transport=httpx.MockTransport(node))
    jobs = []
    for _ in range(3):
        world.run(1)
        jobs += post_epcis(world, nodes, client=client)
    assert jobs == [f"/capture/{i}" for i in range(1, len(seen) + 1)]
    ids: Counter[str] = Counter()
    bodies: dict[str, Path] = {}
    for n, request in enumerate(seen):
        host = request.url.host.split(".")[0]
        assert str(request.url) == f"http://{host}.test:{request.url.port}/capture"
        assert request.headers["content-type"] == "application/ld+json"
        assert request.headers["authorization"] == f"Bearer tok-{host}"
        body = request.read()
        events = json.loads(body)["epcisBody"]["eventList"]
        ids.update(e["eventID"] for e in events)
        bodies[f"{host} #{n}"] = tmp_path / f"{n}.jsonld"
        bodies[f"{host} #{n}"].write_bytes(body)
    _ingest(bodies, tmp_path / "captured.duckdb")
    assert len(ids) == world.event_count() and set(ids.values()) == {1}
