"""OCEL 2.0 files in, OCEL 2.0 files out: the third-party logs survive every format unchanged,
the counts are the files' own, and what we write passes the standard's schema and XSD."""

from __future__ import annotations

import json
import sqlite3
import warnings
from datetime import timedelta
from pathlib import Path

import jsonschema
import pm4py
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from lxml import etree

from _data import data
from keiretsu.io.ocel import (
    DanglingRelationWarning,
    read_ocel,
    read_ocel_json,
    read_ocel_sqlite,
    read_ocel_xml,
    write_ocel,
)
from keiretsu.model import Ocel, OcelBuilder
from keiretsu.model.ocel import EPOCH, parse_time

DATA = data("ocel")
FILES = [
    "ocel20_example.jsonocel",
    "ocel20_example.xmlocel",
    "ocel20_example.sqlite",
    "running-example.sqlite",
    "logistics.sqlite",
]
FORMATS = ["jsonocel", "xmlocel", "sqlite"]
TABLES = [n for n in Ocel.table_names() if n != "source_events"]


def load(path: Path, **kw: object) -> Ocel:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DanglingRelationWarning)
        return Ocel.concat(read_ocel(path, **kw))  # type: ignore[arg-type]


_cache: dict[str, Ocel] = {}


def original(name: str) -> Ocel:
    if name not in _cache:
        _cache[name] = load(DATA / name)
    return _cache[name]


def assert_same(a: Ocel, b: Ocel) -> None:
    a, b = a.sorted(), b.sorted()
    for name in TABLES:
        left, right = getattr(a, name), getattr(b, name)
        assert left.equals(right), f"{name} differs:\n{left.slice(0, 5)}\nvs\n{right.slice(0, 5)}"


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", FILES)
def test_round_trip_is_lossless(name: str, fmt: str, tmp_path: Path) -> None:
    log = original(name)
    out = tmp_path / f"log.{fmt}"
    write_ocel(log, out)
    assert_same(log, load(out))


def test_small_batches_give_the_same_log() -> None:
    whole = original("running-example.sqlite")
    with warnings.catch_warnings():
        parts = list(read_ocel_sqlite(DATA / "running-example.sqlite", batch_size=1000))
    assert len(parts) > 18
    assert max(p.num_events for p in parts) <= 1000
    assert_same(whole, Ocel.concat(parts))


def test_json_and_xml_stream_in_batches(tmp_path: Path) -> None:
    log = original("logistics.sqlite")
    for fmt, reader in (("jsonocel", read_ocel_json), ("xmlocel", read_ocel_xml)):
        out = tmp_path / f"log.{fmt}"
        write_ocel(log, out)
        parts = list(reader(out, batch_size=500))
        assert max(p.num_events for p in parts) <= 500
        assert_same(log, Ocel.concat(parts))


# --- the three formats of the standard's example -------------------------------------------


def _times(table: pa.Table, key: list[str]) -> list[object]:
    return table.sort_by([(k, "ascending") for k in key]).column("ocel_time").to_pylist()


def test_three_formats_of_the_example_agree_up_to_naive_local_times() -> None:
    """The JSON states UTC; the XML and SQLite were written with naive CET wall-clock times
    (one hour ahead), which we read as UTC, as docs/formats/ocel.md says."""
    j, x, s = (original(f"ocel20_example.{ext}") for ext in ("jsonocel", "xmlocel", "sqlite"))
    hour = timedelta(hours=1)
    for name in TABLES:
        if name in ("events", "object_attributes"):
            continue
        assert getattr(j.sorted(), name).equals(getattr(x.sorted(), name)), name
        assert getattr(j.sorted(), name).equals(getattr(s.sorted(), name)), name
    # events: same ids and types; XML and SQLite one hour after the JSON's UTC
    assert (
        j.events.drop(["ocel_time"])
        .sort_by("ocel_id")
        .equals(s.events.drop(["ocel_time"]).sort_by("ocel_id"))
    )
    jt = _times(j.events, ["ocel_id"])
    assert _times(x.events, ["ocel_id"]) == [t + hour for t in jt]  # type: ignore[operator]
    assert _times(s.events, ["ocel_id"]) == [t + hour for t in jt]  # type: ignore[operator]
    # object attributes: same values; SQLite shifts all, XML all but the explicit-UTC epoch
    key = ["ocel_id", "ocel_name", "ocel_value"]
    for other in (x, s):
        assert (
            other.object_attributes.drop(["ocel_time"])
            .sort_by([(k, "ascending") for k in key])
            .equals(
                j.object_attributes.drop(["ocel_time"]).sort_by([(k, "ascending") for k in key])
            )
        )
    jt = _times(j.object_attributes, key)
    assert _times(s.object_attributes, key) == [t + hour for t in jt]  # type: ignore[operator]
    assert _times(x.object_attributes, key) == [
        t if t == EPOCH else t + hour  # type: ignore[operator]
        for t in jt
    ]


