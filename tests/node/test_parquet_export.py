"""A node whose node.toml names ``parquet_export`` keeps its Parquet export current: the
documents it accepts are appended, each once."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from keiretsu.model import OcelBuilder
from keiretsu.node.home import NodeHome, create_node
from keiretsu.node.parquet_export import ParquetExporter
from keiretsu.node.runtime import Node
from keiretsu.store.parquet import read_manifest

T0 = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)


def _document(prefix: str, n: int) -> list[object]:
    b = OcelBuilder()
    for i in range(n):
        b.add_event(f"{prefix}-{i}", "shipping", T0 + timedelta(minutes=i), {})
        b.relate(f"{prefix}-{i}", f"sscc-{i % 3}", "epc")
        b.add_object(f"sscc-{i % 3}", "logistic unit")
    return [b.build()]


def _wait_for(out: Path, watermark: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = read_manifest(out)
        if m is not None and m.watermark >= watermark:
            return
        time.sleep(0.05)
    raise AssertionError(f"the export did not reach ingest {watermark} in {timeout} s")


def test_the_node_appends_each_accepted_document(tmp_path: Path) -> None:
    store = tmp_path / "twin.duckdb"
    create_node(store, "umeda-dc")
    home = NodeHome.open(store)
    out = tmp_path / "for-spark"
    config = home.config_path.read_text()
    home.config_path.write_text(
        config + f'parquet_export = "{out}"\nparquet_export_seconds = 0\n', encoding="utf-8"
    )
    node = Node(store)
    try:
        exporter = ParquetExporter.attach(node)
        assert exporter is not None
        first = node.store.ingest(_document("a", 5), document="a.json")
        node._accepted(int(first.ingest_id or 0), "local", first.to_dict())
        _wait_for(out, int(first.ingest_id or 0))
        second = node.store.ingest(_document("b", 7), document="b.json")
        node._accepted(int(second.ingest_id or 0), "local", second.to_dict())
        _wait_for(out, int(second.ingest_id or 0))
        exporter.close()
    finally:
        node.close()
    events = pq.read_table(out / "event")
    assert sorted(events.column("ocel_id").to_pylist()) == sorted(
        [f"a-{i}" for i in range(5)] + [f"b-{i}" for i in range(7)]
    )


def test_a_node_without_the_option_exports_nothing(tmp_path: Path) -> None:
    store = tmp_path / "twin.duckdb"
    create_node(store, "umeda-dc")
    node = Node(store)
    try:
        assert ParquetExporter.attach(node) is None
        assert node.on_accepted == [] or all(
            not isinstance(getattr(c, "__self__", None), ParquetExporter) for c in node.on_accepted
        )
    finally:
        node.close()


def test_a_bad_interval_is_refused_naming_the_key(tmp_path: Path) -> None:
    store = tmp_path / "twin.duckdb"
    create_node(store, "umeda-dc")
    home = NodeHome.open(store)
    home.config_path.write_text(
        home.config_path.read_text() + "parquet_export_seconds = -1\n", encoding="utf-8"
    )
    with pytest.raises(Exception, match="parquet_export_seconds"):
        home.config()
