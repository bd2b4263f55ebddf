"""The `keiretsu` command as a user types it, on third-party documents."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from _data import DATA
from keiretsu.cli import app

OPENEPCIS = DATA / "epcis" / "openepcis"
runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_ingest_info_and_log(tmp_path: Path) -> None:
    store = str(tmp_path / "node.duckdb")
    files = [
        str(OPENEPCIS / "JSON/Capture/Documents/AggregationEvent.json"),
        str(OPENEPCIS / "XML/Capture/Documents/TransformationEvent.xml"),
    ]
    code, out, _ = run("ingest", *files, "--store", store, "--quiet")
    assert code == 0
    assert "accepted" in out
    code, out, _ = run("info", "--store", store, "--json")
    assert code == 0
    info = json.loads(out)
    assert info["documents_accepted"] == 2
    assert info["events"] > 0
    # AggregationEvent.json is a receiving step; TransformationEvent.xml a commissioning step
    # written as a CBV URN: both become the CBV word as the activity
    assert info["event_types"] == {"receiving": 1, "commissioning": 1}
    # the same files again: nothing new, all known
    code, out, _ = run("ingest", *files, "--store", store, "--json")
    assert code == 0
    reports = json.loads(out)
    assert [r["events_new"] for r in reports] == [0, 0]
    assert all(r["events_known"] == r["events_read"] > 0 for r in reports)


def test_refused_document_says_where_and_exits_non_zero(tmp_path: Path) -> None:
    store = str(tmp_path / "node.duckdb")
    bad = (
        OPENEPCIS
        / "JSON/Capture/Invalid/ObjectEvent_with_non_standard_bizStep_in_second_event.json"
    )
    good = OPENEPCIS / "JSON/Capture/Documents/ObjectEvent.json"
    code, out, err = run("ingest", str(good), str(bad), "--store", store, "--quiet")
    assert code == 1
    assert "refused" in err
    assert "event 1" in err
    assert "/epcisBody/eventList/1/bizStep" in err
    code, out, _ = run("log", "--store", store, "--json")
    rows = json.loads(out)
    assert [r["status"] for r in rows] == ["accepted", "refused"]
    assert rows[1]["problem"]["event_index"] == 1
    # the good document before it stays stored
    code, out, _ = run("info", "--store", store, "--json")
    assert json.loads(out)["documents_accepted"] == 1


def test_export_then_reimport_gives_the_same_log(tmp_path: Path) -> None:
    store = str(tmp_path / "a.duckdb")
    code, _, _ = run("ingest", str(DATA / "ocel/ocel20_example.jsonocel"), "--store", store, "-q")
    assert code == 0
    for target in ("log.jsonocel", "log.xmlocel", "log.sqlite", "log.parquet"):
        code, _out, err = run("export", "--store", store, "--to", str(tmp_path / target))
        assert code == 0, err
        assert (tmp_path / target).stat().st_size > 0
    for target in ("log.jsonocel", "log.xmlocel", "log.sqlite"):
        other = str(tmp_path / f"{target}.duckdb")
        code, _, err = run("ingest", str(tmp_path / target), "--store", other, "-q")
        assert code == 0, err
        a = json.loads(run("info", "--store", store, "--json")[1])
        b = json.loads(run("info", "--store", other, "--json")[1])
        for key in ("events", "objects", "event_types", "object_types", "relations"):
            assert a[key] == b[key], (target, key)


def test_parquet_export_is_one_row_per_event_and_object(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    store = str(tmp_path / "a.duckdb")
    run("ingest", str(DATA / "ocel/ocel20_example.sqlite"), "--store", store, "-q")
    run("export", "--store", store, "--to", str(tmp_path / "flat.parquet"))
    flat = pq.read_table(tmp_path / "flat.parquet")
    info = json.loads(run("info", "--store", store, "--json")[1])
    assert flat.num_rows == info["relations"]
    assert {"event_id", "activity", "time", "object_id", "object_type", "qualifier"} <= set(
        flat.column_names
    )


def test_csv_with_column_mapping(tmp_path: Path) -> None:
    csv = tmp_path / "picks.csv"
    csv.write_text(
        "order,sku,step,at\n"
        "SO-1,A,pick,2024-05-01T08:00:00Z\n"
        "SO-1,A,pack,2024-05-01T08:30:00Z\n"
        "SO-2,B,pick,2024-05-01T09:00:00Z\n"
    )
    store = str(tmp_path / "w.duckdb")
    code, _, err = run(
        "ingest",
        str(csv),
        "--store",
        store,
        "-q",
        "--map",
        "activity=step,time=at,object:order=order,object:material=sku",
    )
    assert code == 0, err
    info = json.loads(run("info", "--store", store, "--json")[1])
    assert info["events"] == 3
    assert info["object_types"] == {"order": 2, "material": 2}
    code, _, err = run("ingest", str(csv), "--store", store, "-q", "--map", "activity=nope")
    assert code != 0


def test_second_process_on_the_same_store_is_told_why(tmp_path: Path) -> None:
    from keiretsu.store import Store

    store = tmp_path / "busy.duckdb"
    with Store(store):
        proc = subprocess.run(
            [sys.executable, "-m", "keiretsu.cli", "info", "--store", str(store)],
            capture_output=True,
            text=True,
        )
    assert proc.returncode == 2
    assert "in use by another keiretsu process" in proc.stderr


def test_demo_runs_on_the_shipped_example(tmp_path: Path) -> None:
    code, out, err = run("demo", "--store", str(tmp_path / "demo.duckdb"))
    assert code == 0, err
    assert "0 new, 16 already known" in out  # the plant's document sent twice
    assert "shipping" in out and "trade item" in out
    # then the value stream: the report's sections and the map beside the store
    for section in (
        "The customer: demand and takt",
        "Process map — trade item",
        "Data boxes",
        "The constraint",
        "The eight wastes",
    ):
        assert section in out, section
    # what a lean practitioner reads first: takt, and the failed bottles that went on anyway
    flat = " ".join(out.split())
    assert "10.0 h" in flat and "12 objects failed an inspection, 12 moved on anyway" in flat
    assert (tmp_path / "value-stream.svg").read_text().startswith("<svg")
