"""The node store's tables: OCEL 2.0 relational layout in DuckDB, plus the ingest log.

Table names follow the OCEL 2.0 relational layout (``event``, ``object``, ``event_object``,
``object_object``); attributes are long (``event_attribute``, ``object_attribute``) so any event
or object type fits without DDL; ``event_type`` / ``object_type`` keep the declared attributes.
``event.ingest_id`` says which document brought an event, so every event traces back to its
ingest log line.
"""

from __future__ import annotations

import duckdb

from keiretsu.store.kaizen import KAIZEN_DDL
from keiretsu.store.masterdata import MASTERDATA_DDL

SCHEMA_VERSION = 10
"""1: the first layout. 2: ``event.ocel_seq``, the order events were read in, and the
``object_step`` table kept up to date on ingest. 3: each object's last step in
``object_step_last`` (read both through the ``object_steps`` view). 4: the node's named
queries and subscriptions belong to a scope (``node_query.scope``), partners' views
(``partner_view``). 5: kaizen experiments, their evidence, status history, A3 notes and
predictions (``kaizen_*``, :mod:`keiretsu.store.kaizen`). 6: kaizen measurements and the
lessons partners shared (``kaizen_measurement``, ``kaizen_lesson``). 7: EPCIS master data with
its history (``masterdata_*``, :mod:`keiretsu.store.masterdata`). 8: an index on each id column
the EPCIS query reads rows by (:data:`INDEXES`). 9: what the views' windows over a trace
computed, kept in each step — the previous step (``prev_activity``, ``prev_time``,
``prev_seq``), the pass of the step on the object (``pass_index``), the previous pass of the
same step (``prev_pass_event_id``, ``prev_pass_time``, ``prev_pass_seq``) and the event's
business location with the object's previous one (``location``, ``prev_location``) — with
each object's latest pass of each step in ``object_activity_last``. 10: a hash of the object's
id (``object_key``, :data:`OBJECT_KEY`) in ``object_step_last`` and ``object_activity_last``,
by which a capture finds the rows of the objects it touches without reading every text id."""

OBJECT_KEY = "hash(object_id)"
"""How ``object_key`` is computed from ``object_id`` (DuckDB's 64-bit hash): the per-object
trace tables are looked up by it first, then the ids of the few rows found are compared."""

_STEP_COLUMNS = """
        object_id VARCHAR,
        object_type VARCHAR,
        event_id VARCHAR,
        activity VARCHAR,
        time TIMESTAMPTZ,
        seq BIGINT,
        position BIGINT,
        next_event_id VARCHAR,
        next_activity VARCHAR,
        next_time TIMESTAMPTZ,
        next_seq BIGINT,
        prev_activity VARCHAR,
        prev_time TIMESTAMPTZ,
        prev_seq BIGINT,
        pass_index BIGINT,
        prev_pass_event_id VARCHAR,
        prev_pass_time TIMESTAMPTZ,
        prev_pass_seq BIGINT,
        location VARCHAR,
        prev_location VARCHAR
"""
"""The columns of a trace step (``object_step`` and ``object_step_last`` alike): the step
(object, event, activity, time, read order ``seq``, ``position`` in the trace from 0), the
event that follows (``next_*``, null on the last step), the one before (``prev_*``, null on the
first) and the pass of this activity on the object (``pass_index``: how many times the object
did this activity before, 0 on the first pass) with the previous pass of the same activity
(``prev_pass_*``, null on the first pass), the event's business location (``location``:
its ``bizLocation`` relation, the least id if several; null without one) and the location of
the object's latest earlier located step (``prev_location``) — what the views' windows over a
trace computed (schema 9)."""

PASS_COLUMNS = (
    "prev_activity",
    "prev_time",
    "prev_seq",
    "pass_index",
    "prev_pass_event_id",
    "prev_pass_time",
    "prev_pass_seq",
    "location",
    "prev_location",
)
"""The columns of a step schema 9 added (:data:`_STEP_COLUMNS`)."""

