"""The sharing promise as an invariant: a partner's answer is the answer the same query gets on
the projected log alone.

For random logs, random sharing policies and random query parameters (every kind the query
language has: ``EQ_``, ``MATCH_``, ``GE_``/``LT_``, ``EXISTS_``, ``eventType``, ``maxEventCount``,
``eventCountLimit``, ``orderBy``, paging, the sensor and extension-field families, and the
master-data ones: ``WD_``, ``HASATTR_``, ``EQATTR_``/``EQ_ATTR_``), a partner asks the node over
HTTP with its own signed requests. The node holds master data for the log's places, a product
and a business step (with a hierarchy); the policy's rules may share some of it
(``master_data``), deny by default. The reference is a separate store holding nothing but what
the policy lets that partner see (``Policy.apply`` on the log, written to a fresh store), asked
the same query as its own user would. Results, their order, counts, errors and page boundaries
must be equal: if any part of the partner's answer came from the whole log, some random case
would tell.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_policy import (
    DISPOSITIONS,
    EPCIS_TYPES,
    OBJECTS,
    PARTNERS,
    STEPS,
    T0,
    logs,
    object_id,
    rule_dicts,
)

from keiretsu.io.epcis.masterdata import VocabularyElement, with_master_data
from keiretsu.model.ocel import Ocel, OcelBuilder
from keiretsu.node.app import create_app
from keiretsu.node.auth import sign_request
from keiretsu.node.epcis_query import QueryError, parse_query, render_events, select_events
from keiretsu.node.home import NodeHome
from keiretsu.node.identity import Identity
from keiretsu.node.policy import Policy
from keiretsu.node.runtime import Node
from keiretsu.store import Store
from keiretsu.store.masterdata import attach

IDENTITIES = {name: Identity.create(name) for name in PARTNERS}


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


def policy_toml(rules: list[dict[str, Any]]) -> str:
    return "\n".join(
        "[[rule]]\n" + "".join(f"{json.dumps(k)} = {toml_value(v)}\n" for k, v in rule.items())
        for rule in rules
    )


IDS = [o for _, o in OBJECTS] + [object_id("location", 9), "urn:epc:idpat:sgtin:0614141.*"]
TIMES = ["2026-11-01T00:00:00Z", "2026-11-02T12:00:00Z", "2026-11-04T00:00:00+09:00"]

MDA = "urn:epcglobal:cbv:mda:"
LOC = [object_id("location", n) for n in range(4)]
BL = "urn:epcglobal:epcis:vtype:BusinessLocation"
# the node's master data: loc0 > loc1 > loc2, loc3 a sub-site of loc0, every place named
MASTER = (
    VocabularyElement(BL, LOC[0], ((f"{MDA}name", "North"),), (LOC[1],)),
    VocabularyElement(BL, LOC[1], ((f"{MDA}name", "Dock"), (f"{MDA}sst", "201")), (LOC[2],)),
    VocabularyElement(BL, LOC[2], ((f"{MDA}name", "Room"), (f"{MDA}sst", "203"))),
    VocabularyElement(BL, LOC[3], ((f"{MDA}site", LOC[0]), (f"{MDA}sst", "201"))),
    VocabularyElement(
        "urn:epcglobal:epcis:vtype:EPCClass",
        object_id("product class", 0),
        ((f"{MDA}name", "Tea"),),
    ),
    VocabularyElement(
        "urn:epcglobal:epcis:vtype:BusinessStep", "shipping", (("urn:acme:owner", "logistics"),)
    ),
)
MASTER_SHARES = [["*"], [f"{MDA}name"], [f"{MDA}sst", f"{MDA}site"], ["urn:acme:*"]]


@st.composite
def queries(draw: st.DrawFn) -> list[tuple[str, str]]:
    """Random SimpleEventQuery parameters, as a URL carries them."""
    choices: dict[str, st.SearchStrategy[str]] = {
        "eventType": st.sampled_from([*EPCIS_TYPES, "AssociationEvent"]),
        "EQ_bizStep": st.sampled_from(STEPS),
        "EQ_disposition": st.sampled_from(DISPOSITIONS),
        "EQ_action": st.sampled_from(["ADD", "OBSERVE", "DELETE"]),
        "MATCH_epc": st.sampled_from(IDS),
        "MATCH_anyEPC": st.sampled_from(IDS),
        "MATCH_parentID": st.sampled_from(IDS),
        "MATCH_epcClass": st.sampled_from(IDS),
        "MATCH_inputEPC": st.sampled_from(IDS),
        "EQ_readPoint": st.sampled_from(IDS),
        "EQ_bizLocation": st.sampled_from(IDS),
        "EQ_bizTransaction_po": st.sampled_from(IDS),
        "EQ_eventID": st.sampled_from([f"urn:test:ev:{i:03d}" for i in range(4)] + ["nope"]),
        "GE_eventTime": st.sampled_from(TIMES),
        "LT_eventTime": st.sampled_from(TIMES),
        "GE_quantity": st.sampled_from(["1", "4", "10"]),
        "LT_quantity": st.sampled_from(["2", "5", "11"]),
        "EQ_quantity": st.sampled_from(["1.5", "4", "10"]),
        "EXISTS_sensorElementList": st.just(""),
        "EXISTS_errorDeclaration": st.just(""),
        "maxEventCount": st.sampled_from(["0", "1", "3", "20"]),
        # master data: hidden and absent must look the same
        "WD_readPoint": st.sampled_from([*LOC, "urn:test:loc:009"]),
        "WD_bizLocation": st.sampled_from(LOC),
        "HASATTR_readPoint": st.sampled_from([f"{MDA}name", "cbvmda:sst", f"{MDA}site"]),
        "HASATTR_epcClass": st.just("cbvmda:name"),
        "HASATTR_bizStep": st.just("urn:acme:owner"),
        f"EQATTR_bizLocation_{MDA}sst": st.sampled_from(["201", "203|201"]),
        "EQ_ATTR_readPoint_cbvmda:name": st.sampled_from(["North", "Dock|Room"]),
        # sensor data and extension fields
        "EQ_type": st.sampled_from(["Temperature", "gs1:Mass"]),
        "GE_value_CEL": st.sampled_from(["-5", "20"]),
        "EQ_deviceID": st.just("urn:epc:id:giai:4000001.111"),
        "EQ_acme:temp": st.sampled_from(["3", "40"]),
        "GE_acme:temp": st.sampled_from(["0", "12.5"]),
        "EXISTS_acme:temp": st.just(""),
        "EQ_ILMD_acme:lot": st.just("A"),
    }
    names = draw(st.lists(st.sampled_from(sorted(choices)), unique=True, max_size=3))
    params = [(n, draw(choices[n])) for n in names]
    if draw(st.booleans()):
        params.append(("orderBy", draw(st.sampled_from(["eventTime", "recordTime"]))))
        params.append(("orderDirection", draw(st.sampled_from(["ASC", "DESC"]))))
        if "maxEventCount" not in names and draw(st.booleans()):
            params.append(("eventCountLimit", draw(st.sampled_from(["1", "2", "5"]))))
    return params


def reference_pages(store: Store, params: list[tuple[str, str]], per_page: int) -> tuple[int, Any]:
    """The same query asked of the reference store by its own user: (status, pages or detail)."""
    try:
        query = parse_query(params)
        pages: list[list[dict[str, Any]]] = []
        token = None
        while True:
            page = select_events(store.con, query, limit=per_page, after=token)
            pages.append(render_events(store.con, page.event_ids))
            token = page.next_token
            if token is None:
                return 200, pages
    except QueryError as exc:
        return (413 if exc.kind == "too_large" else 400), str(exc).split(": ", 1)[1]


def partner_pages(
    client: TestClient, partner: str, params: list[tuple[str, str]], per_page: int
) -> tuple[int, Any]:
    pages: list[list[dict[str, Any]]] = []
    extra: list[tuple[str, str]] = [("perPage", str(per_page))]
    while True:
        path = "/events?" + urlencode([*params, *extra], quote_via=quote)
        token = sign_request(IDENTITIES[partner], audience="a", method="GET", path=path)
        r = client.get(path, headers={"Authorization": f"Bearer {token}"})
        if r.status_code != 200:
            return r.status_code, r.json()["detail"].split(": ", 1)[1]
        body = r.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        pages.append(body)
        following = r.headers.get("GS1-Next-Page-Token")
        if following is None:
            return 200, pages
        extra = [("perPage", str(per_page)), ("nextPageToken", following)]


def strip_record_time(pages: Any) -> Any:
    """Record times are when each store took the events in (not comparable across stores)."""
    if not isinstance(pages, list):
        return pages
    return [[{k: v for k, v in e.items() if k != "recordTime"} for e in page] for page in pages]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    log=logs(),
    rules=st.lists(rule_dicts(), max_size=4),
    partner=st.sampled_from(PARTNERS),
    params=st.lists(queries(), min_size=1, max_size=4),
    per_page=st.sampled_from([1, 2, 100]),
    shares=st.lists(st.sampled_from([None, *map(tuple, MASTER_SHARES)]), min_size=4, max_size=4),
)
def test_a_partner_is_answered_as_the_projected_log_alone_would_answer(
    tmp_path_factory: Any,
    log: Ocel,
    rules: list[dict[str, Any]],
    partner: str,
    params: list[list[tuple[str, str]]],
    per_page: int,
    shares: list[tuple[str, ...] | None],
) -> None:
    for rule, share in zip(rules, shares, strict=False):  # some rules share master data
        if share is not None and rule["effect"] == "permit" and rule.get("share") != "aggregate":
            rule["master_data"] = list(share)
    same_answers(tmp_path_factory.mktemp("invariant"), log, rules, partner, params, per_page)


def same_answers(
    root: Path,
    log: Ocel,
    rules: list[dict[str, Any]],
    partner: str,
    params: list[list[tuple[str, str]]],
    per_page: int,
) -> list[Any]:
    """Ask the node as ``partner`` and the reference store alike; returns the answers."""
    home = NodeHome.init(root / "a" / "twin.duckdb", "a")
    for name, identity in IDENTITIES.items():
        home.add_partner(name, f"http://127.0.0.1:9/{name}", identity.public_key_text)
    home.policy_path.write_text(policy_toml(rules), encoding="utf-8")
    node = Node(root / "a" / "twin.duckdb")
    reference = Store(root / "reference.duckdb")
    answers: list[Any] = []
    try:
        node.store.ingest([log], document="log", source="local")
        # the master data comes in a document of its own, after the events
        node.store.ingest([with_master_data(Ocel(), MASTER)], document="md", source="local")
        policy = Policy.load(home.policy_path)
        described = attach(Ocel(**log.tables()), MASTER)
        projected = policy.apply(
            described, partner, secret=node.secret, right="query", aggregates=False
        )
        reference.ingest([projected], document="projected", source="local")
        with TestClient(create_app(node, deliver=False)) as client:
            for query in params:
                if ("EQ_eventID", "urn:test:ev:000") in query:
                    # the event as the partner knows it (pseudonymised, if the policy says so)
                    named = policy.event_name("urn:test:ev:000", partner, secret=node.secret)
                    query = [*query, ("EQ_eventID", named)]
                got = partner_pages(client, partner, query, per_page)
                want = reference_pages(reference, query, per_page)
                assert got[0] == want[0], (query, got, want)
                assert strip_record_time(got[1]) == strip_record_time(want[1]), query
                answers.append(got[1])
    finally:
        reference.close()
        node.close()
    return answers


def _located_log() -> Ocel:
    """One event at each place of the master data (as read point and business location)."""
    b = OcelBuilder()
    for i, place in enumerate([*LOC, "urn:test:loc:009"]):
        eid = f"urn:test:ev:{i:03d}"
        b.add_event(eid, "shipping" if i % 2 else "receiving", T0 + timedelta(hours=i))
        b.add_event_attribute(eid, "eventType", "ObjectEvent", "string")
        b.relate(eid, place, "readPoint")
        b.relate(eid, place, "bizLocation")
        b.add_object(place, "location")
    return b.build()


WD = [("WD_readPoint", LOC[0])]
NAMED = [("HASATTR_readPoint", "cbvmda:name")]
SST = [(f"EQATTR_bizLocation_{MDA}sst", "201")]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        # places shared with all their master data: the hierarchy and attributes go along
        ({"share_objects": ["location"], "master_data": ["*"]}, [[0, 1, 2, 3], [0, 1, 2], [1, 3]]),
        # only names: no sub-site types, no site links, but children (between shared places)
        (
            {"share_objects": ["location"], "master_data": [f"{MDA}name"]},
            [[0, 1, 2], [0, 1, 2], []],
        ),
        # no master_data key: none of it, so WD_ is EQ_
        ({"share_objects": ["location"]}, [[0], [], []]),
        # places pseudonymised: their master data stays home
        ({"share_objects": ["location"], "master_data": ["*"], "pseudonymise": ["location"]}, None),
    ],
)
def test_master_data_goes_as_the_policy_says(
    tmp_path: Path, rule: dict[str, Any], expected: list[list[int]] | None
) -> None:
    rules = [{"effect": "permit", "subjects": ["acme"], "keep_attributes": ["*"], **rule}]
    answers = same_answers(tmp_path, _located_log(), rules, "acme", [WD, NAMED, SST], 100)
    events = [[int(e["eventID"][-3:]) for e in pages[0]] for pages in answers]
    if expected is None:  # pseudonymised places: their pseudonyms have no master data
        assert events[1:] == [[], []]
    else:
        assert events == expected
