"""Every object's trace kept in the store: its events in order, each with its successor.

A trace is what a process map, a lead time or a wait between two steps is read from: for one
object (an order, a pallet, a lot), its events in time order — ties broken by the order the
source listed them (``seq``) — each paired with the next one. Sorting the whole log per object
for every view would cost more the longer the node runs, so the store keeps the pairs as
tables, brought up to date in the transaction that accepts a document:

* ``object_step`` — every step whose successor is known (object, event, activity, time,
  position in the trace, and the next event's id, activity, time and ``seq``);
* ``object_step_last`` — each object's last step so far (one row per object), the one a new
  event of that object is appended after;
* in each step also what the views' windows over a trace computed (schema 9): the step before
  (``prev_activity``, ``prev_time``, ``prev_seq``), the pass of the activity on the object
  (``pass_index``, 0 on the first) and the previous pass of the same activity
  (``prev_pass_event_id``, ``prev_pass_time``, ``prev_pass_seq``), the event's business
  location and the object's previous one (``location``, ``prev_location``) — rework, the
  cycling check, first-pass yield, the visits and Transport's moves read them instead of
  sorting every trace again;
* ``object_activity_last`` — each object's latest pass of each activity, where the passes of
  the steps appended after an object's last step count on from.

:func:`update_steps` only touches the objects a document brings events for, and for most of
them only their last step: nothing of ``object_step`` is read, and the objects' types come
from the writer's own lookups (not from ``object`` again). The per-object tables
(``object_step_last``, ``object_activity_last``) are read by ``object_key``, an integer hash of
the id (schema 10), and only the rows found are compared by id: a capture's update still reads
every key, so it grows slowly with the number of objects stored (~210 ms per 1,000 events
into a store of 1,000,000 events of GS1 ids, where reading every text id took 770 ms:
``bench/capture_large_store.py``). The same rows
are computed with window functions where the table is absent (Spark, in-memory logs:
:mod:`keiretsu.analytics.traces`), and a property-based test holds the two equal.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from keiretsu.store.arrow import arrow_table, rows
from keiretsu.store.schema import OBJECT_KEY, PASS_COLUMNS

__all__ = ["LINK_ROWS", "PASS_ROWS", "update_steps"]

PASS_ROWS = 1_000_000
"""New trace rows (object, event) recomputed per pass: a large document's traces are brought
up to date in several passes, so the window over them stays within the ingest's memory."""

LINK_ROWS = 100_000
"""Up to this many new trace rows, a document's steps are linked in NumPy (:func:`_link`):
a capture of 1,000 events (about 10,000 rows) in ~10 ms instead of ~60 ms of DuckDB window
functions. Above it, the windows run in DuckDB, which spills to disk where NumPy would hold
the rows in memory: a 200,000-event document linked in NumPy peaked over 1 GiB."""


