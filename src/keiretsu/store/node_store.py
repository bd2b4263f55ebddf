"""The node's durable store: one DuckDB file, atomic and idempotent ingest, an ingest log.

A document is stored whole or not at all: every batch a reader yields goes into one DuckDB
transaction, which commits only after the last batch; a refusal (or a crash, or SIGKILL) rolls it
back and leaves what was stored before untouched. Ingest is idempotent by event id: an event whose
id the store already holds is counted as *known* and not stored again — except that an EPCIS error
declaration arriving later for the same event id marks the stored event as corrected.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from keiretsu.model import SCHEMAS, DocumentError, Ocel, Problem
from keiretsu.store.arrow import arrow_table
from keiretsu.store.received import check_own_ids
from keiretsu.store.schema import (
    DATA_TABLES,
    DDL,
    SCHEMA_VERSION,
    STORE_TABLES,
    VISIBLE_PREFIX,
    view_ddl,
)

CORRECTION_PREFIX = "errorDeclaration"
"""Event attributes whose names start with this mark an EPCIS error declaration (a correction)."""


class StoreError(RuntimeError):
    """The store cannot be opened or written (locked by another process, not a keiretsu store…)."""


@dataclass
class IngestReport:
    """What one ingest did: how many events were read, new, already known, corrected."""

    document: str
    format: str | None
    status: str
    """``accepted`` or ``refused``."""
    ingest_id: int | None = None
    events_read: int = 0
    events_new: int = 0
    events_known: int = 0
    events_corrected: int = 0
    objects_new: int = 0
    seconds: float = 0.0
    problem: dict[str, Any] | None = None

    @property
    def events_per_second(self) -> float:
        """Ingest rate over the whole document (events read / wall-clock seconds)."""
        return self.events_read / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return asdict(self)


@dataclass
class ReadDocument:
    """A document already read whole into OCEL batches, waiting to be stored
    (:meth:`Store.ingest_group`)."""

    batches: list[Ocel]
    document: str
    format: str | None = None
    source: str = "local"
    sha256: str | None = None
    size_bytes: int | None = None
    outbox: Sequence[str] = ()

    @property
    def num_events(self) -> int:
        return sum(b.num_events for b in self.batches)


@dataclass
class StoreSummary:
    """The twin at a glance: how much it holds and over what time span."""

    path: str
    events: int
    objects: int
    event_types: dict[str, int] = field(default_factory=dict)
    """activity → number of events"""
    object_types: dict[str, int] = field(default_factory=dict)
    """object type → number of objects"""
    first_event: datetime | None = None
    last_event: datetime | None = None
    documents_accepted: int = 0
    documents_refused: int = 0
    relations: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form (times as ISO 8601 text)."""
        data = asdict(self)
        for key in ("first_event", "last_event"):
            if data[key] is not None:
                data[key] = data[key].isoformat()
        return data


def _rows(con: duckdb.DuckDBPyConnection, query: str, params: list[Any] | None = None) -> list[Any]:
    """Run a statement and fetch all its rows (leaves no unfinished result behind)."""
    return con.execute(query, params).fetchall() if params else con.execute(query).fetchall()


def _first_per_id(table: pa.Table, column: str) -> pa.Table:
    """Keep the first row for each value of ``column`` (de-duplicates ids inside one batch)."""
    if table.num_rows == 0:
        return table
    ids = table.column(column)
    if pc.count_distinct(ids).as_py() == table.num_rows:
        return table
    indexed = table.append_column("__row", pa.array(range(table.num_rows), pa.int64()))
    firsts = indexed.group_by(column, use_threads=False).aggregate([("__row", "min")])
    keep = pc.sort_indices(firsts.column("__row_min"))
    rows = pc.take(firsts.column("__row_min"), keep)
    return table.take(rows)


