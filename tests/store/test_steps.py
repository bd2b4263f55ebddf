"""The store keeps every object's trace (``object_step``, read through the ``object_steps``
view) up to date as documents arrive — in any order, late events included — and it always
equals the trace computed independently: the store's log exported as OCEL 2.0 JSON, parsed with
the ``json`` module, each object's events sorted in plain Python by time, then by the order the
test sent them (documents in the order accepted, events in the order listed); the successor is
the next one. The reference never reads ``object_step`` nor the store's ``ocel_seq``."""

from __future__ import annotations

import io
import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keiretsu.analytics import Log
from keiretsu.analytics.traces import has_passes, steps
from keiretsu.io.ocel.jsonocel import write_ocel_json
from keiretsu.model import DocumentError, Ocel, OcelBuilder
from keiretsu.store import Store
from keiretsu.store.node_store import ReadDocument
from keiretsu.store.schema import PASS_COLUMNS, SCHEMA_VERSION, drop_indexes

T0 = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)
OBJECTS = {"pallet-1": "pallet", "pallet-2": "pallet", "dock-A": "location", "order-9": "order"}
COLUMNS = [
    "object_id",
    "event_id",
    "activity",
    "time",
    "position",
    "next_event_id",
    # schema 9: what the views' windows computed, kept on ingest
    "prev_activity",
    "prev_time",
    "pass_index",
    "prev_pass_event_id",
    "prev_pass_time",
]
REFERENCE_COLUMNS = ["object_type", *COLUMNS, "location", "prev_location"]

Events = list[tuple[str, int, list[str]]]


def document(events: Events, fail: bool = False, located: bool = False) -> Iterator[Ocel]:
    """``located``: most events also name a business location (``bizLocation``), one of two
    sites by the minute."""
    b = OcelBuilder()
    for eid, minute, objects in events:
        b.add_event(eid, f"step-{minute % 3}", T0 + timedelta(minutes=minute), {})
        for oid in objects:
            b.add_object(oid, OBJECTS[oid])
            b.relate(eid, oid, "epc")
        if located and minute % 5 != 4:
            b.add_object(f"site-{minute % 2}", "location")
            b.relate(eid, f"site-{minute % 2}", "bizLocation")
    yield b.build()
    if fail:
        raise DocumentError.single("Invalid event", "broken", event_index=len(events))


def sent_ids(documents: Sequence[Events]) -> list[str]:
    """The event ids of accepted documents, in the order they were sent (the source order)."""
    return [eid for events in documents for eid, _, _ in events]


def maintained(store: Store) -> pa.Table:
    """The traces as the analytics read them from the store."""
    log = Log.from_connection(store.con)
    got = log.execute(steps(log)).select(COLUMNS)
    return got.sort_by([("object_id", "ascending"), ("position", "ascending")])


def stored(store: Store) -> list[dict[str, Any]]:
    """What the store maintains: the ``object_steps`` view, row by row."""
    columns = ", ".join(REFERENCE_COLUMNS)
    found = store.con.execute(f"SELECT {columns} FROM object_steps").fetchall()
    rows = _utc([dict(zip(REFERENCE_COLUMNS, r, strict=True)) for r in found])
    return sorted(rows, key=lambda r: (r["object_id"], r["position"]))


def exported(store: Store) -> dict[str, Any]:
    """The store's log as an OCEL 2.0 JSON document, parsed with the ``json`` module."""
    buffer = io.BytesIO()
    write_ocel_json(store.to_ocel(), buffer)
    result: dict[str, Any] = json.loads(buffer.getvalue())
    return result


