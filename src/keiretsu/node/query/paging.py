"""Paging a query's answer: pages of event ids, and the ``nextPageToken`` between them.

The EPCIS 2.0 REST binding pages a long answer: each page ends with a ``nextPageToken`` (in
the ``GS1-Next-Page-Token`` and ``Link`` headers) that the caller sends back for the next. The
token is the position of the last event served — its sort key, its read order, its id — and
how many were served so far (for ``eventCountLimit``), sealed with a digest over the query it
belongs to: it resumes exactly after that event however many were stored since, and it is
refused, with the parameter named, by any other query or once altered. It is tamper-evident,
not secret (a partner is handed a random handle instead: :class:`keiretsu.node.sharing.PageTokens`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field

import orjson

from keiretsu.node.query.parameters import EventQuery, QueryError

__all__ = ["Page", "open_token", "scope", "seal"]


@dataclass(frozen=True)
class Page:
    """One page of a query's answer: event ids in the query's order, and the token for the
    next page (``None`` on the last)."""

    event_ids: list[str] = field(default_factory=list)
    next_token: str | None = None


_TOKEN_SALT = b"keiretsu epcis page token v1\n"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def scope(query: EventQuery, ingest_id: int | None, event_ids: Sequence[str] | None) -> bytes:
    restrict = orjson.dumps([ingest_id, sorted(event_ids) if event_ids is not None else None])
    return query.fingerprint().encode() + hashlib.sha256(restrict).digest()


def seal(payload: bytes, scope: bytes) -> str:
    digest = hashlib.sha256(_TOKEN_SALT + scope + payload).digest()[:16]
    return f"{_b64(payload)}.{_b64(digest)}"


def open_token(token: str, scope: bytes) -> tuple[int | float, int, str, int]:
    """(sort key, sequence, id, events served so far) from a token of this query."""
    refused = QueryError(
        "nextPageToken",
        "not a page token of this query (altered, or from another query)",
        expected="the nextPageToken of the previous page of the same query",
    )
    body, dot, sealed = token.partition(".")
    if not dot or len(token) > 4096:
        raise refused
    try:
        payload = _unb64(body)
        digest = _unb64(sealed)
    except (ValueError, TypeError):
        raise refused from None
    expected = hashlib.sha256(_TOKEN_SALT + scope + payload).digest()[:16]
    if not hmac.compare_digest(digest, expected):
        raise refused
    try:
        k, s, i, n = orjson.loads(payload)
    except (orjson.JSONDecodeError, ValueError, TypeError):
        raise refused from None
    if not (type(k) in (int, float) and type(s) is int and type(i) is str and type(n) is int):
        raise refused
    return k, s, i, n
