"""The EPCIS 2.0 binding's top-level resources (``/eventTypes``, ``/epcs``, ``/bizSteps``,
``/bizLocations``, ``/readPoints``, ``/dispositions``) on the openepcis capture documents, and
the rest of GS1's binding this node serves (``OPTIONS`` everywhere, one subscription, one event
captured synchronously, GS1's WebSocket path, ``/nextPageToken``).

Every valid openepcis capture document is stored in one node; what each resource lists and
which events each member's ``events`` returns is computed here from the JSON documents with
plain Python (the helpers of test_epcis_query.py), never from the store.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from test_epcis_query import ANY_EPC, DOCUMENTS, EVENTS, _check, bare, ids, matches, one_name

from _data import data
from keiretsu.model.cbv import BIZ_STEPS, DISPOSITIONS
from keiretsu.node.app import create_app
from keiretsu.node.auth import TokenStore, sign_request
from keiretsu.node.home import NodeHome
from keiretsu.node.identity import Identity
from keiretsu.node.runtime import Node

REPO = Path(__file__).resolve().parents[2]
GS1_OPENAPI = data("epcis", "spec", "openapi.yaml")
PLANT_DOC = REPO / "src/keiretsu/examples/two-company-chain/1-sakura-foods-plant.jsonld"
HOOK = "http://127.0.0.1:9/hook"

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


class Twin:
    """The node in process, a local user's headers, and a partner (``dc``) that signs."""

    def __init__(self, client: TestClient, local: dict[str, str], dc: Identity) -> None:
        self.client = client
        self.local = local
        self.dc = dc

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(path, params=params or None, headers=self.local)

    def local_get(self, url: str) -> Any:
        return self.client.get(url, headers=self.local)

    def as_partner(self, path: str) -> Any:
        token = sign_request(self.dc, audience="openepcis", method="GET", path=path, body=b"")
        return self.client.get(path, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture(scope="module")
def twin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Twin]:
    store = tmp_path_factory.mktemp("resources") / "twin.duckdb"
    home = NodeHome.init(store, "openepcis")
    token = TokenStore(home.tokens_path).create("alice")
    dc = Identity.create("dc")
    home.add_partner("dc", "http://127.0.0.1:9", dc.public_key_text)
    home.policy_path.write_text(POLICY, encoding="utf-8")
    node = Node(store)
    for path in DOCUMENTS:
        node.store.ingest_file(path)
    with TestClient(create_app(node, deliver=False)) as client:
        yield Twin(client, {"Authorization": f"Bearer {token}"}, dc)
    node.close()


# --- reading answers -----------------------------------------------------------------------


def fingerprint(event: dict[str, Any]) -> str:
    """An event as sent, whatever ``@context`` it travels with (a local user gets each event
    as it was captured; many of the openepcis events have no eventID)."""
    return json.dumps({k: v for k, v in event.items() if k != "@context"}, sort_keys=True)


def path_of(*parts: str) -> str:
    return "/" + "/".join(quote(p, safe=":") for p in parts)


def members(get: Callable[[str], Any], path: str, per_page: int = 7) -> list[str]:
    """Every member of a listing, page after page (``Link: <…>; rel="next"``)."""
    out: list[str] = []
    url: str | None = f"{path}?perPage={per_page}"
    while url:
        r = get(url)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["type"] == "Collection" and body["@context"]
        page = body["member"]
        assert len(page) <= per_page
        out += page
        url = None
        if "link" in r.headers:
            link = r.headers["link"]
            assert link.endswith('; rel="next"') and r.headers["gs1-next-page-token"]
            url = link[1 : link.index(">")].split("://", 1)[1].split("/", 1)[1]
            url = "/" + url
    assert len(out) == len(set(out)), "a member came twice"
    return out


def events(get: Callable[[str], Any], path: str) -> list[dict[str, Any]]:
    """Every event of a query path, page after page."""
    out: list[dict[str, Any]] = []
    url: str | None = path + ("&" if "?" in path else "?") + "perPage=25"
    while url:
        r = get(url)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/ld+json")
        out += r.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        link = r.headers.get("link")
        url = "/" + link[1 : link.index(">")].split("://", 1)[1].split("/", 1)[1] if link else None
    return out


def expected(wanted: Callable[[dict[str, Any]], bool]) -> set[str]:
    return {fingerprint(e) for e in EVENTS.values() if wanted(e)}


