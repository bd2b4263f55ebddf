"""The twin at a glance: how many events and objects it holds, of which types, over what span.

What ``keiretsu info`` prints and ``GET /twin`` answers: counts read from the visible log
(accepted documents only), and how many documents were accepted and refused.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from keiretsu.store.arrow import rows

__all__ = ["StoreSummary", "summary_of"]


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


def summary_of(con: duckdb.DuckDBPyConnection, path: Path) -> StoreSummary:
    """The summary of the store ``con`` reads (any cursor on it: another thread's, say),
    reported under ``path``. Counts only what the visible log holds: accepted documents."""

    def count(table: str) -> int:
        return int(rows(con, f"SELECT count(*) FROM {table}")[0][0])

    events = count("ocel_event")
    objects = count("ocel_object")
    span = rows(con, "SELECT min(ocel_time), max(ocel_time) FROM ocel_event")[0]
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
