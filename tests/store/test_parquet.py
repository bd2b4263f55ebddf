"""The log exported as partitioned Parquet: every accepted row once, appends write only new
documents, an interrupted export (SIGKILL mid-write, a lost manifest) re-exports, never loses
or duplicates; files read back by pyarrow (the reference: the store's own ``ocel_*`` views
read with DuckDB)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from keiretsu.model import DocumentError, Ocel, OcelBuilder
from keiretsu.store import Store
from keiretsu.store.parquet import (
    APPEND_TABLES,
    MANIFEST,
    ExportError,
    export_parquet,
    read_manifest,
    write_ocel_parquet,
)

T0 = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)

# exported table → (the store's visible view, its columns in the files, ingest_id aside)
_VISIBLE = {
    "event": ("ocel_event", "ocel_id, ocel_type, ocel_time, ocel_seq"),
    "event_object": (
        "ocel_event_object",
        "ocel_event_id, ocel_object_id, ocel_qualifier, quantity, uom",
    ),
    "object": ("ocel_object", "ocel_id, ocel_type"),
    "event_attribute": ("ocel_event_attribute", "ocel_id, ocel_name, ocel_value, ocel_value_type"),
    "object_attribute": (
        "ocel_object_attribute",
        "ocel_id, ocel_name, ocel_time, ocel_value, ocel_value_type",
    ),
    "object_object": ("ocel_object_object", "ocel_source_id, ocel_target_id, ocel_qualifier"),
}


def document(prefix: str, n: int, *, start: int = 0, fail_at: int | None = None) -> Iterator[Ocel]:
    """``n`` shipping events of pallets holding one lot, in batches of 20; raises at
    ``fail_at`` (the document is refused)."""
    b = OcelBuilder()
    for i in range(n):
        if fail_at is not None and i == fail_at:
            raise DocumentError.single("Invalid event", "bad time", event_index=i)
        eid = f"{prefix}-{i}"
        b.add_event(eid, "shipping", T0 + timedelta(minutes=start + i), {"note": f"{prefix}{i}"})
        pallet = f"sscc-{(start + i) % 5}"
        b.add_object(pallet, "logistic unit")
        b.add_object_attribute(pallet, "weight", 400.0 + i % 3)
        b.relate(eid, pallet, "epc")
        b.relate(eid, "lot-1", "epcClass", quantity=10.0, uom="KGM")
        b.add_object("lot-1", "product lot")
        b.link(pallet, "lot-1", "contains")
        if len(b) >= 20:
            yield b.build()
    yield b.build()


def in_store(store: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every visible row of the store, per exported table, sorted (read with DuckDB)."""
    con = duckdb.connect(str(store), read_only=True)
    try:
        return {
            t: sorted(con.execute(f"SELECT {cols} FROM {view}").fetchall(), key=repr)
            for t, (view, cols) in _VISIBLE.items()
        }
    finally:
        con.close()


