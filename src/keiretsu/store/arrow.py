"""A DuckDB query's result as one Arrow table — the form every room hands tables on in — or
as Python rows.

The store, the node's query engine, the partners' views and the twin's notebook API all read
rows out of the node's DuckDB file and pass them on as :class:`pyarrow.Table` (the OCEL 2.0
tables, a view's answer, an outbox status). The call that does it was renamed in DuckDB 1.4
(``arrow()`` became ``to_arrow_table()``, and some versions hand back a record-batch reader),
so it is written once, here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import pyarrow as pa

__all__ = ["arrow_table", "rows"]


def arrow_table(
    con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | None = None
) -> pa.Table:
    """The whole result of ``sql`` (with ``params`` bound to its ``?``) as one Arrow table.

    ``con`` may be any cursor of the store — a partner's, with its view's schema first on the
    search path, reads that view (unqualified table names resolve there first)."""
    rel = con.sql(sql, params=list(params) if params else None)
    fetch = getattr(rel, "to_arrow_table", None) or rel.arrow
    table = fetch()
    if isinstance(table, pa.RecordBatchReader):
        table = table.read_all()
    result: pa.Table = table
    return result


def rows(
    con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | None = None
) -> list[Any]:
    """Run a statement and fetch all its rows as Python tuples (leaves no unfinished result
    behind on the connection)."""
    if params:
        return con.execute(sql, list(params)).fetchall()
    return con.execute(sql).fetchall()
