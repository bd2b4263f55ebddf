"""The twin's own API (``/twin/…``), as a local user of the plant sees it: an object's path
across the plant and its distribution centre (the DC's events pushed to the plant, as partners
do), the ingest log, and the OpenAPI saying what each route returns."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator

from keiretsu.io.epcis import read_epcis
from keiretsu.io.ocel.jsonocel import write_ocel_json
from keiretsu.model import Ocel
from keiretsu.node.app import create_app
from keiretsu.node.auth import TokenStore, sign_request
from keiretsu.node.home import NodeHome
from keiretsu.node.identity import Identity
from keiretsu.node.runtime import Node

CHAIN = Path(__file__).resolve().parents[2] / "src/keiretsu/examples/two-company-chain"
PLANT_DOC = CHAIN / "1-sakura-foods-plant.jsonld"
DC_DOC = CHAIN / "2-umeda-distribution-dc.xml"
PALLET = "urn:epc:id:sscc:4012345.0000000001"
PALLET_LINK = "https://id.gs1.org/00/040123450000000016"

Twin = tuple[TestClient, dict[str, str]]


@pytest.fixture(scope="module")
def twin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Twin]:
    """The plant's node holding its own document and the DC's, pushed by the DC."""
    store = tmp_path_factory.mktemp("plant") / "twin.duckdb"
    home = NodeHome.init(store, "plant")
    token = TokenStore(home.tokens_path).create("alice")
    dc = Identity.create("dc")
    home.add_partner("dc", "http://127.0.0.1:9", dc.public_key_text)
    node = Node(store)
    local = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(node, deliver=False)) as client:
        r = client.post(
            "/capture",
            content=PLANT_DOC.read_bytes(),
            headers={**local, "Content-Type": "application/json"},
        )
        assert r.status_code == 202, r.text
        for _ in range(400):
            if not client.get(r.headers["location"], headers=local).json()["running"]:
                break
            time.sleep(0.025)
        out = io.BytesIO()
        write_ocel_json(Ocel.concat(read_epcis(DC_DOC)), out)
        body = out.getvalue()
        path = "/partners/inbox?delivery=1"
        signed = sign_request(dc, audience="plant", method="POST", path=path, body=body)
        pushed = client.post(
            path,
            content=body,
            headers={"Authorization": f"Bearer {signed}", "Content-Type": "application/json"},
        )
        assert pushed.status_code == 200, pushed.text
        yield client, local
    node.close()


def test_the_trace_follows_the_pallet_from_the_plant_into_the_dc(twin: Twin) -> None:
    client, local = twin
    r = client.get("/twin/trace", params={"object": PALLET}, headers=local)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["node"], body["object"]) == ("plant", PALLET_LINK)
    steps = [(e["node"], e["activity"]) for e in body["events"]]
    assert steps[:2] == [("plant", "packing"), ("plant", "shipping")]
    assert ("dc", "receiving") in steps and ("dc", "unpacking") in steps
    assert steps.index(("dc", "receiving")) > steps.index(("plant", "shipping"))
    times = [e["time"] for e in body["events"]]
    assert times == sorted(times)
    contents = client.get(
        "/twin/trace", params={"object": PALLET, "contents": "true"}, headers=local
    ).json()
    assert len(contents["events"]) > len(body["events"])  # the cases' steps too
    missing = client.get("/twin/trace", params={"object": "PO-0000"}, headers=local)
    assert missing.status_code == 404
    assert "PO-0000" in missing.json()["detail"]


def test_the_ingest_log_names_the_partner_who_pushed(twin: Twin) -> None:
    client, local = twin
    rows = client.get("/twin/ingests", headers=local).json()
    assert [r["source"] for r in rows] == ["dc", "local"]  # newest first
    assert all(r["status"] == "accepted" and r["problem"] is None for r in rows)
    assert rows[0]["events_new"] > 0


def _schema(spec: dict[str, Any], path: str) -> dict[str, Any]:
    """The documented answer of ``GET path``, as a JSON Schema that resolves its references."""
    content = spec["paths"][path]["get"]["responses"]["200"]["content"]
    return {**content["application/json"]["schema"], "components": spec["components"]}


@pytest.mark.parametrize(
    ("path", "route", "params"),
    [
        ("/twin", "/twin", {}),
        ("/twin/ingests", "/twin/ingests", {}),
        ("/twin/trace", "/twin/trace", {"object": PALLET, "contents": "true"}),
        ("/twin/views/{view}", "/twin/views/process_map", {}),
        ("/twin/views/{view}", "/twin/views/object_times", {}),
        ("/twin/views/{view}", "/twin/views/wastes", {}),
        ("/twin/policy", "/twin/policy", {}),
        ("/twin/audit", "/twin/audit", {}),
    ],
)
def test_each_answer_is_what_the_openapi_says(
    twin: Twin, path: str, route: str, params: dict[str, str]
) -> None:
    client, local = twin
    spec = client.get("/openapi.json").json()
    schema = _schema(spec, path)
    assert "$ref" in schema or "$ref" in schema.get("items", {}) or "anyOf" in schema
    answer = client.get(route, params=params, headers=local)
    assert answer.status_code == 200, answer.text
    checker = Draft202012Validator.FORMAT_CHECKER
    Draft202012Validator(schema, format_checker=checker).validate(answer.json())


def test_the_documented_trace_step_names_its_fields(twin: Twin) -> None:
    client, _ = twin
    step = client.get("/openapi.json").json()["components"]["schemas"]["TraceStep"]
    assert step["properties"]["time"]["format"] == "date-time"
    assert {"time", "node", "activity", "qualifier", "objects", "location", "event_id"} == set(
        step["required"]
    )
    assert "company that recorded" in step["properties"]["node"]["description"]


def test_the_customer_view_measures_takt_on_the_calendar_in_node_toml(twin: Twin) -> None:
    """The DC's shipments to the retailer (pushed to the plant) are what the customers took;
    takt is measured on 24/7 until node.toml names a calendar, then on its shifts."""
    client, local = twin
    home = client.app.state.node.home  # type: ignore[attr-defined]
    r = client.get("/twin/views/customer_demand", headers=local)
    assert r.status_code == 200, r.text
    (row,) = r.json()["rows"]
    assert (row["quantity"], row["unit"]) == (24, "pieces")
    assert "24/7" in r.json()["notes"][0]
    always = row["takt_seconds"]
    assert always == pytest.approx(row["days"] * 86_400 / 24)

    original = home.config_path.read_text()
    try:
        home.config_path.write_text(
            original + '\n[calendar]\ntimezone = "Asia/Tokyo"\n'
            '[calendar.shifts]\ndaily = ["08:00-16:00"]\n'
        )
        r = client.get("/twin/views/customer_demand", headers=local)
        (row,) = r.json()["rows"]
        assert "56 h a week, Asia/Tokyo (node.toml)" in r.json()["notes"][0]
        # one shift of 8 h a day instead of 24 h: about a third of the 24/7 takt
        assert row["takt_seconds"] == pytest.approx(always / 3, rel=0.05)

        home.config_path.write_text(original + '\n[calendar]\nholidays = ["Christmas"]\n')
        with pytest.raises(Exception, match=r"node.toml: holidays\[0\]: expected a date"):
            home.config()
    finally:
        home.config_path.write_text(original)
