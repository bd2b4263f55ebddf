"""The sharing promise as an invariant: a partner's answer is the answer the same query gets on
the projected log alone.

For random logs, random sharing policies and random query parameters (every kind the query
language has: ``EQ_``, ``MATCH_``, ``GE_``/``LT_``, ``EXISTS_``, ``eventType``, ``maxEventCount``,
``eventCountLimit``, ``orderBy``, paging), a partner asks the node over HTTP with its own signed
requests. The reference is a separate store holding nothing but what the policy lets that
partner see (``Policy.apply`` on the log, written to a fresh store), asked the same query as
its own user would. Results, their order, counts, errors and page boundaries must be equal: if
any part of the partner's answer came from the whole log, some random case would tell.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_policy import (
    DISPOSITIONS,
    EPCIS_TYPES,
    OBJECTS,
    PARTNERS,
    STEPS,
    logs,
    object_id,
    rule_dicts,
)

from keiretsu.model.ocel import Ocel
from keiretsu.node.app import create_app
from keiretsu.node.auth import sign_request
from keiretsu.node.epcis_query import QueryError, parse_query, render_events, select_events
from keiretsu.node.home import NodeHome
from keiretsu.node.identity import Identity
from keiretsu.node.policy import Policy
from keiretsu.node.runtime import Node
from keiretsu.store import Store

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
)
def test_a_partner_is_answered_as_the_projected_log_alone_would_answer(
    tmp_path_factory: Any,
    log: Ocel,
    rules: list[dict[str, Any]],
    partner: str,
    params: list[list[tuple[str, str]]],
    per_page: int,
) -> None:
    root: Path = tmp_path_factory.mktemp("invariant")
    home = NodeHome.init(root / "a" / "twin.duckdb", "a")
    for name, identity in IDENTITIES.items():
        home.add_partner(name, f"http://127.0.0.1:9/{name}", identity.public_key_text)
    home.policy_path.write_text(policy_toml(rules), encoding="utf-8")
    node = Node(root / "a" / "twin.duckdb")
    reference = Store(root / "reference.duckdb")
    try:
        node.store.ingest([log], document="log", source="local")
        policy = Policy.load(home.policy_path)
        projected = policy.apply(log, partner, secret=node.secret, right="query", aggregates=False)
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
    finally:
        reference.close()
        node.close()