def update_steps(
    con: duckdb.DuckDBPyConnection,
    ingest_id: int | Sequence[int] | None,
    *,
    pass_rows: int = PASS_ROWS,
    link_rows: int = LINK_ROWS,
    object_types: str | None = None,
    window_threads: int | None = None,
) -> None:
    """Bring the traces (every object's steps with each event's successor) up to date
    with the events of ingest ``ingest_id`` (or several), inside the caller's transaction;
    ``None`` rebuilds them from the whole log.

    Each object's last step lives in ``object_step_last`` (one row per object), the steps
    before it, whose successor is known, in ``object_step``. Events arriving after an
    object's last step — the usual case — only move that one row and append: nothing of
    ``object_step`` is read (the passes count on from ``object_activity_last``). An object
    that receives an event from before its last step (a late event) has its tail recomputed
    from the last step before that event: the positions and passes of every later step may
    change.

    ``pass_rows``: new rows per pass (a large document's update in several passes, by a hash
    of the object id). ``link_rows``: up to this many new rows the steps are linked in NumPy
    (:func:`_link`), above it with DuckDB's window functions. ``object_types``: a table of
    (``ocel_id``, ``ocel_type``) holding the type of the ingests' objects (the writer's own
    lookups, so the update need not scan ``object`` again); an object missing from it is
    looked up in ``object``. ``window_threads``: DuckDB's threads for the window functions of a
    document linked in DuckDB (``None``: as the connection is set). A whole document's ingest
    gives them the core its finished reader left idle: the 200,000-event trace update 16.1 ->
    13.0 s, the 1M-event one 134 -> 99 s, within the same memory (``docs/benchmarks.md``).
    Everything else stays as the connection is set: on two threads, the new steps' distinct
    rows over a 1M-event document ran out of the ingest's 512 MB, and with every statement of
    the passes on two its writer peaked at 1.27 GiB, past the 1 GiB bound.
    """
    params: list[Any]
    if ingest_id is None:
        con.execute("DELETE FROM object_step")
        con.execute("DELETE FROM object_step_last")
        con.execute("DELETE FROM object_activity_last")
        where_e = where_eo = (
            "WHERE ingest_id NOT IN (SELECT ingest_id FROM ingest_log WHERE status = 'pending')"
        )
        params = []
    else:
        ids = [ingest_id] if isinstance(ingest_id, int) else list(ingest_id)
        marks = ", ".join("?" for _ in ids)
        where_e = where_eo = f"WHERE ingest_id IN ({marks})"
        params = [*ids, *ids]
    types = "object"
    if object_types is not None and ingest_id is not None:
        # the writer looked up every object of its batches; any other (an event naming an
        # object its document did not list) is looked up here, in one scan of ``object``
        missing = f"""
            SELECT ocel_object_id FROM event_object {where_eo}
            EXCEPT SELECT ocel_id FROM {object_types}"""
        eo_params = params[: len(params) // 2]
        if rows(con, f"SELECT count(*) FROM ({missing})", eo_params)[0][0]:
            con.execute(
                f"INSERT INTO {object_types} SELECT ocel_id, ocel_type FROM object "
                f"WHERE ocel_id IN ({missing})",
                eo_params,
            )
        # an object in several batches is listed once per batch
        types = f"(SELECT DISTINCT ocel_id, ocel_type FROM {object_types})"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE k_new_steps AS
        SELECT DISTINCT eo.ocel_object_id AS object_id, o.ocel_type AS object_type,
               e.ocel_id AS event_id, e.ocel_type AS activity, e.ocel_time AS time,
               e.ocel_seq AS seq, loc.location
        FROM (SELECT ocel_event_id, ocel_object_id FROM event_object {where_eo}) eo
        JOIN (SELECT * FROM event {where_e}) e ON e.ocel_id = eo.ocel_event_id
        JOIN {types} o ON o.ocel_id = eo.ocel_object_id
        LEFT JOIN (
            SELECT ocel_event_id, min(ocel_object_id) AS location FROM event_object
            {where_eo} AND ocel_qualifier = 'bizLocation' GROUP BY ocel_event_id
        ) loc ON loc.ocel_event_id = e.ocel_id
        """,
        [*params, *params[: len(params) // 2]],
    )
    # Objects in passes of about pass_rows new rows each (by a hash of their id), so the
    # window over a large document's traces stays within the ingest's memory.
    n_new = int(rows(con, "SELECT count(*) FROM k_new_steps")[0][0])
    parts = max(1, -(-n_new // pass_rows))
    # a capture's few thousand steps are linked in NumPy (see _link); a large document's, in
    # DuckDB's window functions, within the ingest's memory
    link_in_numpy = n_new <= link_rows
    _passes(con, parts, link_in_numpy, window_threads)
    con.execute("DROP VIEW IF EXISTS k_part")
    for table in (
        "k_new_steps",
        "k_touch",
        "k_rows",
        "k_last",
        "k_anchor",
        "k_pass",
        "k_tail",
        "k_out",
        "k_late_anchor",
        "k_late_rows",
    ):
        con.execute(f"DROP TABLE IF EXISTS {table}")


def _passes(
    con: duckdb.DuckDBPyConnection, parts: int, link_in_numpy: bool, window_threads: int | None
) -> None:
    """Link the new steps (``k_new_steps``) into the stored traces, in ``parts`` passes of a
    share of the objects each (see :func:`update_steps`); DuckDB's windows on
    ``window_threads`` threads (``None``: as the connection is set)."""
    for part in range(parts):
        # this pass's new steps: all of them in one pass, else a share of the objects
        con.execute(
            "CREATE OR REPLACE TEMP VIEW k_part AS SELECT * FROM k_new_steps"
            + ("" if parts == 1 else f" WHERE hash(object_id) % {parts} = {part}")
        )
        # per object of the pass: where its new events start; and the stored last step of
        # those that have one (objects first seen in this document have none, and need
        # nothing more), found by key in object_step_last and later deleted by row
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE k_touch AS
            SELECT object_id, min({{'t': time, 's': seq}}) AS first_new,
                   {OBJECT_KEY} AS object_key
            FROM k_part GROUP BY object_id
            """
        )
        # found by their key (a hash of the id: integers, read fast), then by id (exact)
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE k_rows AS
            SELECT rowid AS rid FROM object_step_last
            WHERE object_key IN (SELECT object_key FROM k_touch)
            """
        )
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE k_last AS
            SELECT l.k_rid AS last_row, l.* EXCLUDE (k_rid, object_key),
                   {'t': l.time, 's': l.seq} > k.first_new AS late
            FROM (SELECT rowid AS k_rid, * FROM object_step_last
                  WHERE rowid IN (SELECT rid FROM k_rows)) l
            JOIN k_touch k ON l.object_id = k.object_id
            """
        )
        # an object whose new events all come after its last step: its tail starts at that
        # last step (the anchor), whose stored figures stay, and the new steps count their
        # passes on from the object's latest pass of each activity (object_activity_last)
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE k_anchor AS
            SELECT object_id, position AS anchor_position,
                   coalesce(location, prev_location) AS anchor_location
            FROM k_last WHERE NOT late
            """
        )
        # those objects' latest pass of each activity, read once (with where each row is)
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE k_rows AS
            SELECT rowid AS rid FROM object_activity_last WHERE object_key IN (
                SELECT k.object_key FROM k_touch k SEMI JOIN k_anchor a
                ON k.object_id = a.object_id)
            """
        )
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE k_pass AS
            SELECT p.k_rid AS old_row, p.* EXCLUDE (k_rid, object_key)
            FROM (SELECT rowid AS k_rid, * FROM object_activity_last
                  WHERE rowid IN (SELECT rid FROM k_rows)) p
            SEMI JOIN k_anchor a ON p.object_id = a.object_id
            """
        )
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE k_tail AS
            SELECT NULL::BIGINT AS old_row, object_id, object_type, event_id, activity,
                   time, seq, location, true AS is_anchor, {_OLD}
            FROM k_last WHERE NOT late
            """
        )
        if rows(con, "SELECT count(*) FROM k_last WHERE late")[0][0]:
            # late events (rare): an object's tail is recomputed from its last stored step
            # before the first late event (its anchor, whose own figures stay), the passes
            # counted on from the latest pass of each activity up to the anchor; an object
            # late before its first step has its whole trace recomputed. Only the tail is
            # rewritten: a late event at a busy location costs the steps after it, not the
            # location's whole history.
            con.execute(
                """
                CREATE OR REPLACE TEMP TABLE k_late_anchor AS
                SELECT s.object_id, arg_max(s.rowid, {'t': s.time, 's': s.seq}) AS old_row,
                       max({'t': s.time, 's': s.seq}) AS anchor
                FROM object_step s
                JOIN k_last l ON s.object_id = l.object_id AND l.late
                JOIN k_touch k ON s.object_id = k.object_id
                WHERE {'t': s.time, 's': s.seq} < k.first_new
                GROUP BY s.object_id
                """
            )
            con.execute(
                """
                CREATE OR REPLACE TEMP TABLE k_late_rows AS
                SELECT s.rowid AS old_row, s.* FROM object_step s
                WHERE s.rowid IN (SELECT old_row FROM k_late_anchor)
                """
            )
            con.execute(
                """
                INSERT INTO k_anchor
                SELECT object_id, position, coalesce(location, prev_location) FROM k_late_rows
                """
            )
            con.execute(
                """
                INSERT INTO k_pass
                SELECT NULL, s.object_id, s.activity, max(s.pass_index),
                       arg_max(s.event_id, s.pass_index), arg_max(s.time, s.pass_index),
                       arg_max(s.seq, s.pass_index)
                FROM object_step s JOIN k_late_anchor a ON s.object_id = a.object_id
                WHERE {'t': s.time, 's': s.seq} <= a.anchor
                GROUP BY s.object_id, s.activity
                """
            )
            con.execute(
                f"""
                INSERT INTO k_tail
                SELECT old_row, object_id, object_type, event_id, activity, time, seq,
                       location, true, {_OLD}
                FROM k_late_rows
                UNION ALL
                SELECT s.rowid, s.object_id, s.object_type, s.event_id, s.activity,
                       s.time, s.seq, s.location, false, {_NO_OLD}
                FROM object_step s
                JOIN k_last l ON s.object_id = l.object_id AND l.late
                LEFT JOIN k_late_anchor a ON s.object_id = a.object_id
                WHERE a.anchor IS NULL OR {{'t': s.time, 's': s.seq}} > a.anchor
                UNION ALL
                SELECT NULL, object_id, object_type, event_id, activity, time, seq, location,
                       false, {_NO_OLD}
                FROM k_last WHERE late
                """
            )
            con.execute(
                "DELETE FROM object_step WHERE rowid IN "
                "(SELECT old_row FROM k_tail WHERE old_row IS NOT NULL)"
            )
            # their latest passes are written again below: the tail's, and the anchor's
            # prefix's for the activities the tail does not have
            con.execute(
                "DELETE FROM object_activity_last WHERE object_id IN "
                "(SELECT object_id FROM k_last WHERE late)"
            )
        con.execute("DELETE FROM object_step_last WHERE rowid IN (SELECT last_row FROM k_last)")
        if link_in_numpy:
            # every row of the tails and the new steps, with its object's anchor and its latest
            # pass of the activity, linked in each object's order (see _link)
            k_linked = _link(
                con,
                f"""
                SELECT t.*, a.anchor_position, a.anchor_location, p.pass_index AS p_pass_index,
                       p.event_id AS p_event_id, p.time AS p_time, p.seq AS p_seq
                {_TAILS}
                """,
            )
            # handed over as a relation: a registered view would keep the batch alive until
            # the transaction ends, one more pass's worth of memory each pass
            con.execute(
                "CREATE OR REPLACE TEMP TABLE k_out AS "
                f"SELECT {_STEP} FROM object_step_last LIMIT 0"
            )
            con.from_arrow(k_linked).insert_into("k_out")
            del k_linked
        else:
            # a large document's pass: DuckDB's windows, which spill to disk within the
            # ingest's memory where the NumPy linking would hold it all in Python. Only they
            # take the second thread: the appends to the stored tables gained nothing from it.
            with _threads(con, window_threads):
                _window(con)
        con.execute(
            f"INSERT INTO object_step SELECT {_STEP} FROM k_out WHERE next_event_id IS NOT NULL"
        )
        con.execute(
            f"INSERT INTO object_step_last SELECT {_STEP}, {OBJECT_KEY} FROM k_out "
            "WHERE next_event_id IS NULL"
        )
        # each (object, activity) of the recomputed steps: its latest pass now
        # (an object first seen here has none stored; a late one's were deleted above)
        con.execute(
            """
            DELETE FROM object_activity_last WHERE rowid IN (
                SELECT p.old_row FROM k_pass p
                SEMI JOIN k_out o ON p.object_id = o.object_id AND p.activity = o.activity)
            """
        )
        con.execute(
            f"""
            INSERT INTO object_activity_last
            SELECT *, {OBJECT_KEY} FROM (
                SELECT object_id, activity, max(pass_index), arg_max(event_id, pass_index),
                       arg_max(time, pass_index), arg_max(seq, pass_index)
                FROM k_out GROUP BY object_id, activity
                UNION ALL
                -- a late object's activities passed before its anchor and not since
                SELECT p.object_id, p.activity, p.pass_index, p.event_id, p.time, p.seq
                FROM k_pass p ANTI JOIN k_out o ON p.object_id = o.object_id
                    AND p.activity = o.activity
                WHERE p.old_row IS NULL)
            """
        )


