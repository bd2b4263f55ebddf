"""The flow-level world captured live by real nodes: one ``keiretsu node serve`` process per
company on loopback, the world run period by period and each period's events posted to its
company's node over HTTP (``POST /capture``), then each node's store read back.

What each node must hold is counted from the world's own event lists (what it emitted per
company), not from the nodes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from keiretsu.node.auth import TokenStore
from keiretsu.node.home import NodeHome
from keiretsu.sim.model import (
    BaseStock,
    Buffer,
    Company,
    Constant,
    Demand,
    Gamma,
    Link,
    Network,
    Poisson,
    Step,
)
from keiretsu.sim.world import NodeTarget, World, run_live
from keiretsu.store import Store

PERIODS = 6


def _network() -> Network:
    return Network(
        name="plant-dc-shop",
        period="day",
        companies=(
            Company(
                name="plant",
                steps=(Step(name="press", processing_time=Gamma(mean=2, sd=0.5), batch_size=10),),
                buffers=(Buffer(name="plant-fg", policy=BaseStock(level=40)),),
            ),
            Company(name="dc", buffers=(Buffer(name="dc", policy=BaseStock(level=30)),)),
            Company(name="shop", buffers=(Buffer(name="shop", policy=BaseStock(level=20)),)),
        ),
        links=(
            Link(target="plant-fg", lead_time=Constant(value=1)),
            Link(source="plant-fg", target="dc", lead_time=Gamma(mean=1.5, sd=0.4)),
            Link(source="dc", target="shop", lead_time=Constant(value=1)),
        ),
        demand=(Demand(at="shop", distribution=Poisson(mean=8)),),
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Node:
    """A real node: ``python -m keiretsu node serve`` on loopback, with its home and a token."""

    def __init__(self, root: Path, name: str) -> None:
        self.name = name
        self.port = _free_port()
        self.store = root / name / "twin.duckdb"
        self.home = NodeHome.init(self.store, name, url=self.url)
        self.token = TokenStore(self.home.tokens_path).create("world")
        self.log = root / name / "serve.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [
                    *(sys.executable, "-m", "keiretsu", "node", "serve"),
                    *("--store", str(self.store), "--port", str(self.port)),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[dict[str, _Node]]:
    made = {name: _Node(tmp_path, name) for name in ("plant", "dc", "shop")}
    try:
        for n in made.values():  # start all, then wait: the three boot side by side
            n.start()
        for n in made.values():
            n.wait_ready()
        yield made
    finally:
        for n in made.values():
            n.stop()


def _wait_for_jobs(nodes: dict[str, _Node], jobs: list[tuple[str, str]]) -> None:
    deadline = time.monotonic() + 60
    for company, location in jobs:
        node = nodes[company]
        while True:
            job = httpx.get(
                node.url + location, headers={"Authorization": f"Bearer {node.token}"}, timeout=10
            ).json()
            if not job["running"]:
                assert job["success"], (company, job)
                break
            assert time.monotonic() < deadline, f"{company}: capture job {location} still running"
            time.sleep(0.05)


def test_each_node_holds_exactly_the_events_its_company_emitted(nodes: dict[str, _Node]) -> None:
    world = World(_network(), seed=2)
    targets = {name: NodeTarget(n.url, n.token) for name, n in nodes.items()}
    jobs: list[tuple[str, str]] = []
    with httpx.Client(timeout=60) as client:
        sent = dict.fromkeys(world.events(), 0)
        for _ in range(PERIODS):  # run_live, one period at a time, noting whose job is whose
            posted = run_live(world, targets, 1, client=client)
            grew = [c for c, e in world.events().items() if len(e) > sent[c]]
            sent = {c: len(e) for c, e in world.events().items()}
            assert len(posted) == len(grew)  # one document per company per period here
            jobs += list(zip(grew, posted, strict=True))
    assert len(jobs) >= PERIODS
    _wait_for_jobs(nodes, jobs)
    emitted = {c: {e["eventID"] for e in events} for c, events in world.events().items()}
    for n in nodes.values():
        n.stop()
    for name, n in nodes.items():
        with Store(n.store, read_only=True) as store:
            stored = set(store.table("events").column("ocel_id").to_pylist())
        assert stored == emitted[name], name
        assert len(stored) > 20
    # the companies' event sets are disjoint: nothing went to the wrong node
    assert sum(len(v) for v in emitted.values()) == world.event_count()
