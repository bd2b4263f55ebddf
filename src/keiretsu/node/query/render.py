"""The selected events written back as EPCIS 2.0: as captured, or rebuilt from their OCEL rows.

A local user gets each event exactly as it was captured (the ``source_event`` kept beside its
OCEL rows), with an error declaration received later folded in; an event that came in another
format — and every event a partner sees, whose view holds no captured originals — is written
from its OCEL rows (:func:`~keiretsu.node.epcis_render.epcis_from_ocel`). :func:`event_ocel`
reads those rows (what a sharing policy filters), and :func:`query_document` wraps a page of
events as the ``EPCISQueryDocument`` the binding answers with.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb
import orjson
import pyarrow as pa

from keiretsu.io.epcis.mapping import SOURCE_FORMAT
from keiretsu.model.ocel import SCHEMAS, Ocel, format_time
from keiretsu.node.epcis_render import EPCIS_CONTEXT, KEIRETSU_NS, KEIRETSU_PREFIX, render_ocel
from keiretsu.node.query.keyed import keyed
from keiretsu.store.arrow import arrow_table

__all__ = [
    "Fetched",
    "event_ocel",
    "fetch_events",
    "query_document",
    "render_events",
    "write_events",
]


_IDS = "list_contains(?::VARCHAR[], {column})"
"""Rows of the given ids, the ids bound as one list parameter: DuckDB answers it from the
column's ART index (:data:`keiretsu.store.schema.INDEXES`) by key — the page's rows only,
whatever the size of the log — when it is the scan's only filter (else :func:`keyed`). A join
with a registered table of ids (the former way) reads the whole table each time: about half a
second per page with a million events."""


INDEX_KEYS = 2048
"""DuckDB's ``index_scan_max_count``: a list of more ids than this is not read by key but
by scanning the table and testing each row against the list. A hash join with the list
(``IN (SELECT unnest(...))``) is then about twice as fast: 24 vs 46 ms for 5,000 objects' rows
among 230,000, 37 vs 91 ms for their attributes — what a 1,000-event push's objects cost when
a partner's subscriber is told of it."""


def _by(column: str, count: int = 0) -> str:
    """Rows whose ``column`` is one of the ids bound as one list parameter (``count`` of them):
    by key (:data:`_IDS`) up to :data:`INDEX_KEYS`, else a hash join with the list."""
    if count > INDEX_KEYS:
        return f"{column} IN (SELECT unnest(?::VARCHAR[]))"
    return _IDS.format(column=column)


def event_ocel(con: duckdb.DuckDBPyConnection, event_ids: Sequence[str]) -> Ocel:
    """The OCEL rows of the given events: the events, their attributes and relations, the
    objects they touch with those objects' attributes, the object-to-object links among those
    objects, and the declared types — not the source events. What a sharing policy filters
    before :func:`epcis_from_ocel` writes it for a partner. Each table is read by key (its
    index), so the cost follows the number of events asked for, not the size of the log."""
    ids = list(dict.fromkeys(event_ids))

    def arrow(sql: str, *params: object) -> pa.Table:
        return arrow_table(con, sql, params)

    events = arrow(
        "SELECT e.ocel_id, e.ocel_type, e.ocel_time FROM ocel_event e"
        f" WHERE {_by('e.ocel_id', len(ids))} ORDER BY e.ocel_time, e.ocel_seq, e.ocel_id",
        ids,
    )
    attributes = arrow(
        "SELECT a.ocel_id, a.ocel_name, a.ocel_value, a.ocel_value_type"
        f" FROM ocel_event_attribute a WHERE {_by('a.ocel_id', len(ids))}",
        ids,
    )
    relations = arrow(
        "SELECT r.ocel_event_id, r.ocel_object_id, r.ocel_qualifier, r.quantity, r.uom"
        f" FROM ocel_event_object r WHERE {_by('r.ocel_event_id', len(ids))}",
        ids,
    )
    object_ids = sorted(set(relations.column("ocel_object_id").to_pylist()))
    objects = arrow(
        "SELECT DISTINCT ON (o.ocel_id) o.ocel_id, o.ocel_type FROM ocel_object o"
        f" WHERE {_by('o.ocel_id', len(object_ids))}",
        object_ids,
    )
    object_attributes = arrow(
        "SELECT a.ocel_id, a.ocel_name, a.ocel_time, a.ocel_value, a.ocel_value_type"
        f" FROM ocel_object_attribute a WHERE {_by('a.ocel_id', len(object_ids))}",
        object_ids,
    )
    if len(object_ids) <= INDEX_KEYS:  # by key through the source's index, then the target
        linked = f"{keyed('ocel_object_object', 'ocel_source_id', '*')} l WHERE"
    else:
        linked = f"ocel_object_object l WHERE {_by('l.ocel_source_id', len(object_ids))} AND"
    links = arrow(
        "SELECT l.ocel_source_id, l.ocel_target_id, l.ocel_qualifier"
        f" FROM {linked} {_by('l.ocel_target_id', len(object_ids))}",
        object_ids,
        object_ids,
    )
    event_types = arrow(
        "SELECT ocel_type, attributes FROM ocel_event_type"
        " WHERE list_contains(?::VARCHAR[], ocel_type)",
        sorted(set(events.column("ocel_type").to_pylist())),
    )
    object_types = arrow(
        "SELECT ocel_type, attributes FROM ocel_object_type"
        " WHERE list_contains(?::VARCHAR[], ocel_type)",
        sorted(set(objects.column("ocel_type").to_pylist())),
    )
    return Ocel(
        events=events,
        event_attributes=attributes,
        objects=objects,
        object_attributes=object_attributes,
        event_objects=relations,
        object_objects=links,
        event_types=event_types if event_types.num_rows else SCHEMAS["event_types"].empty_table(),
        object_types=object_types
        if object_types.num_rows
        else SCHEMAS["object_types"].empty_table(),
    )