def in_files(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row the manifest's files hold, per table, sorted (read with pyarrow)."""
    manifest = read_manifest(path)
    assert manifest is not None
    out = {}
    for t, (_view, cols) in _VISIBLE.items():
        names = [c.strip() for c in cols.split(",")]
        files = manifest.files(t)
        rows: list[tuple[Any, ...]] = []
        for f in files:
            table = pq.read_table(path / f).select(names)
            rows += [tuple(r.values()) for r in table.to_pylist()]
        out[t] = sorted(rows, key=repr)
    return out


def ingest_ids_in(path: Path, table: str, batch: int) -> set[int]:
    ids: set[int] = set()
    for f in (path / table / f"batch={batch}").glob("*.parquet"):
        ids |= set(pq.read_table(f).column("ingest_id").to_pylist())
    return ids


def test_export_holds_every_visible_row_once_and_appends_only_new_documents(
    tmp_path: Path,
) -> None:
    out = tmp_path / "log"
    with Store(tmp_path / "node.duckdb") as store:
        first = store.ingest(document("a", 45), document="a.json")
        with pytest.raises(DocumentError):  # refused: no rows
            store.ingest(document("x", 30, fail_at=25), document="x.json")
        report = export_parquet(store, out)
        assert (report.watermark_before, report.documents) == (0, 1)
        assert report.rows["event"] == 45
        again = export_parquet(store, out)
        assert (again.documents, again.files) == (0, [])  # nothing new: nothing written
        batch1 = {f: (out / f).read_bytes() for f in report.files if "_type/" not in f}
        second = store.ingest(document("b", 30, start=45), document="b.json")
        store.ingest(document("a", 10), document="a-again.json")  # known events: nothing new
        # an error declaration for a stored event: its attributes come with the new document
        b = OcelBuilder()
        b.add_event("a-3", "shipping", T0 + timedelta(minutes=3), {"errorDeclaration": "late"})
        correction = store.ingest([b.build()], document="correction.json")
        assert correction.events_corrected == 1
        appended = export_parquet(store, out)
    assert appended.watermark_before == report.watermark
    assert appended.rows["event"] == 30
    # the new batch holds the new documents' rows only; the first batch is untouched
    new_ids = ingest_ids_in(out, "event", appended.watermark)
    assert new_ids == {second.ingest_id}
    assert first.ingest_id not in new_ids
    attributes = ingest_ids_in(out, "event_attribute", appended.watermark)
    assert attributes == {second.ingest_id, correction.ingest_id}
    assert {f: (out / f).read_bytes() for f in batch1} == batch1
    assert in_files(out) == in_store(tmp_path / "node.duckdb")
    manifest = read_manifest(out)
    assert manifest is not None and manifest.watermark == appended.watermark
    assert [b.documents for b in manifest.batches] == [1, 3]
    # the declared types: the newest snapshot only
    assert len(manifest.files("event_type")) == 1
    types = pq.read_table(out / manifest.files("event_type")[0]).to_pylist()
    assert [t["ocel_type"] for t in types] == ["shipping"]


def test_a_document_in_flight_is_exported_once_after_it_is_accepted(tmp_path: Path) -> None:
    out = tmp_path / "log"
    with Store(tmp_path / "node.duckdb") as store:
        store.ingest(document("a", 10), document="a.json")
        during: list[Any] = []

        def slow_document() -> Iterator[Ocel]:
            yield from document("b", 20, start=10)
            # half-way through (not accepted yet): an export beside it, on its own cursor
            during.append(export_parquet(store.con, out))
            yield from document("c", 20, start=30)

        store.ingest(slow_document(), document="bc.json")
        after = export_parquet(store, out)
    assert during[0].rows["event"] == 10  # the document in flight is not in it
    assert after.rows["event"] == 40
    assert in_files(out) == in_store(tmp_path / "node.duckdb")


_KILLER = """
import os, signal, sys
import keiretsu.store.parquet as p
real, count = p._write, [0]
def write(*args, **kwargs):
    out = real(*args, **kwargs)
    count[0] += 1
    if count[0] == int(sys.argv[3]):  # killed with some tables' files written, not all
        os.kill(os.getpid(), signal.SIGKILL)
    return out
p._write = write
p.export_parquet(sys.argv[1], sys.argv[2])
"""


def test_an_export_killed_mid_write_is_redone_once(tmp_path: Path) -> None:
    store_path, out = tmp_path / "node.duckdb", tmp_path / "log"
    with Store(store_path) as store:
        store.ingest(document("a", 30), document="a.json")
        export_parquet(store, out)
        store.ingest(document("b", 25, start=30), document="b.json")
    killed = subprocess.run(
        [sys.executable, "-c", _KILLER, str(store_path), str(out), "3"], check=False
    )
    assert killed.returncode == -signal.SIGKILL
    manifest = read_manifest(out)
    assert manifest is not None and len(manifest.batches) == 1  # the batch was not committed
    left = [p for p in out.glob("*/batch=*") if p.name != f"batch={manifest.watermark}"]
    assert left  # files of the interrupted batch are on disk, named by no manifest
    report = export_parquet(store_path, out)
    assert sorted(report.removed) == sorted(f"{p.parent.name}/{p.name}" for p in left)
    assert report.documents == 1
    assert in_files(out) == in_store(store_path)


def test_a_lost_manifest_exports_everything_again_once(tmp_path: Path) -> None:
    store_path, out = tmp_path / "node.duckdb", tmp_path / "log"
    with Store(store_path) as store:
        store.ingest(document("a", 30), document="a.json")
        export_parquet(store, out)
        store.ingest(document("b", 25, start=30), document="b.json")
        export_parquet(store, out)
        (out / MANIFEST).unlink()
        report = export_parquet(store, out)
    assert report.watermark_before == 0 and report.documents == 2
    assert len(report.removed) >= len(APPEND_TABLES)  # the old partitions went first
    assert in_files(out) == in_store(store_path)
    # and a whole-directory read (what a cluster job may do) sees each row once
    events = pq.read_table(out / "event")
    assert events.num_rows == 55


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(
        st.one_of(
            st.tuples(st.just("ingest"), st.integers(1, 12), st.booleans()),
            st.tuples(st.just("export"), st.just(0), st.just(False)),
            st.tuples(st.just("lose manifest"), st.just(0), st.just(False)),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_any_sequence_of_ingests_and_exports_ends_with_each_row_once(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[str, int, bool]]
) -> None:
    tmp = tmp_path_factory.mktemp("seq")
    store_path, out = tmp / "node.duckdb", tmp / "log"
    start = 0
    with Store(store_path) as store:
        for i, (what, n, refused) in enumerate(steps):
            if what == "ingest":
                docs = document(f"d{i}", n, start=start, fail_at=n - 1 if refused else None)
                try:
                    store.ingest(docs, document=f"d{i}")
                    start += n
                except DocumentError:
                    assert refused
            elif what == "export":
                export_parquet(store, out)
            elif (out / MANIFEST).exists():
                (out / MANIFEST).unlink()
        export_parquet(store, out)
    assert in_files(out) == in_store(store_path)


def test_a_log_in_memory_reads_back_the_same(tmp_path: Path) -> None:
    ocel = Ocel.concat(document("m", 25))
    manifest = write_ocel_parquet(ocel, tmp_path / "mem")
    events = pa.concat_tables(pq.read_table(tmp_path / "mem" / f) for f in manifest.files("event"))
    assert events.column("ocel_id").to_pylist() == ocel.events.column("ocel_id").to_pylist()
    assert events.column("ocel_seq").to_pylist() == list(range(25))
    # written again: replaced, not doubled
    write_ocel_parquet(ocel, tmp_path / "mem")
    assert pq.read_table(tmp_path / "mem" / "event").num_rows == 25


def test_bad_places_are_refused_saying_where(tmp_path: Path) -> None:
    with Store(tmp_path / "node.duckdb") as store:
        store.ingest(document("a", 5), document="a.json")
        a_file = tmp_path / "a-file"
        a_file.write_text("not a directory")
        with pytest.raises(ExportError, match="a-file"):
            export_parquet(store, a_file)
        foreign = tmp_path / "foreign"
        foreign.mkdir()
        (foreign / MANIFEST).write_text(json.dumps({"format": "something else"}))
        with pytest.raises(ExportError, match="not a keiretsu Parquet export manifest"):
            export_parquet(store, foreign)
        assert sorted(p.name for p in foreign.iterdir()) == [MANIFEST]  # nothing written
        with pytest.raises(TypeError, match="a Store, a DuckDB connection"):
            export_parquet(42, tmp_path / "x")


def test_the_cli_exports_and_appends(tmp_path: Path) -> None:
    from keiretsu.cli import app

    store_path, out = tmp_path / "node.duckdb", tmp_path / "log"
    with Store(store_path) as store:
        store.ingest(document("a", 12), document="a.json")
    runner = CliRunner()
    args = ["export", "parquet", str(out), "--store", str(store_path), "--json"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["rows"]["event"] == 12
    second = runner.invoke(app, args)
    assert json.loads(second.stdout)["documents"] == 0
    missing = runner.invoke(app, ["export", "parquet", str(out), "--store", str(tmp_path / "no")])
    assert missing.exit_code == 2
    assert "no store here" in " ".join(missing.stderr.split())
    # the OCEL export the command always had still answers
    ocel = runner.invoke(
        app, ["export", "--to", str(tmp_path / "log.jsonocel"), "--store", str(store_path)]
    )
    assert ocel.exit_code == 0, ocel.output
    assert (tmp_path / "log.jsonocel").exists()
    assert os.path.getsize(tmp_path / "log.jsonocel") > 0
