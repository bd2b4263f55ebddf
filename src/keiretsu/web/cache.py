"""The obeya's pages, computed in the background and served at once: stale-while-revalidate.

A page's figures are views of the whole log (the eight wastes, the value stream map…): on a
large store, or after new documents, computing them takes seconds to minutes — most of it, on
small stores, Ibis compiling the views' expressions to SQL. No request waits for that:

* every page is computed by **one background worker**, once per state of the store (the last
  document stored, the experiments' last moves: :func:`store_version`), on one
  :class:`~keiretsu.analytics.Log` whose building blocks (``Log.memo``) all pages share;
* the worker takes the **quickest pages first** (by how long each took last time; a page never
  computed counts as quick): on a log of a million events the network map's Transport
  evidence takes minutes, and a page of seconds does not wait behind it;
* when the node accepts a document, the worker recomputes the pages people have opened (and
  the main ones) at once — not when someone next asks;
* a request gets the **last computed page**, with the time it was computed ("as of") and
  whether a newer one is being computed; only a page never computed yet makes the request
  wait, and then at most :data:`WAIT_SECONDS` — after that it answers "being computed" and
  the browser asks again.

**The pages yield to the captures.** While documents keep arriving, recomputing pages the
store has moved past takes at most :data:`SHARE` of the time (with :data:`BURST_SECONDS` of
credit after a quiet spell); once no document has arrived for :data:`QUIET_SECONDS` and the
node's writer has nothing in hand (``busy``), the worker runs flat out. Without that cap, a
node taking captures recomputed its main pages after every commit: on two cores the worker
took ~40% of the node's CPU samples, and captures over HTTP ran at 2,383 events/s against
3,367 with the cap (``bench/node.py``, ``docs/benchmarks.md``). A page never computed is not
held back: someone may be waiting for it.

A page that failed (a bad query: 400, an unknown object: 404) is kept as its error, for the
same state of the store, like any page.

With a ``folder`` (the node home's ``obeya/pages/``), each page computed is also written there
as JSON, and read back when the node starts: after a restart the pages are served at once —
fresh if the store has not changed, else marked stale while they are recomputed.
"""

from __future__ import annotations

import collections
import concurrent.futures
import hashlib
import heapq
import itertools
import json
import os
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

WAIT_SECONDS = 1.0
"""How long a request waits for a page never computed before it is told "being computed"."""

KEPT_PAGES = 256
"""Pages kept (and recomputed after new documents) at most; the least recently asked go."""

SHARE = 0.2
"""While documents keep arriving, the share of wall time the worker may spend recomputing
pages the store has moved past; the rest is left to the node's reader and writer."""

BURST_SECONDS = 5.0
"""Seconds of page work the worker may spend at once before :data:`SHARE` holds it back (a
credit that builds up at :data:`SHARE` of a second per second, up to this)."""

QUIET_SECONDS = 2.0
"""No document accepted for this long, and the writer idle: the node is quiet, and the worker
no longer rests. (An overloaded writer accepts documents seconds apart: without asking it, the
worker took those gaps for quiet and ran flat out just when the node was busiest.)"""

KAIZEN_TABLES = ("experiment", "status", "note", "prediction", "measurement", "lesson")
"""The store's kaizen tables (append-only: their sizes say whether anything changed)."""


def store_version(cursor: Any) -> tuple[Any, ...]:
    """What the pages depend on, read in two small queries: the ingest log's last document
    and size, and the sizes of the kaizen tables (None for a store without them)."""
    ingest = cursor.execute("SELECT max(ingest_id), count(*) FROM ingest_log").fetchall()[0]
    try:
        kaizen = cursor.execute(
            "SELECT " + ", ".join(f"(SELECT count(*) FROM kaizen_{t})" for t in KAIZEN_TABLES)
        ).fetchall()[0]
    except Exception:  # a store without the kaizen tables
        kaizen = None
    return (tuple(ingest or ()), tuple(kaizen or ()))


@dataclass
class Computed:
    """One page as last computed: for which state of the store (``version``), when
    (``as_of``, UTC), how long it took (``seconds``), and its context or its error."""

    version: Hashable
    as_of: datetime
    seconds: float
    value: Any = None
    error: BaseException | None = None
    stale: bool = field(default=False, compare=False)
    """Set on the copy a request gets when the store has moved on since (a newer page is
    being computed)."""

    def result(self) -> Any:
        """The page's context, or its error raised."""
        if self.error is not None:
            raise self.error
        return self.value