# --- counts a user checks --------------------------------------------------------------------


def _sql(name: str, query: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(DATA / name) as conn:
        return conn.execute(query).fetchall()


def _later_than_initial(log: Ocel) -> pa.Table:
    """Object attribute rows after the initial values (stamped at the epoch, or at 01:00 on
    1970-01-01 in pm4py's naive-local files)."""
    cutoff = pa.scalar(EPOCH + timedelta(days=1), pa.timestamp("us", tz="UTC"))
    return log.object_attributes.filter(pc.greater(log.object_attributes["ocel_time"], cutoff))


def test_running_example_counts() -> None:
    log = original("running-example.sqlite")
    assert log.num_events == 18_211
    # the file's object table lists 10,031 objects; 20 of them (products) no event touches,
    # which pm4py drops: that is the 10,011 the data README quotes
    assert log.num_objects == 10_031
    touched = pc.unique(log.event_objects.column("ocel_object_id"))
    assert len(touched) == 10_011
    assert log.event_objects.num_rows == 35_857
    assert log.object_objects.num_rows == 25_336
    # declared types: 11 event types (3 with no events) and 6 object types
    assert log.event_types.num_rows == 11
    assert log.object_types.num_rows == 6
    # products change price: initial values plus 120 price changes from object_Products
    changes = _later_than_initial(log)
    changed = _sql(
        "running-example.sqlite",
        "SELECT count(*) FROM object_Products WHERE ocel_changed_field IS NOT NULL",
    )[0][0]
    assert changes.num_rows == changed == 120


def test_logistics_counts_and_handling_units_warning() -> None:
    with pytest.warns(DanglingRelationWarning, match="hu"):
        log = Ocel.concat(read_ocel_sqlite(DATA / "logistics.sqlite"))
    # all 8,727 events of the file are kept, though 2,540 'Collect Goods' events touch only
    # handling units the file never lists (pm4py drops those events: its count is 6,187)
    assert log.num_events == _sql("logistics.sqlite", "SELECT count(*) FROM event")[0][0] == 8_727
    assert log.num_objects == 970
    only_dangling = _sql(
        "logistics.sqlite",
        "SELECT count(*) FROM event WHERE ocel_id NOT IN (SELECT r.ocel_event_id "
        "FROM event_object r JOIN object o ON o.ocel_id = r.ocel_object_id)",
    )[0][0]
    assert log.num_events - only_dangling == 6_187
    valid_e2o = _sql(
        "logistics.sqlite",
        "SELECT count(*) FROM event_object r JOIN object o ON o.ocel_id = r.ocel_object_id",
    )[0][0]
    assert log.event_objects.num_rows == valid_e2o
    # object attribute changes: one row per ocel_changed_field row of the per-type tables
    assert _later_than_initial(log).num_rows == 1_420


def _per_type(table: pa.Table) -> dict[str, int]:
    counts = table.group_by("ocel_type").aggregate([("ocel_id", "count")])
    return dict(
        zip(counts["ocel_type"].to_pylist(), counts["ocel_id_count"].to_pylist(), strict=True)
    )


@pytest.mark.parametrize(
    "name", ["running-example.sqlite", "logistics.sqlite", "ocel20_example.sqlite"]
)
def test_types_and_relations_match_pm4py(name: str) -> None:
    ref = pm4py.read_ocel2_sqlite(str(DATA / name))
    log = original(name)
    # pm4py drops events and objects that no valid relation touches; compare on what it keeps
    kept_events = set(ref.events["ocel:eid"])
    ours = log.events.filter(pc.is_in(log.events["ocel_id"], pa.array(list(kept_events))))
    assert ours.num_rows == len(ref.events)
    assert _per_type(ours) == ref.events["ocel:activity"].value_counts().to_dict()
    kept_objects = set(ref.objects["ocel:oid"])
    ours_o = log.objects.filter(pc.is_in(log.objects["ocel_id"], pa.array(list(kept_objects))))
    assert _per_type(ours_o) == ref.objects["ocel:type"].value_counts().to_dict()
    assert log.event_objects.num_rows == len(ref.relations)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", ["logistics.sqlite", "ocel20_example.sqlite"])
def test_pm4py_reads_what_we_write(name: str, fmt: str, tmp_path: Path) -> None:
    out = tmp_path / f"log.{fmt}"
    write_ocel(original(name), out)
    reader = {
        "jsonocel": pm4py.read_ocel2_json,
        "xmlocel": pm4py.read_ocel2_xml,
        "sqlite": pm4py.read_ocel2_sqlite,
    }[fmt]
    ours = reader(str(out))
    ref = pm4py.read_ocel2_sqlite(str(DATA / name))
    assert len(ours.events) == len(ref.events)
    assert len(ours.objects) == len(ref.objects)
    assert len(ours.o2o) == len(ref.o2o)
    assert ours.events["ocel:activity"].value_counts().to_dict() == (
        ref.events["ocel:activity"].value_counts().to_dict()
    )
    assert (
        ours.events["ocel:timestamp"].sort_values().to_numpy()
        == (ref.events["ocel:timestamp"].sort_values().to_numpy())
    ).all()


# --- validity of what we write ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["ocel20_example.sqlite", "logistics.sqlite"])
def test_written_json_is_valid_against_the_schema(name: str, tmp_path: Path) -> None:
    schema = json.loads((DATA / "schema_ocel2.json").read_text())
    out = tmp_path / "log.jsonocel"
    write_ocel(original(name), out)
    jsonschema.validate(
        json.loads(out.read_bytes()), schema, format_checker=jsonschema.FormatChecker()
    )


def _xsd_errors(path: Path, log: Ocel) -> list[str]:
    xsd = etree.XMLSchema(etree.parse(str(DATA / "ocel2-validation.xsd")))
    xsd.validate(etree.parse(str(path)))
    # The XSD keys object-type attribute names per type but refers to them from the whole
    # log, so libxml2 rejects any log where two object types share an attribute name
    # ('weight' on items and products). That is the XSD's limit, not the file's.
    shared = {}
    for row in log.object_types.to_pylist():
        for a in row["attributes"]:
            shared[a["name"]] = shared.get(a["name"], 0) + 1
    errors = []
    for e in xsd.error_log:
        msg = e.message
        if "More than one match found for key-sequence" in msg:
            attr = msg.split("['", 1)[1].split("']", 1)[0]
            if shared.get(attr, 0) > 1:
                continue
        errors.append(f"{e.line}: {msg}")
    return errors


@pytest.mark.parametrize("name", ["ocel20_example.sqlite", "logistics.sqlite"])
def test_written_xml_is_valid_against_the_xsd(name: str, tmp_path: Path) -> None:
    out = tmp_path / "log.xmlocel"
    log = original(name)
    write_ocel(log, out)
    assert _xsd_errors(out, log) == []


def test_written_example_xml_passes_the_xsd_without_exception(tmp_path: Path) -> None:
    out = tmp_path / "log.xmlocel"
    write_ocel(original("ocel20_example.jsonocel"), out)
    xsd = etree.XMLSchema(etree.parse(str(DATA / "ocel2-validation.xsd")))
    assert xsd.validate(etree.parse(str(out))), xsd.error_log


# --- our extension: E2O quantity and unit ---------------------------------------------------


def _with_quantities() -> Ocel:
    b = OcelBuilder()
    b.declare_event_type("ship", {"carrier": "string"})
    b.declare_object_type("lot", {"grade": "string", "weight": "float"})
    b.add_object("L1", "lot")
    b.add_object("L2", "lot")
    b.add_object_attribute("L1", "grade", "A", EPOCH, "string")
    b.add_object_attribute("L1", "weight", "12.5", parse_time("2024-01-02T03:04:05.25Z"), "float")
    b.link("L1", "L2", "split from")
    b.add_event("e1", "ship", parse_time("2024-01-03T00:00:00Z"), {"carrier": "DHL", "n": 3})
    b.relate("e1", "L1", "shipped", 40.0, "kg")
    b.relate("e1", "L2", "shipped", 2.5, None)
    b.add_event("e2", "ship", parse_time("2024-01-04T00:00:00Z"), {"ok": True})
    b.relate("e2", "L2", "shipped")
    return b.build()


@pytest.mark.parametrize("fmt", FORMATS)
def test_quantities_and_units_survive_our_own_files(fmt: str, tmp_path: Path) -> None:
    log = _with_quantities()
    out = tmp_path / f"log.{fmt}"
    write_ocel(log, out)
    back = load(out)
    assert_same(log, back)
    rels = back.event_objects.sort_by("ocel_object_id").to_pylist()
    assert [
        (r["ocel_object_id"], r["quantity"], r["uom"]) for r in rels if r["ocel_event_id"] == "e1"
    ] == [
        ("L1", 40.0, "kg"),
        ("L2", 2.5, None),
    ]


def test_dispatch_refuses_unknown_extension(tmp_path: Path) -> None:
    from keiretsu.model import DocumentError

    with pytest.raises(DocumentError, match="format"):
        read_ocel(tmp_path / "log.csv")
    with pytest.raises(ValueError, match=r"extension|format"):
        write_ocel(Ocel(), tmp_path / "log.csv")
