"""A company's twin, for notebooks and scripts: the same things the ``keiretsu`` command does.

>>> from keiretsu import Twin
>>> with Twin("plant.duckdb") as twin:                        # doctest: +SKIP
...     twin.ingest("shipments.jsonld", "receipts.xml")
...     print(twin.summary())
...     twin.export("plant.jsonocel")
...     report = twin.analyze(object_type="pallet")
...     report.views["bottlenecks"].to_polars()
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from keiretsu.model import DocumentError, Ocel

if TYPE_CHECKING:
    from keiretsu.analytics.log import Log
    from keiretsu.analytics.report import Report
from keiretsu.store import IngestReport, Store, StoreSummary
from keiretsu.store.arrow import arrow_table

EXPORT_FORMATS = {
    ".jsonocel": "ocel-json",
    ".json": "ocel-json",
    ".xmlocel": "ocel-xml",
    ".xml": "ocel-xml",
    ".sqlite": "ocel-sqlite",
    ".sqlite3": "ocel-sqlite",
    ".db": "ocel-sqlite",
    ".parquet": "parquet",
}
"""File extension → export format."""

DEFAULT_STORE = Path(".keiretsu") / "twin.duckdb"


class Twin:
    """One company's twin: its store, what went into it, and what can come out.

    ``store`` is the DuckDB file (created if absent). Use it as a context manager, or call
    :meth:`close`.
    """

    def __init__(self, store: str | Path = DEFAULT_STORE, *, read_only: bool = False) -> None:
        self.store = Store(store, read_only=read_only)

    def __enter__(self) -> Twin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the store."""
        self.store.close()

    def ingest(
        self,
        *paths: str | Path,
        format: str | None = None,
        source: str = "local",
        on_error: str = "raise",
        progress: Callable[[int], None] | None = None,
        **options: Any,
    ) -> list[IngestReport]:
        """Ingest files, each whole or not at all; returns one report per file.

        ``format`` forces a format (else sniffed per file). ``on_error="raise"`` stops at the
        first refused file (files before it stay stored); ``"continue"`` records the refusal in
        the report and goes on. ``options`` go to the reader (CSV/Parquet: ``mapping=``).
        """
        if on_error not in ("raise", "continue"):
            raise ValueError("on_error must be 'raise' or 'continue'")
        reports = []
        for path in paths:
            try:
                reports.append(
                    self.store.ingest_file(
                        path, format=format, source=source, progress=progress, **options
                    )
                )
            except DocumentError as exc:
                if on_error == "raise":
                    raise
                reports.append(
                    IngestReport(
                        document=str(path),
                        format=format,
                        status="refused",
                        problem=exc.to_dict(),
                    )
                )
        return reports

    def summary(self) -> StoreSummary:
        """Objects, events, their types and the time span the twin covers."""
        return self.store.summary()

    def ingest_log(self) -> pa.Table:
        """Every document offered to the twin: when, from whom, accepted or refused and why."""
        return self.store.ingest_log()

    def log(self) -> Log:
        """The twin's log as Ibis tables on DuckDB, for the views of
        :mod:`keiretsu.analytics` (``dfg(twin.log(), "order")``…)."""
        from keiretsu.analytics.log import Log

        return Log.from_connection(self.store.con)

    def analyze(self, **options: Any) -> Report:
        """Every view of the twin at once — the morning report of ``keiretsu analyze``
        (options: ``object_type``, ``value_adding``, ``rates``, ``target_days``)."""
        from keiretsu.analytics.report import analyze

        return analyze(self.log(), **options)

    def ocel(self) -> Ocel:
        """Everything the twin holds, as an OCEL 2.0 log of Arrow tables."""
        return self.store.to_ocel()

    def export(self, path: str | Path, *, format: str | None = None) -> Path:
        """Write the twin's log to ``path``: OCEL 2.0 JSON (``.jsonocel``), XML (``.xmlocel``),
        SQLite (``.sqlite``), or Parquet (``.parquet``: one row per event and object it touched,
        with the event's attributes as a map — the flat table analysts load into anything)."""
        path = Path(path)
        fmt = format or EXPORT_FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise ValueError(
                f"{path}: cannot tell the export format from the extension; "
                f"use one of {', '.join(sorted(EXPORT_FORMATS))}"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "parquet":
            pq.write_table(self.flat_events(), path, compression="zstd")
            return path
        from keiretsu.io import ocel as ocel_io

        writers = {
            "ocel-json": ocel_io.write_ocel_json,
            "ocel-xml": ocel_io.write_ocel_xml,
            "ocel-sqlite": ocel_io.write_ocel_sqlite,
        }
        if fmt not in writers:
            raise ValueError(f"unknown export format {fmt!r}")
        writers[fmt](self.ocel(), path)
        return path

    def flat_events(self) -> pa.Table:
        """One row per (event, object) with the event's type, time and attributes (a map of
        name → text), the object's type, the qualifier and any quantity/unit."""
        return arrow_table(
            self.store.con,
            """
            WITH attrs AS (
                SELECT ocel_id, map(list(ocel_name), list(ocel_value)) AS attributes
                FROM ocel_event_attribute GROUP BY ocel_id
            )
            SELECT e.ocel_id AS event_id, e.ocel_type AS activity, e.ocel_time AS time,
                   eo.ocel_object_id AS object_id, o.ocel_type AS object_type,
                   eo.ocel_qualifier AS qualifier, eo.quantity, eo.uom, a.attributes
            FROM ocel_event e
            LEFT JOIN ocel_event_object eo ON eo.ocel_event_id = e.ocel_id
            LEFT JOIN ocel_object o ON o.ocel_id = eo.ocel_object_id
            LEFT JOIN attrs a ON a.ocel_id = e.ocel_id
            ORDER BY e.ocel_time, e.ocel_id, eo.ocel_object_id
            """,
        )
