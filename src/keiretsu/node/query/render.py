"""The selected events written back as EPCIS 2.0: as captured, or rebuilt from their OCEL rows.

A local user gets each event exactly as it was captured (the ``source_event`` kept beside its
OCEL rows), with an error declaration received later folded in; an event that came in another
format — and every event a partner sees, whose view holds no captured originals — is written
from its OCEL rows (:func:`~keiretsu.node.epcis_render.epcis_from_ocel`). :func:`event_ocel`
reads those rows (what a sharing policy filters), and :func:`query_document` wraps a page of
events as the ``EPCISQueryDocument`` the binding answers with.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import duckdb
import orjson
import pyarrow as pa

from keiretsu.io.epcis.mapping import SOURCE_FORMAT
from keiretsu.model.ocel import SCHEMAS, Ocel, format_time
from keiretsu.node.epcis_render import EPCIS_CONTEXT, KEIRETSU_NS, KEIRETSU_PREFIX, render_ocel
from keiretsu.store.arrow import arrow_table

__all__ = ["event_ocel", "query_document", "render_events"]


def _register_ids(con: duckdb.DuckDBPyConnection, event_ids: Sequence[str]) -> str:
    name = f"k_epcis_ids_{secrets.token_hex(6)}"  # several requests may share a connection
    con.register(name, pa.table({"ocel_id": pa.array(list(event_ids), pa.string())}))
    return name


def event_ocel(con: duckdb.DuckDBPyConnection, event_ids: Sequence[str]) -> Ocel:
    """The OCEL rows of the given events: the events, their attributes and relations, the
    objects they touch with those objects' attributes, the object-to-object links among those
    objects, and the declared types — not the source events. What a sharing policy filters
    before :func:`epcis_from_ocel` writes it for a partner."""
    ids = _register_ids(con, event_ids)
    objects_of = f"{ids}_objects"
    types_of = f"{ids}_types"
    try:

        def arrow(sql: str) -> pa.Table:
            return arrow_table(con, sql)

        events = arrow(
            f"SELECT e.ocel_id, e.ocel_type, e.ocel_time FROM ocel_event e"
            f" SEMI JOIN {ids} USING (ocel_id) ORDER BY e.ocel_time, e.ocel_seq, e.ocel_id"
        )
        attributes = arrow(
            f"SELECT a.ocel_id, a.ocel_name, a.ocel_value, a.ocel_value_type"
            f" FROM ocel_event_attribute a SEMI JOIN {ids} USING (ocel_id)"
        )
        relations = arrow(
            f"SELECT r.ocel_event_id, r.ocel_object_id, r.ocel_qualifier, r.quantity, r.uom"
            f" FROM ocel_event_object r SEMI JOIN {ids} i ON i.ocel_id = r.ocel_event_id"
        )
        con.register(objects_of, relations.select(["ocel_object_id"]))
        objects = arrow(
            "SELECT DISTINCT ON (o.ocel_id) o.ocel_id, o.ocel_type FROM ocel_object o"
            f" SEMI JOIN {objects_of} r ON r.ocel_object_id = o.ocel_id"
        )
        object_attributes = arrow(
            "SELECT a.ocel_id, a.ocel_name, a.ocel_time, a.ocel_value, a.ocel_value_type"
            " FROM ocel_object_attribute a"
            f" SEMI JOIN {objects_of} r ON r.ocel_object_id = a.ocel_id"
        )
        links = arrow(
            "SELECT l.ocel_source_id, l.ocel_target_id, l.ocel_qualifier"
            " FROM ocel_object_object l"
            f" SEMI JOIN {objects_of} s ON s.ocel_object_id = l.ocel_source_id"
            f" SEMI JOIN {objects_of} t ON t.ocel_object_id = l.ocel_target_id"
        )
        con.unregister(objects_of)
        con.register(types_of, events.select(["ocel_type"]))
        event_types = arrow(
            "SELECT ocel_type, attributes FROM ocel_event_type"
            f" SEMI JOIN {types_of} USING (ocel_type)"
        )
        con.unregister(types_of)
        con.register(types_of, objects.select(["ocel_type"]))
        object_types = arrow(
            "SELECT ocel_type, attributes FROM ocel_object_type"
            f" SEMI JOIN {types_of} USING (ocel_type)"
        )
        con.unregister(types_of)
    finally:
        con.unregister(ids)
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


def render_events(con: duckdb.DuckDBPyConnection, event_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The given events as EPCIS 2.0 JSON events, in the order given: an event that came as
    EPCIS exactly as the partner sent it (with an error declaration received later added),
    any other written from its OCEL rows by :func:`epcis_from_ocel`. Ids not in the store
    are left out."""
    if not event_ids:
        return []
    ids = _register_ids(con, event_ids)
    try:
        sources = dict(
            con.execute(
                f"SELECT s.ocel_id, s.body FROM ocel_source_event s SEMI JOIN {ids} USING (ocel_id)"
                " WHERE s.format = ?",
                [SOURCE_FORMAT],
            ).fetchall()
        )
        declared = con.execute(
            f"SELECT a.ocel_id, a.ocel_name, a.ocel_value FROM ocel_event_attribute a"
            f" SEMI JOIN {ids} USING (ocel_id) WHERE starts_with(a.ocel_name, 'errorDeclaration.')"
        ).fetchall()
    finally:
        con.unregister(ids)
    out: dict[str, dict[str, Any]] = {}
    for eid, body in sources.items():
        out[eid] = orjson.loads(body)
    corrections: dict[str, dict[str, str | None]] = {}
    for eid, name, value in declared:
        if eid in out and "errorDeclaration" not in out[eid]:
            corrections.setdefault(eid, {})[name[len("errorDeclaration.") :]] = value
    for eid, parts in corrections.items():
        out[eid]["errorDeclaration"] = _declaration(parts)
    rest = [eid for eid in dict.fromkeys(event_ids) if eid not in out]
    if rest:
        for eid, event in render_ocel(event_ocel(con, rest)):
            out[eid] = event
    return [out[eid] for eid in event_ids if eid in out]


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
