"""The node's OpenAPI says what each route returns, and ``/events`` reads its query once.

A client generated from ``/openapi.json`` must know the shape of every answer (a model for
each JSON body; EPCIS documents as JSON-LD), and the SimpleEventQuery parameters are read by
one parser — the query's — so a bad value is refused the same way wherever it comes in.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from keiretsu.node.app import create_app
from keiretsu.node.auth import TokenStore
from keiretsu.node.home import NodeHome
from keiretsu.node.query.parameters import PARAMETERS
from keiretsu.node.runtime import Node

EPCIS_ROUTES = {
    ("get", "/events"),
    ("get", "/events/{eventID}"),
    ("get", "/queries/{queryName}/events"),
    ("post", "/events"),
    ("get", "/epcs/{epc}/events"),
}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, str]]]:
    store = tmp_path_factory.mktemp("models") / "twin.duckdb"
    home = NodeHome.init(store, "plant")
    token = TokenStore(home.tokens_path).create("alice")
    node = Node(store)
    with TestClient(create_app(node, deliver=False)) as client:
        yield client, {"Authorization": f"Bearer {token}"}
    node.close()


def _answers(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """The 2xx answer with a body of each operation: (method, path) → content by media type."""
    out = {}
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method not in ("get", "post") or (
                path.startswith("/twin/") and "partners" not in path
            ):
                continue
            for code, response in op.get("responses", {}).items():
                if code.startswith("2") and response.get("content"):
                    out[(method, path.replace(":path", ""))] = response["content"]
    return out


def test_every_json_answer_names_its_model(app: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = app
    answers = _answers(client.get("/openapi.json").json())
    assert len(answers) >= 20
    for (method, path), content in answers.items():
        if path == "/":  # discovery
            continue
        media, body = next(iter(content.items()))
        assert "$ref" in str(body.get("schema")), (method, path, content)
        if (method, path) in EPCIS_ROUTES:
            assert media == "application/ld+json", (method, path)


def test_events_documents_every_parameter_the_query_reads(
    app: tuple[TestClient, dict[str, str]],
) -> None:
    client, _ = app
    op = client.get("/openapi.json").json()["paths"]["/events"]["get"]
    assert [p["name"] for p in op["parameters"]] == list(PARAMETERS)
    assert "422" not in op["responses"]  # FastAPI reads none of them: the query does


@pytest.mark.parametrize("path", ["/events", "/epcs/x/events", "/bizSteps/shipping/events"])
def test_a_bad_page_size_is_refused_by_the_query_itself(
    app: tuple[TestClient, dict[str, str]], path: str
) -> None:
    client, headers = app
    for bad in ("0", "ten", "10001"):
        r = client.get(path, params={"perPage": bad}, headers=headers)
        assert r.status_code == 400, r.text
        problem = r.json()
        assert problem["type"] == "epcisException:QueryParameterException"
        assert problem["field"] == "perPage"


def test_a_page_size_in_range_is_served(app: tuple[TestClient, dict[str, str]]) -> None:
    client, headers = app
    example = Path(__file__).resolve().parents[2] / "src/keiretsu/examples/two-company-chain"
    r = client.post(
        "/events",
        content=(example / "1-sakura-foods-plant.jsonld").read_bytes(),
        headers={**headers, "Content-Type": "application/ld+json"},
    )
    assert r.status_code == 400  # a document is not one event: POST /capture takes it
    r = client.get("/events", params={"perPage": "1"}, headers=headers)
    assert r.status_code == 200 and r.headers["content-type"] == "application/ld+json"
