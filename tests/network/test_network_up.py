"""`keiretsu network up` for real: node processes on loopback, the shipped example documents
captured over HTTP, the plant's events pushed to the distributor through its outbox as its
policy allows — and a second pair of the same companies whose plant has no policy, so nothing
leaves it. Then `trace`, the analytics over the distributor's store, and `down`.

One network of four nodes is brought up once for the module (starting a node's server takes
a few seconds): ``sakura-plant`` → ``umeda-dc`` (the example's policies) and
``closed-plant`` → ``closed-dc`` (no policy files: deny all).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from keiretsu.analytics import Log, process_map
from keiretsu.analytics.flow import object_times
from keiretsu.network.client import NodeClient
from keiretsu.network.config import NetworkFile
from keiretsu.network.runner import wait_delivered
from keiretsu.network.state import NetworkState

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).parents[2] / "src" / "keiretsu" / "examples"
CHAIN = EXAMPLES / "two-company-chain"
POLICIES = EXAMPLES / "network" / "policies"
PLANT_DOC = CHAIN / "1-sakura-foods-plant.jsonld"
DC_DOCS = [CHAIN / "2-umeda-distribution-dc.xml", CHAIN / "3-umeda-distribution-correction.jsonld"]
PALLET = "urn:epc:id:sscc:4012345.0000000001"
PALLET_LINK = "https://id.gs1.org/00/040123450000000016"


def _free_ports(n: int) -> list[int]:
    sockets = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        sockets.append(s)
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _keiretsu(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "keiretsu", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    if check and done.returncode != 0:
        raise AssertionError(f"keiretsu {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@dataclass
class Running:
    file: Path
    dir: Path
    net: NetworkFile
    pids: dict[str, int]
    up_output: str
    stopped: bool = False


def _raw_events(path: Path) -> list[dict[str, object]]:
    events: list[dict[str, object]] = json.loads(path.read_text())["epcisBody"]["eventList"]
    return events


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    root = tmp_path_factory.mktemp("network")
    ports = _free_ports(4)
    dc_docs = ", ".join(f'"{d}"' for d in DC_DOCS)
    file = root / "network.toml"
    file.write_text(
        f"""
[network]
name = "test-chain"
dir = "nodes"

[[node]]
name = "sakura-plant"
port = {ports[0]}
policy = "{POLICIES / "sakura-plant.toml"}"
ingest = ["{PLANT_DOC}"]
partners = ["umeda-dc"]

[[node]]
name = "umeda-dc"
port = {ports[1]}
policy = "{POLICIES / "umeda-dc.toml"}"
ingest = [{dc_docs}]

[[node]]
name = "closed-plant"
port = {ports[2]}
ingest = ["{PLANT_DOC}"]

