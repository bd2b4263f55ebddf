"""The what-if twin's commands: keiretsu simulate, calibrate, scenario compare, optimize."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from scipy import stats  # type: ignore[import-untyped]
from typer.testing import CliRunner

from keiretsu.cli import app
from keiretsu.sim.model import Network

runner = CliRunner()
EXAMPLES = Path(__file__).parents[1] / "src" / "keiretsu" / "examples" / "sim"

PLANT_SHOP = """
[network]
name = "plant-shop"
period = "day"

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

# Snyder & Shen, Fundamentals of Supply Chain Theory (2nd ed.), Example 6.1: stage 1 faces the
# customers; local holding costs 7, 4, 2; lead times 1, 1, 2; backorders 37.12; demand N(5, 1)
SNYDER_SHEN_6_1 = """
[network]
name = "snyder-shen-6-1"
period = "week"

[[company]]
name = "stage-1"
  [[company.buffer]]
  name = "stage-1"
  policy = { kind = "echelon_base_stock", level = 6 }
  holding_cost = 7.0

[[company]]
name = "stage-2"
sees = ["orders", "partner_inventory"]
  [[company.buffer]]
  name = "stage-2"
  policy = { kind = "echelon_base_stock", level = 12 }
  holding_cost = 4.0

[[company]]
name = "stage-3"
sees = ["orders", "partner_inventory"]
  [[company.buffer]]
  name = "stage-3"
  policy = { kind = "echelon_base_stock", level = 22 }
  holding_cost = 2.0

[[link]]
to = "stage-3"
lead_time = { kind = "constant", value = 2 }

[[link]]
from = "stage-3"
to = "stage-2"
lead_time = { kind = "constant", value = 1 }

[[link]]
from = "stage-2"
to = "stage-1"
lead_time = { kind = "constant", value = 1 }

[[demand]]
at = "stage-1"
distribution = { kind = "normal", mean = 5, sd = 1 }
backorder_cost = 37.12
"""


def _said(result: object) -> str:
    """What a command wrote to stderr, with Rich's line wrapping undone."""
    return " ".join(result.stderr.split())  # type: ignore[attr-defined]


@pytest.fixture
def plant_shop(tmp_path: Path) -> Path:
    path = tmp_path / "plant-shop.toml"
    path.write_text(PLANT_SHOP)
    return path


def test_simulate_policy_json_holds_what_base_stock_theory_gives(plant_shop: Path) -> None:
    got = runner.invoke(
        app,
        ["simulate", str(plant_shop), "--periods", "200", "--replications", "400", "--json"],
    )
    assert got.exit_code == 0, got.output
    out = json.loads(got.stdout)
    kpis = {(r["scope"], r["kpi"]): r for r in out["kpis"]}
    # the policy level's shop covers its 2-day lead time: on hand E[(S - D)+], D ~ Poisson(16)
    d = stats.poisson(16)
    k = np.arange(31)
    expected = float(((30 - k) * d.pmf(k)).sum())
    shop = kpis[("shop", "on_hand")]
    assert shop["low"] - 0.05 <= expected <= shop["high"] + 0.05
    assert out["replications"] == 400 and out["periods"] == 200
    fill = kpis[("network", "fill_rate")]
    assert 0 < fill["low"] <= fill["mean"] <= fill["high"] <= 1


def test_simulate_flow_writes_each_companys_epcis_file(plant_shop: Path, tmp_path: Path) -> None:
    out = tmp_path / "events"
    got = runner.invoke(
        app, ["simulate", str(plant_shop), "--level", "flow", "--periods", "20", "--out",
              str(out), "--json"],
    )  # fmt: skip
    assert got.exit_code == 0, got.output
    report = json.loads(got.stdout)
    files = sorted(out.glob("*.jsonld"))
    assert [p.name for p in files] == ["1-plant.jsonld", "2-shop.jsonld"]
    for row in report["companies"]:
        doc = json.loads(Path(row["file"]).read_text())
        assert doc["type"] == "EPCISDocument"
        assert len(doc["epcisBody"]["eventList"]) == row["events"] > 0
    shop = json.loads((out / "2-shop.jsonld").read_text())["epcisBody"]["eventList"]
    assert any(e.get("bizStep") == "retail_selling" for e in shop)


def test_simulate_flow_kpis_measured_on_the_events(plant_shop: Path) -> None:
    got = runner.invoke(
        app,
        ["simulate", str(plant_shop), "--level", "flow", "--kpis", "--periods", "60",
         "--replications", "2", "--warmup", "10", "--json"],
    )  # fmt: skip
    assert got.exit_code == 0, got.output
    kpis = {(r["scope"], r["kpi"]): r for r in json.loads(got.stdout)["kpis"]}
    assert kpis[("plant", "in_transit")]["mean"] > 0
    assert kpis[("plant", "fill_rate")]["mean"] is None  # not measurable: orders have no time
    assert 0 < kpis[("shop", "fill_rate")]["mean"] <= 1


