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
from keiretsu.store.node_store import ReadDocument

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


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    events=st.lists(
        st.tuples(
            st.integers(0, 50),
            st.lists(st.sampled_from(sorted(OBJECTS)), min_size=1, max_size=3, unique=True),
            st.integers(0, 4),
        ),
        min_size=1,
        max_size=25,
    ),
    split=st.integers(1, 5),
)
def test_documents_stored_in_groups_equal_documents_stored_one_by_one(
    tmp_path_factory: pytest.TempPathFactory,
    events: list[tuple[int, list[str], int]],
    split: int,
) -> None:
    """What a node does with captures that queued up: several documents in one transaction.
    Each stays its own ingest, and the store ends as if they had come one by one."""
    docs: dict[int, list[tuple[str, int, list[str]]]] = {}
    for i, (minute, objects, doc) in enumerate(events):
        # the same event in two documents now and then: stored once, known the second time
        docs.setdefault(doc, []).append((f"e{i % 20}", minute, objects))
    ordered = sorted(docs.items(), key=lambda kv: -kv[0])
    root = tmp_path_factory.mktemp("groups")
    with Store(root / "one.duckdb") as one, Store(root / "group.duckdb") as grouped:
        singles = [one.ingest(document(evs), document=f"doc-{d}") for d, evs in ordered]
        reports = []
        for k in range(0, len(ordered), split):
            part = [
                ReadDocument(batches=list(document(evs)), document=f"doc-{d}", outbox=["p"])
                for d, evs in ordered[k : k + split]
            ]
            reports += grouped.ingest_group(part)
        assert [(r.events_new, r.events_known) for r in reports] == [
            (r.events_new, r.events_known) for r in singles
        ]
        assert maintained(grouped).to_pylist() == batch(grouped).to_pylist()
        assert maintained(grouped).to_pylist() == maintained(one).to_pylist()
        log = grouped.ingest_log().to_pylist()
        assert [r["status"] for r in log] == ["accepted"] * len(ordered)
        owed = grouped.con.execute("SELECT count(*) FROM outbox").fetchall()[0][0]
        assert owed == sum(1 for r in reports if r.events_new or r.events_corrected)


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


def test_a_store_of_schema_2_has_its_last_steps_moved_apart(tmp_path: Path) -> None:
    """Schema 2 kept each object's last step in ``object_step`` itself; opened for writing,
    the store moves them to ``object_step_last`` and the traces read the same, and go on
    growing correctly."""
    path = tmp_path / "node.duckdb"
    with Store(path) as store:
        store.ingest(
            document([("e1", 0, ["pallet-1"]), ("e2", 5, ["pallet-1", "dock-A"])]), document="a"
        )
        expected = maintained(store).to_pylist()
        store.con.execute("INSERT INTO object_step SELECT * FROM object_step_last")
        store.con.execute("DELETE FROM object_step_last")
        store.con.execute("DROP VIEW object_steps")
        store.con.execute("UPDATE keiretsu_meta SET value = '2' WHERE key = 'schema_version'")
    with Store(path, read_only=True) as old:  # read as schema 2, before any migration
        assert maintained(old).to_pylist() == expected
    with Store(path) as store:
        assert maintained(store).to_pylist() == expected
        last = store.con.execute("SELECT count(*) FROM object_step_last").fetchall()[0][0]
        assert last == 2  # pallet-1 and dock-A
        store.ingest(document([("e3", 9, ["pallet-1"]), ("e0", 1, ["dock-A"])]), document="b")
        assert maintained(store).to_pylist() == batch(store).to_pylist()
