"""Accepting a document into the store: whole or not at all, each event once.

A document — a capture, a partner's push, a file — is stored whole or not at all. Its events
are written in batches (so memory stays bounded however large it is), each row tagged with the
document's ``ingest_id``, and stay invisible (the ``ocel_*`` views show accepted documents
only) while the document's line in the ingest log says ``pending``. The last transaction
updates the traces (:mod:`keiretsu.store.traces`), owes the document to partners (the
outbox) and flips the line to ``accepted``; a refusal deletes the rows again and logs why; a
crash leaves ``pending``, cleaned up the next time the store is opened for writing.

Ingest is idempotent by event id: an event whose id the store already holds is counted as
*known* and not stored again — except that an EPCIS error declaration arriving later for the
same event id marks the stored event as corrected (:data:`CORRECTION_PREFIX`). An object is
typed by the first document that names it; its attribute values and links are added as they
come, each once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from keiretsu.model import DocumentError, Ocel, Problem
from keiretsu.store.arrow import arrow_table, rows
from keiretsu.store.keyed import KEY_CHUNK, estimated_rows
from keiretsu.store.masterdata import write_master_data
from keiretsu.store.received import check_own_ids
from keiretsu.store.schema import DATA_TABLES, INDEXES
from keiretsu.store.traces import LINK_ROWS, PASS_ROWS, update_steps

__all__ = [
    "CORRECTION_PREFIX",
    "IngestMixin",
    "IngestReport",
    "ReadDocument",
    "events_of_ingest",
]

STAGE_CLOCK: Callable[[], float] = time.perf_counter
"""The clock :attr:`IngestReport.stages` are timed with (a bench on a loaded machine may set
:func:`time.process_time` here, for this process's CPU seconds instead of wall seconds)."""

CORRECTION_PREFIX = "errorDeclaration"
"""Event attributes whose names start with this mark an EPCIS error declaration (a correction)."""


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
    stages: dict[str, float] = field(default_factory=dict, repr=False)
    """Where the ingest's wall-clock seconds went, per stage: ``read`` (waiting for the next
    batch: parse, validate, map and build when read in this process, the wait for the reader
    process otherwise), ``write`` (the batches' rows into DuckDB, with ``write:<table>`` for
    each table's share), ``commit``, ``traces`` (:func:`~keiretsu.store.traces.update_steps`)
    and ``finish`` (types, outbox, the log line). Not part of :meth:`to_dict`."""

    def stage(self, name: str, seconds: float) -> None:
        """Add ``seconds`` to stage ``name``."""
        self.stages[name] = self.stages.get(name, 0.0) + seconds

    @contextmanager
    def timing(self, name: str) -> Iterator[None]:
        """Time the block into stage ``name``."""
        t0 = STAGE_CLOCK()
        try:
            yield
        finally:
            self.stage(name, STAGE_CLOCK() - t0)

    @property
    def events_per_second(self) -> float:
        """Ingest rate over the whole document (events read / wall-clock seconds)."""
        return self.events_read / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form (without the stage timings)."""
        out = asdict(self)
        del out["stages"]
        return out


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
    first_rows = pc.take(firsts.column("__row_min"), keep)
    return table.take(first_rows)


OBJECT_TYPES = "k_ingest_object_types"
"""The temporary table an ingest keeps of its objects and their stored types (one row per
object and batch), from which the trace update takes each step's object type."""

INDEX_BYTES = 32 * 2**20
"""Memory allowed for the store's ART indexes during an ingest whatever the store's size:
each index keeps buffers of 256 KiB per kind of node (resident after a capture into a store
of 20,000 events: 22 MB for 730,000 indexed rows)."""

INDEX_BYTES_PER_ROW = 20
"""And per indexed row (each of :data:`~keiretsu.store.schema.INDEXES` counts its table's
rows): resident after captures into stores of the synthetic chain, 20 bytes a row at 50,000
events, 13 at 1,000,000 (36M indexed rows, 473 MB)."""


def _bytes(size: str) -> int:
    """``"512MB"``, ``"1.5GiB"``, ``"800 KB"``… in bytes (DuckDB's units: KB = 1000 bytes,
    KiB = 1024)."""
    units = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
    units |= {"KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}
    text = size.strip().upper()
    number = text.rstrip("KMGTIB ")
    unit = text[len(number) :].strip()
    if unit not in units or not number:
        raise ValueError(f"not a memory size: {size!r} (say 512MB, 1GiB…)")
    return int(float(number) * units[unit])


class IngestMixin:
    """The ingest part of :class:`~keiretsu.store.Store` (its methods are the store's)."""

    con: duckdb.DuckDBPyConnection
    ingest_memory_limit: str | None
    _store_threads: int = 1

    COMMIT_ROWS = 500_000
    """Rows (over all tables) written per transaction during a large ingest: each commit's
    new index entries are held in memory until the checkpoint after it (at 1,000,000 a
    1M-event document's commit needed more than the ingest's memory)."""

    STEP_ROWS = PASS_ROWS
    """New trace rows (object, event) recomputed per pass when a document is accepted."""

    LINK_ROWS = LINK_ROWS
    """Up to this many new trace rows, the steps are linked in NumPy, above it in DuckDB
    (:data:`keiretsu.store.traces.LINK_ROWS`)."""

    WIDE_WINDOWS = True
    """A whole document's trace windows (a large document's, linked in DuckDB) run on all of
    DuckDB's threads: its reader has finished and left the second core idle."""

    PROBE_ROW_RATIO = 500
    """A table at least this many times larger than a batch's ids is probed by its ART index
    (:meth:`_stored`): an index probe costs about as much as scanning 500 rows."""

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
            stream = iter(batches)
            while True:
                t_read = STAGE_CLOCK()
                batch = next(stream, None)
                report.stage("read", STAGE_CLOCK() - t_read)
                if batch is None:
                    break
                if not in_transaction:
                    con.execute("BEGIN TRANSACTION")
                    in_transaction = True
                try:
                    if source == "local":
                        check_own_ids(batch, document)
                    with report.timing("write"):
                        self._ingest_batch(batch, ingest_id, report)
                    pending_rows += sum(t.num_rows for t in batch.tables().values())
                    if pending_rows >= self.COMMIT_ROWS:
                        with report.timing("commit"):
                            con.execute("COMMIT")
                            self._checkpoint()
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
            if in_transaction and pending_rows >= self.COMMIT_ROWS // 8:
                # a large document's last rows, still uncommitted, are held in memory beside
                # the trace update's tables: commit them first (the document stays 'pending'
                # until the transaction below)
                with report.timing("commit"):
                    con.execute("COMMIT")
                    self._checkpoint()
                in_transaction = False
            if not in_transaction:
                con.execute("BEGIN TRANSACTION")
                in_transaction = True
            try:
                t_finish = STAGE_CLOCK()
                self._save_types("event_type", event_types, changed_event_types)
                self._save_types("object_type", object_types, changed_object_types)
                # the traces' update runs within the ingest's memory bounds: passes of STEP_ROWS
                # rows on one thread, but for their windows (the document is read: they take
                # the reader's idle core; more of the passes on two threads took a 1M-event
                # document's writer past 1 GiB)
                if report.events_new:
                    with report.timing("traces"):
                        self.update_steps(ingest_id, wide=True)
                # a document that only corrects earlier events is owed to partners too
                if outbox and (report.events_new or report.events_corrected):
                    con.executemany(
                        "INSERT INTO outbox (ingest_id, partner, created_at) VALUES (?, ?, ?)",
                        [[ingest_id, partner, started] for partner in sorted(set(outbox))],
                    )
                self._finish(report, "accepted")
                report.stage(
                    "finish",
                    STAGE_CLOCK() - t_finish - report.stages.get("traces", 0.0),
                )
                with report.timing("commit"):
                    con.execute("COMMIT")
                in_transaction = False
                report.seconds = time.perf_counter() - t0
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

    def _checkpoint(self) -> None:
        """Write what a large document's commits appended into the file, its index entries
        included: until then DuckDB holds the indexes' new nodes in memory it cannot evict
        (120 MB for 200,000 events, and the trace update then ran out of 256 MB).
        Skipped while another connection's transaction stops it (memory is then higher, the
        ingest still correct)."""
        with contextlib.suppress(duckdb.Error):
            self.con.execute("CHECKPOINT")

    def _ingest_settings(self) -> Callable[[], None]:
        """Set DuckDB up for ingest; returns what puts the settings back (for analysis)."""
        con = self.con
        # Ingest only appends: DuckDB's cache of the file's blocks need not grow with it, so a
        # large document is written in bounded memory.
        saved_limit = None
        if self.ingest_memory_limit:
            saved_limit = rows(con, "SELECT current_setting('memory_limit')")[0][0]
            con.execute(f"SET memory_limit = '{self.ingest_limit_mib()}MiB'")
        # Appending small batches gains nothing from DuckDB's second thread, and the reader
        # process (or the parser in this one) needs that core: one thread while ingesting.
        saved_threads = rows(con, "SELECT current_setting('threads')")[0][0]
        self._store_threads = int(saved_threads)
        con.execute("SET threads = 1")
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {OBJECT_TYPES} (ocel_id VARCHAR, ocel_type VARCHAR)"
        )

        def restore() -> None:
            con.execute(f"DROP TABLE IF EXISTS {OBJECT_TYPES}")
            if saved_limit is not None:
                con.execute(f"SET memory_limit = '{saved_limit}'")
            con.execute(f"SET threads = {int(saved_threads)}")

        return restore

    def ingest_limit_mib(self) -> int:
        """DuckDB's memory limit while a document is ingested (MiB): the ingest's own working
        memory (:attr:`ingest_memory_limit`) plus room for the store's ART indexes.

        The indexes are held in memory once an ingest has inserted into them, and DuckDB
        cannot evict what a transaction changed: a capture of 1,000 events into a store of
        1,000,000 (36M indexed rows) loaded ~470 MB of them, and with the working limit
        alone a node refused its third capture with "Out of Memory". The room given is
        :data:`INDEX_BYTES` and :data:`INDEX_BYTES_PER_ROW` per row of the indexed tables, so
        the limit grows with the store; what it bounds — the ingest's sorts, windows and
        buffers — does not."""
        working = _bytes(self.ingest_memory_limit or "0B")
        per_table = estimated_rows(self.con, {table for table, _ in INDEXES})
        indexed = sum(per_table.get(table, 0) for table, _ in INDEXES)
        return -(-(working + INDEX_BYTES + INDEX_BYTES_PER_ROW * indexed) // 2**20)

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
                        with report.timing("write"):
                            self._ingest_batch(batch, ingest_id, report)
                        changed_e |= _merge_types(event_types, batch.event_types)
                        changed_o |= _merge_types(object_types, batch.object_types)
                    reports.append(report)
                self._save_types("event_type", event_types, changed_e)
                self._save_types("object_type", object_types, changed_o)
                fresh = [r.ingest_id for r in reports if r.events_new and r.ingest_id is not None]
                t_traces = STAGE_CLOCK()
                if fresh:
                    self.update_steps(fresh)
                t_traces = STAGE_CLOCK() - t_traces
                seconds = time.perf_counter() - t0
                for doc, report in zip(documents, reports, strict=True):
                    report.seconds = seconds
                    if doc.outbox and (report.events_new or report.events_corrected):
                        con.executemany(
                            "INSERT INTO outbox (ingest_id, partner, created_at) VALUES (?, ?, ?)",
                            [[report.ingest_id, p, started] for p in sorted(set(doc.outbox))],
                        )
                    report.stage("traces", t_traces / len(reports))  # shared: each its part
                    self._finish(report, "accepted")
                t_commit = STAGE_CLOCK()
                con.execute("COMMIT")
                for report in reports:
                    report.stage("commit", (STAGE_CLOCK() - t_commit) / len(reports))
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
        ingest_id = int(rows(con, "SELECT nextval('ingest_seq')")[0][0])
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
        for row in rows(
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

    def _ingest_batch(self, batch: Ocel, ingest_id: int, report: IngestReport) -> None:
        con = self.con
        write_master_data(con, batch, ingest_id)  # the EPCIS header's master data, if any
        events = batch.events
        t_event = STAGE_CLOCK()
        first = (ingest_id << 32) + report.events_read
        report.events_read += events.num_rows
        if events.num_rows:
            events = events.append_column(
                "ocel_seq", pa.array(np.arange(first, first + events.num_rows, dtype=np.int64))
            )
            events = _first_per_id(events, "ocel_id")
            # the same id twice in one batch: its attributes and relations must not double up
            dedupe = events.num_rows < batch.events.num_rows
            known = self._stored("event", events.column("ocel_id"), "ocel_id")
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
            # Provably new: no id of the batch is stored and none repeats in it, so every
            # attribute, relation and source row of the batch belongs to a new event and goes
            # in as it is — no filtering of those (the larger) tables by id.
            new_ids: pa.Array | None = (
                None if not dedupe and not known.num_rows else new_events.column("ocel_id")
            )
            report.stage("write:event", STAGE_CLOCK() - t_event)
            self._insert_filtered(
                report,
                "event_attribute",
                batch.event_attributes,
                "ocel_id",
                new_ids,
                ingest_id,
                "DISTINCT ON (ocel_id, ocel_name)" if dedupe else "",
            )
            self._insert_filtered(
                report,
                "event_object",
                batch.event_objects,
                "ocel_event_id",
                new_ids,
                ingest_id,
                "DISTINCT" if dedupe else "",
            )
            self._insert_filtered(
                report,
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
        t_object = STAGE_CLOCK()
        objects = _first_per_id(batch.objects, "ocel_id")
        new_objects = pa.array([], pa.string())
        if objects.num_rows:
            known_objects = self._stored("object", objects.column("ocel_id"), "ocel_id, ocel_type")
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
            # the batch's objects with the type the store holds for each (the first one
            # stored), for the trace update: it need not look them up in ``object`` again
            for typed in (known_objects, fresh):
                if typed.num_rows:
                    con.register("k_obj", typed)
                    con.execute(f"INSERT INTO {OBJECT_TYPES} SELECT ocel_id, ocel_type FROM k_obj")
                    con.unregister("k_obj")
        report.stage("write:object", STAGE_CLOCK() - t_object)
        # Attribute values and links of objects first seen in this batch are new by definition;
        # only those of objects already stored need the (costlier) check against stored rows.
        self._insert_object_rows(
            report,
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
            report,
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
        report: IngestReport,
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
        with report.timing(f"write:{table}"):
            self._insert_object_rows_timed(
                table, rows, id_column, new_objects, ingest_id, checked_insert
            )

    def _insert_object_rows_timed(
        self,
        table: str,
        rows: pa.Table,
        id_column: str,
        new_objects: pa.Array,
        ingest_id: int,
        checked_insert: str,
    ) -> None:
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
        report: IngestReport,
        table: str,
        rows: pa.Table,
        id_column: str,
        ids: pa.Array | None,
        ingest_id: int,
        distinct: str = "",
    ) -> None:
        """Insert the rows of ``rows`` whose ``id_column`` is among ``ids`` (the new events;
        ``None``: every event of the batch is new, all rows go in)."""
        if rows.num_rows == 0 or (ids is not None and len(ids) == 0):
            return
        with report.timing(f"write:{table}"):
            self._insert_filtered_timed(table, rows, id_column, ids, ingest_id, distinct)

    def _insert_filtered_timed(
        self,
        table: str,
        rows: pa.Table,
        id_column: str,
        ids: pa.Array | None,
        ingest_id: int,
        distinct: str,
    ) -> None:
        if ids is not None:
            rows = rows.filter(pc.is_in(rows.column(id_column), value_set=ids))
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

    def update_steps(self, ingest_id: int | Sequence[int] | None, *, wide: bool = False) -> None:
        """Bring the traces up to date with the events of ingest ``ingest_id`` (or several),
        inside the caller's transaction; ``None`` rebuilds them from the whole log
        (:func:`keiretsu.store.traces.update_steps`, in passes of :attr:`STEP_ROWS`).
        An ingest's update (called within :meth:`_ingest_settings`, which makes the table)
        takes the objects' types from what its batches looked up. ``wide``: no reader is
        waiting for the second core, so a large document's windows run on all of DuckDB's
        threads (:attr:`WIDE_WINDOWS`)."""
        update_steps(
            self.con,
            ingest_id,
            pass_rows=self.STEP_ROWS,
            link_rows=self.LINK_ROWS,
            window_threads=self._store_threads if wide and self.WIDE_WINDOWS else None,
            object_types=None if ingest_id is None else OBJECT_TYPES,
        )

    def _stored(self, table: str, ids: pa.Array | pa.ChunkedArray, columns: str) -> pa.Table:
        """The rows of ``table`` (``columns`` of them) whose ``ocel_id`` is among ``ids``.

        A store many times larger than the batch is probed through the id's ART index, a
        few thousand ids at a time (about 20 µs an id), instead of scanning the whole column
        (about 40 ns a row, whatever the batch): with five million objects stored, a
        capture's 5,000 objects are found in ~0.1 s instead of ~0.2 s, its 1,000 events in
        ~20 ms instead of a scan that grows with the store (``docs/benchmarks.md``)."""
        con = self.con
        n = len(ids)
        if n and n * self.PROBE_ROW_RATIO < estimated_rows(con, {table}).get(table, 0):
            values = ids.to_pylist()
            parts = [
                arrow_table(
                    con,
                    f"SELECT {columns} FROM {table} WHERE ocel_id IN "
                    f"({', '.join('?' for _ in chunk)})",
                    chunk,
                )
                for chunk in (values[i : i + KEY_CHUNK] for i in range(0, n, KEY_CHUNK))
            ]
            return pa.concat_tables(parts)
        con.register("k_ids", pa.table({"ocel_id": ids}))
        try:
            return arrow_table(
                con, f"SELECT {columns} FROM {table} WHERE ocel_id IN (SELECT ocel_id FROM k_ids)"
            )
        finally:
            con.unregister("k_ids")


def events_of_ingest(con: duckdb.DuckDBPyConnection, ingest_id: int | None) -> list[str]:
    """The ids of the events one accepted document brought (its ``ingest_id``) that the
    visible log holds — none for a refused or pending document, or for ``None``."""
    found = rows(con, "SELECT ocel_id FROM ocel_event WHERE ingest_id = ?", [ingest_id])
    return [str(r[0]) for r in found]


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
