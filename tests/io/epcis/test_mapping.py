"""EPCIS 2.0 events → OCEL 2.0, on the openepcis test documents (JSON, loaded with json.load)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _data import DATA, files
from keiretsu.io.epcis._types import DocumentHeader, RawEvent
from keiretsu.io.epcis.mapping import map_event
from keiretsu.model.errors import DocumentError
from keiretsu.model.gs1 import canonical_id, identify
from keiretsu.model.ocel import Ocel, OcelBuilder

DOCS = DATA / "epcis" / "openepcis" / "JSON" / "Capture" / "Documents"


def _namespaces(context: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in context if isinstance(context, list) else [context]:
        if isinstance(item, dict):
            out.update(item)
    return out


def load(name: str) -> tuple[list[dict[str, Any]], Ocel]:
    """The document's events (as json.load gives them) and their mapping, ids e0, e1…
    (or the eventID where given)."""
    doc = json.loads((DOCS / name).read_text(encoding="utf-8"))
    header = DocumentHeader(namespaces=_namespaces(doc.get("@context")))
    events = doc["epcisBody"]["eventList"]
    builder = OcelBuilder()
    for i, event in enumerate(events):
        raw = RawEvent(i, event, f"/epcisBody/eventList/{i}")
        map_event(builder, event.get("eventID", f"e{i}"), raw, header)
    return events, builder.build()


def relations(ocel: Ocel, event_id: str) -> set[tuple[str, str, float | None, str | None]]:
    t = ocel.event_objects.to_pylist()
    return {
        (r["ocel_object_id"], r["ocel_qualifier"], r["quantity"], r["uom"])
        for r in t
        if r["ocel_event_id"] == event_id
    }


def attrs(ocel: Ocel, event_id: str) -> dict[str, tuple[str | None, str]]:
    return {
        r["ocel_name"]: (r["ocel_value"], r["ocel_value_type"])
        for r in ocel.event_attributes.to_pylist()
        if r["ocel_id"] == event_id
    }


def object_types(ocel: Ocel) -> dict[str, str]:
    return {r["ocel_id"]: r["ocel_type"] for r in ocel.objects.to_pylist()}


def links(ocel: Ocel) -> set[tuple[str, str, str]]:
    return {
        (r["ocel_source_id"], r["ocel_target_id"], r["ocel_qualifier"])
        for r in ocel.object_objects.to_pylist()
    }


# --- identifiers: one name per physical thing -------------------------------------------------

# Examples from the GS1 EPC Tag Data Standard (URN ↔ element string).
TDS_EXAMPLES = [
    ("urn:epc:id:sgtin:0614141.812345.6789", "https://id.gs1.org/01/80614141123458/21/6789"),
    ("urn:epc:id:sscc:0614141.1234567890", "https://id.gs1.org/00/106141412345678908"),
    ("urn:epc:id:sgln:0614141.12345.400", "https://id.gs1.org/414/0614141123452/254/400"),
    ("urn:epc:id:sgln:0614141.12345.0", "https://id.gs1.org/414/0614141123452"),
    ("urn:epc:id:grai:0614141.12345.400", "https://id.gs1.org/8003/00614141123452400"),
    ("urn:epc:id:giai:0614141.12345400", "https://id.gs1.org/8004/061414112345400"),
    ("urn:epc:id:gsrn:0614141.1234567890", "https://id.gs1.org/8018/061414112345678902"),
    ("urn:epc:id:gdti:0614141.12345.400", "https://id.gs1.org/253/0614141123452400"),
    ("urn:epc:class:lgtin:4012345.012345.998877", "https://id.gs1.org/01/04012345123456/10/998877"),
]


@pytest.mark.parametrize(("urn", "link"), TDS_EXAMPLES)
def test_epc_urn_and_digital_link_name_the_same_thing(urn: str, link: str) -> None:
    assert canonical_id(urn) == link
    assert canonical_id(link) == link


def test_digital_link_on_a_company_domain_is_the_same_object() -> None:
    assert identify("https://id.gs1.de/01/04012345999990/21/XYZ-1234") == (
        "https://id.gs1.org/01/04012345999990/21/XYZ-1234",
        "trade item",
    )
    # GTIN-13 written without its leading zero, qualifiers in another order
    assert canonical_id("https://example.com/01/4012345999990/21/7/10/L1") == (
        "https://id.gs1.org/01/04012345999990/10/L1/21/7"
    )


@pytest.mark.parametrize(
    "text",
    [
        "https://id.gs1.org/01/04012345999991/21/1",  # wrong check digit
        "https://id.gs1.org/01/04012345999990/21/1?17=250101",  # carries data attributes
        "https://example.com/products/42",
        "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
        "urn:epc:id:sgtin:0614141.12345.400",  # 12 digits: not a GTIN
    ],
)
def test_what_is_not_reliably_a_gs1_key_is_kept_as_written(text: str) -> None:
    assert canonical_id(text) == text


def test_serials_are_escaped_the_digital_link_way() -> None:
    assert canonical_id("urn:epc:id:sgtin:0614141.812345.A%2FB") == (
        "https://id.gs1.org/01/80614141123458/21/A%2FB"
    )
    assert canonical_id("https://id.gs1.org/01/80614141123458/21/A%2fB") == (
        "https://id.gs1.org/01/80614141123458/21/A%2FB"
    )


def test_urn_and_digital_link_documents_give_the_same_lots_and_classes() -> None:
    _, urn = load("AggregationEvent.json")
    _, link = load("AggregationEvent_with_digitalLink.json")
    classes = {(o, q, n, u) for o, q, n, u in relations(urn, urn.events["ocel_id"][0].as_py())}
    classes_dl = {(o, q, n, u) for o, q, n, u in relations(link, link.events["ocel_id"][0].as_py())}
    amounts = {x for x in classes if x[2] is not None}
    assert amounts == {x for x in classes_dl if x[2] is not None}
    assert amounts == {
        ("https://id.gs1.org/01/04012345987652", "child", 10.0, None),
        ("https://id.gs1.org/01/04012345123456/10/998877", "child", 200.5, "KGM"),
    }


def test_the_same_pallet_written_twice_in_one_event_is_one_relation() -> None:
    events, ocel = load("epcisDocWithAllGS1Keys.json")
    sscc = [e for e in events[0]["epcList"] if "/00/" in e or ":sscc:" in e]
    assert len(sscc) == 2  # once as a URN, once as a Digital Link
    rows = [r for r in relations(ocel, "e0") if r[0] == canonical_id(sscc[0])]
    assert canonical_id(sscc[0]) == canonical_id(sscc[1])
    assert len(rows) == 1
    keys = [(r["ocel_object_id"], r["ocel_qualifier"]) for r in ocel.event_objects.to_pylist()]
    assert len(keys) == len(set(keys))


# --- the five event types ---------------------------------------------------------------------


def test_aggregation_pallet_is_parent_children_are_child() -> None:
    events, ocel = load("AggregationEvent.json")
    eid = events[0]["eventID"]
    rel = relations(ocel, eid)
    pallet = "https://id.gs1.org/00/106141412345678908"
    assert (pallet, "parent", None, None) in rel
    assert object_types(ocel)[pallet] == "logistic unit"
    children = {o for o, q, _, _ in rel if q == "child"}
    assert {canonical_id(c) for c in events[0]["childEPCs"]} <= children
    assert object_types(ocel)[canonical_id(events[0]["childEPCs"][0])] == "trade item"
    # OBSERVE confirms, it does not pack: no containment is recorded from it
    assert not links(ocel)
    assert ocel.events["ocel_type"][0].as_py() == "receiving"
    a = attrs(ocel, eid)
    assert a["eventType"] == ("AggregationEvent", "string")
    assert a["action"] == ("OBSERVE", "string")
    assert a["disposition"] == ("in_progress", "string")
    assert a["eventTimeZoneOffset"] == ("+02:00", "string")
    assert ocel.events["ocel_time"][0].as_py() == datetime(2013, 6, 8, 14, 58, 56, 591000, UTC)


def test_packing_onto_a_pallet_records_that_it_contains_the_lot() -> None:
    events, ocel = load("AggregationEvent_with_sensorData.json")
    ev = events[0]
    assert ev["action"] == "ADD"
    pallet = canonical_id(ev["parentID"])
    lot = canonical_id(ev["childQuantityList"][0]["epcClass"])
    assert (pallet, lot, "contains") in links(ocel)
    assert (lot, "child", 52.0, "KGM") in relations(ocel, ev["eventID"])
    assert object_types(ocel)[lot] == "product lot"


def test_association_add_links_parent_and_children() -> None:
    events, ocel = load("AssociationEvent.json")
    parent = canonical_id(events[0]["parentID"])
    child = canonical_id(events[0]["childEPCs"][0])
    assert (parent, child, "associated with") in links(ocel)
    assert object_types(ocel)[parent] == "returnable asset"
    assert object_types(ocel)[child] == "asset"
    # recordTime is a time, kept in UTC
    assert attrs(ocel, "e1")["recordTime"] == ("2019-11-06T13:05:00Z", "time")


def test_transformation_inputs_outputs_and_ilmd() -> None:
    events, ocel = load("TransformationEvent.json")
    ev = events[0]
    eid = ev["eventID"]
    rel = relations(ocel, eid)
    inputs = {o for o, q, _, _ in rel if q == "input"}
    outputs = {o for o, q, _, _ in rel if q == "output"}
    assert inputs == {canonical_id(x) for x in ev["inputEPCList"]} | {
        canonical_id(q["epcClass"]) for q in ev["inputQuantityList"]
    }
    assert outputs == {canonical_id(x) for x in ev["outputEPCList"]}
    assert ("https://id.gs1.org/01/04012345111118/10/4444", "input", 10.0, "KGM") in rel
    # each output is derived from each input
    assert {(o, i, "derived from") for o in outputs for i in inputs} == links(ocel)
    # ILMD lands on the outputs, from the event's time on, never on the inputs
    oa = ocel.object_attributes.to_pylist()
    best_before = {r["ocel_id"]: r for r in oa if r["ocel_name"] == "example:bestBeforeDate"}
    assert set(best_before) == outputs
    row = next(iter(best_before.values()))
    assert row["ocel_value"] == "2014-12-10"
    assert row["ocel_time"] == datetime(2013, 10, 31, 14, 58, 56, 591000, UTC)
    types = {r["ocel_type"]: r["attributes"] for r in ocel.object_types.to_pylist()}
    assert {"name": "example:batch", "type": "string"} in types["trade item"]


def test_object_event_ilmd_goes_to_the_commissioned_items_and_lots() -> None:
    events, ocel = load("ObjectEvent_all_possible_fields.json")
    ev = events[0]
    assert ev["action"] == "ADD"
    oa = ocel.object_attributes.to_pylist()
    lot_numbers = {
        r["ocel_id"]: r["ocel_value"] for r in oa if r["ocel_name"] == "cbvmda:lotNumber"
    }
    assert lot_numbers == {
        canonical_id(ev["epcList"][0]): "ABC123",
        canonical_id(ev["quantityList"][0]["epcClass"]): "ABC123",
    }
    nested = next(r for r in oa if r["ocel_name"] == "ext1:object")
    assert json.loads(nested["ocel_value"]) == ev["ilmd"]["ext1:object"]


def test_transaction_event_links_business_transactions() -> None:
    events, ocel = load("ObjectEvent_all_possible_fields.json")
    eid = events[0]["eventID"]
    rel = relations(ocel, eid)
    po = canonical_id("urn:epc:id:gdti:0614141.00001.1618034")
    assert (po, "bizTransaction", None, None) in rel
    types = object_types(ocel)
    assert types[po] == "po"
    assert types[canonical_id("urn:epc:id:gsrn:0614141.0000010253")] == "pedigree"
    # class-level quantity in the relation
    assert ("https://id.gs1.org/01/04012345123456/10/998877", "epc", 200.0, "KGM") in rel
    # source and destination by their CBV type
    assert (canonical_id("urn:epc:id:pgln:4012345.00225"), "source:owning_party", None, None) in rel
    assert (
        canonical_id("urn:epc:id:sgln:0614141.00777.0"),
        "destination:location",
        None,
        None,
    ) in rel
    assert types[canonical_id("urn:epc:id:pgln:4012345.00225")] == "party"
    assert (canonical_id("urn:epc:id:sgln:0012345.11111.400"), "readPoint", None, None) in rel
    assert (canonical_id("urn:epc:id:sgln:0012345.11111.0"), "bizLocation", None, None) in rel
    a = attrs(ocel, eid)
    assert a["persistentDisposition.set"] == ('["completeness_verified"]', "string")
    assert a["certificationInfo"][0] == events[0]["certificationInfo"]
    sensors = json.loads(a["sensorElementList"][0])
    assert len(sensors) == len(events[0]["sensorElementList"])
    # one spelling whatever the syntax: times in UTC, numbers as doubles
    assert sensors[0]["sensorMetadata"]["time"] == "2019-04-02T13:05:00Z"
    report = sensors[0]["sensorReport"][0]
    assert (report["type"], report["value"], report["uom"]) == ("Temperature", 26.0, "CEL")
    assert (canonical_id("urn:epc:id:giai:4000001.111"), "sensor", None, None) in rel


def test_transaction_event_with_untyped_transaction_and_custom_bizstep() -> None:
    events, ocel = load("TransactionEvent.json")
    assert ocel.events["ocel_type"].to_pylist() == [
        "http://epcis.example.org/hc/bizstep/summarising_discharge",
        "transporting",
    ]
    assert object_types(ocel)[
        canonical_id(events[0]["bizTransactionList"][0]["bizTransaction"])
    ] == ("business transaction")
    bt = events[1]["bizTransactionList"][0]
    assert object_types(ocel)[bt["bizTransaction"]] == "urn:gs1:epcisapp:rail:btt:passage"


def test_without_bizstep_the_activity_is_event_type_and_action() -> None:
    _, ocel = load("Namespaces_at_different_level.json")
    assert set(ocel.events["ocel_type"].to_pylist()) == {"ObjectEvent OBSERVE"}


# --- extensions, corrections, source ----------------------------------------------------------


def test_user_extension_kept_with_its_namespace() -> None:
    events, ocel = load("AggregationEvent_with_userExtensions.json")
    a = attrs(ocel, "e0")
    assert a["example:myField"] == ("Example of a vendor/user extension", "string")
    assert a["xmlns:example"] == ("http://ns.example.com/epcis", "string")
    assert json.loads(a["example:extension"][0]) == events[0]["example:extension"]


def test_event_level_context_namespaces_are_kept() -> None:
    _, ocel = load("Namespaces_at_different_level.json")
    a = attrs(ocel, "e0")
    assert a["ext2:address"] == ("Cologne", "string")
    assert a["xmlns:ext2"] == ("http://www.ext2.net/", "string")  # declared on the event
    assert a["xmlns:ext1"] == ("https://ns.ext.de/epcis/", "string")  # declared on the document


def test_error_declaration_marks_the_corrected_event() -> None:
    events, ocel = load("TransformationEvent_with_error_declaration.json")
    corrected, corrective = events[0]["eventID"], events[1]["eventID"]
    a = attrs(ocel, corrected)
    assert a["errorDeclaration.reason"] == ("incorrect_data", "string")
    assert a["errorDeclaration.declarationTime"] == ("2020-01-14T23:00:00Z", "time")
    assert json.loads(a["errorDeclaration.correctiveEventIDs"][0]) == [corrective]
    assert a["errorDeclaration.example:vendorExtension"] == ("Test1", "string")
    # the corrected event stays, with all it said
    assert corrected in ocel.events["ocel_id"].to_pylist()
    assert not any(k.startswith("errorDeclaration") for k in attrs(ocel, corrective))


def test_source_event_is_served_back_with_its_namespaces() -> None:
    events, ocel = load("ObjectEvent_with_userExtensions.json")
    rows = ocel.source_events.to_pylist()
    assert [r["format"] for r in rows] == ["epcis-json"] * len(events)
    for row, event in zip(rows, events, strict=True):
        body = orjson.loads(row["body"])
        context = body.pop("@context", None)
        assert body == event
        used = {k.partition(":")[0] for k in event if ":" in k}
        if used:
            assert context == [{p: "http://ns.example.com/epcis/" for p in used}]


def test_event_types_declare_attribute_types() -> None:
    _, ocel = load("TransformationEvent_with_error_declaration.json")
    declared = {r["ocel_type"]: r["attributes"] for r in ocel.event_types.to_pylist()}
    assert {"name": "errorDeclaration.declarationTime", "type": "time"} in declared["commissioning"]


@pytest.mark.parametrize("name", [p.name for p in files(DOCS, "*.json")])
def test_every_openepcis_document_maps_and_keeps_every_event(name: str) -> None:
    events, ocel = load(name)
    assert ocel.num_events == len(events)
    assert ocel.source_events.num_rows == len(events)
    # every event touches at least one object, every related object exists
    ids = set(ocel.objects["ocel_id"].to_pylist())
    assert set(ocel.event_objects["ocel_object_id"].to_pylist()) <= ids
    assert set(ocel.event_objects["ocel_event_id"].to_pylist()) == set(
        ocel.events["ocel_id"].to_pylist()
    )


# --- what cannot be mapped --------------------------------------------------------------------


def test_unmappable_event_names_event_and_field() -> None:
    raw = RawEvent(3, {"type": "ObjectEvent", "eventTime": "yesterday"}, "/epcisBody/eventList/3")
    with pytest.raises(DocumentError) as err:
        map_event(OcelBuilder(), "x", raw, DocumentHeader())
    p = err.value.problems[0]
    assert (p.event_index, p.field) == (3, "/epcisBody/eventList/3/eventTime")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
keys = st.sampled_from(
    [
        "epcList",
        "quantityList",
        "parentID",
        "childEPCs",
        "childQuantityList",
        "inputEPCList",
        "outputQuantityList",
        "readPoint",
        "bizTransactionList",
        "sourceList",
        "ilmd",
        "errorDeclaration",
        "sensorElementList",
        "persistentDisposition",
        "recordTime",
        "bizStep",
        "ex:x",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    etype=st.sampled_from(["ObjectEvent", "AggregationEvent", "TransformationEvent", 7]),
    time=st.sampled_from(["2024-01-01T00:00:00Z", "2024-13-01", None]),
    extra=st.dictionaries(keys, json_values, max_size=4),
)
def test_malformed_events_give_a_document_error_never_a_crash(
    etype: Any, time: Any, extra: dict[str, Any]
) -> None:
    event = {"type": etype, "eventTime": time, "action": "ADD", **extra}
    try:
        map_event(OcelBuilder(), "x", RawEvent(0, event, "/e/0"), DocumentHeader())
    except DocumentError as exc:
        assert exc.problems[0].event_index == 0
