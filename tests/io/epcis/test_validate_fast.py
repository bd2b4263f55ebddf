"""The fast path of validation never lets through what the field-by-field checker refuses.

``validate_event`` first tries a fast path for events of a common shape and falls back to the
full checker (``_check_event``) when it is not sure. Whatever the history of the caches of
values already found good, both must give the same problems for every event: the corpus
(valid and invalid, JSON and XML), the synthetic chain, and events broken on purpose.
"""

from __future__ import annotations

import copy
import itertools
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import _data
import keiretsu.io.epcis.validate as validate
import keiretsu.model.gs1 as gs1
from _data import files
from keiretsu.io.epcis._types import DocumentHeader, RawEvent
from keiretsu.io.epcis.json_reader import read_json_document
from keiretsu.io.epcis.synth import synthetic_events
from keiretsu.io.epcis.validate import _check_event, validate_event
from keiretsu.io.epcis.xml_reader import read_xml_document
from keiretsu.model.errors import DocumentError

DATA = _data.DATA / "epcis"
OPEN = DATA / "openepcis"
JSON_DOCS = files(OPEN / "JSON", "*.json", recursive=True) + files(
    DATA / "hash-vectors", "*.jsonld"
)
XML_DOCS = files(OPEN / "XML", "*.xml", recursive=True)

GS1_CONTEXT = ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"]


def _forget() -> None:
    """Empty every cache of values found good, as at the start of a process."""
    for name in dir(validate):
        if name.startswith("_GOOD_") and isinstance(getattr(validate, name), dict):
            getattr(validate, name).clear()
    for shapes in validate._SHAPES.values():
        shapes.clear()
    gs1._GOOD_HEADS.clear()
    validate._LAST[:] = [None] * len(validate._LAST)


def _events(path: Path) -> tuple[DocumentHeader, list[RawEvent]]:
    read = read_xml_document if path.suffix == ".xml" else read_json_document
    try:
        header, events = read(path)
        return header, list(events)
    except DocumentError:
        return DocumentHeader(), []  # refused by the reader: nothing reaches validation


def _same_verdict(raw: RawEvent, header: DocumentHeader) -> None:
    full = _check_event(raw, header, "doc")
    assert validate_event(raw, header, document="doc") == full, raw.data
    # and once more, now that the values of this event may be remembered as good
    assert validate_event(raw, header, document="doc") == full, raw.data


