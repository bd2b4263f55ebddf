"""Named queries and their subscriptions, kept in the store per scope.

The EPCIS 2.0 REST binding lets a caller keep a query under a name (``POST /queries``) and
subscribe a webhook to it: each document the node accepts afterwards is run through the query
and what it selects is posted to the webhook. This module keeps both in the node's store
(``node_query``, ``node_subscription``, declared in :mod:`keiretsu.store.schema`):

* a **scope** says whose they are: the node's own users share ``local``; each partner has its
  own (``partner:<name>``), sees only its own and may keep at most a few (the caller passes the
  quota);
* a query is kept as the JSON its owner sent; a subscription as its webhook, the secret that
  signs each post (``signatureToken``), who made it and when it last delivered.

Writes belong on the node's one writer thread (the caller's ``con`` is the store's own
connection there); reads take any cursor.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import duckdb

from keiretsu.store.arrow import rows

__all__ = [
    "StoredQuery",
    "Subscription",
    "add_subscription",
    "forget_query",
    "keep_query",
    "mark_notified",
    "named_queries",
    "named_query",
    "query_texts",
    "remove_subscription",
    "subscriptions_of",
    "subscriptions_with_queries",
]


@dataclass(frozen=True)
class StoredQuery:
    """A named query as kept: its name, its SimpleEventQuery parameters (JSON), when made."""

    name: str
    query: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class Subscription:
    """A webhook subscribed to a named query of the same scope."""

    subscription_id: str
    query_name: str
    dest: str
    created_at: datetime
    last_notified_at: datetime | None = None
    signature_token: str | None = None
    owner: str = ""
    """``local:<user>`` or ``partner:<name>``: whose results these are."""
    scope: str = "local"


# --- named queries ---------------------------------------------------------------------------


def named_query(con: duckdb.DuckDBPyConnection, scope: str, name: str) -> dict[str, Any] | None:
    """The parameters of the query ``name`` of ``scope`` (as its owner sent them), or None."""
    found = rows(con, "SELECT query FROM node_query WHERE scope = ? AND name = ?", [scope, name])
    if not found:
        return None
    query: dict[str, Any] = json.loads(found[0][0])
    return query


def named_queries(con: duckdb.DuckDBPyConnection, scope: str) -> list[StoredQuery]:
    """Every query of ``scope``, by name."""
    return [
        StoredQuery(name, json.loads(query), created)
        for name, query, created in rows(
            con,
            "SELECT name, query, created_at FROM node_query WHERE scope = ? ORDER BY name",
            [scope],
        )
    ]


def keep_query(
    con: duckdb.DuckDBPyConnection,
    *,
    scope: str,
    name: str,
    query: dict[str, Any],
    owner: str,
    created_at: datetime,
    limit: int | None = None,
) -> Literal["created", "exists", "quota"]:
    """Keep ``query`` under ``name`` in ``scope``: ``created``; ``exists`` if the scope has a
    query of that name already (it is left as it was); ``quota`` if the scope holds ``limit``
    queries already."""
    if rows(con, "SELECT 1 FROM node_query WHERE scope = ? AND name = ?", [scope, name]):
        return "exists"
    if limit is not None:
        held = rows(con, "SELECT count(*) FROM node_query WHERE scope = ?", [scope])
        if held and int(held[0][0]) >= limit:
            return "quota"
    con.execute(
        "INSERT INTO node_query VALUES (?, ?, ?, ?, ?)",
        [scope, name, json.dumps(query), owner, created_at],
    )
    return "created"


def forget_query(con: duckdb.DuckDBPyConnection, scope: str, name: str) -> None:
    """Forget the query ``name`` of ``scope`` and every subscription to it."""
    con.execute("DELETE FROM node_subscription WHERE scope = ? AND query_name = ?", [scope, name])
    con.execute("DELETE FROM node_query WHERE scope = ? AND name = ?", [scope, name])


def query_texts(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], str]:
    """Every named query's parameters as kept (JSON text), by (scope, name)."""
    return {
        (scope, name): query
        for scope, name, query in rows(con, "SELECT scope, name, query FROM node_query")
    }


# --- subscriptions ---------------------------------------------------------------------------


def add_subscription(
    con: duckdb.DuckDBPyConnection, subscription: Subscription, *, limit: int | None = None
) -> bool:
    """Keep ``subscription``; False (nothing kept) when its scope holds ``limit`` already."""
    if limit is not None:
        held = rows(
            con, "SELECT count(*) FROM node_subscription WHERE scope = ?", [subscription.scope]
        )
        if held and int(held[0][0]) >= limit:
            return False
    con.execute(
        "INSERT INTO node_subscription (subscription_id, query_name, dest,"
        " signature_token, owner, created_at, last_notified_at, scope)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            subscription.subscription_id,
            subscription.query_name,
            subscription.dest,
            subscription.signature_token,
            subscription.owner,
            subscription.created_at,
            subscription.last_notified_at,
            subscription.scope,
        ],
    )
    return True


def subscriptions_of(
    con: duckdb.DuckDBPyConnection,
    scope: str,
    query_name: str,
    subscription_id: str | None = None,
) -> list[Subscription]:
    """The subscriptions of ``scope`` to its query ``query_name`` (only the one with
    ``subscription_id``, if given), by id. Their signature tokens are left out."""
    sql = (
        "SELECT subscription_id, dest, created_at, last_notified_at FROM node_subscription"
        " WHERE scope = ? AND query_name = ?"
    )
    params: list[Any] = [scope, query_name]
    if subscription_id is not None:
        sql += " AND subscription_id = ?"
        params.append(subscription_id)
    return [
        Subscription(sid, query_name, dest, created, last, scope=scope)
        for sid, dest, created, last in rows(con, sql + " ORDER BY subscription_id", params)
    ]


def remove_subscription(con: duckdb.DuckDBPyConnection, subscription_id: str) -> None:
    """Forget one subscription."""
    con.execute("DELETE FROM node_subscription WHERE subscription_id = ?", [subscription_id])


def subscriptions_with_queries(
    con: duckdb.DuckDBPyConnection,
) -> list[tuple[Subscription, str]]:
    """Every subscription, with the parameters (JSON text) of the query it follows: what the
    node runs each accepted document through."""
    return [
        (Subscription(sid, name, dest, created, last, token, owner, scope), query)
        for sid, name, dest, token, owner, created, last, scope, query in rows(
            con,
            "SELECT s.subscription_id, s.query_name, s.dest, s.signature_token, s.owner,"
            " s.created_at, s.last_notified_at, s.scope, q.query"
            " FROM node_subscription s JOIN node_query q"
            " ON q.scope = s.scope AND q.name = s.query_name",
        )
    ]


def mark_notified(con: duckdb.DuckDBPyConnection, subscription_id: str, when: datetime) -> None:
    """Note that the subscription's webhook took a post at ``when``."""
    con.execute(
        "UPDATE node_subscription SET last_notified_at = ? WHERE subscription_id = ?",
        [when, subscription_id],
    )
