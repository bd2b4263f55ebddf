"""The value stream end to end, as one node sees it: whose events it holds, and one object's
path across the companies of the chain.

A node's store holds its own events (``ingest_log.source = 'local'``) and the events its
partners pushed to it (``source`` = the partner's name), each under the policy of the company
that recorded it. Nothing has to be joined by hand: the same pallet, lot or purchase order has
the same identifier in every company's events (GS1 keys are stored in their one canonical
Digital Link form), so a pallet shipped by the plant and received by the distributor is *one*
object in the distributor's store, with both companies' steps on it. The analytics views
(:mod:`keiretsu.analytics`) over such a store therefore show the chain's process map, its lead
times and its waits across the company boundary — as far as each partner's policy lets them.

* :func:`provenance` — per company: how many of the events this node sees it recorded, which
  steps, over what time span;
* :func:`chain` — the path of one object (a pallet's SSCC, a lot, a purchase order) through the
  chain: its events in time order, each with the company that recorded it;
* :func:`shared_objects` — the objects that more than one company's events touch: the
  stitches of the chain;
* :func:`end_to_end` — for several nodes' stores at once (a stopped network), who sees whose
  events.

Each takes an open DuckDB connection to a node store (read-only is enough: :func:`open_store`)
or, within the node's process, one of its cursors.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa

from keiretsu.model.cbv import CONTAINMENT_ROLES

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

LOCAL = "local"
"""``ingest_log.source`` of what the node recorded itself."""

_CONTAINMENT = CONTAINMENT_ROLES


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


def _arrow(con: duckdb.DuckDBPyConnection, sql: str, params: list[object]) -> pa.Table:
    rel = con.sql(sql, params=params)
    fetch = getattr(rel, "to_arrow_table", None) or rel.arrow  # renamed in DuckDB 1.4
    table: pa.Table = fetch()
    return table


_SOURCE = f"CASE WHEN l.source = '{LOCAL}' THEN ? ELSE l.source END"


def provenance(con: duckdb.DuckDBPyConnection, *, local: str) -> pa.Table:
    """Per company (``node``; ``local`` names this node): the events of it this node holds,
    the number of distinct steps (activities), the steps, and the first and last event time.
    Rows in order of each company's first event: upstream first, in a chain."""
    return _arrow(
        con,
        f"""
        SELECT {_SOURCE} AS node,
               count(*) AS events,
               count(DISTINCT e.ocel_type) AS activities,
               list(DISTINCT e.ocel_type ORDER BY e.ocel_type) AS steps,
               min(e.ocel_time) AS first_event,
               max(e.ocel_time) AS last_event
        FROM ocel_event e JOIN ingest_log l USING (ingest_id)
        GROUP BY 1 ORDER BY first_event, node
        """,
        [local],
    )


def steps_by_node(con: duckdb.DuckDBPyConnection, *, local: str) -> pa.Table:
    """Per step (activity) and company: how many events. The same step at two companies (a
    ``shipping`` at the plant and one at the distributor) is two rows."""
    return _arrow(
        con,
        f"""
        SELECT e.ocel_type AS activity, {_SOURCE} AS node, count(*) AS events
        FROM ocel_event e JOIN ingest_log l USING (ingest_id)
        GROUP BY 1, 2 ORDER BY min(e.ocel_time), activity, node
        """,
        [local],
    )


def resolve_object(con: duckdb.DuckDBPyConnection, object_id: str) -> str | None:
    """The identifier under which this store knows ``object_id``: as written, or — for a GS1
    key written as an EPC URN (``urn:epc:id:sscc:…``) or a Digital Link of another domain —
    its canonical Digital Link; then, for a purchase order or other business transaction
    number written bare (``PO-7001``), the one transaction identifier ending with it.
    None if the store does not know it."""
    from keiretsu.model.gs1 import identify

    candidates = [object_id]
    canonical = identify(object_id)[0]
    if canonical != object_id:
        candidates.append(canonical)
    for candidate in candidates:
        if con.execute(
            "SELECT 1 FROM ocel_event_object WHERE ocel_object_id = ? LIMIT 1", [candidate]
        ).fetchall():
            return candidate
    found = con.execute(
        "SELECT DISTINCT ocel_object_id FROM ocel_event_object "
        "WHERE ends_with(ocel_object_id, ':' || ?) LIMIT 2",
        [object_id],
    ).fetchall()
    if len(found) == 1:
        return str(found[0][0])
    return None


