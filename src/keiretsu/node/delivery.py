"""Delivery that loses nothing: the outbox worker that pushes to each partner what it may see.

The store writes an outbox row per partner in the same transaction that accepts a document
(:meth:`keiretsu.store.Store.ingest`), so nothing accepted can be forgotten. Here, one loop per
partner takes the oldest documents still owed, reads their new events, lets the sharing policy
decide what of them leaves (:meth:`keiretsu.node.policy.Policy.apply`), and pushes that as an
OCEL 2.0 JSON document, signed for that partner, to its ``POST /partners/inbox``. Only a 2xx
answer — the partner has stored the document — marks the rows delivered; anything else is tried
again after a back-off (0.25 s doubling to 30 s, with jitter; ``KEIRETSU_DELIVERY_BACKOFF_MAX``
caps it lower, in seconds). The receiver stores events by id, so a push that was stored but
whose answer was lost is counted as known the second time: each event takes effect exactly
once. Documents go in order, a partner at a time.

**Delivery on commit.** The loops do not poll the outbox: the writer tells them
(``Node.on_accepted``) as soon as the transaction that accepted a document — and wrote its
outbox rows — has committed, and the loop of each partner starts its push at once. Each pass
clears its wake-up flag *before* it reads the outbox, so a document committed while a push is
being made is never missed: the pass after it finds the flag set and goes again. Documents
committed while a push is on its way are grouped into the next one. A back-off is a plain wait
(a partner that is down is not tried again on every commit).

The same loop pushes the node's **kaizen lessons** the policy lets the partner receive (lesson
rules, ``keiretsu.node.policy``) to its ``POST /partners/lessons``, signed: whenever what
lessons are written from (the kaizen tables, which only grow) or the policy has changed since
the last push that partner accepted — checked on each pass of the loop, at least every 5 s —
the partner's whole lesson view goes again; the receiver keeps an identical copy once. A failed
lesson push is retried after its own back-off and never holds up the events.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import random
import time
from dataclasses import dataclass, field

import httpx

from keiretsu.model.cbv import WHAT_ROLES
from keiretsu.model.ocel import Ocel
from keiretsu.node import stages
from keiretsu.node.auth import sign_request
from keiretsu.node.runtime import Node, tls_context

INBOX_PATH = "/partners/inbox"
LESSONS_PATH = "/partners/lessons"
MAX_EVENTS_PER_PUSH = 20_000
"""Documents owed are grouped into one push up to about this many events (catch-up goes fast)."""
BACKOFF_FIRST = 0.25
BACKOFF_MAX = 30.0
BACKOFF_MAX_ENV = "KEIRETSU_DELIVERY_BACKOFF_MAX"
"""Environment variable: the longest back-off between failed pushes, in seconds (default
:data:`BACKOFF_MAX`); lower it where a partner's restarts should be noticed sooner."""
IDLE_CHECK = 5.0
"""Seconds between passes when nothing is owed (lessons are checked then); a commit wakes the
loop at once."""


def backoff_max() -> float:
    """The back-off cap in force: ``KEIRETSU_DELIVERY_BACKOFF_MAX`` seconds, else 30 s."""
    text = os.environ.get(BACKOFF_MAX_ENV)
    if not text:
        return BACKOFF_MAX
    try:
        value = float(text)
    except ValueError:
        raise ValueError(
            f"{BACKOFF_MAX_ENV}={text!r}: expected a number of seconds (e.g. 2 or 0.5)"
        ) from None
    if not value >= BACKOFF_FIRST:
        raise ValueError(f"{BACKOFF_MAX_ENV}={text!r}: expected at least {BACKOFF_FIRST} s")
    return value


@dataclass
class PartnerLink:
    """The delivery state towards one partner (for ``GET /twin/partners``)."""

    partner: str
    pushes: int = 0
    events_sent: int = 0
    failures: int = 0
    last_error: str | None = None
    last_success: float | None = None
    backoff: float = 0.0
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    woken_at: float | None = None
    """When the commit that last woke the loop was announced (for the stage lines)."""
    unmarked: set[int] = field(default_factory=set)
    """Documents the partner has stored whose outbox rows the writer has not marked yet."""
    lessons_state: str | None = None
    """What the lessons were written from when the partner last accepted its lesson view."""
    lessons_pushes: int = 0
    lessons_sent: int = 0
    lessons_error: str | None = None
    lessons_backoff: float = 0.0
    lessons_retry_at: float = 0.0


def ocel_of_ingests(node: Node, ingest_ids: list[int]) -> Ocel:
    """The events the given documents brought (or corrected: an error declaration adds
    attributes to an event stored before), with their attributes, objects and relations —
    only the node's own rows: what partners pushed about the same objects is theirs, not the
    node's to pass on."""
    from keiretsu.store.partner_view import local_ocel

    cur = node.cursor()
    marks = ", ".join("?" for _ in ingest_ids)
    found = cur.execute(
        f"SELECT ocel_id, ingest_id FROM ocel_event WHERE ingest_id IN ({marks}) "
        f"OR ocel_id IN (SELECT ocel_id FROM event_attribute WHERE ingest_id IN ({marks})) "
        "ORDER BY ocel_time, ocel_seq",
        [*ingest_ids, *ingest_ids],
    ).fetchall()
    # the usual push: every event came in these documents, so its rows are read from the
    # tables' newer part only (a correction's event, stored before, needs the whole tables)
    first = min(ingest_ids)
    newer = first - 1 if all(ingest_id >= first for _, ingest_id in found) else None
    return local_ocel(cur, [eid for eid, _ in found], newer_than=newer)[0]


