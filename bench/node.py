"""Node server: capture throughput over HTTP, latency from a node to its partner, catch-up.

    .venv/bin/python bench/node.py             # about 15 minutes: 3 runs of each figure
    .venv/bin/python bench/node.py --quick     # about two minutes, a smoke run
    .venv/bin/python bench/node.py --only latency --runs 5 --src ../before/src   # A/B

Every figure is followed by its **stage breakdown**: each node writes a line per step it takes
of a document (``KEIRETSU_STAGES``, :mod:`keiretsu.node.stages`), on the machine's one clock, and
the bench joins them per document — for capture: accept (POST answered), spool, wait for the
reader, read (parse, validate, map in the reader process), wait for the writer, store (the
group's transaction), partners' views and telling; for A → B: the same at A, then wait for the
push loop, outbox read, events read back, policy, encode, sign, send (HTTP, verify, body),
parse at B, wait for B's writer, store at B, to the hub, notify (query and render), WebSocket.
Medians and p99 per stage, ms. With ``--runs N`` each figure is measured N times (fresh nodes
each time) and the median run is the headline.

Real node processes (``python -m keiretsu node serve``) on loopback, each with its own store:

1. **Capture throughput.** ``--clients`` HTTP clients each POST an EPCIS 2.0 JSON document of
   ``--size`` events to ``/capture``, wait for its capture job to finish, and post the next, for
   ``--seconds``. The figure is the events of the jobs that finished successfully within that
   time, over that time; the writer's backlog (``GET /twin``) is sampled every few seconds.
   Two workloads: ``stream`` (consecutive slices of one synthetic stream of the two-company
   chain put in time order: new objects, each document after the last, as a plant posts what
   it records) and ``seeds`` (whole
   synthetic documents of distinct seeds: new event ids, but the *same* objects over the same
   week each time, so every document lands in the middle of every object's trace).
2. **Latency to a partner.** Node A shares everything with node B. B has a named query over
   everything and a WebSocket subscription to it, which B's hub fills as soon as B has stored a
   push. Documents are captured at A at a steady pace (``--rate`` events/s in documents of
   ``--latency-size``); a document's latency is from the moment its POST left the client to the
   moment the last of its events arrived on B's WebSocket. p50/p99 over the documents.
3. **Catch-up.** B is killed (SIGKILL), ``--outage-events`` are captured at A, B is started
   again; the figure is the time until A's ``GET /twin/partners`` owes B nothing, and events/s.

The documents are made in the client process by :mod:`keiretsu.io.epcis.synth` (a thread keeps
a few ahead of the senders); the machine's load is printed with the figures.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import json
import os
import platform
import queue
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parents[1]

SHARE_ALL = """
[[rule]]
id = "everything-to-{partner}"
effect = "permit"
subjects = ["{partner}"]
rights = ["read"]
keep_attributes = ["*"]
share_objects = ["*"]
"""

SERVE = [sys.executable, "-m", "keiretsu", "node", "serve"]
STARTED: list[Node] = []  # stopped at the end, whatever happened
SRC: str | None = None  # --src: the nodes run this source tree (A/B against a worktree)

HEAD = (
    b'{"@context":["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"],'
    b'"type":"EPCISDocument","schemaVersion":"2.0","creationDate":"2024-03-01T00:00:00Z",'
    b'"epcisBody":{"eventList":[\n'
)


# --- nodes ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Node:
    """A node served by its own process on loopback."""

    name: str
    store: Path
    port: int
    token: str
    home: Any
    proc: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.home.root / "serve.log"
        self.stages = self.home.root / "stages.jsonl"

    def stage_lines(self) -> list[dict[str, Any]]:
        """The node's stage lines (``KEIRETSU_STAGES``), read after it stopped."""
        if not self.stages.exists():
            return []
        return [orjson.loads(line) for line in self.stages.read_bytes().splitlines() if line]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 300.0) -> float:
        """Start the node; returns the seconds until it answered."""
        t0 = time.perf_counter()
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [*SERVE, "--store", str(self.store), "--port", str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=node_env(self.stages),
            )
        STARTED.append(self)
        deadline = t0 + timeout
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"node {self.name} exited: {self.log.read_text()[-3000:]}")
            try:
                with self.client() as c:
                    if c.get("/").status_code == 200:
                        return time.perf_counter() - t0
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"node {self.name} did not answer: {self.log.read_text()[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=120.0
        )

    def twin(self) -> dict[str, Any]:
        with self.client() as c:
            body: dict[str, Any] = c.get("/twin").json()
            return body

    def owed(self, partner: str) -> int:
        with self.client() as c:
            rows = c.get("/twin/partners").json()
        return int(next(r for r in rows if r["name"] == partner)["documents_owed"])