def reference(log: dict[str, Any], sent: Sequence[str]) -> list[dict[str, Any]]:
    """Each object's trace from an exported OCEL 2.0 log, in plain Python: its events (each
    once, whatever the qualifier) sorted by time, then by source order — the first time the
    test sent the event id in an accepted document (a repeated id is known, not stored again);
    position counts from 0 and the successor is the next event."""
    order: dict[str, int] = {}
    for eid in sent:
        order.setdefault(eid, len(order))
    assert sorted(e["id"] for e in log["events"]) == sorted(order), "store lost or added events"
    types = {o["id"]: o["type"] for o in log["objects"]}
    traces: dict[str, list[tuple[datetime, int, str, str]]] = defaultdict(list)
    sites: dict[str, str | None] = {}
    for ev in log["events"]:
        when = datetime.fromisoformat(ev["time"]).astimezone(UTC)
        relationships = ev.get("relationships", [])
        for oid in dict.fromkeys(r["objectId"] for r in relationships):
            traces[oid].append((when, order[ev["id"]], ev["id"], ev["type"]))
        named = [r["objectId"] for r in relationships if r["qualifier"] == "bizLocation"]
        sites[ev["id"]] = min(named) if named else None
    rows = []
    for oid in sorted(traces):
        trace = sorted(traces[oid])
        passes: dict[str, list[tuple[datetime, int, str, str]]] = defaultdict(list)
        last_site: str | None = None
        for position, (when, _, eid, activity) in enumerate(trace):
            before = trace[position - 1] if position else None
            done = passes[activity]  # this object's earlier passes of the activity
            rows.append(
                {
                    "object_type": types[oid],
                    "object_id": oid,
                    "event_id": eid,
                    "activity": activity,
                    "time": when,
                    "position": position,
                    "next_event_id": trace[position + 1][2] if position + 1 < len(trace) else None,
                    "prev_activity": before[3] if before else None,
                    "prev_time": before[0] if before else None,
                    "pass_index": len(done),
                    "prev_pass_event_id": done[-1][2] if done else None,
                    "prev_pass_time": done[-1][0] if done else None,
                    "location": sites[eid],
                    "prev_location": last_site,
                }
            )
            done.append(trace[position])
            last_site = sites[eid] or last_site
    return rows


def assert_traces(store: Store, sent: Sequence[str]) -> list[dict[str, Any]]:
    """The store's maintained traces, the analytics' read of them and the analytics' own
    computation over the log in memory (window functions, no ``object_step``) all equal the
    independent reference."""
    want = reference(exported(store), sent)
    assert stored(store) == want
    want = [{k: v for k, v in r.items() if k not in ("location", "prev_location")} for r in want]
    plain = [{k: r[k] for k in COLUMNS} for r in want]
    assert _utc(maintained(store).to_pylist()) == plain
    in_memory = Log.from_ocel(store.to_ocel())
    computed = in_memory.execute(steps(in_memory)).select(COLUMNS)
    computed = computed.sort_by([("object_id", "ascending"), ("position", "ascending")])
    assert _utc(computed.to_pylist()) == plain
    # each object's latest pass of each activity, where the next document's passes count on
    latest = {(r["object_id"], r["activity"]): (r["pass_index"], r["event_id"]) for r in want}
    kept = store.con.execute(
        "SELECT object_id, activity, pass_index, event_id FROM object_activity_last"
    ).fetchall()
    assert sorted(kept) == sorted((*k, *v) for k, v in latest.items())
    return want


