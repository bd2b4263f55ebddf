"""Delivery that loses nothing, with real node processes on loopback: a partner down for a
while catches up; a sender or a receiver killed with SIGKILL in the middle of deliveries, then
restarted, ends with every shared event at the receiver exactly once."""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from _nodes import NodeProcess, introduce, make_node, wait_for

from keiretsu.io.epcis.synth import write_synthetic_epcis_json
from keiretsu.store.received import received_id

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def short_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """The nodes started here retry a failed push after at most 1 s (30 s by default): a
    partner restarted is reached within a second, so the tests wait for delivery, not for
    a back-off (what they check is unchanged: every event once, whatever was killed)."""
    monkeypatch.setenv("KEIRETSU_DELIVERY_BACKOFF_MAX", "1")


SHARE_ALL = """
[[rule]]
id = "everything-to-{partner}"
effect = "permit"
subjects = ["{partner}"]
rights = ["read"]
keep_attributes = ["*"]
share_objects = ["*"]
"""

SHIPPING_ONLY = """
[[rule]]
id = "shipping-to-{partner}"
effect = "permit"
subjects = ["{partner}"]
rights = ["push"]
biz_steps = ["shipping"]
keep_attributes = ["eventType", "action"]
share_objects = ["*"]
"""


def documents(tmp: Path, count: int, events: int, seed0: int = 0) -> list[bytes]:
    out = []
    for i in range(count):
        path = write_synthetic_epcis_json(tmp / f"doc{seed0 + i}.json", events, seed=seed0 + i)
        out.append(path.read_bytes())
    return out


def ingests(node: NodeProcess) -> list[dict[str, Any]]:
    with node.client() as c:
        rows: list[dict[str, Any]] = c.get("/twin/ingests", params={"limit": 10_000}).json()
        return rows


def received(node: NodeProcess, sender: str) -> tuple[int, int]:
    """(events new, events known) over everything ``sender`` pushed to ``node``."""
    rows = [r for r in ingests(node) if r["source"] == sender and r["status"] == "accepted"]
    return sum(r["events_new"] for r in rows), sum(r["events_known"] for r in rows)


def event_count(node: NodeProcess) -> int:
    return int(node.summary()["store"]["events"])


def owed(node: NodeProcess, partner: str) -> int:
    with node.client() as c:
        rows = c.get("/twin/partners").json()
    return int(next(r for r in rows if r["name"] == partner)["documents_owed"])


def pair(
    tmp_path: Path, nodes: list[NodeProcess], policy: str = SHARE_ALL
) -> tuple[NodeProcess, NodeProcess]:
    plant = make_node(tmp_path, "plant")
    dc = make_node(tmp_path, "dc")
    introduce(plant, dc)
    plant.home.policy_path.write_text(policy.format(partner="dc"), encoding="utf-8")
    nodes.extend([plant, dc])
    return plant, dc