def got(twin: Twin, path: str) -> set[str]:
    found = [fingerprint(e) for e in events(twin.local_get, path)]
    assert len(found) == len(set(found))
    return set(found)


def instance_epcs(event: dict[str, Any]) -> list[str]:
    return ids(event, *ANY_EPC)


def name(uri: str) -> str:
    """The one spelling of an identifier for comparing: test_epcis_query's, and SSCCs (an EPC
    URN and a Digital Link of one pallet are one thing)."""
    m = re.fullmatch(r"urn:epc:id:sscc:(\d+)\.(\d+)", uri)
    if m:
        digits = m[2][0] + m[1] + m[2][1:]
        return f"sscc:{digits}{_check(digits)}"
    m = re.fullmatch(r"https?://[^/]+/00/(\d{18})", uri)
    if m:
        return f"sscc:{m[1]}"
    return one_name(uri)


def same(wanted: str, uri: str) -> bool:
    """Whether ``uri`` is ``wanted`` (or matches the pattern ``wanted``)."""
    return (
        matches(wanted, uri) if wanted.startswith("urn:epc:idpat:") else name(wanted) == name(uri)
    )


# --- /eventTypes ---------------------------------------------------------------------------


def test_event_types_are_the_five_and_each_gives_its_events(twin: Twin) -> None:
    listed = members(twin.local_get, "/eventTypes", per_page=2)
    assert sorted(listed) == sorted(
        [
            "ObjectEvent",
            "AggregationEvent",
            "TransactionEvent",
            "TransformationEvent",
            "AssociationEvent",
        ]
    )
    for kind in listed:
        assert twin.get(path_of("eventTypes", kind)).json()["member"] == ["events"]
        assert got(twin, path_of("eventTypes", kind, "events")) == expected(
            lambda e, k=kind: e["type"] == k
        )
    assert twin.get("/eventTypes/ex:aCustomEventType").status_code == 404


# --- /epcs ---------------------------------------------------------------------------------


def test_epcs_lists_each_epc_the_documents_name_once(twin: Twin) -> None:
    listed = members(twin.local_get, "/epcs")
    named = {name(x) for e in EVENTS.values() for x in instance_epcs(e)}
    # one member per thing, in one spelling (the canonical Digital Link of a GS1 key)
    assert len(listed) == len(named)
    for member in listed:
        assert twin.get(path_of("epcs", member)).status_code == 200, member
        assert got(twin, path_of("epcs", member, "events")), f"{member} has no events"


@pytest.mark.parametrize(
    "epc",
    sorted({x for e in EVENTS.values() for x in instance_epcs(e)}),
)
def test_an_epcs_events_are_the_events_whose_json_names_it(twin: Twin, epc: str) -> None:
    assert twin.get(path_of("epcs", epc)).json()["member"] == ["events"]
    assert got(twin, path_of("epcs", epc, "events")) == expected(
        lambda e: any(same(epc, x) for x in instance_epcs(e))
    )


def test_an_epc_pattern_and_a_digital_link_find_the_same_events(twin: Twin) -> None:
    urn = "urn:epc:id:sgtin:0614141.107346.2017"
    link = "https://id.gs1.org/01/10614141073464/21/2017"
    wanted = expected(lambda e: any(same(urn, x) for x in instance_epcs(e)))
    assert wanted
    assert got(twin, path_of("epcs", link, "events")) == wanted
    pattern = "urn:epc:idpat:sgtin:0614141.107346.*"
    assert got(twin, path_of("epcs", pattern, "events")) == expected(
        lambda e: any(same(pattern, x) for x in instance_epcs(e))
    )


def test_an_unknown_epc_is_not_found_and_has_no_events(twin: Twin) -> None:
    r = twin.get(path_of("epcs", "urn:epc:id:sgtin:0000000.000000.404"))
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"] == "epcisException:NoSuchNameException"
    assert got(twin, path_of("epcs", "urn:epc:id:sgtin:0000000.000000.404", "events")) == set()


def test_more_parameters_narrow_a_members_events(twin: Twin) -> None:
    urn = "urn:epc:idpat:sgtin:0614141.107346.*"
    assert got(twin, path_of("epcs", urn, "events") + "?eventType=ObjectEvent") == expected(
        lambda e: e["type"] == "ObjectEvent" and any(same(urn, x) for x in instance_epcs(e))
    )
    r = twin.get(path_of("epcs", urn, "events"), MATCH_anyEPC="urn:epc:id:sscc:0614141.1")
    assert r.status_code == 400
    assert r.json()["type"] == "epcisException:QueryParameterException"
    assert r.json()["field"] == "MATCH_anyEPC"