def goods_history(node: Node, ocel: Ocel) -> Ocel:
    """The node's own events of the goods ``ocel``'s events name, and of what is packed in
    them, with ``ocel``'s own, in the log's order: what the stock ledger reads to know where an
    item was and what a pallet held, so that the daily totals of a push are the twin's own
    figures for its events (``Policy.apply(history=)``). Two steps out: the goods (and
    containers) the events name, the events naming those, the goods those name (a pallet's
    contents), and their events."""
    from keiretsu.store.partner_view import goods_history as own_goods_history

    ids = ocel.events.column("ocel_id").combine_chunks().to_pylist()
    return own_goods_history(node.cursor(), ids, list(WHAT_ROLES))


def encode(ocel: Ocel) -> bytes:
    """An OCEL 2.0 JSON document in memory."""
    from keiretsu.io.ocel.jsonocel import write_ocel_json

    out = io.BytesIO()
    write_ocel_json(ocel, out)
    return out.getvalue()


class Delivery:
    """The outbox worker of one node: a loop per partner, woken when a document is accepted."""

    def __init__(self, node: Node, *, verify: bool | str = True) -> None:
        self.node = node
        self.links: dict[str, PartnerLink] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: httpx.AsyncClient | None = None
        self._verify = verify
        self._stopping = False
        self.backoff_max = backoff_max()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(30.0), verify=tls_context(self._verify)
        )
        self.node.on_accepted.append(self._accepted)
        self._ensure_loops()

    async def stop(self) -> None:
        self._stopping = True
        for task in self._tasks.values():
            task.cancel()
        for task in self._tasks.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._client is not None:
            await self._client.aclose()

    def _accepted(self, ingest_id: int, source: str) -> None:
        """Called on the writer thread as soon as a document of the node's own has committed
        (its outbox rows with it): wake the loops, which push it at once."""
        if self._loop is None or source != "local":
            return
        self._loop.call_soon_threadsafe(self._wake_all, stages.now())

    def _wake_all(self, committed: float | None = None) -> None:
        self._ensure_loops()
        for link in self.links.values():
            if not link.wake.is_set():
                link.woken_at = committed
            link.wake.set()

    def _ensure_loops(self) -> None:
        for name in self.node.partners():
            if name not in self._tasks or self._tasks[name].done():
                link = self.links.setdefault(name, PartnerLink(name))
                self._tasks[name] = asyncio.create_task(self._run(link), name=f"deliver-{name}")

    async def _run(self, link: PartnerLink) -> None:
        while not self._stopping:
            if link.partner not in self.node.partners():
                return  # removed from partners.toml: its outbox rows wait, undelivered
            # cleared before the outbox is read: a document committed from here on sets it
            # again, and the wait below returns at once (no wake-up is lost between the two)
            link.wake.clear()
            woken = link.woken_at
            # a push under way keeps the node busy: the obeya's pages hold back (Node.busy)
            self.node.sending += 1
            try:
                sent = await self._push_once(link, woken)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # counted, logged, retried after a back-off
                sent = None
                link.failures += 1
                link.last_error = f"{type(exc).__name__}: {exc}"
            finally:
                self.node.sending -= 1
            lessons_done = await self._lessons_once(link)
            if sent is None:
                link.backoff = min(self.backoff_max, max(BACKOFF_FIRST, link.backoff * 2))
                # a plain wait: a partner that is down is not tried again on every commit
                await asyncio.sleep(link.backoff * (0.5 + random.random() / 2))
            elif sent == 0:
                link.backoff = 0.0
                # nothing owed: wait for a commit (or for a lesson push to be retried)
                await self._wait(link, IDLE_CHECK if lessons_done else link.lessons_backoff)
            else:
                link.backoff = 0.0

    async def _wait(self, link: PartnerLink, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(link.wake.wait(), timeout=max(seconds, 0.01))

    async def _push_once(self, link: PartnerLink, woken: float | None = None) -> int | None:
        """Push the oldest documents owed to the partner. Returns the documents done (0:
        nothing was owed) or None if the push failed. ``woken``: when the commit that woke
        this pass was announced (stage lines only)."""
        node = self.node
        partner = node.partners().get(link.partner)
        if partner is None:
            return 0
        times: dict[str, float] = {"woken": woken or 0.0, "begun": stages.now()}
        pending = await asyncio.to_thread(
            lambda: node.store.outbox_pending(link.partner, limit=200, con=node.cursor())
        )
        times["outbox"] = stages.now()
        # documents pushed whose rows the writer has marked since no longer come back: forget
        # them; those still coming back are waiting for their mark: skip them
        link.unmarked.intersection_update(p[0] for p in pending)
        pending = [p for p in pending if p[0] not in link.unmarked]
        if not pending:
            return 0
        group: list[int] = []
        events = 0
        for ingest_id, new in pending:
            if group and events + new > MAX_EVENTS_PER_PUSH:
                break
            group.append(ingest_id)
            events += new
        body, shared_events = await asyncio.to_thread(self._prepare, link.partner, group, times)
        if shared_events == 0:  # the policy lets nothing of these documents leave
            await node.writer.run(lambda s: s.outbox_done(link.partner, group, events_sent=0))
            return len(group)
        delivery = f"{node.name}-{group[0]}-{group[-1]}"
        path = f"{INBOX_PATH}?delivery={delivery}"
        token = sign_request(
            node.identity, audience=link.partner, method="POST", path=path, body=body
        )
        times["signed"] = stages.now()
        assert self._client is not None
        try:
            response = await self._client.post(
                partner.url + path,
                content=body,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc or 'connection failed'}"
            await node.writer.run(lambda s: s.outbox_done(link.partner, group, error=error))
            link.failures += 1
            link.last_error = error
            return None
        times["answered"] = stages.now()
        if response.status_code >= 300:
            error = f"HTTP {response.status_code}: {response.text[:300]}"
            await node.writer.run(lambda s: s.outbox_done(link.partner, group, error=error))
            link.failures += 1
            link.last_error = error
            return None
        if stages.enabled():
            stages.record(
                "push",
                partner=link.partner,
                delivery=delivery,
                ingest_ids=group,
                events=shared_events,
                bytes=len(body),
                **times,
            )
        # Marked delivered by the writer when it gets to it: the next push need not wait behind
        # the captures it is storing. Until then these documents are skipped here; should the
        # node stop first, they are pushed again and the partner counts them as known.
        link.unmarked.update(group)
        marked = node.writer.submit(
            lambda s: s.outbox_done(link.partner, group, events_sent=shared_events)
        )
        marked.add_done_callback(
            lambda done: link.unmarked.difference_update(group) if done.exception() else None
        )
        link.pushes += 1
        link.events_sent += shared_events
        link.last_success = time.time()
        link.last_error = None
        return len(group)

    async def _lessons_once(self, link: PartnerLink) -> bool:
        """Push the partner's lesson view if it changed since the partner last accepted it.
        Returns False when a push failed and waits for its retry."""
        if time.monotonic() < link.lessons_retry_at:
            return False
        partner = self.node.partners().get(link.partner)
        if partner is None:
            return True
        try:
            state, body, count = await asyncio.to_thread(self._lessons, link)
            if body is None:  # nothing changed, or nothing the partner may receive
                link.lessons_state = state
                return True
            token = sign_request(
                self.node.identity,
                audience=link.partner,
                method="POST",
                path=LESSONS_PATH,
                body=body,
            )
            assert self._client is not None
            response = await self._client.post(
                partner.url + LESSONS_PATH,
                content=body,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            if response.status_code >= 300:
                raise RuntimeError(f"HTTP {response.status_code}: {response.text[:300]}")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # counted and retried after a back-off of its own
            link.lessons_error = f"{type(exc).__name__}: {exc or 'failed'}"
            link.lessons_backoff = min(
                self.backoff_max, max(BACKOFF_FIRST, link.lessons_backoff * 2)
            )
            link.lessons_retry_at = time.monotonic() + link.lessons_backoff
            return False
        link.lessons_state = state
        link.lessons_pushes += 1
        link.lessons_sent += count
        link.lessons_error = None
        link.lessons_backoff = 0.0
        return True

    def _lessons(self, link: PartnerLink) -> tuple[str, bytes | None, int]:
        """What the lessons are written from now, and — if it changed since the partner's
        last accepted push — the body of a push of its lesson view (None: nothing to push)."""
        from keiretsu.node.routes.lessons import lesson_state, lesson_view

        state = lesson_state(self.node)
        if state == link.lessons_state:
            return state, None, 0
        view = lesson_view(self.node, link.partner)
        if not view:
            return state, None, 0
        body = json.dumps({"lessons": view}, sort_keys=True, allow_nan=False).encode()
        return state, body, len(view)

    def _prepare(
        self, partner: str, group: list[int], times: dict[str, float] | None = None
    ) -> tuple[bytes, int]:
        """The body of a push of documents ``group`` to ``partner`` and the events in it
        (0: the policy lets nothing leave). ``times`` gets when each stage ended."""
        times = times if times is not None else {}
        ocel = ocel_of_ingests(self.node, group)
        times["read"] = stages.now()
        # daily totals are counted on the ledger of the goods' whole history, not the batch's
        totals = self.node.policy().counts_totals(partner, "push")
        history = goods_history(self.node, ocel) if totals and ocel.num_events else None
        shared = self.node.share(ocel, partner, history=history)
        times["policy"] = stages.now()
        if shared.num_events == 0:
            return b"", 0
        body = encode(shared)
        times["encoded"] = stages.now()
        return body, shared.num_events
