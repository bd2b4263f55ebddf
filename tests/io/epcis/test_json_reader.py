"""The EPCIS JSON / JSON-LD reader on the openepcis and GS1 hash-vector documents."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

import _data
import keiretsu.io.epcis.json_reader as jr
from _data import files
from keiretsu.io.epcis.json_reader import event_namespaces, read_json_document
from keiretsu.model.errors import DocumentError

DATA = _data.DATA / "epcis"
OPEN = DATA / "openepcis" / "JSON"
VALID = sorted(
    [
        *files(OPEN / "Capture" / "Documents", "*.json"),
        *files(OPEN / "Capture" / "Events", "*.json"),
        *files(OPEN / "Query", "*.json"),
        *files(DATA / "hash-vectors", "*.jsonld"),
    ]
)


def expected_events(doc: dict[str, Any]) -> tuple[str, list[Any]]:
    body = doc.get("epcisBody")
    if body is None:
        return "", [doc]
    if "eventList" in body:
        return "/epcisBody/eventList", body["eventList"]
    return "/epcisBody/queryResults/resultsBody/eventList", body["queryResults"]["resultsBody"][
        "eventList"
    ]


def test_the_corpus_is_there() -> None:
    assert len(VALID) > 60


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_every_document_reads_to_the_events_json_sees(path: Path) -> None:
    header, events = read_json_document(path)
    got = list(events)
    doc = json.loads(path.read_bytes())
    base, want = expected_events(doc)
    assert [e.data for e in got] == want
    assert [e.index for e in got] == list(range(len(want)))
    if base:
        assert [e.pointer for e in got] == [f"{base}/{i}" for i in range(len(want))]
        assert header.kind == doc["type"]
        assert header.schema_version == doc.get("schemaVersion")
    else:
        assert header.kind == "Event" and got[0].pointer == ""


@pytest.mark.parametrize("path", VALID[::4], ids=lambda p: p.name)
def test_chunk_boundaries_anywhere_change_nothing(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read in 7-byte chunks: every token and multi-byte character gets cut somewhere."""
    whole = [e.data for e in read_json_document(path)[1]]
    monkeypatch.setattr(jr, "_CHUNK", 7)
    assert [e.data for e in read_json_document(path)[1]] == whole


def test_event_lines_point_at_the_event_in_the_file() -> None:
    path = OPEN / "Capture" / "Documents" / "Combination_of_different_event.json"
    lines = path.read_text().splitlines()
    for event in read_json_document(path)[1]:
        # the line the event starts on opens an object, and the next line names a member
        assert lines[event.line - 1].strip() == "{", event  # type: ignore[operator]


def test_namespaces_come_from_the_context_and_the_gs1_context() -> None:
    path = OPEN / "Capture" / "Documents" / "Namespaces_at_different_level.json"
    header, events = read_json_document(path)
    assert header.namespaces["ext1"] == "https://ns.ext.de/epcis/"
    assert header.namespaces["gs1"] == "https://gs1.org/voc/"  # from the GS1 context
    first = next(events)
    assert "ext2" not in header.namespaces
    assert event_namespaces(first, header)["ext2"] == "http://www.ext2.net/"


def _doc(*members: str) -> bytes:
    return ("{" + ",".join(members) + "}").encode()


EVENT = json.dumps(
    {
        "type": "ObjectEvent",
        "eventTime": "2024-03-01T08:00:00+01:00",
        "eventTimeZoneOffset": "+01:00",
        "epcList": ["urn:epc:id:sgtin:4012345.011111.1"],
        "action": "OBSERVE",
    }
)
CONTEXT = '"@context":["https://ref.gs1.org/standards/epcis/epcis-context.jsonld",{"ex":"https://ex.com/"}]'


def test_a_body_before_the_header_still_gives_the_whole_header_first() -> None:
    data = _doc(
        f'"epcisBody":{{"eventList":[{EVENT},{EVENT}]}}',
        '"type":"EPCISDocument"',
        '"schemaVersion":"2.0"',
        '"creationDate":"2024-03-01T09:00:00Z"',
        CONTEXT,
    )
    header, events = read_json_document(data)
    assert header.kind == "EPCISDocument"
    assert header.creation_date == "2024-03-01T09:00:00Z"
    assert header.namespaces["ex"] == "https://ex.com/"
    assert [e.pointer for e in events] == ["/epcisBody/eventList/0", "/epcisBody/eventList/1"]