def _utc(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for r in rows:
        for key in ("time", "prev_time", "prev_pass_time"):
            if r.get(key) is not None:
                r[key] = r[key].astimezone(UTC)
    return rows


def test_late_events_take_their_place_in_the_trace(tmp_path: Path) -> None:
    a: Events = [("e1", 0, ["pallet-1"]), ("e3", 30, ["pallet-1"])]
    b: Events = [("e2", 10, ["pallet-1", "dock-A"])]
    with Store(tmp_path / "node.duckdb") as store:
        store.ingest(document(a), document="a")
        # a partner's document arrives later with an event between the two
        store.ingest(document(b), document="b")
        rows = maintained(store).to_pylist()
        pallet = [r for r in rows if r["object_id"] == "pallet-1"]
        assert [r["event_id"] for r in pallet] == ["e1", "e2", "e3"]
        assert [r["next_event_id"] for r in pallet] == ["e2", "e3", None]
        assert [r["position"] for r in pallet] == [0, 1, 2]
        assert_traces(store, sent_ids([a, b]))


def test_an_object_stored_before_its_first_event_keeps_its_type(tmp_path: Path) -> None:
    """An object can come in a document that has no event of it (an OCEL log's object table,
    master data): its first step, in a later document, takes the type stored then."""
    b = OcelBuilder()
    b.add_event("e1", "step-0", T0, {})
    b.add_object("pallet-1", "pallet")
    b.relate("e1", "pallet-1", "epc")
    b.add_object("order-9", "order")  # no event of it yet
    later: Events = [("e2", 5, ["pallet-1", "order-9"])]
    with Store(tmp_path / "node.duckdb") as store:
        store.ingest(iter([b.build()]), document="objects")
        store.ingest(document(later), document="later")
        rows = assert_traces(store, ["e1", "e2"])
        assert {(r["object_id"], r["object_type"]) for r in rows} == {
            ("pallet-1", "pallet"),
            ("order-9", "order"),
        }


def test_events_at_the_same_instant_follow_the_order_they_were_sent(tmp_path: Path) -> None:
    """Ties: in one document as listed, across documents in the order they were stored —
    whatever their ids would sort to."""
    first: Events = [("z", 5, ["pallet-1"]), ("m", 5, ["pallet-1"])]
    second: Events = [("a", 5, ["pallet-1"]), ("b", 0, ["pallet-1"])]
    with Store(tmp_path / "node.duckdb") as store:
        store.ingest(document(first), document="first")
        store.ingest(document(second), document="second")
        pallet = [r for r in assert_traces(store, sent_ids([first, second]))]
        assert [r["event_id"] for r in pallet] == ["b", "z", "m", "a"]


def test_refused_and_repeated_documents_leave_the_traces_as_they_were(tmp_path: Path) -> None:
    a: Events = [("e1", 0, ["pallet-1"]), ("e2", 5, ["pallet-1"])]
    with Store(tmp_path / "node.duckdb") as store:
        store.ingest(document(a), document="a")
        before = assert_traces(store, sent_ids([a]))
        with pytest.raises(DocumentError):
            store.ingest(document([("e9", 1, ["pallet-1"])], fail=True), document="bad")
        store.ingest(document(a), document="a")
        assert assert_traces(store, sent_ids([a, a])) == before
        assert len(before) == 2


@settings(
    max_examples=15,  # each example makes two stores and ingests every group (~1.5 s)
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
    ),
    st.sets(st.integers(0, 3), max_size=2),  # documents refused (their last event is broken)
    st.booleans(),  # steps linked in NumPy (a capture's), or in DuckDB (a large document's)
    st.booleans(),  # stored ids looked up through their index (a large store's), or scanned
    st.booleans(),  # DuckDB's windows on all of its threads (a whole document's), or on one
)
def test_incremental_traces_equal_the_traces_of_the_exported_log(
    tmp_path_factory: pytest.TempPathFactory,
    events: list[tuple[int, list[str], int]],
    refused: set[int],
    in_numpy: bool,
    probed: bool,
    wide: bool,
) -> None:
    docs: dict[int, Events] = {}
    for i, (minute, objects, doc) in enumerate(events):
        docs.setdefault(doc, []).append((f"e{i}", minute, objects))
    path = tmp_path_factory.mktemp("steps") / "node.duckdb"
    accepted: list[Events] = []
    with Store(path) as store:
        store.STEP_ROWS = 3  # several passes per document, as a large document gets
        store.LINK_ROWS = store.LINK_ROWS if in_numpy else 0
        store.PROBE_ROW_RATIO = 0 if probed else store.PROBE_ROW_RATIO
        store.WIDE_WINDOWS = wide
        for doc, evs in sorted(docs.items(), key=lambda kv: -kv[0]):  # not in time order
            if doc in refused:
                with pytest.raises(DocumentError):
                    store.ingest(document(evs, fail=True, located=True), document=f"doc-{doc}")
            else:
                store.ingest(document(evs, located=True), document=f"doc-{doc}")
                accepted.append(evs)
            assert_traces(store, sent_ids(accepted))
        # a refused document is tried again and accepted: its events take their place
        for doc, evs in sorted(docs.items()):
            if doc in refused:
                store.ingest(document(evs, located=True), document=f"doc-{doc}")
                accepted.append(evs)
        rows = assert_traces(store, sent_ids(accepted))
        located = sum(1 for minute, _, _ in events if minute % 5 != 4)
        assert len(rows) == sum(len(objs) for _, objs, _ in events) + located


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
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
    docs: dict[int, Events] = {}
    for i, (minute, objects, doc) in enumerate(events):
        # the same event in two documents now and then: stored once, known the second time
        docs.setdefault(doc, []).append((f"e{i % 20}", minute, objects))
    ordered = sorted(docs.items(), key=lambda kv: -kv[0])
    sent = sent_ids([evs for _, evs in ordered])
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
        assert assert_traces(grouped, sent) == assert_traces(one, sent)
        log = grouped.ingest_log().to_pylist()
        assert [r["status"] for r in log] == ["accepted"] * len(ordered)
        owed = grouped.con.execute("SELECT count(*) FROM outbox").fetchall()[0][0]
        assert owed == sum(1 for r in reports if r.events_new or r.events_corrected)


