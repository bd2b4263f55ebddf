"""A document's objects, their attribute values and links, read by key through the store's
indexes (what a push reads from a store far larger than the document) are exactly the rows the
scans read: for random logs stored as two of the node's own documents — the second naming
objects the first described — and one a partner pushed, on random sets of events, with and
without the shortcut of reading only the newer documents' rows."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_policy import logs

import keiretsu.store.partner_view as partner_view
from keiretsu.model.ocel import Ocel
from keiretsu.store import Store

SHIPPED = partner_view.READ_BY_KEY_RATIO


def renamed(log: Ocel, prefix: str) -> Ocel:
    """The same log with its events renamed (the objects kept: a later document about them)."""

    def swap(table: pa.Table, column: str) -> pa.Table:
        i = table.column_names.index(column)
        new = pc.replace_substring(table.column(column), "urn:test:ev:", prefix)
        return table.set_column(i, column, new)

    return dataclasses.replace(
        log,
        events=swap(log.events, "ocel_id"),
        event_attributes=swap(log.event_attributes, "ocel_id"),
        event_objects=swap(log.event_objects, "ocel_event_id"),
        source_events=swap(log.source_events, "ocel_id"),
    )


def read(store: Store, event_ids: list[str], newer_than: int | None, ratio: float) -> list:
    """Every table of ``local_ocel``'s log, as sorted rows."""
    partner_view.READ_BY_KEY_RATIO = ratio
    log, placement = partner_view.local_ocel(store.con, event_ids, newer_than=newer_than)
    tables = [getattr(log, f.name) for f in dataclasses.fields(log)] + [placement]
    return [sorted(map(repr, t.to_pylist())) for t in tables]


@pytest.fixture(autouse=True)
def _ratio():  # type: ignore[no-untyped-def]
    kept = partner_view.READ_BY_KEY_RATIO
    yield
    partner_view.READ_BY_KEY_RATIO = kept


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(first=logs(), second=logs(), pushed=logs(), data=st.data())
def test_a_documents_objects_read_by_key_are_the_rows_the_scans_read(
    tmp_path: Path, first: Ocel, second: Ocel, pushed: Ocel, data: st.DataObject
) -> None:
    path = tmp_path / f"node-{data.draw(st.uuids())}.duckdb"
    with Store(path) as store:
        store.ingest([first], document="first")
        later = store.ingest([renamed(second, "urn:test:later:")], document="second")
        store.ingest([renamed(pushed, "urn:test:pushed:")], document="push", source="b")
        stored = [str(e) for (e,) in store.con.execute("SELECT ocel_id FROM event").fetchall()]
        wanted = data.draw(st.lists(st.sampled_from(sorted(stored) or ["none"]), unique=True))
        newer = None
        if data.draw(st.booleans()) and later.ingest_id is not None:
            # the push's shortcut: every event asked for came in the second document
            wanted = [e for e in wanted if e.startswith("urn:test:later:")]
            newer = later.ingest_id - 1
        by_key = read(store, wanted, newer, 0.0)  # every object read through the indexes
        scanned = read(store, wanted, newer, math.inf)  # every table scanned
        assert by_key == scanned
        assert read(store, wanted, newer, SHIPPED) == scanned
