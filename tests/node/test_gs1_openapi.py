"""GS1's own OpenAPI description of the EPCIS 2.0 REST binding, run by schemathesis against a
node holding the demo's documents, as a local user — the node's application in process (the
same ASGI application ``keiretsu node serve`` runs under uvicorn, lifespan and all), about half
a minute on the 2-core development machine.

Every operation GS1 describes (29 paths, 63 operations) is called with data generated from
GS1's schemas; every answer must be no server error, a status code GS1 documents for that
operation, a content type GS1 documents for that status, and — where GS1's schemas can be
used — a body that validates against GS1's schema (events against the EPCIS 2.0 JSON schema).

GS1's document points at schemas on gs1.github.io; they are read from the copy of the EPCIS
JSON schema in ../shared/data (the same definitions), so the test needs no network. Where this
node's answer is right and GS1's document is silent or wrong, :data:`DIFFERENCES` amends GS1's
document for just that case, and docs/node/epcis-query.md ("Where we differ from GS1's
OpenAPI") says why; everything else is checked as GS1 wrote it.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
import schemathesis
import yaml
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.python import asgi

from _data import data
from keiretsu.io.epcis import read_epcis
from keiretsu.node.app import create_app
from keiretsu.node.auth import TokenStore
from keiretsu.node.home import NodeHome
from keiretsu.node.runtime import Node

REPO = Path(__file__).resolve().parents[2]
SPEC = data("epcis", "spec")
DEMO = REPO / "src" / "keiretsu" / "examples" / "two-company-chain"
STUB = "https://gs1.github.io/EPCIS/REST%20Bindings/JSON-Schema-Stub.json#/definitions/"
HOOK = "http://127.0.0.1:9/hook"
"""Where the test's webhook subscriptions point: loopback, a port nothing listens on."""
EXAMPLES = 10
"""Generated cases per operation (63 operations: the whole run stays well under two minutes)."""

# --- GS1's document, offline ---------------------------------------------------------------


def _local(name: str) -> str:
    return "EPCIS_" + re.sub(r"[^A-Za-z0-9._-]", "_", unquote(name))