def test_a_store_from_before_object_step_gets_its_traces_built(tmp_path: Path) -> None:
    path = tmp_path / "node.duckdb"
    a: Events = [("e1", 0, ["pallet-1"]), ("e2", 5, ["pallet-1", "dock-A"])]
    with Store(path) as store:
        store.ingest(document(a), document="a")
        store.con.execute("DELETE FROM object_step")
        store.con.execute("DELETE FROM object_step_last")
        drop_indexes(store.con)  # schema 8's: DuckDB drops no column of an indexed table
        store.con.execute("ALTER TABLE event DROP COLUMN ocel_seq")
    with Store(path) as store:
        assert len(assert_traces(store, sent_ids([a]))) == 3


def test_a_store_of_schema_2_has_its_last_steps_moved_apart(tmp_path: Path) -> None:
    """Schema 2 kept each object's last step in ``object_step`` itself; opened for writing,
    the store moves them to ``object_step_last`` and the traces read the same, and go on
    growing correctly."""
    path = tmp_path / "node.duckdb"
    a: Events = [("e1", 0, ["pallet-1"]), ("e2", 5, ["pallet-1", "dock-A"])]
    b: Events = [("e3", 9, ["pallet-1"]), ("e0", 1, ["dock-A"])]
    with Store(path) as store:
        store.ingest(document(a), document="a")
        expected = maintained(store).to_pylist()
        store.con.execute(
            "INSERT INTO object_step SELECT * EXCLUDE (object_key) FROM object_step_last"
        )
        store.con.execute("DROP VIEW object_steps")
        store.con.execute("DROP TABLE object_step_last")  # schema 2 had none
        store.con.execute("UPDATE keiretsu_meta SET value = '2' WHERE key = 'schema_version'")
    with Store(path, read_only=True) as old:  # read as schema 2, before any migration
        assert maintained(old).to_pylist() == expected
    with Store(path) as store:
        assert maintained(store).to_pylist() == expected
        last = store.con.execute("SELECT count(*) FROM object_step_last").fetchall()[0][0]
        assert last == 2  # pallet-1 and dock-A
        assert_traces(store, sent_ids([a]))
        store.ingest(document(b), document="b")
        assert_traces(store, sent_ids([a, b]))


def test_a_store_of_schema_8_gets_the_passes_of_its_steps(tmp_path: Path) -> None:
    """Schema 8's steps had no previous step nor pass: read as it is (read-only) the views
    compute them; opened for writing, the traces are rebuilt with them, and later documents —
    late events included — keep them right."""
    path = tmp_path / "node.duckdb"
    a: Events = [("e1", 0, ["pallet-1"]), ("e2", 5, ["pallet-1", "dock-A"]), ("e4", 9, ["dock-A"])]
    b: Events = [("e3", 3, ["pallet-1", "dock-A"]), ("e5", 12, ["pallet-1"])]
    old = ["object_id", "event_id", "activity", "time", "position", "next_event_id"]
    with Store(path) as store:
        store.ingest(document(a), document="a")
        expected = maintained(store).select(old).to_pylist()
        for table in ("object_step", "object_step_last"):
            for column in PASS_COLUMNS:
                store.con.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        store.con.execute("DROP VIEW object_steps")
        store.con.execute("ALTER TABLE object_step_last DROP COLUMN object_key")
        store.con.execute("DROP TABLE object_activity_last")
        store.con.execute(
            "CREATE OR REPLACE VIEW object_steps AS "
            "SELECT * FROM object_step UNION ALL SELECT * FROM object_step_last"
        )
        store.con.execute("UPDATE keiretsu_meta SET value = '8' WHERE key = 'schema_version'")
    with Store(path, read_only=True) as schema8:
        log = Log.from_connection(schema8.con)
        assert not has_passes(log)
        got = log.execute(steps(log)).select(old)
        got = got.sort_by([("object_id", "ascending"), ("position", "ascending")])
        assert got.to_pylist() == expected
    with Store(path) as store:
        version = store.con.execute(
            "SELECT value FROM keiretsu_meta WHERE key = 'schema_version'"
        ).fetchall()
        assert version == [(str(SCHEMA_VERSION),)]
        assert has_passes(Log.from_connection(store.con))
        assert_traces(store, sent_ids([a]))
        store.ingest(document(b), document="b")  # e3 is late for both objects
        assert_traces(store, sent_ids([a, b]))


