"""A partner's view: the log as the sharing policy lets one partner see it, kept in the store.

A partner asks a node questions — "every shipping event of this pallet", "how many events since
Monday", the next page of an answer — and the answer must come from what that partner may see,
never from the whole log filtered afterwards: a filter run on the whole log acts on values the
partner may not see (a hidden disposition, the real location behind a pseudonym), a count
counts hidden events, and the time an answer takes grows with what is hidden. So each partner
(and each channel it may use: ``query``, ``subscribe``) has its own copy of the log as its
policy projects it, in a DuckDB schema of its own inside the node's store:

* the same ``ocel_*`` tables the node's own queries read, with the same columns, holding only
  the events the partner may see, only the attributes, relations and objects that go with
  them, under the pseudonyms the policy gives them;
* every other name of the store (``ingest_log``, ``outbox``, …) present too, empty or limited
  to what the partner may know, so that a statement run with the view's schema first on the
  search path can never reach the node's own tables by falling through to them;
* no captured originals (``ocel_source_event`` is empty): a partner gets events rebuilt from
  the rows it may see;
* master data (``masterdata_attribute_now``, ``masterdata_child_now``) only of the elements
  that go with events it sees, only the attributes its policy's ``master_data`` names
  (:mod:`keiretsu.store.masterdata`); none by default.

The record time a partner sees is when the event entered its view (``ingest_log.finished_at``
of the view), not when the node recorded it: a partner polling with ``GE_recordTime`` gets the
events that became visible to it since it last asked — including older ones a widened policy
has just let through — and learns nothing of when hidden work was recorded.

This module keeps the tables; what goes in them is decided by the node's sharing policy
(:mod:`keiretsu.node.projection`). Only the node's own events are projected: events received
from partners (``ingest_log.source`` other than ``local``) never leave by any channel.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from datetime import datetime

import duckdb
import pyarrow as pa

from keiretsu.model.ocel import SCHEMAS, Ocel
from keiretsu.store.arrow import arrow_table
from keiretsu.store.keyed import KEY_CHUNK, estimated_rows, keyed
from keiretsu.store.masterdata import attach, current_elements, write_view_master_data

__all__ = [
    "VIEW_TABLES",
    "build_view",
    "goods_history",
    "local_ocel",
    "local_watermark",
    "replace_events",
    "view_schema",
]

VIEW_TABLES = {
    "ocel_event": "events",
    "ocel_event_attribute": "event_attributes",
    "ocel_object": "objects",
    "ocel_object_attribute": "object_attributes",
    "ocel_event_object": "event_objects",
    "ocel_object_object": "object_objects",
    "ocel_event_type": "event_types",
    "ocel_object_type": "object_types",
}
"""The tables of a view that hold the partner's projected log (store name → OCEL table)."""


def view_schema(partner: str, right: str) -> str:
    """The DuckDB schema that holds ``partner``'s view by ``right`` (a name safe in SQL)."""
    digest = hashlib.sha256(f"{partner}\0{right}".encode()).hexdigest()[:20]
    return f"partner_view_{digest}"


def main_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every table and view of the store's main schema: a view must shadow each of them."""
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
        " AND schema_name = 'main' AND NOT temporary"
        " UNION SELECT view_name FROM duckdb_views() WHERE database_name = current_database()"
        " AND schema_name = 'main' AND NOT temporary AND NOT internal"
    ).fetchall()
    return sorted(r[0] for r in rows)


def catalog_signature(con: duckdb.DuckDBPyConnection) -> str:
    """A digest of the store's table names: when a table appears, every view is rebuilt so
    that it shadows that table too."""
    return hashlib.sha256("\n".join(main_names(con)).encode()).hexdigest()[:16]


def build_view(con: duckdb.DuckDBPyConnection, schema: str) -> None:
    """(Re)create ``schema`` empty, shadowing every table and view of the store. Runs inside
    the caller's transaction."""
    con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    con.execute(f"CREATE SCHEMA {schema}")
    for name in main_names(con):
        con.execute(f'CREATE TABLE {schema}."{name}" AS SELECT * FROM main."{name}" LIMIT 0')


