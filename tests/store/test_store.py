"""The store keeps whole documents only, stores each event once, and logs every ingest."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keiretsu.io.epcis.synth import write_synthetic_epcis_json
from keiretsu.model import DocumentError, Ocel, OcelBuilder
from keiretsu.store import Store, StoreError
from keiretsu.store.schema import SCHEMA_VERSION, drop_indexes

T0 = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)


def shipment_document(
    prefix: str, n: int, batch_size: int = 50, fail_at: int | None = None
) -> Iterator[Ocel]:
    """A document of ``n`` shipping events of pallets, in batches; raises at ``fail_at``."""
    b = OcelBuilder()
    for i in range(n):
        if fail_at is not None and i == fail_at:
            raise DocumentError.single(
                "Invalid event", "eventTime is not a date", event_index=i, field="/eventTime"
            )
        eid = f"{prefix}-{i}"
        b.add_event(eid, "shipping", T0 + timedelta(minutes=i), {"disposition": "in_transit"})
        pallet = f"sscc-{i % 7}"
        b.add_object(pallet, "logistic unit")
        b.add_object_attribute(pallet, "weight", 400.0 + i % 7)
        b.relate(eid, pallet, "epc")
        b.relate(eid, "lot-1", "epcClass", quantity=10.0, uom="KGM")
        b.add_object("lot-1", "product lot")
        b.link(pallet, "lot-1", "contains")
        if len(b) >= batch_size:
            yield b.build()
    yield b.build()


def test_ingest_stores_events_objects_relations(tmp_path: Path) -> None:
    with Store(tmp_path / "node.duckdb") as store:
        report = store.ingest(shipment_document("a", 120), document="a.json", format="test")
        assert report.status == "accepted"
        assert (report.events_read, report.events_new, report.events_known) == (120, 120, 0)
        assert report.objects_new == 8  # 7 pallets + 1 lot
        summary = store.summary()
        assert summary.events == 120
        assert summary.objects == 8
        assert summary.event_types == {"shipping": 120}
        assert summary.object_types == {"logistic unit": 7, "product lot": 1}
        assert summary.first_event == T0
        assert summary.last_event == T0 + timedelta(minutes=119)
        e2o = store.table("event_objects")
        assert e2o.num_rows == 240
        lot_rows = [r for r in e2o.to_pylist() if r["ocel_object_id"] == "lot-1"]
        assert all(r["quantity"] == 10.0 and r["uom"] == "KGM" for r in lot_rows)
        assert store.table("object_objects").num_rows == 7
        # object attribute values are stored once each, not once per event mentioning them
        assert store.table("object_attributes").num_rows == 7


@pytest.mark.parametrize("probed", [False, True], ids=["scanned", "probed"])
def test_same_document_twice_is_stored_once(tmp_path: Path, probed: bool) -> None:
    """``probed``: the stored ids looked up through their index, as in a store many times
    larger than the document."""
    with Store(tmp_path / "node.duckdb") as store:
        store.PROBE_ROW_RATIO = 0 if probed else store.PROBE_ROW_RATIO
        store.ingest(shipment_document("a", 100), document="a.json")
        before = {name: store.table(name).num_rows for name in Ocel.table_names()}
        again = store.ingest(shipment_document("a", 100), document="a.json")
        assert (again.events_new, again.events_known, again.objects_new) == (0, 100, 0)
        after = {name: store.table(name).num_rows for name in Ocel.table_names()}
        assert after == before
        # overlapping document: 50 known, 30 new
        overlap = store.ingest(shipment_document("a", 130), document="a2.json")
        assert (overlap.events_new, overlap.events_known) == (30, 100)
        assert store.summary().events == 130


def test_duplicate_ids_inside_one_document_count_once(tmp_path: Path) -> None:
    b = OcelBuilder()
    for _ in range(3):
        b.add_event("dup", "receiving", T0)
        b.relate("dup", "o1", "epc")
    b.add_object("o1", "trade item")
    with Store(tmp_path / "n.duckdb") as store:
        report = store.ingest([b.build()], document="dups")
        assert (report.events_new, report.events_known) == (1, 2)
        assert store.table("event_objects").num_rows == 1


def test_refused_document_stores_nothing_and_keeps_what_was_there(tmp_path: Path) -> None:
    with Store(tmp_path / "node.duckdb") as store:
        store.ingest(shipment_document("ok", 60), document="ok.json")
        before = {name: store.table(name).to_pylist() for name in Ocel.table_names()}
        with pytest.raises(DocumentError) as err:
            # fails after several batches were already handed to the store
            store.ingest(shipment_document("bad", 400, fail_at=333), document="bad.json")
        assert err.value.problems[0].document == "bad.json"
        assert err.value.problems[0].event_index == 333
        after = {name: store.table(name).to_pylist() for name in Ocel.table_names()}
        assert after == before
        log = store.ingest_log().to_pylist()
        assert [r["status"] for r in log] == ["accepted", "refused"]
        problem = json.loads(log[1]["problem"])
        assert problem["event_index"] == 333
        assert problem["field"] == "/eventTime"
        assert log[1]["events_new"] == 0


def test_error_declaration_marks_the_stored_event(tmp_path: Path) -> None:
    b = OcelBuilder()
    b.add_event("urn:uuid:e1", "shipping", T0, {"action": "OBSERVE"})
    first = b.build()
    b.add_event(
        "urn:uuid:e1",
        "shipping",
        T0,
        {
            "action": "OBSERVE",
            "errorDeclaration.declarationTime": T0 + timedelta(days=1),
            "errorDeclaration.reason": "incorrect_data",
        },
    )
    correction = b.build()
    with Store(tmp_path / "n.duckdb") as store:
        store.ingest([first], document="original")
        report = store.ingest([correction], document="correction")
        assert (report.events_new, report.events_known, report.events_corrected) == (0, 1, 1)
        attrs = {
            r["ocel_name"]: r["ocel_value"]
            for r in store.table("event_attributes").to_pylist()
            if r["ocel_id"] == "urn:uuid:e1"
        }
        assert attrs["errorDeclaration.reason"] == "incorrect_data"
        assert attrs["action"] == "OBSERVE"
        assert store.summary().events == 1  # the corrected event stays, marked
        again = store.ingest([correction], document="correction again")
        assert again.events_corrected == 0


def test_store_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "n.duckdb"
    with Store(path) as store:
        store.ingest(shipment_document("a", 10), document="a")
    with Store(path, read_only=True) as store:
        assert store.summary().events == 10
        assert store.summary().documents_accepted == 1


def test_second_writer_gets_a_clear_error(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "n.duckdb"
    with Store(path):
        code = (
            "import sys\nfrom keiretsu.store import Store, StoreError\n"
            f"try:\n    Store({str(path)!r})\nexcept StoreError as e:\n"
            "    print(e); sys.exit(3)\n"
        )
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 3, proc.stderr
    assert "in use by another keiretsu process" in proc.stdout


def test_read_only_open_of_missing_store_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no store here"):
        Store(tmp_path / "absent.duckdb", read_only=True)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    docs=st.lists(
        st.tuples(
            st.lists(st.integers(0, 30), min_size=1, max_size=25),  # event numbers in a doc
            st.one_of(st.none(), st.integers(0, 24)),  # where the document turns out invalid
        ),
        min_size=1,
        max_size=6,
    ),
    probed=st.booleans(),  # stored ids looked up through their index (a large store's)
)
def test_store_holds_exactly_the_union_of_accepted_documents(
    tmp_path_factory: pytest.TempPathFactory,
    docs: list[tuple[list[int], int | None]],
    probed: bool,
) -> None:
    """Whatever mix of overlapping, repeated and refused documents arrives, the store holds each
    event of the accepted ones exactly once, and nothing of the refused ones."""
    path = tmp_path_factory.mktemp("prop") / "n.duckdb"
    expected: set[str] = set()
    with Store(path) as store:
        store.PROBE_ROW_RATIO = 0 if probed else store.PROBE_ROW_RATIO
        for k, (numbers, fail_at) in enumerate(docs):

            def batches(
                numbers: list[int] = numbers, fail_at: int | None = fail_at
            ) -> Iterator[Ocel]:
                b = OcelBuilder()
                for i, n in enumerate(numbers):
                    if fail_at is not None and i == fail_at:
                        raise DocumentError.single("bad", "bad event", event_index=i)
                    b.add_event(f"e{n}", "step", T0 + timedelta(seconds=n))
                    b.add_object(f"o{n % 5}", "item")
                    b.relate(f"e{n}", f"o{n % 5}", "epc")
                    if i % 4 == 3:
                        yield b.build()
                yield b.build()

            refused = fail_at is not None and fail_at < len(numbers)
            if refused:
                with pytest.raises(DocumentError):
                    store.ingest(batches(), document=f"d{k}")
            else:
                report = store.ingest(batches(), document=f"d{k}")
                new = {f"e{n}" for n in numbers} - expected
                assert report.events_new == len(new)
                expected |= new
        ids = store.table("events").column("ocel_id").to_pylist()
        assert sorted(ids) == sorted(expected)
        e2o = store.table("event_objects").column("ocel_event_id").to_pylist()
        assert sorted(e2o) == sorted(expected)


def test_events_keep_the_order_they_were_read_in(tmp_path: Path) -> None:
    """Events at the same instant keep the source's order (``ocel_seq``), across documents."""
    b = OcelBuilder()
    for i in range(5):  # five scans of one pallet in the same second, listed c, a, e, b, d
        b.add_event("caebd"[i], "scan", T0, {})
        b.relate("caebd"[i], "pallet", "epc")
        b.add_object("pallet", "logistic unit")
    second = OcelBuilder()
    second.add_event("z", "scan", T0, {})
    with Store(tmp_path / "node.duckdb") as store:
        store.ingest(iter([b.build()]), document="one.json", format="test")
        store.ingest(iter([second.build()]), document="two.json", format="test")
        rows = store.con.execute("SELECT ocel_id FROM ocel_event ORDER BY ocel_seq").fetchall()
        assert [r[0] for r in rows] == ["c", "a", "e", "b", "d", "z"]
        assert store.table("events").column("ocel_id").to_pylist() == list("caebdz")


