"""Reading a few rows of a large table by key, through the store's indexes.

The store keeps an ART index on each id column a query looks rows up by
(:data:`keiretsu.store.schema.INDEXES`: an event's id, an object's id, the two ends of an
event–object relation…). DuckDB uses one only in a narrow case, which :func:`keyed` writes;
:func:`estimated_rows` tells whether a table is large enough for it to pay.
"""

from __future__ import annotations

import duckdb

from keiretsu.store.arrow import rows

__all__ = ["KEY_CHUNK", "estimated_rows", "keyed"]

KEY_CHUNK = 2048
"""Keys per list parameter: DuckDB reads an ART index for at most 2,048 rows of a scan
(``index_scan_max_count``), and scans the table beyond."""


def keyed(table: str, column: str, columns: str, keys: str | None = None) -> str:
    """The rows of ``table`` whose ``column`` is one of ``keys`` — a subquery, or (``None``)
    one list parameter — read through the column's index.

    DuckDB answers a filter from an ART index only when it is the scan's sole filter, and
    pushes every other condition of the query down into the scan: the ``OFFSET 0`` keeps
    them above it (a limit is a barrier to filter pushdown), so the index finds the rows
    and the conditions then look at those rows alone. A list parameter is read by key up to
    2,048 rows (DuckDB's ``index_scan_max_count``); a subquery only when it yields at most 50
    keys (``dynamic_or_filter_threshold``) — beyond either, the table is scanned, as before."""
    test = f"list_contains(?::VARCHAR[], {column})" if keys is None else f"{column} IN ({keys})"
    return f"(SELECT {columns} FROM {table} WHERE {test} OFFSET 0)"


def estimated_rows(con: duckdb.DuckDBPyConnection, tables: set[str]) -> dict[str, int]:
    """Each of the store's ``tables`` with DuckDB's estimate of its rows (kept in the catalog:
    no scan)."""
    names = sorted(tables)
    found = rows(
        con,
        "SELECT table_name, estimated_size FROM duckdb_tables() "
        "WHERE schema_name = 'main' AND NOT temporary "
        f"AND table_name IN ({', '.join('?' for _ in names)})",
        names,
    )
    return {name: int(size) for name, size in found}