def _window(con: duckdb.DuckDBPyConnection) -> None:
    """``k_out``: the tails' rows and the new steps linked by DuckDB's window functions over
    (object; time, seq) and (object, activity; time, seq), as :func:`_link` does in NumPy."""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE k_out AS
        SELECT t.object_id, t.object_type, t.event_id, t.activity, t.time, t.seq,
               coalesce(a.anchor_position, 0) + row_number() OVER w - 1 AS position,
               lead(t.event_id) OVER w AS next_event_id,
               lead(t.activity) OVER w AS next_activity,
               lead(t.time) OVER w AS next_time, lead(t.seq) OVER w AS next_seq,
               {_prev("activity")}, {_prev("time")}, {_prev("seq")},
               CASE WHEN t.is_anchor THEN t.old_pass_index
                    ELSE coalesce(p.pass_index, -1) + row_number() OVER wa END
                   AS pass_index,
               {_prev_pass("event_id")}, {_prev_pass("time")}, {_prev_pass("seq")},
               t.location,
               CASE WHEN t.is_anchor THEN t.old_prev_location
                    ELSE coalesce(last_value(t.location IGNORE NULLS) OVER (
                             w ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING),
                         a.anchor_location) END AS prev_location
        {_TAILS}
        WINDOW w AS (PARTITION BY t.object_id ORDER BY t.time, t.seq),
               wa AS (PARTITION BY t.object_id, t.activity, t.is_anchor
                      ORDER BY t.time, t.seq)
        """
    )


@contextlib.contextmanager
def _threads(con: duckdb.DuckDBPyConnection, threads: int | None) -> Iterator[None]:
    """DuckDB on ``threads`` threads within the block (``None``: as set), then as before."""
    if threads is None:
        yield
        return
    saved = int(rows(con, "SELECT current_setting('threads')")[0][0])
    con.execute(f"SET threads = {int(threads)}")
    try:
        yield
    finally:
        con.execute(f"SET threads = {saved}")


# the anchor's stored figures (its predecessor, pass and previous location do not change),
# none for other rows (a step's own location is carried with it)
_PASS = tuple(c for c in PASS_COLUMNS if c != "location")
_OLD = ", ".join(f"{c} AS old_{c}" for c in _PASS)
_NO_OLD = ", ".join(f"NULL AS old_{c}" for c in _PASS)
_STEP_NAMES = (
    "object_id",
    "object_type",
    "event_id",
    "activity",
    "time",
    "seq",
    "position",
    "next_event_id",
    "next_activity",
    "next_time",
    "next_seq",
    *PASS_COLUMNS,
)
_STEP = ", ".join(_STEP_NAMES)
# what a pass links: the tails' rows and the new steps (``t``), each with its object's anchor
# (``a``) and, for a new step, its object's latest pass of the activity (``p``)
_TAILS = f"""
    FROM (
        SELECT * FROM k_tail
        UNION ALL
        SELECT NULL::BIGINT, object_id, object_type, event_id, activity, time, seq,
               location, false, {_NO_OLD}
        FROM k_part
    ) t
    LEFT JOIN k_anchor a ON t.object_id = a.object_id
    LEFT JOIN k_pass p
        ON NOT t.is_anchor AND p.object_id = t.object_id AND p.activity = t.activity
