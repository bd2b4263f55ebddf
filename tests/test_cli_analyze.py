"""`keiretsu analyze` as a user types it: a readable report and a value stream map from the
shared logs, JSON for scripts, and clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree
from typer.testing import CliRunner

from _data import DATA
from keiretsu.cli import app

runner = CliRunner()


def test_analyze_a_log_file_prints_the_report_and_writes_the_map(tmp_path: Path) -> None:
    svg = tmp_path / "vsm.svg"
    # a real process, as a user runs it
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "keiretsu.cli",
            "analyze",
            str(DATA / "logs" / "receipt.xes.gz"),
            "--svg",
            str(svg),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={"COLUMNS": "160", "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr
    for section in (
        "Process map — case",
        "Variants",
        "The customer: demand and takt",
        "Where time goes",
        "Data boxes",
        "The constraint",
        "Little's law",
        "The eight wastes",
    ):
        assert section in out.stdout, section
    # where it wrote, on stderr (stdout is the report)
    assert f"value stream map written: {svg}" in " ".join(out.stderr.split())
    root = etree.fromstring(svg.read_bytes())
    assert root.tag.endswith("svg")
    # the receipt log's first step, as pm4py counts start activities: every case starts there
    assert "Confirmation of receipt" in svg.read_text()


def test_analyze_json_on_a_store(tmp_path: Path) -> None:
    store = tmp_path / "node.duckdb"
    result = runner.invoke(
        app, ["ingest", str(DATA / "logs" / "running-example.xes"), "--store", str(store), "-q"]
    )
    assert result.exit_code == 0, result.stdout
    svg = tmp_path / "map.svg"
    result = runner.invoke(
        app,
        [
            "analyze",
            "--store",
            str(store),
            "--json",
            "--svg",
            str(svg),
            "--value-adding",
            "decide",
            "--value-adding",
            "examine thoroughly",
        ],
    )
    assert result.exit_code == 0, result.stdout
    report = json.loads(result.stdout)
    assert report["object_type"] == "case"
    views = report["views"]
    assert {
        "process_map",
        "variants",
        "object_times",
        "step_stats",
        "bottlenecks",
        "days_of_supply",
        "wastes",
        "waste_pareto",
        "bullwhip",
    } <= set(views)
    # the running example has 6 cases, each its own variant
    assert sum(r["frequency"] for r in views["variants"]["rows"]) == 6
    assert len(views["wastes"]["rows"]) == 8
    vsm = report["value_stream_map"]
    assert vsm["value_added_seconds"] > 0  # decide / examine thoroughly were marked
    assert report["value_stream_map_svg"] == str(svg) and svg.exists()


def test_analyze_says_what_is_wrong(tmp_path: Path) -> None:
    result = runner.invoke(app, ["analyze", "--store", str(tmp_path / "none.duckdb")])
    assert result.exit_code == 2
    assert "no store here" in " ".join(result.stderr.split())
    store = tmp_path / "node.duckdb"
    runner.invoke(
        app, ["ingest", str(DATA / "logs" / "running-example.xes"), "--store", str(store), "-q"]
    )
    result = runner.invoke(
        app,
        [
            "analyze",
            "--store",
            str(store),
            "--object-type",
            "truck",
            "--svg",
            str(tmp_path / "x.svg"),
        ],
    )
    assert result.exit_code == 2
    said = " ".join(result.stderr.split())
    assert "no object type 'truck'" in said and "case" in said
    bad = tmp_path / "rates.toml"
    bad.write_text('waiting_per_hour = "lots"\n')
    result = runner.invoke(app, ["analyze", "--store", str(store), "--rates", str(bad)])
    assert result.exit_code == 2
    said = "".join(result.stderr.split())  # (the terminal may wrap the file's path)
    assert "rates.toml" in said and "waiting_per_hour" in said


EXAMPLE = (
    Path(__file__).resolve().parents[1] / "src" / "keiretsu" / "examples" / "two-company-chain"
)


def test_analyze_measures_takt_on_the_calendar_given_and_refuses_a_bad_one(tmp_path: Path) -> None:
    store = tmp_path / "demo.duckdb"
    for doc in sorted(EXAMPLE.iterdir()):
        result = runner.invoke(app, ["ingest", str(doc), "--store", str(store), "-q"])
        assert result.exit_code == 0, result.stdout

    def takt(*extra: str) -> float:
        result = runner.invoke(
            app,
            ["analyze", "--store", str(store), "--json", "--svg", str(tmp_path / "m.svg"), *extra],
        )
        assert result.exit_code == 0, result.stdout
        (row,) = json.loads(result.stdout)["views"]["customer_demand"]["rows"]
        assert row["quantity"] == 24  # the bottles the distributor shipped to the retailer
        return float(row["takt_seconds"])

    always = takt()
    calendar = tmp_path / "plant.toml"
    calendar.write_text('timezone = "UTC"\n[shifts]\ndaily = ["06:00-14:00"]\n')
    # one 8-hour shift a day: the customers' pace in working time is about a third of 24/7's
    assert takt("--calendar", str(calendar)) == pytest.approx(always / 3, rel=0.05)

    calendar.write_text('[shifts]\nmonday = ["06:00-14:00"]\n')
    result = runner.invoke(app, ["analyze", "--store", str(store), "--calendar", str(calendar)])
    assert result.exit_code == 2
    said = " ".join(result.stderr.split())
    assert "plant.toml" in said and "unknown day 'monday'" in said