class PageCache:
    """Pages computed by one background worker, once per state of the store, and served
    stale while a newer one computes (see the module docstring).

    ``version()``: the state of the store now (any thread); ``open_log()``: a fresh log of
    the store, called on the worker's thread when the state changed; ``busy()``: whether the
    node is storing or has documents waiting (called often: it must be quick and take no
    lock that a thread calling :meth:`refresh` may hold)."""

    def __init__(
        self,
        version: Callable[[], Hashable],
        open_log: Callable[[], Any],
        *,
        wait: float = WAIT_SECONDS,
        kept: int = KEPT_PAGES,
        folder: Path | None = None,
        share: float = SHARE,
        burst: float = BURST_SECONDS,
        quiet: float = QUIET_SECONDS,
        busy: Callable[[], bool] | None = None,
    ) -> None:
        self._version = version
        self._folder = folder
        self._open_log = open_log
        self.wait = wait
        self._kept = kept
        self._lock = threading.Lock()
        self._done: collections.OrderedDict[Hashable, Computed] = collections.OrderedDict()
        self._builds: dict[Hashable, Callable[[Any], Any]] = {}
        self._pending: dict[Hashable, concurrent.futures.Future[Computed]] = {}
        self._log: tuple[Hashable, Any] | None = None
        # the worker's queue: (seconds the page took last time, order asked, key, future)
        self._queue: list[tuple[float, int, Hashable, concurrent.futures.Future[Computed]]] = []
        self._order = itertools.count()
        self._wake = threading.Condition(self._lock)
        self._closed = False
        # the worker's credit of page-seconds (see SHARE), and when a document last arrived
        self.share, self.burst, self.quiet = max(share, 1e-3), burst, quiet
        self._busy = busy
        self._credit = burst
        self._credit_at = time.monotonic()
        self._changed_at = -float("inf")
        self._load()
        self._worker = threading.Thread(target=self._work, name="obeya-pages", daemon=True)
        self._worker.start()

    # --- asked by requests ----------------------------------------------------------------

    def get(self, key: Hashable, build: Callable[[Any], Any]) -> Computed | None:
        """The page ``key``: the one computed for the store as it is now; else the last one
        computed (``stale``), a newer one scheduled; else the one computed now if that takes
        less than ``wait`` seconds; else None (scheduled: ask again)."""
        now = self._version()
        with self._lock:
            self._builds[key] = build
            found = self._done.get(key)
            if found is not None:
                self._done.move_to_end(key)
        if found is not None and found.version == now:
            return found
        future = self._schedule(key)
        if found is not None:
            return Computed(
                found.version,
                found.as_of,
                found.seconds,
                found.value,
                found.error,
                stale=True,
            )
        try:
            return future.result(timeout=self.wait)
        except concurrent.futures.TimeoutError:
            return None

    def pending(self) -> int:
        """Pages waiting for the worker or being computed."""
        with self._lock:
            return len(self._pending)

    # --- the worker -------------------------------------------------------------------------

    def refresh(self, keys: Sequence[tuple[Hashable, Callable[[Any], Any]]] = ()) -> None:
        """Recompute, in the background, ``keys`` (with their builds: the pages to have
        ready, e.g. the main ones at start) and every page asked for before; each only if
        the store changed since it was computed. Called when the node accepts a document."""
        with self._lock:
            self._changed_at = time.monotonic()
            for key, build in keys:
                self._builds.setdefault(key, build)
            wanted = list(dict.fromkeys([*(k for k, _ in keys), *reversed(self._done)]))
            wanted += [k for k in self._builds if k not in wanted]
            wanted = [k for k in wanted if k in self._builds]  # pages read back: once asked
        self._schedule(*wanted)  # queued together: the quickest first, whatever their order

    def _schedule(self, *keys: Hashable) -> concurrent.futures.Future[Computed]:
        """Queue the pages ``keys`` (those not queued already) at once; the last one's future."""
        future: concurrent.futures.Future[Computed] = concurrent.futures.Future()
        with self._lock:
            for key in keys:
                future = self._pending.get(key) or concurrent.futures.Future()
                if key in self._pending:
                    continue
                if self._closed:
                    future.cancel()
                    continue
                last = self._done.get(key)
                cost = 0.0 if last is None else last.seconds
                heapq.heappush(self._queue, (cost, next(self._order), key, future))
                self._pending[key] = future
            self._wake.notify()
        return future

    def _work(self) -> None:
        """The worker: the quickest page waiting first, one at a time."""
        while True:
            with self._lock:
                while not self._queue and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                _, _, key, future = heapq.heappop(self._queue)
            if not future.set_running_or_notify_cancel():
                with self._lock:
                    self._pending.pop(key, None)
                continue
            try:
                future.set_result(self._run(key))
            except BaseException as exc:  # not a page's error (those are kept as pages)
                future.set_exception(exc)

    def _rest(self) -> bool:
        """Wait (holding ``_lock``) while documents keep arriving and the worker has spent its
        credit; False if the cache was closed meanwhile."""
        while not self._closed:
            now = time.monotonic()
            self._accrue(now)
            quiet_in = self._changed_at + self.quiet - now
            working = self._busy is not None and self._busy()
            if self._credit >= 0 or (quiet_in <= 0 and not working):
                return True
            self._wake.wait(min(-self._credit / self.share, quiet_in if quiet_in > 0 else 0.25))
        return False

    def _accrue(self, now: float) -> None:
        """The credit earned since it was last counted (``_lock`` held)."""
        self._credit = min(self.burst, self._credit + (now - self._credit_at) * self.share)
        self._credit_at = now

    def _run(self, key: Hashable) -> Computed:
        try:
            now = self._version()
            with self._lock:
                found = self._done.get(key)
                build = self._builds[key]
            if found is not None and found.version == now:
                return found
            if found is not None:
                # a page computed before, for a state since passed: it waits its turn while
                # the node is busy storing documents (see SHARE), then for the state by then
                with self._lock:
                    if not self._rest():
                        return found  # closed meanwhile: nobody will see it
                now = self._version()
            started = time.perf_counter()
            try:
                if self._log is None or self._log[0] != now:
                    self._log = None  # let the old one go before opening the next
                    self._log = (now, self._open_log())
                computed = Computed(now, datetime.now(UTC), 0.0, value=build(self._log[1]))
            except Exception as exc:  # kept: the request shows it (400, 404…)
                computed = Computed(now, datetime.now(UTC), 0.0, error=exc)
            computed.seconds = time.perf_counter() - started
            with self._lock:
                self._accrue(time.monotonic())
                self._credit -= computed.seconds
                self._done[key] = computed
                self._done.move_to_end(key)
                while len(self._done) > self._kept:
                    gone, _ = self._done.popitem(last=False)
                    self._builds.pop(gone, None)
                    if self._folder is not None:
                        self._file(gone).unlink(missing_ok=True)
            self._save(key, computed)
            return computed
        finally:
            with self._lock:
                self._pending.pop(key, None)

    # --- kept on disk -----------------------------------------------------------------------

    def _file(self, key: Hashable) -> Path:
        assert self._folder is not None
        return self._folder / (hashlib.sha256(repr(key).encode()).hexdigest()[:32] + ".json")

    def _save(self, key: Hashable, computed: Computed) -> None:
        """Write the page ``key`` (a page whose key and context JSON carries; others, and
        errors, stay in memory only)."""
        if self._folder is None or computed.error is not None:
            return
        try:
            text = json.dumps(
                {
                    "key": key,
                    "version": computed.version,
                    "as_of": computed.as_of.isoformat(),
                    "seconds": computed.seconds,
                    "value": computed.value,
                }
            )
        except (TypeError, ValueError):
            return
        self._folder.mkdir(parents=True, exist_ok=True)
        path = self._file(key)
        temp = path.with_name(path.name + ".tmp")
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, path)

    def _load(self) -> None:
        if self._folder is None or not self._folder.is_dir():
            return
        found = []
        for path in self._folder.glob("*.json"):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                found.append(
                    (
                        _tupled(data["key"]),
                        Computed(
                            _tupled(data["version"]),
                            datetime.fromisoformat(data["as_of"]),
                            float(data["seconds"]),
                            value=data["value"],
                        ),
                    )
                )
            except (OSError, ValueError, KeyError, TypeError):
                path.unlink(missing_ok=True)  # damaged: computed again when asked
        for key, computed in sorted(found, key=lambda kc: kc[1].as_of)[-self._kept :]:
            self._done[key] = computed

    def close(self) -> None:
        """Stop the worker (pages waiting are dropped; the one being computed finishes on
        its daemon thread, unseen)."""
        with self._lock:
            self._closed = True
            for _, _, key, future in self._queue:
                future.cancel()
                self._pending.pop(key, None)
            self._queue.clear()
            self._wake.notify_all()


def _tupled(value: Any) -> Any:
    """JSON's lists back as the tuples the keys and versions were."""
    if isinstance(value, list):
        return tuple(_tupled(v) for v in value)
    return value
