"""Bad OCEL 2.0 files are refused with a DocumentError that says where and what, and nothing
else escapes: no crash, no other exception, no entity expansion."""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _data import data
from keiretsu.io.ocel import read_ocel, read_ocel_json, read_ocel_sqlite, read_ocel_xml
from keiretsu.model import DocumentError, Ocel

DATA = data("ocel")
EXAMPLE_JSON = data("ocel", "ocel20_example.jsonocel").read_bytes()
EXAMPLE_XML = data("ocel", "ocel20_example.xmlocel").read_bytes()


def read_json_bytes(data: bytes) -> Ocel:
    import io

    return Ocel.concat(read_ocel_json(io.BytesIO(data), document="t.jsonocel"))


def read_xml_bytes(data: bytes) -> Ocel:
    import io

    return Ocel.concat(read_ocel_xml(io.BytesIO(data), document="t.xmlocel"))


def example() -> dict:  # type: ignore[type-arg]
    return json.loads(EXAMPLE_JSON)


def refused(reader, data: bytes) -> DocumentError:  # type: ignore[no-untyped-def]
    with pytest.raises(DocumentError) as info:
        reader(data)
    return info.value


# --- JSON ------------------------------------------------------------------------------------


def test_json_keys_in_any_order_read_the_same() -> None:
    doc = example()
    reordered = {k: doc[k] for k in ("events", "objects", "eventTypes", "objectTypes")}
    a = read_json_bytes(EXAMPLE_JSON).sorted()
    b = read_json_bytes(json.dumps(reordered).encode()).sorted()
    for name in Ocel.table_names():
        assert getattr(a, name).equals(getattr(b, name)), name


def test_json_event_of_undeclared_type() -> None:
    doc = example()
    doc["events"][4]["type"] = "Teleport Goods"
    err = refused(read_json_bytes, json.dumps(doc).encode())
    p = err.problems[0]
    assert (p.document, p.event_index, p.field) == ("t.jsonocel", 4, "/events/4/type")
    assert "Teleport Goods" in p.detail and "eventTypes" in (p.expected or "")


def test_json_time_that_is_not_a_time() -> None:
    doc = example()
    doc["events"][2]["time"] = "next tuesday"
    p = refused(read_json_bytes, json.dumps(doc).encode()).problems[0]
    assert (p.event_index, p.field) == (2, "/events/2/time")
    assert "date-time" in (p.expected or "")


def test_json_value_not_of_declared_type() -> None:
    doc = example()
    doc["eventTypes"][0]["attributes"][0]["type"] = "integer"  # pr_approver
    p = refused(read_json_bytes, json.dumps(doc).encode()).problems[0]
    assert p.field is not None and p.field.endswith("/attributes/0/value")
    assert "Tania" in p.detail and p.expected == "an integer"


def test_json_duplicate_object_and_missing_declarations() -> None:
    doc = example()
    doc["objects"].append(dict(doc["objects"][0]))
    p = refused(read_json_bytes, json.dumps(doc).encode()).problems[0]
    assert p.field == f"/objects/{len(doc['objects']) - 1}/id"
    doc = example()
    del doc["eventTypes"]
    p = refused(read_json_bytes, json.dumps(doc).encode()).problems[0]
    assert p.field == "/eventTypes"


def test_json_relation_to_unknown_object_is_dropped_with_a_warning() -> None:
    doc = example()
    doc["events"][0]["relationships"].append({"objectId": "ghost", "qualifier": "x"})
    with pytest.warns(UserWarning, match="ghost"):
        log = read_json_bytes(json.dumps(doc).encode())
    assert "ghost" not in log.event_objects.column("ocel_object_id").to_pylist()
    assert log.num_events == 13


