"""A real node (``python -m keiretsu node serve``) on loopback holding the demo's events, an
experiment with its prediction and measurement, a partner and a sharing policy — what the
obeya's browser tests and the screenshot script look at."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

import keiretsu
from keiretsu.kaizen import Target, new_experiment
from keiretsu.node.auth import TokenStore
from keiretsu.node.home import NodeHome
from keiretsu.node.identity import Identity
from keiretsu.sim.scenario import Variant
from keiretsu.store import Store
from keiretsu.store import kaizen as tables

EXAMPLES = Path(keiretsu.__file__).parent / "examples" / "two-company-chain"
SCENARIOS = Path(keiretsu.__file__).parent / "examples" / "sim" / "forecast-3-scenarios.toml"
CHROMIUM = "/usr/bin/chromium"

POLICY = """
[[rule]]
id = "shipments-for-retailer"
effect = "permit"
subjects = ["retailer"]
rights = ["query", "push"]
biz_steps = ["shipping"]
keep_attributes = ["eventType", "action"]
share_objects = ["*"]
pseudonymise = ["logistic unit"]
"""

EXPERIMENT = "kz-obeyatest01"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    """The node's process, URL, a local user's token and the partner's identity."""

    proc: subprocess.Popen[bytes]
    url: str
    token: str
    partner: Identity
    store: Path
    log: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def capture(self, body: bytes) -> dict[str, object]:
        """Capture an EPCIS JSON document and wait for its job."""
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        with httpx.Client(base_url=self.url, headers=headers, timeout=30) as c:
            r = c.post("/capture", content=body)
            assert r.status_code == 202, r.text
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                job: dict[str, object] = c.get(r.headers["location"]).json()
                if not job["running"]:
                    return job
                time.sleep(0.05)
        raise AssertionError("capture job still running")


def prepare(root: Path) -> tuple[Path, str, Identity]:
    """The store: the demo's three documents, an experiment (running, with a prediction and a
    measured effect kept), a partner ``retailer`` and a policy sharing shipments with it."""
    store = root / "dc" / "twin.duckdb"
    home = NodeHome.init(store, "umeda-dc", url="http://127.0.0.1:9")
    token = TokenStore(home.tokens_path).create("alice")
    partner = Identity.create("retailer")
    home.add_partner("retailer", "http://127.0.0.1:9", partner.public_key_text)
    home.policy_path.write_text(POLICY, encoding="utf-8")
    (home.root / "scenarios").mkdir()
    (home.root / "scenarios" / SCENARIOS.name).write_bytes(SCENARIOS.read_bytes())
    at = datetime(2026, 11, 12, 9, 0, tzinfo=UTC)
    with Store(store) as s:
        for doc in sorted(EXAMPLES.iterdir()):
            s.ingest_file(doc)
        new_experiment(
            s,
            experiment_id=EXPERIMENT,
            title="Ship full pallets twice a week",
            problem="Transport: 4 moves plant → DC, 44 h in transit",
            hypothesis="Fewer, fuller shipments cut transport hours",
            countermeasure=Variant("twice-weekly", {"link.plant-dc.review_period": 3.5}),
            target=Target(metric="transport_hours", scope="plant-dc", direction="decrease"),
            owner="alice",
            waste="transport",
            at=at,
        )
        tables.move(s.con, EXPERIMENT, "simulated", by="alice", at=at)
        tables.add_prediction(s.con, EXPERIMENT, PREDICTION, at=at)
        tables.move(s.con, EXPERIMENT, "running", by="alice", at=at)
        tables.add_measurement(s.con, EXPERIMENT, MEASUREMENT, at=at)
    return store, token, partner


PREDICTION = {
    "kpi": "transport_hours",
    "scope": "plant-dc",
    "unit": "h",
    "baseline": 44.0,
    "value": 30.5,
    "difference": -13.5,
    "pct": -0.3068,
    "ci_low": -16.0,
    "ci_high": -11.0,
    "confidence": 0.95,
    "significant": True,
    "replications": 20,
    "periods": 90,
    "warmup": 10,
    "seed": 7,
    "model": "model calibrated from twin.duckdb",
    "note": None,
}

MEASUREMENT = {
    "metric": "transport_hours",
    "scope": "plant-dc",
    "unit": "h",
    "method": "its",
    "change_at": datetime(2026, 11, 5, tzinfo=UTC),
    "effect": -9.25,
    "ci_low": -14.0,
    "ci_high": -4.5,
    "p_value": 0.004,
    "detected": True,
    "mde": 4.1,
    "periods_before": 12,
    "periods_after": 12,
    "alpha": 0.05,
    "naive_effect": -12.0,
    "naive_p_value": 0.01,
    "control": None,
    "verdict": "effect detected",
    "note": None,
}


def ready(page: Any, url: str, timeout: float = 240.0) -> Any:
    """Open ``url`` in the Playwright ``page`` once it is no longer "being computed" (202: the
    obeya computes a page in the background and answers at once); its response. Asked first
    with the page's request context (same cookies), so no navigation races a reload."""
    deadline = time.monotonic() + timeout
    while page.request.get(url, max_redirects=0).status == 202:
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} still being computed after {timeout} s")
        time.sleep(1.0)
    return page.goto(url)


def serve(store: Path, token: str, partner: Identity, log: Path) -> Served:
    """``keiretsu node serve`` on a free loopback port, once it answers."""
    port = free_port()
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "keiretsu",
                "node",
                "serve",
                "--store",
                str(store),
                "--port",
                str(port),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the node exited: {log.read_text()[-3000:]}")
        try:
            if httpx.get(url + "/", timeout=2).status_code == 200:
                return Served(proc, url, token, partner, store, log)
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"the node did not answer: {log.read_text()[-3000:]}")