# --- /bizSteps, /dispositions --------------------------------------------------------------


def test_biz_steps_are_the_cbvs_and_every_other_one_the_documents_use(twin: Twin) -> None:
    listed = members(twin.local_get, "/bizSteps", per_page=10)
    assert BIZ_STEPS.terms <= set(listed)
    sent = {bare(e["bizStep"]) for e in EVENTS.values() if e.get("bizStep")}
    own = set(listed) - BIZ_STEPS.terms
    # a company's own steps, as URIs (a CURIE of a document's context expanded)
    assert own and all(":" in s for s in own)
    assert len(own) == len({s for s in sent if s not in BIZ_STEPS.terms})
    for step in sorted(sent):
        if step in BIZ_STEPS.terms:
            assert got(twin, path_of("bizSteps", step, "events")) == expected(
                lambda e, s=step: bare(e.get("bizStep")) == s
            )
    for step in own:
        assert got(twin, path_of("bizSteps", step, "events")), step


def test_a_biz_step_in_any_cbv_spelling(twin: Twin) -> None:
    wanted = expected(lambda e: bare(e.get("bizStep")) == "receiving")
    assert wanted
    for spelling in (
        "receiving",
        "urn:epcglobal:cbv:bizstep:receiving",
        "https://ref.gs1.org/cbv/BizStep-receiving",
    ):
        assert twin.get(path_of("bizSteps", spelling)).status_code == 200
        assert got(twin, path_of("bizSteps", spelling, "events")) == wanted
    # a CBV step no event uses is still a step of the vocabulary: known, no events
    assert twin.get("/bizSteps/void_shipping").status_code == 200
    assert got(twin, "/bizSteps/void_shipping/events") == set()
    assert twin.get("/bizSteps/transforming").status_code == 404  # not a CBV word


def test_dispositions_are_the_cbvs_and_each_gives_its_events(twin: Twin) -> None:
    listed = members(twin.local_get, "/dispositions", per_page=10)
    assert set(listed) == DISPOSITIONS.terms  # the documents use CBV dispositions only
    for disposition in ("in_progress", "in_transit", "needs_replacement"):
        wanted = expected(lambda e, d=disposition: bare(e.get("disposition")) == d)
        assert wanted
        assert got(twin, path_of("dispositions", disposition, "events")) == wanted
        urn = f"urn:epcglobal:cbv:disp:{disposition}"
        assert got(twin, path_of("dispositions", urn, "events")) == wanted


# --- /readPoints, /bizLocations ------------------------------------------------------------


@pytest.mark.parametrize(
    "resource, field", [("readPoints", "readPoint"), ("bizLocations", "bizLocation")]
)
def test_places_and_their_events(twin: Twin, resource: str, field: str) -> None:
    sent = {e[field]["id"] for e in EVENTS.values() if e.get(field)}
    listed = members(twin.local_get, f"/{resource}", per_page=4)
    assert len(listed) == len({name(x) for x in sent})
    for place in sorted(sent):
        assert twin.get(path_of(resource, place)).status_code == 200
        assert got(twin, path_of(resource, place, "events")) == expected(
            lambda e, p=place: same(p, e.get(field, {}).get("id", ""))
        )
    for member in listed:
        assert got(twin, path_of(resource, member, "events")), member
    assert twin.get(path_of(resource, "urn:epc:id:sgln:0000000.00000.0")).status_code == 404


# --- paging --------------------------------------------------------------------------------


def test_listing_pages_hold_every_member_once_and_tokens_are_checked(twin: Twin) -> None:
    whole = twin.get("/epcs", perPage=10_000).json()["member"]
    assert members(twin.local_get, "/epcs", per_page=3) == whole
    first = twin.get("/epcs", perPage=3)
    token = first.headers["gs1-next-page-token"]
    bad = twin.get("/epcs", nextPageToken=token[:-2] + ("AA" if token[-2:] != "AA" else "BB"))
    assert bad.status_code == 400 and bad.json()["field"] == "nextPageToken"
    other = twin.get("/bizSteps", perPage=3).headers["gs1-next-page-token"]
    assert twin.get("/epcs", nextPageToken=other).status_code == 400
    assert twin.get("/epcs", perPage=0).status_code == 400
    assert len(twin.get("/bizSteps", perPage=1_000_000).json()["member"]) > 40  # capped, served


