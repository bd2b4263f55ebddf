"""What a caller may see of the node's events: everything for a local user; for a partner, the
log as the sharing policy projects it for that partner — the one place every partner channel
(query, counts, paging, named queries, subscriptions, the EPCIS resources) reads from.

A partner's question is answered on the partner's view (:mod:`keiretsu.node.projection`),
never on the whole log filtered afterwards: its filters only ever see values it may see, its
counts count only events it may see, and a hidden event and one that does not exist take the
same path — a lookup in a view that holds neither.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import duckdb

from keiretsu.node.runtime import Node
from keiretsu.node.security import Principal

__all__ = ["PageTokens", "log_cursor", "render", "scope_of"]


def scope_of(who: Principal) -> str:
    """Whose named queries and subscriptions a caller sees: the node's own users share
    ``local``; each partner has its own (``partner:<name>``) and sees nothing of the others'."""
    return f"partner:{who.name}" if who.is_partner else "local"


def log_cursor(node: Node, who: Principal, right: str = "query") -> duckdb.DuckDBPyConnection:
    """A read cursor on the log as ``who`` may see it by ``right`` (``query`` or
    ``subscribe``): the node's whole log for a local user; for a partner, the log as the
    sharing policy projects it for that partner (only the events it may see, with only the
    attributes, objects and pseudonyms it may see; none of the captured originals). Both
    expose the same tables (``ocel_event``, ``ocel_event_attribute``, ``ocel_event_object``,
    ``ocel_object``, ``ocel_object_attribute``, ``ocel_object_object``, ``ocel_event_type``,
    ``ocel_object_type``, ``ocel_source_event``, ``ingest_log``) with the same columns, so one
    SQL statement answers both. Every partner channel reads through this."""
    if not who.is_partner:
        return node.cursor()
    return node.views.cursor(who.name, right)


def render(
    node: Node,
    who: Principal,
    ids: Sequence[str],
    right: str = "query",
    cursor: duckdb.DuckDBPyConnection | None = None,
) -> list[dict[str, Any]]:
    """EPCIS 2.0 JSON events for ``ids`` as ``who`` may see them, in the order given. A local
    user gets each event as it was captured; a partner gets events rebuilt from the rows of
    its view (attributes removed, identifiers pseudonymised) — never the captured original.
    Ids not in the caller's log are left out. ``cursor``: the one :func:`log_cursor` gave for
    the same question, if the caller has it."""
    from keiretsu.node.query import render_events

    if not ids:
        return []
    return render_events(cursor or log_cursor(node, who, right), list(ids))


class PageTokens:
    """Paging tokens handed to partners: random handles for the underlying position, kept
    here, so a token never carries anything of the node's own (the order events were read
    in, how many documents came before)."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._tokens: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def wrap(self, partner: str, token: str | None) -> str | None:
        if token is None:
            return None
        handle = secrets.token_urlsafe(18)
        with self._lock:
            self._tokens[handle] = (partner, token)
            while len(self._tokens) > self._capacity:
                self._tokens.popitem(last=False)
        return handle

    def unwrap(self, partner: str, handle: str) -> str | None:
        with self._lock:
            found = self._tokens.get(handle)
        if found is None or found[0] != partner:
            return None
        return found[1]
