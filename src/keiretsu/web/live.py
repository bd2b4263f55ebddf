"""Live updates: each document the node accepts is announced to the open pages by server-sent
events (``GET /obeya/events``, ``text/event-stream``).

The node calls its ``on_accepted`` listeners from its writer thread; :class:`Announcer` hands
each acceptance to every open stream's queue on the event loop. A page's script turns the
``capture`` event into an htmx trigger, and the parts of the page that show counts reload.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Awaitable, Callable

KEEPALIVE_SECONDS = 15.0
"""A comment line this often keeps proxies from closing an idle stream."""

STREAM_SECONDS = 8.0
"""A stream ends after this long and the browser opens the next one (``retry``: 1 s), telling
the last document it heard of (``Last-Event-ID``): a document accepted in between is announced
at once. Short, so that an open page never holds up the node's shutdown (uvicorn waits for
open responses) for more than this."""

QUEUE_SIZE = 100
"""Announcements a slow page may fall behind by; more are dropped (it reloads anyway)."""


class Announcer:
    """Fans each accepted document out to the open event streams."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streams: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[str]]] = set()

    def accepted(self, ingest_id: int, source: str) -> None:
        """The node's ``on_accepted`` listener (any thread): announce document ``ingest_id``
        from ``source`` (``local`` or a partner's name)."""
        message = json.dumps({"ingest_id": ingest_id, "source": source})
        with self._lock:
            streams = list(self._streams)
        for loop, queue in streams:
            try:
                loop.call_soon_threadsafe(_offer, queue, message)
            except RuntimeError:  # its loop is closed
                with self._lock:
                    self._streams.discard((loop, queue))

    async def stream(
        self,
        disconnected: Callable[[], Awaitable[bool]],
        *,
        heard: int | None = None,
        latest: Callable[[], int | None] | None = None,
        seconds: float = STREAM_SECONDS,
    ) -> AsyncIterator[str]:
        """The text of one event stream, for ``seconds`` or until the client goes
        (``disconnected``). ``heard``: the last document the client was told of (its
        ``Last-Event-ID``); if ``latest()`` (the newest accepted document) is past it, that
        is announced first."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_SIZE)
        entry = (loop, queue)
        with self._lock:
            self._streams.add(entry)
        try:
            yield "retry: 1000\n: connected\n\n"
            if heard is not None and latest is not None:
                newest = await asyncio.to_thread(latest)
                if newest is not None and newest > heard:
                    body = json.dumps({"ingest_id": newest, "source": "missed"})
                    yield f"id: {newest}\nevent: capture\ndata: {body}\n\n"
            end = loop.time() + seconds
            quiet_since = loop.time()
            while loop.time() < end:
                try:
                    message = await asyncio.wait_for(queue.get(), min(1.0, seconds))
                except TimeoutError:
                    if await disconnected():
                        return
                    if loop.time() - quiet_since >= KEEPALIVE_SECONDS:
                        quiet_since = loop.time()
                        yield ": keep-alive\n\n"
                    continue
                quiet_since = loop.time()
                ident = json.loads(message)["ingest_id"]
                yield f"id: {ident}\nevent: capture\ndata: {message}\n\n"
        finally:
            with self._lock:
                self._streams.discard(entry)

    def open_streams(self) -> int:
        """How many pages listen now."""
        with self._lock:
            return len(self._streams)


def _offer(queue: asyncio.Queue[str], message: str) -> None:
    if not queue.full():
        queue.put_nowait(message)