def drop_view(con: duckdb.DuckDBPyConnection, schema: str) -> None:
    """Forget a view (a partner removed)."""
    con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def local_watermark(con: duckdb.DuckDBPyConnection) -> int:
    """The newest accepted document of the node's own (0 if none): a view is current when it
    has projected every own document up to this one."""
    row = con.execute(
        "SELECT coalesce(max(ingest_id), 0) FROM ingest_log"
        " WHERE status = 'accepted' AND source = 'local'"
    ).fetchone()
    return int(row[0]) if row else 0


def _types_clause(types: Collection[str] | None, alias: str) -> tuple[str, list[object]]:
    if types is None:
        return "", []
    return f" AND list_contains(?::VARCHAR[], {alias}.ocel_type)", [sorted(types)]


def affected_events(
    con: duckdb.DuckDBPyConnection,
    after: int,
    types: Collection[str] | None = None,
) -> tuple[list[str], bool]:
    """Ids of the node's own events that own documents accepted after ``after`` brought or
    corrected — what a view must project again; only those of the given event ``types``
    (activities), if given. And whether they all came in those documents (no correction of
    an earlier event among them): then their rows are all newer than ``after``."""
    typed, type_params = _types_clause(types, "e")
    # ``ingest_id > after`` first: rows are stored in ingest order, so DuckDB skips the row
    # groups of older documents instead of reading the whole table
    rows = con.execute(
        "WITH own AS (SELECT ingest_id FROM ingest_log WHERE status = 'accepted'"
        " AND source = 'local' AND ingest_id > ?),"
        " fresh AS (SELECT e.ocel_id, e.ocel_type FROM event e WHERE e.ingest_id > ?"
        " AND e.ingest_id IN (SELECT ingest_id FROM own)),"
        " corrected AS (SELECT DISTINCT a.ocel_id FROM event_attribute a WHERE a.ingest_id > ?"
        " AND a.ingest_id IN (SELECT ingest_id FROM own)"
        " AND a.ocel_id NOT IN (SELECT ocel_id FROM fresh))"
        f" SELECT e.ocel_id, true FROM fresh e WHERE true{typed}"
        " UNION ALL"
        " SELECT e.ocel_id, false FROM event e SEMI JOIN corrected USING (ocel_id)"
        f" WHERE true{typed}",
        [after, after, after, *type_params, *type_params],
    ).fetchall()
    return [r[0] for r in rows], all(r[1] for r in rows)


def own_event_ids(
    con: duckdb.DuckDBPyConnection, types: Collection[str] | None = None
) -> list[str]:
    """Every event of the node's own, oldest first; only those of the given event ``types``
    (activities), if given."""
    typed, params = _types_clause(types, "e")
    rows = con.execute(
        "SELECT e.ocel_id FROM event e JOIN ingest_log l USING (ingest_id)"
        f" WHERE l.status = 'accepted' AND l.source = 'local'{typed} ORDER BY e.ocel_seq",
        params,
    ).fetchall()
    return [r[0] for r in rows]