def test_json_truncated_and_not_an_object() -> None:
    p = refused(read_json_bytes, EXAMPLE_JSON[: len(EXAMPLE_JSON) // 2]).problems[0]
    assert p.title == "Malformed JSON"
    p = refused(read_json_bytes, b"[1, 2, 3]").problems[0]
    assert "object" in (p.expected or "")


# --- XML -------------------------------------------------------------------------------------


def test_xml_event_of_undeclared_type_names_line_and_xpath() -> None:
    data = EXAMPLE_XML.replace(
        b'type="Insert Payment" time="2022-01-30', b'type="Nope" time="2022-01-30'
    )
    p = refused(read_xml_bytes, data).problems[0]
    assert p.field == "/log/events/event[7]/@type"
    assert p.event_index == 6
    assert p.line is not None and b'type="Nope"' in data.splitlines()[p.line - 1]


def test_xml_bad_time_and_malformed_and_wrong_root() -> None:
    data = EXAMPLE_XML.replace(b'time="2022-01-09T15:00:00"', b'time="yesterday"')
    p = refused(read_xml_bytes, data).problems[0]
    assert p.field == "/log/events/event[1]/@time" and p.event_index == 0
    p = refused(read_xml_bytes, EXAMPLE_XML[:5000]).problems[0]
    assert p.title == "Malformed XML" and p.line is not None
    p = refused(read_xml_bytes, b"<epcis><event/></epcis>").problems[0]
    assert "<log>" in (p.expected or "")


def test_xml_entities_are_not_expanded_nor_fetched(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    bomb = (
        b'<?xml version="1.0"?>\n<!DOCTYPE log [\n<!ENTITY a "aaaaaaaaaa">\n'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">\n'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">\n'
        b'<!ENTITY x SYSTEM "' + secret.as_uri().encode() + b'">\n]>\n'
        b'<log><object-types/><event-types><event-type name="t"><attributes>'
        b'<attribute name="v" type="string"/></attributes></event-type></event-types><objects/>'
        b'<events><event id="e1" type="t" time="2024-01-01T00:00:00Z"><attributes>'
        b'<attribute name="v">&c;&x;</attribute></attributes><objects/></event></events></log>'
    )
    p = refused(read_xml_bytes, bomb).problems[0]
    assert p.field == "/log/events/event[1]/attributes/attribute[1]"
    assert "TOP-SECRET" not in str(p)


# --- SQLite ----------------------------------------------------------------------------------


def test_sqlite_random_bytes_and_missing_tables(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(DocumentError) as info:
        list(read_ocel_sqlite(junk))
    assert info.value.problems[0].document == str(junk)
    empty = tmp_path / "empty.sqlite"
    sqlite3.connect(empty).close()
    with pytest.raises(DocumentError) as info:
        list(read_ocel_sqlite(empty))
    assert info.value.problems[0].field == "event"


def _copy(tmp_path: Path, sql: str) -> Path:
    path = tmp_path / "copy.sqlite"
    shutil.copy(DATA / "ocel20_example.sqlite", path)
    with sqlite3.connect(path) as conn:
        conn.execute(sql)
    return path


def test_sqlite_bad_time_names_table_and_column(tmp_path: Path) -> None:
    path = _copy(tmp_path, "UPDATE event_InsertInvoice SET ocel_time = 'soon' WHERE ocel_id = 'e6'")
    with pytest.raises(DocumentError) as info:
        list(read_ocel_sqlite(path))
    p = info.value.problems[0]
    assert p.field == "event_InsertInvoice.ocel_time" and "soon" in p.detail


def test_sqlite_event_without_its_type_row(tmp_path: Path) -> None:
    path = _copy(tmp_path, "DELETE FROM event_InsertInvoice WHERE ocel_id = 'e6'")
    with pytest.raises(DocumentError) as info:
        list(read_ocel_sqlite(path))
    assert "per-type tables" in info.value.problems[0].detail


def test_sqlite_changed_field_that_is_no_column(tmp_path: Path) -> None:
    path = _copy(
        tmp_path,
        "UPDATE object_PurchaseOrder SET ocel_changed_field = 'colour' "
        "WHERE ocel_changed_field IS NOT NULL",
    )
    with pytest.raises(DocumentError) as info:
        list(read_ocel_sqlite(path))
    assert info.value.problems[0].field == "object_PurchaseOrder.ocel_changed_field"


# --- hostile input ---------------------------------------------------------------------------


def _only_document_errors(fn, data: bytes) -> None:  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with contextlib.suppress(DocumentError):
            fn(data)


mutation = st.tuples(st.integers(min_value=0), st.binary(min_size=0, max_size=8), st.integers(0, 8))


def _mutate(data: bytes, edits: list[tuple[int, bytes, int]]) -> bytes:
    for pos, insert, cut in edits:
        at = pos % (len(data) + 1)
        data = data[:at] + insert + data[at + cut :]
    return data


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.integers(min_value=0, max_value=len(EXAMPLE_JSON)), st.lists(mutation, max_size=4))
def test_json_truncated_or_mutated_gives_document_error_only(cut: int, edits: list) -> None:  # type: ignore[type-arg]
    _only_document_errors(read_json_bytes, _mutate(EXAMPLE_JSON[:cut], edits))
    _only_document_errors(read_json_bytes, _mutate(EXAMPLE_JSON, edits))


@FAST
@given(st.integers(min_value=0, max_value=len(EXAMPLE_XML)), st.lists(mutation, max_size=4))
def test_xml_truncated_or_mutated_gives_document_error_only(cut: int, edits: list) -> None:  # type: ignore[type-arg]
    _only_document_errors(read_xml_bytes, _mutate(EXAMPLE_XML[:cut], edits))
    _only_document_errors(read_xml_bytes, _mutate(EXAMPLE_XML, edits))


@FAST
@given(st.binary(max_size=2000))
def test_random_bytes_give_document_error_only(data: bytes) -> None:
    _only_document_errors(read_json_bytes, data)
    _only_document_errors(read_xml_bytes, data)


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=4096))
def test_random_bytes_as_sqlite_give_document_error_only(data: bytes) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "x.sqlite"
        path.write_bytes(data)
        _only_document_errors(lambda _: Ocel.concat(read_ocel(path)), data)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(["event_object", "object", "event", "object_Invoice", "event_InsertPayment"]),
    st.sampled_from(["ocel_id", "ocel_time", "ocel_type", "ocel_object_id", "is_blocked"]),
    st.one_of(
        st.none(),
        st.integers(-(2**63), 2**63 - 1),  # what an SQLite INTEGER cell can hold
        st.floats(allow_nan=True),
        st.text(max_size=10),
        st.binary(max_size=4),
    ),
)
def test_sqlite_cells_overwritten_give_document_error_only(
    table: str, column: str, value: object
) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "x.sqlite"
        shutil.copy(DATA / "ocel20_example.sqlite", path)
        with sqlite3.connect(path) as conn:
            try:
                conn.execute(f'UPDATE "{table}" SET "{column}" = ? WHERE rowid = 1', (value,))
            except sqlite3.Error:
                return
        _only_document_errors(lambda _: Ocel.concat(read_ocel(path)), b"")
