"""Quality: first-pass yield, rolled throughput yield and escaped defects — recounted from the
demo's raw EPCIS documents (json, lxml), the OCEL 2.0 order-management log (sqlite3) and a
hand-built inspection line."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree

from _data import DATA
from keiretsu.analytics import Log
from keiretsu.analytics.quality import escaped_defects, first_pass_yield
from keiretsu.model import OcelBuilder
from keiretsu.store import Store

EXAMPLE = (
    Path(__file__).resolve().parents[2] / "src" / "keiretsu" / "examples" / "two-company-chain"
)
ORDERS = DATA / "ocel" / "running-example.sqlite"


def _store(tmp_path_factory: pytest.TempPathFactory, name: str, *files: Path) -> Log:
    path = tmp_path_factory.mktemp(name) / "node.duckdb"
    with Store(path) as store:
        for f in files:
            assert store.ingest_file(f).status == "accepted"
    return Log.open(path)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Log:
    return _store(tmp_path_factory, "demo", *sorted(EXAMPLE.iterdir()))


def _serial(epc: str) -> str:
    """The serial number of an SGTIN, as an EPC URN (``…011111.2000``) or a Digital Link
    (``…/21/2000``)."""
    return epc.rsplit("/", 1)[-1] if epc.startswith("https://") else epc.rsplit(".", 1)[-1]


def test_the_demo_bottles_that_failed_inspection_were_shipped_and_six_reached_customers(
    demo: Log,
) -> None:
    """From the raw documents: the bottles an inspecting event marks non_conformant, those
    packed afterwards, and those the distributor shipped to a party whose location no event of
    the chain names (the retailer: outside the network)."""
    plant = json.loads((EXAMPLE / "1-sakura-foods-plant.jsonld").read_text())["epcisBody"]
    failed: dict[str, datetime] = {}
    for ev in plant["eventList"]:
        if ev.get("bizStep") == "inspecting" and ev["disposition"] == "non_conformant":
            for epc in ev["epcList"]:
                failed[_serial(epc)] = datetime.fromisoformat(ev["eventTime"])
    packed = {
        _serial(epc)
        for ev in plant["eventList"]
        if ev.get("bizStep") == "packing"
        for epc in ev["childEPCs"]
        if _serial(epc) in failed and datetime.fromisoformat(ev["eventTime"]) > failed[_serial(epc)]
    }
    root = etree.parse(str(EXAMPLE / "2-umeda-distribution-dc.xml")).getroot()
    known = {e.findtext("bizLocation/id") for e in root.iter("ObjectEvent", "AggregationEvent")}
    known |= {e["bizLocation"]["id"] for e in plant["eventList"] if "bizLocation" in e}
    to_customers = {
        _serial(epc.text or "")
        for ev in root.iter("ObjectEvent")
        if (ev.findtext("bizStep") or "").endswith(":shipping")
        and not any(
            d.text in known for d in ev.iter("destination") if "location" in (d.get("type") or "")
        )
        for epc in ev.iter("epc")
    }
    reached = failed.keys() & to_customers
    assert (len(failed), len(packed), len(reached)) == (12, 12, 6)

    view = escaped_defects(demo)
    assert view.meta["failed"] == len(failed)
    assert view.meta["escaped"] == len(packed)
    assert view.meta["reached_customers"] == len(reached)
    assert view.meta["by_step"] == {"inspecting": 12}
    rows = view.to_pylist()
    assert {_serial(r["object_id"]) for r in rows} == set(failed)
    assert {_serial(r["object_id"]) for r in rows if r["reached_customer"]} == reached
    assert {r["moved_on_step"] for r in rows} == {"packing"}
    assert {r["reason"] for r in rows} == {"non_conformant"}
    assert escaped_defects(demo, "trade item").meta["escaped"] == len(packed)


def test_the_demo_first_pass_yield_is_the_inspection_pass_rate(demo: Log) -> None:
    plant = json.loads((EXAMPLE / "1-sakura-foods-plant.jsonld").read_text())["epcisBody"]
    inspected = [e for e in plant["eventList"] if e.get("bizStep") == "inspecting"]
    n = sum(len(e["epcList"]) for e in inspected)
    bad = sum(len(e["epcList"]) for e in inspected if e["disposition"] != "conformant")
    view = first_pass_yield(demo, "trade item")
    rows = {r["step"]: r for r in view.to_pylist()}
    assert (rows["inspecting"]["objects"], rows["inspecting"]["failed"]) == (n, bad)
    assert rows["inspecting"]["first_pass_yield"] == pytest.approx(1 - bad / n)
    assert rows["inspecting"]["failures"] == f"non-conforming disposition: {bad}"
    assert view.meta["rolled_throughput_yield"] == pytest.approx(1 - bad / n)
    assert view.meta["first_time_through"] == pytest.approx(1 - bad / n)


def test_order_management_every_package_sent_fails_delivery_first(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A failure step next ('failed delivery') fails the step before it: the share of packages
    whose next event after 'send package' is not a failed delivery, from the sqlite file."""
    con = sqlite3.connect(ORDERS)
    events = con.execute(
        """
        select eo.ocel_object_id, e.ocel_type, t.ocel_time, e.rowid
        from event_object eo join event e on e.ocel_id = eo.ocel_event_id
        join object o on o.ocel_id = eo.ocel_object_id
        join (select ocel_id, ocel_time from event_CreatePackage
              union all select ocel_id, ocel_time from event_SendPackage
              union all select ocel_id, ocel_time from event_FailedDelivery) t
          on t.ocel_id = e.ocel_id
        where o.ocel_type = 'packages'
        """
    ).fetchall()
    paths: dict[str, list[tuple[str, int, str]]] = {}
    for package, activity, when, rowid in events:
        paths.setdefault(package, []).append((when, rowid, activity))
    sent = failed = 0
    for path in paths.values():
        steps = [a for _, _, a in sorted(path)]
        if "send package" in steps:
            sent += 1
            i = steps.index("send package")
            failed += i + 1 < len(steps) and steps[i + 1] == "failed delivery"
    log = _store(tmp_path_factory, "orders", ORDERS)
    view = first_pass_yield(log, "packages")
    rows = {r["step"]: r for r in view.to_pylist()}
    assert rows["send package"]["objects"] == sent
    assert rows["send package"]["first_pass_yield"] == pytest.approx((sent - failed) / sent)
    assert rows["failed delivery"]["first_pass_yield"] is None  # not a first pass
    assert any("failed delivery" in n for n in view.notes)


