"""The value stream end to end, as the nodes of a network on this machine see it, read from
their stores: whose events each holds, and one object's path across the companies.

The views themselves are defined once, in :mod:`keiretsu.analytics.chain` (Ibis expressions, so
they also run on Spark); this module opens nodes' stores and hands them to those views:

* :func:`open_store` — a read-only connection to a stopped node's store;
* :func:`provenance`, :func:`steps_by_node`, :func:`chain` (an object's path),
  :func:`shared_objects`, :func:`resolve_object` — the analytics views over one open
  connection (read-only is enough) or, within the node's process, one of its cursors, as Arrow
  tables;
* :func:`end_to_end` — for several nodes' stores at once (a stopped network), who sees whose
  events.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa

from keiretsu.analytics import chain as chain_views
from keiretsu.analytics.log import Log

__all__ = [
    "chain",
    "end_to_end",
    "node_name",
    "open_store",
    "provenance",
    "resolve_object",
    "shared_objects",
    "steps_by_node",
]


def node_name(store: str | Path) -> str:
    """The name of the node whose store is ``store`` (from its home's ``node.toml``); the
    store's file name where it has no node home (a plain ``keiretsu ingest`` store)."""
    from keiretsu.node.home import NodeError, NodeHome

    try:
        return NodeHome.open(store).config().name
    except (NodeError, OSError):
        return Path(store).stem


@contextmanager
def open_store(store: str | Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to a node's store. The node's server must not be running: while
    it runs, only it may open the file (ask it over HTTP instead)."""
    path = Path(store)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no store here")
    try:
        con = duckdb.connect(str(path), read_only=True)
    except (duckdb.IOException, duckdb.ConnectionException) as exc:
        raise RuntimeError(
            f"{path}: the store is in use by its node's server (stop it with "
            f"`keiretsu network down`, or ask the node over HTTP): {exc}"
        ) from exc
    try:
        yield con
    finally:
        con.close()


def _log(con: duckdb.DuckDBPyConnection) -> Log:
    return Log.from_connection(con)


def provenance(con: duckdb.DuckDBPyConnection, *, local: str) -> pa.Table:
    """:func:`keiretsu.analytics.chain.provenance` over an open store: per company, the events
    this node holds, its steps and their time span."""
    return chain_views.provenance(_log(con), local=local).table


def steps_by_node(con: duckdb.DuckDBPyConnection, *, local: str) -> pa.Table:
    """:func:`keiretsu.analytics.chain.steps_by_node` over an open store: per step and company,
    how many events."""
    return chain_views.steps_by_node(_log(con), local=local).table


def resolve_object(con: duckdb.DuckDBPyConnection, object_id: str) -> str | None:
    """:func:`keiretsu.analytics.chain.resolve_object` over an open store: the identifier under
    which it knows ``object_id`` (as written, its canonical Digital Link, or the one business
    transaction ending with it); None if it does not know it."""
    return chain_views.resolve_object(_log(con), object_id)


def chain(
    con: duckdb.DuckDBPyConnection,
    object_id: str,
    *,
    local: str,
    contents: bool = False,
) -> pa.Table:
    """:func:`keiretsu.analytics.chain.object_path` over an open store: one object's events in
    time order, each with the company that recorded it; ``contents=True`` follows what it was
    packed with, one level."""
    return chain_views.object_path(_log(con), object_id, local=local, contents=contents).table


def shared_objects(con: duckdb.DuckDBPyConnection, *, local: str) -> pa.Table:
    """:func:`keiretsu.analytics.chain.shared_objects` over an open store: the objects more
    than one company's events touch."""
    return chain_views.shared_objects(_log(con), local=local).table


def end_to_end(stores: Mapping[str, str | Path]) -> pa.Table:
    """Who sees whose events, across several nodes (``{node name: store}``; the nodes must
    not be running): per observing node (``observer``) and recording company (``node``), the
    events and steps, as :func:`provenance` gives them."""
    tables = []
    for name, store in stores.items():
        with open_store(store) as con:
            table = provenance(con, local=name)
        tables.append(
            table.add_column(0, "observer", pa.array([name] * table.num_rows, pa.string()))
        )
    if not tables:
        return pa.table({"observer": pa.array([], pa.string()), "node": pa.array([], pa.string())})
    return pa.concat_tables(tables)
