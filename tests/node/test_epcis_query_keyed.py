"""The EPCIS query reads a few rows by key, and answers the same as when it scans.

With a million events in the store, a query for one EPC or one event id, and the page of 100
events written out for any query, must not read the whole log (issue #18: an indexed
parameter under 50 ms). What a user would notice — the cost of a page following the size of
the log — is measured by ``bench/epcis_query.py``; here, cheaply, the two things it rests on:

* every statement such a query runs reads the log's large tables through their indexes
  (DuckDB's plan says ``Index Scan``, not ``Sequential Scan``), on a small store;
* reading a few events by key (the "drivers" of :mod:`keiretsu.node.query.sql`) changes no
  answer: the pages, in order, with their tokens, are the same events as a selection that
  scans every event (no driver) — for queries drawn at random from the store's own values.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import keiretsu.node.query.render as render_module
import keiretsu.node.query.select as select_module
from keiretsu.io.epcis.synth import synthetic_events, write_synthetic_epcis_json
from keiretsu.node.query import parse_query, render_events, select_events
from keiretsu.store import Store
from keiretsu.store.schema import INDEXES

N_EVENTS = 1_500
BIG_TABLES = {table for table, _ in INDEXES}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    folder = tmp_path_factory.mktemp("keyed")
    document = write_synthetic_epcis_json(folder / "chain.json", N_EVENTS)
    with Store(folder / "node.duckdb") as s:
        s.ingest_file(document)
        yield s


@pytest.fixture(scope="module")
def values() -> dict[str, list[str]]:
    """Event ids, EPCs, places and times of the chain, from its generator (not the store)."""
    out: dict[str, list[str]] = {"id": [], "epc": [], "readPoint": [], "time": []}
    for event in synthetic_events(N_EVENTS):
        out["id"].append(str(event["eventID"]))
        out["epc"] += [str(e) for e in event.get("epcList", [])[:1]]
        if "readPoint" in event:
            out["readPoint"].append(str(event["readPoint"]["id"]))
        out["time"].append(str(event["eventTime"]))
    return {k: sorted(set(v)) for k, v in out.items()}


class Recording:
    """A connection that keeps every statement run through it (and its parameters)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.statements: list[tuple[str, list[Any]]] = []

    def execute(self, sql: str, params: Any = None) -> Any:
        self.statements.append((sql, list(params or [])))
        return self.con.execute(sql, params)

    def sql(self, sql: str, params: Any = None) -> Any:
        self.statements.append((sql, list(params or [])))
        return self.con.sql(sql, params=params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.con, name)


def _sequential_scans(
    con: duckdb.DuckDBPyConnection, statements: list[tuple[str, list[Any]]]
) -> list[str]:
    """The large tables some statement reads whole: DuckDB's plan as run (``EXPLAIN
    ANALYZE``: with its parameters bound, which is when DuckDB picks an index)."""
    found = []

    def walk(node: dict[str, Any], sql: str) -> None:
        info = node.get("extra_info", {})
        table = str(info.get("Table", "")).rsplit(".", 1)[-1].strip('"')
        if table in BIG_TABLES and info.get("Type") == "Sequential Scan":
            found.append(f"{table} in {sql[:160]}…")
        for child in node.get("children", []):
            walk(child, sql)

    for sql, params in statements:
        plan = con.execute(f"EXPLAIN (ANALYZE, FORMAT json) {sql}", params).fetchall()
        for node in json.loads(plan[0][1])["operator"]:
            walk(node, sql)
    return found


@pytest.mark.parametrize(
    "parameter",
    ["EQ_eventID", "MATCH_epc", "MATCH_anyEPC", "EQ_readPoint"],
)
def test_a_selective_query_and_its_page_read_the_log_by_key(
    store: Store, values: dict[str, list[str]], parameter: str
) -> None:
    value = {
        "EQ_eventID": values["id"][7],
        "MATCH_epc": values["epc"][3],
        "MATCH_anyEPC": values["epc"][5],
        # the dock of the distribution centre: a few hundred events of the 1,500
        "EQ_readPoint": values["readPoint"][-1],
    }[parameter]
    recording = Recording(store.con)
    page = select_events(recording, parse_query({parameter: value}), limit=100)  # type: ignore[arg-type]
    assert page.event_ids
    events = render_events(recording, page.event_ids)  # type: ignore[arg-type]
    assert len(events) == len(page.event_ids)
    assert _sequential_scans(store.con, recording.statements) == []