def test_a_store_of_schema_1_is_brought_up_to_date(tmp_path: Path) -> None:
    path = tmp_path / "node.duckdb"
    with Store(path) as store:
        store.ingest(shipment_document("a", 30), document="a.json", format="test")
        # make it look like a store written before events kept their read order (and before
        # the indexes of schema 8, which would keep DuckDB from dropping a column)
        drop_indexes(store.con)
        store.con.execute("ALTER TABLE event DROP COLUMN ocel_seq")
        store.con.execute("UPDATE keiretsu_meta SET value = '1' WHERE key = 'schema_version'")
    with Store(path) as store:
        version = store.con.execute(
            "SELECT value FROM keiretsu_meta WHERE key = 'schema_version'"
        ).fetchall()
        assert version == [(str(SCHEMA_VERSION),)]
        ids = store.con.execute("SELECT ocel_id FROM event ORDER BY ocel_seq").fetchall()
        assert [r[0] for r in ids] == [f"a-{i}" for i in range(30)]
        assert store.summary().events == 30


def test_a_capture_into_a_store_whose_indexes_outgrow_the_working_memory_is_stored(
    tmp_path: Path,
) -> None:
    """The store's ART indexes are held in memory once an ingest inserts into them, and grow
    with the store: an ingest's memory limit leaves room for them beside its working memory.
    With the working memory alone (8 MB here, 512 MB for a node), a store of 20,000 events
    (1,000,000 for a node) refused the next capture: "Out of Memory" — or worse, DuckDB could
    not even roll back and invalidated the database."""
    history = write_synthetic_epcis_json(tmp_path / "history.jsonld", 20_000, seed=1)
    capture = write_synthetic_epcis_json(
        tmp_path / "capture.jsonld", 1_000, seed=2, start=datetime(2024, 9, 2, 6, tzinfo=UTC)
    )
    with Store(tmp_path / "node.duckdb") as store:
        store.ingest_file(history)
    with Store(tmp_path / "node.duckdb", ingest_memory_limit="8MB") as store:
        report = store.ingest_file(capture, parallel=False)
        assert (report.status, report.events_new) == ("accepted", 1_000)
        assert store.summary().events == 21_000
