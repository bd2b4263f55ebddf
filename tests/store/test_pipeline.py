"""Reading in a second process gives the same store as reading in-process, refusals included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from _data import DATA
from keiretsu.model import DocumentError, Ocel
from keiretsu.store import Store

PLANT = (
    Path(__file__).parents[2]
    / "src/keiretsu/examples/two-company-chain/1-sakura-foods-plant.jsonld"
)


def tables(store: Store) -> dict[str, list[dict[str, object]]]:
    return {
        name: store.to_ocel().sorted().tables()[name].to_pylist() for name in Ocel.table_names()
    }


@pytest.mark.parametrize(
    "path",
    [
        PLANT,
        DATA / "epcis/openepcis/XML/Capture/Documents/AggregationEvent_all_possible_fields.xml",
        DATA / "logs/running-example.xes",
        DATA / "ocel/ocel20_example.jsonocel",
    ],
    ids=lambda p: p.name,
)
def test_parallel_read_stores_the_same_as_in_process(tmp_path: Path, path: Path) -> None:
    with Store(tmp_path / "a.duckdb") as a, Store(tmp_path / "b.duckdb") as b:
        ra = a.ingest_file(path, parallel=False)
        rb = b.ingest_file(path, parallel=True)
        assert (ra.events_new, ra.objects_new) == (rb.events_new, rb.objects_new)
        assert ra.events_new > 0
        assert tables(a) == tables(b)


def test_parallel_read_refusal_stores_nothing(tmp_path: Path) -> None:
    doc = json.loads(PLANT.read_text())
    doc["epcisBody"]["eventList"][5]["action"] = "MOVE"
    bad = tmp_path / "bad.jsonld"
    bad.write_text(json.dumps(doc))
    with Store(tmp_path / "n.duckdb") as store:
        with pytest.raises(DocumentError) as err:
            store.ingest_file(bad, parallel=True)
        problem = err.value.problems[0]
        assert problem.event_index == 5
        assert problem.field is not None and problem.field.endswith("/5/action")
        assert store.summary().events == 0
        assert [r["status"] for r in store.ingest_log().to_pylist()] == ["refused"]


def test_one_reader_process_reads_document_after_document_in_order(tmp_path: Path) -> None:
    """The mechanism a node keeps for its captures: one reader, several documents queued,
    each future holding that document's batches (the same as read in this process), a
    refusal as the reader found it, and the reader's death failing what is still open."""
    import psutil

    from keiretsu.store.pipeline import ReaderProcess, read_file

    doc = json.loads(PLANT.read_text())
    doc["epcisBody"]["eventList"][2]["action"] = "MOVE"
    bad = tmp_path / "bad.jsonld"
    bad.write_text(json.dumps(doc))
    # other tests in this worker may have left children of their own (a Spark JVM)
    before = {p.pid for p in psutil.Process().children()}
    with ReaderProcess("test") as reader:
        futures = [
            reader.submit(read_file, "epcis-json", str(path), {}) for path in (PLANT, bad, PLANT)
        ]
        first, refused, again = (f.exception(timeout=60) or f.result() for f in futures)
        expected = list(read_file("epcis-json", str(PLANT), {}))
        assert isinstance(first, list) and isinstance(again, list)
        assert [b.events.to_pylist() for b in first] == [b.events.to_pylist() for b in expected]
        assert [b.events.to_pylist() for b in again] == [b.events.to_pylist() for b in expected]
        assert isinstance(refused, DocumentError)
        assert refused.problems[0].event_index == 2
        (child,) = [p for p in psutil.Process().children() if p.pid not in before]
        child.kill()
        child.wait(10)
        with pytest.raises(RuntimeError, match="reader process for test"):
            # refused at once, or failed once the pipe shows the reader gone
            reader.submit(read_file, "epcis-json", str(PLANT), {}).result(timeout=60)


def test_a_compressed_file_counts_by_its_content(tmp_path: Path) -> None:
    """A gzip file small on disk but large to parse is read in a second process (the XES logs
    people have are .xes.gz: bpic2012 is 3.3 MB on disk, 75 MB of XML); a small one is not."""
    import gzip
    import os

    from keiretsu.store.pipeline import PARALLEL_MIN_BYTES, parallel_worthwhile

    big = tmp_path / "big.xes.gz"
    big.write_bytes(gzip.compress(b"<log/>" + b" " * PARALLEL_MIN_BYTES))
    small = tmp_path / "small.xes.gz"
    small.write_bytes(gzip.compress(b"<log/>" + b" " * 1000))
    plain = tmp_path / "plain.xes"
    plain.write_bytes(b"<log/>" + b" " * 1000)
    assert big.stat().st_size < PARALLEL_MIN_BYTES  # compressed, it is small
    assert parallel_worthwhile(big) == ((os.cpu_count() or 1) >= 2)
    assert not parallel_worthwhile(small)
    assert not parallel_worthwhile(plain)


def test_the_reader_process_reads_without_importing_pandas() -> None:
    """Arrow imports pandas (when installed) on the first list it converts, a quarter to most
    of a second at every reader's start; the reader process tells it pandas is absent and still
    reads what this process reads."""
    import importlib
    import importlib.util

    from keiretsu.store.pipeline import ReaderProcess, read_file

    pandas_here = importlib.util.find_spec("pandas") is not None
    assert pandas_here, "the dev environment installs pandas: the check below would be empty"
    with ReaderProcess("no-pandas") as reader:
        batches = reader.submit(read_file, "epcis-json", str(PLANT), {}).result(timeout=60)
        expected = list(read_file("epcis-json", str(PLANT), {}))
        assert [b.events.to_pylist() for b in batches] == [b.events.to_pylist() for b in expected]
        asked = reader.submit(importlib.import_module, "pandas")
        error = asked.exception(timeout=60)
    assert error is not None and "no pandas in the reader process" in str(error)
