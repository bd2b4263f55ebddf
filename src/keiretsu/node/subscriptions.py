"""Streaming subscriptions: after every accepted document, each subscription to a named query
gets the document's matching events — a webhook as a signed POST, a WebSocket as a message.
The hub is told by the writer as soon as the document's transaction commits (no poll); the
documents that committed while it was busy are notified together, in order.

Webhook POSTs carry ``GS1-Signature: sha256=<hex HMAC-SHA256 of the body keyed with the
subscription's signatureToken>`` and are tried three times (0.5 s, 2 s apart); a subscriber that
was down longer misses them and can catch up with ``GET /queries/{name}/events`` (the durable,
exactly-once path between nodes is the outbox, :mod:`keiretsu.node.delivery`). A partner's
subscription gets only what the sharing policy lets leave for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from fastapi import WebSocket, WebSocketDisconnect

from keiretsu.node import stages
from keiretsu.node.runtime import Node, tls_context
from keiretsu.node.security import Principal
from keiretsu.node.sharing import log_cursor, render, scope_of
from keiretsu.store import Store, named_queries

RETRIES = (0.5, 2.0)


def signature(token: str, body: bytes) -> str:
    """The ``GS1-Signature`` header of a webhook POST."""
    return "sha256=" + hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class _Listener:
    query_name: str
    who: Principal
    queue: asyncio.Queue[dict[str, Any]]


class Subscriptions:
    """The node's subscription hub."""

    def __init__(self, node: Node, *, verify: bool | str = True) -> None:
        self.node = node
        self._verify = verify
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ingests: asyncio.Queue[tuple[int, float]] = asyncio.Queue()
        self._listeners: list[_Listener] = []
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._ingests = asyncio.Queue()
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(10.0), verify=tls_context(self._verify)
        )
        self.node.on_accepted.append(self._accepted)
        self._task = asyncio.create_task(self._run(), name="subscriptions")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._client is not None:
            await self._client.aclose()

    def _accepted(self, ingest_id: int, source: str) -> None:
        """Called on the writer thread as soon as a document has committed: queue it for
        notifying (the hub's task takes it at once)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._ingests.put_nowait, (ingest_id, stages.now()))

    async def stream(self, websocket: WebSocket, query_name: str, who: Principal) -> None:
        """Serve one WebSocket subscriber until it goes away."""
        listener = _Listener(query_name, who, asyncio.Queue(maxsize=1000))
        self._listeners.append(listener)
        try:
            receiver = asyncio.create_task(websocket.receive_text())
            while True:
                getter = asyncio.create_task(listener.queue.get())
                done, _ = await asyncio.wait(
                    {receiver, getter}, return_when=asyncio.FIRST_COMPLETED
                )
                if receiver in done:  # the client closed (or sent something: ignored)
                    getter.cancel()
                    try:
                        receiver.result()
                    except WebSocketDisconnect:
                        return
                    receiver = asyncio.create_task(websocket.receive_text())
                    continue
                await websocket.send_text(orjson.dumps(getter.result()).decode())
        except WebSocketDisconnect:
            return
        finally:
            self._listeners.remove(listener)

    async def _run(self) -> None:
        while True:
            batch = [await self._ingests.get()]
            # documents committed together (or while the last were notified) are taken
            # together: the subscriptions are read once for all of them
            while not self._ingests.empty():
                batch.append(self._ingests.get_nowait())
            try:
                await self._notify(batch)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noted; the next document is still notified
                self.node.audit.write(
                    "subscription", "failed", reason=type(exc).__name__, detail=str(exc)
                )

    async def _notify(self, batch: list[tuple[int, float]]) -> None:
        node = self.node
        begun = stages.now()
        followed, queries = await asyncio.to_thread(
            lambda: (
                named_queries.subscriptions_with_queries(node.cursor()),
                named_queries.query_texts(node.cursor()),
            )
        )
        for ingest_id, committed in batch:
            for sub, text in followed:
                kind, _, owner_name = sub.owner.partition(":")
                who = Principal("partner" if kind == "partner" else "local", owner_name)
                sid = sub.subscription_id
                doc = await asyncio.to_thread(
                    self._results, ingest_id, sub.query_name, text, who, sid
                )
                if doc is not None:
                    await self._post(sid, sub.dest, sub.signature_token, doc)
            for listener in list(self._listeners):
                query = queries.get((scope_of(listener.who), listener.query_name))
                if query is None:
                    continue
                doc = await asyncio.to_thread(
                    self._results, ingest_id, listener.query_name, query, listener.who, None
                )
                if doc is not None and not listener.queue.full():
                    listener.queue.put_nowait(doc)
            if stages.enabled():
                stages.record(
                    "notify",
                    ingest_id=ingest_id,
                    committed=committed,
                    begun=begun,
                    notified=stages.now(),
                    batch=len(batch),
                )

    def _results(
        self, ingest_id: int, name: str, query: str, who: Principal, sid: str | None
    ) -> dict[str, Any] | None:
        """The events of document ``ingest_id`` that the named query selects, as ``who``
        sees them: a partner's subscription runs on its view (by the ``subscribe`` channel),
        so it is told only of events it may see, matched on values it may see."""
        from keiretsu.node.query import query_document, query_from_json, select_events

        q = query_from_json(json.loads(query))
        cur = log_cursor(self.node, who, "subscribe")
        ids = select_events(cur, q, limit=10**9, ingest_id=ingest_id).event_ids
        if not ids:
            return None
        events = render(self.node, who, ids, "subscribe", cursor=cur)
        return query_document(events, query_name=name, subscription_id=sid)

    async def _post(self, sid: str, dest: str, token: str | None, doc: dict[str, Any]) -> None:
        assert self._client is not None
        body = orjson.dumps(doc)
        headers = {"Content-Type": "application/ld+json"}
        if token:
            headers["GS1-Signature"] = signature(token, body)
        for pause in (*RETRIES, None):
            try:
                response = await self._client.post(dest, content=body, headers=headers)
                if response.status_code < 300:
                    await self.node.writer.run(
                        functools.partial(_notified, sid=sid, now=datetime.now(UTC))
                    )
                    return
            except httpx.HTTPError:
                pass
            if pause is None:
                self.node.audit.write("subscription", "failed", subject=sid, dest=dest)
                return
            await asyncio.sleep(pause)


def _notified(store: Store, *, sid: str, now: datetime) -> None:
    named_queries.mark_notified(store.con, sid, now)
