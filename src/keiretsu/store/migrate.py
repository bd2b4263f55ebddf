"""Bringing a store written by an earlier keiretsu up to the current schema.

A node's store outlives the keiretsu that wrote it: a company upgrades and opens the same file.
The tables are created by :data:`keiretsu.store.schema.DDL` (``IF NOT EXISTS``: a new table
simply appears); what an upgrade must change in tables that exist already is done here, each
step recognising the schema it starts from by the columns and rows it finds, so opening a
store twice, or a current one, changes nothing:

1. events without ``ocel_seq`` (schema 1): the order read is the order stored; traces rebuilt;
2. traces kept before they had the successor's read order: rebuilt;
3. a store written before traces were kept: traces built;
4. each object's last step kept in ``object_step`` itself (schema 2): moved to
   ``object_step_last``;
5. named queries and subscriptions of schema 3 (one list for every caller): each becomes its
   owner's scope (a partner's its own; the node's users share ``local``);
6. schema 4 had no kaizen tables, schema 5 no kaizen measurements or lessons, schema 6 no
   master data (``masterdata_*``): they appear empty (``IF NOT EXISTS``); nothing else
   changes.
7. schema 7 had no indexes: :data:`keiretsu.store.schema.INDEXES` are built when the store
   is opened for writing (``CREATE INDEX IF NOT EXISTS``, after the steps above, since DuckDB
   cannot drop or rename a column of an indexed table) — about 100 s of CPU for a store of
   a million events, once.
8. schema 8's steps had no previous step nor pass of each step (:data:`PASS_COLUMNS
   <keiretsu.store.schema.PASS_COLUMNS>`), and there was no ``object_activity_last``: the
   trace tables are made anew and every trace rebuilt (like step 2), once.
9. schema 9's per-object trace tables had no ``object_key``: the column is added and
   computed from each row's ``object_id`` (:data:`~keiretsu.store.schema.OBJECT_KEY`), once.

The version is compared as a number (``'10'`` sorts before ``'5'`` as text).
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from keiretsu.store.arrow import rows
from keiretsu.store.schema import DDL, OBJECT_KEY, PASS_COLUMNS, SCHEMA_VERSION

__all__ = ["migrate"]


def migrate(con: duckdb.DuckDBPyConnection, *, rebuild_traces: Callable[[], None]) -> None:
    """Bring a store written by an earlier keiretsu up to this schema (``rebuild_traces``
    recomputes every trace, inside the transaction it is called in)."""
    rebuild = False
    for table in ("object_step_last", "object_activity_last"):  # schema 9: no object_key
        if "object_key" not in {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}:
            con.execute("BEGIN TRANSACTION")
            con.execute(f"ALTER TABLE {table} ADD COLUMN object_key UBIGINT")
            con.execute(f"UPDATE {table} SET object_key = {OBJECT_KEY}")
            con.execute("COMMIT")
    step_columns = {r[0] for r in con.execute("DESCRIBE object_step").fetchall()}
    if not {"next_seq", *PASS_COLUMNS} <= step_columns:
        # traces kept before they had the successor's read order, or the previous step and
        # the passes (schema 9): the trace tables made anew, every trace rebuilt
        con.execute("DROP TABLE object_step")
        con.execute("DROP TABLE object_step_last")
        con.execute("DELETE FROM object_activity_last")
        for statement in DDL:
            if "TABLE IF NOT EXISTS object_step" in statement:
                con.execute(statement)
        rebuild = True
    columns = {r[0] for r in con.execute("DESCRIBE event").fetchall()}
    if "ocel_seq" not in columns:  # schema 1: the order read is the order stored
        con.execute("ALTER TABLE event ADD COLUMN ocel_seq BIGINT")
        con.execute("UPDATE event SET ocel_seq = rowid")
        rebuild = True
    elif rebuild:
        pass
    elif (
        not rows(con, "SELECT count(*) FROM object_step")[0][0]
        and rows(con, "SELECT count(*) FROM event_object")[0][0]
    ):  # a store written before the traces were kept
        rebuild = True
    elif (
        not rows(con, "SELECT count(*) FROM object_step_last")[0][0]
        and rows(con, "SELECT count(*) FROM object_step WHERE next_event_id IS NULL")[0][0]
    ):  # schema 2 kept each object's last step in object_step itself
        con.execute("BEGIN TRANSACTION")
        con.execute(
            f"INSERT INTO object_step_last SELECT *, {OBJECT_KEY} FROM object_step "
            "WHERE next_event_id IS NULL"
        )
        con.execute("DELETE FROM object_step WHERE next_event_id IS NULL")
        con.execute("COMMIT")
    if rebuild:
        con.execute("BEGIN TRANSACTION")
        rebuild_traces()
        con.execute("COMMIT")
    _migrate_scopes(con)
    con.execute(
        "UPDATE keiretsu_meta SET value = ? WHERE key = 'schema_version'"
        " AND TRY_CAST(value AS INTEGER) < ?",
        [str(SCHEMA_VERSION), SCHEMA_VERSION],
    )


def _migrate_scopes(con: duckdb.DuckDBPyConnection) -> None:
    """Schema 3 kept one list of named queries for every caller: each becomes its
    owner's (a partner's queries its own; the node's users share theirs)."""
    columns = {r[0] for r in con.execute("DESCRIBE node_query").fetchall()}
    if "scope" in columns:
        return
    scope = "CASE WHEN starts_with(owner, 'partner:') THEN owner ELSE 'local' END"
    con.execute("BEGIN TRANSACTION")
    con.execute("ALTER TABLE node_query RENAME TO node_query_v3")
    for statement in DDL:
        if "node_query (" in statement:
            con.execute(statement)
    con.execute(
        f"INSERT INTO node_query SELECT {scope}, name, query, owner, created_at FROM node_query_v3"
    )
    con.execute("DROP TABLE node_query_v3")
    sub_columns = {r[0] for r in con.execute("DESCRIBE node_subscription").fetchall()}
    if "scope" not in sub_columns:
        con.execute("ALTER TABLE node_subscription ADD COLUMN scope VARCHAR DEFAULT 'local'")
        con.execute(f"UPDATE node_subscription SET scope = {scope}")
    con.execute("COMMIT")