@pytest.mark.parametrize("path", JSON_DOCS + XML_DOCS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_corpus_gets_the_same_problems_both_ways(path: Path) -> None:
    header, events = _events(path)
    for cold in (True, False):
        if cold:
            _forget()
        for raw in events:
            _same_verdict(raw, header)


def test_the_synthetic_chain_takes_the_fast_path_and_is_valid() -> None:
    _forget()
    header = DocumentHeader(namespaces={"cbvmda": "urn:epcglobal:cbv:mda:"})
    header.attributes["@context"] = GS1_CONTEXT
    for i, event in enumerate(synthetic_events(200)):
        raw = RawEvent(index=i, data=event, pointer=f"/epcisBody/eventList/{i}")
        assert _check_event(raw, header, None) == []
        kind = event["type"]
        assert validate._fast_ok(event, kind, header.namespaces), event


# --------------------------------------------------------------------------------------------
# events broken on purpose, anywhere in them

SEEDS = [e for e in synthetic_events(10)] + [
    {
        "type": "TransformationEvent",
        "eventTime": "2024-03-04T07:15:00Z",
        "eventTimeZoneOffset": "+00:00",
        "inputEPCList": ["urn:epc:id:sgtin:4012345.011111.1"],
        "outputQuantityList": [{"epcClass": "urn:epc:class:lgtin:4012345.011111.L1"}],
        "transformationID": "urn:acme:t:1",
        "recordTime": "2024-03-04T07:16:00+01:00",
    },
    {
        "type": "TransactionEvent",
        "eventTime": "2024-03-04T07:15:00.5-05:00",
        "eventTimeZoneOffset": "-05:00",
        "action": "ADD",
        "parentID": "https://id.gs1.org/00/106141412345678908",
        "epcList": [],
        "bizTransactionList": [{"bizTransaction": "urn:epcglobal:cbv:bt:0614141000005:PO-1"}],
        "bizStep": "https://ref.gs1.org/cbv/BizStep-shipping",
        "disposition": "urn:epcglobal:cbv:disp:in_transit",
    },
    {
        "type": "AssociationEvent",
        "eventTime": "2024-03-04T07:15:00Z",
        "eventTimeZoneOffset": "+00:00",
        "action": "OBSERVE",
        "parentID": "urn:epc:id:grai:4012345.00012.1",
        "childEPCs": ["urn:epc:id:giai:4012345.A1"],
        "acme:note": "x",
        "sourceList": [{"type": "cbv:SDT-location", "source": "urn:epc:id:sgln:4012345.00001.0"}],
    },
]
NAMESPACES = {
    "cbvmda": "urn:epcglobal:cbv:mda:",
    "acme": "https://acme.example/ns/",
    "cbv": "https://ref.gs1.org/cbv/",
}
ODD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    1.0,
    -0.5,
    "",
    " ",
    "x",
    [],
    {},
    [None],
    [{}],
    ["x"],
    {"id": None},
    {"id": "urn:epc:id:sgln:4012345.00001.0", "acme:x": 1},
    {"id": "urn:epc:id:sgln:4012345.00001.0", "other": 1},
    "ADD",
    "OBSERVE",
    "DELETE",
    "add",
    "OBSERVE ",
    "shipping",
    "Shipping",
    "urn:epcglobal:cbv:bizstep:nothing",
    "urn:epcglobal:cbv:disp:in_transit",
    "https://ref.gs1.org/cbv/BizStep-nothing",
    "https://ref.gs1.org/cbv/Disp-active",
    "cbv:BizStep-shipping",
    "cbv:my_own",
    "undeclared:thing",
    "acme:thing",
    "po",
    "location",
    "owning_party",
    "not a uri",
    "urn:uuid:5a7c9b1e-3f4d-4c2a-9b8e-1d2c3b4a5f6e",
    "urn:epc:id:sgtin:4012345.011111.100000",
    "urn:epc:id:sgtin:4012345.011111.999999999",
    "urn:epc:id:sgtin:4012345.011111.1 2",
    "urn:epc:id:sgtin:4012345.011111.123456789012345678901",
    "urn:epc:id:sgtin:4012345.011111.",
    "urn:epc:id:sgtin:4012345.0111111.1",
    "urn:epc:id:sgtin:4012345.011111.a%2Fb",
    "urn:epc:id:sgtin:4012345.011111.ü",
    "urn:epc:id:sscc:4012345.0000000001",
    "urn:epc:id:sscc:4012345.000000001",
    "urn:epc:class:lgtin:4012345.055555.R00001",
    "urn:epc:id:sgln:4012345.00001.0",
    "urn:epc:id:pgln:4012345.00000",
    "https://id.gs1.org/01/09521141012345/21/2017",
    "https://id.gs1.org/01/09521141012346/21/2017",
    "https://id.gs1.org/00/106141412345678908",
    "http://example.com/thing",
    "https:no-slashes",
    "2024-03-04T07:15:00.000+01:00",
    "2024-03-04T07:15:00Z",
    "2024-03-04t07:15:00z",
    "2024-03-04T07:15:00",
    "2024-02-30T07:15:00Z",
    "2024-03-04 07:15:00Z",
    "2024-03-04T07:15:00,5Z",
    "1969-12-31T23:59:59Z",
    "2999-01-01T00:00:00Z",
    "+01:00",
    "+14:01",
    "01:00",
    "KGM",
    "kg",
    [{"epcClass": "urn:epc:class:lgtin:4012345.055555.R1", "quantity": 1, "uom": "KGM"}],
    [{"epcClass": "urn:epc:class:lgtin:4012345.055555.R1", "uom": "KGM"}],
    [{"epcClass": "urn:epc:class:lgtin:4012345.055555.R1", "quantity": True}],
    [{"type": "po", "bizTransaction": "urn:x:1"}, {"bizTransaction": "urn:x:2", "x": 1}],
    [{"type": "location", "source": "urn:epc:id:sgln:4012345.00001.0"}],
    [{"type": "location", "destination": "urn:epc:id:sgln:4012345.00001.0"}],
    ["urn:epc:id:sgtin:4012345.011111.1", "urn:epc:id:sgtin:4012345.011111.1"],
    ["urn:epc:id:sgtin:4012345.011111.1", 1],
]
NEW_KEYS = [
    "note",
    "acme:note",
    "undeclared:note",
    "@context",
    "Type",
    "sensorElementList",
    "errorDeclaration",
    "certificationInfo",
    "persistentDisposition",
    "ilmd",
    "parentID",
]


