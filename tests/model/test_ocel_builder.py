"""OcelBuilder: the bulk and shortcut paths give the tables the row-by-row API gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pyarrow as pa

from keiretsu.model.ocel import EPOCH, TIME, OcelBuilder


def test_add_objects_is_add_object_for_each() -> None:
    ids = ["a", "b", "a", "c", "d"]
    types: list[str | None] = [None, "pallet", "case", None, "case"]
    bulk, single = OcelBuilder(), OcelBuilder()
    bulk.add_object("c", "lot")
    single.add_object("c", "lot")
    bulk.add_objects(ids, types, "item")
    for oid, kind in zip(ids, types, strict=True):
        single.add_object(oid, kind or "item")
    bulk.add_objects(["e", "f"], ["case", "case"], "item")  # all new: the whole-list path
    single.add_object("e", "case")
    single.add_object("f", "case")
    a, b = bulk.build(), single.build()
    assert a.objects.equals(b.objects)
    assert a.objects.to_pylist()[1] == {"ocel_id": "a", "ocel_type": "item"}
    assert sorted(a.object_types.column("ocel_type").to_pylist()) == [
        "case",
        "item",
        "lot",
        "pallet",
    ]


def test_object_attribute_times_keep_their_instant() -> None:
    b = OcelBuilder()
    b.add_object("lot1", "lot")
    t1 = datetime(2024, 3, 4, 7, 5, tzinfo=timezone(timedelta(hours=1)))
    t2 = datetime(2024, 3, 4, 6, 5, 0, 123456, tzinfo=UTC)
    times = [EPOCH, t1, t1, t2, EPOCH, t1, datetime(2024, 1, 1), t1]
    for i, t in enumerate(times):
        b.add_object_attribute("lot1", f"a{i}", str(i), t, "string")
    got = b.build().object_attributes.column("ocel_time")
    assert got.type == TIME
    assert got.to_pylist() == pa.array(times, TIME).to_pylist()
    assert got.to_pylist()[1] == got.to_pylist()[3] - timedelta(microseconds=123456)


def test_repeated_and_null_texts_are_kept() -> None:
    b = OcelBuilder()
    for i in range(50):
        b.add_event(f"e{i}", "pick", EPOCH + timedelta(seconds=i), {"note": None, "who": "ann"})
        b.relate(f"e{i}", "o", "item")
    batch = b.build()
    ea = batch.event_attributes
    assert ea.column("ocel_value").to_pylist() == [None, "ann"] * 50
    assert set(ea.column("ocel_value_type").to_pylist()) == {"string"}
    assert batch.event_objects.column("uom").null_count == 50
    assert batch.events.column("ocel_time").to_pylist()[-1] == EPOCH + timedelta(seconds=49)
    empty = b.build()  # nothing since: every table empty, with its schema
    assert all(t.num_rows == 0 for t in empty.tables().values())


def test_object_memory_is_bounded_and_recent_objects_stay_one_row() -> None:
    b = OcelBuilder()
    b.OBJECT_MEMORY = 4  # type: ignore[misc]
    b.add_object("hot", "location")
    for i in range(6):
        b.add_object(f"o{i}", "case")
        b.add_object("hot", "location")  # met again and again: remembered
    first = b.build()
    assert first.objects.column("ocel_id").to_pylist().count("hot") == 1
    b.add_object("o0", "pallet")  # remembered a generation ago: not emitted again
    b.add_object_attribute("o0", "weight", "12", EPOCH, "float")
    second = b.build()
    assert second.objects.num_rows == 0
    # the attribute is declared on the object's own type
    types = {r["ocel_type"]: r["attributes"] for r in second.object_types.to_pylist()}
    assert types["case"] == [{"name": "weight", "type": "float"}]
    for i in range(20):
        b.add_object(f"n{i}", "case")
    b.add_object("o1", "pallet")  # long forgotten: emitted again, once
    third = b.build()
    assert third.objects.column("ocel_id").to_pylist().count("o1") == 1
    assert len(b._seen_objects) + len(b._old_objects) <= 2 * 4 + 1
