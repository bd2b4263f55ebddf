"""The node keeps its Parquet export current: after each accepted document (``node.toml``'s
``parquet_export``).

A node whose ``node.toml`` names a directory or URI in ``parquet_export`` appends the documents
it accepts to that export (:func:`keiretsu.store.parquet.export_parquet`), so a Spark cluster
reading it (``Log.from_parquet``) is at most ``parquet_export_seconds`` behind the node. The
export runs on a thread of its own, on its own cursor (it reads committed documents only and
never holds up a capture); documents accepted while an export runs are taken by the next one,
so under load each batch holds many documents instead of each document a batch of its own.
A failed export is written to the audit log and retried with the next document; what was not
exported stays above the watermark and is exported then.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from keiretsu.store.parquet import ExportReport, export_parquet

if TYPE_CHECKING:
    from keiretsu.node.runtime import Node

__all__ = ["ParquetExporter"]


class ParquetExporter:
    """Appends the node's accepted documents to its Parquet export. Start with
    :meth:`attach` (nothing when ``node.toml`` names no ``parquet_export``)."""

    def __init__(self, node: Node, path: str, every: float) -> None:
        self.node = node
        self.path = path
        self.every = every
        self.last: ExportReport | None = None
        self.error: str | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="parquet-export", daemon=False)

    @classmethod
    def attach(cls, node: Node) -> ParquetExporter | None:
        """The exporter ``node.toml`` asks for, listening to the node's accepted documents and
        started (a first export catches up at once); ``None`` when it asks for none."""
        path = node.config.parquet_export
        if not path:
            return None
        exporter = cls(node, path, node.config.parquet_export_seconds)
        node.on_accepted.append(exporter.accepted)
        exporter._wake.set()
        exporter._thread.start()
        return exporter

    def accepted(self, ingest_id: int, source: str) -> None:
        """The node's ``on_accepted`` listener: an export is due."""
        self._wake.set()

    def close(self, timeout: float = 30.0) -> None:
        """Stop after the export under way, if any."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        cursor = self.node.store.con.cursor()
        try:
            while not self._stop.is_set():
                self._wake.wait()
                if self._stop.is_set():
                    return
                self._wake.clear()
                started = time.monotonic()
                try:
                    self.last = export_parquet(cursor, self.path)
                    self.error = None
                except Exception as exc:  # told in the audit log; the next document retries
                    self.error = f"{type(exc).__name__}: {exc}"
                    self.node.audit.write(
                        "parquet-export", "failed", reason=type(exc).__name__, detail=str(exc)
                    )
                # at most one export every `every` seconds: documents arriving meanwhile wait
                # for the next (one batch for many documents)
                self._stop.wait(max(0.0, self.every - (time.monotonic() - started)))
        finally:
            cursor.close()