# --- a partner sees only its view ----------------------------------------------------------


def shipping_events() -> list[dict[str, Any]]:
    return [e for e in EVENTS.values() if bare(e.get("bizStep")) == "shipping"]


def test_a_partners_listings_hold_only_what_its_view_holds(twin: Twin) -> None:
    shipped = shipping_events()
    assert shipped and len(shipped) < len(EVENTS)
    partner = twin.as_partner
    # business steps: the CBV's; none of the company URIs of events it may not see
    assert set(members(partner, "/bizSteps", per_page=50)) == BIZ_STEPS.terms
    own_step = path_of("bizSteps", "https://example.com/bizStep/inspecting")
    assert twin.get(own_step).status_code == 200
    assert partner(own_step).status_code == 404
    # EPCs: one per EPC of a shipping event (logistic units under pseudonyms), each with
    # shipping events only
    shipped_epcs = {name(x) for e in shipped for x in instance_epcs(e)}
    seen = members(partner, "/epcs", per_page=50)
    assert len(seen) == len(shipped_epcs)
    for member in seen:
        found = events(partner, path_of("epcs", member, "events"))
        assert found and all(e.get("bizStep") == "shipping" for e in found), member
    hidden = sorted(
        x for e in EVENTS.values() for x in instance_epcs(e) if name(x) not in shipped_epcs
    )[0]
    assert twin.get(path_of("epcs", hidden)).status_code == 200
    assert partner(path_of("epcs", hidden)).status_code == 404
    assert events(partner, path_of("epcs", hidden, "events")) == []
    # places: those of shipping events only
    places = {name(e["readPoint"]["id"]) for e in shipped if e.get("readPoint")}
    assert len(members(partner, "/readPoints")) == len(places)


# --- the rest of GS1's binding ---------------------------------------------------------------


def gs1_paths() -> list[tuple[str, set[str]]]:
    spec = yaml.safe_load(GS1_OPENAPI.read_text())
    verbs = ("get", "post", "put", "delete", "options", "patch")
    return [
        (path, {m.upper() for m in item if m in verbs})
        for path, item in spec["paths"].items()
        if "options" in item
    ]


# ids in a stable order: each xdist worker collects the same names (a set's order is not)
@pytest.mark.parametrize(
    "path, methods",
    gs1_paths(),
    ids=lambda p: ",".join(sorted(p)) if isinstance(p, set) else str(p),
)
def test_options_on_every_gs1_resource_says_what_it_allows(
    twin: Twin, path: str, methods: set[str]
) -> None:
    concrete = path
    for name, value in (
        ("{epc}", "urn%3Aepc%3Aid%3Asgtin%3A0614141.107346.2017"),
        ("{eventID}", "urn:uuid:00000000-0000-4000-8000-000000000000"),
    ):
        concrete = concrete.replace(name, value)
    concrete = "/".join("x" if p.startswith("{") else p for p in concrete.split("/"))
    r = twin.client.options(concrete)  # discovery: no token needed, nothing looked up
    assert r.status_code == 204, (concrete, r.text)
    assert {m.strip() for m in r.headers["allow"].split(",")} == methods
    assert r.headers["gs1-epcis-version"] == "2.0.0"
    assert r.headers["gs1-epcis-min"] == r.headers["gs1-epcis-max"] == "2.0.0"
    assert r.headers["gs1-cbv-version"] == "2.0.0"


def test_the_root_lists_the_nine_top_level_resources(twin: Twin) -> None:
    assert set(twin.get("/").json()["member"]) == {
        "capture",
        "events",
        "queries",
        "eventTypes",
        "epcs",
        "bizSteps",
        "bizLocations",
        "readPoints",
        "dispositions",
    }


def test_one_subscription_by_its_id(twin: Twin) -> None:
    query = f"q{uuid.uuid4().hex[:8]}"
    r = twin.client.post(
        "/queries", json={"name": query, "query": {"EQ_bizStep": ["shipping"]}}, headers=twin.local
    )
    assert r.status_code == 201
    r = twin.client.post(
        f"/queries/{query}/subscriptions",
        json={"dest": HOOK, "stream": True, "signatureToken": "s3cret"},
        headers=twin.local,
    )
    assert r.status_code == 201
    made = r.json()
    one = twin.get(r.headers["location"])
    assert one.status_code == 200
    body = one.json()
    assert body["subscriptionID"] == made["subscriptionID"] and body["queryName"] == query
    assert body["dest"] == HOOK and body["stream"] is True and "createdAt" in body
    assert "signatureToken" not in body and "s3cret" not in one.text
    assert twin.get(f"/queries/{query}/subscriptions/nope").status_code == 404
    # another caller's subscription is not found for a partner
    assert twin.as_partner(r.headers["location"]).status_code == 404
    assert twin.client.delete(r.headers["location"], headers=twin.local).status_code == 204
    assert twin.get(r.headers["location"]).status_code == 404


