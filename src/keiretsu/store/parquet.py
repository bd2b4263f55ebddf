"""The node's log as partitioned Parquet files that Spark (or any Parquet reader) reads directly.

A node keeps its log in one DuckDB file; a cluster reads files. :func:`export_parquet` writes
the OCEL 2.0 tables of the store under a directory (a local path, ``file://…``, or an object
store or HDFS URI that pyarrow's filesystems open: ``s3://bucket/log``, ``gs://…``,
``hdfs://…``), one sub-directory per table, partitioned by export batch::

    <path>/keiretsu-export.json             the manifest: the watermark and every batch
    <path>/event/batch=42/part-0.parquet     events of the documents up to ingest 42
    <path>/event_object/batch=42/part-0.parquet
    <path>/object/… event_attribute/… object_attribute/… object_object/…
    <path>/event_type/batch=42/part-0.parquet   the declared types: the newest snapshot only
    <path>/object_type/batch=42/part-0.parquet

Every row keeps the ``ingest_id`` of the document that brought it. Each call exports the
documents accepted since the last one — those with an ingest id above the manifest's
*watermark* — as one new ``batch=<last ingest id>`` partition, then rewrites the manifest. The
files of a batch are written first and the manifest last (one small object, replaced
atomically on a local disk and written whole on an object store), so a reader that follows the
manifest sees whole batches only, and a crash mid-export loses nothing and duplicates nothing:
the next call removes the partitions above the watermark (what the interrupted call left) and
exports those documents again. Without a manifest (deleted, or a new directory) everything is
exported again from the start, the old partitions removed first.

A document still being ingested (``pending``) stops the export before it, so a document
accepted later with a lower ingest id is never skipped. The store's rows are append-only per
document (an error declaration adds attribute rows under its own document), which is what
lets each batch hold only new rows. Object traces (``object_step``) are not exported: a new
event changes an object's last step, so they are not append-only; Spark computes them.

One exporter per directory at a time (the node's background export, or ``keiretsu export
parquet``); they take no lock on the directory.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from keiretsu.model.ocel import SCHEMAS, Ocel

__all__ = [
    "APPEND_TABLES",
    "FILE_SCHEMAS",
    "MANIFEST",
    "SNAPSHOT_TABLES",
    "ExportError",
    "ExportReport",
    "Manifest",
    "export_parquet",
    "read_manifest",
    "write_ocel_parquet",
]

MANIFEST = "keiretsu-export.json"
"""The manifest's file name under the export directory, beside the tables' directories (not
with a leading ``_``: Spark skips such files even when asked for one by name, and a cluster
reads the manifest with Spark)."""

FORMAT = "keiretsu-parquet/1"

_INGEST_ID = pa.field("ingest_id", pa.int64())

# store table → model table (its Arrow schema in keiretsu.model.ocel)
_MODEL = {
    "event": "events",
    "event_object": "event_objects",
    "object": "objects",
    "event_attribute": "event_attributes",
    "object_attribute": "object_attributes",
    "object_object": "object_objects",
    "event_type": "event_types",
    "object_type": "object_types",
}

APPEND_TABLES = (
    "event",
    "event_object",
    "object",
    "event_attribute",
    "object_attribute",
    "object_object",
)
"""Tables exported batch by batch: each batch holds the rows its documents brought."""

SNAPSHOT_TABLES = ("event_type", "object_type")
"""Tables exported whole with each batch (a few rows: the declared types and attributes); the
manifest names the newest snapshot, older ones are removed."""


def _file_schema(table: str) -> pa.Schema:
    model = SCHEMAS[_MODEL[table]]
    fields = [f.with_nullable(True) for f in model]
    if table == "event":
        fields.append(pa.field("ocel_seq", pa.int64()))
    if table in APPEND_TABLES:
        fields.append(_INGEST_ID)
    return pa.schema(fields)


FILE_SCHEMAS: dict[str, pa.Schema] = {t: _file_schema(t) for t in APPEND_TABLES + SNAPSHOT_TABLES}
"""The columns of each table's files: the OCEL 2.0 columns of the store (``ocel_id``,
``ocel_type``, ``ocel_time`` as UTC microseconds…), the order events were read in
(``event.ocel_seq``) and the document that brought each row (``ingest_id``)."""


class ExportError(RuntimeError):
    """The export cannot be made: the path cannot be written, or the manifest there is not one
    keiretsu wrote. The message says which path and why."""


@dataclass(frozen=True)
class Batch:
    """One export batch: the documents with ingest ids in ``(first - 1, last]`` order."""

    last_ingest: int
    first_ingest: int
    documents: int
    rows: dict[str, int]
    files: dict[str, list[str]]
    """table → its files, relative to the export directory."""
    exported_at: str


@dataclass(frozen=True)
class Manifest:
    """What an export directory holds: every batch, the watermark (the highest ingest id
    exported), the newest snapshot of the type tables."""

    watermark: int = 0
    batches: list[Batch] = field(default_factory=list)
    snapshots: dict[str, list[str]] = field(default_factory=dict)
    store: str = ""

    def files(self, table: str) -> list[str]:
        """The files of ``table`` (relative to the export directory), oldest batch first."""
        if table in SNAPSHOT_TABLES:
            return list(self.snapshots.get(table, []))
        return [f for b in self.batches for f in b.files.get(table, [])]

    def to_json(self) -> str:
        body = {
            "format": FORMAT,
            "store": self.store,
            "watermark": self.watermark,
            "tables": {t: FILE_SCHEMAS[t].names for t in FILE_SCHEMAS},
            "snapshots": self.snapshots,
            "batches": [asdict(b) for b in self.batches],
        }
        return json.dumps(body, indent=1)

    @classmethod
    def from_json(cls, text: str, where: str) -> Manifest:
        try:
            body = json.loads(text)
            if body.get("format") != FORMAT:
                raise ValueError(f"format {body.get('format')!r}, expected {FORMAT!r}")
            batches = [Batch(**b) for b in body["batches"]]
            return cls(
                watermark=int(body["watermark"]),
                batches=batches,
                snapshots={k: list(v) for k, v in body.get("snapshots", {}).items()},
                store=str(body.get("store", "")),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ExportError(
                f"{where}: not a keiretsu Parquet export manifest ({exc}). Export to an empty "
                "directory, or delete this file to export everything again."
            ) from exc


@dataclass(frozen=True)
class ExportReport:
    """What one :func:`export_parquet` call did."""

    path: str
    """The export directory, as given."""
    watermark_before: int
    watermark: int
    """The highest ingest id exported, before and after this call."""
    documents: int
    """Documents exported by this call (0: nothing new)."""
    rows: dict[str, int]
    """Rows written per table by this call."""
    files: list[str]
    """Files written (relative to the export directory)."""
    removed: list[str]
    """Partitions removed before writing: what an interrupted export left, or every old
    partition when the manifest was missing."""
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- the directory ----------------------------------------------------------------------------


def _filesystem(path: str | Path) -> tuple[pafs.FileSystem, str]:
    """pyarrow's filesystem for ``path`` and the path inside it: a URI with a scheme
    (``file://``, ``s3://``, ``gs://``, ``hdfs://``…) through pyarrow, anything else a local
    path (made absolute)."""
    text = str(path)
    if "://" in text:
        try:
            fs, inner = pafs.FileSystem.from_uri(text)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
            raise ExportError(f"{text}: pyarrow cannot open this location ({exc})") from exc
        return fs, inner.rstrip("/")
    return pafs.LocalFileSystem(), str(Path(text).expanduser().resolve())


def read_manifest(path: str | Path) -> Manifest | None:
    """The manifest of the export at ``path`` (a directory or URI), ``None`` when there is
    none yet."""
    fs, root = _filesystem(path)
    return _read_manifest(fs, root, str(path))


def _read_manifest(fs: pafs.FileSystem, root: str, shown: str) -> Manifest | None:
    where = f"{root}/{MANIFEST}"
    info = fs.get_file_info(where)
    if info.type == pafs.FileType.NotFound:
        return None
    with fs.open_input_stream(where) as f:
        text = f.read().decode("utf-8")
    return Manifest.from_json(text, f"{shown.rstrip('/')}/{MANIFEST}")


def _write_manifest(fs: pafs.FileSystem, root: str, manifest: Manifest) -> None:
    data = manifest.to_json().encode("utf-8")
    target = f"{root}/{MANIFEST}"
    if isinstance(fs, pafs.LocalFileSystem):
        # written beside, flushed to disk, then renamed over: a reader or a crash sees the old
        # manifest or the new one, never half of one
        import os

        part = Path(f"{target}.part")
        with part.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(part, target)
        return
    with fs.open_output_stream(target) as out:  # an object store writes an object whole
        out.write(data)


def _partitions(fs: pafs.FileSystem, root: str, table: str) -> list[tuple[int, str]]:
    """(batch, directory) of every ``batch=N`` partition of ``table`` under ``root``."""
    found = fs.get_file_info(pafs.FileSelector(f"{root}/{table}", allow_not_found=True))
    out = []
    for info in found:
        name = info.base_name
        if info.type == pafs.FileType.Directory and name.startswith("batch="):
            try:
                out.append((int(name.removeprefix("batch=")), info.path))
            except ValueError:
                continue
    return out


def _clean(fs: pafs.FileSystem, root: str, manifest: Manifest) -> list[str]:
    """Remove what no manifest names: partitions above the watermark (an interrupted export)
    and snapshots older than the manifest's."""
    removed = []
    keep_snapshot = {
        t: {f.split("/")[1] for f in files if "/" in f} for t, files in manifest.snapshots.items()
    }
    for table in APPEND_TABLES + SNAPSHOT_TABLES:
        for batch, directory in _partitions(fs, root, table):
            stale = (
                f"batch={batch}" not in keep_snapshot.get(table, set())
                if table in SNAPSHOT_TABLES
                else batch > manifest.watermark
            )
            if stale:
                fs.delete_dir(directory)
                removed.append(f"{table}/batch={batch}")
    return removed


# --- the export ------------------------------------------------------------------------------


def _cursor(source: Any) -> tuple[duckdb.DuckDBPyConnection, Any, str]:
    """A cursor of its own on the store (so the export's transaction does not touch the
    caller's), something to close afterwards, and the store's name."""
    from keiretsu.store.node_store import Store

    if isinstance(source, Store):
        return source.con.cursor(), None, str(source.path)
    if isinstance(source, duckdb.DuckDBPyConnection):
        return source.cursor(), None, ""
    if isinstance(source, str | Path):
        store = Store(source, read_only=True)
        return store.con.cursor(), store, str(source)
    raise TypeError(
        f"export_parquet: a Store, a DuckDB connection or a store's path, not "
        f"{type(source).__name__}"
    )


def export_parquet(
    source: Any,
    path: str | Path,
    *,
    rows_per_file: int = 4_000_000,
    compression: str = "zstd",
) -> ExportReport:
    """Export the documents accepted since the last export of ``source`` (a
    :class:`~keiretsu.store.Store`, a DuckDB connection to a store, or a store's path) to
    ``path`` (a directory or URI), as one new partition per table; see the module docstring
    for the layout and the guarantees. ``rows_per_file``: a table's rows are split into files
    of at most this many rows (Spark reads files in parallel); ``compression``: Parquet's
    codec (``zstd``, ``snappy``…). Returns what was written; nothing when nothing is new."""
    started = time.perf_counter()
    fs, root = _filesystem(path)
    try:
        fs.create_dir(root, recursive=True)
        found = _read_manifest(fs, root, str(path))
        manifest = found or Manifest()
        removed = _clean(fs, root, manifest)
    except OSError as exc:
        raise ExportError(f"{path}: cannot write the export here ({exc})") from exc
    cur, owned, store_name = _cursor(source)
    try:
        # one snapshot of the store for every table (a document accepted meanwhile waits for
        # the next export)
        cur.execute("BEGIN TRANSACTION").fetchall()
        first, last, documents = _next_documents(cur, manifest.watermark)
        if documents == 0:
            cur.execute("COMMIT").fetchall()
            if found is None:  # an empty export is an export: readers see an empty log
                _write_manifest(fs, root, Manifest(store=store_name))
            return ExportReport(
                path=str(path),
                watermark_before=manifest.watermark,
                watermark=manifest.watermark,
                documents=0,
                rows={},
                files=[],
                removed=removed,
                seconds=time.perf_counter() - started,
            )
        rows: dict[str, int] = {}
        files: dict[str, list[str]] = {}
        written: list[str] = []
        try:
            for table in APPEND_TABLES + SNAPSHOT_TABLES:
                reader = _rows(cur, table, manifest.watermark, last)
                n, table_files = _write(
                    fs,
                    root,
                    table,
                    last,
                    reader,
                    rows_per_file,
                    compression,
                    always=table in SNAPSHOT_TABLES,
                )
                rows[table] = n
                files[table] = table_files
                written += table_files
        finally:
            cur.execute("COMMIT").fetchall()
    except OSError as exc:
        raise ExportError(f"{path}: cannot write the export here ({exc})") from exc
    finally:
        cur.close()
        if owned is not None:
            owned.close()
    batch = Batch(
        last_ingest=last,
        first_ingest=first,
        documents=documents,
        rows={t: rows[t] for t in APPEND_TABLES},
        files={t: files[t] for t in APPEND_TABLES if files[t]},
        exported_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    previous_snapshots = manifest.snapshots
    new = Manifest(
        watermark=last,
        batches=[*manifest.batches, batch],
        snapshots={t: files[t] for t in SNAPSHOT_TABLES},
        store=store_name or manifest.store,
    )
    try:
        _write_manifest(fs, root, new)  # the commit point
        # older snapshots are no longer named: remove them (a crash here leaves them to the
        # next export's clean-up)
        for table, old in previous_snapshots.items():
            for f in old:
                if f not in new.snapshots.get(table, []):
                    fs.delete_dir(f"{root}/{f.rsplit('/', 1)[0]}")
    except OSError as exc:
        raise ExportError(f"{path}: cannot write the manifest ({exc})") from exc
    return ExportReport(
        path=str(path),
        watermark_before=manifest.watermark,
        watermark=last,
        documents=documents,
        rows=rows,
        files=written,
        removed=removed,
        seconds=time.perf_counter() - started,
    )


def _next_documents(cur: duckdb.DuckDBPyConnection, watermark: int) -> tuple[int, int, int]:
    """(first, last, count) of the accepted documents above ``watermark`` and below the first
    document still pending (it may be accepted later: exporting past it would skip it)."""
    found = cur.execute(
        """
        WITH stop AS (
            SELECT min(ingest_id) AS id FROM ingest_log
            WHERE status = 'pending' AND ingest_id > $w
        )
        SELECT min(ingest_id), max(ingest_id), count(*) FROM ingest_log
        WHERE status = 'accepted' AND ingest_id > $w
          AND ingest_id < coalesce((SELECT id FROM stop), 9223372036854775807)
        """,
        {"w": watermark},
    ).fetchall()[0]
    if not found[2]:
        return 0, watermark, 0
    return int(found[0]), int(found[1]), int(found[2])


def _rows(
    cur: duckdb.DuckDBPyConnection, table: str, watermark: int, last: int
) -> pa.RecordBatchReader:
    """The rows of ``table`` the documents in ``(watermark, last]`` brought (a type table:
    whole), as a stream of record batches in the file schema."""
    schema = FILE_SCHEMAS[table]
    columns = ", ".join(schema.names)
    if table in SNAPSHOT_TABLES:
        sql, params = f"SELECT {columns} FROM {table} ORDER BY ocel_type", {}
    else:
        sql = (
            f"SELECT {columns} FROM {table} WHERE ingest_id IN ("
            "SELECT ingest_id FROM ingest_log WHERE status = 'accepted' "
            "AND ingest_id > $w AND ingest_id <= $last)"
        )
        params = {"w": watermark, "last": last}
    rel = cur.sql(sql, params=params or None)
    fetch = getattr(rel, "to_arrow_reader", None) or rel.fetch_arrow_reader
    reader: pa.RecordBatchReader = fetch(256_000)
    return reader


def _batches(reader: pa.RecordBatchReader, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    for b in reader:
        if b.num_rows:
            yield pa.Table.from_batches([b]).cast(schema).to_batches()[0]


def _write(
    fs: pafs.FileSystem,
    root: str,
    table: str,
    batch: int,
    reader: pa.RecordBatchReader,
    rows_per_file: int,
    compression: str,
    *,
    always: bool,
) -> tuple[int, list[str]]:
    """Write a table's rows into ``<table>/batch=<batch>/part-<i>.parquet`` files of at most
    ``rows_per_file`` rows; no file for no rows unless ``always``. Returns (rows, files)."""
    schema = FILE_SCHEMAS[table]
    directory = f"{table}/batch={batch}"
    files: list[str] = []
    writer: pq.ParquetWriter | None = None
    in_file = total = 0

    def open_next() -> pq.ParquetWriter:
        name = f"{directory}/part-{len(files)}.parquet"
        files.append(name)
        fs.create_dir(f"{root}/{directory}", recursive=True)
        return pq.ParquetWriter(f"{root}/{name}", schema, filesystem=fs, compression=compression)

    try:
        for rb in _batches(reader, schema):
            offset = 0
            while offset < rb.num_rows:
                if writer is None or in_file >= rows_per_file:
                    if writer is not None:
                        writer.close()
                    writer, in_file = open_next(), 0
                take = min(rb.num_rows - offset, rows_per_file - in_file)
                writer.write_batch(rb.slice(offset, take))
                offset += take
                in_file += take
                total += take
        if writer is None and always:
            writer = open_next()
            writer.write_table(schema.empty_table())
    finally:
        if writer is not None:
            writer.close()
    return total, files


def write_ocel_parquet(ocel: Ocel, path: str | Path, *, compression: str = "zstd") -> Manifest:
    """Write a log held in memory (an :class:`~keiretsu.model.Ocel`) to ``path`` in the same
    layout as :func:`export_parquet`, as one batch (``batch=0``, ``ingest_id`` 0; events
    numbered in their order as ``ocel_seq``), replacing what an earlier call wrote there. For
    handing a log in memory to Spark (:meth:`keiretsu.analytics.Log.on_spark`); a node's store
    is exported with :func:`export_parquet`."""
    fs, root = _filesystem(path)
    try:
        fs.create_dir(root, recursive=True)
        files: dict[str, list[str]] = {}
        rows: dict[str, int] = {}
        for table in APPEND_TABLES + SNAPSHOT_TABLES:
            data: pa.Table = getattr(ocel, _MODEL[table])
            if table == "event":
                seq = pa.array(range(data.num_rows), pa.int64())
                data = data.append_column("ocel_seq", seq)
            if table in APPEND_TABLES:
                data = data.append_column("ingest_id", pa.array([0] * data.num_rows, pa.int64()))
            schema = FILE_SCHEMAS[table]
            data = data.select(schema.names).cast(schema)
            directory = f"{root}/{table}/batch=0"
            fs.delete_dir_contents(directory, missing_dir_ok=True)
            rows[table] = data.num_rows
            if data.num_rows == 0 and table in APPEND_TABLES:
                files[table] = []
                continue
            fs.create_dir(directory, recursive=True)
            pq.write_table(
                data, f"{directory}/part-0.parquet", filesystem=fs, compression=compression
            )
            files[table] = [f"{table}/batch=0/part-0.parquet"]
    except OSError as exc:
        raise ExportError(f"{path}: cannot write the log here ({exc})") from exc
    manifest = Manifest(
        watermark=0,
        batches=[
            Batch(
                last_ingest=0,
                first_ingest=0,
                documents=1,
                rows={t: rows[t] for t in APPEND_TABLES},
                files={t: files[t] for t in APPEND_TABLES if files[t]},
                exported_at=datetime.now(UTC).isoformat(timespec="seconds"),
            )
        ],
        snapshots={t: files[t] for t in SNAPSHOT_TABLES},
        store="(a log in memory)",
    )
    _write_manifest(fs, root, manifest)
    return manifest