DDL = [
    """
    CREATE TABLE IF NOT EXISTS keiretsu_meta (
        key VARCHAR PRIMARY KEY,
        value VARCHAR
    )
    """,
    "CREATE SEQUENCE IF NOT EXISTS ingest_seq START 1",
    """
    CREATE TABLE IF NOT EXISTS ingest_log (
        ingest_id BIGINT PRIMARY KEY,
        document VARCHAR NOT NULL,
        format VARCHAR,
        source VARCHAR NOT NULL,
        sha256 VARCHAR,
        size_bytes BIGINT,
        started_at TIMESTAMPTZ NOT NULL,
        finished_at TIMESTAMPTZ NOT NULL,
        status VARCHAR NOT NULL,
        events_read BIGINT NOT NULL,
        events_new BIGINT NOT NULL,
        events_known BIGINT NOT NULL,
        events_corrected BIGINT NOT NULL,
        objects_new BIGINT NOT NULL,
        problem JSON
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS event (
        ocel_id VARCHAR NOT NULL,
        ocel_type VARCHAR NOT NULL,
        ocel_time TIMESTAMPTZ NOT NULL,
        ingest_id BIGINT NOT NULL,
        -- the order the event was read in: ingest_id * 2^32 + its index in the document.
        -- Breaks ties between events of an object at the same instant, as the source did.
        ocel_seq BIGINT
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS event_attribute (
        ocel_id VARCHAR NOT NULL,
        ocel_name VARCHAR NOT NULL,
        ocel_value VARCHAR,
        ocel_value_type VARCHAR NOT NULL,
        ingest_id BIGINT NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS object (
        ocel_id VARCHAR NOT NULL,
        ocel_type VARCHAR NOT NULL,
        ingest_id BIGINT NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS object_attribute (
        ocel_id VARCHAR NOT NULL,
        ocel_name VARCHAR NOT NULL,
        ocel_time TIMESTAMPTZ NOT NULL,
        ocel_value VARCHAR,
        ocel_value_type VARCHAR NOT NULL,
        ingest_id BIGINT NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS event_object (
        ocel_event_id VARCHAR NOT NULL,
        ocel_object_id VARCHAR NOT NULL,
        ocel_qualifier VARCHAR NOT NULL,
        quantity DOUBLE,
        uom VARCHAR,
        ingest_id BIGINT NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS object_object (
        ocel_source_id VARCHAR NOT NULL,
        ocel_target_id VARCHAR NOT NULL,
        ocel_qualifier VARCHAR NOT NULL,
        ingest_id BIGINT NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS event_type (
        ocel_type VARCHAR NOT NULL,
        attributes STRUCT(name VARCHAR, type VARCHAR)[] NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS object_type (
        ocel_type VARCHAR NOT NULL,
        attributes STRUCT(name VARCHAR, type VARCHAR)[] NOT NULL
    )
    """,
    """
    -- Every object's trace, kept up to date as documents are accepted: one row per object and
    -- event, in the object's order (time, then the order read), with the event that follows.
    -- What process maps, waiting times and variants are computed from, without re-sorting the
    -- whole log each time.
    CREATE TABLE IF NOT EXISTS object_step (
    """
    + _STEP_COLUMNS
    + ")",
    """
    -- What a partner is owed: one row per accepted document and partner it may go to, written
    -- in the transaction that accepts the document, so a crash can never lose one (the
    -- transactional outbox). The node's delivery worker pushes the document's events (as the
    -- sharing policy allows at the time of delivery) and stamps ``delivered_at``.
    CREATE TABLE IF NOT EXISTS outbox (
        ingest_id BIGINT NOT NULL,
        partner VARCHAR NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_attempt_at TIMESTAMPTZ,
        last_error VARCHAR,
        delivered_at TIMESTAMPTZ,
        events_sent BIGINT,
        PRIMARY KEY (ingest_id, partner)
    )
    """,
    """
    -- Each object's last step (its successor not known yet): one row per object, kept apart
    -- so that events arriving in time order only move this row and append to object_step.
    -- Read every step through the object_steps view.
    CREATE TABLE IF NOT EXISTS object_step_last (
    """
    + _STEP_COLUMNS
    + ", object_key UBIGINT)",
    """
    -- Each object's latest pass of each activity (schema 9): where the pass count and the
    -- previous pass of a step appended after the object's last step start from, without
    -- reading object_step.
    CREATE TABLE IF NOT EXISTS object_activity_last (
        object_id VARCHAR,
        activity VARCHAR,
        pass_index BIGINT,
        event_id VARCHAR,
        time TIMESTAMPTZ,
        seq BIGINT,
        object_key UBIGINT
    )
    """,
    """
    -- Each partner's view (one DuckDB schema per partner and channel, see
    -- keiretsu.store.partner_view): which policy it was built under and the newest own
    -- document projected into it.
    CREATE TABLE IF NOT EXISTS partner_view (
        view_schema VARCHAR PRIMARY KEY,
        partner VARCHAR NOT NULL,
        channel VARCHAR NOT NULL,
        fingerprint VARCHAR NOT NULL,
        watermark BIGINT NOT NULL,
        built_at TIMESTAMPTZ NOT NULL
    )
    """,
    """
    -- Named queries (EPCIS 2.0 REST binding, /queries): each belongs to its owner's scope —
    -- ``local`` for the node's own users, ``partner:<name>`` for one partner — and is seen,
    -- run and deleted only within it.
    CREATE TABLE IF NOT EXISTS node_query (
        scope VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        query JSON NOT NULL,
        owner VARCHAR NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (scope, name)
    )
    """,
    """
    -- Subscriptions to a named query of the same scope (webhook destinations).
    CREATE TABLE IF NOT EXISTS node_subscription (
        subscription_id VARCHAR PRIMARY KEY,
        query_name VARCHAR NOT NULL,
        dest VARCHAR NOT NULL,
        signature_token VARCHAR,
        owner VARCHAR NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        last_notified_at TIMESTAMPTZ,
        scope VARCHAR NOT NULL DEFAULT 'local'
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS source_event (
        ocel_id VARCHAR NOT NULL,
        format VARCHAR NOT NULL,
        body VARCHAR NOT NULL,
        ingest_id BIGINT NOT NULL
    )
    """,
    *KAIZEN_DDL,
    *MASTERDATA_DDL,
]