def test_a_push_arrives_and_the_policy_decides_what(
    tmp_path: Path, nodes: list[NodeProcess]
) -> None:
    plant, dc = pair(tmp_path, nodes, SHIPPING_ONLY)
    plant.start()
    dc.start()
    (body,) = documents(tmp_path, 1, 300)
    job = plant.capture(body)
    assert job["success"], job
    with plant.client() as c:
        shipped = c.get("/events", params={"EQ_bizStep": "shipping", "perPage": 10_000}).json()
    expected = {
        e["eventID"] for e in shipped["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    }
    assert expected
    wait_for(lambda: event_count(dc) == len(expected), 30, "the shipping events at the DC")
    with dc.client() as c:
        got = c.get("/events", params={"perPage": 10_000}).json()
    events = got["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    # kept under the plant's name, apart from the DC's own events
    assert {e["eventID"] for e in events} == {received_id("plant", i) for i in expected}
    assert {e.get("bizStep") for e in events} == {"shipping"}
    # only the attributes the rule keeps: no disposition, no time zone offset of the plant
    assert not any("disposition" in e for e in events)
    # the plant's ingest log, the DC's: one push, all new
    assert received(dc, "plant") == (len(expected), 0)
    assert owed(plant, "dc") == 0


def test_a_partner_down_for_a_while_catches_up(tmp_path: Path, nodes: list[NodeProcess]) -> None:
    plant, dc = pair(tmp_path, nodes)
    plant.start()
    dc.start()
    docs = documents(tmp_path, 6, 200)
    plant.capture(docs[0])
    wait_for(lambda: event_count(dc) == 200, 30, "the first document at the DC")
    dc.kill(signal.SIGKILL)
    for body in docs[1:]:
        assert plant.capture(body)["success"]
    time.sleep(2.0)  # the plant keeps trying, backing off
    assert owed(plant, "dc") == 5
    with plant.client() as c:
        row = next(r for r in c.get("/twin/partners").json() if r["name"] == "dc")
    assert row["last_error"]  # the user sees why
    dc.start()
    wait_for(lambda: owed(plant, "dc") == 0, 60, "the DC to catch up")
    assert event_count(dc) == 1200
    new, _known = received(dc, "plant")
    assert new == 1200  # each event took effect once


def _kill_loop(
    victim: NodeProcess,
    other: NodeProcess,
    docs: list[bytes],
    sender: NodeProcess,
    rng: random.Random,
) -> None:
    """Capture documents at ``sender`` while ``victim`` is killed with SIGKILL at random
    moments and restarted."""
    for body in docs:
        with sender.client() as c:
            r = c.post("/capture", content=body, headers={"Content-Type": "application/json"})
            assert r.status_code == 202
        time.sleep(rng.uniform(0.0, 0.4))
        victim.kill(signal.SIGKILL)
        victim.start()
    del other


def test_a_sender_killed_mid_delivery_delivers_everything_once(
    tmp_path: Path, nodes: list[NodeProcess]
) -> None:
    plant, dc = pair(tmp_path, nodes)
    plant.start()
    dc.start()
    docs = documents(tmp_path, 4, 1000, seed0=100)
    _kill_loop(plant, dc, docs, plant, random.Random(7))
    # every capture accepted (the spool survives the kill) and everything delivered once
    wait_for(lambda: event_count(plant) == 4000, 120, "every capture stored at the plant")
    wait_for(lambda: owed(plant, "dc") == 0, 120, "every document delivered")
    assert event_count(dc) == 4000
    new, known = received(dc, "plant")
    assert new == 4000
    # the plant's ingest log has each capture once, accepted
    captures = [r for r in ingests(plant) if r["document"].startswith("capture/")]
    assert sum(r["events_new"] for r in captures if r["status"] == "accepted") == 4000
    del known


def test_a_receiver_killed_mid_push_gets_everything_once(
    tmp_path: Path, nodes: list[NodeProcess]
) -> None:
    plant, dc = pair(tmp_path, nodes)
    plant.start()
    dc.start()
    docs = documents(tmp_path, 4, 1000, seed0=200)
    _kill_loop(dc, plant, docs, plant, random.Random(11))
    wait_for(lambda: owed(plant, "dc") == 0, 120, "every document delivered")
    assert event_count(dc) == 4000
    new, _known = received(dc, "plant")
    assert new == 4000
    interrupted = [r for r in ingests(dc) if r["status"] == "interrupted"]
    # a push cut off by the kill left nothing behind but its log line
    assert all(r["events_new"] == 0 for r in interrupted)


def test_a_node_killed_leaves_no_process_behind(tmp_path: Path, nodes: list[NodeProcess]) -> None:
    """The node reads captures in a second process; killed with SIGKILL, the node takes it
    along (no reader is left running, orphaned, on the user's machine)."""
    import psutil

    (plant,) = [make_node(tmp_path, "plant")]
    nodes.append(plant)
    plant.start()
    (body,) = documents(tmp_path, 1, 50)
    assert plant.capture(body)["success"]
    assert plant.proc is not None
    children = psutil.Process(plant.proc.pid).children(recursive=True)
    assert children  # the capture reader
    plant.kill(signal.SIGKILL)
    _gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, [p.cmdline() for p in alive]


def test_a_correction_reaches_the_partner(tmp_path: Path, nodes: list[NodeProcess]) -> None:
    """The distributor declares an error on one of its receipts (a document with no new
    event); the plant, which the distributor shares everything with, gets the declaration on
    its copy of the receipt."""
    dc = make_node(tmp_path, "dc")
    plant = make_node(tmp_path, "plant")
    introduce(dc, plant)
    dc.home.policy_path.write_text(SHARE_ALL.format(partner="plant"), encoding="utf-8")
    nodes.extend([dc, plant])
    dc.start()
    plant.start()
    examples = Path(__file__).resolve().parents[2] / "src/keiretsu/examples/two-company-chain"
    receipts = (examples / "2-umeda-distribution-dc.xml").read_bytes()
    assert dc.capture(receipts, "application/xml")["success"]
    wait_for(lambda: event_count(plant) == event_count(dc), 30, "the receipts at the plant")
    correction = (examples / "3-umeda-distribution-correction.jsonld").read_bytes()
    job = dc.capture(correction)
    assert job["success"] and job["keiretsu:report"]["events_corrected"] == 1
    corrected = "urn:uuid:f2e344f9-aad8-5c5f-be8c-17254923ba1e"

    def declared_at_plant() -> bool:
        path = f"/events/{received_id('dc', corrected)}"  # the plant keeps it under dc's name
        with plant.client() as c:
            r = c.get(path)
        if r.status_code != 200:
            return False
        (event,) = r.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        return "errorDeclaration" in event

    wait_for(declared_at_plant, 30, "the error declaration at the plant")
    assert event_count(plant) == event_count(dc)  # marked, not doubled