def chain(
    con: duckdb.DuckDBPyConnection,
    object_id: str,
    *,
    local: str,
    contents: bool = False,
) -> pa.Table:
    """The path of one object through the chain: every event this node holds that touches it,
    in time order, with the company that recorded it (``node``), the step (``activity``), how
    the object took part (``qualifier``: ``epc``, ``parent``, ``child``, ``output``…) and
    where (``location``: the bizLocation, else the readPoint). ``contents=True`` also follows
    what was packed in it and what it was packed in (the other side of its aggregation
    events: a pallet's cases, a case's pallet), one level.

    ``object_id`` may be written as stored or as an EPC URN (see :func:`resolve_object`);
    an unknown object gives an empty table."""
    resolved = resolve_object(con, object_id) or object_id
    followed = "SELECT ?::VARCHAR AS oid"
    params: list[object] = [resolved]
    if contents:
        followed += """
            UNION
            SELECT other.ocel_object_id FROM ocel_event_object me
            JOIN ocel_event_object other
              ON other.ocel_event_id = me.ocel_event_id
             AND other.ocel_object_id <> me.ocel_object_id
            WHERE me.ocel_object_id = ? AND me.ocel_qualifier IN ('parent', 'child')
              AND other.ocel_qualifier IN ('parent', 'child')
              AND other.ocel_qualifier <> me.ocel_qualifier
        """
        params.append(resolved)
    return _arrow(
        con,
        f"""
        WITH followed AS ({followed}),
        touches AS (
            SELECT eo.ocel_event_id AS event_id,
                   arg_min(eo.ocel_qualifier, eo.ocel_object_id <> ?) AS qualifier,
                   count(DISTINCT eo.ocel_object_id) AS objects
            FROM ocel_event_object eo JOIN followed f ON eo.ocel_object_id = f.oid
            GROUP BY 1
        ),
        place AS (
            SELECT ocel_event_id AS event_id,
                   arg_min(ocel_object_id, ocel_qualifier <> 'bizLocation') AS location
            FROM ocel_event_object
            WHERE ocel_qualifier IN ('bizLocation', 'readPoint')
              AND ocel_event_id IN (SELECT event_id FROM touches)
            GROUP BY 1
        )
        SELECT e.ocel_time AS time,
               {_SOURCE} AS node,
               e.ocel_type AS activity,
               t.qualifier,
               t.objects,
               p.location,
               e.ocel_id AS event_id
        FROM touches t
        JOIN ocel_event e ON e.ocel_id = t.event_id
        JOIN ingest_log l ON l.ingest_id = e.ingest_id
        LEFT JOIN place p ON p.event_id = t.event_id
        ORDER BY e.ocel_time, e.ocel_seq
        """,
        [*params, resolved, local],
    )


def shared_objects(con: duckdb.DuckDBPyConnection, *, local: str) -> pa.Table:
    """The objects whose events come from more than one company — where the chain is stitched
    together: ``object_id``, ``object_type``, the companies (``nodes``, upstream first) and
    the number of events touching it. Locations and parties are left out (every event names
    one; they stitch nothing)."""
    return _arrow(
        con,
        f"""
        WITH touched AS (
            SELECT eo.ocel_object_id AS object_id, {_SOURCE} AS node,
                   min(e.ocel_time) AS first_seen, count(*) AS events
            FROM ocel_event_object eo
            JOIN ocel_event e ON e.ocel_id = eo.ocel_event_id
            JOIN ingest_log l ON l.ingest_id = e.ingest_id
            WHERE eo.ocel_qualifier NOT IN ('readPoint', 'bizLocation')
              AND NOT starts_with(eo.ocel_qualifier, 'source:')
              AND NOT starts_with(eo.ocel_qualifier, 'destination:')
            GROUP BY 1, 2
        )
        SELECT t.object_id, o.ocel_type AS object_type,
               list(t.node ORDER BY t.first_seen, t.node) AS nodes,
               sum(t.events)::BIGINT AS events
        FROM touched t LEFT JOIN ocel_object o ON o.ocel_id = t.object_id
        GROUP BY t.object_id, o.ocel_type
        HAVING count(*) > 1
        ORDER BY min(t.first_seen), t.object_id
        """,
        [local],
    )


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
