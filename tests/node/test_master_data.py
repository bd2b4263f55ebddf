"""EPCIS master data from documents' headers, kept with history, and the query parameters that
read it (``WD_readPoint``/``WD_bizLocation``, ``HASATTR_``, ``EQATTR_``/``EQ_ATTR_``), against
one real node.

Two documents are captured: a JSON one whose header describes a plant (a site, its dock with
a room below it, a sub-site naming the site through ``cbvmda:site``, a business step and a
user vocabulary), then an XML one that changes the dock's sub-site type and says the site has
no children any more. The expected sets are worked out here by the standard's rule (EPCIS 2.0
section 8.2.7.1 and 6.5: "with descendants" is the children, transitively; an attribute as the
latest document sent it) from the documents alone, never from the node's answers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _nodes import NodeProcess, make_node

NS = "https://ns.example.com/epcis/"
HEADER = {"GS1-Extensions": f"ex={NS}"}
MDA = "urn:epcglobal:cbv:mda:"
BL = "urn:epcglobal:epcis:vtype:BusinessLocation"


def sgln(n: int) -> str:
    return f"urn:epc:id:sgln:4012345.0000{n}.0"


SITE, DOCK, ROOM, SUB, AWAY, BARE = sgln(0), sgln(1), sgln(2), sgln(3), sgln(9), sgln(5)
SITE_LINK = "https://id.gs1.org/414/4012345000009"  # the site's GLN as a Digital Link

MASTER1 = [
    {
        "type": BL,
        "vocabularyElementList": [
            {
                "id": SITE,
                "attributes": [{"id": "cbvmda:name", "attribute": "Plant Osaka"}],
                "children": [DOCK],
            },
            {
                "id": DOCK,
                "attributes": [{"id": f"{MDA}sst", "attribute": "201"}],
                "children": [ROOM],
            },
            {
                "id": SUB,
                "attributes": [
                    {"id": f"{MDA}site", "attribute": SITE},
                    {"id": f"{MDA}sst", "attribute": "202"},
                ],
            },
            {"id": AWAY, "attributes": [{"id": "cbvmda:name", "attribute": "Elsewhere"}]},
        ],
    },
    {
        "type": "urn:epcglobal:epcis:vtype:BusinessStep",
        "vocabularyElementList": [
            {
                "id": "urn:epcglobal:cbv:bizstep:shipping",
                "attributes": [{"id": "ex:owner", "attribute": "logistics"}],
            }
        ],
    },
    {
        "type": "urn:example:vtype:Zone",
        "vocabularyElementList": [
            {"id": "urn:example:zone:A", "attributes": [{"id": "ex:temp", "attribute": "cold"}]}
        ],
    },
]


def _event(n: int, step: str, read_point: str, location: str | None = None, **more: Any) -> dict:
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventID": f"urn:uuid:00000000-0000-4000-8000-{n:012d}",
        "eventTime": f"2024-03-0{n}T10:00:00.000+01:00",
        "eventTimeZoneOffset": "+01:00",
        "epcList": [f"urn:epc:id:sgtin:4012345.011111.{n}"],
        "action": "OBSERVE",
        "bizStep": step,
        "readPoint": {"id": read_point},
        **more,
    }
    if location:
        event["bizLocation"] = {"id": location}
    return event


EVENTS1 = [
    _event(1, "shipping", ROOM, DOCK),
    _event(2, "receiving", SITE, SITE),
    _event(3, "inspecting", SUB, SUB),
    _event(4, "shipping", AWAY),
    _event(5, "inspecting", BARE, **{"ex:zone": "urn:example:zone:A"}),
    _event(6, "inspecting", BARE, **{"ex:zone": "urn:example:zone:B"}),
]
EVENT7 = _event(7, "storing", DOCK)


def _json_document(events: list[dict[str, Any]], master: list[dict[str, Any]]) -> bytes:
    return json.dumps(
        {
            "@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld", {"ex": NS}],
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": "2024-03-01T00:00:00Z",
            "epcisHeader": {"epcisMasterData": {"vocabularyList": master}},
            "epcisBody": {"eventList": events},
        }
    ).encode()


# The second document, in XML: the dock becomes sub-site type 203; the site states no children.
XML2 = f"""<?xml version="1.0" encoding="UTF-8"?>
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" schemaVersion="2.0"
    creationDate="2024-03-07T00:00:00Z">
  <EPCISHeader><extension><EPCISMasterData><VocabularyList>
    <Vocabulary type="{BL}"><VocabularyElementList>
      <VocabularyElement id="{DOCK}"><attribute id="{MDA}sst">203</attribute></VocabularyElement>
      <VocabularyElement id="{SITE}"><children></children></VocabularyElement>
    </VocabularyElementList></Vocabulary>
  </VocabularyList></EPCISMasterData></extension></EPCISHeader>
  <EPCISBody><EventList><ObjectEvent>
    <eventTime>2024-03-07T10:00:00.000+01:00</eventTime>
    <eventTimeZoneOffset>+01:00</eventTimeZoneOffset>
    <eventID>{EVENT7["eventID"]}</eventID>
    <epcList><epc>urn:epc:id:sgtin:4012345.011111.7</epc></epcList>
    <action>OBSERVE</action><bizStep>storing</bizStep>
    <readPoint><id>{DOCK}</id></readPoint>
  </ObjectEvent></EventList></EPCISBody>
