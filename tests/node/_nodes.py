"""Real node processes on loopback for the tests (``python -m keiretsu node serve``), with
their stores, homes and tokens; used by tests/node/conftest.py and the tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from _data import DATA
from keiretsu.node.auth import TokenStore
from keiretsu.node.home import NodeHome

REPO = Path(__file__).resolve().parents[2]
SHARED = DATA
EXAMPLES = REPO / "src" / "keiretsu" / "examples" / "two-company-chain"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class NodeProcess:
    """A node served by its own process on loopback."""

    name: str
    store: Path
    port: int
    token: str
    home: NodeHome
    proc: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)
    scheme: str = "http"
    extra_args: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.log = self.home.root / "serve.log"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> NodeProcess:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "keiretsu",
                    "node",
                    "serve",
                    "--store",
                    str(self.store),
                    "--port",
                    str(self.port),
                    *self.extra_args,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"node {self.name} exited: {self.log.read_text()[-3000:]}")
            try:
                if self.client().get("/").status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"node {self.name} did not answer: {self.log.read_text()[-3000:]}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
        self.proc = None

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30.0,
            **kwargs,
        )

    def capture(self, body: bytes, content_type: str = "application/json") -> dict[str, Any]:
        """Capture a document and wait for its job to finish; returns the job."""
        with self.client() as c:
            r = c.post("/capture", content=body, headers={"Content-Type": content_type})
            assert r.status_code == 202, r.text
            location = r.headers["location"]
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                job: dict[str, Any] = c.get(location).json()
                if not job["running"]:
                    return job
                time.sleep(0.05)
        raise AssertionError(f"capture job {location} still running")

    def summary(self) -> dict[str, Any]:
        with self.client() as c:
            body: dict[str, Any] = c.get("/twin").json()
            return body


def make_node(root: Path, name: str, port: int | None = None) -> NodeProcess:
    port = port or free_port()
    store = root / name / "twin.duckdb"
    home = NodeHome.init(store, name, url=f"http://127.0.0.1:{port}")
    token = TokenStore(home.tokens_path).create("tests")
    return NodeProcess(name=name, store=store, port=port, token=token, home=home)


def introduce(a: NodeProcess, b: NodeProcess) -> None:
    """Make ``a`` and ``b`` partners of each other."""
    a.home.add_partner(b.name, b.url, b.home.identity().public_key_text)
    b.home.add_partner(a.name, a.url, a.home.identity().public_key_text)


def wait_for(predicate: Any, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def nodes_fixture() -> Iterator[list[NodeProcess]]:
    """Made with :func:`make_node` and appended by the test; all killed at the end."""
    made: list[NodeProcess] = []
    yield made
    for n in made:
        n.kill()
