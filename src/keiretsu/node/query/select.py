"""One page of the events a SimpleEventQuery selects, in the query's order."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import orjson

from keiretsu.node.query.fields import order_key
from keiretsu.node.query.paging import Page, open_token, seal
from keiretsu.node.query.paging import scope as token_scope
from keiretsu.node.query.parameters import EventQuery, QueryError
from keiretsu.node.query.sql import RECORD_TIME, conditions, selection

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
        sql.add("e.ocel_id IN (SELECT unnest(?::VARCHAR[]))", list(event_ids))
    descending = query.order_by is not None and query.order_direction == "DESC"
    key_params: list[object] = []
    if query.order_field is not None:
        key, key_params = order_key(query.order_field, resolve, descending)
        source = selection(sql, record, key, numeric=True)
    else:
        key = RECORD_TIME if query.order_by == "recordTime" else "e.ocel_time"
        source = selection(sql, record, key)
    scope = token_scope(query, ingest_id, event_ids)
    served = 0
    params = [*key_params, *sql.params]
    position = ""
    if after is not None:
        k, s, i, served = open_token(after, scope)
        position = f" WHERE (k, s, id) {'<' if descending else '>'} (?, ?, ?)"
        params += [k, s, i]
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
    rows = con.execute(
        f"SELECT id, k, s FROM ({source}){position}"
        f" ORDER BY k {direction}, s {direction}, id {direction} LIMIT ?",
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
        key_value = float(k) if query.order_field is not None else int(k)
        token = seal(orjson.dumps([key_value, int(s), str(i), served]), scope)
    return Page([str(r[0]) for r in rows], token)


def _prefixes_of(con: duckdb.DuckDBPyConnection, namespace: str) -> list[str]:
    """The prefixes the caller's events write ``namespace`` with (``xmlns:<prefix>``
    attributes; a trailing ``/`` or ``#`` of either spelling is not a difference)."""
    rows = con.execute(
        "SELECT DISTINCT substr(ocel_name, 7) FROM ocel_event_attribute"
        " WHERE starts_with(ocel_name, 'xmlns:') AND rtrim(ocel_value, '/#') = rtrim(?, '/#')",
        [namespace],
    ).fetchall()
    return sorted(str(r[0]) for r in rows)
