"""Hostile JSON against the EPCIS JSON reader and validation: always a clean DocumentError,
never another exception, never a hang."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _data import data
from keiretsu.io.epcis.json_reader import MAX_DEPTH, MAX_STRING, read_json_document
from keiretsu.io.epcis.validate import validate_event, validate_header
from keiretsu.model.errors import DocumentError

DOCUMENTS = ("epcis", "openepcis", "JSON", "Capture", "Documents")
VALID = data(*DOCUMENTS, "ObjectEvent.json").read_bytes()
SMALL = data(*DOCUMENTS, "AssociationEvent.json").read_bytes()


def outcome(source: bytes) -> tuple[str, Any]:
    """Read and validate everything: ("ok", problems) or ("refused", error)."""
    try:
        header, events = read_json_document(source, document="hostile.json")
        problems = validate_header(header)
        for event in events:
            problems += validate_event(event, header)
        return "ok", problems
    except DocumentError as exc:
        assert exc.problems and exc.problems[0].document == "hostile.json"
        return "refused", exc


def refused(source: bytes) -> DocumentError:
    kind, value = outcome(source)
    assert kind == "refused", value
    assert isinstance(value, DocumentError)
    return value


def event_doc(value: str) -> bytes:
    """A valid document whose one event carries ``value`` (raw JSON) in an extension."""
    return (
        '{"@context":["https://ref.gs1.org/standards/epcis/epcis-context.jsonld",'
        '{"ex":"https://ex.com/"}],"type":"EPCISDocument","schemaVersion":"2.0",'
        '"creationDate":"2024-03-01T00:00:00Z","epcisBody":{"eventList":[\n'
        '{"type":"ObjectEvent","eventTime":"2024-03-01T08:00:00Z","eventTimeZoneOffset":"+00:00",'
        '"action":"OBSERVE","epcList":[],"ex:x":' + value + "}]}}"
    ).encode()


def test_the_carrier_document_is_fine() -> None:
    assert outcome(event_doc('"fine"')) == ("ok", [])


def test_every_truncation_of_a_valid_document_is_refused() -> None:
    for cut in range(len(SMALL.rstrip())):
        refused(SMALL[:cut])


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5_000, 200_000])
def test_deep_nesting_is_refused(depth: int) -> None:
    err = refused(event_doc("[" * depth + "]" * depth))
    assert err.problems[0].line == 2


@pytest.mark.parametrize(
    "number",
    [
        "1e400",
        "-1e400",
        "123456789012345678901234567890",
        "9223372036854775808",
        "NaN",
        "Infinity",
        "1" * 5000,
    ],
)
def test_numbers_too_big_are_refused(number: str) -> None:
    err = refused(event_doc(number))
    assert err.problems[0].title == "Number out of range" or number in ("NaN", "Infinity")


def test_the_largest_64_bit_integer_is_accepted() -> None:
    assert outcome(event_doc("9223372036854775807"))[0] == "ok"


def test_a_string_over_the_limit_is_refused_with_its_pointer() -> None:
    err = refused(event_doc('"' + "a" * (MAX_STRING + 1) + '"'))
    assert err.problems[0].field == "/epcisBody/eventList/0/ex:x"


def test_a_lone_surrogate_is_refused() -> None:
    refused(event_doc('"\\ud800"'))


def test_an_escaped_surrogate_pair_is_a_character() -> None:
    assert outcome(event_doc('"\\ud83d\\ude00"'))[0] == "ok"


def test_utf16_is_refused_as_not_utf8() -> None:
    for encoding in ("utf-16", "utf-16-le", "utf-32"):
        err = refused(VALID.decode().encode(encoding))
        assert err.problems[0].title == "Not UTF-8"


def test_latin1_high_bytes_are_refused_with_their_byte_offset() -> None:
    text = VALID.decode().replace("Example of a vendor", "Exämple of a vendör", 1)
    assert "ä" in text
    data = text.encode("latin-1")
    err = refused(data)
    assert err.problems[0].title == "Not UTF-8"
    offset = data.index(bytes([0xE4]))
    assert f"byte {offset} " in err.problems[0].detail


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"   ",
        b"[]",
        b"null",
        b"42",
        b'"x"',
        b"{",
        b"{}",
        b'{"type":"EPCISDocument"}',
        b"{} {}",
    ],
)
def test_not_a_document_at_all(data: bytes) -> None:
    refused(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_random_bytes(data: bytes) -> None:
    outcome(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_byte_flips_in_a_valid_document(data: st.DataObject) -> None:
    doc = bytearray(VALID)
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(doc) - 1))
        doc[at] = data.draw(st.integers(0, 255))
    outcome(bytes(doc))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(json.loads(VALID)["epcisBody"]["eventList"][0])), JSON_VALUES)
def test_any_json_in_any_field_is_judged_not_crashed_on(key: str, value: Any) -> None:
    doc = json.loads(VALID)
    doc["epcisBody"]["eventList"][0][key] = value
    outcome(json.dumps(doc, allow_nan=True).encode())