def local_ocel(
    con: duckdb.DuckDBPyConnection, event_ids: Sequence[str], *, newer_than: int | None = None
) -> tuple[Ocel, pa.Table]:
    """The node's own rows for the given events, as OCEL tables: the events, their
    attributes (corrections included) and relations, the objects they touch with those
    objects' attribute values and links — only rows that came in the node's own accepted
    documents (nothing a partner pushed), never the captured originals. What the sharing
    policy projects into a partner's view; and, per event, the ``ingest_id`` and ``ocel_seq``
    that place it in the log's order.

    ``newer_than``: every one of the events came in a document accepted after that one (and
    so did their attributes and relations) — their rows are then read from the newer part of
    each table only, so the cost follows the documents read, not the size of the store.
    Objects' attribute values and links are read whole (they may be older)."""
    own = "k_view_own"
    ids = "k_view_ids"
    objs = "k_view_objects"
    newer = "" if newer_than is None else f" AND {{t}}.ingest_id > {int(newer_than)}"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {own} AS SELECT ingest_id FROM ingest_log"
        " WHERE status = 'accepted' AND source = 'local'"
    )
    con.register("k_view_ids_arrow", pa.table({"ocel_id": pa.array(list(event_ids), pa.string())}))
    con.execute(f"CREATE OR REPLACE TEMP TABLE {ids} AS SELECT DISTINCT * FROM k_view_ids_arrow")
    con.unregister("k_view_ids_arrow")
    try:
        events = arrow_table(
            con,
            f"SELECT e.ocel_id, e.ocel_type, e.ocel_time, e.ingest_id, e.ocel_seq FROM event e"
            f" SEMI JOIN {ids} USING (ocel_id) SEMI JOIN {own} USING (ingest_id)"
            f" WHERE true{newer.format(t='e')} ORDER BY e.ocel_seq, e.ocel_id",
        )
        attributes = arrow_table(
            con,
            "SELECT a.ocel_id, a.ocel_name, a.ocel_value, a.ocel_value_type"
            f" FROM event_attribute a SEMI JOIN {ids} USING (ocel_id)"
            f" SEMI JOIN {own} USING (ingest_id) WHERE true{newer.format(t='a')}",
        )
        relations = arrow_table(
            con,
            "SELECT r.ocel_event_id, r.ocel_object_id, r.ocel_qualifier, r.quantity, r.uom"
            f" FROM event_object r SEMI JOIN {ids} i ON i.ocel_id = r.ocel_event_id"
            f" SEMI JOIN {own} USING (ingest_id) WHERE true{newer.format(t='r')}",
        )
        # the objects the events touch: those of their relations, read above
        con.register("k_view_objects_arrow", pa.table({"ocel_id": relations["ocel_object_id"]}))
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {objs} AS SELECT DISTINCT * FROM k_view_objects_arrow"
        )
        con.unregister("k_view_objects_arrow")
        keys = [str(k) for (k,) in con.execute(f"SELECT ocel_id FROM {objs}").fetchall()]
        if keys and len(keys) * READ_BY_KEY_RATIO < estimated_rows(con, {"object"}).get(
            "object", 0
        ):
            objects, object_attributes, links, object_types = _objects_by_key(con, keys, own, objs)
        else:
            objects = arrow_table(
                con,
                "SELECT DISTINCT ON (o.ocel_id) o.ocel_id, o.ocel_type FROM object o"
                f" SEMI JOIN {objs} USING (ocel_id) ORDER BY o.ocel_id, o.ingest_id",
            )
            object_attributes = arrow_table(
                con,
                "SELECT DISTINCT a.ocel_id, a.ocel_name, a.ocel_time, a.ocel_value,"
                " a.ocel_value_type FROM object_attribute a"
                f" SEMI JOIN {objs} USING (ocel_id) SEMI JOIN {own} USING (ingest_id)",
            )
            links = arrow_table(
                con,
                "SELECT DISTINCT l.ocel_source_id, l.ocel_target_id, l.ocel_qualifier"
                f" FROM object_object l SEMI JOIN {own} USING (ingest_id)"
                f" SEMI JOIN {objs} s ON s.ocel_id = l.ocel_source_id"
                f" SEMI JOIN {objs} t ON t.ocel_id = l.ocel_target_id",
            )
            object_types = arrow_table(
                con,
                "SELECT ocel_type, attributes FROM object_type WHERE ocel_type IN"
                f" (SELECT DISTINCT o.ocel_type FROM object o SEMI JOIN {objs} USING (ocel_id))",
            )
        event_types = arrow_table(
            con,
            "SELECT ocel_type, attributes FROM event_type WHERE ocel_type IN"
            f" (SELECT DISTINCT e.ocel_type FROM event e SEMI JOIN {ids} USING (ocel_id)"
            f" WHERE true{newer.format(t='e')})",
        )
    finally:
        for name in (own, ids, objs):
            con.execute(f"DROP TABLE IF EXISTS {name}")
    log = Ocel(
        events=events.select(["ocel_id", "ocel_type", "ocel_time"]),
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
    # the master data of the places, goods and business steps the events name, as it stands:
    # the sharing policy decides what of it goes with the events (``log.master_data``)
    named = {*objects.column("ocel_id").to_pylist(), *events.column("ocel_type").to_pylist()}
    attach(log, current_elements(con, named))
    return log, events.select(["ocel_id", "ingest_id", "ocel_seq"])


READ_BY_KEY_RATIO = 2000
"""A table this many times larger than the objects read is read through its indexes (about
50 µs an object), not scanned (about 40 ns a row, whatever is read): the objects, attribute
values and links of a push of 100 events from a store of a million read in ~0.1 s instead
of ~0.4 s, a cost that grew with the store (``docs/benchmarks.md``)."""


def _objects_by_key(
    con: duckdb.DuckDBPyConnection, keys: list[str], own: str, objs: str
) -> tuple[pa.Table, pa.Table, pa.Table, pa.Table]:
    """:func:`local_ocel`'s objects, their attribute values, links and types, read by key
    (``keys``: the objects' ids, also in the temporary table ``objs``; ``own``: the node's
    own accepted documents) — the same rows as the scans, a chunk of keys at a time (each
    chunk's rows are its own: the ids, or the links' sources, split the tables)."""

    def read(sql: str) -> pa.Table:
        chunks = [keys[i : i + KEY_CHUNK] for i in range(0, len(keys), KEY_CHUNK)]
        return pa.concat_tables([arrow_table(con, sql, [chunk]) for chunk in chunks])

    stored = read(
        "SELECT o.ocel_id, o.ocel_type, o.ingest_id"
        f" FROM {keyed('object', 'ocel_id', 'ocel_id, ocel_type, ingest_id')} o"
    )
    object_attributes = read(
        "SELECT DISTINCT a.ocel_id, a.ocel_name, a.ocel_time, a.ocel_value, a.ocel_value_type"
        f" FROM {keyed('object_attribute', 'ocel_id', '*')} a SEMI JOIN {own} USING (ingest_id)"
    )
    links = read(
        "SELECT DISTINCT l.ocel_source_id, l.ocel_target_id, l.ocel_qualifier"
        f" FROM {keyed('object_object', 'ocel_source_id', '*')} l"
        f" SEMI JOIN {own} USING (ingest_id) SEMI JOIN {objs} t ON t.ocel_id = l.ocel_target_id"
    )
    con.register("k_view_stored", stored)
    try:
        objects = arrow_table(
            con,
            "SELECT DISTINCT ON (ocel_id) ocel_id, ocel_type FROM k_view_stored"
            " ORDER BY ocel_id, ingest_id",
        )
        object_types = arrow_table(
            con,
            "SELECT ocel_type, attributes FROM object_type WHERE ocel_type IN"
            " (SELECT DISTINCT ocel_type FROM k_view_stored)",
        )
    finally:
        con.unregister("k_view_stored")
    return objects, object_attributes, links, object_types


def replace_events(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    *,
    remove: Sequence[str],
    shared: Ocel,
    placement: pa.Table,
    visible_at: datetime,
) -> None:
    """Take the events ``remove`` (ids as the partner sees them) out of the view and put
    ``shared`` (what the policy lets the partner see of them now) in. ``placement`` gives,
    per shared event id, the ``ingest_id`` and ``ocel_seq`` of the document that brought it
    (their order is the order a partner's answers list events in); ``visible_at`` is the
    record time the partner sees for them. The objects the shared events touch, their
    attribute values and links are added where the view does not hold them yet (between two
    rebuilds they only grow). Runs inside the caller's transaction."""
    s = schema
    if remove:  # (events new to the view have nothing to take out: its tables are not read)
        con.register("k_view_remove", pa.table({"ocel_id": pa.array(list(remove), pa.string())}))
        try:
            for table, column in (
                ("ocel_event", "ocel_id"),
                ("ocel_event_attribute", "ocel_id"),
                ("ocel_event_object", "ocel_event_id"),
            ):
                con.execute(
                    f"DELETE FROM {s}.{table} WHERE {column} IN (SELECT ocel_id FROM k_view_remove)"
                )
        finally:
            con.unregister("k_view_remove")
    if shared.num_events == 0:
        return
    events = shared.events
    con.register("k_view_events", events)
    con.register("k_view_place", placement)
    try:
        con.execute(
            f"INSERT INTO {s}.ocel_event (ocel_id, ocel_type, ocel_time, ingest_id, ocel_seq)"
            " SELECT e.ocel_id, e.ocel_type, e.ocel_time, p.ingest_id, p.ocel_seq"
            " FROM k_view_events e JOIN k_view_place p USING (ocel_id)"
        )
        con.execute(
            f"INSERT INTO {s}.ingest_log (ingest_id, status, source, finished_at)"
            " SELECT DISTINCT p.ingest_id, 'accepted', 'local', ?::TIMESTAMPTZ"
            " FROM k_view_place p SEMI JOIN k_view_events USING (ocel_id)"
            f" WHERE p.ingest_id NOT IN (SELECT ingest_id FROM {s}.ingest_log)",
            [visible_at],
        )
    finally:
        con.unregister("k_view_events")
        con.unregister("k_view_place")
    _insert(con, f"{s}.ocel_event_attribute", shared.event_attributes)
    _insert(con, f"{s}.ocel_event_object", shared.event_objects)
    # objects, their attribute values and links only grow between two rebuilds (a policy
    # change rebuilds the view): rows already there are kept, new ones added
    _insert(con, f"{s}.ocel_object", shared.objects, missing=["ocel_id"])
    _insert(con, f"{s}.ocel_object_attribute", shared.object_attributes, missing=True)
    _insert(con, f"{s}.ocel_object_object", shared.object_objects, missing=True)
    # the master data the policy lets go with them (none unless a rule shares some)
    write_view_master_data(con, s, getattr(shared, "master_data", ()))
    for table, declared in (
        ("ocel_event_type", shared.event_types),
        ("ocel_object_type", shared.object_types),
    ):
        if declared.num_rows:
            con.register("k_view_types", declared)
            try:
                con.execute(
                    f"DELETE FROM {s}.{table}"
                    " WHERE ocel_type IN (SELECT ocel_type FROM k_view_types)"
                )
                con.execute(
                    f"INSERT INTO {s}.{table} SELECT ocel_type, attributes FROM k_view_types"
                )
            finally:
                con.unregister("k_view_types")


def _insert(
    con: duckdb.DuckDBPyConnection,
    table: str,
    rows: pa.Table,
    *,
    missing: bool | list[str] = False,
) -> None:
    """Insert ``rows``; with ``missing``, only those not in ``table`` yet (compared on the
    given columns, or on all of them)."""
    if rows.num_rows == 0:
        return
    columns = ", ".join(f'"{c}"' for c in rows.column_names)
    select = f"SELECT {columns} FROM k_view_rows"
    if missing:
        keys = rows.column_names if missing is True else missing
        on = " AND ".join(f'r."{c}" IS NOT DISTINCT FROM t."{c}"' for c in keys)
        select = f"SELECT DISTINCT {columns} FROM k_view_rows r ANTI JOIN {table} t ON {on}"
        if missing is not True:
            select = (
                f"SELECT DISTINCT ON ({', '.join(keys)}) {columns} FROM k_view_rows r"
                f" ANTI JOIN {table} t ON {on}"
            )
    con.register("k_view_rows", rows)
    try:
        con.execute(f"INSERT INTO {table} ({columns}) {select}")
    finally:
        con.unregister("k_view_rows")


def goods_history(
    con: duckdb.DuckDBPyConnection, event_ids: Sequence[str], roles: Sequence[str]
) -> Ocel:
    """The node's own events of the goods the given events name (in one of ``roles``) and of
    what is packed in them, with the given events, as :func:`local_ocel` reads them: what a
    stock ledger needs to know where an item was and what a pallet held. Two steps out: the
    goods (and containers) the events name, the events naming those, the goods those name (a
    pallet's contents), and their events."""
    marks = ", ".join("?" for _ in roles)
    con.register("k_history_batch", pa.table({"ocel_id": pa.array(list(event_ids), pa.string())}))
    try:
        ids = [
            r[0]
            for r in con.execute(
                f"""
                WITH g1 AS (SELECT DISTINCT r.ocel_object_id AS id FROM event_object r
                            SEMI JOIN k_history_batch b ON b.ocel_id = r.ocel_event_id
                            WHERE r.ocel_qualifier IN ({marks})),
                     e1 AS (SELECT DISTINCT r.ocel_event_id AS id FROM event_object r
                            SEMI JOIN g1 ON g1.id = r.ocel_object_id
                            WHERE r.ocel_qualifier IN ({marks})),
                     g2 AS (SELECT DISTINCT r.ocel_object_id AS id FROM event_object r
                            SEMI JOIN e1 ON e1.id = r.ocel_event_id
                            WHERE r.ocel_qualifier IN ({marks})),
                     e2 AS (SELECT DISTINCT r.ocel_event_id AS id FROM event_object r
                            SEMI JOIN g2 ON g2.id = r.ocel_object_id
                            WHERE r.ocel_qualifier IN ({marks}))
                SELECT id FROM e2 UNION SELECT ocel_id FROM k_history_batch
                """,
                list(roles) * 4,
            ).fetchall()
        ]
    finally:
        con.unregister("k_history_batch")
    return local_ocel(con, ids)[0]
