"""The node's HTTP API in process (the real ASGI app, its writer thread and store): capture
jobs, refusals as problem details, who may call what, what a partner's query and subscription
see under the sharing policy, webhooks signed with GS1-Signature, WebSocket streaming."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from fastapi.testclient import TestClient

from _data import DATA, data, files
from keiretsu.node.app import create_app
from keiretsu.node.auth import TokenStore, sign_request
from keiretsu.node.home import NodeHome
from keiretsu.node.identity import Identity
from keiretsu.node.runtime import Node

REPO = Path(__file__).resolve().parents[2]
OPENEPCIS = DATA / "epcis" / "openepcis" / "JSON" / "Capture"
PLANT_DOC = REPO / "src/keiretsu/examples/two-company-chain/1-sakura-foods-plant.jsonld"

POLICY = """
[[rule]]
id = "shipping-for-dc"
effect = "permit"
subjects = ["dc"]
rights = ["query", "subscribe"]
biz_steps = ["shipping"]
keep_attributes = ["eventType", "action"]
share_objects = ["*"]
pseudonymise = ["logistic unit"]
"""


@pytest.fixture
def plant(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str], Identity, Node]]:
    """The plant's node in process, a local token, and the DC's identity (a partner)."""
    store = tmp_path / "plant" / "twin.duckdb"
    home = NodeHome.init(store, "plant")
    token = TokenStore(home.tokens_path).create("alice")
    dc = Identity.create("dc")
    home.add_partner("dc", "http://127.0.0.1:9", dc.public_key_text)
    home.policy_path.write_text(POLICY, encoding="utf-8")
    node = Node(store)
    with TestClient(create_app(node, deliver=False)) as client:
        yield client, {"Authorization": f"Bearer {token}"}, dc, node
    node.close()


def capture(client: TestClient, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    r = client.post(
        "/capture", content=body, headers={**headers, "Content-Type": "application/json"}
    )
    assert r.status_code == 202, r.text
    assert r.headers["location"].startswith("/capture/")
    for _ in range(400):
        job: dict[str, Any] = client.get(r.headers["location"], headers=headers).json()
        if not job["running"]:
            return job
        time.sleep(0.025)
    raise AssertionError("capture job never finished")


def events_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = body["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    return result


def signed(identity: Identity, method: str, path: str, body: bytes = b"") -> dict[str, str]:
    token = sign_request(identity, audience="plant", method=method, path=path, body=body)
    return {"Authorization": f"Bearer {token}"}


def test_capture_stores_a_valid_document_and_answers_queries(plant: Any) -> None:
    client, local, _, _ = plant
    source = OPENEPCIS / "Documents" / "ObjectEvent.json"
    sent = json.loads(source.read_bytes())["epcisBody"]["eventList"]
    job = capture(client, local, source.read_bytes())
    assert job["success"] and job["errors"] == []
    assert job["keiretsu:report"]["events_new"] == len(sent)
    got = events_of(client.get("/events", headers=local).json())
    assert len(got) == len(sent)
    assert sorted(e["eventTime"] for e in got) == sorted(e["eventTime"] for e in sent)


def test_an_invalid_document_fails_its_job_with_the_reason_and_stores_nothing(
    plant: Any,
) -> None:
    client, local, _, _ = plant
    before = client.get("/twin", headers=local).json()["store"]["events"]
    bad = OPENEPCIS / "Invalid" / "Combination_of_missing_mandatory_fields.json"
    if not bad.exists():
        bad = files(data(OPENEPCIS / "Invalid"), "*.json")[0]
    job = capture(client, local, bad.read_bytes())
    assert not job["success"]
    problem = job["errors"][0]
    assert problem["detail"] and problem.get("field")  # what was wrong, and where
    assert client.get("/twin", headers=local).json()["store"]["events"] == before


def test_capture_refuses_what_it_cannot_take_as_problem_details(plant: Any) -> None:
    client, local, _, _ = plant
    r = client.post("/capture", content=b"a,b\n", headers={**local, "Content-Type": "text/csv"})
    assert r.status_code == 415
    assert r.headers["content-type"].startswith("application/problem+json")
    r = client.post(
        "/capture", content=b"  ", headers={**local, "Content-Type": "application/json"}
    )
    assert r.status_code == 400
    r = client.post(
        "/capture",
        content=b"{}",
        headers={**local, "Content-Type": "application/json", "Content-Length": str(1 << 30)},
    )
    assert r.status_code in (400, 413)
    options = client.options("/capture")
    assert options.headers["GS1-EPCIS-Capture-Limit"].isdigit()
    assert options.headers["GS1-Capture-Error-Behaviour"] == "rollback"
    assert client.get("/capture/nope", headers=local).status_code == 404


def test_no_token_bad_token_and_partner_on_local_routes_are_refused_and_audited(
    plant: Any,
) -> None:
    client, local, dc, _ = plant
    assert client.get("/twin").status_code == 401
    assert client.get("/events", headers={"Authorization": "Bearer kt_wrong"}).status_code == 401
    # a partner's signed request is a caller, but not for the twin's own API
    assert client.get("/twin", headers=signed(dc, "GET", "/twin")).status_code == 403
    # a stranger's key, and a replayed request
    stranger = Identity.create("dc")
    assert client.get("/events", headers=signed(stranger, "GET", "/events")).status_code == 401
    once = signed(dc, "GET", "/events")
    assert client.get("/events", headers=once).status_code == 200
    assert client.get("/events", headers=once).status_code == 401
    reasons = [line.get("reason") for line in client.get("/twin/audit", headers=local).json()]
    for reason in ("unsigned", "unknown-token", "bad-signature", "replayed"):
        assert reason in reasons, reasons


def test_a_partner_query_sees_only_what_the_policy_permits(plant: Any) -> None:
    client, local, dc, _ = plant
    assert capture(client, local, PLANT_DOC.read_bytes())["success"]
    everything = events_of(client.get("/events", headers=local).json())
    shipping = [e for e in everything if e.get("bizStep") == "shipping"]
    assert shipping and len(shipping) < len(everything)
    r = client.get("/events", headers=signed(dc, "GET", "/events"))
    assert r.status_code == 200
    seen = events_of(r.json())
    assert {e["eventID"] for e in seen} == {e["eventID"] for e in shipping}
    text = r.text
    # nothing the rule does not keep: no disposition, no read point names of the plant's pallets
    assert all("disposition" not in e for e in seen)
    pallets = {
        p
        for e in shipping
        for p in ([e.get("parentID")] if e.get("parentID") else []) + e.get("epcList", [])
        if "/00/" in p or "sscc" in p
    }
    assert pallets and not any(p in text for p in pallets)  # pseudonymised
    # one event at a time too: a hidden one is "not found", the same as a missing one
    hidden = next(e for e in everything if e.get("bizStep") != "shipping")
    path = "/events/" + hidden["eventID"]
    assert client.get(path, headers=signed(dc, "GET", path)).status_code == 404


def test_partner_paging_never_reveals_hidden_events(plant: Any) -> None:
    client, local, dc, _ = plant
    capture(client, local, PLANT_DOC.read_bytes())
    seen: list[str] = []
    path = "/events?perPage=1"
    while path:
        r = client.get(path, headers=signed(dc, "GET", path))
        assert r.status_code == 200, r.text
        page = events_of(r.json())
        assert len(page) <= 1
        seen += [e["eventID"] for e in page]
        token = r.headers.get("GS1-Next-Page-Token")
        path = f"/events?perPage=1&nextPageToken={token}" if token else ""
        assert not token or "urn:" not in token
    everything = events_of(client.get("/events", headers=local).json())
    assert seen == [e["eventID"] for e in everything if e.get("bizStep") == "shipping"]


class _Hook(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append((dict(self.headers), body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_a_webhook_subscription_gets_signed_results_of_each_capture(plant: Any) -> None:
    client, local, _, _ = plant
    server = http.server.HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Hook.received = []
    try:
        query = {"name": "shipments", "query": {"EQ_bizStep": ["shipping"]}}
        assert client.post("/queries", json=query, headers=local).status_code == 201
        assert client.post("/queries", json=query, headers=local).status_code == 409
        sub = client.post(
            "/queries/shipments/subscriptions",
            json={
                "dest": f"http://127.0.0.1:{server.server_port}/hook",
                "signatureToken": "s3cret",
                "stream": True,
            },
            headers=local,
        )
        assert sub.status_code == 201, sub.text
        capture(client, local, PLANT_DOC.read_bytes())
        deadline = time.monotonic() + 20
        while not _Hook.received and time.monotonic() < deadline:
            time.sleep(0.05)
        headers, body = _Hook.received[0]
        expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
        assert headers["GS1-Signature"] == expected
        doc = json.loads(body)
        assert doc["epcisBody"]["queryResults"]["subscriptionID"] == sub.json()["subscriptionID"]
        assert {e.get("bizStep") for e in events_of(doc)} == {"shipping"}
        listed = client.get("/queries/shipments/subscriptions", headers=local).json()
        assert listed[0]["subscriptionID"] == sub.json()["subscriptionID"]
    finally:
        server.shutdown()


def test_a_scheduled_subscription_is_refused_with_the_reason(plant: Any) -> None:
    client, local, _, _ = plant
    client.post("/queries", json={"name": "all", "query": {}}, headers=local)
    r = client.post(
        "/queries/all/subscriptions",
        json={"dest": "http://127.0.0.1:9/x", "schedule": {"hour": "1"}},
        headers=local,
    )
    assert r.status_code == 400 and "stream" in r.json()["detail"]


def test_a_websocket_subscriber_is_streamed_each_capture(plant: Any) -> None:
    client, local, _, _ = plant
    client.post("/queries", json={"name": "all", "query": {}}, headers=local)
    token = local["Authorization"].split()[1]
    with client.websocket_connect(f"/queries/all/subscriptions?stream=true&token={token}") as ws:
        capture(client, local, PLANT_DOC.read_bytes())
        doc = ws.receive_json()
    sent = json.loads(PLANT_DOC.read_bytes())["epcisBody"]["eventList"]
    assert len(events_of(doc)) == len(sent)


def test_a_websocket_without_a_token_is_closed(plant: Any) -> None:
    client, local, _, _ = plant
    client.post("/queries", json={"name": "all", "query": {}}, headers=local)
    from starlette.websockets import WebSocketDisconnect

    with (
        pytest.raises(WebSocketDisconnect),
        client.websocket_connect("/queries/all/subscriptions?stream=true") as ws,
    ):
        ws.receive_json()


def test_the_twin_api_shows_views_over_what_was_captured(plant: Any) -> None:
    client, local, _, _ = plant
    capture(client, local, PLANT_DOC.read_bytes())
    twin = client.get("/twin", headers=local).json()
    assert twin["name"] == "plant" and twin["public_key"].startswith("ed25519:")
    assert twin["store"]["events"] > 0
    pm = client.get("/twin/views/process_map", headers=local).json()
    steps = {r["activity"] for r in pm["activities"]["rows"]}
    assert {"commissioning", "packing", "shipping"} <= steps
    assert client.get("/twin/views/nonsense", headers=local).status_code == 404
    policy = client.get("/twin/policy", headers=local).json()
    assert policy["problem"] is None and policy["partners_named"] == ["dc"]
    ingests = client.get("/twin/ingests", headers=local).json()
    assert ingests[0]["status"] == "accepted"
