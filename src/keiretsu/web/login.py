"""Logging in without JavaScript: the login page's plain HTML form, posted as a form.

With JavaScript the login page sends the token once, in the ``Authorization`` header of
``POST /obeya/login``. Without it the browser posts the form itself: the token comes in the
body (``application/x-www-form-urlencoded``: ``token``, ``next``), and the node's transport
gate reads no body of a caller it has not identified from its headers. :class:`FormLogin`, an
ASGI middleware outside the gate, takes that one request — ``POST /obeya/login``, a form, no
``Authorization`` header — reads its small body (at most :data:`FORM_LIMIT` bytes, within
:data:`FORM_TIMEOUT` seconds; ``413``/``408`` otherwise), and hands it on as the script would
have sent it: the token in ``Authorization: Bearer``, no body. The gate then admits or refuses
the caller from the header as for any request (a wrong token is a failure counted against the
address; a partner's signed token is refused with ``403``), and the login route answers the
form: a ``303`` to ``next`` (a path of the obeya only) with the session cookie, or the login
page again saying what was wrong. No other path and no other request is touched.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

__all__ = ["FORM", "FORM_LIMIT", "FORM_TIMEOUT", "FormLogin"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

FORM = "keiretsu.obeya.login_form"
"""Scope key set on a login posted as a form: the ``next`` field (``""`` when none)."""

FORM_LIMIT = 4096
"""Largest login form body in bytes (a token and a path)."""

FORM_TIMEOUT = 10.0
"""Seconds the whole login form body may take to arrive."""

_DROPPED = (b"content-type", b"content-length", b"transfer-encoding", b"authorization")


async def _answer(send: Send, status: int, text: str) -> None:
    body = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class FormLogin:
    """The obeya's login form posted without JavaScript (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, path: str = "/obeya/login") -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope.get("method") != "POST"
            or scope.get("path") != self.path
        ):
            await self.app(scope, receive, send)
            return
        headers = [(bytes(k).lower(), bytes(v)) for k, v in scope.get("headers", [])]
        named = dict(headers)
        kind = named.get(b"content-type", b"").split(b";")[0].strip().lower()
        if b"authorization" in named or kind != b"application/x-www-form-urlencoded":
            await self.app(scope, receive, send)  # the script's login, or not a form
            return
        try:
            declared = int(named.get(b"content-length", b"0") or 0)
        except ValueError:
            await _answer(send, 400, "Content-Length is not a number")
            return
        if declared > FORM_LIMIT:
            await _answer(send, 413, f"a login form is at most {FORM_LIMIT} bytes")
            return
        try:
            body = await asyncio.wait_for(self._read(receive), FORM_TIMEOUT)
        except TimeoutError:
            await _answer(send, 408, f"the login form did not arrive within {FORM_TIMEOUT:g} s")
            return
        if body is None:
            await _answer(send, 413, f"a login form is at most {FORM_LIMIT} bytes")
            return
        fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=8)
        token = (fields.get("token") or [""])[0].strip()
        kept = [(k, v) for k, v in headers if k not in _DROPPED]
        # a token fit for a header only (printable ASCII, no space); anything else goes on
        # without one, and the gate refuses it as it refuses a request with no token
        if token and token.isascii() and token.isprintable() and " " not in token:
            kept.append((b"authorization", b"Bearer " + token.encode("ascii")))
        inner = dict(scope)
        inner["headers"] = kept
        inner[FORM] = (fields.get("next") or [""])[0]
        sent = False

        async def empty() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": b"", "more_body": False}
            return await receive()

        await self.app(inner, empty, send)

    @staticmethod
    async def _read(receive: Receive) -> bytes | None:
        """The whole body, or None past :data:`FORM_LIMIT` bytes."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = bytes(message.get("body", b""))
            size += len(chunk)
            if size > FORM_LIMIT:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)
