"""The node's durable store: one DuckDB file, atomic and idempotent ingest, an ingest log.

A document is stored whole or not at all: every batch a reader yields goes into one DuckDB
transaction, which commits only after the last batch; a refusal (or a crash, or SIGKILL) rolls it
back and leaves what was stored before untouched. Ingest is idempotent by event id: an event whose
id the store already holds is counted as *known* and not stored again — except that an EPCIS error
declaration arriving later for the same event id marks the stored event as corrected.

:class:`Store` is the one class; its parts live in modules of their own (ingest, traces, outbox,
migrate, summary), and the names that used to be defined here are still importable from here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from keiretsu.model import SCHEMAS, Ocel
from keiretsu.store.arrow import arrow_table, rows
from keiretsu.store.ingest import CORRECTION_PREFIX, IngestMixin, IngestReport, ReadDocument
from keiretsu.store.ingest_log import ingest_log as read_ingest_log
from keiretsu.store.migrate import migrate
from keiretsu.store.outbox import OutboxMixin
from keiretsu.store.schema import (
    DDL,
    SCHEMA_VERSION,
    STORE_TABLES,
    VISIBLE_PREFIX,
    index_ddl,
    view_ddl,
)
from keiretsu.store.summary import StoreSummary, summary_of

__all__ = [
    "CORRECTION_PREFIX",
    "IngestReport",
    "ReadDocument",
    "Store",
    "StoreError",
    "StoreSummary",
]


class StoreError(RuntimeError):
    """The store cannot be opened or written (locked by another process, not a keiretsu store…)."""


INGEST_MEMORY_LIMIT = "512MB"
"""DuckDB's memory while a document is ingested. The store's ART indexes (schema 8) and the
traces' windows (schema 9) need it: at 256 MB a 200,000-event document ran out in the trace
update, and a 1,000,000-event one in a commit. At 512 MB, with commits of
:attr:`~keiretsu.store.ingest.IngestMixin.COMMIT_ROWS` rows each checkpointed, the writer of a
1,000,000-event EPCIS document peaked at 864 MiB (its reader process at 421 MiB). The store's
ART indexes get room beside it, growing with the store
(:meth:`~keiretsu.store.ingest.IngestMixin.ingest_limit_mib`)."""


class Store(IngestMixin, OutboxMixin):
    """A node's store: one DuckDB file holding the twin's OCEL 2.0 log and its ingest log.

    Open it with a path (created if absent). Only one process may write a store at a time;
    a second writer gets a :class:`StoreError` saying so.

    What it does lives beside it, one concept a module: accepting documents
    (:mod:`keiretsu.store.ingest`: :meth:`ingest`, :meth:`ingest_group`, :meth:`ingest_file`),
    keeping traces (:mod:`keiretsu.store.traces`: :meth:`update_steps`), the outbox
    (:mod:`keiretsu.store.outbox`), upgrading an older file (:mod:`keiretsu.store.migrate`) and
    the summary (:mod:`keiretsu.store.summary`).
    """

    def _indexes_and_views(self) -> None:
        """The indexes and views of this schema, and its version noted where none is yet:
        made once in a new store's creating transaction, or after an older store's migration."""
        for statement in [*index_ddl(), *view_ddl()]:
            self.con.execute(statement)
        self.con.execute(
            "INSERT INTO keiretsu_meta VALUES ('schema_version', ?) ON CONFLICT DO NOTHING",
            [str(SCHEMA_VERSION)],
        )

    def __init__(
        self,
        path: str | Path,
        *,
        read_only: bool = False,
        memory_limit: str | None = None,
        threads: int | None = None,
        ingest_memory_limit: str | None = INGEST_MEMORY_LIMIT,
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
        created = bool(
            rows(
                self.con,
                "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                "AND schema_name = 'main' AND table_name = 'keiretsu_meta'",
            )[0][0]
        )
        if read_only and not created:
            self.con.close()
            raise StoreError(
                f"{self.path}: no store here yet (its creation did not complete): open it for "
                "writing (`keiretsu ingest`, a node) to create it"
            )
        if not read_only:
            # a new store is made whole or not at all: a process killed while creating it
            # leaves a file a reader sees as no store yet, never tables without their views
            self.con.execute("BEGIN TRANSACTION")
            for statement in DDL:
                self.con.execute(statement)
            if not created:
                self._indexes_and_views()
            self.con.execute("COMMIT")
            migrate(self.con, rebuild_traces=lambda: self.update_steps(None))
            if created:  # a store written before: its indexes (schema 8) and views brought up
                self._indexes_and_views()
            self._recover()

    # --- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Close the file (checkpointing what was committed)."""
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
        return read_ingest_log(self.con)

    def summary(self) -> StoreSummary:
        """Objects, events, their types and the time span the twin covers."""
        return summary_of(self.con, self.path)

    summary_of = staticmethod(summary_of)
    """``Store.summary_of(con, path)``: the summary read through another cursor on the store
    (:func:`keiretsu.store.summary.summary_of`)."""