def test_a_store_of_schema_9_gets_the_keys_its_captures_find_objects_by(tmp_path: Path) -> None:
    """Schema 9's per-object trace tables had no ``object_key``: read as it is (read-only) the
    traces read the same; opened for writing, every row gets its key, and later documents —
    late events included — find their objects' rows by it."""
    path = tmp_path / "node.duckdb"
    a: Events = [("e1", 0, ["pallet-1"]), ("e2", 5, ["pallet-1", "dock-A"]), ("e4", 9, ["dock-A"])]
    b: Events = [("e3", 3, ["pallet-1", "dock-A"]), ("e5", 12, ["pallet-1", "order-9"])]
    with Store(path) as store:
        store.ingest(document(a), document="a")
        expected = stored(store)
        store.con.execute("DROP VIEW object_steps")
        for table in ("object_step_last", "object_activity_last"):
            store.con.execute(f"ALTER TABLE {table} DROP COLUMN object_key")
        store.con.execute(
            "CREATE VIEW object_steps AS "
            "SELECT * FROM object_step UNION ALL SELECT * FROM object_step_last"
        )
        store.con.execute("UPDATE keiretsu_meta SET value = '9' WHERE key = 'schema_version'")
    with Store(path, read_only=True) as schema9:
        assert stored(schema9) == expected
    with Store(path) as store:
        version = store.con.execute(
            "SELECT value FROM keiretsu_meta WHERE key = 'schema_version'"
        ).fetchall()
        assert version == [(str(SCHEMA_VERSION),)]
        for table in ("object_step_last", "object_activity_last"):
            keyed = store.con.execute(
                f"SELECT count(*), count(*) FILTER (WHERE object_key = hash(object_id)) "
                f"FROM {table}"
            ).fetchall()[0]
            assert keyed[0] > 0 and keyed[0] == keyed[1]
        assert stored(store) == expected
        store.ingest(document(b), document="b")  # e3 is late for both objects
        assert_traces(store, sent_ids([a, b]))


def test_an_event_naming_an_object_its_document_does_not_list_takes_the_stored_type(
    tmp_path: Path,
) -> None:
    """A document may name an object in an event without listing it among its objects (an
    OCEL log of events only, after the objects came on their own): the step takes the type
    the store holds for it, as when the document lists it."""
    first = OcelBuilder()
    first.add_object("order-9", "order")
    first.add_object("pallet-1", "pallet")
    later = OcelBuilder()
    later.add_event("e1", "step-0", T0, {})
    later.relate("e1", "order-9", "epc")
    later.relate("e1", "pallet-1", "epc")
    later.add_object("pallet-1", "pallet")  # listed; order-9 is not
    batch = later.build()
    assert "order-9" not in batch.objects.column("ocel_id").to_pylist()
    with Store(tmp_path / "node.duckdb") as store:
        store.ingest(iter([first.build()]), document="objects")
        store.ingest(iter([batch]), document="events")
        rows = assert_traces(store, ["e1"])
        assert {(r["object_id"], r["object_type"]) for r in rows} == {
            ("pallet-1", "pallet"),
            ("order-9", "order"),
        }