T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)


def _inspection_line() -> Log:
    """Four parts through make → test → …: p1 fails the test and is shipped anyway; p2 fails,
    is repaired, passes a second test and is shipped; p3 passes; p4 fails and is scrapped."""
    made, shipped = ("make", None), ("ship", None)
    plan = {
        "p1": [made, ("test", "FAIL"), shipped],
        "p2": [made, ("test", "failed"), ("repair", None), ("test", "pass"), shipped],
        "p3": [made, ("test", "OK"), shipped],
        "p4": [made, ("test", "NOK"), ("scrap", None)],
    }
    b = OcelBuilder()
    for i, (part, steps) in enumerate(plan.items()):
        b.add_object(part, "part")
        for j, (step, result) in enumerate(steps):
            eid = f"{part}-{j}"
            b.add_event(
                eid, step, T0 + timedelta(hours=i + j), {"result": result} if result else None
            )
            b.relate(eid, part, "part")
    return Log.from_ocel(b.build())


def test_a_failed_test_repaired_and_retested_is_dealt_with_the_one_shipped_escaped() -> None:
    log = _inspection_line()
    view = escaped_defects(log, "part", end_steps=["ship"])
    rows = {r["object_id"]: r for r in view.to_pylist()}
    assert set(rows) == {"p1", "p2", "p4"}  # failed the test
    assert rows["p1"]["escaped"] and rows["p1"]["moved_on_step"] == "ship"
    assert rows["p1"]["reached_customer"]
    assert not rows["p2"]["escaped"] and rows["p2"]["reached_customer"]  # repaired first
    assert not rows["p4"]["escaped"] and not rows["p4"]["reached_customer"]
    assert (view.meta["failed"], view.meta["escaped"], view.meta["reached_customers"]) == (3, 1, 2)

    fpy = first_pass_yield(log, "part")
    by_step = {r["step"]: r for r in fpy.to_pylist()}
    # test: reached by 4 parts, failed by p1, p2 (failed result, then rework) and p4
    assert by_step["test"]["first_pass_yield"] == pytest.approx(1 / 4)
    assert by_step["make"]["first_pass_yield"] == 1.0
    assert by_step["ship"]["first_pass_yield"] == 1.0
    assert by_step["repair"]["first_pass_yield"] is None
    assert by_step["scrap"]["first_pass_yield"] is None
    assert fpy.meta["rolled_throughput_yield"] == pytest.approx(1 / 4)
    assert fpy.meta["first_time_through"] == pytest.approx(1 / 4)  # p3 alone