class Store:
    """A node's store: one DuckDB file holding the twin's OCEL 2.0 log and its ingest log.

    Open it with a path (created if absent). Only one process may write a store at a time;
    a second writer gets a :class:`StoreError` saying so.
    """

    COMMIT_ROWS = 1_000_000
    """Rows (over all tables) written per transaction during a large ingest."""

    STEP_ROWS = 1_000_000
    """New trace rows (object, event) recomputed per pass when a document is accepted."""

    def __init__(
        self,
        path: str | Path,
        *,
        read_only: bool = False,
        memory_limit: str | None = None,
        threads: int | None = None,
        ingest_memory_limit: str | None = "256MB",
    ) -> None:
        self.path = Path(path)
        self.ingest_memory_limit = ingest_memory_limit
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.path.exists():
            raise StoreError(f"{self.path}: no store here (run `keiretsu ingest` first)")
        config: dict[str, Any] = {}
        if memory_limit:
            config["memory_limit"] = memory_limit
        if threads:
            config["threads"] = threads
        try:
            self.con = duckdb.connect(str(self.path), read_only=read_only, config=config)
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise StoreError(
                    f"{self.path} is in use by another keiretsu process (a running node server?): "
                    "stop it, or send the document to that node's API instead"
                ) from exc
            raise StoreError(f"{self.path}: cannot open the store: {exc}") from exc
        except duckdb.Error as exc:
            raise StoreError(f"{self.path}: not a keiretsu store: {exc}") from exc
        # DuckDB draws a progress bar on stdout for long statements: not in a CLI that prints JSON
        self.con.execute("SET enable_progress_bar = false")
        if not read_only:
            for statement in DDL:
                self.con.execute(statement)
            self._migrate()
            for statement in view_ddl():
                self.con.execute(statement)
            self.con.execute(
                "INSERT INTO keiretsu_meta VALUES ('schema_version', ?) ON CONFLICT DO NOTHING",
                [str(SCHEMA_VERSION)],
            )
            self._recover()

    def _migrate(self) -> None:
        """Bring a store written by an earlier keiretsu up to this schema."""
        columns = {r[0] for r in self.con.execute("DESCRIBE event").fetchall()}
        if "ocel_seq" not in columns:  # schema 1: the order read is the order stored
            self.con.execute("ALTER TABLE event ADD COLUMN ocel_seq BIGINT")
            self.con.execute("UPDATE event SET ocel_seq = rowid")
            self.con.execute("BEGIN TRANSACTION")
            self.update_steps(None)
            self.con.execute("COMMIT")
        elif "next_seq" not in {
            r[0] for r in self.con.execute("DESCRIBE object_step").fetchall()
        }:  # traces kept before they had the successor's read order
            self.con.execute("DROP TABLE object_step")
            self.con.execute("DELETE FROM object_step_last")
            for statement in DDL:
                if "object_step" in statement:
                    self.con.execute(statement)
            self.con.execute("BEGIN TRANSACTION")
            self.update_steps(None)
            self.con.execute("COMMIT")
        elif (
            not _rows(self.con, "SELECT count(*) FROM object_step")[0][0]
            and _rows(self.con, "SELECT count(*) FROM event_object")[0][0]
        ):  # a store written before the traces were kept
            self.con.execute("BEGIN TRANSACTION")
            self.update_steps(None)
            self.con.execute("COMMIT")
        elif (
            not _rows(self.con, "SELECT count(*) FROM object_step_last")[0][0]
            and _rows(self.con, "SELECT count(*) FROM object_step WHERE next_event_id IS NULL")[0][
                0
            ]
        ):  # schema 2 kept each object's last step in object_step itself
            self.con.execute("BEGIN TRANSACTION")
            self.con.execute(
                "INSERT INTO object_step_last SELECT * FROM object_step WHERE next_event_id IS NULL"
            )
            self.con.execute("DELETE FROM object_step WHERE next_event_id IS NULL")
            self.con.execute("COMMIT")
        self._migrate_scopes()
        self.con.execute(
            "UPDATE keiretsu_meta SET value = ? WHERE key = 'schema_version' AND value < ?",
            [str(SCHEMA_VERSION), str(SCHEMA_VERSION)],
        )

    def _migrate_scopes(self) -> None:
        """Schema 3 kept one list of named queries for every caller: each becomes its
        owner's (a partner's queries its own; the node's users share theirs)."""
        columns = {r[0] for r in self.con.execute("DESCRIBE node_query").fetchall()}
        if "scope" in columns:
            return
        scope = "CASE WHEN starts_with(owner, 'partner:') THEN owner ELSE 'local' END"
        self.con.execute("BEGIN TRANSACTION")
        self.con.execute("ALTER TABLE node_query RENAME TO node_query_v3")
        for statement in DDL:
            if "node_query (" in statement:
                self.con.execute(statement)
        self.con.execute(
            f"INSERT INTO node_query SELECT {scope}, name, query, owner, created_at"
            " FROM node_query_v3"
        )
        self.con.execute("DROP TABLE node_query_v3")
        sub_columns = {r[0] for r in self.con.execute("DESCRIBE node_subscription").fetchall()}
        if "scope" not in sub_columns:
            self.con.execute(
                "ALTER TABLE node_subscription ADD COLUMN scope VARCHAR DEFAULT 'local'"
            )
            self.con.execute(f"UPDATE node_subscription SET scope = {scope}")
        self.con.execute("COMMIT")

    # --- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Close the file (checkpointing what was committed)."""
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- ingest ------------------------------------------------------------------------------

    def ingest(
        self,
        batches: Iterable[Ocel],
        *,
        document: str,
        format: str | None = None,
        source: str = "local",
        sha256: str | None = None,
        size_bytes: int | None = None,
        progress: Callable[[int], None] | None = None,
        outbox: Sequence[str] = (),
    ) -> IngestReport:
        """Store a whole document given as a stream of batches, or none of it.

        ``document`` names it in the ingest log and in errors; ``source`` says who sent it
        (``local`` for a file, a partner's name for a shared document). ``progress`` is called
        with the number of events read so far after each batch. ``outbox`` names the partners
        the document's new events are owed to: their outbox rows are written in the same
        transaction that accepts it (see :meth:`outbox_pending`).

        Returns the :class:`IngestReport`. A refused document raises :class:`DocumentError`
        (after logging the refusal); nothing of it is stored.
        """
        started = datetime.now(UTC)
        t0 = time.perf_counter()
        report = IngestReport(document=document, format=format, status="accepted")
        con = self.con
        # The document's rows are committed batch by batch (so memory stays bounded however
        # large it is), each tagged with this ingest's id, and stay invisible (``ocel_*`` views)
        # while its ingest_log line says 'pending'. The last transaction flips it to
        # 'accepted'; a refusal deletes the rows again; a crash leaves 'pending', cleaned up
        # the next time the store is opened for writing.
        ingest_id = self._begin(report, started, source, sha256, size_bytes)
        in_transaction = False
        restore = self._ingest_settings()
        try:
            event_types = self._load_types("event_type")
            object_types = self._load_types("object_type")
            changed_event_types: set[str] = set()
            changed_object_types: set[str] = set()
            # Commit every COMMIT_ROWS rows or so: enough for DuckDB to write whole row groups
            # straight into the file (not through the WAL and again at checkpoint), few enough
            # to keep memory bounded.
            pending_rows = 0
            for batch in batches:
                if not in_transaction:
                    con.execute("BEGIN TRANSACTION")
                    in_transaction = True
                try:
                    if source == "local":
                        check_own_ids(batch, document)
                    self._ingest_batch(batch, ingest_id, report)
                    pending_rows += sum(t.num_rows for t in batch.tables().values())
                    if pending_rows >= self.COMMIT_ROWS:
                        con.execute("COMMIT")
                        in_transaction = False
                        pending_rows = 0
                except BaseException:
                    con.execute("ROLLBACK")
                    in_transaction = False
                    raise
                changed_event_types |= _merge_types(event_types, batch.event_types)
                changed_object_types |= _merge_types(object_types, batch.object_types)
                if progress is not None:
                    progress(report.events_read)
            report.seconds = time.perf_counter() - t0
            if not in_transaction:
                con.execute("BEGIN TRANSACTION")
                in_transaction = True
            try:
                self._save_types("event_type", event_types, changed_event_types)
                self._save_types("object_type", object_types, changed_object_types)
                # the traces' update runs within the ingest's memory bounds: passes of STEP_ROWS
                # rows, one thread (a second one's sort buffers, and the allocator's arenas under
                # a loaded machine, took a 1M-event document's writer past 1 GiB)
                if report.events_new:
                    self.update_steps(ingest_id)
                # a document that only corrects earlier events is owed to partners too
                if outbox and (report.events_new or report.events_corrected):
                    con.executemany(
                        "INSERT INTO outbox (ingest_id, partner, created_at) VALUES (?, ?, ?)",
                        [[ingest_id, partner, started] for partner in sorted(set(outbox))],
                    )
                self._finish(report, "accepted")
                con.execute("COMMIT")
                in_transaction = False
            except BaseException:
                con.execute("ROLLBACK")
                in_transaction = False
                raise
        except BaseException as exc:
            if in_transaction:  # the reader refused the document between two batches
                con.execute("ROLLBACK")
            report.status = "refused"
            report.seconds = time.perf_counter() - t0
            if isinstance(exc, DocumentError):
                exc.with_document(document)
                report.problem = exc.to_dict()
            else:
                report.problem = Problem(
                    title="Ingest failed" if isinstance(exc, Exception) else "Ingest interrupted",
                    detail=f"{type(exc).__name__}: {exc}",
                    type="ingest-failed",
                    document=document,
                    status=500,
                ).to_dict()
            report.events_new = report.events_known = report.events_corrected = 0
            report.objects_new = 0
            self._discard(ingest_id, report)
            raise
        finally:
            restore()
        return report

    def _ingest_settings(self) -> Callable[[], None]:
        """Set DuckDB up for ingest; returns what puts the settings back (for analysis)."""
        con = self.con
        # Ingest only appends: DuckDB's cache of the file's blocks need not grow with it, so a
        # large document is written in bounded memory.
        saved_limit = None
        if self.ingest_memory_limit:
            saved_limit = _rows(con, "SELECT current_setting('memory_limit')")[0][0]
            con.execute(f"SET memory_limit = '{self.ingest_memory_limit}'")
        # Appending small batches gains nothing from DuckDB's second thread, and the reader
        # process (or the parser in this one) needs that core: one thread while ingesting.
        saved_threads = _rows(con, "SELECT current_setting('threads')")[0][0]
        con.execute("SET threads = 1")

        def restore() -> None:
            if saved_limit is not None:
                con.execute(f"SET memory_limit = '{saved_limit}'")
            con.execute(f"SET threads = {int(saved_threads)}")

        return restore

    def ingest_group(self, documents: Sequence[ReadDocument]) -> list[IngestReport]:
        """Store several documents, each already read whole (so none can be refused half-way),
        in one transaction: one commit and one update of the traces for all of them — what a
        node does with the captures that queued up while it was busy. Each document is still
        its own ingest, with its own log line, report and outbox rows.

        All of them are stored, or (should the store fail) none: the caller then stores them
        one by one with :meth:`ingest`.
        """
        con = self.con
        started = datetime.now(UTC)
        t0 = time.perf_counter()
        restore = self._ingest_settings()
        reports: list[IngestReport] = []
        try:
            con.execute("BEGIN TRANSACTION")
            try:
                event_types = self._load_types("event_type")
                object_types = self._load_types("object_type")
                changed_e: set[str] = set()
                changed_o: set[str] = set()
                for doc in documents:
                    report = IngestReport(
                        document=doc.document, format=doc.format, status="accepted"
                    )
                    ingest_id = self._begin(
                        report, started, doc.source, doc.sha256, doc.size_bytes, commit=False
                    )
                    for batch in doc.batches:
                        if doc.source == "local":
                            check_own_ids(batch, doc.document)
                        self._ingest_batch(batch, ingest_id, report)
                        changed_e |= _merge_types(event_types, batch.event_types)
                        changed_o |= _merge_types(object_types, batch.object_types)
                    reports.append(report)
                self._save_types("event_type", event_types, changed_e)
                self._save_types("object_type", object_types, changed_o)
                fresh = [r.ingest_id for r in reports if r.events_new and r.ingest_id is not None]
                if fresh:
                    self.update_steps(fresh)
                seconds = time.perf_counter() - t0
                for doc, report in zip(documents, reports, strict=True):
                    report.seconds = seconds
                    if doc.outbox and (report.events_new or report.events_corrected):
                        con.executemany(
                            "INSERT INTO outbox (ingest_id, partner, created_at) VALUES (?, ?, ?)",
                            [[report.ingest_id, p, started] for p in sorted(set(doc.outbox))],
                        )
                    self._finish(report, "accepted")
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        finally:
            restore()
        return reports

    def _begin(
        self,
        report: IngestReport,
        started: datetime,
        source: str,
        sha256: str | None,
        size_bytes: int | None,
        *,
        commit: bool = True,
    ) -> int:
        """Open the ingest: a 'pending' line in the ingest log, committed (unless ``commit``
        is false: inside the caller's transaction); returns its id."""
        con = self.con
        if commit:
            con.execute("BEGIN TRANSACTION")
        ingest_id = int(_rows(con, "SELECT nextval('ingest_seq')")[0][0])
        report.ingest_id = ingest_id
        con.execute(
            "INSERT INTO ingest_log "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, 0, 0, 0, 0, NULL)",
            [
                ingest_id,
                report.document,
                report.format,
                source,
                sha256,
                size_bytes,
                started,
                started,
            ],
        )
        if commit:
            con.execute("COMMIT")
        return ingest_id

    def _finish(self, report: IngestReport, status: str) -> None:
        """Write the ingest's outcome on its log line (inside the caller's transaction)."""
        self.con.execute(
            """
            UPDATE ingest_log SET status = ?, finished_at = ?, events_read = ?, events_new = ?,
                events_known = ?, events_corrected = ?, objects_new = ?, problem = ?
            WHERE ingest_id = ?
            """,
            [
                status,
                datetime.now(UTC),
                report.events_read,
                report.events_new,
                report.events_known,
                report.events_corrected,
                report.objects_new,
                json.dumps(report.problem) if report.problem else None,
                report.ingest_id,
            ],
        )

    def _discard(self, ingest_id: int, report: IngestReport) -> None:
        """Delete every row the ingest wrote and log why it was refused, in one transaction."""
        con = self.con
        con.execute("BEGIN TRANSACTION")
        for table in DATA_TABLES:
            con.execute(f"DELETE FROM {table} WHERE ingest_id = ?", [ingest_id])
        self._finish(report, report.status)
        con.execute("COMMIT")

    def _recover(self) -> None:
        """Discard the rows of ingests a crash interrupted (their log line still says
        'pending'): the store is back to whole documents only."""
        for row in _rows(
            self.con, "SELECT ingest_id, document, format FROM ingest_log WHERE status = 'pending'"
        ):
            report = IngestReport(
                document=row[1],
                format=row[2],
                status="interrupted",
                ingest_id=int(row[0]),
                problem=Problem(
                    title="Ingest interrupted",
                    detail="the process ended before the document was complete; "
                    "nothing of it was kept — send it again",
                    type="ingest-interrupted",
                    document=row[1],
                    status=500,
                ).to_dict(),
            )
            self._discard(int(row[0]), report)

    def update_steps(self, ingest_id: int | Sequence[int] | None) -> None:
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
        con = self.con
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
        # Objects in passes of about STEP_ROWS new rows each (by a hash of their id), so the
        # window over a large document's traces stays within the ingest's memory.
        n_new = int(_rows(con, "SELECT count(*) FROM k_new_steps")[0][0])
        parts = max(1, -(-n_new // self.STEP_ROWS))
        for part in range(parts):
            # per object touched: where its new events start, and its stored last step
            con.execute(
                """
                CREATE OR REPLACE TEMP TABLE k_touch AS
                SELECT object_id, min({'t': time, 's': seq}) AS first_new
                FROM k_new_steps WHERE hash(object_id) % ? = ? GROUP BY object_id
                """,
                [parts, part],
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
            if _rows(con, "SELECT count(*) FROM k_last WHERE late")[0][0]:
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
                    SELECT n.object_id, n.object_type, n.event_id, n.activity, n.time, n.seq
                    FROM k_new_steps n SEMI JOIN k_touch k ON n.object_id = k.object_id
                ) t
                LEFT JOIN k_anchor a ON t.object_id = a.object_id
                WINDOW w AS (PARTITION BY t.object_id ORDER BY t.time, t.seq)
                """
            )
            con.execute(
                "INSERT INTO object_step SELECT * FROM k_out WHERE next_event_id IS NOT NULL"
            )
            con.execute(
                "INSERT INTO object_step_last SELECT * FROM k_out WHERE next_event_id IS NULL"
            )
        for table in ("k_new_steps", "k_touch", "k_last", "k_anchor", "k_tail", "k_out"):
            con.execute(f"DROP TABLE IF EXISTS {table}")

    def _ingest_batch(self, batch: Ocel, ingest_id: int, report: IngestReport) -> None:
        con = self.con
        events = batch.events
        first = (ingest_id << 32) + report.events_read
        report.events_read += events.num_rows
        if events.num_rows:
            events = events.append_column(
                "ocel_seq", pa.array(np.arange(first, first + events.num_rows, dtype=np.int64))
            )
            events = _first_per_id(events, "ocel_id")
            # the same id twice in one batch: its attributes and relations must not double up
            dedupe = events.num_rows < batch.events.num_rows
            con.register("k_batch", events.select(["ocel_id"]))
            known = arrow_table(
                con, "SELECT ocel_id FROM event WHERE ocel_id IN (SELECT ocel_id FROM k_batch)"
            )
            con.unregister("k_batch")
            known_ids = known.column("ocel_id") if known.num_rows else pa.array([], pa.string())
            is_known = pc.is_in(events.column("ocel_id"), value_set=known_ids)
            new_events = events.filter(pc.invert(is_known))
            report.events_known += batch.events.num_rows - new_events.num_rows
            report.events_new += new_events.num_rows
            if new_events.num_rows:
                con.register("k_new", new_events)
                con.execute(
                    "INSERT INTO event "
                    "SELECT ocel_id, ocel_type, ocel_time, ?, ocel_seq FROM k_new",
                    [ingest_id],
                )
                con.unregister("k_new")
            new_ids = new_events.column("ocel_id")
            self._insert_filtered(
                "event_attribute",
                batch.event_attributes,
                "ocel_id",
                new_ids,
                ingest_id,
                "DISTINCT ON (ocel_id, ocel_name)" if dedupe else "",
            )
            self._insert_filtered(
                "event_object",
                batch.event_objects,
                "ocel_event_id",
                new_ids,
                ingest_id,
                "DISTINCT" if dedupe else "",
            )
            self._insert_filtered(
                "source_event",
                batch.source_events,
                "ocel_id",
                new_ids,
                ingest_id,
                "DISTINCT ON (ocel_id)" if dedupe else "",
            )
            if known.num_rows:
                report.events_corrected += self._apply_corrections(batch, known_ids, ingest_id)
        # objects: first type wins, objects already known are left as they are
        objects = _first_per_id(batch.objects, "ocel_id")
        new_objects = pa.array([], pa.string())
        if objects.num_rows:
            con.register("k_obj", objects.select(["ocel_id"]))
            known_objects = arrow_table(
                con, "SELECT ocel_id FROM object WHERE ocel_id IN (SELECT ocel_id FROM k_obj)"
            )
            con.unregister("k_obj")
            fresh = objects
            if known_objects.num_rows:
                fresh = objects.filter(
                    pc.invert(pc.is_in(objects.column("ocel_id"), known_objects.column("ocel_id")))
                )
            if fresh.num_rows:
                con.register("k_obj", fresh)
                con.execute(
                    "INSERT INTO object SELECT ocel_id, ocel_type, ? FROM k_obj", [ingest_id]
                )
                con.unregister("k_obj")
            report.objects_new += fresh.num_rows
            new_objects = fresh.column("ocel_id").combine_chunks()
        # Attribute values and links of objects first seen in this batch are new by definition;
        # only those of objects already stored need the (costlier) check against stored rows.
        self._insert_object_rows(
            "object_attribute",
            batch.object_attributes,
            "ocel_id",
            new_objects,
            ingest_id,
            """
            WITH stored AS (  -- scan once, keep only rows of the objects in this batch
                SELECT * FROM object_attribute WHERE ocel_id IN (SELECT ocel_id FROM k_rows)
            )
            INSERT INTO object_attribute
            SELECT DISTINCT b.ocel_id, b.ocel_name, b.ocel_time, b.ocel_value,
                   b.ocel_value_type, ?
            FROM k_rows b ANTI JOIN stored a
              ON a.ocel_id = b.ocel_id AND a.ocel_name = b.ocel_name
             AND a.ocel_time = b.ocel_time
             AND a.ocel_value IS NOT DISTINCT FROM b.ocel_value
            """,
        )
        self._insert_object_rows(
            "object_object",
            batch.object_objects,
            "ocel_source_id",
            new_objects,
            ingest_id,
            """
            WITH stored AS (
                SELECT * FROM object_object
                WHERE ocel_source_id IN (SELECT ocel_source_id FROM k_rows)
            )
            INSERT INTO object_object
            SELECT DISTINCT b.ocel_source_id, b.ocel_target_id, b.ocel_qualifier, ?
            FROM k_rows b ANTI JOIN stored a
              ON a.ocel_source_id = b.ocel_source_id
             AND a.ocel_target_id = b.ocel_target_id
             AND a.ocel_qualifier = b.ocel_qualifier
            """,
        )

    def _insert_object_rows(
        self,
        table: str,
        rows: pa.Table,
        id_column: str,
        new_objects: pa.Array,
        ingest_id: int,
        checked_insert: str,
    ) -> None:
        """Insert object attribute values or links: those of ``new_objects`` directly (once
        each), the others only where the store does not hold them yet."""
        if rows.num_rows == 0:
            return
        con = self.con
        is_new = pc.is_in(rows.column(id_column), value_set=new_objects)
        fresh = rows.filter(is_new)
        if fresh.num_rows:
            con.register("k_rows", fresh)
            con.execute(f"INSERT INTO {table} SELECT DISTINCT *, ? FROM k_rows", [ingest_id])
            con.unregister("k_rows")
        rest = rows.filter(pc.invert(is_new)) if fresh.num_rows else rows
        if rest.num_rows:
            con.register("k_rows", rest)
            con.execute(checked_insert, [ingest_id])
            con.unregister("k_rows")

    def _insert_filtered(
        self,
        table: str,
        rows: pa.Table,
        id_column: str,
        ids: pa.Array,
        ingest_id: int,
        distinct: str = "",
    ) -> None:
        """Insert the rows of ``rows`` whose ``id_column`` is among ``ids`` (the new events)."""
        if rows.num_rows == 0 or len(ids) == 0:
            return
        keep = pc.is_in(rows.column(id_column), value_set=ids)
        rows = rows.filter(keep)
        if rows.num_rows == 0:
            return
        self.con.register("k_rows", rows)
        self.con.execute(f"INSERT INTO {table} SELECT {distinct} *, ? FROM k_rows", [ingest_id])
        self.con.unregister("k_rows")

    def _apply_corrections(self, batch: Ocel, known_ids: pa.Array, ingest_id: int) -> int:
        """An error declaration for an event already stored: add its declaration attributes."""
        attrs = batch.event_attributes
        if attrs.num_rows == 0:
            return 0
        mask = pc.and_(
            pc.is_in(attrs.column("ocel_id"), value_set=known_ids),
            pc.starts_with(attrs.column("ocel_name"), CORRECTION_PREFIX),
        )
        corrections = attrs.filter(mask)
        if corrections.num_rows == 0:
            return 0
        con = self.con
        con.register("k_corr", corrections)
        corrected = con.execute(
            """
            SELECT count(DISTINCT b.ocel_id) FROM k_corr b
            WHERE NOT EXISTS (SELECT 1 FROM event_attribute a
                              WHERE a.ocel_id = b.ocel_id AND a.ocel_name = b.ocel_name)
            """
        ).fetchall()[0]
        con.execute(
            """
            INSERT INTO event_attribute
            SELECT b.*, ? FROM k_corr b
            WHERE NOT EXISTS (SELECT 1 FROM event_attribute a
                              WHERE a.ocel_id = b.ocel_id AND a.ocel_name = b.ocel_name)
            """,
            [ingest_id],
        )
        con.unregister("k_corr")
        return int(corrected[0]) if corrected else 0

    def _count(self, table: str) -> int:
        row = _rows(self.con, f"SELECT count(*) FROM {table}")[0]
        return int(row[0]) if row else 0

    def _load_types(self, table: str) -> dict[str, dict[str, str]]:
        rows = self.con.execute(f"SELECT ocel_type, attributes FROM {table}").fetchall()
        return {name: {a["name"]: a["type"] for a in attrs} for name, attrs in rows}

    def _save_types(self, table: str, types: dict[str, dict[str, str]], changed: set[str]) -> None:
        if not changed:
            return
        names = sorted(changed)
        self.con.executemany(f"DELETE FROM {table} WHERE ocel_type = ?", [[n] for n in names])
        self.con.executemany(
            f"INSERT INTO {table} VALUES (?, ?)",
            [[n, [{"name": k, "type": v} for k, v in types[n].items()]] for n in names],
        )

    def ingest_file(
        self,
        path: str | Path,
        *,
        format: str | None = None,
        source: str = "local",
        progress: Callable[[int], None] | None = None,
        parallel: bool | None = None,
        **options: Any,
    ) -> IngestReport:
        """Detect the file's format (unless given), read it and store it whole or not at all.

        ``options`` go to the format's reader (for CSV/Parquet: ``mapping=``). ``parallel``
        reads the file in a second process while this one writes (default: for files of 8 MiB
        and more on a machine with two cores or more).
        """
        from keiretsu.io.detect import detect_format, reader_for
        from keiretsu.store.pipeline import parallel_worthwhile, read_in_subprocess

        path = Path(path)
        fmt = format or detect_format(path)
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        if not fmt.startswith("epcis-"):
            options.pop("strict", None)  # XSD element order is an EPCIS XML matter only
        if parallel is None:
            parallel = parallel_worthwhile(path)
        if parallel:
            batches = read_in_subprocess(fmt, path, options)
        else:
            batches = reader_for(fmt)(path, document=str(path), **options)
        return self.ingest(
            batches,
            document=str(path),
            format=fmt,
            source=source,
            sha256=digest.hexdigest(),
            size_bytes=path.stat().st_size,
            progress=progress,
        )

    # --- outbox ------------------------------------------------------------------------------

    def outbox_add(self, partner: str, *, since_ingest: int | None = None) -> int:
        """Owe ``partner`` every accepted local document (from ``since_ingest`` on): for a
        partner introduced after events were already recorded. Returns the documents added."""
        before = self._count("outbox")
        self.con.execute(
            """
            INSERT INTO outbox (ingest_id, partner, created_at)
            SELECT ingest_id, ?, now() FROM ingest_log
            WHERE status = 'accepted' AND source = 'local' AND events_new > 0
              AND ingest_id >= coalesce(?, 0)
            ON CONFLICT DO NOTHING
            """,
            [partner, since_ingest],
        )
        return self._count("outbox") - before

    def outbox_pending(
        self, partner: str, *, limit: int = 100, con: duckdb.DuckDBPyConnection | None = None
    ) -> list[tuple[int, int]]:
        """The documents still owed to ``partner``, oldest first: (ingest_id, new events).
        ``con`` lets another thread read with its own cursor."""
        return [
            (int(r[0]), int(r[1]))
            for r in _rows(
                con or self.con,
                """
                SELECT o.ingest_id, l.events_new + l.events_corrected
                FROM outbox o JOIN ingest_log l USING (ingest_id)
                WHERE o.partner = ? AND o.delivered_at IS NULL ORDER BY o.ingest_id LIMIT ?
                """,
                [partner, limit],
            )
        ]

    def outbox_done(
        self,
        partner: str,
        ingest_ids: Sequence[int],
        *,
        events_sent: int | None = None,
        error: str | None = None,
    ) -> None:
        """Record a delivery attempt of these documents to ``partner``: delivered (no
        ``error``) or failed with ``error`` (they stay owed)."""
        now = datetime.now(UTC)
        self.con.executemany(
            """
            UPDATE outbox SET attempts = attempts + 1, last_attempt_at = ?, last_error = ?,
                delivered_at = CASE WHEN ? IS NULL THEN ? ELSE delivered_at END,
                events_sent = CASE WHEN ? IS NULL THEN ? ELSE events_sent END
            WHERE partner = ? AND ingest_id = ?
            """,
            [
                [now, error, error, now, error, events_sent if i == 0 else 0, partner, ingest_id]
                for i, ingest_id in enumerate(ingest_ids)
            ],
        )

    def outbox_status(self, con: duckdb.DuckDBPyConnection | None = None) -> pa.Table:
        """Per partner: documents delivered and owed, events sent, the last error."""
        return arrow_table(
            con or self.con,
            """
            SELECT partner,
                   count(*) FILTER (WHERE delivered_at IS NOT NULL) AS documents_delivered,
                   count(*) FILTER (WHERE delivered_at IS NULL) AS documents_owed,
                   CAST(coalesce(sum(events_sent), 0) AS BIGINT) AS events_sent,
                   max(delivered_at) AS last_delivered_at,
                   arg_max(last_error, last_attempt_at)
                       FILTER (WHERE delivered_at IS NULL) AS last_error
            FROM outbox GROUP BY partner ORDER BY partner
            """,
        )

    # --- reading -----------------------------------------------------------------------------

    def table(self, name: str) -> pa.Table:
        """One of the log's tables by its model name (``events``, ``event_objects``…) or its
        store name (``event``, ``event_object``…), as Arrow."""
        store_name = STORE_TABLES.get(name, name)
        model_name = {v: k for k, v in STORE_TABLES.items()}.get(store_name)
        if model_name is None:
            raise KeyError(f"no table {name!r}; tables: {', '.join(STORE_TABLES)}")
        columns = ", ".join(SCHEMAS[model_name].names)
        order = "ORDER BY ocel_time, ocel_seq" if store_name == "event" else ""
        view = VISIBLE_PREFIX + store_name
        return arrow_table(self.con, f"SELECT {columns} FROM {view} {order}")

    def to_ocel(self) -> Ocel:
        """The whole log as an :class:`Ocel` (for export and analysis)."""
        return Ocel(**{name: self.table(name) for name in STORE_TABLES})

    def iter_events(self, batch_size: int = 100_000) -> Iterator[pa.RecordBatch]:
        """Events in time order, in record batches."""
        rel = self.con.sql(
            "SELECT ocel_id, ocel_type, ocel_time FROM ocel_event ORDER BY ocel_time, ocel_seq"
        )
        reader = rel.to_arrow_reader(batch_size)
        yield from reader

    def ingest_log(self) -> pa.Table:
        """Every ingest: which document, when, from whom, how many events, accepted or refused
        and why."""
        return arrow_table(self.con, "SELECT * FROM ingest_log ORDER BY ingest_id")

    def summary(self) -> StoreSummary:
        """Objects, events, their types and the time span the twin covers."""
        return self.summary_of(self.con, self.path)

    @staticmethod
    def summary_of(con: duckdb.DuckDBPyConnection, path: Path) -> StoreSummary:
        """:meth:`summary` read through ``con`` (another thread's cursor on the store)."""

        def count(table: str) -> int:
            return int(_rows(con, f"SELECT count(*) FROM {table}")[0][0])

        events = count("ocel_event")
        objects = count("ocel_object")
        span = _rows(con, "SELECT min(ocel_time), max(ocel_time) FROM ocel_event")[0]
        etypes = con.execute(
            "SELECT ocel_type, count(*) FROM ocel_event GROUP BY 1 ORDER BY 2 DESC, 1"
        ).fetchall()
        otypes = con.execute(
            "SELECT ocel_type, count(*) FROM ocel_object GROUP BY 1 ORDER BY 2 DESC, 1"
        ).fetchall()
        docs = dict(con.execute("SELECT status, count(*) FROM ingest_log GROUP BY 1").fetchall())
        return StoreSummary(
            path=str(path),
            events=events,
            objects=objects,
            event_types={k: int(v) for k, v in etypes},
            object_types={k: int(v) for k, v in otypes},
            first_event=span[0] if span else None,
            last_event=span[1] if span else None,
            documents_accepted=int(docs.get("accepted", 0)),
            documents_refused=int(docs.get("refused", 0)),
            relations=count("ocel_event_object"),
        )


def _merge_types(known: dict[str, dict[str, str]], declared: pa.Table) -> set[str]:
    """Fold a batch's type declarations into ``known``; return the types that changed."""
    changed: set[str] = set()
    if declared.num_rows == 0:
        return changed
    for name, attrs in zip(
        declared.column("ocel_type").to_pylist(),
        declared.column("attributes").to_pylist(),
        strict=True,
    ):
        current = known.get(name)
        if current is None:
            current = known[name] = {}
            changed.add(name)
        for attr in attrs or []:
            if attr["name"] not in current:
                current[attr["name"]] = attr["type"]
                changed.add(name)
    return changed