INDEXES = (
    ("event", "ocel_id"),
    ("source_event", "ocel_id"),
    ("event_attribute", "ocel_id"),
    ("event_object", "ocel_event_id"),
    ("event_object", "ocel_object_id"),
    ("object", "ocel_id"),
    ("object_attribute", "ocel_id"),
    ("object_object", "ocel_source_id"),
)
"""(table, column) of the ART indexes the store keeps: the columns the EPCIS query reads a few
rows by — an event by its id (``EQ_eventID``, the page being written out), the events of an EPC
or a place (``MATCH_*``, ``EQ_readPoint``, ``WD_``…), a page's attributes, relations, objects and
links. Without them each of those reads scans its whole table: with a million events, half a
second to write a page of 100 events, whatever the query (:mod:`keiretsu.node.query.keyed`).
They cost the ingest some time and the file some size (``docs/benchmarks.md``, *EPCIS
queries*). Created after the migrations (DuckDB cannot drop a column of an indexed table)."""


def index_ddl() -> list[str]:
    """``CREATE INDEX IF NOT EXISTS`` for each of :data:`INDEXES`."""
    return [
        f"CREATE INDEX IF NOT EXISTS {table}_{column}_idx ON {table} ({column})"
        for table, column in INDEXES
    ]


def drop_indexes(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the :data:`INDEXES` (a store as schema 7 wrote it; what the migration tests
    start from)."""
    for table, column in INDEXES:
        con.execute(f"DROP INDEX IF EXISTS {table}_{column}_idx")


DATA_TABLES = (
    "event",
    "event_attribute",
    "object",
    "object_attribute",
    "event_object",
    "object_object",
    "source_event",
)
"""Tables whose rows carry the ``ingest_id`` of the document that brought them."""

VISIBLE_PREFIX = "ocel_"
"""``ocel_event``, ``ocel_object``…: views of the data tables without the rows of a document
still being ingested (or of one a crash interrupted, until the store is next opened for
writing). Read these."""


def view_ddl() -> list[str]:
    """The ``ocel_*`` views: each data table less the rows of pending ingests."""
    return (
        [
            f"CREATE OR REPLACE VIEW {VISIBLE_PREFIX}{t} AS SELECT * EXCLUDE (ingest_id) FROM {t} "
            "WHERE ingest_id NOT IN (SELECT ingest_id FROM ingest_log WHERE status = 'pending')"
            if t != "event"
            else f"CREATE OR REPLACE VIEW {VISIBLE_PREFIX}{t} AS SELECT * FROM {t} "
            "WHERE ingest_id NOT IN (SELECT ingest_id FROM ingest_log WHERE status = 'pending')"
            for t in DATA_TABLES
        ]
        + [
            f"CREATE OR REPLACE VIEW {VISIBLE_PREFIX}{t} AS SELECT * FROM {t}"
            for t in ("event_type", "object_type")
        ]
        + [
            "CREATE OR REPLACE VIEW object_steps AS "
            "SELECT * FROM object_step UNION ALL "
            "SELECT * EXCLUDE (object_key) FROM object_step_last"
        ]
    )


# model table name → store table name
STORE_TABLES = {
    "events": "event",
    "event_attributes": "event_attribute",
    "objects": "object",
    "object_attributes": "object_attribute",
    "event_objects": "event_object",
    "object_objects": "object_object",
    "event_types": "event_type",
    "object_types": "object_type",
    "source_events": "source_event",
}
