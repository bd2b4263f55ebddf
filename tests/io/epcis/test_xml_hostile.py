"""Hostile XML against the EPCIS XML reader: always a clean DocumentError, never another
exception, never a hang, never a file's content leaking into what was read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _data import data
from keiretsu.io.epcis.xml_reader import read_xml_document
from keiretsu.model.errors import DocumentError

VALID = data("epcis", "openepcis", "XML", "Capture", "Documents", "ObjectEvent.xml").read_bytes()
PASSWD = Path("/etc/passwd")


def outcome(source: bytes) -> tuple[str, Any]:
    """Read everything; ("ok", events) or ("refused", error). Any other exception fails."""
    try:
        header, events = read_xml_document(source, document="hostile.xml")
        return "ok", (header, list(events))
    except DocumentError as exc:
        assert exc.problems and exc.problems[0].document == "hostile.xml"
        return "refused", exc


def refused(source: bytes) -> DocumentError:
    kind, value = outcome(source)
    assert kind == "refused", value
    assert isinstance(value, DocumentError)
    return value


def no_leak(error: DocumentError) -> None:
    if PASSWD.exists():
        secret = next(line for line in PASSWD.read_text().splitlines() if line.strip())
        assert secret not in str(error.to_dict())


LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
"""

EVENT = (
    b"<ObjectEvent><eventTime>2020-01-01T00:00:00Z</eventTime>"
    b"<eventTimeZoneOffset>+00:00</eventTimeZoneOffset><action>ADD</action>"
    b"<bizStep>%s</bizStep></ObjectEvent>"
)


def document(event: bytes, root_attrs: bytes = b"") -> bytes:
    return (
        b'<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" schemaVersion="2.0" '
        b'creationDate="2020-01-01T00:00:00Z" '
        + root_attrs
        + b"><EPCISBody><EventList>"
        + event
        + b"</EventList></EPCISBody></epcis:EPCISDocument>"
    )


@pytest.mark.timeout(30)
@pytest.mark.parametrize("where", ["content", "attribute"])
def test_billion_laughs_refused(where: str) -> None:
    if where == "content":
        doc = LAUGHS + document(EVENT % b"&lol9;")
    else:
        doc = LAUGHS + document(EVENT % b"x", root_attrs=b'foo="&lol9;"')
    error = refused(doc)
    assert error.problems[0].title in ("DOCTYPE refused", "Malformed XML")


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "doc",
    [
        # external entity in content
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        + document(EVENT % b"&x;"),
        # external entity in an attribute
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        + document(EVENT % b"x", root_attrs=b'a="&x;"'),
        # parameter entity pulling an external DTD
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>'
        + document(EVENT % b"x"),
        # external DTD subset
        b'<?xml version="1.0"?><!DOCTYPE d SYSTEM "file:///etc/passwd">' + document(EVENT % b"x"),
        # network DTD (no network is touched: refused before any fetch)
        b'<?xml version="1.0"?><!DOCTYPE d SYSTEM "http://127.0.0.1:9/x.dtd">'
        + document(EVENT % b"x"),
        # XInclude is not processed: the element is a stray in the event list
        document(
            b'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="/etc/passwd" '
            b'parse="text"/>'
        ),
        # an undeclared entity without a DOCTYPE
        document(EVENT % b"&x;"),
    ],
)
def test_external_entities_refused_and_nothing_leaks(doc: bytes) -> None:
    no_leak(refused(doc))


@pytest.mark.timeout(30)
def test_deep_nesting_refused() -> None:
    depth = 100_000
    nest = b"<ex:a>" * depth + b"x" + b"</ex:a>" * depth
    event = EVENT.replace(b"</ObjectEvent>", nest + b"</ObjectEvent>") % b"x"
    doc = document(event, root_attrs=b'xmlns:ex="http://ex.example/"')
    assert refused(doc).problems[0].title == "Malformed XML"


@pytest.mark.timeout(30)
def test_moderate_nesting_in_an_extension_is_read() -> None:
    depth = 200  # under libxml2's limit: read, nested objects
    nest = b"<ex:a>" * depth + b"x" + b"</ex:a>" * depth
    event = EVENT.replace(b"</ObjectEvent>", nest + b"</ObjectEvent>") % b"x"
    kind, value = outcome(document(event, root_attrs=b'xmlns:ex="http://ex.example/"'))
    assert kind == "ok"
    node = value[1][0].data["ex:a"]
    for _ in range(depth - 1):
        node = node["ex:a"]
    assert node == "x"


@pytest.mark.timeout(60)
def test_huge_text_node_refused() -> None:
    doc = document(EVENT % (b"a" * 12_000_000))  # beyond libxml2's 10 MB text limit
    assert refused(doc).problems[0].title == "Malformed XML"


