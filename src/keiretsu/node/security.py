"""Who is asking: a local user (an API token) or a partner node (a signed request).

Every route but the discovery ones needs one of the two. ``Authorization: Bearer <token>``
carries either a local token (``kt_…``, made by ``keiretsu node token create``) or a partner's
EdDSA-signed JWT (three dot-separated parts), checked by :class:`keiretsu.node.auth.Verifier`:
signature, audience, lifetime, replay, and the method, path and body it was signed for.

The headers are checked first, by the transport gate (keiretsu.node.transport) with
:func:`identify`, before a byte of the body is read; :func:`principal` then checks a partner's
body against its token.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any, Literal, NoReturn, Protocol

from fastapi import Request, WebSocket

from keiretsu.node.auth import AuthError, Pending, body_digest
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


def target_of(scope: MutableMapping[str, Any]) -> str:
    """The path and query of a request's ASGI ``scope`` exactly as they came over the wire
    (what a partner signed, ``htu``), not percent-decoded."""
    raw = scope.get("raw_path")
    path = raw.decode("latin-1") if raw else str(scope.get("path", ""))
    query = scope.get("query_string", b"").decode("latin-1")
    return f"{path}?{query}" if query else path


def signed_path(request: Request) -> str:
    """The path and query exactly as they came over the wire (what the sender signed), not
    percent-decoded."""
    return target_of(request.scope)


def node_of(request: Request | WebSocket) -> Node:
    node: Node = request.app.state.node
    return node


CALLER = "keiretsu.caller"
"""Key of the request's ASGI scope under which the transport gate leaves the :class:`Caller`
its headers proved (keiretsu.node.transport)."""

BODY_DIGEST = "keiretsu.body_digest"
"""Key of the scope under which the gate leaves the body's ``bdh`` digest once it is read."""

GATE = "keiretsu.gate"
"""Key of the scope under which the transport gate leaves itself (:class:`Admission`)."""

_PRINCIPAL = "keiretsu.principal"


class Admission(Protocol):
    """What the transport gate does for :func:`principal` (keiretsu.node.transport.Gate)."""

    def admit(self, scope: MutableMapping[str, Any]) -> Caller:
        """The request's caller from its headers, or the HTTPProblem to answer (401, 429)."""
        ...

    def failed(self, scope: MutableMapping[str, Any]) -> None:
        """Count a failed request of the request's address."""
        ...


@dataclass(frozen=True)
class Caller:
    """Who a request's headers say is asking, checked as far as headers allow: a local user
    (its token is live) or a partner whose signed request passed every check but the body's
    (``pending``: the body still has to match the token's digest)."""

    kind: Literal["local", "partner"]
    name: str
    pending: Pending | None = None


def identify(
    node: Node, *, method: str, path: str, authorization: str | None, peer: str | None
) -> Caller:
    """The caller of a request, from its line and headers alone, or 401 (with a line in the
    audit log): no token (``unsigned``), an unknown local token (``unknown-token``), or a
    signed request refused by :meth:`keiretsu.node.auth.Verifier.check_headers`. Reads no
    body."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        try:
            node.verifier.check_headers(None, method=method, path=path, peer=peer)
        except AuthError as exc:
            raise _unauthorized(exc.reason, "this node needs a token or a signed request") from exc
    if token.count(".") == 2:
        try:
            pending = node.verifier.check_headers(token, method=method, path=path, peer=peer)
        except AuthError as exc:
            raise _unauthorized(exc.reason, f"signed request refused: {exc.reason}") from exc
        return Caller("partner", pending.issuer, pending)
    label = node.tokens.check(token)
    if label is None:
        node.audit.write(
            "request", "refused", reason="unknown-token", peer=peer, method=method, path=path
        )
        raise _unauthorized("unknown-token", "unknown or revoked token")
    return Caller("local", label)


async def principal(request: Request) -> Principal:
    """The caller of this request, or 401 (with a line in the audit log); see
    :func:`_principal`."""
    return await _principal(request, None)


async def _principal(request: Request, needed: Literal["local", "partner"] | None) -> Principal:
    """The caller of this request, or 401 (with a line in the audit log); 403 before its body
    is read if it is not of the kind ``needed``.

    The caller is admitted from the headers by the transport gate (limited per address, see
    :func:`identify`) before anything of the body is read; for a partner, the body is read
    here (under the route's size limit, by the gate) and must be the one the token was signed
    for."""
    done = request.scope.get(_PRINCIPAL)
    if isinstance(done, Principal):
        return done
    node = node_of(request)
    peer = request.client.host if request.client else None
    caller = request.scope.get(CALLER)
    gate: Admission | None = request.scope.get(GATE)
    if isinstance(caller, Caller):
        pass  # admitted at the first read of the body
    elif gate is not None:
        caller = gate.admit(request.scope)
    else:  # an application without the gate
        caller = identify(
            node,
            method=request.method,
            path=signed_path(request),
            authorization=request.headers.get("authorization"),
            peer=peer,
        )
    if needed is not None and caller.kind != needed:
        _forbidden(request, caller, needed)
    if caller.pending is None:
        who = Principal("local", caller.name)
    else:
        body = await request.body()
        digest = request.scope.get(BODY_DIGEST)
        if not isinstance(digest, str):
            digest = body_digest(body)
        try:
            name = node.verifier.finish(caller.pending, digest, peer=peer)
        except AuthError as exc:
            if exc.reason == "busy":  # too many live tokens remembered: come back shortly
                raise HTTPProblem(
                    503,
                    "Busy",
                    "too many signed requests at once; retry",
                    headers={"Retry-After": "1"},
                ) from exc
            raise _unauthorized(exc.reason, f"signed request refused: {exc.reason}") from exc
        who = Principal("partner", name)
    request.scope[_PRINCIPAL] = who
    return who


async def local_user(request: Request) -> Principal:
    """Only this node's own users (a partner gets 403)."""
    return await _principal(request, "local")


async def partner_node(request: Request) -> Principal:
    """Only a partner node's signed request."""
    return await _principal(request, "partner")


def _forbidden(request: Request, who: Caller, needed: str) -> NoReturn:
    """403 for a caller on a route not for its kind (its body unread, a partner's token not
    used up): a failed request of its address, and a line in the audit log."""
    gate: Admission | None = request.scope.get(GATE)
    if gate is not None:
        gate.failed(request.scope)
    node_of(request).audit.write(
        "request",
        "refused",
        reason="forbidden",
        subject=who.name,
        peer=request.client.host if request.client else None,
        method=request.method,
        path=signed_path(request),
        detail=f"a {who.kind} caller on a route for {needed} callers only",
    )
    if needed == "local":
        raise HTTPProblem(403, "Forbidden", "partners may not use this resource")
    raise HTTPProblem(403, "Forbidden", "only a partner node's signed request may do this")


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
