"""What every view returns: an Arrow table, with notes saying how it was computed."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pyarrow as pa


@dataclass(frozen=True)
class View:
    """The result of one view of the twin: ``table`` (Arrow) plus ``notes`` that tell the
    reader how it was computed (e.g. "processing time from start/complete events") and what
    the data could not show.

    ``to_polars()``, ``to_pandas()`` and ``to_pylist()`` convert the table; ``to_json()``
    gives what ``keiretsu analyze --json`` prints."""

    name: str
    table: pa.Table
    notes: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def num_rows(self) -> int:
        return int(self.table.num_rows)

    def to_polars(self) -> Any:
        """The table as a polars DataFrame (needs polars installed)."""
        import polars as pl

        return pl.from_arrow(self.table)

    def to_pandas(self) -> Any:
        """The table as a pandas DataFrame (needs pandas installed)."""
        return self.table.to_pandas()

    def to_pylist(self) -> list[dict[str, Any]]:
        """The rows as dictionaries."""
        rows: list[dict[str, Any]] = self.table.to_pylist()
        return rows

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dictionary: name, notes, meta and the rows (times as ISO 8601 text,
        NaN and infinities as null)."""
        return {
            "view": self.name,
            "notes": list(self.notes),
            **({"meta": _plain(self.meta)} if self.meta else {}),
            "rows": [_plain(row) for row in self.table.to_pylist()],
        }


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
