"""Schema 8: a store written before it gets the indexes the EPCIS query reads by, on opening.

A store of schema 7 (no indexes) is made by writing a current one and dropping its indexes,
as schema 7 wrote them; opened for writing, it gets every index of ``INDEXES``, says schema
8, and answers queries exactly as before. Opened read-only, it is left as it is (and still
answers, by scanning).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from keiretsu.io.epcis.synth import synthetic_events, write_synthetic_epcis_json
from keiretsu.node.query import parse_query, render_events, select_events
from keiretsu.store import Store
from keiretsu.store.schema import INDEXES, SCHEMA_VERSION, drop_indexes


def _indexes(store: Store) -> set[tuple[str, str]]:
    rows = store.con.execute(
        "SELECT table_name, expressions FROM duckdb_indexes() WHERE schema_name = 'main'"
    ).fetchall()
    return {(str(t), str(e).strip("[]'\" ")) for t, e in rows}


def _answer(store: Store, params: dict[str, str]) -> list[dict[str, object]]:
    page = select_events(store.con, parse_query(params), limit=1000)
    return render_events(store.con, page.event_ids)


def test_a_store_of_schema_7_gets_the_indexes_and_answers_the_same(tmp_path: Path) -> None:
    document = write_synthetic_epcis_json(tmp_path / "chain.json", 300)
    probe = next(e for e in synthetic_events(300) if e.get("epcList"))
    queries = [
        {"MATCH_epc": str(probe["epcList"][0])},
        {"EQ_eventID": str(probe["eventID"])},
        {"EQ_bizStep": "shipping"},
    ]
    path = tmp_path / "node.duckdb"
    with Store(path) as store:
        store.ingest_file(document)
        assert _indexes(store) == set(INDEXES)
        drop_indexes(store.con)
        store.con.execute("UPDATE keiretsu_meta SET value = '7' WHERE key = 'schema_version'")
        assert _indexes(store) == set()
        before = [_answer(store, q) for q in queries]
    assert all(before)
    with Store(path, read_only=True) as store:  # read-only: nothing is built, answers the same
        assert _indexes(store) == set()
        assert [_answer(store, q) for q in queries] == before
    with Store(path) as store:
        version = store.con.execute(
            "SELECT value FROM keiretsu_meta WHERE key = 'schema_version'"
        ).fetchall()
        assert int(version[0][0]) == SCHEMA_VERSION >= 8
        assert _indexes(store) == set(INDEXES)
        assert [_answer(store, q) for q in queries] == before
        # and the store keeps taking documents with its indexes in place
        more = write_synthetic_epcis_json(
            tmp_path / "more.json", 50, seed=1, start=datetime(2025, 1, 6, tzinfo=UTC)
        )
        report = store.ingest_file(more)
        assert report.events_new == 50
        assert store.summary().events == 350