def test_a_query_document_with_its_type_last() -> None:
    results = f'"resultsBody":{{"eventList":[{EVENT}]}}'
    body = f'"epcisBody":{{"queryResults":{{"queryName":"SimpleEventQuery",{results}}}}}'
    header, events = read_json_document(_doc(CONTEXT, body, '"type":"EPCISQueryDocument"'))
    assert header.kind == "EPCISQueryDocument"
    assert [e.pointer for e in events] == ["/epcisBody/queryResults/resultsBody/eventList/0"]


class _Pipe(io.RawIOBase):
    """A stream that cannot seek, like a socket or stdin."""

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


def test_a_stream_that_cannot_seek_with_the_body_first() -> None:
    data = _doc(f'"epcisBody":{{"eventList":[{EVENT}]}}', '"type":"EPCISDocument"', CONTEXT)
    header, events = read_json_document(_Pipe(data))  # type: ignore[arg-type]
    assert header.kind == "EPCISDocument" and len(list(events)) == 1


def test_members_after_the_body_reach_the_header() -> None:
    data = _doc(
        CONTEXT,
        '"type":"EPCISDocument"',
        '"schemaVersion":"2.0"',
        '"creationDate":"2024-03-01T09:00:00Z"',
        f'"epcisBody":{{"eventList":[{EVENT}]}}',
        '"sender":"urn:epc:id:pgln:4012345.00000"',
    )
    header, events = read_json_document(data)
    list(events)
    assert header.attributes["sender"] == "urn:epc:id:pgln:4012345.00000"


def test_a_document_without_body_is_refused() -> None:
    with pytest.raises(DocumentError) as err:
        read_json_document(_doc(CONTEXT, '"type":"EPCISDocument"'), document="x.json")
    assert err.value.problems[0].field == "/epcisBody"
    assert err.value.problems[0].document == "x.json"


def test_an_event_that_is_not_an_object_is_refused_with_its_index() -> None:
    data = _doc(CONTEXT, '"type":"EPCISDocument"', f'"epcisBody":{{"eventList":[{EVENT},42]}}')
    with pytest.raises(DocumentError) as err:
        list(read_json_document(data)[1])
    assert err.value.problems[0].event_index == 1
    assert err.value.problems[0].field == "/epcisBody/eventList/1"


def test_invalid_json_names_the_line() -> None:
    data = b'{\n "type": "EPCISDocument",\n "epcisBody": {"eventList": [\n {"type": x}]}}'
    with pytest.raises(DocumentError) as err:
        list(read_json_document(data)[1])
    assert err.value.problems[0].line == 4


@pytest.mark.parametrize("chunk", [7, 1000, 4 << 20])
def test_event_lines_are_right_when_asked_late_and_out_of_order(
    chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lines are counted only when asked for; asked after reading on, backwards, across chunks."""
    import dataclasses

    from keiretsu.io.epcis.synth import synthetic_events

    monkeypatch.setattr(jr, "_CHUNK", chunk)
    text = '{"type": "EPCISDocument", "schemaVersion": "2.0",\n"epcisBody": {"eventList": ['
    starts = []
    for i, event in enumerate(synthetic_events(40)):
        text += ("," if i else "") + "\n" * (i % 3 + 1)
        starts.append(text.count("\n") + 1)
        text += json.dumps(event, indent=1 + i % 2)
    text += "\n]}}\n"
    events = list(read_json_document(text.encode())[1])
    assert [e.data for e in events] == list(synthetic_events(40))
    assert [e.line for e in reversed(events)] == starts[::-1]
    assert [e.line for e in events] == starts
    moved = dataclasses.replace(events[5], line=99)
    assert (moved.line, moved.index, moved.data) == (99, 5, events[5].data)
    events[6].line = 7
    assert events[6].line == 7
