"""Kaizen lessons travel between real node processes under the sharing policy, and a denied
lesson does not.

Node A (``plant``) has two experiments: one against waiting at receiving, abandoned (a failure
worth sharing), and one against inventory, still running. Its policy lets ``dc`` receive
finished lessons about waiting only, and names nobody else. A pushes through a recording
relay in front of ``dc``, so the test reads every byte ``dc`` was sent; a third partner
``shop`` (its own key, and a listener on loopback that records every byte) must get nothing,
pushed or asked. ``dc`` then asks its own node "what was tried against
waiting at receiving?" and gets A's failure beside its own experiment.
"""

from __future__ import annotations

import contextlib
import json
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from _nodes import NodeProcess, introduce, make_node, wait_for

from keiretsu.kaizen import Evidence, Target, move, new_experiment, write
from keiretsu.node.auth import sign_request
from keiretsu.node.identity import Identity
from keiretsu.sim.scenario import Variant
from keiretsu.store import Store
from keiretsu.store import kaizen as tables

pytestmark = pytest.mark.slow

POLICY = """
[[rule]]
id = "finished-waiting-lessons-to-dc"
effect = "permit"
subjects = ["dc"]
rights = ["lessons"]
wastes = ["waiting"]
statuses = ["adopted", "abandoned"]

[[rule]]
id = "events-to-shop"
effect = "permit"
subjects = ["shop"]
rights = ["read"]
biz_steps = ["shipping"]
"""

SECRET_TITLE = "Smaller kanban at the line side"
OBJECT_ID = "urn:epc:id:sscc:4012345.0000000042"
EVENT_ID = (
    "ni:///sha-256;0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e?ver=CBV2.0"
)
LOCATION_ID = "urn:epc:id:sgln:4012345.00001.7"
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


class Relay:
    """A TCP relay on loopback in front of a node: forwards both ways and keeps every byte
    sent to the node (``target_port`` None: nothing behind it, the connection is closed)."""

    def __init__(self, target_port: int | None) -> None:
        self.target = target_port
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.port = int(self.server.getsockname()[1])
        self.received = bytearray()
        self.connections = 0
        self._lock = threading.Lock()
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
            try:
                if self.target is None:
                    raise OSError("nothing behind the relay")
                upstream = socket.create_connection(("127.0.0.1", self.target))
            except OSError:  # the node is not up yet: the sender tries again
                client.close()
                continue
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, keep: bool) -> None:
        try:
            while chunk := src.recv(65536):
                if keep:
                    with self._lock:
                        self.received += chunk
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def bytes(self) -> bytes:
        with self._lock:
            return bytes(self.received)

    def close(self) -> None:
        self._stop = True
        self.server.close()


@pytest.fixture
def relays() -> Iterator[list[Relay]]:
    made: list[Relay] = []
    yield made
    for r in made:
        r.close()


def experiments_of_plant(store: Path) -> tuple[str, str]:
    with Store(store) as s:
        shared = new_experiment(
            s,
            title="Dock appointments at receiving",
            problem="Trucks wait four hours at receiving",
            waste="waiting",
            evidence=Evidence(
                steps=("receiving",),
                objects=(OBJECT_ID,),
                events=(EVENT_ID,),
                locations=(LOCATION_ID,),
            ),
            hypothesis="Booked slots cut the wait at receiving by half",
            countermeasure=Variant("slots", {"link.dc.lead_time.mean": 1.0}),
            kind="parameter",
            target=Target(metric="wait_hours", scope="receiving", unit="hours"),
            owner="receiving lead",
            experiment_id="kz-dock-slots",
            at=T0,
        )
        eid = shared.experiment_id
        write(s, eid, "root_cause", "Carriers arrive in waves after lunch", at=T0)
        tables.add_measurement(
            s.con,
            eid,
            {
                "metric": "wait_hours",
                "scope": "receiving",
                "unit": "hours",
                "method": "its",
                "change_at": T0 + timedelta(days=10),
                "effect": -0.4,
                "ci_low": -1.3,
                "ci_high": 0.5,
                "p_value": 0.38,
                "detected": False,
                "mde": 1.2,
                "periods_before": 28,
                "periods_after": 28,
                "alpha": 0.05,
                "naive_effect": -1.1,
                "naive_p_value": 0.02,
                "control": None,
                "verdict": "no effect detected",
                "note": None,
            },
            at=T0 + timedelta(days=40),
        )
        for i, status in enumerate(("simulated", "running", "checked", "abandoned")):
            move(s, eid, status, at=T0 + timedelta(days=10 * i + 1), note=f"step {i}")
        denied = new_experiment(
            s,
            title=SECRET_TITLE,
            problem="Too much stock at the line",
            waste="inventory",
            hypothesis="Half the kanban cards",
            countermeasure=Variant("kanban", {"buffer.line.policy.level": 10}),
            target=Target(metric="on_hand", scope="line"),
            owner="line lead",
            experiment_id="kz-kanban-secret",
            at=T0,
        )
        move(s, denied.experiment_id, "simulated", at=T0 + timedelta(days=1))
    return eid, denied.experiment_id


def own_experiment_of_dc(store: Path) -> str:
    with Store(store) as s:
        exp = new_experiment(
            s,
            title="Cross-dock at receiving",
            problem="Pallets wait for put-away",
            waste="waiting",
            evidence=Evidence(steps=("receiving", "storing")),
            hypothesis="Cross-docking half the pallets halves the wait",
            countermeasure=Variant("xdock", {"buffer.dc.policy.level": 20}),
            target=Target(metric="on_hand", scope="dc"),
            owner="dc manager",
            experiment_id="kz-dc-crossdock",
            at=T0,
        )
    return exp.experiment_id