@pytest.mark.timeout(30)
def test_large_bad_value_refused_cleanly() -> None:
    event = EVENT.replace(b"<eventTime>2020-01-01T00:00:00Z", b"<eventTime>" + b"9" * 1_000_000)
    error = refused(document(event % b"x"))
    assert error.problems[0].title == "Invalid date and time"


@pytest.mark.timeout(120)
def test_truncated_at_every_point() -> None:
    end = VALID.rindex(b"</epcis:EPCISDocument>") + len(b"</epcis:EPCISDocument>")
    for cut in range(end):
        error = refused(VALID[:cut])
        assert error.problems[0].title in ("Malformed XML", "Missing element"), cut
    kind, value = outcome(VALID[:end])
    assert kind == "ok" and len(value[1]) == 2


@pytest.mark.parametrize(
    "doc",
    [
        # declared UTF-16, bytes are UTF-8
        b'<?xml version="1.0" encoding="UTF-16"?>' + document(EVENT % b"x"),
        # an encoding nobody knows
        b'<?xml version="1.0" encoding="x-klingon"?>' + document(EVENT % b"x"),
        # Latin-1 bytes in a UTF-8 document
        document(EVENT % b"caf\xe9"),
        # UTF-16 BOM on UTF-8 bytes
        b"\xff\xfe" + document(EVENT % b"x"),
        # a NUL byte
        document(EVENT % b"a\x00b"),
        b"",
        b"   ",
        b"<",
        b"not xml at all",
    ],
)
def test_wrong_encodings_and_garbage_refused(doc: bytes) -> None:
    assert refused(doc).problems[0].title == "Malformed XML"


def test_declared_encodings_that_match_are_read() -> None:
    doc = ('<?xml version="1.0" encoding="UTF-16"?>' + document(EVENT % b"x").decode()).encode(
        "utf-16"
    )
    kind, value = outcome(doc)
    assert kind == "ok" and value[1][0].data["bizStep"] == "x"
    latin = b'<?xml version="1.0" encoding="ISO-8859-1"?>' + document(EVENT % b"caf\xe9")
    kind, value = outcome(latin)
    assert kind == "ok" and value[1][0].data["bizStep"] == "caf\u00e9"


def test_not_an_epcis_document_refused() -> None:
    error = refused(b"<html><body/></html>")
    assert error.problems[0].title == "Not an EPCIS document"
    assert error.problems[0].field == "/html"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_random_bytes_never_crash(data: bytes) -> None:
    outcome(data)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_documents_never_crash(data: st.DataObject) -> None:
    doc = bytearray(VALID)
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(doc) - 1))
        op = data.draw(st.sampled_from(["flip", "delete", "insert"]))
        if op == "flip":
            doc[pos] = data.draw(st.integers(0, 255))
        elif op == "delete":
            del doc[pos : pos + data.draw(st.integers(1, 40))]
        else:
            doc[pos:pos] = data.draw(
                st.sampled_from([b"<", b">", b"&", b"<x>", b"</EventList>", b"<epc>", b"\x00"])
            )
    outcome(bytes(doc))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                b"<eventTime>2020-01-01T00:00:00Z</eventTime>",
                b"<eventTimeZoneOffset>+00:00</eventTimeZoneOffset>",
                b"<action>ADD</action>",
                b"<action>MAYBE</action>",
                b"<epcList><epc>urn:x</epc></epcList>",
                b"<quantityList><quantityElement><epcClass>c</epcClass>"
                b"<quantity>1e5</quantity></quantityElement></quantityList>",
                b"<readPoint><id>r</id></readPoint>",
                b"<readPoint/>",
                b"<sensorElementList><sensorElement><sensorReport value='x'/>"
                b"</sensorElement></sensorElementList>",
                b"<ex:thing ex:a='1'><ex:b>2</ex:b></ex:thing>",
                b"<unknown/>",
                b"<extension><ilmd><ex:lot>1</ex:lot></ilmd></extension>",
            ]
        ),
        max_size=8,
    ),
    st.sampled_from([b"ObjectEvent", b"AggregationEvent", b"AssociationEvent"]),
)
def test_shuffled_event_fields_read_or_refused_cleanly(parts: list[bytes], kind: bytes) -> None:
    event = b"<" + kind + b">" + b"".join(parts) + b"</" + kind + b">"
    kind_out, value = outcome(document(event, root_attrs=b'xmlns:ex="http://ex.example/"'))
    if kind_out == "refused":
        problem = value.problems[0]
        assert problem.field and problem.field.startswith("/epcis:EPCISDocument/EPCISBody")
        assert problem.line == 1
