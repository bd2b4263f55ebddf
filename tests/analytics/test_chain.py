"""The chain end to end, as a distributor's twin sees it: whose events it holds, an object's
path across the plant and the distributor, the objects that stitch them — on a hand-built
two-company log whose answers are counted by hand, on the demo's EPCIS documents stored as a
node stores them, and the same on DuckDB and Spark."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from keiretsu.analytics import Log
from keiretsu.analytics.chain import (
    object_path,
    provenance,
    resolve_object,
    shared_objects,
    steps_by_node,
)
from keiretsu.io.epcis import read_epcis
from keiretsu.model import Ocel, OcelBuilder
from keiretsu.store import Store
from keiretsu.store.received import from_partner, received_id

T0 = datetime(2025, 6, 2, 6, 0, tzinfo=UTC)
H = timedelta(hours=1)
PALLET = "https://id.gs1.org/00/040123450000000016"
PALLET_URN = "urn:epc:id:sscc:4012345.0000000001"
CASE1, CASE2 = (
    "https://id.gs1.org/01/04012345000016/21/1",
    "https://id.gs1.org/01/04012345000016/21/2",
)
PO = "urn:epcglobal:cbv:bt:4012345000009:PO-7001"

EXAMPLES = Path(__file__).parents[2] / "src" / "keiretsu" / "examples" / "two-company-chain"
PLANT_DOC = EXAMPLES / "1-sakura-foods-plant.jsonld"
DC_DOC = EXAMPLES / "2-umeda-distribution-dc.xml"


def two_companies() -> Ocel:
    """A plant commissions two cases, packs them on a pallet and ships it (pushed to the
    distributor: its events under the plant's namespace); the distributor receives the
    pallet, unpacks it and stores one case."""
    b = OcelBuilder()
    plant = lambda e: received_id("plant", e)  # noqa: E731
    events: list[tuple[str, str, timedelta, list[tuple[str, str, str]]]] = [
        (
            plant("p1"),
            "commissioning",
            0 * H,
            [
                (CASE1, "epc", "trade item"),
                (CASE2, "epc", "trade item"),
                ("urn:rp:plant-line", "readPoint", "location"),
                ("urn:loc:plant", "bizLocation", "location"),
            ],
        ),
        (
            plant("p2"),
            "packing",
            1 * H,
            [
                (PALLET, "parent", "logistic unit"),
                (CASE1, "child", "trade item"),
                (CASE2, "child", "trade item"),
                ("urn:loc:plant", "bizLocation", "location"),
            ],
        ),
        (
            plant("p3"),
            "shipping",
            2 * H,
            [
                (PALLET, "epc", "logistic unit"),
                (PO, "bizTransaction", "po"),
                ("urn:rp:plant-dock", "readPoint", "location"),
                ("urn:party:plant", "source:owning_party", "party"),
            ],
        ),
        (
            "d1",
            "receiving",
            20 * H,
            [
                (PALLET, "epc", "logistic unit"),
                (PO, "bizTransaction", "po"),
                ("urn:rp:dc-door", "readPoint", "location"),
                ("urn:loc:dc", "bizLocation", "location"),
                ("urn:party:dc", "destination:owning_party", "party"),
            ],
        ),
        (
            "d2",
            "unpacking",
            21 * H,
            [
                (PALLET, "parent", "logistic unit"),
                (CASE1, "child", "trade item"),
                (CASE2, "child", "trade item"),
            ],
        ),
        ("d3", "storing", 22 * H, [(CASE1, "epc", "trade item")]),
    ]
    for event_id, activity, at, relations in events:
        b.add_event(event_id, activity, T0 + at, {})
        for object_id, qualifier, object_type in relations:
            b.add_object(object_id, object_type)
            b.relate(event_id, object_id, qualifier)
    return b.build()


@pytest.fixture(scope="module")
def hand_log() -> Log:
    return Log.from_ocel(two_companies())


def test_provenance_tells_each_companys_events_apart(hand_log: Log) -> None:
    rows = provenance(hand_log, local="dc").to_pylist()
    assert [r["node"] for r in rows] == ["plant", "dc"]  # upstream first
    plant, dc = rows
    assert (plant["events"], plant["activities"]) == (3, 3)
    assert plant["steps"] == ["commissioning", "packing", "shipping"]
    assert (plant["first_event"], plant["last_event"]) == (T0, T0 + 2 * H)
    assert dc["steps"] == ["receiving", "storing", "unpacking"]
    assert (dc["first_event"], dc["last_event"]) == (T0 + 20 * H, T0 + 22 * H)
    by_step = steps_by_node(hand_log, local="dc").to_pylist()
    assert [(r["activity"], r["node"], r["events"]) for r in by_step] == [
        ("commissioning", "plant", 1),
        ("packing", "plant", 1),
        ("shipping", "plant", 1),
        ("receiving", "dc", 1),
        ("unpacking", "dc", 1),
        ("storing", "dc", 1),
    ]


def test_a_pallet_written_as_an_epc_urn_is_followed_across_both_companies(
    hand_log: Log,
) -> None:
    assert resolve_object(hand_log, PALLET_URN) == PALLET
    view = object_path(hand_log, PALLET_URN, local="dc")
    assert view.meta == {"object": PALLET}
    rows = view.to_pylist()
    assert [(r["node"], r["activity"], r["qualifier"], r["location"]) for r in rows] == [
        ("plant", "packing", "parent", "urn:loc:plant"),
        ("plant", "shipping", "epc", "urn:rp:plant-dock"),  # no bizLocation: the readPoint
        ("dc", "receiving", "epc", "urn:loc:dc"),  # the bizLocation before the readPoint
        ("dc", "unpacking", "parent", None),
    ]
    assert [r["time"] for r in rows] == [T0 + 1 * H, T0 + 2 * H, T0 + 20 * H, T0 + 21 * H]
    assert rows[0]["event_id"] == received_id("plant", "p2")
    assert all(r["objects"] == 1 for r in rows)


def test_contents_follow_the_cases_packed_on_the_pallet(hand_log: Log) -> None:
    rows = object_path(hand_log, PALLET, local="dc", contents=True).to_pylist()
    assert [(r["node"], r["activity"], r["qualifier"], r["objects"]) for r in rows] == [
        ("plant", "commissioning", "epc", 2),  # only its cases: how they took part
        ("plant", "packing", "parent", 3),
        ("plant", "shipping", "epc", 1),
        ("dc", "receiving", "epc", 1),
        ("dc", "unpacking", "parent", 3),
        ("dc", "storing", "epc", 1),
    ]


def test_a_purchase_order_is_found_by_its_number_and_an_unknown_object_by_nothing(
    hand_log: Log,
) -> None:
    assert resolve_object(hand_log, "PO-7001") == PO
    path = object_path(hand_log, "PO-7001", local="dc").to_pylist()
    assert [(r["node"], r["activity"]) for r in path] == [
        ("plant", "shipping"),
        ("dc", "receiving"),
    ]
    assert resolve_object(hand_log, "PO-0000") is None
    assert object_path(hand_log, "PO-0000", local="dc").num_rows == 0


def test_a_number_that_ends_two_identifiers_is_not_guessed() -> None:
    b = OcelBuilder()
    b.add_event("e1", "ordering", T0, {})
    for po in ("urn:epcglobal:cbv:bt:1:PO-1", "urn:epcglobal:cbv:bt:2:PO-1"):
        b.add_object(po, "po")
        b.relate("e1", po, "bizTransaction")
    assert resolve_object(Log.from_ocel(b.build()), "PO-1") is None


def test_shared_objects_are_the_stitches_not_the_places_or_parties(hand_log: Log) -> None:
    rows = shared_objects(hand_log, local="dc").to_pylist()
    assert [(r["object_id"], r["object_type"], r["nodes"], r["events"]) for r in rows] == [
        (CASE1, "trade item", ["plant", "dc"], 4),
        (CASE2, "trade item", ["plant", "dc"], 3),
        (PALLET, "logistic unit", ["plant", "dc"], 4),
        (PO, "po", ["plant", "dc"], 2),
    ]


def test_a_local_document_with_a_source_label_is_still_this_nodes_own(tmp_path: Path) -> None:
    """``keiretsu ingest --source erp`` labels where a document came from; it is still the
    node's own record, not a partner's."""
    with Store(tmp_path / "dc.duckdb") as store:
        store.ingest_file(DC_DOC, source="erp-export")
        rows = provenance(Log.from_connection(store.con), local="umeda-dc").to_pylist()
    assert [r["node"] for r in rows] == ["umeda-dc"]


def _xml_events(path: Path) -> int:
    tree = etree.parse(str(path))
    kinds = {"ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent"}
    return sum(etree.QName(el).localname in kinds for el in tree.iter())


@pytest.fixture(scope="module")
def demo_dc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The distributor's store with the plant's whole document pushed to it, stored as the
    node stores a partner's push."""
    path = tmp_path_factory.mktemp("dc") / "twin.duckdb"
    with Store(path) as store:
        store.ingest_file(DC_DOC)
        pushed = from_partner(read_epcis(PLANT_DOC), "sakura-plant")
        store.ingest(pushed, document="from/sakura-plant/1", source="sakura-plant")
    return path


def test_the_demo_chain_counts_each_companys_documented_events(demo_dc: Path) -> None:
    plant_events = len(json.loads(PLANT_DOC.read_text())["epcisBody"]["eventList"])
    rows = {r["node"]: r for r in provenance(Log.open(demo_dc), local="umeda-dc").to_pylist()}
    assert rows["sakura-plant"]["events"] == plant_events
    assert rows["umeda-dc"]["events"] == _xml_events(DC_DOC)


def same(a: Any, b: Any) -> None:
    assert a.table.column_names == b.table.column_names
    assert a.to_pylist() == b.to_pylist()
    assert a.notes == b.notes


def test_the_views_agree_on_duckdb_and_spark(demo_dc: Path, both_engines: Any, spark: Any) -> None:
    duck, on_spark = both_engines(demo_dc)
    for view in (provenance, steps_by_node, shared_objects):
        same(view(duck, local="umeda-dc"), view(on_spark, local="umeda-dc"))
    for contents in (False, True):
        a = object_path(duck, PALLET_URN, local="umeda-dc", contents=contents)
        b = object_path(on_spark, PALLET_URN, local="umeda-dc", contents=contents)
        same(a, b)
        assert a.num_rows > 0
    assert resolve_object(on_spark, "PO-7001") == resolve_object(duck, "PO-7001") is not None
    hand = two_companies()
    duck_hand = Log.from_ocel(hand)
    spark_hand = Log.from_ocel(hand, engine="spark", spark=spark)
    same(provenance(duck_hand, local="dc"), provenance(spark_hand, local="dc"))
    same(
        object_path(duck_hand, PALLET, local="dc", contents=True),
        object_path(spark_hand, PALLET, local="dc", contents=True),
    )
    same(shared_objects(duck_hand, local="dc"), shared_objects(spark_hand, local="dc"))