def node_env(stages: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "KEIRETSU_STAGES": str(stages)}
    if SRC:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (SRC, env.get("PYTHONPATH")) if p)
    return env


def make_node(root: Path, name: str) -> Node:
    from keiretsu.node.auth import TokenStore
    from keiretsu.node.home import NodeHome

    port = free_port()
    store = root / name / "twin.duckdb"
    home = NodeHome.init(store, name, url=f"http://127.0.0.1:{port}")
    token = TokenStore(home.tokens_path).create("bench")
    return Node(name=name, store=store, port=port, token=token, home=home)


def make_pair(root: Path) -> tuple[Node, Node]:
    """A (sharing everything with B) and B, partners of each other, not started."""
    a, b = make_node(root, "a"), make_node(root, "b")
    a.home.add_partner(b.name, b.url, b.home.identity().public_key_text)
    b.home.add_partner(a.name, a.url, a.home.identity().public_key_text)
    a.home.policy_path.write_text(SHARE_ALL.format(partner=b.name), encoding="utf-8")
    return a, b


# --- documents ------------------------------------------------------------------------------


@dataclass
class Document:
    body: bytes
    event_ids: list[str]


def _document(events: list[dict[str, Any]]) -> Document:
    body = HEAD + b",\n".join(orjson.dumps(e) for e in events) + b"\n]}}\n"
    return Document(body, [str(e["eventID"]) for e in events])


