"""What stands between the network and the node's routes: authentication before any body is
read, a size limit and an idle timeout on every body, a limit on failed requests per address,
and a deadline for a request's line and headers.

:class:`Gate` is an ASGI middleware, the outermost of the application. It hands the request on
with its body held back: nothing of the body is read until the caller is known from the
headers alone (:meth:`Gate.admit`, by :func:`keiretsu.node.security.principal` or, for a route
whose body is read before its dependencies, at the first read). A request refused there gets
its answer without a byte of its body read, and the connection is closed if a body was
announced. Then the body comes through in pieces, at most the route's limit
(:data:`BODY_LIMITS`; ``413`` as soon as it is passed, or at once when ``Content-Length`` says
so), each piece within :attr:`TransportLimits.body_timeout` of the one before (``408``), and
hashed on the way for a partner's request (its token's ``bdh``). An address whose requests keep
failing is answered ``429`` for a while (:class:`FailureLimiter`). Every route that reads a
body needs a caller.

uvicorn has no deadline for the request line and headers; :func:`http_protocol` is its HTTP/1.1
protocol with one: a connection that has not sent a whole request line and headers within
:attr:`TransportLimits.header_timeout` seconds of connecting, or of its last answer, is closed.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from keiretsu.node.auth import AuditLog
from keiretsu.node.problems import HTTPProblem, problem_response
from keiretsu.node.runtime import CAPTURE_SIZE_LIMIT, Node
from keiretsu.node.security import BODY_DIGEST, CALLER, GATE, Caller, identify, target_of

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

INBOX_SIZE_LIMIT = 256 * 1024 * 1024
"""Largest partner push (``POST /partners/inbox``) in bytes."""

DEFAULT_BODY_LIMIT = 1024 * 1024
"""Largest body in bytes of a route not in :data:`BODY_LIMITS` (queries, subscriptions, …)."""

BODY_LIMITS: dict[str, int] = {
    "/capture": CAPTURE_SIZE_LIMIT,
    "/events": CAPTURE_SIZE_LIMIT,  # POST /events captures one event
    "/partners/inbox": INBOX_SIZE_LIMIT,
}
"""Largest body in bytes, by request path, of the routes that take documents."""

_CAPTURE_TOO_LARGE = "epcisException:CapturePayloadTooLargeException"
_TOO_LARGE_TYPES = {"/capture": _CAPTURE_TOO_LARGE, "/events": _CAPTURE_TOO_LARGE}

EPCIS_HEADERS = ((b"gs1-epcis-version", b"2.0.0"), (b"gs1-cbv-version", b"2.0.0"))
"""Headers of every answer (the EPCIS 2.0 binding asks for them)."""


@dataclass(frozen=True)
class TransportLimits:
    """The node's limits on connections and requests (times in seconds)."""

    header_timeout: float = 10.0
    """From a connection's start, or its last answer, until a whole request line and headers
    have arrived; then the connection is closed."""

    body_timeout: float = 30.0
    """Longest wait for the next piece of a body the route is reading; then ``408``."""

    failure_burst: int = 500
    """Failed requests (refused 401 or 403) an address may make before it is held back."""

    failure_rate: float = 1.0
    """Failed requests per second an address earns back (the bucket's refill)."""

    audit_window: float = 60.0
    """At most one ``rate-limit`` line per address in this many seconds."""

    max_addresses: int = 10_000
    """Addresses whose failures are counted at once (the least recent are forgotten)."""

    def __post_init__(self) -> None:
        for name in ("header_timeout", "body_timeout", "failure_rate", "audit_window"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        if self.failure_burst < 1 or self.max_addresses < 1:
            raise ValueError("failure_burst and max_addresses must be 1 or more")


def address_key(peer: str | None) -> str:
    """Whose failures a client address counts towards: the address itself, or for IPv6 its
    ``/64`` network (one host usually has a whole /64 to pick addresses from)."""
    if not peer:
        return "unknown"
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return peer[:100]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


@dataclass
class _Bucket:
    tokens: float
    stamp: float
    refused: int = 0
    logged_at: float = -math.inf


class FailureLimiter:
    """Failed requests per client address, as a token bucket: each address may fail
    ``burst`` times at once and earns back ``rate`` failures a second; an address with none
    left is refused (``429``) before its request is looked at. At most one audit line per
    address per ``window`` seconds says how many were refused since its last line."""

    def __init__(self, limits: TransportLimits, audit: AuditLog | None = None) -> None:
        self.limits = limits
        self.audit = audit
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def _refill(self, bucket: _Bucket, now: float) -> None:
        earned = (now - bucket.stamp) * self.limits.failure_rate
        bucket.tokens = min(float(self.limits.failure_burst), bucket.tokens + max(earned, 0.0))
        bucket.stamp = now

    def retry_after(self, peer: str | None, now: float | None = None) -> float:
        """0 if a request from ``peer`` may be looked at; else the seconds until it may (and
        the refusal is counted, and written to the audit log at most once a window)."""
        moment = time.monotonic() if now is None else now
        key = address_key(peer)
        bucket = self._buckets.get(key)
        if bucket is None:
            return 0.0
        self._refill(bucket, moment)
        if bucket.tokens >= 1:
            return 0.0
        bucket.refused += 1
        if moment - bucket.logged_at >= self.limits.audit_window and self.audit is not None:
            self.audit.write(
                "rate-limit",
                "refused",
                reason="too-many-failures",
                peer=peer,
                address=key,
                refused=bucket.refused,
                detail=(
                    f"{bucket.refused} request(s) from {key} refused since this address's last "
                    f"rate-limit line: more than {self.limits.failure_burst} failed requests, "
                    f"{self.limits.failure_rate:g} a second after that"
                ),
            )
            bucket.refused = 0
            bucket.logged_at = moment
        return (1 - bucket.tokens) / self.limits.failure_rate

    def failed(self, peer: str | None, now: float | None = None) -> None:
        """Count one failed request from ``peer``."""
        moment = time.monotonic() if now is None else now
        key = address_key(peer)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(tokens=float(self.limits.failure_burst), stamp=moment)
            self._buckets[key] = bucket
            while len(self._buckets) > self.limits.max_addresses:
                self._buckets.popitem(last=False)
        else:
            self._refill(bucket, moment)
            self._buckets.move_to_end(key)
        bucket.tokens = max(0.0, bucket.tokens - 1)


class _Exchange:
    """One request as the gate sees it: its answer gets the EPCIS headers, and ``connection:
    close`` when it goes out before an announced body was read whole (so the rest is never
    read); the gate may answer in the application's place, after which whatever the
    application sends is dropped."""

    def __init__(self, scope: Scope, send: Send) -> None:
        self.scope = scope
        self._send = send
        headers = {
            bytes(k).lower(): bytes(v).decode("latin-1") for k, v in scope.get("headers", [])
        }
        self.headers = headers
        length = headers.get(b"content-length", "").strip()
        self.declared = int(length) if length.isdigit() else None
        self.body_pending = bool(self.declared) or b"transfer-encoding" in headers
        client = scope.get("client")
        self.peer = str(client[0]) if client else None
        self.started = False
        self.answered = False

    async def send(self, message: Message) -> None:
        if self.answered:
            return
        if message["type"] == "http.response.start":
            self.started = True
            headers = list(message.get("headers", []))
            present = {bytes(name).lower() for name, _ in headers}
            headers.extend(h for h in EPCIS_HEADERS if h[0] not in present)
            if self.body_pending and b"connection" not in present:
                headers.append((b"connection", b"close"))
            message = {**message, "headers": headers}
        await self._send(message)

    async def answer(self, problem: HTTPProblem) -> None:
        """Answer ``problem`` instead of the application (unless it has begun to answer)."""
        if self.answered or self.started:
            self.answered = True
            return
        raw = self.scope.get("raw_path")
        instance = raw.decode("latin-1") if raw else self.scope.get("path")
        response = problem_response(problem, instance)

        async def nothing() -> Message:
            return {"type": "http.disconnect"}

        await response(self.scope, nothing, self.send)
        self.answered = True


class _Body:
    """The request's ``receive``, guarded: nothing is read before the caller is admitted
    (:meth:`Gate.admit`), then at most the path's limit, each piece within the body timeout,
    hashed (SHA-256) for a partner's request."""

    def __init__(self, gate: Gate, exchange: _Exchange, receive: Receive) -> None:
        self._gate = gate
        self._exchange = exchange
        self._receive = receive
        path = str(exchange.scope.get("path", ""))
        self._limit = BODY_LIMITS.get(path, DEFAULT_BODY_LIMIT)
        self._too_large = _too_large_for(path, self._limit)
        self._hash: Any = None
        self._size = 0
        self._opened = False
        self._done = False
        self._cut = False

    async def _open(self) -> bool:
        """Before the first piece: the caller must be known, the announced size within the
        limit. False (and the answer sent) if not."""
        self._opened = True
        scope = self._exchange.scope
        caller = scope.get(CALLER)
        if not isinstance(caller, Caller):
            try:
                caller = self._gate.admit(scope)
            except HTTPProblem as problem:
                await self._stop(problem)
                return False
        declared = self._exchange.declared
        if declared is not None and declared > self._limit:
            await self._stop(self._too_large(declared))
            return False
        if caller.pending is not None:
            self._hash = hashlib.sha256()
        return True

    async def __call__(self) -> Message:
        if self._cut:
            return {"type": "http.disconnect"}
        if self._done or not (self._opened or self._exchange.body_pending):
            # the body is complete, or there is none: what comes now is a disconnect
            return await self._receive()
        if not self._opened and not await self._open():
            return {"type": "http.disconnect"}
        timeout = self._gate.limits.body_timeout
        try:
            message = await asyncio.wait_for(self._receive(), timeout)
        except TimeoutError:
            return await self._stop(
                HTTPProblem(
                    408,
                    "Request timeout",
                    f"no part of the body arrived for {timeout:g} s; send it at once",
                    type="keiretsu:RequestTimeout",
                )
            )
        if message["type"] != "http.request":
            self._done = True
            return message
        piece = message.get("body", b"")
        self._size += len(piece)
        if self._size > self._limit:
            return await self._stop(self._too_large(self._size))
        if self._hash is not None:
            self._hash.update(piece)
        if not message.get("more_body", False):
            self._done = True
            self._exchange.body_pending = False
            if self._hash is not None:
                digest = base64.urlsafe_b64encode(self._hash.digest()).rstrip(b"=")
                self._exchange.scope[BODY_DIGEST] = digest.decode("ascii")
        return message

    async def _stop(self, problem: HTTPProblem) -> Message:
        self._cut = True
        await self._exchange.answer(problem)
        return {"type": "http.disconnect"}


def _too_large_for(path: str, limit: int) -> Callable[[int], HTTPProblem]:
    def problem(size: int) -> HTTPProblem:
        return HTTPProblem(
            413,
            "Payload too large",
            f"{size} bytes or more is more than this route takes ({limit} bytes): split it",
            type=_TOO_LARGE_TYPES.get(path, "keiretsu:PayloadTooLarge"),
            limit=limit,
        )

    return problem


class Gate:
    """The node's outermost ASGI middleware (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, node: Node, limits: TransportLimits | None = None) -> None:
        self.app = app
        self.node = node
        self.limits = limits or TransportLimits()
        self.limiter = FailureLimiter(self.limits, node.audit)

    def admit(self, scope: Scope) -> Caller:
        """The caller of the request of ``scope`` from its line and headers (kept in the scope
        under :data:`~keiretsu.node.security.CALLER`), or the :class:`HTTPProblem` to answer:
        ``429`` if its address has failed too often (its headers are not even looked at),
        ``401`` from :func:`~keiretsu.node.security.identify` (counted as a failure)."""
        exchange = scope.get(_EXCHANGE)
        peer = exchange.peer if isinstance(exchange, _Exchange) else None
        wait = self.limiter.retry_after(peer)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise HTTPProblem(
                429,
                "Too many failed requests",
                f"too many failed requests from this address; retry in {seconds} s",
                type="keiretsu:TooManyRequests",
                headers={"Retry-After": str(seconds)},
            )
        headers = exchange.headers if isinstance(exchange, _Exchange) else {}
        try:
            caller = identify(
                self.node,
                method=str(scope.get("method", "GET")),
                path=target_of(scope),
                authorization=headers.get(b"authorization"),
                peer=peer,
            )
        except HTTPProblem:
            self.limiter.failed(peer)
            raise
        scope[CALLER] = caller
        return caller

    def failed(self, scope: Scope) -> None:
        """Count a failed request (e.g. a caller on a route not for it, ``403``)."""
        exchange = scope.get(_EXCHANGE)
        self.limiter.failed(exchange.peer if isinstance(exchange, _Exchange) else None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        exchange = _Exchange(scope, send)
        scope[GATE] = self
        scope[_EXCHANGE] = exchange
        try:
            await self.app(scope, _Body(self, exchange, receive), exchange.send)
        except Exception:
            if exchange.answered:  # the gate answered (413, 408…): the application's end is moot
                return
            raise


_EXCHANGE = "keiretsu.exchange"


def http_protocol(header_timeout: float) -> type[asyncio.Protocol]:
    """uvicorn's HTTP/1.1 protocol (httptools where installed, else h11) that closes a
    connection which has not sent a whole request line and headers within ``header_timeout``
    seconds of connecting or of its last answer (slow-header clients; uvicorn's own keep-alive
    timeout only covers a connection that sends nothing at all). Pass it as ``http=`` to
    uvicorn."""
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    base: Any = AutoHTTPProtocol

    class HeaderDeadline(base):  # type: ignore[misc]
        deadline = header_timeout

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._head_timer: asyncio.TimerHandle | None = None

        def _busy(self) -> bool:
            """A request's head is complete and its answer not yet sent."""
            cycle = self.cycle
            return cycle is not None and not cycle.response_complete

        def _arm(self) -> None:
            self._disarm()
            self._head_timer = self.loop.call_later(self.deadline, self._too_slow)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _too_slow(self) -> None:
            self._head_timer = None
            transport = self.transport
            if self._busy() or transport.is_closing() or transport.get_protocol() is not self:
                return
            transport.close()

        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(transport)
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._busy():
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self._busy() and not self.transport.is_closing():
                self._arm()

        def handle_websocket_upgrade(self, *args: Any) -> None:
            self._disarm()
            super().handle_websocket_upgrade(*args)

    return HeaderDeadline
