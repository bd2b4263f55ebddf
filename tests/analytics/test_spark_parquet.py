"""Spark reads the node's Parquet export itself: the log's tables are scans of the files the
manifest names (nothing loaded through this process), an append is seen when the export is
opened again, and a place with no export says so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from _data import DATA
from keiretsu.analytics import Log
from keiretsu.store import Store
from keiretsu.store.parquet import export_parquet, read_manifest


def test_spark_reads_the_exported_files_and_sees_an_append(tmp_path: Path, spark: Any) -> None:
    store, out = tmp_path / "node.duckdb", tmp_path / "for-spark"
    with Store(store) as s:
        s.ingest_file(DATA / "logs" / "running-example.xes")
        export_parquet(s, out)
    before = Log.from_parquet(out, spark)
    # each table is a scan of the files the manifest names, read by Spark
    manifest = read_manifest(out)
    assert manifest is not None
    frame = spark.table(before.events.get_name())
    read = {Path(f.removeprefix("file:")).resolve() for f in frame.inputFiles()}
    assert read == {(out / f).resolve() for f in manifest.files("event")}
    assert before.scalar(before.events.count()) == 42
    with Store(store) as s:  # the same events under new ids: a second document
        s.ingest_file(DATA / "ocel" / "ocel20_example.jsonocel")
        appended = export_parquet(s, out)
    after = Log.from_parquet(out, spark)
    assert after.scalar(after.events.count()) == 42 + appended.rows["event"]
    assert before.scalar(before.events.count()) == 42  # an open log keeps its snapshot


def test_no_export_there_is_said(tmp_path: Path, spark: Any) -> None:
    with pytest.raises(FileNotFoundError, match="no keiretsu Parquet export here"):
        Log.from_parquet(tmp_path / "nothing", spark)