def time_ordered(events: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The synthetic chain's events in time order, as a plant captures them. The generator
    yields a pallet cycle at a time and a cycle's later steps (shipping, receiving at the DC)
    come hours after the next cycles start; a cycle's first event (raw material received)
    is its earliest and no later cycle starts before it, so everything held back that is not
    later than it can go."""
    held: list[tuple[datetime, int, dict[str, Any]]] = []
    for n, event in enumerate(events):
        at = datetime.fromisoformat(event["eventTime"])
        if event.get("bizStep") == "receiving" and "quantityList" in event:
            while held and held[0][0] <= at:
                yield heapq.heappop(held)[2]
        heapq.heappush(held, (at, n, event))
    while held:
        yield heapq.heappop(held)[2]


def documents(size: int, workload: str, seed: int) -> Iterator[Document]:
    """Endless documents of ``size`` events, every event new (see the module's docstring)."""
    from keiretsu.io.epcis.synth import synthetic_events

    if workload == "stream":
        # one long stream in time order cut into documents (the total only sets the pace of
        # the chain's clock: 5M events span about five months)
        stream = time_ordered(synthetic_events(5_000_000, seed=seed))
        while True:
            yield _document(list(itertools.islice(stream, size)))
    for s in itertools.count(seed):
        yield _document(list(synthetic_events(size, seed=s)))


class Feeder:
    """Makes documents on a thread, a few ahead of whoever takes them."""

    def __init__(self, size: int, workload: str, seed: int, ahead: int) -> None:
        self.queue: queue.Queue[Document] = queue.Queue(maxsize=ahead)
        self._source = documents(size, workload, seed)
        self._stop = threading.Event()
        self.cpu_seconds = 0.0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            t0 = time.thread_time()
            doc = next(self._source)
            self.cpu_seconds += time.thread_time() - t0
            while not self._stop.is_set():
                try:
                    self.queue.put(doc, timeout=0.2)
                    break
                except queue.Full:
                    continue

    def get(self) -> Document:
        return self.queue.get()

    def close(self) -> None:
        self._stop.set()


def post(c: httpx.Client, doc: Document) -> str:
    r = c.post("/capture", content=doc.body, headers={"Content-Type": "application/json"})
    if r.status_code != 202:
        raise RuntimeError(f"capture refused: {r.status_code} {r.text[:500]}")
    return r.headers["location"]


def wait_job(c: httpx.Client, location: str, poll: float = 0.02) -> dict[str, Any]:
    while True:
        job: dict[str, Any] = c.get(location).json()
        if not job["running"]:
            return job
        time.sleep(poll)


def _seconds(job: dict[str, Any]) -> float:
    created = datetime.fromisoformat(job["createdAt"].replace("Z", "+00:00"))
    finished = datetime.fromisoformat(job["finishedAt"].replace("Z", "+00:00"))
    return (finished - created).total_seconds()


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


# --- 1. capture throughput -----------------------------------------------------------------


def capture_throughput(
    root: Path, *, seconds: float, clients: int, size: int, workload: str
) -> dict[str, Any]:
    node = make_node(root, f"solo-{workload}")
    node.start()
    feeder = Feeder(size, workload, seed=1, ahead=clients * 3)
    while feeder.queue.qsize() < clients * 2:  # let it get ahead before the clock starts
        time.sleep(0.05)
    lock = threading.Lock()
    done: list[tuple[float, int, float, float]] = []  # (finished at, events, job s, ingest s)
    accepts: list[float] = []
    posted: dict[str, float] = {}  # capture id -> wall clock when its POST left
    failures: list[str] = []
    backlog: list[int] = []
    t0 = time.perf_counter()
    deadline = t0 + seconds

    def sender() -> None:
        with node.client() as c:
            while time.perf_counter() < deadline:
                doc = feeder.get()
                ts = time.perf_counter()
                wall = time.time()
                location = post(c, doc)
                accepted = time.perf_counter() - ts
                with lock:
                    posted[location.rsplit("/", 1)[-1]] = wall
                job = wait_job(c, location)
                now = time.perf_counter()
                with lock:
                    accepts.append(accepted)
                    if job["success"]:
                        report = job["keiretsu:report"]
                        done.append((now, report["events_new"], _seconds(job), report["seconds"]))
                    else:
                        failures.append(json.dumps(job["errors"])[:300])

    def sampler() -> None:
        while time.perf_counter() < deadline:
            time.sleep(min(3.0, max(0.0, deadline - time.perf_counter())))
            backlog.append(int(node.twin()["writer_backlog"]))

    threads = [threading.Thread(target=sender) for _ in range(clients)]
    threads.append(threading.Thread(target=sampler))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    feeder.close()
    in_time = [d for d in done if d[0] <= deadline]
    events = sum(d[1] for d in in_time)
    stored = int(node.twin()["store"]["events"])
    node.stop()
    if failures:
        raise RuntimeError(f"capture jobs failed: {failures[:3]}")
    lines = node.stage_lines()
    return {
        "stages": capture_stages(lines, posted),
        "floors": capture_floors(lines),
        "workload": workload,
        "seconds": seconds,
        "clients": clients,
        "size": size,
        "documents": len(in_time),
        "events": events,
        "events_per_s": events / seconds,
        "stored_at_end": stored,
        "accept_ms_p50": 1000 * statistics.median(accepts) if accepts else float("nan"),
        "job_s_p50": statistics.median(d[2] for d in done) if done else float("nan"),
        "ingest_s_p50": statistics.median(d[3] for d in done) if done else float("nan"),
        "backlog_max": max(backlog, default=0),
        "backlog_last": backlog[-1] if backlog else 0,
        "feeder_cpu_share": feeder.cpu_seconds / (time.perf_counter() - t0),
    }


# --- 2. latency from A to B -----------------------------------------------------------------


class Watcher:
    """B's WebSocket subscription to everything: when each event id arrived."""

    def __init__(self, node: Node, query: str = "bench-everything") -> None:
        from websockets.sync.client import connect

        with node.client() as c:
            r = c.post("/queries", json={"name": query, "query": {}})
            if r.status_code not in (200, 201):
                raise RuntimeError(f"named query refused: {r.status_code} {r.text[:300]}")
        url = f"ws://127.0.0.1:{node.port}/queries/{query}/subscriptions?token={node.token}"
        self.ws = connect(url, max_size=None, open_timeout=30)
        self.seen: dict[str, float] = {}
        self.messages = 0
        self.lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for message in self.ws:
                now = time.time()
                body = orjson.loads(message)
                events = body["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
                with self.lock:
                    self.messages += 1
                    for e in events:
                        self.seen.setdefault(str(e.get("eventID")), now)
        except Exception:  # closed at the end of the run
            return

    def arrived(self, ids: list[str], sender: str = "a") -> float | None:
        """When the last of ``ids`` (as captured at ``sender``) arrived; B keeps a partner's
        events under the sender's namespace (``keiretsu.store.received``)."""
        from keiretsu.store.received import received_id

        with self.lock:
            times = [self.seen.get(received_id(sender, i)) for i in ids]
        if any(t is None for t in times):
            return None
        return max(t for t in times if t is not None)

    def close(self) -> None:
        self.ws.close()


def latency(root: Path, *, count: int, size: int, rate: float) -> dict[str, Any]:
    a, b = make_pair(root / f"latency-{size}")
    a.start()
    b.start()
    watcher = Watcher(b)
    feeder = Feeder(size, "stream", seed=2, ahead=20)
    docs = [feeder.get() for _ in range(count)]
    feeder.close()
    interval = size / rate
    sent: list[float] = []
    captures: list[str] = []
    with a.client() as c:
        post(c, docs[0])  # warm both nodes and the delivery loop (not counted)
        deadline = time.perf_counter() + 60
        while watcher.arrived(docs[0].event_ids) is None and time.perf_counter() < deadline:
            time.sleep(0.05)
        backlog = 0
        next_at = time.perf_counter()
        for doc in docs[1:]:
            now = time.perf_counter()
            if next_at > now:
                time.sleep(next_at - now)
            sent.append(time.time())  # wall clock: the nodes' stage lines use it too
            captures.append(post(c, doc).rsplit("/", 1)[-1])
            next_at += interval
        send_seconds = time.time() - sent[0]
        backlog = int(a.twin()["writer_backlog"])
    deadline = time.perf_counter() + 300
    arrived: list[float | None] = []
    while time.perf_counter() < deadline:
        arrived = [watcher.arrived(d.event_ids) for d in docs[1:]]
        if all(t is not None for t in arrived):
            break
        time.sleep(0.1)
    watcher.close()
    a.stop()
    b.stop()
    lat = [t - s for t, s in zip(arrived, sent, strict=True) if t is not None]
    missing = sum(1 for t in arrived if t is None)
    if missing:
        raise RuntimeError(f"{missing} documents never arrived at B")
    half = len(lat) // 2
    return {
        "stages": latency_stages(
            a.stage_lines(),
            b.stage_lines(),
            [
                (cid, s, t)
                for cid, s, t in zip(captures, sent, arrived, strict=True)
                if t is not None
            ],
        ),
        "documents": len(lat),
        "size": size,
        "rate": rate,
        "offered_events_per_s": (len(lat) * size) / send_seconds,
        "p50_ms": 1000 * statistics.median(lat),
        "p99_ms": 1000 * pct(lat, 99),
        "max_ms": 1000 * max(lat),
        "first_half_p50_ms": 1000 * statistics.median(lat[:half]),
        "second_half_p50_ms": 1000 * statistics.median(lat[half:]),
        "a_backlog_after_sending": backlog,
        "ws_messages": watcher.messages,
    }


# --- stage breakdowns -----------------------------------------------------------------------


def _by(lines: list[dict[str, Any]], kind: str, key: str) -> dict[Any, dict[str, Any]]:
    return {line[key]: line for line in lines if line["kind"] == kind and line.get(key)}


def _segments(points: list[tuple[str, float | None]]) -> dict[str, float]:
    """Stage durations (ms) between consecutive time points (name: the stage that ends at
    the point); a missing point merges its stage into the next. Steps that overlap (a
    listener told before the writer's last stamp) count as 0."""
    out: dict[str, float] = {}
    last: float | None = None
    pending = ""
    for name, at in points:
        if at is None:
            pending = pending or name
            continue
        label = f"{pending} + {name}" if pending else name
        pending = ""
        if last is not None:
            out[label] = max(0.0, 1000 * (at - last))
        last = at
    return out


def capture_stages(lines: list[dict[str, Any]], posted: dict[str, float]) -> list[dict[str, float]]:
    """Per capture: where its time went, from the POST leaving the client to the partners'
    listeners told (ms)."""
    reads = _by(lines, "read", "document")
    out = []
    for cap in (line for line in lines if line["kind"] == "capture"):
        read = reads.get(f"capture/{cap['capture']}", {})
        out.append(
            _segments(
                [
                    ("POST sent", posted.get(cap["capture"])),
                    ("receive", cap.get("received")),
                    ("spool (fsync)", cap.get("spooled")),
                    ("wait for the reader", read.get("begun")),
                    ("read (parse, validate, map)", read.get("read")),
                    ("wait for the writer", cap.get("store_begun")),
                    ("store (the group's transaction)", cap.get("committed")),
                    ("partners' views, listeners told", cap.get("told")),
                ]
            )
        )
    return out


def capture_floors(lines: list[dict[str, Any]]) -> dict[str, float]:
    """What each of the two busy stages could do alone: events per second of the reader's
    time and of the writer's time (a group's transaction counted once)."""
    reads = [line["read"] - line["begun"] for line in lines if line["kind"] == "read"]
    caps = [line for line in lines if line["kind"] == "capture" and line.get("committed")]
    events = sum(int(c.get("events") or 0) for c in caps)
    groups = {(c["store_begun"], c["committed"]) for c in caps if c.get("store_begun")}
    writer = sum(end - begin for begin, end in groups)
    return {
        "reader_events_per_s": events / sum(reads) if reads and sum(reads) else 0.0,
        "writer_events_per_s": events / writer if writer else 0.0,
        "group_mean": len(caps) / len(groups) if groups else 0.0,
    }


def latency_stages(
    a_lines: list[dict[str, Any]],
    b_lines: list[dict[str, Any]],
    docs: list[tuple[str, float, float | None]],
) -> list[dict[str, float]]:
    """Per document captured at A: where its time went until its last event arrived on B's
    WebSocket (ms), joining A's capture, read and push lines with B's inbox, received and
    notify lines (one clock: both nodes run on this machine)."""
    caps = _by(a_lines, "capture", "capture")
    reads = _by(a_lines, "read", "document")
    pushes: dict[int, dict[str, Any]] = {}
    for push in (line for line in a_lines if line["kind"] == "push"):
        for ingest_id in push["ingest_ids"]:
            pushes.setdefault(ingest_id, push)
    inbox = _by(b_lines, "inbox", "document")
    received = _by(b_lines, "received", "document")
    notified: dict[int, dict[str, Any]] = {}
    for line in b_lines:
        if line["kind"] == "notify":
            notified.setdefault(line["ingest_id"], line)
    out = []
    for capture_id, sent, arrived in docs:
        cap = caps.get(capture_id, {})
        read = reads.get(f"capture/{capture_id}", {})
        push = pushes.get(cap.get("ingest_id", -1), {})
        document = f"from/a/{push['delivery']}" if push else ""
        got = inbox.get(document, {})
        stored = received.get(document, {})
        told = notified.get(stored.get("ingest_id", -1), {})
        out.append(
            _segments(
                [
                    ("POST sent", sent),
                    ("receive at A", cap.get("received")),
                    ("spool (fsync)", cap.get("spooled")),
                    ("wait for the reader", read.get("begun")),
                    ("read (parse, validate, map)", read.get("read")),
                    ("wait for A's writer", cap.get("store_begun")),
                    ("store at A", cap.get("committed")),
                    ("partners' views at A", cap.get("told")),
                    ("wait for the push loop", push.get("begun")),
                    ("outbox read", push.get("outbox")),
                    ("events read back", push.get("read")),
                    ("policy", push.get("policy")),
                    ("encode", push.get("encoded")),
                    ("sign", push.get("signed")),
                    ("send (HTTP, verify, body)", got.get("entered")),
                    ("parse at B", got.get("parsed")),
                    ("wait for B's writer", stored.get("store_begun")),
                    ("store at B", stored.get("committed")),
                    ("to B's hub", told.get("begun")),
                    ("notify (query, render)", told.get("notified")),
                    ("WebSocket to the client", arrived),
                ]
            )
        )
    return out


def breakdown(per_doc: list[dict[str, float]], indent: str = "  ") -> list[str]:
    """One line per stage: median and p99 over the documents (ms), in the order met."""
    names: list[str] = []
    for doc in per_doc:
        for name in doc:
            if name not in names:
                names.append(name)
    lines = []
    for name in names:
        values = [doc[name] for doc in per_doc if name in doc]
        lines.append(
            f"{indent}{name:<40} median {statistics.median(values):8.1f} ms   "
            f"p99 {pct(values, 99):8.1f} ms   ({len(values)} documents)"
        )
    if per_doc:
        totals = [sum(doc.values()) for doc in per_doc]
        lines.append(
            f"{indent}{'sum of the stages':<40} median {statistics.median(totals):8.1f} ms   "
            f"p99 {pct(totals, 99):8.1f} ms"
        )
    return lines


# --- 3. catch-up after an outage ------------------------------------------------------------


def catch_up(root: Path, *, events: int, size: int, clients: int) -> dict[str, Any]:
    a, b = make_pair(root / "catch-up")
    a.start()
    b.start()
    feeder = Feeder(size, "stream", seed=3, ahead=clients * 3)
    with a.client() as c:
        wait_job(c, post(c, feeder.get()))
    deadline = time.perf_counter() + 60
    while a.owed("b") and time.perf_counter() < deadline:
        time.sleep(0.1)
    warm = size
    b.stop(signal.SIGKILL)
    n_docs = events // size
    todo = iter(range(n_docs))
    lock = threading.Lock()
    t0 = time.perf_counter()

    def sender() -> None:
        with a.client() as c:
            while True:
                with lock:
                    if next(todo, None) is None:
                        return
                job = wait_job(c, post(c, feeder.get()))
                if not job["success"]:
                    raise RuntimeError(f"capture failed: {job['errors']}")

    threads = [threading.Thread(target=sender) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    feeder.close()
    outage_capture_s = time.perf_counter() - t0
    owed_before = a.owed("b")
    t_start = time.perf_counter()
    startup = b.start()
    while a.owed("b"):
        time.sleep(0.1)
    total = time.perf_counter() - t_start
    at_b = int(b.twin()["store"]["events"])
    a.stop()
    b.stop()
    attempts = _outbox_attempts(a.store)
    if at_b != warm + n_docs * size:
        raise RuntimeError(f"B holds {at_b} events, expected {warm + n_docs * size}")
    return {
        "events": n_docs * size,
        "documents_owed": owed_before,
        "outage_capture_events_per_s": n_docs * size / outage_capture_s,
        "startup_s": startup,
        "seconds": total,
        "events_per_s": n_docs * size / total,
        "events_per_s_after_start": n_docs * size / (total - startup),
        "max_attempts": attempts,
    }


def _outbox_attempts(store: Path) -> int:
    """The most delivery attempts any document needed (read after A stopped)."""
    import duckdb

    con = duckdb.connect(str(store), read_only=True)
    try:
        row = con.execute("SELECT max(attempts) FROM outbox").fetchone()
    finally:
        con.close()
    return int(row[0] or 0) if row else 0


# --- main -----------------------------------------------------------------------------------


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min)"


def main() -> None:
    global SRC
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run of about two minutes")
    parser.add_argument("--seconds", type=float, default=60.0, help="capture throughput time")
    parser.add_argument("--clients", type=int, default=4, help="concurrent capture clients")
    parser.add_argument("--size", type=int, default=1000, help="events per captured document")
    parser.add_argument(
        "--workload", choices=["stream", "seeds", "both"], default="both", help="see above"
    )
    parser.add_argument("--rate", type=float, default=1000.0, help="latency: events/s at A")
    parser.add_argument("--latency-docs", type=int, default=120, help="documents timed")
    parser.add_argument(
        "--latency-sizes", default="1000,100", help="latency: events per document (each run)"
    )
    parser.add_argument("--outage-events", type=int, default=50_000, help="captured while B down")
    parser.add_argument("--runs", type=int, default=3, help="runs of each figure (medians)")
    parser.add_argument(
        "--only", default="capture,latency,catchup", help="figures to run, comma-separated"
    )
    parser.add_argument("--src", help="run the nodes from this source tree (PYTHONPATH)")
    parser.add_argument("--keep", action="store_true", help="keep the nodes' directories")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.latency_docs, args.outage_events = 15.0, 30, 10_000
        args.workload, args.latency_sizes, args.runs = "stream", "1000", 1
    SRC = str(Path(args.src).resolve()) if args.src else None
    only = set(args.only.split(","))

    print(
        f"# keiretsu node bench — {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, python {platform.python_version()}, loopback; {load()}; "
        f"nodes from {SRC or 'the installed package'}; {args.runs} run(s) of each figure",
        flush=True,
    )
    tmp = tempfile.mkdtemp(prefix="keiretsu-node-bench-")
    root = Path(tmp)
    summary: list[str] = []
    try:
        workloads = ["stream", "seeds"] if args.workload == "both" else [args.workload]
        for workload in workloads if "capture" in only else []:
            runs = []
            for run in range(args.runs):
                r = capture_throughput(
                    root / f"run{run}",
                    seconds=args.seconds,
                    clients=args.clients,
                    size=args.size,
                    workload=workload,
                )
                runs.append(r)
                f = r["floors"]
                print(
                    f"capture throughput ({workload}), run {run + 1}, {r['clients']} clients, "
                    f"documents of {r['size']:,} events, {r['seconds']:.0f} s: "
                    f"{r['documents']} documents, {r['events']:,} events = "
                    f"{r['events_per_s']:,.0f} events/s; POST answered in "
                    f"{r['accept_ms_p50']:.0f} ms (median); a job {r['job_s_p50']:.2f} s from "
                    f"spool to stored (median); {f['group_mean']:.1f} captures per "
                    f"transaction; the reader alone would read {f['reader_events_per_s']:,.0f} "
                    f"events/s, the writer alone store {f['writer_events_per_s']:,.0f} events/s; "
                    f"documents made at {100 * r['feeder_cpu_share']:.0f}% of a core; {load()}",
                    flush=True,
                )
            mid = sorted(runs, key=lambda r: r["events_per_s"])[len(runs) // 2]
            print(f"  stage breakdown of the median run ({workload}), per document:")
            print("\n".join(breakdown(mid["stages"], "    ")), flush=True)
            rates = ", ".join(f"{r['events_per_s']:,.0f}" for r in runs)
            summary.append(
                f"capture ({workload}): median {mid['events_per_s']:,.0f} events/s over "
                f"{len(runs)} runs ({rates}) (aim 20,000); reader alone "
                f"{mid['floors']['reader_events_per_s']:,.0f}/s, writer alone "
                f"{mid['floors']['writer_events_per_s']:,.0f}/s; "
                f"{mid['events_per_s'] / 800:.1f}x Ditto's published ~800 modifies/s per "
                f"instance, {mid['events_per_s'] / 500:.1f}x Azure Digital Twins' 500 "
                "creates/s limit"
            )
        for size in (int(s) for s in args.latency_sizes.split(",")) if "latency" in only else []:
            runs = []
            for run in range(args.runs):
                r = latency(
                    root / f"run{run}", count=args.latency_docs + 1, size=size, rate=args.rate
                )
                runs.append(r)
                print(
                    f"latency A -> B, run {run + 1}, at {r['offered_events_per_s']:,.0f} "
                    f"events/s offered ({r['documents']} documents of {size:,} events): p50 "
                    f"{r['p50_ms']:,.0f} ms, p99 {r['p99_ms']:,.0f} ms, max {r['max_ms']:,.0f} "
                    f"ms (p50 first half {r['first_half_p50_ms']:,.0f} ms, second half "
                    f"{r['second_half_p50_ms']:,.0f} ms); A's writer backlog after sending "
                    f"{r['a_backlog_after_sending']}; {r['ws_messages']} WebSocket messages at "
                    f"B; {load()}",
                    flush=True,
                )
            mid = sorted(runs, key=lambda r: r["p99_ms"])[len(runs) // 2]
            print(f"  stage breakdown of the median run (documents of {size:,}), per document:")
            print("\n".join(breakdown(mid["stages"], "    ")), flush=True)
            p99s = ", ".join(f"{r['p99_ms']:,.0f}" for r in runs)
            summary.append(
                f"latency A -> B, documents of {size:,}: median run p50 {mid['p50_ms']:,.0f} ms, "
                f"p99 {mid['p99_ms']:,.0f} ms (p99 of the {len(runs)} runs: {p99s} ms; aim "
                "p99 < 100 ms)"
            )
        if "catchup" in only:
            r = catch_up(root, events=args.outage_events, size=args.size, clients=2)
            print(
                f"catch-up after B's outage (SIGKILL): {r['events']:,} events in "
                f"{r['documents_owed']} documents owed (captured at A at "
                f"{r['outage_capture_events_per_s']:,.0f} events/s while B was down); B started "
                f"in {r['startup_s']:.1f} s; nothing owed {r['seconds']:.1f} s after B's start = "
                f"{r['events_per_s']:,.0f} events/s ({r['events_per_s_after_start']:,.0f} "
                f"events/s from B answering); most attempts for one document "
                f"{r['max_attempts']}; {load()}",
                flush=True,
            )
            summary.append(f"catch-up: {r['events_per_s']:,.0f} events/s")
    finally:
        for node in STARTED:
            node.stop(signal.SIGKILL)
        if args.keep:
            print(f"# nodes kept in {root}")
        else:
            import shutil

            shutil.rmtree(root, ignore_errors=True)
    print("# summary")
    for line in summary:
        print(line)


if __name__ == "__main__":
    main()
