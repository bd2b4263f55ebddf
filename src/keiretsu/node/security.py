"""Who is asking: a local user (an API token) or a partner node (a signed request).

Every route but the discovery ones needs one of the two. ``Authorization: Bearer <token>``
carries either a local token (``kt_…``, made by ``keiretsu node token create``) or a partner's
EdDSA-signed JWT (three dot-separated parts), checked by :class:`keiretsu.node.auth.Verifier`:
signature, audience, lifetime, replay, and the method, path and body it was signed for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fastapi import Request, WebSocket

from keiretsu.node.auth import AuthError
from keiretsu.node.problems import HTTPProblem
from keiretsu.node.runtime import Node


@dataclass(frozen=True)
class Principal:
    """A local user (``kind="local"``, ``name`` = the token's label) or a partner node."""

    kind: Literal["local", "partner"]
    name: str

    @property
    def is_partner(self) -> bool:
        return self.kind == "partner"


def _unauthorized(reason: str, detail: str) -> HTTPProblem:
    return HTTPProblem(
        401,
        "Unauthorized",
        detail,
        headers={"WWW-Authenticate": 'Bearer realm="keiretsu"'},
        reason=reason,
    )


def signed_path(request: Request) -> str:
    """The path and query exactly as they came over the wire (what the sender signed), not
    percent-decoded."""
    raw = request.scope.get("raw_path")
    path = raw.decode("latin-1") if raw else request.url.path
    query = request.scope.get("query_string", b"").decode("latin-1")
    return f"{path}?{query}" if query else path


def node_of(request: Request | WebSocket) -> Node:
    node: Node = request.app.state.node
    return node


async def principal(request: Request) -> Principal:
    """The caller of this request, or 401 (with a line in the audit log)."""
    node = node_of(request)
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    peer = request.client.host if request.client else None
    path = signed_path(request)
    if scheme.lower() != "bearer" or not token:
        try:
            node.verifier.verify(None, method=request.method, path=path, body=b"", peer=peer)
        except AuthError as exc:
            raise _unauthorized(exc.reason, "this node needs a token or a signed request") from exc
    if token.count(".") == 2:
        body = await request.body()
        try:
            name = node.verifier.verify(
                token, method=request.method, path=path, body=body, peer=peer
            )
        except AuthError as exc:
            if exc.reason == "busy":  # too many live tokens remembered: come back shortly
                raise HTTPProblem(
                    503,
                    "Busy",
                    "too many signed requests at once; retry",
                    headers={"Retry-After": "1"},
                ) from exc
            raise _unauthorized(exc.reason, f"signed request refused: {exc.reason}") from exc
        return Principal("partner", name)
    label = node.tokens.check(token)
    if label is None:
        node.audit.write(
            "request",
            "refused",
            reason="unknown-token",
            peer=peer,
            method=request.method,
            path=path,
        )
        raise _unauthorized("unknown-token", "unknown or revoked token")
    return Principal("local", label)


async def local_user(request: Request) -> Principal:
    """Only this node's own users (a partner gets 403)."""
    who = await principal(request)
    if who.is_partner:
        raise HTTPProblem(403, "Forbidden", "partners may not use this resource")
    return who


async def partner_node(request: Request) -> Principal:
    """Only a partner node's signed request."""
    who = await principal(request)
    if not who.is_partner:
        raise HTTPProblem(403, "Forbidden", "only a partner node's signed request may do this")
    return who


def websocket_principal(ws: WebSocket) -> Principal | None:
    """A WebSocket's caller: a local token in the ``Authorization`` header or the ``token``
    query parameter (browsers cannot set headers on a WebSocket)."""
    node = node_of(ws)
    header = ws.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip() if scheme.lower() == "bearer" else ""
    token = token or ws.query_params.get("token", "")
    label = node.tokens.check(token) if token else None
    if label is None:
        node.audit.write(
            "websocket",
            "refused",
            reason="unknown-token" if token else "unsigned",
            peer=ws.client.host if ws.client else None,
            path=ws.url.path,
        )
        return None
    return Principal("local", label)
