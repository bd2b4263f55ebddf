"""Reading a few rows of a large table by key, through the store's indexes.

The store keeps an ART index on each id column a query looks rows up by
(:data:`keiretsu.store.schema.INDEXES`: an event's id, an object's id, the two ends of an
event–object relation…). DuckDB uses one only in a narrow case, which :func:`keyed` writes.
"""

from __future__ import annotations

__all__ = ["keyed"]


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