def partner_get(caller: Identity, to: NodeProcess, path: str) -> httpx.Response:
    token = sign_request(caller, audience=to.name, method="GET", path=path)
    with httpx.Client(base_url=to.url, timeout=30) as c:
        return c.get(path, headers={"Authorization": f"Bearer {token}"})


def lessons_at(node: NodeProcess, **params: Any) -> list[dict[str, Any]]:
    with node.client() as c:
        r = c.get("/twin/kaizen/lessons", params=params)
        assert r.status_code == 200, r.text
        rows: list[dict[str, Any]] = r.json()["rows"]
        return rows


def test_a_lesson_travels_under_policy_and_a_denied_one_does_not(
    tmp_path: Path, nodes: list[NodeProcess], relays: list[Relay]
) -> None:
    plant, dc = make_node(tmp_path, "plant"), make_node(tmp_path, "dc")
    nodes.extend([plant, dc])
    introduce(plant, dc)
    shared_id, denied_id = experiments_of_plant(plant.store)
    dc_own = own_experiment_of_dc(dc.store)
    plant.home.policy_path.write_text(POLICY, encoding="utf-8")
    relay, shop_listener = Relay(dc.port), Relay(None)
    relays.extend([relay, shop_listener])
    plant.home.add_partner("dc", relay.url, dc.home.identity().public_key_text)  # via the relay
    shop = Identity.create("shop")
    plant.home.add_partner("shop", shop_listener.url, shop.public_key_text)
    dc_identity = dc.home.identity()
    with ThreadPoolExecutor(2) as pool:  # the two processes start side by side
        list(pool.map(lambda n: n.start(timeout=90), (dc, plant)))

    # dc receives exactly the permitted lesson, under plant's name
    wait_for(lambda: any(r["source"] == "plant" for r in lessons_at(dc)), 40, "the lesson at dc")
    rows = lessons_at(dc)
    assert sorted((r["source"], r["experiment_id"]) for r in rows) == [
        ("local", dc_own),
        ("plant", shared_id),
    ]

    # asked the network's question, dc gets its own experiment and plant's failure
    asked = lessons_at(dc, waste="waiting", step="receiving")
    assert {(r["source"], r["experiment_id"]) for r in asked} == {
        ("local", dc_own),
        ("plant", shared_id),
    }
    failure = next(r for r in asked if r["source"] == "plant")
    assert failure["status"] == "abandoned"
    assert failure["measured"] == pytest.approx(-0.4)
    assert (failure["measured_low"], failure["measured_high"]) == pytest.approx((-1.3, 0.5))
    assert failure["verdict"] == "no effect detected"
    assert failure["result"].startswith("abandoned")

    # the bytes dc was sent: the permitted lesson, nothing of the denied one, no evidence id
    sent = relay.bytes()
    assert b"Dock appointments at receiving" in sent
    for secret in (denied_id, SECRET_TITLE, OBJECT_ID, LOCATION_ID, "0f9e8d7c6b5a4f3e2d1c0b9a8f"):
        assert secret.encode() not in sent, secret

    # asking plant directly: dc sees its view; the denied lesson answers as an unknown one
    listed = partner_get(dc_identity, plant, "/partners/lessons")
    assert listed.status_code == 200, listed.text
    assert [x["experiment_id"] for x in listed.json()["lessons"]] == [shared_id]
    hidden = partner_get(dc_identity, plant, f"/partners/lessons/{denied_id}")
    absent = partner_get(dc_identity, plant, "/partners/lessons/kz-never-was")
    assert hidden.status_code == absent.status_code == 404
    strip = {"detail", "instance"}
    assert {k: v for k, v in hidden.json().items() if k not in strip} == {
        k: v for k, v in absent.json().items() if k not in strip
    }
    # … and in time: asked in turn, so load on the machine hits both alike
    took: dict[str, list[float]] = {"hidden": [], "absent": []}
    for i in range(30):
        for kind, eid in (("hidden", denied_id), ("absent", f"kz-never-was-{i}")):
            t0 = time.perf_counter()
            assert partner_get(dc_identity, plant, f"/partners/lessons/{eid}").status_code == 404
            took[kind].append(time.perf_counter() - t0)
    h, a = statistics.median(took["hidden"]), statistics.median(took["absent"])
    assert abs(h - a) < max(0.004, 0.5 * min(h, a)), (h, a)

    # shop, a partner the lesson rule does not name, gets nothing, pushed or asked
    time.sleep(1.0)  # the plant's loop has passed over shop too by now
    assert shop_listener.connections == 0 and shop_listener.bytes() == b""
    answer = partner_get(shop, plant, "/partners/lessons")
    assert answer.status_code == 200 and answer.json()["lessons"] == []
    assert partner_get(shop, plant, f"/partners/lessons/{shared_id}").status_code == 404

    # dc never passes plant's lesson on: shop, dc's partner now, finds nothing there
    dc.home.add_partner("shop", shop_listener.url, shop.public_key_text)
    assert partner_get(shop, dc, "/partners/lessons").json()["lessons"] == []

    # dc's store, read after it stops: the one lesson, kept under plant
    dc.kill()
    with Store(dc.store, read_only=True) as s:
        kept = tables.lessons(s.con)
    assert [(k["source"], k["experiment_id"]) for k in kept] == [("plant", shared_id)]
    assert json.dumps(kept, default=str).count(denied_id) == 0
