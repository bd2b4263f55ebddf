"""read_epcis end to end: sniff, read, validate, name, map, batch — on the openepcis documents."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _data import DATA, files
from keiretsu.io.epcis import read_epcis
from keiretsu.io.epcis.hash import event_hash_id
from keiretsu.io.epcis.json_reader import read_json_document
from keiretsu.model.errors import DocumentError
from keiretsu.model.ocel import Ocel

OPENEPCIS = DATA / "epcis" / "openepcis"
JSON_DOCS = OPENEPCIS / "JSON" / "Capture" / "Documents"
XML_DOCS = OPENEPCIS / "XML" / "Capture" / "Documents"

# Pairs whose JSON and XML files do not carry the same facts, so must not map the same:
DIFFERENT_DOCUMENTS = {
    # the XML's errorDeclaration is an hour off the JSON's (14:00+01:00 vs 14:00Z)
    "Combination_of_different_event",
    # the JSON has an rdfs:comment member; the XML has an XML comment, which is no data
    "ObjectEvent_with_comment",
    # the XML's ILMD uses other namespaces (ns0: http://example.com/cbvmda/) than cbvmda:
    "TransformationEvent_all_possible_fields",
    # the XML puts eventTimeZoneOffset before eventTime, which the XSD refuses
    "JumbledFieldsOrder",
    # the XML lists the same SSCC twice in one epcList, which validation refuses
    "epcisDocWithAllGS1Keys",
}
XML_STEMS = {p.stem for p in files(XML_DOCS, "*.xml")}
PAIRS = sorted(
    p.stem
    for p in files(JSON_DOCS, "*.json")
    if p.stem in XML_STEMS and p.stem not in DIFFERENT_DOCUMENTS
)


def read(source: Any, **kw: Any) -> Ocel:
    return Ocel.concat(read_epcis(source, **kw))


def comparable(ocel: Ocel) -> dict[str, set[tuple[Any, ...]]]:
    """The OCEL tables as sets of rows, with the events the document did not name (no eventID:
    named by their hash) renamed by position — the hash is the hash module's business, here
    the mapping is compared."""
    ids = ocel.events["ocel_id"].to_pylist()
    named = {r["ocel_id"] for r in ocel.source_events.to_pylist() if '"eventID"' in r["body"]}
    rename = {i: f"event #{n}" for n, i in enumerate(ids) if i not in named}
    out: dict[str, set[tuple[Any, ...]]] = {}
    for name in (
        "events",
        "event_attributes",
        "objects",
        "object_attributes",
        "event_objects",
        "object_objects",
    ):
        rows = set()
        for row in getattr(ocel, name).to_pylist():
            rows.add(
                tuple((k, rename.get(v, v) if isinstance(v, str) else v) for k, v in row.items())
            )
        out[name] = rows
    return out


@pytest.mark.parametrize("stem", PAIRS)
def test_json_and_xml_of_one_document_give_the_same_ocel(stem: str) -> None:
    from_json = read(JSON_DOCS / f"{stem}.json")
    from_xml = read(XML_DOCS / f"{stem}.xml")
    assert from_json.num_events > 0
    assert comparable(from_json) == comparable(from_xml)
    # where the document names its events, both give exactly those ids
    named = [r["ocel_id"] for r in from_json.source_events.to_pylist() if '"eventID"' in r["body"]]
    assert set(named) <= set(from_xml.events["ocel_id"].to_pylist())


def test_event_ids_are_the_event_id_or_the_event_hash() -> None:
    path = JSON_DOCS / "TransformationEvent_with_error_declaration.json"
    ocel = read(path)
    assert ocel.events["ocel_id"].to_pylist() == [
        "urn:uuid:374d95fc-9457-4a51-bd6a-0bba133845a8",
        "urn:uuid:404d95fc-9457-4a51-bd6a-0bba133845a8",
    ]
    path = JSON_DOCS / "AssociationEvent.json"  # its events carry no eventID
    header, events = read_json_document(path)
    expected = [event_hash_id(e.data, header.namespaces) for e in events]
    assert all(i.startswith("ni:///sha-256;") for i in expected)
    assert read(path).events["ocel_id"].to_pylist() == expected


def test_batches_hold_batch_size_events_and_add_up_to_the_whole() -> None:
    path = JSON_DOCS / "SensorData_with_combined_events.json"
    batches = list(read_epcis(path, batch_size=5))
    assert [b.num_events for b in batches] == [5, 5, 3]
    whole = read(path)
    assert comparable(Ocel.concat(batches)) == comparable(whole)


def test_refused_document_names_document_event_and_field() -> None:
    path = OPENEPCIS / "JSON" / "Capture" / "Invalid" / "ObjectEvent_with_invalid_action.json"
    with pytest.raises(DocumentError) as err:
        read(path)
    p = err.value.problems[0]
    assert p.document == path.name
    assert p.event_index == 0
    assert p.field == "/epcisBody/eventList/0/action"


def test_problem_in_second_event_is_reported_there() -> None:
    name = "ObjectEvent_with_non_standard_bizStep_in_second_event.json"
    with pytest.raises(DocumentError) as err:
        read(OPENEPCIS / "JSON" / "Capture" / "Invalid" / name)
    p = err.value.problems[0]
    assert (p.event_index, p.field) == (1, "/epcisBody/eventList/1/bizStep")


def test_a_refusal_lists_every_problem_in_the_document() -> None:
    path = (
        OPENEPCIS / "JSON" / "Capture" / "Invalid" / "Combination_of_multiple_invalid_fields.json"
    )
    with pytest.raises(DocumentError) as err:
        read(path)
    assert len(err.value.problems) > 1
    assert len({p.event_index for p in err.value.problems}) > 1


def test_xml_refusal_gives_xpath_and_line() -> None:
    path = OPENEPCIS / "XML" / "Capture" / "Invalid" / "ObjectEvent_with_invalid_action.xml"
    with pytest.raises(DocumentError) as err:
        read(path)
    p = err.value.problems[0]
    assert p.field is not None and p.field.endswith("ObjectEvent[1]/action")
    assert p.line is not None


@pytest.mark.parametrize(
    "wrap",
    [
        lambda b: b,
        # an XML declaration must come first, so blanks go before JSON only
        lambda b: b"\xef\xbb\xbf" + (b if b.startswith(b"<") else b" \n\t" + b),
        io.BytesIO,
        lambda b: io.BufferedReader(_NonSeekable(b)),  # type: ignore[arg-type]
    ],
    ids=["bytes", "bom-and-blanks", "seekable-stream", "pipe"],
)
@pytest.mark.parametrize("path", [JSON_DOCS / "ObjectEvent.json", XML_DOCS / "ObjectEvent.xml"])
def test_syntax_is_told_from_the_first_bytes(wrap: Any, path: Path) -> None:
    expected = comparable(read(path))
    assert comparable(read(wrap(path.read_bytes()), document=path.name)) == expected


class _NonSeekable(io.RawIOBase):
    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer: Any) -> int:
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_not_an_epcis_document_is_refused() -> None:
    with pytest.raises(DocumentError) as err:
        read(b"eventTime,epc\n2024-01-01,x\n", document="export.csv")
    assert err.value.problems[0].document == "export.csv"


def test_query_documents_are_read_too() -> None:
    ocel = read(OPENEPCIS / "JSON" / "Query" / "QueryDocumentWithMultipleEvents.json")
    assert ocel.num_events > 1


_DOCUMENT = (JSON_DOCS / "AggregationEvent.json").read_bytes().rstrip()


@settings(max_examples=150, deadline=None)
@given(cut=st.integers(min_value=0, max_value=len(_DOCUMENT) - 1))
def test_a_truncated_document_is_refused_cleanly(cut: int) -> None:
    with pytest.raises(DocumentError):
        read(_DOCUMENT[:cut], document="cut.json")


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=200))
def test_arbitrary_bytes_never_crash(data: bytes) -> None:
    with contextlib.suppress(DocumentError):
        read(data, document="noise")


def test_synthetic_chain_is_valid_epcis_and_the_same_in_json_and_xml(tmp_path: Path) -> None:
    from keiretsu.io.epcis.synth import write_synthetic_epcis_json, write_synthetic_epcis_xml

    as_json = read(write_synthetic_epcis_json(tmp_path / "chain.json", 23, seed=7))
    as_xml = read(write_synthetic_epcis_xml(tmp_path / "chain.xml", 23, seed=7))
    assert as_json.num_events == 23
    assert comparable(as_json) == comparable(as_xml)
    steps = as_json.events["ocel_type"].to_pylist()
    assert steps[:5] == ["receiving", "commissioning", "packing", "shipping", "receiving"]
    # every pallet packed contains the items commissioned just before
    contains = [r for r in as_json.object_objects.to_pylist() if r["ocel_qualifier"] == "contains"]
    assert len(contains) == 5 * 12  # 23 events: 4 whole cycles and the packing of a 5th
    # without event ids, the events are named by their hash
    unnamed = read(write_synthetic_epcis_json(tmp_path / "h.json", 5, with_event_ids=False))
    assert all(i.startswith("ni:///sha-256;") for i in unnamed.events["ocel_id"].to_pylist())


def test_xml_out_of_xsd_order_is_refused_unless_lenient() -> None:
    """openepcis ships JumbledFieldsOrder.xml among its valid documents, but the EPCIS 2.0 XSD
    fixes the order of an event's elements (and openepcis' Invalid set refuses an ObjectEvent whose
    action comes before eventTime). keiretsu follows the XSD by default and reads shuffled XML
    only when asked (``strict=False``, CLI ``--lenient-order``)."""

    import pytest

    from keiretsu.io.epcis import read_epcis
    from keiretsu.model import DocumentError

    xml = OPENEPCIS / "XML"
    jumbled = xml / "Capture" / "Documents" / "JumbledFieldsOrder.xml"
    with pytest.raises(DocumentError) as err:
        list(read_epcis(jumbled))
    assert "order" in str(err.value).lower() or "after" in str(err.value).lower()
    batches = list(read_epcis(jumbled, strict=False))
    assert sum(b.num_events for b in batches) >= 1
    wrong_order = xml / "Capture" / "Invalid" / "ObjectEvent_with_wrong_element_order.xml"
    with pytest.raises(DocumentError):
        list(read_epcis(wrong_order))


def _valid_capture_documents() -> list[object]:
    return sorted(
        p
        for syntax in ("JSON", "XML")
        for folder in ("Documents", "Events")
        for p in files(OPENEPCIS / syntax / "Capture" / folder, "*")
        if p.suffix in (".json", ".xml")
    )


def test_every_valid_openepcis_capture_document_is_accepted() -> None:
    """The whole valid capture set, through the same pipeline a user's file takes; the one XML
    document whose elements are out of XSD order is accepted with strict=False (see above)."""
    from keiretsu.io.epcis import read_epcis

    documents = _valid_capture_documents()
    assert len(documents) >= 80
    for path in documents:
        strict = path.name != "JumbledFieldsOrder.xml"
        events = sum(b.num_events for b in read_epcis(path, strict=strict))  # type: ignore[arg-type]
        assert events >= 1, path


def test_xml_list_may_repeat_an_item_but_relations_stay_unique() -> None:
    """The XML schema (unlike the JSON schema's uniqueItems) lets an epcList repeat an item, as
    openepcis' epcisDocWithAllGS1Keys.xml does; the twin relates the object once."""

    from keiretsu.io.epcis import read_epcis
    from keiretsu.model import Ocel

    log = Ocel.concat(read_epcis(OPENEPCIS / "XML/Capture/Documents/epcisDocWithAllGS1Keys.xml"))
    keys = [
        (r["ocel_event_id"], r["ocel_object_id"], r["ocel_qualifier"])
        for r in log.event_objects.to_pylist()
    ]
    assert len(keys) == len(set(keys))
    assert "https://id.gs1.org/00/040123450000003338" in {k[1] for k in keys}