def test_a_broken_model_names_file_and_key_and_exits_2(plant_shop: Path) -> None:
    plant_shop.write_text(PLANT_SHOP.replace("level = 40", "levl = 40"))
    got = runner.invoke(app, ["simulate", str(plant_shop)])
    assert got.exit_code == 2
    # (Rich may wrap a long path at its hyphen: the file's name is read without the breaks)
    assert "plant-shop.toml" in "".join(got.stderr.split()) and "levl" in _said(got)
    assert "Traceback" not in got.output + _said(got)
    got = runner.invoke(app, ["simulate", str(plant_shop) + ".missing"])
    assert got.exit_code == 2 and "No such file" in _said(got)


def test_simulate_refuses_bad_options(plant_shop: Path) -> None:
    got = runner.invoke(app, ["simulate", str(plant_shop), "--level", "flow"])
    assert got.exit_code == 2 and "--out" in _said(got)
    got = runner.invoke(
        app, ["simulate", str(plant_shop), "--level", "flow", "--node", "shop=nowhere"]
    )
    assert got.exit_code == 2 and "NAME=URL:TOKEN" in _said(got)
    got = runner.invoke(app, ["simulate", str(plant_shop), "--level", "fast"])
    assert got.exit_code == 2 and "policy or flow" in _said(got)


def test_optimize_exact_reproduces_snyder_shen_example_6_1(tmp_path: Path) -> None:
    model = tmp_path / "ex61.toml"
    model.write_text(SNYDER_SHEN_6_1)
    got = runner.invoke(
        app, ["optimize", str(model), "--exact", "--json", "--out", str(tmp_path / "best.toml")]
    )
    assert got.exit_code == 0, got.output
    out = json.loads(got.stdout)
    # the book's optimal echelon levels and expected cost per period
    levels = [s["level"] for s in out["stages"]]
    assert levels == pytest.approx([6.49, 12.02, 22.71], abs=0.01)
    assert out["expected_cost_per_period"] == pytest.approx(47.65, rel=1e-3)
    best = Network.load(tmp_path / "best.toml")
    assert best.buffers["stage-3"].policy.level == pytest.approx(22.71, abs=0.01)  # type: ignore[union-attr]


def test_optimize_search_json_carries_levels_and_cost(plant_shop: Path) -> None:
    got = runner.invoke(
        app,
        ["optimize", str(plant_shop), "--scope", "network", "--fill-rate", "0.95",
         "--periods", "100", "--replications", "50", "--json"],
    )  # fmt: skip
    assert got.exit_code == 0, got.output
    out = json.loads(got.stdout)
    assert {s["buffer"] for s in out["stages"]} == {"plant", "shop"}
    assert all("level" in s for s in out["stages"])
    cost = out["expected_cost_per_period"]
    assert cost["low"] <= cost["mean"] <= cost["high"]
    assert out["fill_rate"]["mean"] >= 0.95 - 0.01
    got = runner.invoke(app, ["optimize", str(plant_shop), "--scope", "global"])
    assert got.exit_code == 2 and "local or network" in _said(got)


def test_scenario_compare_table_json_and_svg(tmp_path: Path) -> None:
    svg = tmp_path / "compare.svg"
    model = EXAMPLES / "forecast-3-scenarios.toml"
    got = runner.invoke(
        app,
        ["scenario", "compare", str(model), "--variant", "fast-truck", "--periods", "60",
         "--replications", "256", "--workers", "1", "--svg", str(svg), "--json"],
    )  # fmt: skip
    assert got.exit_code == 0, got.output
    out = json.loads(got.stdout)
    rows = out["rows"]
    assert {r["variant"] for r in rows} == {"fast-truck"}
    for r in rows:
        if r["difference"] is not None and r["baseline"] is not None:
            assert r["difference"] == pytest.approx(r["value"] - r["baseline"], abs=1e-9)
    assert ET.fromstring(svg.read_text()).tag.endswith("svg")
    got = runner.invoke(app, ["scenario", "compare", str(model), "--variant", "nope"])
    assert got.exit_code == 2 and "fast-truck" in _said(got)


def test_calibrate_writes_a_model_that_loads(plant_shop: Path, tmp_path: Path) -> None:
    events = tmp_path / "events"
    got = runner.invoke(
        app, ["simulate", str(plant_shop), "--level", "flow", "--periods", "21", "--out",
              str(events), "--quiet"],
    )  # fmt: skip
    assert got.exit_code == 0, got.output
    store = tmp_path / "twin.duckdb"
    got = runner.invoke(app, ["ingest", *map(str, sorted(events.glob("*.jsonld"))), "-s",
                              str(store), "-q"])  # fmt: skip
    assert got.exit_code == 0, got.output
    model = tmp_path / "calibrated.toml"
    got = runner.invoke(
        app, ["calibrate", "--store", str(store), "--out", str(model), "-r", "4", "--json"]
    )
    assert got.exit_code == 0, got.output
    out = json.loads(got.stdout)
    calibrated = Network.load(model)
    assert len(calibrated.buffers) == 2
    assert any("ks_2samp" in r["test"] for r in out["validation"]["rows"])
    got = runner.invoke(app, ["calibrate", "--store", str(tmp_path / "none.duckdb")])
    assert got.exit_code == 2 and "no store" in _said(got)
