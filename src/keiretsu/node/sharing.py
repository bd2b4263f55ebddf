"""What a caller may see of the node's events: everything for a local user, what the sharing
policy permits for a partner — the one place query, named queries and subscriptions ask."""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import pyarrow.compute as pc

from keiretsu.node.runtime import Node
from keiretsu.node.security import Principal


def log_cursor(node: Node, who: Principal, right: str = "query") -> Any:
    """A read cursor on the log as ``who`` may see it by ``right`` (``query`` or
    ``subscribe``): the node's whole log for a local user; for a partner, the log as the
    sharing policy projects it for that partner (only the events it may see, with only the
    attributes, objects and pseudonyms it may see). Both expose the same tables
    (``ocel_event``, ``ocel_event_attribute``, ``ocel_event_object``, ``ocel_object``,
    ``ocel_object_attribute``, ``ocel_object_object``, ``ocel_event_type``,
    ``ocel_object_type``, ``ocel_source_event``, ``ingest_log``) with the same columns, so one
    SQL statement answers both. Every partner channel reads through this."""
    # (being replaced by the projected partner view; until then a partner's cursor is the
    # node's own — callers must still filter with permitted_ids)
    return node.cursor()


def permitted_ids(node: Node, partner: str, ids: Sequence[str], right: str = "query") -> list[str]:
    """Those of ``ids`` (in order) whose events the policy lets leave for ``partner`` by
    ``right`` (``query`` or ``subscribe``)."""
    from keiretsu.node.epcis_query import event_ocel

    if not ids:
        return []
    decisions = node.policy().explain(event_ocel(node.cursor(), ids), partner, right)
    allowed = set(
        decisions.filter(pc.equal(decisions.column("permitted"), True))
        .column("ocel_id")
        .to_pylist()
    )
    return [i for i in ids if i in allowed]


def render(
    node: Node, who: Principal, ids: Sequence[str], right: str = "query"
) -> list[dict[str, Any]]:
    """EPCIS 2.0 JSON events for ``ids`` as ``who`` may see them. A local user gets each
    event as it was captured; a partner gets events rebuilt from the rows the policy let
    through (attributes removed, identifiers pseudonymised) — never the captured original."""
    from keiretsu.node.epcis_query import epcis_from_ocel, event_ocel, render_events

    if not ids:
        return []
    if not who.is_partner:
        return render_events(node.cursor(), list(ids))
    shared = node.share(event_ocel(node.cursor(), list(ids)), who.name, right)
    # only the events asked for (an aggregate rule's daily totals are pushed, not queried)
    from keiretsu.node.policy import AGGREGATE_PREFIX

    events = epcis_from_ocel(shared)
    return [e for e in events if not str(e.get("eventID", "")).startswith(AGGREGATE_PREFIX)]


class PageTokens:
    """Paging tokens handed to partners: random handles for the underlying position, kept
    here, so a token never carries an event id the partner may not see."""

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