@dataclass(frozen=True)
class Fetched:
    """A page's rows as read from the store (:func:`fetch_events`), before they are written
    as EPCIS (:func:`write_events`): the captured originals, the error declarations received
    after them, and the OCEL rows of the events that have no original."""

    event_ids: list[str]
    sources: dict[str, str]
    declared: list[tuple[str, str, str | None]]
    ocel: Ocel | None


def fetch_events(con: duckdb.DuckDBPyConnection, event_ids: Sequence[str]) -> Fetched:
    """Read what :func:`write_events` needs to write the given events, by key: the cost
    follows the number of events, not the size of the log."""
    ids = list(dict.fromkeys(event_ids))
    if not ids:
        return Fetched([], {}, [], None)
    sources = dict(
        con.execute(
            "SELECT s.ocel_id, s.body FROM"
            f" {keyed('ocel_source_event', 'ocel_id', 'ocel_id, format, body')} s"
            " WHERE s.format = ?",
            [ids, SOURCE_FORMAT],
        ).fetchall()
    )
    declared = (
        con.execute(
            "SELECT a.ocel_id, a.ocel_name, a.ocel_value FROM"
            f" {keyed('ocel_event_attribute', 'ocel_id', 'ocel_id, ocel_name, ocel_value')} a"
            " WHERE starts_with(a.ocel_name, 'errorDeclaration.')",
            [list(sources)],
        ).fetchall()
        if sources
        else []
    )
    rest = [eid for eid in ids if eid not in sources]
    return Fetched(list(event_ids), sources, declared, event_ocel(con, rest) if rest else None)


def write_events(fetched: Fetched) -> list[dict[str, Any]]:
    """The fetched events as EPCIS 2.0 JSON events, in the order asked for (see
    :func:`render_events`)."""
    out: dict[str, dict[str, Any]] = {}
    for eid, body in fetched.sources.items():
        out[eid] = orjson.loads(body)
    corrections: dict[str, dict[str, str | None]] = {}
    for eid, name, value in fetched.declared:
        if eid in out and "errorDeclaration" not in out[eid]:
            corrections.setdefault(eid, {})[name[len("errorDeclaration.") :]] = value
    for eid, parts in corrections.items():
        out[eid]["errorDeclaration"] = _declaration(parts)
    if fetched.ocel is not None:
        for eid, event in render_ocel(fetched.ocel):
            out[eid] = event
    return [out[eid] for eid in fetched.event_ids if eid in out]


def render_events(con: duckdb.DuckDBPyConnection, event_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The given events as EPCIS 2.0 JSON events, in the order given: an event that came as
    EPCIS exactly as the partner sent it (with an error declaration received later added),
    any other written from its OCEL rows by :func:`epcis_from_ocel`. Ids not in the store
    are left out. The rows are read by key (:func:`fetch_events`): a page costs the same in
    a log of a thousand events or of a million."""
    if not event_ids:
        return []
    return write_events(fetch_events(con, event_ids))


def _declaration(parts: Mapping[str, str | None]) -> dict[str, Any]:
    """An error declaration received after the event, from its attributes."""
    declaration: dict[str, Any] = {"declarationTime": parts.get("declarationTime")}
    for name, value in parts.items():
        if name == "declarationTime" or value is None:
            continue
        if name == "correctiveEventIDs":
            try:
                declaration[name] = orjson.loads(value)
            except orjson.JSONDecodeError:
                declaration[name] = [value]
        else:
            declaration[name] = value
    return declaration


def query_document(
    events: list[dict[str, Any]],
    *,
    query_name: str = "SimpleEventQuery",
    subscription_id: str | None = None,
) -> dict[str, Any]:
    """The ``EPCISQueryDocument`` the REST binding answers a query with (one page of it)."""
    results: dict[str, Any] = {"queryName": query_name}
    if subscription_id is not None:
        results["subscriptionID"] = subscription_id
    results["resultsBody"] = {"eventList": events}
    return {
        "@context": [EPCIS_CONTEXT, {KEIRETSU_PREFIX: KEIRETSU_NS}],
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": format_time(datetime.now(UTC).replace(microsecond=0)),
        "epcisBody": {"queryResults": results},
    }
