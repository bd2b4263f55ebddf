"""The store keeps every object's trace (``object_step``) up to date as documents arrive — in
any order, late events included — and it always equals the trace computed from the whole log."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keiretsu.analytics import Log
from keiretsu.analytics.traces import object_events, steps, transitions
from keiretsu.model import DocumentError, Ocel, OcelBuilder
from keiretsu.store import Store

T0 = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)
OBJECTS = {"pallet-1": "pallet", "pallet-2": "pallet", "dock-A": "location", "order-9": "order"}
COLUMNS = ["object_id", "event_id", "activity", "time", "position", "next_event_id"]


def document(events: list[tuple[str, int, list[str]]], fail: bool = False) -> Iterator[Ocel]:
    b = OcelBuilder()
    for eid, minute, objects in events:
        b.add_event(eid, f"step-{minute % 3}", T0 + timedelta(minutes=minute), {})
        for oid in objects:
            b.add_object(oid, OBJECTS[oid])
            b.relate(eid, oid, "epc")
    yield b.build()
    if fail:
        raise DocumentError.single("Invalid event", "broken", event_index=len(events))


def maintained(store: Store) -> pa.Table:
    log = Log.from_connection(store.con)
    got = log.execute(steps(log)).select(COLUMNS)
    return got.sort_by([("object_id", "ascending"), ("position", "ascending")])


def batch(store: Store) -> pa.Table:
    log = Log.from_connection(store.con)
    got = log.execute(transitions(object_events(log))).select(COLUMNS)
    return got.sort_by([("object_id", "ascending"), ("position", "ascending")])


def test_late_events_take_their_place_in_the_trace(tmp_path: Path) -> None:
    with Store(tmp_path / "node.duckdb") as store:
        store.ingest(document([("e1", 0, ["pallet-1"]), ("e3", 30, ["pallet-1"])]), document="a")
        # a partner's document arrives later with an event between the two
        store.ingest(document([("e2", 10, ["pallet-1", "dock-A"])]), document="b")
        rows = maintained(store).to_pylist()
        pallet = [r for r in rows if r["object_id"] == "pallet-1"]
        assert [r["event_id"] for r in pallet] == ["e1", "e2", "e3"]
        assert [r["next_event_id"] for r in pallet] == ["e2", "e3", None]
        assert [r["position"] for r in pallet] == [0, 1, 2]
        assert maintained(store).to_pylist() == batch(store).to_pylist()


def test_refused_and_repeated_documents_leave_the_traces_as_they_were(tmp_path: Path) -> None:
    with Store(tmp_path / "node.duckdb") as store:
        store.ingest(document([("e1", 0, ["pallet-1"]), ("e2", 5, ["pallet-1"])]), document="a")
        before = maintained(store)
        with pytest.raises(DocumentError):
            store.ingest(document([("e9", 1, ["pallet-1"])], fail=True), document="bad")
        store.ingest(document([("e1", 0, ["pallet-1"]), ("e2", 5, ["pallet-1"])]), document="a")
        assert maintained(store).to_pylist() == before.to_pylist()
        assert before.num_rows == 2


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 12),  # minute: few values, so many events share an instant
            st.lists(st.sampled_from(sorted(OBJECTS)), min_size=1, max_size=3, unique=True),
            st.integers(0, 3),  # which document
        ),
        min_size=1,
        max_size=25,
    )
)
def test_incremental_traces_equal_the_batch_computation(
    tmp_path_factory: pytest.TempPathFactory, events: list[tuple[int, list[str], int]]
) -> None:
    docs: dict[int, list[tuple[str, int, list[str]]]] = {}
    for i, (minute, objects, doc) in enumerate(events):
        docs.setdefault(doc, []).append((f"e{i}", minute, objects))
    path = tmp_path_factory.mktemp("steps") / "node.duckdb"
    with Store(path) as store:
        store.STEP_ROWS = 3  # several passes per document, as a large document gets
        for doc, evs in sorted(docs.items(), key=lambda kv: -kv[0]):  # not in time order
            store.ingest(document(evs), document=f"doc-{doc}")
            assert maintained(store).to_pylist() == batch(store).to_pylist()
        assert maintained(store).num_rows == sum(len(objs) for _, objs, _ in events)


def test_a_store_from_before_object_step_gets_its_traces_built(tmp_path: Path) -> None:
    path = tmp_path / "node.duckdb"
    with Store(path) as store:
        store.ingest(
            document([("e1", 0, ["pallet-1"]), ("e2", 5, ["pallet-1", "dock-A"])]), document="a"
        )
        expected = maintained(store)
        store.con.execute("DELETE FROM object_step")
        store.con.execute("ALTER TABLE event DROP COLUMN ocel_seq")
    with Store(path) as store:
        assert (
            maintained(store)
            .select(["object_id", "event_id"])
            .equals(expected.select(["object_id", "event_id"]))
        )
