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