"""


def _link(con: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
    """The rows of ``sql`` (the tails' rows and the new steps, each with its object's anchor
    and latest passes joined) linked in each object's order: what window functions over
    (object; time, seq) and (object, activity; time, seq) would compute, done on the whole
    batch with two NumPy sorts. DuckDB's window operator costs a few milliseconds per function
    even on a few thousand rows, and a capture's update needs thirteen of them."""
    t = arrow_table(con, sql)
    n = t.num_rows
    idx = np.arange(n, dtype=np.int64)
    obj = _codes(t["object_id"])
    when = pc.cast(t["time"], pa.int64()).to_numpy(zero_copy_only=False)
    # NULLS LAST, as ORDER BY seq does
    seq = pc.fill_null(t["seq"], np.iinfo(np.int64).max).to_numpy(zero_copy_only=False)
    # the object's order (time, then seq): from here on every row is at its place in it
    order = np.lexsort((seq, when, obj))
    s = t.take(pa.array(order))
    del t
    obj, when, seq = obj[order], when[order], seq[order]
    act = _codes(s["activity"])
    anchor = pc.fill_null(s["is_anchor"], False).to_numpy(zero_copy_only=False)

    # every row's predecessor and successor in its object's trace
    first = np.ones(n, dtype=bool)
    first[1:] = obj[1:] != obj[:-1]
    last = np.ones(n, dtype=bool)
    last[:-1] = first[1:]
    start = np.maximum.accumulate(np.where(first, idx, 0))
    prev_row = np.maximum(idx - 1, 0)
    next_row = np.minimum(idx + 1, max(n - 1, 0))

    # the (object, activity) order — the rows are in time order within each object already,
    # so a stable sort keeps it: each row's pass number and the pass before it
    order_a = np.lexsort((anchor, act, obj))
    first_a = np.ones(n, dtype=bool)
    first_a[1:] = (
        (obj[order_a][1:] != obj[order_a][:-1])
        | (act[order_a][1:] != act[order_a][:-1])
        | (anchor[order_a][1:] != anchor[order_a][:-1])
    )
    start_a = np.maximum.accumulate(np.where(first_a, idx, 0))
    number = np.empty(n, dtype=np.int64)  # row_number() over (object, activity)
    number[order_a] = idx - start_a + 1
    pass_prev = np.empty(n, dtype=np.int64)
    pass_prev[order_a] = np.where(first_a, 0, order_a[np.maximum(idx - 1, 0)])
    first_pass = number == 1

    # the last known location before each row in its object's order (IGNORE NULLS)
    known = np.where(s["location"].is_valid().to_numpy(zero_copy_only=False), idx, -1)
    before = np.full(n, -1, dtype=np.int64)
    before[1:] = np.maximum.accumulate(known)[:-1]
    has_before = before >= start

    is_anchor = pa.array(anchor)

    def step(column: str, rows: np.ndarray, none: np.ndarray) -> pa.ChunkedArray:
        return s[column].take(pa.array(rows, mask=none))

    def keep(column: str, computed: Any) -> Any:
        return pc.if_else(is_anchor, s[f"old_{column}"], computed)

    out = {
        "object_id": s["object_id"],
        "object_type": s["object_type"],
        "event_id": s["event_id"],
        "activity": s["activity"],
        "time": s["time"],
        "seq": s["seq"],
        "position": pc.add(
            pc.fill_null(s["anchor_position"], 0), pa.array(idx - start, type=pa.int64())
        ),
        "next_event_id": step("event_id", next_row, last),
        "next_activity": step("activity", next_row, last),
        "next_time": step("time", next_row, last),
        "next_seq": step("seq", next_row, last),
        "prev_activity": keep("prev_activity", step("activity", prev_row, first)),
        "prev_time": keep("prev_time", step("time", prev_row, first)),
        "prev_seq": keep("prev_seq", step("seq", prev_row, first)),
        "pass_index": keep(
            "pass_index",
            pc.add(pc.fill_null(s["p_pass_index"], -1), pa.array(number, type=pa.int64())),
        ),
    }
    for column in ("event_id", "time", "seq"):
        out[f"prev_pass_{column}"] = keep(
            f"prev_pass_{column}",
            pc.if_else(pa.array(first_pass), s[f"p_{column}"], step(column, pass_prev, first_pass)),
        )
    out["location"] = s["location"]
    out["prev_location"] = keep(
        "prev_location",
        pc.coalesce(
            s["location"].take(pa.array(np.maximum(before, 0), mask=~has_before)),
            s["anchor_location"],
        ),
    )
    return pa.table({name: out[name] for name in _STEP_NAMES})


def _codes(column: pa.ChunkedArray) -> np.ndarray:
    """Integer codes of a column's values (equal values, equal codes; nulls one code)."""
    encoded = pc.dictionary_encode(column.combine_chunks(), null_encoding="encode")
    codes: np.ndarray = encoded.indices.to_numpy(zero_copy_only=False)
    return codes


def _prev(column: str) -> str:
    """The step before: the anchor keeps its own; any other row's is the row before."""
    return (
        f"CASE WHEN t.is_anchor THEN t.old_prev_{column} "
        f"ELSE lag(t.{column}) OVER w END AS prev_{column}"
    )


def _prev_pass(column: str) -> str:
    """The previous pass of the same activity: the anchor keeps its own; a new step's first
    pass in the tail follows the object's latest stored pass (null on an object without one),
    any later one the pass before it in the tail."""
    return (
        f"CASE WHEN t.is_anchor THEN t.old_prev_pass_{column} "
        f"WHEN row_number() OVER wa = 1 THEN p.{column} "
        f"ELSE lag(t.{column}) OVER wa END AS prev_pass_{column}"
    )