def _offline(node: Any) -> Any:
    """GS1's document with its references to gs1.github.io read from the local copy of the
    EPCIS JSON schema, its examples on gs1.github.io dropped, and its cron patterns (written
    with Oniguruma's ``\\g<name>`` calls, which no JSON Schema regex has) left out."""
    if isinstance(node, list):
        return [_offline(x) for x in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$ref" and isinstance(value, str):
            if value.startswith(STUB):
                value = "#/components/schemas/" + _local(value[len(STUB) :])
            elif value.startswith("#/definitions/"):
                value = "#/components/schemas/" + _local(value[len("#/definitions/") :])
        if key in ("example", "examples") and isinstance(value, dict) and "$ref" in value:
            continue
        if key == "pattern" and isinstance(value, str) and "\\g<" in value:
            continue
        out[key] = _offline(value)
    return out


def gs1_document() -> dict[str, Any]:
    """GS1's OpenAPI for the binding, as published, made self-contained."""
    spec: dict[str, Any] = _offline(yaml.safe_load((SPEC / "openapi.yaml").read_text()))
    definitions = json.loads((SPEC / "EPCIS-JSON-Schema.json").read_text())["definitions"]
    spec["components"]["schemas"].update(
        {_local(name): _offline(schema) for name, schema in definitions.items()}
    )
    assert "gs1.github.io/EPCIS/REST" not in json.dumps(spec)
    return spec


# --- where this node differs, and why (docs/node/epcis-query.md says the same) ---------------

_QUERY_DOCUMENTS = ("200EPCISQueryDocument", "200EPCISQueryDocumentSinglePage")
_LISTINGS = [
    ("/capture", "get"),
    ("/eventTypes", "get"),
    ("/epcs", "get"),
    ("/bizSteps", "get"),
    ("/bizLocations", "get"),
    ("/readPoints", "get"),
    ("/dispositions", "get"),
]
_QUERIES = [
    ("/events", "get"),
    ("/eventTypes/{eventType}/events", "get"),
    ("/epcs/{epc}/events", "get"),
    ("/bizSteps/{bizStep}/events", "get"),
    ("/bizLocations/{bizLocation}/events", "get"),
    ("/readPoints/{readPoint}/events", "get"),
    ("/dispositions/{disposition}/events", "get"),
    ("/queries/{queryName}/events", "get"),
]
_PROBLEM = {"$ref": "#/components/schemas/RFC7807ProblemResponseBody"}


def _problem(description: str, *types: str) -> dict[str, Any]:
    schema: dict[str, Any] = _PROBLEM
    if types:
        typed = {"properties": {"type": {"type": "string", "enum": list(types)}}}
        schema = {"allOf": [typed, _PROBLEM]}
    return {"description": description, "content": {"application/problem+json": {"schema": schema}}}


def _ld_json(spec: dict[str, Any]) -> None:
    """EPCIS documents and events are JSON-LD: served as ``application/ld+json``; GS1 names
    only ``application/json``."""
    responses = spec["components"]["responses"]
    for name in _QUERY_DOCUMENTS:
        content = responses[name]["content"]
        content["application/ld+json"] = copy.deepcopy(content["application/json"])
    created = spec["paths"]["/events"]["post"]["responses"]["201"]["content"]
    created["application/ld+json"] = copy.deepcopy(created["application/json"])


def _bad_parameters(spec: dict[str, Any]) -> None:
    """A bad query parameter is a 400 QueryParameterException and too many events a 413
    QueryTooLargeException (EPCIS 2.0 section 8.2.7); GS1 lists neither for ``GET /events``
    nor 413 for the resources' events, nor 400 for a listing's ``perPage`` below 1 or a
    ``nextPageToken`` the node did not issue."""
    for path, method in _QUERIES:
        responses = spec["paths"][path][method]["responses"]
        responses.setdefault("400", {"$ref": "#/components/responses/400QueryIssues"})
        responses.setdefault("413", {"$ref": "#/components/responses/413QueryScopeOrSize"})
    # a named query's events: GS1 has only the subscription problems; a bad perPage or
    # nextPageToken is a query parameter's
    named = spec["paths"]["/queries/{queryName}/events"]["get"]["responses"]
    named["400"] = _problem(
        "refused",
        "epcisException:QueryParameterException",
        "epcisException:SubscriptionControlsException",
        "epcisException:ValidationException",
    )
    for path, method in _LISTINGS:
        spec["paths"][path][method]["responses"]["400"] = {
            "$ref": "#/components/responses/400QueryIssues"
        }


def _refused_definitions(spec: dict[str, Any]) -> None:
    """``POST /queries`` answers 400 for a query the EPCIS query language refuses (an unknown
    parameter, a bad value) or a name that cannot be a URL segment; ``POST
    …/subscriptions`` answers 400 SubscriptionControlsException for a scheduled subscription
    (this node streams). GS1 documents no 400 for either."""
    spec["paths"]["/queries"]["post"]["responses"]["400"] = _problem("refused query")
    subscribe = spec["paths"]["/queries/{queryName}/subscriptions"]["post"]["responses"]
    subscribe["400"] = _problem("refused subscription")


def _problem_json(spec: dict[str, Any]) -> None:
    """Every error is ``application/problem+json`` (RFC 7807), as GS1 writes its other
    errors; GS1's ``400SubscriptionIssues`` names ``application/json``."""
    content = spec["components"]["responses"]["400SubscriptionIssues"]["content"]
    content["application/problem+json"] = copy.deepcopy(content["application/json"])


def _instance_is_a_reference(spec: dict[str, Any]) -> None:
    """A problem's ``instance`` is the request's path: a URI reference, which is what RFC 7807
    section 3.1 asks for; GS1's schema says an absolute ``uri``."""
    body = spec["components"]["schemas"]["RFC7807ProblemResponseBody"]["properties"]
    body["instance"]["format"] = "uri-reference"


def _gs1_schema_errors(spec: dict[str, Any]) -> None:
    """Three of GS1's schemas cannot hold any right answer: the 409 problem's ``status`` is
    fixed at 406; a capture job's ``oneOf`` between ``errors`` and ``errorFile`` matches every
    job twice (neither is required), so no job can be valid; and ``GET /queries/{queryName}``
    is typed as an array where its description and example give one query object."""
    conflict = spec["components"]["responses"]["409ResourceAlreadyExistsException"]
    for content in conflict["content"].values():
        content["schema"]["allOf"][0]["properties"]["status"] = {"type": "integer", "enum": [409]}
    job = spec["components"]["schemas"]["CaptureJob"]
    job["allOf"][1] = {"anyOf": job["allOf"][1]["oneOf"]}
    one = spec["paths"]["/queries/{queryName}"]["get"]["responses"]["200"]["content"]
    one["application/json"]["schema"] = one["application/json"]["schema"]["items"]


def _webhooks_on_loopback(spec: dict[str, Any]) -> None:
    """Not a difference: the test's subscriptions point at loopback, never at a generated
    host (a webhook is POSTed when a document is captured)."""
    shared = spec["components"]["schemas"]["AbstractQuerySubscription"]["properties"]
    shared["dest"] = {"type": "string", "enum": [HOOK]}


DIFFERENCES: list[Callable[[dict[str, Any]], None]] = [
    _ld_json,
    _bad_parameters,
    _refused_definitions,
    _problem_json,
    _instance_is_a_reference,
    _gs1_schema_errors,
    _webhooks_on_loopback,
]


def amended() -> dict[str, Any]:
    spec = gs1_document()
    for amend in DIFFERENCES:
        amend(spec)
    return spec


# --- the node ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str, TestClient]]:
    """A node holding the demo's documents, its app, and a local user's token."""
    store = tmp_path_factory.mktemp("gs1") / "twin.duckdb"
    home = NodeHome.init(store, "gs1")
    token = TokenStore(home.tokens_path).create("gs1")
    node = Node(store)
    for document in sorted(DEMO.glob("*.jsonld")):
        node.store.ingest(read_epcis(document), document=document.name)
    app = create_app(node, deliver=False)
    # requests only: schemathesis runs the app's lifespan (the subscription hub) itself
    yield app, token, TestClient(app)
    asgi.shutdown_lifespans()
    node.close()


def _members(client: TestClient, headers: dict[str, str], path: str) -> list[str]:
    members: list[str] = client.get(path, headers=headers).json()["member"]
    return members


def held(client: TestClient, headers: dict[str, str]) -> dict[str, list[str]]:
    """Path parameter → values the node holds (a capture job, events, EPCs, locations…), so
    that cases reach stored things and not only 404s."""
    captured = client.post(
        "/capture",
        content=sorted(DEMO.glob("*.jsonld"))[0].read_bytes(),
        headers={**headers, "Content-Type": "application/ld+json"},
    )
    body = client.get("/events", params={"perPage": 3}, headers=headers).json()
    events = body["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    return {
        "captureID": [captured.headers["location"].rsplit("/", 1)[-1]],
        "eventID": [e["eventID"] for e in events if "eventID" in e],
        "eventType": ["ObjectEvent", "AggregationEvent"],
        "epc": _members(client, headers, "/epcs?perPage=3"),
        "bizStep": ["shipping", "urn:epcglobal:cbv:bizstep:receiving"],
        "bizLocation": _members(client, headers, "/bizLocations?perPage=2"),
        "readPoint": _members(client, headers, "/readPoints?perPage=2"),
        "disposition": ["in_progress", "https://ref.gs1.org/cbv/Disp-in_transit"],
        "token": ["any"],
    }


def named(client: TestClient, headers: dict[str, str]) -> dict[str, list[str]]:
    """GS1's example query ``myQuery`` and a subscription to it (again, should an operation
    have deleted them)."""
    client.post(
        "/queries",
        json={"name": "myQuery", "query": {"EQ_bizStep": ["shipping", "receiving"]}},
        headers=headers,
    )
    subscribed = client.post(
        "/queries/myQuery/subscriptions", json={"dest": HOOK, "stream": True}, headers=headers
    ).json()
    return {"queryName": ["myQuery"], "subscriptionID": [subscribed["subscriptionID"]]}


def bodies() -> dict[str, list[Any]]:
    """Real documents and events to capture beside the generated ones (generated EPCIS
    documents are slow to make and almost all refused)."""
    documents = [json.loads(p.read_text()) for p in sorted(DEMO.glob("*.jsonld"))]
    first = {"@context": documents[0]["@context"], **documents[0]["epcisBody"]["eventList"][0]}
    fresh = {**first, "eventID": f"urn:uuid:{uuid.uuid4()}"}
    return {"POST /capture": documents, "POST /events": [fresh, first]}


SLOW = {"POST /capture": 4, "POST /events": 6}
"""Operations whose generated cases are slow to make, with fewer of them."""


def cases(operation: Any, values: dict[str, list[str]]) -> Any:
    """Generated cases of ``operation``, and as many again on values the node holds."""
    names = re.findall(r"{(\w+)}", operation.path)
    more = [
        operation.as_strategy(body=body)
        for body in bodies().get(f"{operation.method.upper()} {operation.path}", [])
    ]
    if names and all(values.get(n) for n in names):
        more += [
            operation.as_strategy(path_parameters={n: values[n][i % len(values[n])] for n in names})
            for i in range(max(len(values[n]) for n in names))
        ]
    return st.one_of(operation.as_strategy(), *more)


def test_gs1_document_is_read_whole() -> None:
    spec = gs1_document()
    operations = [
        (path, method)
        for path, item in spec["paths"].items()
        for method in item
        if method in ("get", "post", "put", "delete", "options", "patch", "head")
    ]
    assert (len(spec["paths"]), len(operations)) == (29, 63)


def test_every_gs1_operation_answers_as_gs1_documents_it(
    node: tuple[Any, str, TestClient],
) -> None:
    app, token, client = node
    headers = {"Authorization": f"Bearer {token}"}
    schema = schemathesis.openapi.from_dict(amended())
    schema.app = app
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 63
    stored = held(client, headers)
    for operation in operations:
        values = {**stored, **named(client, headers)}

        @given(case=cases(operation, values))
        @settings(
            max_examples=SLOW.get(f"{operation.method.upper()} {operation.path}", EXAMPLES),
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            verbosity=Verbosity.quiet,
        )
        def fuzz(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=checks)

        try:
            fuzz()
        except (AssertionError, Exception, BaseExceptionGroup) as exc:  # collect, then report all
            first = "\n".join(str(exc).strip().splitlines()[:12])
            failures.append(f"{operation.method.upper()} {operation.path}:\n{first}")
    assert not failures, "\n\n".join(failures)