def test_writing_a_page_out_reads_only_its_events(
    store: Store, values: dict[str, list[str]]
) -> None:
    """Whatever selected the page (here a business step that half the log has)."""
    page = select_events(store.con, parse_query({"EQ_bizStep": "receiving"}), limit=100)
    assert len(page.event_ids) == 100
    recording = Recording(store.con)
    render_events(recording, page.event_ids)  # type: ignore[arg-type]
    assert recording.statements
    assert _sequential_scans(store.con, recording.statements) == []


def _pages(
    con: duckdb.DuckDBPyConnection, params: dict[str, Any], per_page: int
) -> list[list[str]]:
    query = parse_query(params)
    pages, token = [], None
    while True:
        page = select_events(con, query, limit=per_page, after=token)
        pages.append(page.event_ids)
        token = page.next_token
        if token is None or len(pages) >= 8:  # the first pages, their tokens included
            return pages


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_reading_by_key_answers_what_a_scan_answers(
    store: Store, values: dict[str, list[str]], data: st.DataObject, monkeypatch: pytest.MonkeyPatch
) -> None:
    params: dict[str, Any] = {}
    for name in data.draw(
        st.sets(
            st.sampled_from(
                ["EQ_eventID", "MATCH_epc", "MATCH_anyEPC", "EQ_readPoint", "time", "bizStep"]
            ),
            min_size=1,
            max_size=3,
        )
    ):
        if name == "EQ_eventID":
            params[name] = "|".join(
                data.draw(st.lists(st.sampled_from(values["id"]), min_size=1, max_size=4))
            )
        elif name in ("MATCH_epc", "MATCH_anyEPC"):
            params[name] = data.draw(st.sampled_from(values["epc"]))
        elif name == "EQ_readPoint":
            params[name] = data.draw(st.sampled_from(values["readPoint"]))
        elif name == "bizStep":
            params["EQ_bizStep"] = data.draw(st.sampled_from(["receiving", "shipping", "packing"]))
        else:
            params["GE_eventTime"] = data.draw(st.sampled_from(values["time"]))
    if data.draw(st.booleans()):
        params["orderBy"] = "eventTime"
        params["orderDirection"] = data.draw(st.sampled_from(["ASC", "DESC"]))
    per_page = data.draw(st.integers(3, 40))
    keyed = _pages(store.con, params, per_page)
    monkeypatch.setattr(select_module, "FEW_EVENTS", -1)  # no driver: every event scanned
    scanned = _pages(store.con, params, per_page)
    monkeypatch.undo()
    assert keyed == scanned


def test_many_events_read_by_hash_join_are_the_rows_read_by_key(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above DuckDB's ``index_scan_max_count`` (a push's thousand events name thousands of
    objects) the rows are read by a hash join with the ids instead of testing each row
    against the list: the same rows, table by table."""
    ids = [
        r[0] for r in store.con.execute("SELECT ocel_id FROM event ORDER BY ocel_seq").fetchall()
    ]
    joined = render_module.event_ocel(store.con, ids)
    objects = joined.objects.num_rows
    assert objects > render_module.INDEX_KEYS  # the hash join was taken for the objects
    monkeypatch.setattr(render_module, "INDEX_KEYS", 10 * objects)  # every list read by key
    listed = render_module.event_ocel(store.con, ids)
    for name in ("events", "event_attributes", "event_objects", "objects"):
        got, want = getattr(joined, name), getattr(listed, name)
        assert got.num_rows > 0
        assert sorted(got.to_pylist(), key=repr) == sorted(want.to_pylist(), key=repr), name
    for name in ("object_attributes", "object_objects"):
        got, want = getattr(joined, name), getattr(listed, name)
        assert sorted(got.to_pylist(), key=repr) == sorted(want.to_pylist(), key=repr), name
    assert len(render_events(store.con, ids)) == len(ids)