def test_one_event_captured_synchronously(twin: Twin) -> None:
    doc = json.loads(PLANT_DOC.read_text())
    event = {
        "@context": doc["@context"],  # its own prefixes (sakura:) travel with it
        **doc["epcisBody"]["eventList"][0],
        "eventID": f"urn:uuid:{uuid.uuid4()}",
    }
    headers = {**twin.local, "Content-Type": "application/json"}
    r = twin.client.post("/events", content=json.dumps(event), headers=headers)
    assert r.status_code == 201, r.text
    assert r.headers["location"].startswith("/events/")
    assert r.json()["eventID"] == event["eventID"]
    stored = twin.get(r.headers["location"])
    assert stored.status_code == 200
    (found,) = stored.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert found["eventID"] == event["eventID"]
    again = twin.client.post("/events", content=json.dumps(event), headers=headers)
    assert again.status_code == 409
    assert again.json()["type"] == "epcisException:ResourceAlreadyExistsException"
    broken = {k: v for k, v in event.items() if k != "eventTime"}
    refused = twin.client.post("/events", content=json.dumps(broken), headers=headers)
    assert refused.status_code == 400 and refused.json()["detail"]
    assert twin.client.post("/events", content=b"{", headers=headers).status_code == 400
    csv = {**twin.local, "Content-Type": "text/csv"}
    assert twin.client.post("/events", content=b"a,b", headers=csv).status_code == 415


def test_gs1_websocket_path_streams_a_named_querys_new_events(twin: Twin) -> None:
    query = f"w{uuid.uuid4().hex[:8]}"
    twin.client.post("/queries", json={"name": query, "query": {}}, headers=twin.local)
    token = twin.local["Authorization"].split()[1]
    scheduled = f"/queries/{query}/events?minute=5&token={token}"
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        twin.client.websocket_connect(scheduled) as ws,
    ):
        ws.receive_json()
    assert refused.value.code == 4400
    with twin.client.websocket_connect(f"/queries/{query}/events?stream=true&token={token}") as ws:
        doc = json.loads(PLANT_DOC.read_text())
        doc["epcisBody"]["eventList"] = [
            {**doc["epcisBody"]["eventList"][0], "eventID": f"urn:uuid:{uuid.uuid4()}"}
        ]
        r = twin.client.post(
            "/capture",
            content=json.dumps(doc),
            headers={**twin.local, "Content-Type": "application/json"},
        )
        assert r.status_code == 202
        message = ws.receive_json()
    sent = message["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert [e["eventID"] for e in sent] == [doc["epcisBody"]["eventList"][0]["eventID"]]


def test_releasing_a_page_token_is_accepted_there_is_nothing_to_release(twin: Twin) -> None:
    token = twin.get("/epcs", perPage=1).headers["gs1-next-page-token"]
    assert twin.client.delete(f"/nextPageToken/{token}", headers=twin.local).status_code == 204
    assert twin.client.delete("/nextPageToken/x").status_code == 401  # a caller, as anywhere
    # nothing was kept, nothing is revoked: the token still resumes the listing
    assert twin.get("/epcs", perPage=1, nextPageToken=token).status_code == 200


def test_capture_jobs_page(twin: Twin) -> None:
    for _ in range(2):
        twin.client.post(
            "/capture",
            content=PLANT_DOC.read_bytes(),
            headers={**twin.local, "Content-Type": "application/ld+json"},
        )
    jobs = [j["captureID"] for j in twin.get("/capture", perPage=1000).json()]
    assert len(jobs) >= 2
    first = twin.get("/capture", perPage=1)
    assert [j["captureID"] for j in first.json()] == jobs[:1]
    second = twin.get("/capture", perPage=1, nextPageToken=first.headers["gs1-next-page-token"])
    assert [j["captureID"] for j in second.json()] == jobs[1:2]
