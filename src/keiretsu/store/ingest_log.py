"""The ingest log: every document offered to the store, accepted or refused.

One row per document, in the order they were offered: its name (``document``), its format, who
sent it (``source``: ``local`` or a label given at ingest, or the partner whose push it was),
when its ingest started and finished, its ``status`` (``accepted``, ``refused``; ``pending``
while it is being stored), how many events it held (``events_read``) and of those how many were
new, already known (a resend) or corrections, and — for a refused document — the ``problem``
(RFC 7807 problem details, JSON text) saying what was wrong and where.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from keiretsu.store.arrow import arrow_table

__all__ = ["ingest_log"]


def ingest_log(con: duckdb.DuckDBPyConnection, *, last: int | None = None) -> pa.Table:
    """The ingest log read through ``con`` (any cursor on the store), oldest first; ``last``
    keeps only the ``last`` most recent documents."""
    if last is None:
        return arrow_table(con, "SELECT * FROM ingest_log ORDER BY ingest_id")
    return arrow_table(
        con,
        "SELECT * FROM (SELECT * FROM ingest_log ORDER BY ingest_id DESC LIMIT ?) "
        "ORDER BY ingest_id",
        [last],
    )
