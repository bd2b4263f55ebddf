"""The obeya's page cache (stale-while-revalidate) and its sessions kept across restarts,
without a browser: a page is computed once per state of the store, a request never waits
longer than the cache's wait, a newer state serves the last page marked stale while the next
is computed; sessions survive a new ``Sessions`` on the same file, hashed, and end on expiry
or revocation."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path

from keiretsu.node.auth import TokenStore
from keiretsu.web.cache import PageCache
from keiretsu.web.session import Sessions


class _World:
    """A store whose state is a counter, and builds that count their runs."""

    def __init__(self) -> None:
        self.state = 0
        self.logs = 0
        self.runs = 0
        self.gate = threading.Event()
        self.gate.set()

    def version(self) -> int:
        return self.state

    def open_log(self) -> str:
        self.logs += 1
        return f"log of state {self.state}"

    def build(self, log: str) -> str:
        self.gate.wait(10)
        self.runs += 1
        return f"page from {log}"


def _settle(cache: PageCache) -> None:
    deadline = time.monotonic() + 10
    while cache.pending() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_a_page_is_computed_once_per_state_and_served_stale_while_the_next_computes() -> None:
    world = _World()
    cache = PageCache(world.version, world.open_log, wait=0.2)
    first = cache.get("p", world.build)
    assert first is not None and first.result() == "page from log of state 0"
    assert not first.stale
    for _ in range(5):  # asked again: nothing computed again
        assert cache.get("p", world.build) is first
    assert world.runs == 1 and world.logs == 1
    # a new document: the old page at once, marked stale, and the next one in the background
    world.gate.clear()
    world.state = 1
    started = time.perf_counter()
    stale = cache.get("p", world.build)
    assert time.perf_counter() - started < 0.1
    assert stale is not None and stale.stale and stale.result() == "page from log of state 0"
    world.gate.set()
    _settle(cache)
    fresh = cache.get("p", world.build)
    assert fresh is not None and not fresh.stale
    assert fresh.result() == "page from log of state 1"
    assert world.runs == 2 and world.logs == 2
    cache.close()


def test_a_request_waits_at_most_the_wait_then_the_page_is_ready_later() -> None:
    world = _World()
    world.gate.clear()
    cache = PageCache(world.version, world.open_log, wait=0.1)
    started = time.perf_counter()
    assert cache.get("p", world.build) is None  # "being computed"
    assert time.perf_counter() - started < 0.5
    world.gate.set()
    _settle(cache)
    found = cache.get("p", world.build)
    assert found is not None and found.result() == "page from log of state 0"
    cache.close()


def test_refresh_recomputes_the_pages_asked_for_before_and_errors_are_kept() -> None:
    world = _World()
    cache = PageCache(world.version, world.open_log, wait=1.0)

    def broken(log: str) -> str:
        raise LookupError("no object 'x'")

    cache.refresh([("main", world.build)])  # warmed before anyone asks
    _settle(cache)
    assert world.runs == 1
    bad = cache.get("bad", broken)
    assert bad is not None and isinstance(bad.error, LookupError)
    world.state = 2
    cache.refresh()  # the node accepted a document
    _settle(cache)
    assert world.runs == 2  # recomputed without a request
    main = cache.get("main", world.build)
    assert main is not None and not main.stale and main.result().endswith("state 2")
    assert world.logs == 2  # one log per state, shared by the pages
    cache.close()


def test_after_a_new_document_the_quick_pages_are_recomputed_before_the_slow_one() -> None:
    # a million-event node: the network map takes minutes, the waste table a second — the
    # waste table must not wait behind the map in the worker's queue
    state = {"v": 0}
    done: list[str] = []

    def build(name: str, seconds: float) -> object:
        def run(log: str) -> str:
            time.sleep(seconds)
            done.append(name)
            return name

        return run

    cache = PageCache(lambda: state["v"], lambda: "log", wait=5)
    slow, quick = build("map", 0.3), build("waste", 0.01)
    assert cache.get("map", slow) is not None  # computed once: its cost is known
    assert cache.get("waste", quick) is not None
    done.clear()
    state["v"] = 1
    cache.refresh([("map", slow), ("waste", quick)])  # the map asked for first
    _settle(cache)
    assert done == ["waste", "map"]
    cache.close()


class _SlowPage:
    """A store whose state is a counter, and a page of 0.1 s that notes when each run ended."""

    def __init__(self) -> None:
        self.state = 0
        self.runs: list[float] = []

    def version(self) -> int:
        return self.state

    def open_log(self) -> str:
        return f"state {self.state}"

    def build(self, log: str) -> str:
        time.sleep(0.1)
        self.runs.append(time.monotonic())
        return log


def test_while_documents_keep_arriving_the_pages_take_their_share_then_catch_up() -> None:
    # a node taking captures: a document every 20 ms for 3 s, each one making the page stale;
    # recomputing it takes 0.1 s. The worker may spend its burst of 0.3 s, then a fifth of
    # the time — not recompute after every document, as it did while the writer waited
    world = _SlowPage()
    cache = PageCache(
        world.version,
        world.open_log,
        wait=5,
        share=0.2,
        burst=0.3,
        quiet=0.5,
    )
    assert cache.get("p", world.build) is not None
    world.runs.clear()
    started = time.monotonic()
    while time.monotonic() - started < 3.0:
        world.state += 1
        cache.refresh()
        time.sleep(0.02)
    busy = time.monotonic() - started
    during = len(world.runs)
    # unthrottled it recomputes back to back: ~30 times in 3 s
    assert during <= (0.3 + 0.2 * busy) / 0.1 + 2, during
    assert during >= 3  # but it does not stop: the pages still move while captures arrive
    # the captures stop: within the quiet time the page is recomputed for the last state
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        page = cache.get("p", world.build)
        if page is not None and not page.stale:
            break
        time.sleep(0.05)
    assert page is not None and not page.stale and page.result() == f"state {world.state}"
    assert time.monotonic() - started - busy < 0.5 + 0.1 + 1.0
    cache.close()


def test_a_writer_still_storing_is_not_quiet_though_no_document_was_accepted_lately() -> None:
    # an overloaded node accepts documents seconds apart: the gap is a long transaction, not
    # quiet, and the pages keep to their share until the writer has nothing in hand
    world = _SlowPage()
    busy = threading.Event()
    cache = PageCache(
        world.version,
        world.open_log,
        wait=5,
        share=0.1,
        burst=0.0,
        quiet=0.2,
        busy=busy.is_set,
    )
    # its 0.1 s spends the credit: 1 s to earn back
    assert cache.get("p", world.build) is not None
    world.runs.clear()
    busy.set()
    world.state = 1
    cache.refresh()  # accepted; then a long transaction, nothing accepted for a while
    time.sleep(0.6)
    assert world.runs == []  # past the quiet time, but the writer is busy: the page waits
    busy.clear()
    _settle(cache)
    assert len(world.runs) == 1
    page = cache.get("p", world.build)
    assert page is not None and not page.stale and page.result() == "state 1"
    cache.close()


def test_sessions_survive_a_restart_hashed_and_end_on_revocation_and_expiry(
    tmp_path: Path,
) -> None:
    tokens = TokenStore(tmp_path / "tokens.toml")
    alice = tokens.create("alice")
    bob = tokens.create("bob")
    path = tmp_path / "obeya-sessions.json"
    sessions = Sessions(tokens, path=path)
    sid_a = sessions.open("alice", alice)
    sid_b = sessions.open("bob", bob)
    written = path.read_text()
    assert sid_a not in written and alice not in written  # only hashes are kept
    assert hashlib.sha256(sid_a.encode()).hexdigest() in written
    assert path.stat().st_mode & 0o077 == 0
    restarted = Sessions(tokens, path=path)  # the node restarted
    assert restarted.user(sid_a) == "alice" and restarted.user(sid_b) == "bob"
    assert restarted.user("forged") is None
    tokens.revoke("bob")
    assert restarted.user(sid_b) is None
    assert len(json.loads(path.read_text())["sessions"]) == 1  # dropped from the file too
    restarted.close(sid_a)
    assert Sessions(tokens, path=path).user(sid_a) is None
    short = Sessions(tokens, seconds=0.05, path=path)
    sid = short.open("alice", alice)
    assert short.user(sid) == "alice"
    time.sleep(0.1)
    assert short.user(sid) is None
    assert Sessions(tokens, path=path).user(sid) is None


def test_pages_kept_on_disk_are_served_at_once_after_a_restart(tmp_path: Path) -> None:
    world = _World()
    cache = PageCache(world.version, world.open_log, wait=1.0, folder=tmp_path)
    page = cache.get(("vsm.html", "/obeya/vsm", ""), world.build)
    assert page is not None
    cache.close()
    # the node restarts on the same store: the page is there before anything is computed
    world.gate.clear()
    again = PageCache(world.version, world.open_log, wait=0.1, folder=tmp_path)
    found = again.get(("vsm.html", "/obeya/vsm", ""), world.build)
    assert found is not None and not found.stale
    assert found.result() == "page from log of state 0" and found.as_of == page.as_of
    assert world.runs == 1
    # documents arrived while it was down: the kept page, stale, while the next computes
    world.state = 5
    stale = again.get(("vsm.html", "/obeya/vsm", ""), world.build)
    assert stale is not None and stale.stale and stale.result() == "page from log of state 0"
    world.gate.set()
    _settle(again)
    assert again.get(("vsm.html", "/obeya/vsm", ""), world.build).result().endswith("state 5")  # type: ignore[union-attr]
    again.close()
