"""One page of the events a SimpleEventQuery selects, in the query's order."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import duckdb
import orjson

from keiretsu.node.query.fields import order_key
from keiretsu.node.query.keyed import keyed
from keiretsu.node.query.paging import Page, open_token, seal
from keiretsu.node.query.paging import scope as token_scope
from keiretsu.node.query.parameters import EventQuery, QueryError
from keiretsu.node.query.sql import RECORD_TIME, Sql, conditions, selection

__all__ = ["select_events"]


def select_events(
    con: duckdb.DuckDBPyConnection,
    query: EventQuery,
    *,
    limit: int,
    after: str | None = None,
    ingest_id: int | None = None,
    event_ids: Sequence[str] | None = None,
) -> Page:
    """One page of the events ``query`` selects: at most ``limit`` event ids, in the query's
    order (``orderBy``/``orderDirection``; without them oldest first), after the position
    ``after`` (the ``nextPageToken`` of the previous page).

    ``ingest_id`` keeps only the events of one accepted document (a subscription told of a
    capture); ``event_ids`` only the given events. Raises :class:`QueryError` for a token not
    of this query (``nextPageToken``) and, on the first page, when more events match than
    ``maxEventCount`` allows (``kind == "too_large"``).
    """
    if limit < 1:
        raise QueryError("perPage", f"{limit} is out of range", expected="a whole number ≥ 1")

    def resolve(namespace: str) -> list[str]:
        return _prefixes_of(con, namespace)

    sql, record = conditions(query, resolve)
    if ingest_id is not None:
        sql.add("e.ingest_id = ?", ingest_id)
    if event_ids is not None:
        sql.add_keyed("SELECT unnest(?::VARCHAR[])", list(event_ids))
    events = "ocel_event"
    event_params: list[object] = []
    found = _driven(con, sql)
    if found is not None:  # a few events known by id: read those rows alone
        index, few = found
        sql = sql.without(index)
        events = keyed("ocel_event", "ocel_id", "*")
        event_params = [few]
    descending = query.order_by is not None and query.order_direction == "DESC"
    key_params: list[object] = []
    numeric = query.order_field is not None
    if query.order_field is not None:
        key, key_params = order_key(query.order_field, resolve, descending)
        source = selection(sql, record, key, numeric=True, events=events)
    else:
        key = RECORD_TIME if query.order_by == "recordTime" else "e.ocel_time"
        source = selection(sql, record, key, events=events)
    scope = token_scope(query, ingest_id, event_ids)
    served = 0
    params = [*key_params, *event_params, *sql.params]
    position = ""
    if after is not None:
        k, s, i, served = open_token(after, scope)
        before_after = "<" if descending else ">"
        position = f" WHERE (k, s, id) {before_after} (?, ?, ?)"
        params += [k, s, i]
        if not numeric:
            # the same position on the time itself, which DuckDB checks against each row
            # group's minimum and maximum: the pages already served are not read again
            position += f" AND t {before_after}= ?"
            params.append(_EPOCH + timedelta(microseconds=int(k)))
    elif query.max_event_count is not None:
        total = con.execute(f"SELECT count(*) FROM ({source})", params).fetchone()
        count = int(total[0]) if total else 0
        if count > query.max_event_count:
            raise QueryError(
                "maxEventCount",
                f"{count} events match, more than the {query.max_event_count} allowed",
                expected="a narrower query, or a larger maxEventCount",
                kind="too_large",
            )
    room = limit
    if query.event_count_limit is not None:
        room = min(limit, query.event_count_limit - served)
        if room <= 0:
            return Page([], None)
    direction = "DESC" if descending else "ASC"
    # ordered by t, the time column itself (k is its microseconds: the same order), so that
    # DuckDB's top-N pushes its running bound into the scan
    order = "k" if numeric else "t"
    rows = con.execute(
        f"SELECT id, k, s FROM ({source}){position}"
        f" ORDER BY {order} {direction}, s {direction}, id {direction} LIMIT ?",
        [*params, room + 1],
    ).fetchall()
    more = len(rows) > room
    rows = rows[:room]
    served += len(rows)
    if query.event_count_limit is not None and served >= query.event_count_limit:
        more = False
    token = None
    if more and rows:
        i, k, s = rows[-1]
        key_value = float(k) if numeric else int(k)
        token = seal(orjson.dumps([key_value, int(s), str(i), served]), scope)
    return Page([str(r[0]) for r in rows], token)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

FEW_EVENTS = 2048
"""How many events a driver may find for the selection to read them by key: DuckDB's
``index_scan_max_count`` — beyond it DuckDB scans the table anyway."""


def _driven(con: duckdb.DuckDBPyConnection, sql: Sql) -> tuple[int, list[str]] | None:
    """The first driver of ``sql`` that finds at most :data:`FEW_EVENTS` events: its
    clause's index and the ids it finds; None when none does."""
    for index, clause in sql.drivers():
        rows = con.execute(
            f"SELECT d.id FROM ({clause.driver}) AS d(id) LIMIT ?",
            [*clause.params, FEW_EVENTS + 1],
        ).fetchall()
        ids = list(dict.fromkeys(str(r[0]) for r in rows))
        if len(rows) <= FEW_EVENTS:
            return index, ids
    return None


_PREFIXES: dict[tuple[object, ...], list[str]] = {}
"""The prefixes of each namespace, per store and state of its log (the local user's only)."""


def _prefixes_of(con: duckdb.DuckDBPyConnection, namespace: str) -> list[str]:
    """The prefixes the caller's events write ``namespace`` with (``xmlns:<prefix>``
    attributes; a trailing ``/`` or ``#`` of either spelling is not a difference).

    Reading them scans every event attribute's name (a tenth of a second with a million
    events), and they change only when a document is accepted: for the node's own log they
    are kept per store and state of the ingest log. A partner's view (its schema first on
    the search path) is read each time."""
    state = con.execute(
        "SELECT current_setting('search_path'),"
        " (SELECT path FROM duckdb_databases() WHERE database_name = current_database()),"
        " (SELECT estimated_size FROM duckdb_tables() WHERE database_name = current_database()"
        "  AND schema_name = 'main' AND table_name = 'event_attribute'),"
        " count(*), max(ingest_id), max(finished_at), count(*) FILTER (status = 'pending')"
        " FROM main.ingest_log"
    ).fetchone()
    key = (*state, namespace) if state and not state[0] and state[1] else None
    cached = _PREFIXES.get(key) if key is not None else None  # one lookup: threads share it
    if cached is not None:
        return list(cached)
    rows = con.execute(
        "SELECT DISTINCT substr(ocel_name, 7) FROM ocel_event_attribute"
        " WHERE starts_with(ocel_name, 'xmlns:') AND rtrim(ocel_value, '/#') = rtrim(?, '/#')",
        [namespace],
    ).fetchall()
    found = sorted(str(r[0]) for r in rows)
    if key is not None:
        if len(_PREFIXES) > 256:
            _PREFIXES.clear()
        _PREFIXES[key] = found
    return list(found)
