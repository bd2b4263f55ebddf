"""The data boxes under a cap on DuckDB's memory: the same figures, spilled to disk, not refused.

A user caps DuckDB's memory (``Log.open(memory_limit=...)``, ``keiretsu report
--memory-limit``) to keep a report within the machine. DuckDB spills to disk beyond the cap,
but the data boxes' visits — every visit of the followed type, joined to its place and its
product and sorted — were one query whose joins stayed pinned beside the sort: it ran out of
memory instead (10M events below a 3 GB cap; here 364,220 events at 95 MB). They are now
read one step at a time (``Log.groups``)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pyarrow.compute as pc
import pytest

from keiretsu.analytics import Log
from keiretsu.analytics.databox import data_boxes
from keiretsu.io.detect import read_any
from keiretsu.model import Ocel
from keiretsu.store import Store

ROOT = Path(__file__).resolve().parents[2]
RUNNING = ROOT.parent / "shared" / "data" / "ocel" / "running-example.sqlite"
COPIES = 20


def _suffixed() -> object:
    """The views bench's copies of a log (``bench/_replicate.py``, beside ``tests/``): the
    same events and objects, ids made distinct per copy."""
    spec = importlib.util.spec_from_file_location("_replicate", ROOT / "bench" / "_replicate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.suffixed


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The OCEL 2.0 running example 20 times over (364,220 events) in a node store."""
    suffixed = _suffixed()
    source = Ocel.concat(read_any(RUNNING))
    path = tmp_path_factory.mktemp("databox-memory") / "copies.duckdb"
    with Store(path) as s:
        report = s.ingest(
            (suffixed(source, f"#{k}") for k in range(COPIES)),  # type: ignore[operator]
            document="running-example copies",
        )
    assert report.status == "accepted"
    assert report.events_new == COPIES * source.num_events
    return path


def test_under_a_memory_cap_the_data_boxes_spill_and_give_the_same_figures(store: Path) -> None:
    free_log = Log.open(store, threads=1)
    free = data_boxes(free_log, "items")
    # DuckDB holds one configuration per file and process: the uncapped connection closes
    free_log.backend.disconnect()
    capped = data_boxes(Log.open(store, memory_limit="95MB", threads=1), "items")
    assert capped.table.to_pylist() == free.table.to_pylist()
    assert capped.meta == free.meta
    by_step = {r["step"]: r for r in capped.table.to_pylist()}
    # a completion of "pick item" per item each event picks, in every copy
    assert by_step["pick item"]["completions"] == COPIES * _picked_items()
    assert by_step["pick item"]["cycle_seconds"] is not None


def _picked_items() -> int:
    """(event, item) pairs of the running example's "pick item" events, read from the file."""
    source = Ocel.concat(read_any(RUNNING))
    picks = source.events.filter(pc.equal(source.events["ocel_type"], "pick item"))["ocel_id"]
    items = source.objects.filter(pc.equal(source.objects["ocel_type"], "items"))["ocel_id"]
    eo = source.event_objects
    named = eo.filter(
        pc.and_(
            pc.is_in(eo["ocel_event_id"], value_set=picks.combine_chunks()),
            pc.is_in(eo["ocel_object_id"], value_set=items.combine_chunks()),
        )
    )
    pairs = zip(
        named["ocel_event_id"].to_pylist(), named["ocel_object_id"].to_pylist(), strict=True
    )
    return len(set(pairs))
