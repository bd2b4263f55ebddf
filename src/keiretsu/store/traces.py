"""Every object's trace kept in the store: its events in order, each with its successor.

A trace is what a process map, a lead time or a wait between two steps is read from: for one
object (an order, a pallet, a lot), its events in time order — ties broken by the order the
source listed them (``seq``) — each paired with the next one. Sorting the whole log per object
for every view would cost more the longer the node runs, so the store keeps the pairs as
tables, brought up to date in the transaction that accepts a document:

* ``object_step`` — every step whose successor is known (object, event, activity, time,
  position in the trace, and the next event's id, activity, time and ``seq``);
* ``object_step_last`` — each object's last step so far (one row per object), the one a new
  event of that object is appended after.

:func:`update_steps` only touches the objects a document brings events for, and for most of
them only their last step: the update does not slow down as the store grows. The same rows
are computed with window functions where the table is absent (Spark, in-memory logs:
:mod:`keiretsu.analytics.traces`), and a property-based test holds the two equal.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb

from keiretsu.store.arrow import rows

__all__ = ["PASS_ROWS", "update_steps"]

PASS_ROWS = 1_000_000
"""New trace rows (object, event) recomputed per pass: a large document's traces are brought
up to date in several passes, so the window over them stays within the ingest's memory."""


def update_steps(
    con: duckdb.DuckDBPyConnection,
    ingest_id: int | Sequence[int] | None,
    *,
    pass_rows: int = PASS_ROWS,
) -> None:
    """Bring the traces (every object's steps with each event's successor) up to date
    with the events of ingest ``ingest_id`` (or several), inside the caller's transaction;
    ``None`` rebuilds them from the whole log.

    Each object's last step lives in ``object_step_last`` (one row per object), the steps
    before it, whose successor is known, in ``object_step``. Events arriving after an
    object's last step — the usual case — only move that one row and append: nothing of
    ``object_step`` is read, so the update does not slow down as the store grows. An
    object that receives an event from before its last step (a late event) has its tail
    recomputed from the last step before the late one.
    """
    params: list[Any]
    if ingest_id is None:
        con.execute("DELETE FROM object_step")
        con.execute("DELETE FROM object_step_last")
        where_e = where_eo = (
            "WHERE ingest_id NOT IN (SELECT ingest_id FROM ingest_log WHERE status = 'pending')"
        )
        params = []
    else:
        ids = [ingest_id] if isinstance(ingest_id, int) else list(ingest_id)
        marks = ", ".join("?" for _ in ids)
        where_e = where_eo = f"WHERE ingest_id IN ({marks})"
        params = [*ids, *ids]
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE k_new_steps AS
        SELECT DISTINCT eo.ocel_object_id AS object_id, o.ocel_type AS object_type,
               e.ocel_id AS event_id, e.ocel_type AS activity, e.ocel_time AS time,
               e.ocel_seq AS seq
        FROM (SELECT ocel_event_id, ocel_object_id FROM event_object {where_eo}) eo
        JOIN (SELECT * FROM event {where_e}) e ON e.ocel_id = eo.ocel_event_id
        JOIN object o ON o.ocel_id = eo.ocel_object_id
        """,
        params,
    )
    # Objects in passes of about pass_rows new rows each (by a hash of their id), so the
    # window over a large document's traces stays within the ingest's memory.
    n_new = int(rows(con, "SELECT count(*) FROM k_new_steps")[0][0])
    parts = max(1, -(-n_new // pass_rows))
    for part in range(parts):
        # this pass's new steps: all of them in one pass, else a share of the objects
        con.execute(
            "CREATE OR REPLACE TEMP VIEW k_part AS SELECT * FROM k_new_steps"
            + ("" if parts == 1 else f" WHERE hash(object_id) % {parts} = {part}")
        )
        # per object touched that has a stored last step (objects first seen in this document
        # have none, and need nothing more): where its new events start
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE k_touch AS
            SELECT object_id, min({'t': time, 's': seq}) AS first_new
            FROM k_part SEMI JOIN object_step_last USING (object_id) GROUP BY object_id
            """
        )
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE k_last AS
            SELECT l.*, {'t': l.time, 's': l.seq} > k.first_new AS late
            FROM object_step_last l JOIN k_touch k ON l.object_id = k.object_id
            """
        )
        # where each object's recomputed tail starts (the anchor, kept with its position)
        # and the stored steps from there on: for an object whose new events all come
        # after its last step, that last step alone
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE k_anchor AS
            SELECT object_id, {'t': time, 's': seq} AS anchor, position AS anchor_position
            FROM k_last WHERE NOT late
            """
        )
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE k_tail AS
            SELECT NULL::BIGINT AS old_row, object_id, object_type, event_id, activity,
                   time, seq
            FROM k_last WHERE NOT late
            """
        )
        if rows(con, "SELECT count(*) FROM k_last WHERE late")[0][0]:
            # late events: read the stored steps of those objects only
            con.execute(
                """
                INSERT INTO k_anchor
                SELECT s.object_id, max({'t': s.time, 's': s.seq}),
                       arg_max(s.position, {'t': s.time, 's': s.seq})
                FROM object_step s
                JOIN k_last l ON s.object_id = l.object_id AND l.late
                JOIN k_touch k ON s.object_id = k.object_id
                WHERE {'t': s.time, 's': s.seq} < k.first_new
                GROUP BY s.object_id
                """
            )
            con.execute(
                """
                INSERT INTO k_tail
                SELECT s.rowid, s.object_id, s.object_type, s.event_id, s.activity,
                       s.time, s.seq
                FROM object_step s
                JOIN k_last l ON s.object_id = l.object_id AND l.late
                LEFT JOIN k_anchor a ON s.object_id = a.object_id
                WHERE a.anchor IS NULL OR {'t': s.time, 's': s.seq} >= a.anchor
                UNION ALL
                SELECT NULL, object_id, object_type, event_id, activity, time, seq
                FROM k_last WHERE late
                """
            )
            con.execute(
                "DELETE FROM object_step WHERE rowid IN "
                "(SELECT old_row FROM k_tail WHERE old_row IS NOT NULL)"
            )
        con.execute(
            "DELETE FROM object_step_last WHERE object_id IN (SELECT object_id FROM k_last)"
        )
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE k_out AS
            SELECT t.object_id, t.object_type, t.event_id, t.activity, t.time, t.seq,
                   coalesce(a.anchor_position, 0) + row_number() OVER w - 1 AS position,
                   lead(t.event_id) OVER w AS next_event_id,
                   lead(t.activity) OVER w AS next_activity,
                   lead(t.time) OVER w AS next_time, lead(t.seq) OVER w AS next_seq
            FROM (
                SELECT object_id, object_type, event_id, activity, time, seq FROM k_tail
                UNION ALL
                SELECT object_id, object_type, event_id, activity, time, seq FROM k_part
            ) t
            LEFT JOIN k_anchor a ON t.object_id = a.object_id
            WINDOW w AS (PARTITION BY t.object_id ORDER BY t.time, t.seq)
            """
        )
        con.execute("INSERT INTO object_step SELECT * FROM k_out WHERE next_event_id IS NOT NULL")
        con.execute("INSERT INTO object_step_last SELECT * FROM k_out WHERE next_event_id IS NULL")
    con.execute("DROP VIEW IF EXISTS k_part")
    for table in ("k_new_steps", "k_touch", "k_last", "k_anchor", "k_tail", "k_out"):
        con.execute(f"DROP TABLE IF EXISTS {table}")