[[node]]
name = "closed-dc"
port = {ports[3]}
ingest = [{dc_docs}]
partners = ["closed-plant"]
"""
    )
    net = NetworkFile.load(file)
    running = Running(file=file, dir=net.dir, net=net, pids={}, up_output="")
    try:
        done = _keiretsu("network", "up", str(file), "--wait", "30")
        running.up_output = done.stdout + done.stderr
        state = NetworkState.load(net.state_path)
        assert state is not None
        running.pids = {n.node: n.pid for n in state.nodes}
        yield running
    finally:
        if not running.stopped:
            _keiretsu("network", "down", str(file), check=False)
            for pid in running.pids.values():  # never leave a server behind
                if _alive(pid):
                    os.kill(pid, signal.SIGKILL)


def _client(running: Running, node: str) -> NodeClient:
    state = NetworkState.load(running.net.state_path)
    assert state is not None
    n = state.node(node)
    return NodeClient(n.node, n.url, n.token)


def test_up_starts_every_node_and_shows_them(network: Running) -> None:
    assert set(network.pids) == {"sakura-plant", "umeda-dc", "closed-plant", "closed-dc"}
    assert all(_alive(pid) for pid in network.pids.values())
    for name in network.pids:
        assert name in network.up_output
    for name, pid in network.pids.items():
        assert str(pid) in network.up_output, name
    # each node's home got its policy (or none) and its server log
    homes = {n.name: n.home for n in network.net.nodes}
    assert (homes["sakura-plant"] / "policy.toml").read_bytes() == (
        POLICIES / "sakura-plant.toml"
    ).read_bytes()
    assert not (homes["closed-plant"] / "policy.toml").exists()
    assert all((h / "server.log").exists() for h in homes.values())


def test_downstream_holds_exactly_what_the_plant_policy_shares(network: Running) -> None:
    rows = wait_delivered(network.net.state_path, timeout=30)
    owed = {r.name: r.owed for r in rows}
    assert owed["sakura-plant"] == {"umeda-dc": 0}
    plant_events = _raw_events(PLANT_DOC)
    permitted = {"commissioning", "packing", "shipping"}  # the policy file's biz_steps
    with _client(network, "umeda-dc") as dc:
        ingests = dc.ingests()
        pushed = [i for i in ingests if i["source"] == "sakura-plant"]
        assert pushed and all(i["status"] == "accepted" for i in pushed)
        assert sum(i["events_new"] for i in pushed) == sum(
            e["bizStep"] in permitted for e in plant_events
        )
        own = sum(i["events_new"] for i in ingests if i["source"] == "local")
        assert dc.twin()["store"]["events"] == own + sum(i["events_new"] for i in pushed)
    with _client(network, "closed-dc") as closed:
        assert {i["source"] for i in closed.ingests()} == {"local"}  # the closed plant sent nothing
    with _client(network, "sakura-plant") as plant:
        back = [i for i in plant.ingests() if i["source"] == "umeda-dc"]
        receiving = sum(e.get("bizStep") == "receiving" for e in _xml_steps(DC_DOCS[0]))
        assert sum(i["events_new"] for i in back) == receiving  # the DC's proof of receipt


def _xml_steps(path: Path) -> list[dict[str, str]]:
    from lxml import etree

    tree = etree.parse(str(path))
    steps = [el.text or "" for el in tree.iter() if etree.QName(el).localname == "bizStep"]
    return [{"bizStep": s.rsplit(":", 1)[-1]} for s in steps]


def test_the_process_map_at_the_dc_spans_both_companies(network: Running) -> None:
    wait_delivered(network.net.state_path, timeout=30)
    with _client(network, "umeda-dc") as dc:
        shared_map = dc.view("process_map")
    with _client(network, "closed-dc") as closed:
        closed_map = closed.view("process_map")
    shared_steps = {r["activity"] for r in shared_map["activities"]["rows"]}
    closed_steps = {r["activity"] for r in closed_map["activities"]["rows"]}
    dc_steps = {e["bizStep"] for e in _xml_steps(DC_DOCS[0])}
    assert closed_steps == dc_steps  # only its own steps: the closed plant shares nothing
    assert shared_steps == dc_steps | {"commissioning", "packing"}
    assert "inspecting" not in shared_steps  # the plant keeps its inspections at home


def test_up_again_is_idempotent_and_restarts_a_dead_node(network: Running) -> None:
    os.kill(network.pids["closed-plant"], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _alive(network.pids["closed-plant"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    done = _keiretsu("network", "up", str(network.file), "--wait", "0", "--json")
    rows = {r["node"]: r for r in json.loads(done.stdout)}
    assert (
        rows["closed-plant"]["alive"]
        and rows["closed-plant"]["pid"] != network.pids["closed-plant"]
    )
    for name in ("sakura-plant", "umeda-dc", "closed-dc"):
        assert rows[name]["pid"] == network.pids[name]  # left running
    network.pids["closed-plant"] = rows["closed-plant"]["pid"]
    with _client(network, "umeda-dc") as dc:
        # nothing captured twice: the documents were captured at the first `up`
        assert len([i for i in dc.ingests() if i["source"] == "local"]) == len(DC_DOCS)
    status = json.loads(_keiretsu("network", "status", str(network.file), "--json").stdout)
    assert {r["node"] for r in status} == set(network.pids)
    assert all(r["alive"] for r in status)


def test_down_stops_every_process_then_trace_and_views_read_the_stores(network: Running) -> None:
    wait_delivered(network.net.state_path, timeout=30)
    live = _keiretsu(
        "network", "trace", PALLET, str(network.file), "--node", "umeda-dc", check=False
    )
    if live.returncode != 0:  # the running server cannot trace: it says so, and what to do
        assert "network down" in live.stderr
    done = _keiretsu("network", "down", str(network.file))
    network.stopped = True
    assert "stopped" in done.stdout
    assert not any(_alive(pid) for pid in network.pids.values())
    assert not network.net.state_path.exists()

    trace = json.loads(
        _keiretsu(
            "network", "trace", PALLET, str(network.file), "--node", "umeda-dc", "--json"
        ).stdout
    )
    assert trace["object"] == PALLET_LINK
    steps = [(e["node"], e["activity"]) for e in trace["events"]]
    assert steps == [
        ("sakura-plant", "packing"),
        ("sakura-plant", "shipping"),
        ("umeda-dc", "receiving"),
        ("umeda-dc", "unpacking"),
    ]
    closed = json.loads(
        _keiretsu(
            "network", "trace", PALLET, str(network.file), "--node", "closed-dc", "--json"
        ).stdout
    )
    assert {e["node"] for e in closed["events"]} == {"closed-dc"}
    table = _keiretsu("network", "trace", PALLET, str(network.file), "--node", "umeda-dc").stdout
    assert "sakura-plant" in table and "umeda-dc" in table

    # the analytics over the distributor's store: the pallet's lead time runs from the plant
    dc_store = network.net.node("umeda-dc").store
    log = Log.open(dc_store)
    activities = {r["activity"] for r in process_map.ocdfg(log).activities.table.to_pylist()}
    assert {"commissioning", "packing", "receiving", "unpacking"} <= activities
    times = {r["object_id"]: r for r in object_times(log, "logistic unit").table.to_pylist()}
    pallet = times[PALLET_LINK]
    assert pallet["first_time"] < pallet["last_time"]
    first_step = trace["events"][0]["time"]
    assert pallet["first_time"].isoformat() == first_step  # starts at the plant's packing