</epcis:EPCISDocument>""".encode()

# A document refused for its event: its master data (AWAY renamed) must be stored nowhere.
REFUSED = _json_document(
    [{**_event(8, "shipping", AWAY), "action": "MOVE"}],
    [
        {
            "type": BL,
            "vocabularyElementList": [
                {"id": AWAY, "attributes": [{"id": "cbvmda:name", "attribute": "Renamed"}]}
            ],
        }
    ],
)

# --- the standard's rule, by hand ---------------------------------------------------------

# each element's attributes and children as the two documents leave them (the second one's
# values replace the first's attribute by attribute; a stated children list replaces)
ATTRS: dict[str, dict[str, str]] = {
    SITE: {f"{MDA}name": "Plant Osaka"},
    DOCK: {f"{MDA}sst": "203"},
    SUB: {f"{MDA}site": SITE, f"{MDA}sst": "202"},
    AWAY: {f"{MDA}name": "Elsewhere"},
    "shipping": {f"{NS}owner": "logistics"},
    "urn:example:zone:A": {f"{NS}temp": "cold"},
}
CHILDREN = {SITE: [], DOCK: [ROOM]}
for _child, _attrs in ATTRS.items():  # a sub-site sits below the site it names
    if f"{MDA}site" in _attrs:
        CHILDREN.setdefault(_attrs[f"{MDA}site"], []).append(_child)
ALL = [*EVENTS1, EVENT7]


def _below(roots: list[str]) -> set[str]:
    seen = set(roots)
    todo = list(roots)
    while todo:
        for child in CHILDREN.get(todo.pop(), []):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


def _where(test: Callable[[dict[str, Any]], bool]) -> set[str]:
    return {e["eventID"] for e in ALL if test(e)}


def _rp(e: dict[str, Any]) -> str:
    return str(e["readPoint"]["id"])


def _bl(e: dict[str, Any]) -> str | None:
    return e.get("bizLocation", {}).get("id")


CASES: list[tuple[dict[str, str], set[str]]] = [
    ({"WD_readPoint": SITE}, _where(lambda e: _rp(e) in _below([SITE]))),
    ({"WD_readPoint": DOCK}, _where(lambda e: _rp(e) in _below([DOCK]))),
    ({"WD_readPoint": f"{ROOM}|{AWAY}"}, _where(lambda e: _rp(e) in _below([ROOM, AWAY]))),
    ({"WD_bizLocation": SITE}, _where(lambda e: _bl(e) in _below([SITE]))),
    ({"EQ_readPoint": SITE}, _where(lambda e: _rp(e) == SITE)),
    (
        {"HASATTR_readPoint": f"{MDA}sst"},
        _where(lambda e: f"{MDA}sst" in ATTRS.get(_rp(e), {})),
    ),
    (
        {"HASATTR_readPoint": "cbvmda:name"},
        _where(lambda e: f"{MDA}name" in ATTRS.get(_rp(e), {})),
    ),
    (
        {f"EQATTR_readPoint_{MDA}sst": "203"},
        _where(lambda e: ATTRS.get(_rp(e), {}).get(f"{MDA}sst") == "203"),
    ),
    ({f"EQATTR_readPoint_{MDA}sst": "201"}, set()),  # the dock's old value: history only
    (
        {"EQ_ATTR_readPoint_cbvmda:sst": "202|203"},
        _where(lambda e: ATTRS.get(_rp(e), {}).get(f"{MDA}sst") in ("202", "203")),
    ),
    (
        {"EQATTR_bizLocation_cbvmda:site": SITE_LINK},  # the site in another spelling
        _where(lambda e: ATTRS.get(_bl(e) or "", {}).get(f"{MDA}site") == SITE),
    ),
    (
        {"HASATTR_bizStep": "ex:owner"},
        _where(lambda e: f"{NS}owner" in ATTRS.get(e["bizStep"], {})),
    ),
    (
        {"EQATTR_ex:zone_ex:temp": "cold"},
        _where(lambda e: ATTRS.get(e.get("ex:zone", ""), {}).get(f"{NS}temp") == "cold"),
    ),
    (
        {"WD_readPoint": SITE, "HASATTR_readPoint": f"{MDA}sst"},
        _where(lambda e: _rp(e) in _below([SITE]) and f"{MDA}sst" in ATTRS.get(_rp(e), {})),
    ),
]


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    made = make_node(tmp_path_factory.mktemp("masterdata"), "plant").start(timeout=120)
    try:
        job = made.capture(_json_document(EVENTS1, MASTER1))
        assert job["success"], job
        job = made.capture(XML2, content_type="application/xml")
        assert job["success"], job
        job = made.capture(REFUSED)
        assert not job["success"], job
        yield made
    finally:
        made.kill()


def _ids(node: NodeProcess, params: dict[str, str]) -> set[str]:
    with node.client() as c:
        r = c.get("/events", params={**params, "perPage": "1000"}, headers=HEADER)
    assert r.status_code == 200, r.text
    return {e["eventID"] for e in r.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]}


@pytest.mark.parametrize(("params", "expected"), CASES, ids=[str(c[0]) for c in CASES])
def test_master_data_parameters(
    node: NodeProcess, params: dict[str, str], expected: set[str]
) -> None:
    assert _ids(node, params) == expected


def test_the_cases_tell_events_apart() -> None:
    # every family above has events it matches and events it does not
    for params, expected in CASES[:-1]:
        assert expected != _where(lambda e: True), params
    assert any(not expected for _, expected in CASES)


def test_a_refused_document_leaves_no_master_data(node: NodeProcess) -> None:
    assert _ids(node, {"EQATTR_readPoint_cbvmda:name": "Renamed"}) == set()
    assert _ids(node, {"EQATTR_readPoint_cbvmda:name": "Elsewhere"}) == {EVENTS1[3]["eventID"]}


def test_named_query_reads_both_spellings(node: NodeProcess) -> None:
    with node.client() as c:
        for name, query in (
            ("sst-203", {f"EQATTR_readPoint_{MDA}sst": ["203"]}),
            ("sst-203-schema", {"EQ_ATTR_readPoint_cbvmda:sst": ["203"]}),
        ):
            r = c.post("/queries", json={"name": name, "query": query})
            assert r.status_code == 201, r.text
            r = c.get(f"/queries/{name}/events")
            assert r.status_code == 200, r.text
            got = {
                e["eventID"]
                for e in r.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
            }
            assert got == {EVENT7["eventID"]}, name


@pytest.mark.parametrize(
    "params",
    [{"HASATTR_colour": "cbvmda:name"}, {"EQATTR_readPoint": "1"}, {"EQATTR_readPoint_x": ""}],
)
def test_malformed_master_data_parameters_are_query_parameter_exceptions(
    node: NodeProcess, params: dict[str, str]
) -> None:
    with node.client() as c:
        r = c.get("/events", params=params)
    assert r.status_code == 400, r.text
    assert "QueryParameterException" in r.text


def test_history_and_malformed_master_data(tmp_path: Path) -> None:
    """The store keeps every value with its document; a document whose master data is
    malformed is refused whole."""
    from keiretsu.model.errors import DocumentError
    from keiretsu.store import Store
    from keiretsu.store.masterdata import attribute_history, current_attributes, descendants

    first, second = tmp_path / "a.json", tmp_path / "b.xml"
    first.write_bytes(_json_document(EVENTS1[:1], MASTER1))
    second.write_bytes(XML2)
    bad = tmp_path / "bad.json"
    bad.write_bytes(_json_document(EVENTS1[1:2], [{"type": BL, "vocabularyElementList": [{}]}]))
    with Store(tmp_path / "s.duckdb") as store:
        store.ingest_file(first)
        store.ingest_file(second)
        with pytest.raises(DocumentError, match="vocabularyElementList/0/id"):
            store.ingest_file(bad)
        dock = "https://id.gs1.org/414/4012345000016"
        history = attribute_history(store.con, dock)
        assert [(a, v, i) for a, v, i, _ in history] == [
            (f"{MDA}sst", "201", 1),
            (f"{MDA}sst", "203", 2),
        ]
        assert current_attributes(store.con, dock) == {f"{MDA}sst": "203"}
        site = SITE_LINK
        assert descendants(store.con, [site]) == {site, "https://id.gs1.org/414/4012345000030"}
        assert store.con.execute("SELECT count(*) FROM event").fetchone() == (2,)
