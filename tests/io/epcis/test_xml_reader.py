"""The EPCIS XML reader on third-party documents: openepcis' test resources and the GS1 event-hash
vectors (``../shared/data/epcis``).

What a user notices: every valid document is read, each event in the JSON binding's form equal to
openepcis' own JSON rendering of the same document; every invalid one is refused at the element
that is wrong, with its XPath and line.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import _data
from _data import files
from keiretsu.io.epcis.xml_reader import read_xml_document
from keiretsu.model.errors import DocumentError

DATA = _data.DATA / "epcis"
OPENEPCIS = DATA / "openepcis"
CAPTURE = OPENEPCIS / "XML" / "Capture"
DOC = "/epcis:EPCISDocument/EPCISBody/EventList"
QDOC = "/epcisq:EPCISQueryDocument/EPCISBody/QueryResults/resultsBody/EventList"


def read_all(source: Any, **kw: Any) -> tuple[Any, list[Any]]:
    header, events = read_xml_document(source, **kw)
    return header, list(events)


def refusal(path: Path, **kw: Any) -> Any:
    with pytest.raises(DocumentError) as info:
        read_all(path, **kw)
    assert len(info.value.problems) == 1
    problem = info.value.problems[0]
    assert problem.document == path.name
    return problem


# ---- invalid documents: each refused for what is wrong in it ---------------------------------

# file → (title, field, line, words in the detail); every event here is the document's first.
INVALID = {
    "ObjectEvent_bare_event_without_action.xml": (
        "Missing element",
        "/ObjectEvent/action",
        1,
        "no action",
    ),
    "ObjectEvent_with_invalid_action.xml": (
        "Invalid action",
        f"{DOC}/ObjectEvent[1]/action",
        12,
        "'CREATE'",
    ),
    "ObjectEvent_with_invalid_eventTime_format.xml": (
        "Invalid date and time",
        f"{DOC}/ObjectEvent[1]/eventTime",
        7,
        "'22-07-2026'",
    ),
    "ObjectEvent_with_near_miss_action.xml": (
        "Invalid action",
        f"{DOC}/ObjectEvent[1]/action",
        13,
        "'OBSERV'",
    ),
    "ObjectEvent_with_unknown_element.xml": (
        "Unknown element",
        f"{DOC}/ObjectEvent[1]/madeUpField",
        13,
        "<madeUpField>",
    ),
    # <action> first, then <eventTime>: the XSD puts the EPCISEventType fields first.
    "ObjectEvent_with_wrong_element_order.xml": (
        "Wrong element order",
        f"{DOC}/ObjectEvent[1]/eventTime",
        8,
        "<eventTime> comes after <action>",
    ),
    # The problem points at the event (line 6), where eventTime should be.
    "ObjectEvent_without_eventTime.xml": (
        "Missing element",
        f"{DOC}/ObjectEvent[1]/eventTime",
        6,
        "no eventTime",
    ),
}


def test_every_invalid_capture_document_is_listed() -> None:
    assert [p.name for p in files(CAPTURE / "Invalid", "*.xml")] == sorted(INVALID)


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_capture_document_refused_at_the_wrong_element(name: str) -> None:
    title, field, line, words = INVALID[name]
    problem = refusal(CAPTURE / "Invalid" / name)
    assert problem.title == title
    assert problem.field == field
    assert problem.line == line
    assert problem.event_index == 0
    assert words in problem.detail
    assert problem.expected


def test_invalid_query_documents_refused() -> None:
    inv = OPENEPCIS / "XML" / "Query" / "Invalid"
    p = refusal(inv / "QueryDocument_with_invalid_action.xml")
    assert (p.title, p.field, p.line) == (
        "Invalid action",
        f"{QDOC}/ObjectEvent[1]/action",
        14,
    )
    p = refusal(inv / "QueryDocument_with_invalid_eventType.xml")
    assert (p.title, p.field, p.line) == ("Unknown element", f"{QDOC}/ObjectEventInvalid[1]", 8)
    # A query request (Poll), not a query result: there is no event list to read.
    p = refusal(inv / "QueryDocument_with_missing_value.xml")
    assert (p.title, p.field) == (
        "Unknown element",
        "/epcisq:EPCISQueryDocument/EPCISBody/epcisq:Poll",
    )


def test_invalid_documents_read_loosely_are_still_refused() -> None:
    # strict=False forgives order only; a bad action or a missing eventTime stays refused.
    for name in ("ObjectEvent_with_invalid_action.xml", "ObjectEvent_without_eventTime.xml"):
        refusal(CAPTURE / "Invalid" / name, strict=False)
    wrong_order = CAPTURE / "Invalid" / "ObjectEvent_with_wrong_element_order.xml"
    _, events = read_all(wrong_order, strict=False)
    assert events[0].data["action"] == "ADD"
    assert events[0].data["eventTime"] == "2026-07-22T06:45:00+02:00"


# ---- valid documents: all read ---------------------------------------------------------------

# Documents in the valid sets that break the EPCIS 2.0 XSD's element order. The reader follows
# the XSD by default (the brief's rule, and the Invalid/ObjectEvent_with_wrong_element_order.xml
# case is the same fault) and reads them with strict=False.
XSD_ORDER_BREAKERS = {
    # openepcis: the TransactionEvent's fields are shuffled on purpose ("jumbled")
    "JumbledFieldsOrder.xml": (
        f"{DOC}/TransactionEvent[1]/eventTimeZoneOffset",
        9,
        "<eventTimeZoneOffset> comes after <disposition>",
    ),
    # GS1 hash vectors: <ilmd> before <sensorElementList> in the 12th event
    "SensorDataExamples.xml": (
        f"{DOC}/TransformationEvent[1]/sensorElementList",
        333,
        "<sensorElementList> comes after <ilmd>",
    ),
    # GS1 hash vectors: queryName/resultsBody directly under the root, no EPCISBody/QueryResults
    "epcisXmlQueryDocHavingEventWithIgnoreFields.xml": (
        "/epcisq:EPCISQueryDocument/queryName",
        13,
        "<queryName>",
    ),
}

VALID = sorted(
    [
        *files(CAPTURE / "Documents", "*.xml"),
        *files(CAPTURE / "Events", "*.xml"),
        *files(DATA / "hash-vectors", "*.xml"),
    ],
    key=lambda p: (p.parent.name, p.name),
)


def test_the_valid_sets_are_there() -> None:
    assert len(VALID) == 37 + 6 + 17


@pytest.mark.parametrize("path", VALID, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_valid_document_read(path: Path) -> None:
    if path.name in XSD_ORDER_BREAKERS:
        field, line, words = XSD_ORDER_BREAKERS[path.name]
        problem = refusal(path)
        assert (problem.field, problem.line) == (field, line)
        assert words in problem.detail
        header, events = read_all(path, strict=False)
    else:
        header, events = read_all(path)
    text = path.read_text(encoding="utf-8")
    # as many events as event elements in the file (none of these nests one in an extension)
    expected = len(
        re.findall(
            r"<(?:\w+:)?(?:Object|Aggregation|Transaction|Transformation|Association)Event[\s>]",
            text,
        )
    )
    assert len(events) == expected
    assert [e.index for e in events] == list(range(expected))
    assert header.syntax == "xml"
    for event in events:
        assert event.data["type"] in event.pointer
        assert event.line is not None and event.line >= 1
        assert "eventTime" in event.data and "eventTimeZoneOffset" in event.data
        # every user-extension key is prefix:local with the prefix declared in the header
        for key in _keys(event.data):
            if ":" in key:
                assert key.split(":", 1)[0] in header.namespaces, key


def _keys(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [k for k in value] + [k2 for v in value.values() for k2 in _keys(v)]
    if isinstance(value, list):
        return [k for v in value for k in _keys(v)]
    return []


def test_pointers_and_lines_locate_each_event() -> None:
    path = CAPTURE / "Documents" / "Combination_of_different_event.xml"
    _, events = read_all(path)
    lines = path.read_text().splitlines()
    seen: dict[str, int] = {}
    for event in events:
        kind = event.data["type"]
        seen[kind] = seen.get(kind, 0) + 1
        assert event.pointer == f"{DOC}/{kind}[{seen[kind]}]"
        assert f"<{kind}" in lines[event.line - 1]


def test_query_document_events_and_header() -> None:
    header, events = read_all(DATA / "hash-vectors" / "epcisQueryDocument.xml")
    assert header.kind == "EPCISQueryDocument"
    assert header.schema_version == "2.0"
    assert header.creation_date == "2005-07-11T11:30:47.0Z"
    assert header.namespaces["epcisq"] == "urn:epcglobal:epcis-query:xsd:2"
    # declared on the events, not the root: recorded all the same
    assert header.namespaces["example"] == "http://ns.example.com/epcis/"
    assert events[0].pointer == f"{QDOC}/ObjectEvent[1]"
    assert events[0].data["eventID"].startswith("ni:///sha-256;df7bb3c3")


def test_epcis_1_extension_wrappers_are_lifted() -> None:
    # <extension><quantityList> of EPCIS 1.x becomes the event's quantityList.
    path = DATA / "hash-vectors" / "epcisXmlDocHavingEventWithIgnoreFields.xml"
    header, events = read_all(path)
    first = events[0].data
    assert first["quantityList"] == [
        {
            "epcClass": "urn:epc:class:lgtin:4054739.099961.2015-03-30a",
            "quantity": 150.0,
            "uom": "KGM",
        }
    ]
    assert first["epcList"] == []
    assert first["example:testField1"] == "1234"
    assert "extension" not in first
    # the document-level user extension before the body lands in the header
    assert header.attributes["repository-x:ignoreFields"] == {
        "example:testField1": "",
        "example:testField2": "",
    }


LEGACY = b"""<?xml version="1.0" encoding="UTF-8"?>
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:1" xmlns:ex="http://ex.example/"
    schemaVersion="1.2" creationDate="2015-01-01T00:00:00Z">
  <EPCISBody><EventList>
    <ObjectEvent>
      <eventTime>2015-01-01T10:00:00Z</eventTime>
      <eventTimeZoneOffset>+00:00</eventTimeZoneOffset>
      <baseExtension>
        <eventID>urn:uuid:1</eventID>
        <errorDeclaration>
          <declarationTime>2015-01-02T10:00:00Z</declarationTime>
          <reason>urn:epcglobal:cbv:er:incorrect_data</reason>
          <correctiveEventIDs><correctiveEventID>urn:uuid:2</correctiveEventID></correctiveEventIDs>
        </errorDeclaration>
      </baseExtension>
      <epcList><epc>urn:epc:id:sgtin:1.2.3</epc></epcList>
      <action>OBSERVE</action>
      <extension>
        <quantityList><quantityElement><epcClass>urn:epc:class:lgtin:1.2.L</epcClass>
          <quantity>5</quantity><uom>KGM</uom></quantityElement></quantityList>
        <sourceList>
          <source type="urn:epcglobal:cbv:sdt:owning_party">urn:epc:id:pgln:1.2</source>
        </sourceList>
        <ilmd><ex:lot>L1</ex:lot></ilmd>
      </extension>
      <ex:note ex:lang="en">hello</ex:note>
    </ObjectEvent>
    <extension>
      <TransformationEvent>
        <eventTime>2015-01-01T11:00:00Z</eventTime>
        <eventTimeZoneOffset>+00:00</eventTimeZoneOffset>
        <inputEPCList><epc>urn:epc:id:sgtin:1.2.3</epc></inputEPCList>
        <outputQuantityList><quantityElement><epcClass>urn:epc:class:lgtin:1.2.M</epcClass>
          <quantity>2.5</quantity></quantityElement></outputQuantityList>
        <transformationID>urn:uuid:t</transformationID>
      </TransformationEvent>
    </extension>
  </EventList></EPCISBody>
