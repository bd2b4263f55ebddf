"""Delivery on commit: what a node stores is pushed, stored and announced as soon as its
transaction commits. At the receiver, pushes that queue while the writer is busy are stored
together, and listeners (subscriptions, delivery) are told only once the events are readable.
At the sender, a capture starts its push when it commits, not on the next poll."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from _nodes import NodeProcess, introduce, make_node, wait_for

from keiretsu.io.epcis import read_epcis
from keiretsu.io.epcis.synth import write_synthetic_epcis_json
from keiretsu.model.errors import DocumentError
from keiretsu.model.ocel import Ocel
from keiretsu.node.delivery import IDLE_CHECK, encode
from keiretsu.node.home import NodeHome
from keiretsu.node.identity import Identity
from keiretsu.node.runtime import Node, read_push
from keiretsu.store.received import received_id


def push_bodies(tmp: Path, count: int, events: int) -> list[tuple[bytes, list[str]]]:
    """OCEL 2.0 JSON pushes as a partner sends them (distinct events each), with their ids."""
    out = []
    for seed in range(count):
        path = write_synthetic_epcis_json(tmp / f"p{seed}.json", events, seed=seed)
        with open(path, "rb") as fh:
            ocel = Ocel.concat(list(read_epcis(fh, document=path.name)))
        out.append((encode(ocel), ocel.events.column("ocel_id").to_pylist()))
    return out


@pytest.fixture
def dc(tmp_path: Path) -> Node:
    store = tmp_path / "dc" / "twin.duckdb"
    home = NodeHome.init(store, "dc")
    home.add_partner("plant", "http://127.0.0.1:9/", Identity.create("plant").public_key_text)
    node = Node(store)
    yield node  # type: ignore[misc]
    node.close()


def test_pushes_that_queue_are_stored_together_and_told_after_commit(
    tmp_path: Path, dc: Node
) -> None:
    bodies = push_bodies(tmp_path, 3, 40)
    told: list[tuple[int, str, int]] = []

    def listener(ingest_id: int, source: str) -> None:
        # told on the writer thread; another cursor must already read every event of the
        # pushes stored with this one (one transaction, committed)
        (visible,) = dc.store.con.cursor().execute("SELECT count(*) FROM ocel_event").fetchone()
        told.append((ingest_id, source, int(visible)))

    dc.on_accepted.append(listener)
    release = threading.Event()
    dc.writer.submit(lambda _: release.wait(30))  # the writer busy: the pushes queue up
    futures = [
        dc.store_push("plant", f"d{i}", read_push("plant", f"d{i}", body), len(body))
        for i, (body, _) in enumerate(bodies)
    ]
    time.sleep(0.05)
    assert not any(f.done() for f in futures)  # nothing answered before it is stored
    release.set()
    reports = [f.result(timeout=60) for f in futures]
    assert [r.events_new for r in reports] == [len(ids) for _, ids in bodies]
    total = sum(len(ids) for _, ids in bodies)
    # the three were committed at once: the first listener call already sees all of them
    assert told == [(r.ingest_id, "plant", total) for r in reports]
    stored = {r[0] for r in dc.store.con.execute("SELECT ocel_id FROM ocel_event").fetchall()}
    assert stored == {received_id("plant", i) for _, ids in bodies for i in ids}
    # the same push again (its answer lost): counted as known, stored once, nobody told
    again = dc.store_push("plant", "d0", read_push("plant", "d0", bodies[0][0]), 1).result(60)
    assert (again.events_new, again.events_known) == (0, len(bodies[0][1]))
    assert len(told) == 3


def test_an_unreadable_push_is_refused_saying_where_and_stores_nothing(
    tmp_path: Path, dc: Node
) -> None:
    body = b'{"objectTypes": [], "eventTypes": [], "objects": [], "events": [{"id": 1}]'
    with pytest.raises(DocumentError) as refused:
        read_push("plant", "bad", body)
    assert "from/plant/bad" in str(refused.value)
    dc.writer.submit(lambda s: dc.refuse_push(s, "plant", "bad", len(body), refused.value)).result(
        30
    )
    rows = dc.store.con.execute(
        "SELECT document, status FROM ingest_log WHERE source = 'plant'"
    ).fetchall()
    assert rows == [("from/plant/bad", "refused")]
    assert dc.store.con.execute("SELECT count(*) FROM ocel_event").fetchone() == (0,)


def test_a_signed_push_over_http_is_answered_once_stored_and_a_resend_counts_as_known(
    tmp_path: Path,
) -> None:
    """The inbox route in process: the answer comes after the push's transaction committed
    (its events are readable at once); the same push again is all known; a push that is not
    OCEL 2.0 JSON is refused with the reason and logged, storing nothing."""
    from fastapi.testclient import TestClient

    from keiretsu.node.app import create_app
    from keiretsu.node.auth import sign_request

    store = tmp_path / "dc" / "twin.duckdb"
    home = NodeHome.init(store, "dc")
    plant = Identity.create("plant")
    home.add_partner("plant", "http://127.0.0.1:9", plant.public_key_text)
    node = Node(store)
    ((body, ids),) = push_bodies(tmp_path, 1, 25)

    def push(content: bytes, delivery: str) -> tuple[int, dict[str, object]]:
        path = f"/partners/inbox?delivery={delivery}"
        token = sign_request(plant, audience="dc", method="POST", path=path, body=content)
        r = client.post(path, content=content, headers={"Authorization": f"Bearer {token}"})
        return r.status_code, r.json()

    try:
        with TestClient(create_app(node, deliver=False)) as client:
            status, report = push(body, "plant-1-1")
            assert (status, report["events_new"], report["events_known"]) == (200, 25, 0)
            (count,) = node.cursor().execute("SELECT count(*) FROM ocel_event").fetchone()
            assert count == len(ids)
            status, report = push(body, "plant-1-1")
            assert (status, report["events_new"], report["events_known"]) == (200, 0, 25)
            status, problem = push(b"[1, 2", "plant-2-2")
            assert status == 400 and "from/plant/plant-2-2" in str(problem["detail"])
        rows = (
            node.cursor()
            .execute("SELECT document, status FROM ingest_log ORDER BY ingest_id")
            .fetchall()
        )
        assert rows[-1] == ("from/plant/plant-2-2", "refused")
    finally:
        node.close()


SHARE_ALL = """
[[rule]]
id = "everything-to-dc"
effect = "permit"
subjects = ["dc"]
rights = ["read"]
keep_attributes = ["*"]
share_objects = ["*"]
"""


@pytest.mark.slow
def test_a_capture_is_pushed_when_it_commits_not_on_the_next_poll(
    tmp_path: Path, nodes: list[NodeProcess]
) -> None:
    """After a quiet spell (the push loop waiting for work), each capture reaches the
    partner well within the idle check's period: the commit wakes the loop."""
    plant, dc_node = make_node(tmp_path, "plant"), make_node(tmp_path, "dc")
    introduce(plant, dc_node)
    plant.home.policy_path.write_text(SHARE_ALL, encoding="utf-8")
    nodes.extend([plant, dc_node])
    plant.start()
    dc_node.start()
    delays = []
    for seed in range(3):
        path = write_synthetic_epcis_json(tmp_path / f"c{seed}.json", 30, seed=seed)
        before = int(dc_node.summary()["store"]["events"])
        job = plant.capture(path.read_bytes())
        assert job["success"], job
        stored = time.monotonic()
        wait_for(
            lambda before=before: int(dc_node.summary()["store"]["events"]) == before + 30,
            30,
            "the capture at the DC",
        )
        delays.append(time.monotonic() - stored)
        time.sleep(0.5)  # quiet: the loop is waiting again
    assert sorted(delays)[1] < IDLE_CHECK / 2, delays


def test_the_back_off_cap_is_set_in_seconds_or_refused_saying_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from keiretsu.node.delivery import BACKOFF_MAX, backoff_max

    monkeypatch.delenv("KEIRETSU_DELIVERY_BACKOFF_MAX", raising=False)
    assert backoff_max() == BACKOFF_MAX
    monkeypatch.setenv("KEIRETSU_DELIVERY_BACKOFF_MAX", "2.5")
    assert backoff_max() == 2.5
    for bad in ("soon", "0.01"):
        monkeypatch.setenv("KEIRETSU_DELIVERY_BACKOFF_MAX", bad)
        with pytest.raises(ValueError, match=f"KEIRETSU_DELIVERY_BACKOFF_MAX={bad!r}"):
            backoff_max()