def _containers(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths to every object and array inside ``value``, itself first."""
    out = [path]
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for k, v in items:
        if isinstance(v, dict | list):
            out += _containers(v, (*path, k))
    return out


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for k in path:
        value = value[k]
    return value


@st.composite
def broken_events(draw: st.DrawFn) -> dict[str, Any]:
    event = copy.deepcopy(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 3))):
        where = _at(event, draw(st.sampled_from(_containers(event))))
        op = draw(st.sampled_from(["replace", "drop", "add", "repeat"]))
        if isinstance(where, dict):
            keys = sorted(where)
            if op == "add" or not keys:
                where[draw(st.sampled_from(NEW_KEYS))] = copy.deepcopy(
                    draw(st.sampled_from(ODD_VALUES))
                )
            elif op == "drop":
                del where[draw(st.sampled_from(keys))]
            else:
                where[draw(st.sampled_from(keys))] = copy.deepcopy(
                    draw(st.sampled_from(ODD_VALUES))
                )
        elif isinstance(where, list):
            if where and op in ("replace", "drop", "repeat"):
                i = draw(st.integers(0, len(where) - 1))
                if op == "replace":
                    where[i] = copy.deepcopy(draw(st.sampled_from(ODD_VALUES)))
                elif op == "drop":
                    del where[i]
                else:
                    where.append(copy.deepcopy(where[i]))
            else:
                where.append(copy.deepcopy(draw(st.sampled_from(ODD_VALUES))))
    return event


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(broken_events(), st.booleans(), st.sampled_from(["json", "xml"]))
def test_broken_events_get_the_same_problems_both_ways(
    event: dict[str, Any], cold: bool, syntax: str
) -> None:
    if cold:
        _forget()
    header = DocumentHeader(syntax=syntax, namespaces=NAMESPACES)
    raw = RawEvent(index=3, data=event, pointer="/epcisBody/eventList/3")
    _same_verdict(raw, header)


def test_a_prefix_declared_in_one_document_is_not_taken_for_granted_in_the_next() -> None:
    _forget()
    event = {**SEEDS[1], "ilmd": {"acme:lot": "L1"}, "bizStep": "acme:kitting"}
    declared = DocumentHeader(namespaces=NAMESPACES)
    undeclared = DocumentHeader(namespaces={"cbvmda": "urn:epcglobal:cbv:mda:"})
    for header in itertools.islice(itertools.cycle([declared, undeclared]), 4):
        raw = RawEvent(index=0, data=event, pointer="/epcisBody/eventList/0")
        found = validate_event(raw, header)
        assert (found == []) == (header is declared)
        assert found == _check_event(raw, header, None)


def test_the_rules_across_fields_are_kept_both_ways() -> None:
    """What an event must carry as a whole (action × ilmd, lists empty or missing, parentID):
    every combination on every seed, both ways."""
    header = DocumentHeader(namespaces=NAMESPACES)
    lists = [
        "epcList",
        "quantityList",
        "childEPCs",
        "childQuantityList",
        "inputEPCList",
        "outputEPCList",
        "outputQuantityList",
        "bizTransactionList",
    ]
    for seed in SEEDS:
        for action, ilmd, parent in itertools.product(
            ["ADD", "OBSERVE", "DELETE", None], [False, True], [False, True]
        ):
            for emptied in [None, *lists]:
                event = copy.deepcopy(seed)
                if action is None:
                    event.pop("action", None)
                else:
                    event["action"] = action
                if ilmd:
                    event["ilmd"] = {"cbvmda:lotNumber": "L1"}
                if parent:
                    event.pop("parentID", None)
                if emptied in event:
                    event[emptied] = []
                elif emptied is not None:
                    continue
                _forget()
                _same_verdict(RawEvent(index=0, data=event, pointer="/e/0"), header)


def test_a_good_identifier_is_still_wrong_where_an_object_is_expected() -> None:
    """Found by hypothesis: once a location id had been checked (in a sourceList), the same
    string standing as a business transaction was waved through by the remembered-identifier
    shortcut. The shortcut is for EPC lists only."""
    _forget()
    header = DocumentHeader(namespaces=NAMESPACES)
    location = "urn:epc:id:sgln:4012345.00001.0"
    good = {
        **SEEDS[0],
        "sourceList": [{"type": "location", "source": location}],
    }
    assert validate_event(RawEvent(index=0, data=good, pointer="/e/0"), header) == []
    bad = {**good, "bizTransactionList": [location]}
    raw = RawEvent(index=0, data=bad, pointer="/e/0")
    found = validate_event(raw, header)
    assert [p.field for p in found] == ["/e/0/bizTransactionList/0"]
    assert found == _check_event(raw, header, None)


# A commissioning names new serials of a product whose head was checked before; the fast path
# judges such a list in whole-list steps. Odd serials (too long, empty, dots, non-ASCII, not
# text) and stray items of another head must get the full checker's verdict.
SERIAL_ITEMS = st.one_of(
    st.text(alphabet="AZaz09.-é%", min_size=0, max_size=22).map(
        lambda s: f"urn:epc:id:sgtin:4012345.011111.{s}"
    ),
    st.sampled_from(
        [
            "urn:epc:id:sgtin:4012345.011111.1",
            "urn:epc:id:sgtin:4012345.011111.12345678901234567890",
            "urn:epc:id:sgtin:4012345.011111.123456789012345678901",
            "urn:epc:id:sgtin:4012345.022222.7",
            "urn:epc:id:sscc:4012345.0000000001",
            "urn:epc:id:sgtin:4012345.01111.1",
            "urn:epc:id:sgtin:4012345.011111",
            7,
            None,
            ["urn:epc:id:sgtin:4012345.011111.1"],
        ]
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(SERIAL_ITEMS, min_size=1, max_size=8), st.booleans())
def test_new_serials_of_a_known_product_get_the_same_problems_both_ways(
    items: list[Any], known_head: bool
) -> None:
    _forget()
    header = DocumentHeader(namespaces=NAMESPACES)
    if known_head:  # an earlier event had an item of this product
        seen = {**SEEDS[1], "epcList": ["urn:epc:id:sgtin:4012345.011111.99"]}
        assert validate_event(RawEvent(0, seen, "/e/0"), header) == []
    event = {**SEEDS[1], "epcList": items}
    _same_verdict(RawEvent(index=1, data=event, pointer="/epcisBody/eventList/1"), header)


@pytest.mark.parametrize(
    "field", ["epcList", "bizTransactionList", "sourceList", "destinationList"]
)
def test_a_null_list_is_refused_even_before_any_list_was_found_good(field: str) -> None:
    _forget()  # nothing remembered yet, as in a fresh process
    event = {**SEEDS[3], field: None}
    found = validate_event(RawEvent(0, event, "/epcisBody/eventList/0"), DocumentHeader())
    assert [(p.title, p.field) for p in found] == [
        ("Wrong type", f"/epcisBody/eventList/0/{field}")
    ]