</epcis:EPCISDocument>"""


def test_epcis_1_document_read_into_the_2_0_form() -> None:
    header, events = read_all(LEGACY, document="legacy.xml")
    assert header.schema_version == "1.2"
    first, second = (e.data for e in events)
    assert first["eventID"] == "urn:uuid:1"
    assert first["errorDeclaration"] == {
        "declarationTime": "2015-01-02T10:00:00Z",
        "reason": "urn:epcglobal:cbv:er:incorrect_data",
        "correctiveEventIDs": ["urn:uuid:2"],
    }
    assert first["quantityList"] == [
        {"epcClass": "urn:epc:class:lgtin:1.2.L", "quantity": 5.0, "uom": "KGM"}
    ]
    assert first["sourceList"] == [
        {"type": "urn:epcglobal:cbv:sdt:owning_party", "source": "urn:epc:id:pgln:1.2"}
    ]
    assert first["ilmd"] == {"ex:lot": "L1"}
    assert first["ex:note"] == {"ex:lang": "en", "#text": "hello"}
    assert second["type"] == "TransformationEvent"
    assert second["outputQuantityList"] == [
        {"epcClass": "urn:epc:class:lgtin:1.2.M", "quantity": 2.5}
    ]
    assert events[1].pointer == f"{DOC}/extension[1]/TransformationEvent[1]"


def _swap(doc: bytes, old: bytes, new: bytes) -> bytes:
    assert old in doc
    return doc.replace(old, new, 1)


@pytest.mark.parametrize(
    ("old", "new", "title", "field"),
    [
        (
            b"<quantity>5</quantity>",
            b"<quantity>five</quantity>",
            "Not a number",
            "extension/quantityList/quantityElement/quantity",
        ),
        (
            b'<source type="urn:epcglobal:cbv:sdt:owning_party">',
            b"<source>",
            "Missing attribute",
            "extension/sourceList/source/@type",
        ),
        (b"<ilmd><ex:lot>", b"<ilmd><lot>", "Unknown element", "extension/ilmd/lot"),
        (
            b"<epcList><epc>",
            b"<epcList><epcs>",
            "Unknown element",
            "epcList/epcs",
        ),
    ],
)
def test_bad_values_refused_with_xpath(old: bytes, new: bytes, title: str, field: str) -> None:
    doc = _swap(LEGACY, old, new)
    if new == b"<ilmd><lot>":
        doc = doc.replace(b"</ex:lot>", b"</lot>", 1)
    if new == b"<epcList><epcs>":
        doc = doc.replace(b"</epc></epcList>", b"</epcs></epcList>", 1)
    with pytest.raises(DocumentError) as info:
        read_all(doc, document="legacy.xml")
    problem = info.value.problems[0]
    assert problem.title == title
    assert problem.field == f"{DOC}/ObjectEvent[1]/{field}"
    assert problem.event_index == 0
    assert problem.document == "legacy.xml"


def test_stray_element_in_the_event_list_refused() -> None:
    doc = _swap(
        LEGACY, b"    <extension>\n      <Transf", b"    <QuantityEvent/><extension>\n      <Transf"
    )
    with pytest.raises(DocumentError) as info:
        read_all(doc)
    assert "QuantityEvent" in info.value.problems[0].detail


def test_sensor_values_are_numbers() -> None:
    _, events = read_all(CAPTURE / "Documents" / "JumbledFieldsOrder.xml", strict=False)
    report = events[0].data["sensorElementList"][0]["sensorReport"][0]
    assert report["value"] == 26.0 and isinstance(report["value"], float)
    assert report["booleanValue"] is True
    assert report["hexBinaryValue"] == "f0f0f0"
    assert events[0].data["quantityList"] == [
        {"epcClass": "urn:epc:class:lgtin:4012345.011111.4444", "quantity": 10.0, "uom": "KGM"}
    ]


# ---- the strongest check: XML and openepcis' JSON of the same document agree ------------------


def _instant(text: str) -> datetime:
    # Both sides write the same instant in different zones and precisions.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text.replace("Z", "+00:00"))
    return datetime.fromisoformat(text)


# Where the two renderings differ in the files themselves (the JSON twin uses another identifier
# or adds a member the XML does not have): (file, event index, path) → (XML value, JSON value).
DATA_DIFFERENCES: dict[tuple[str, int, tuple[Any, ...]], tuple[Any, Any]] = {
    ("epcisDocWithAllGS1Keys", 0, ("epcList", 2)): (
        "urn:epc:id:sscc:4012345.0000000333",
        "https://id.gs1.org/00/040123450000003338",
    ),
    ("epcisDocWithSensorComponent", 0, ("epcList", 0)): (
        "urn:epc:id:grai:040123450.007.18765",
        "https://id.example.com/8003/0040123450007418765",
    ),
    ("epcisDocWithSensorComponent", 0, ("readPoint", "id")): (
        "urn:epc:id:sgln:4012345.00005.0",
        "https://id.example.com/414/4012345000054",
    ),
    # one hour apart in the files: 14:00+01:00 in the XML, 14:00Z in the JSON
    ("Combination_of_different_event", 4, ("errorDeclaration", "declarationTime")): (
        _instant("2019-11-07T14:00:00.000+01:00"),
        _instant("2019-11-07T14:00:00Z"),
    ),
    # the XML has an XML comment there, the JSON an rdfs:comment member
    ("ObjectEvent_with_comment", 0, ("{http://www.w3.org/2000/01/rdf-schema#}comment",)): (
        None,
        "An ObjectEvent may be used for reporting an observation",
    ),
}

# CBV values: the XML files write URNs (urn:epcglobal:cbv:bizstep:shipping), CURIEs
# (cbv:BizStep-shipping) or Web URIs, openepcis' JSON the bare word (shipping); sensor types
# gs1:Temperature vs Temperature. Only these fields are reduced to the bare word, on both sides.
_CBV = re.compile(
    r"^(?:urn:epcglobal:cbv:(?:bizstep|disp|btt|sdt|er):"
    r"|(?:https://ref\.gs1\.org/cbv/|cbv:)(?:BizStep|Disp|BTT|SDT|ER)-"
    r"|gs1:|https://gs1\.org/voc/)"
)
_TIMES = {"eventTime", "recordTime", "declarationTime", "time", "startTime", "endTime"}


def _normal(value: Any, ns: dict[str, str], key: str = "") -> Any:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k == "@context":
                continue
            name = k
            if ":" in k and k.split(":", 1)[0] in ns:  # a user extension: compare by IRI
                prefix, local = k.split(":", 1)
                name = f"{{{ns[prefix]}}}{local}"
            out[name] = _normal(v, ns, k)
        return out
    if isinstance(value, list):
        return [_normal(v, ns, key) for v in value]
    if isinstance(value, str):
        if key in _TIMES:
            return _instant(value)
        if key in ("bizStep", "disposition", "type", "reason", "set", "unset"):
            return _CBV.sub("", value)
    return value


# Prefixes of the standard JSON-LD context that the twins use without declaring. cbvmda is
# "urn:epcglobal:cbv:mda:" there and "urn:epcglobal:cbv:mda" as the XML namespace: the same
# CBV master-data attributes in each binding's own spelling.
STANDARD_PREFIXES = {"cbvmda": "urn:epcglobal:cbv:mda", "gs1": "https://gs1.org/voc/"}


def _context(items: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items if isinstance(items, list) else [items]:
        if isinstance(item, dict):
            out.update({k: v for k, v in item.items() if isinstance(v, str)})
    return out


def _pop(tree: Any, path: tuple[Any, ...]) -> Any:
    *head, last = path
    for step in head:
        tree = tree[step]
    if isinstance(tree, dict):
        return tree.pop(last, None)
    return tree[last]


JSON_STEMS = {p.stem for p in files(OPENEPCIS / "JSON" / "Capture" / "Documents", "*.json")}
TWINS = [p for p in files(CAPTURE / "Documents", "*.xml") if p.stem in JSON_STEMS]


def test_twins_found() -> None:
    assert len(TWINS) == 35


@pytest.mark.parametrize("path", TWINS, ids=lambda p: p.stem)
def test_events_equal_openepcis_json_of_the_same_document(path: Path) -> None:
    twin = json.loads(
        (OPENEPCIS / "JSON" / "Capture" / "Documents" / f"{path.stem}.json").read_text()
    )
    header, events = read_all(path, strict=path.name not in XSD_ORDER_BREAKERS)
    json_events = twin["epcisBody"]["eventList"]
    assert len(events) == len(json_events)
    doc_ctx = {**STANDARD_PREFIXES, **_context(twin.get("@context", []))}
    for i, (ours, theirs) in enumerate(zip(events, json_events, strict=True)):
        ctx = {**doc_ctx, **_context(theirs.get("@context", []))}
        # every namespace the JSON declares for this event is declared in our header too
        for uri in _context(theirs.get("@context", [])).values():
            assert uri in header.namespaces.values()
        a = _normal(ours.data, header.namespaces)
        b = _normal(theirs, ctx)
        for (stem, index, where), (xml_value, json_value) in DATA_DIFFERENCES.items():
            if stem == path.stem and index == i:
                assert _pop(a, where) == xml_value
                assert _pop(b, where) == json_value
                if not isinstance(where[-1], str):
                    # a list item: set both to the XML value, the rest must then agree
                    *head, last = where
                    target = b
                    for step in head:
                        target = target[step]
                    target[last] = xml_value
        assert a == b, f"event {i}"
