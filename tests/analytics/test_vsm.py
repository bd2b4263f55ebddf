"""The value stream map: process and waiting times per step, inventory by Little's law on the
waiting arrivals, the step order of the process map, branches off the path, the ladder summing
to the totals, PCE = ΣVA/ΣLT, customer demand and takt, the future state, and an SVG in the
standard icon language — each expected figure recomputed from the raw file (sqlite3, lxml,
json) or a hand-built log."""

from __future__ import annotations

import gzip
import itertools
import json
import sqlite3
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from _data import data
from keiretsu.analytics import Log
from keiretsu.analytics.vsm import (
    duration,
    future_state,
    future_state_from_scenario,
    step_order,
    value_stream_map,
)
from keiretsu.model import OcelBuilder
from keiretsu.store import Store

T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
H = 3600.0


def _lifecycle_log() -> Log:
    """Two orders through cut → weld → paint, each step a start and a complete event.

    order-1: cut 08:00–09:00, weld 11:00–11:30, paint 12:30–14:30
    order-2: cut 09:00–10:00, weld 14:00–15:00, paint 15:00–16:00
    """
    b = OcelBuilder()
    plan = {
        "order-1": [("cut", 0, 1), ("weld", 3, 3.5), ("paint", 4.5, 6.5)],
        "order-2": [("cut", 1, 2), ("weld", 6, 7), ("paint", 7, 8)],
    }
    for order, visits in plan.items():
        b.add_object(order, "order")
        for step, start, end in visits:
            for transition, at in (("start", start), ("complete", end)):
                eid = f"{order}-{step}-{transition}"
                b.add_event(
                    eid, step, T0 + timedelta(hours=at), {"lifecycle:transition": transition}
                )
                b.relate(eid, order, "case")
    return Log.from_ocel(b.build())


def test_lifecycle_log_gives_process_and_waiting_times_per_step() -> None:
    vsm = value_stream_map(_lifecycle_log(), "order")
    rows = {r["step"]: r for r in vsm.steps.to_pylist()}
    assert [r["step"] for r in vsm.steps.to_pylist()] == ["cut", "weld", "paint"]
    # process: cut (1 h + 1 h)/2 = 1 h; weld (0.5 h + 1 h)/2 = 0.75 h; paint (2 h + 1 h)/2 = 1.5 h
    assert rows["cut"]["process_seconds"] == pytest.approx(1 * H)
    assert rows["weld"]["process_seconds"] == pytest.approx(0.75 * H)
    assert rows["paint"]["process_seconds"] == pytest.approx(1.5 * H)
    # waiting before weld: from the cut's complete: order-1 1→3 (2 h), order-2 2→6 (4 h): 3 h
    assert rows["weld"]["wait_before_seconds"] == pytest.approx(3 * H)
    # before paint: order-1 3.5→4.5 (1 h), order-2 7→7 (0 h): 0.5 h
    assert rows["paint"]["wait_before_seconds"] == pytest.approx(0.5 * H)
    # cut is every order's first step: no arrival before it, no measurable wait (not zero)
    assert rows["cut"]["wait_before_seconds"] is None
    assert rows["cut"]["waiting_arrivals"] == 0
    # Little's law: 2 arrivals over the 8 h span = 0.25/h, waiting 3 h → 0.75 orders before weld
    assert rows["weld"]["inventory_before"] == pytest.approx(0.75)
    # ladder: waits 0 + 3 + 0.5 h, processing 1 + 0.75 + 1.5 h
    assert vsm.value_added_seconds == pytest.approx(3.25 * H)
    assert vsm.lead_seconds == pytest.approx(6.75 * H)
    assert vsm.process_cycle_efficiency == pytest.approx(3.25 / 6.75)
    # measured lead: order-1 0→6.5 h, order-2 1→8 h: mean 6.75 h
    assert vsm.measured_lead_seconds == pytest.approx(6.75 * H)
    assert all(r["process_time_rule"] == "start→complete" for r in rows.values())


def _single_timestamp_log() -> Log:
    """Three pallets: received, stored, picked, shipped (one event each, no lifecycle)."""
    b = OcelBuilder()
    hours = {"p1": [0, 2, 26, 27], "p2": [1, 2, 50, 52], "p3": [4, 10, 11, 12]}
    for pallet, times in hours.items():
        b.add_object(pallet, "pallet")
        for step, at in zip(["receive", "store", "pick", "ship"], times, strict=True):
            eid = f"{pallet}-{step}"
            b.add_event(eid, step, T0 + timedelta(hours=at), {})
            b.relate(eid, pallet, "epc")
    return Log.from_ocel(b.build())


def test_without_lifecycle_only_marked_steps_add_value() -> None:
    log = _single_timestamp_log()
    unknown = value_stream_map(log, "pallet")
    assert unknown.value_added_seconds is None and unknown.process_cycle_efficiency is None
    assert any("process time unknown" in n for n in unknown.notes)
    vsm = value_stream_map(log, "pallet", value_adding=["pick"])
    rows = {r["step"]: r for r in vsm.steps.to_pylist()}
    # pick: the time since the previous event is processing: p1 24 h, p2 48 h, p3 1 h → 73/3 h
    assert rows["pick"]["process_seconds"] == pytest.approx(73 / 3 * H)
    assert rows["pick"]["wait_before_seconds"] == 0.0
    # store waits: p1 2 h, p2 1 h, p3 6 h → 3 h; ship: 1 h, 2 h, 1 h → 4/3 h
    assert rows["store"]["wait_before_seconds"] == pytest.approx(3 * H)
    assert rows["ship"]["wait_before_seconds"] == pytest.approx(4 / 3 * H)
    assert rows["store"]["process_seconds"] is None
    assert vsm.value_added_seconds == pytest.approx(73 / 3 * H)
    assert vsm.lead_seconds == pytest.approx((3 + 4 / 3 + 73 / 3) * H)


def test_named_steps_and_unknown_steps() -> None:
    log = _single_timestamp_log()
    vsm = value_stream_map(log, "pallet", steps=["store", "ship"])
    assert [r["step"] for r in vsm.steps.to_pylist()] == ["store", "ship"]
    with pytest.raises(ValueError, match="no step 'pack'"):
        value_stream_map(log, "pallet", steps=["pack"])
    with pytest.raises(ValueError, match="no object type 'truck'"):
        value_stream_map(log, "truck")


def test_the_svg_is_a_document_with_every_box_and_the_totals(receipt_store: Path) -> None:
    vsm = value_stream_map(Log.open(receipt_store), "case")
    svg = vsm.to_svg()
    root = etree.fromstring(svg.encode())
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = " ".join(t for t in root.itertext())
    for row in vsm.steps.to_pylist():
        assert row["step"][:20] in svg
    assert "Lead time" in texts and "PCE" in texts
    assert "http" not in svg.replace("http://www.w3.org/2000/svg", "")  # nothing to fetch


def test_end_of_log_stock_in_units_and_days_of_demand() -> None:
    """p1-p3 finish (ship ends every path that reaches it); p4 is received and stored, then the
    log ends: it waits before pick."""
    b = OcelBuilder()
    hours = {"p1": [0, 2, 26, 27], "p2": [1, 2, 50, 52], "p3": [4, 10, 11, 12], "p4": [5, 6]}
    for pallet, times in hours.items():
        b.add_object(pallet, "pallet")
        for step, at in zip(["receive", "store", "pick", "ship"], times, strict=False):
            eid = f"{pallet}-{step}"
            b.add_event(eid, step, T0 + timedelta(hours=at), {})
            b.relate(eid, pallet, "epc")
    vsm = value_stream_map(Log.from_ocel(b.build()), "pallet")
    rows = {r["step"]: r for r in vsm.steps.to_pylist()}
    assert rows["pick"]["end_stock_before"] == 1
    assert rows["ship"]["end_stock_before"] == 0
    per_day = 3 / (52 / 24)  # three pallets shipped over the 52 h the log spans
    assert vsm.customer is not None and vsm.customer["per_day"] == pytest.approx(per_day)
    assert rows["pick"]["end_stock_days"] == pytest.approx(1 / per_day)
    assert vsm.takt_seconds == pytest.approx(52 * H / 3)


def test_durations_read_like_a_practitioner_writes_them() -> None:
    assert [duration(s) for s in (12, 600, 5400, 3 * 86400, None)] == [
        "12 s",
        "10 min",
        "1.5 h",
        "3.0 d",
        "—",
    ]


@pytest.mark.slow  # some thirty Spark queries: minutes on two cores
def test_value_stream_map_is_the_same_on_spark(
    running_example_xes: Path, both_engines: Any
) -> None:
    duck, spark = both_engines(running_example_xes)
    a = value_stream_map(duck, "case")
    b = value_stream_map(spark, "case")
    assert _close(a, b)
    assert a.lead_seconds == pytest.approx(b.lead_seconds)
    assert a.measured_lead_seconds == pytest.approx(b.measured_lead_seconds)


def _close(a: Any, b: Any) -> bool:
    for x, y in zip(a.steps.to_pylist(), b.steps.to_pylist(), strict=True):
        for k, v in x.items():
            if isinstance(v, float):
                assert v == pytest.approx(y[k], rel=1e-9), k
            else:
                assert v == y[k], k
    return True


# --- third-party logs: every expected figure recomputed from the raw file -----------------------

OCEL_RUNNING = data("ocel", "running-example.sqlite")
LOGISTICS = data("ocel", "logistics.sqlite")
BPIC2012 = data("logs", "bpic2012.xes.gz")
DEMO = Path(__file__).resolve().parents[2] / "src" / "keiretsu" / "examples" / "two-company-chain"


def _ocel_traces(path: Path, object_type: str) -> dict[str, list[tuple[datetime, str]]]:
    """Each object's (time, activity) events straight from an OCEL 2.0 SQLite file (times from
    the per-type event tables), in time order, ties in the order the event table lists them."""
    con = sqlite3.connect(path)
    when: dict[str, str] = {}
    for _, table in con.execute("SELECT ocel_type, ocel_type_map FROM event_map_type").fetchall():
        when.update(con.execute(f'SELECT ocel_id, ocel_time FROM "event_{table}"').fetchall())
    links = con.execute(
        "SELECT DISTINCT eo.ocel_object_id, e.ocel_id, e.ocel_type, e.rowid "
        "FROM event_object eo JOIN event e ON e.ocel_id = eo.ocel_event_id "
        "JOIN object o ON o.ocel_id = eo.ocel_object_id WHERE o.ocel_type = ?",
        (object_type,),
    ).fetchall()
    con.close()
    rows = [(obj, when[event], activity, order) for obj, event, activity, order in links]
    listed: dict[str, list[tuple[datetime, int, str]]] = defaultdict(list)
    for obj, at, activity, order in rows:
        listed[obj].append((datetime.fromisoformat(at), order, activity))
    # events at one instant in the order the file lists them
    return {obj: [(t, a) for t, _, a in sorted(events)] for obj, events in listed.items()}


@pytest.fixture(scope="module")
def running_items(ocel_running_store: Path) -> Any:
    return value_stream_map(Log.open(ocel_running_store), "items")


def test_inventory_before_a_step_is_littles_law_on_the_waiting_arrivals(
    running_items: Any,
) -> None:
    traces = _ocel_traces(OCEL_RUNNING, "items")
    times = [t for events in traces.values() for t, _ in events]
    span = (max(times) - min(times)).total_seconds()
    waited: dict[str, float] = defaultdict(float)
    waiting: dict[str, int] = defaultdict(int)
    for events in traces.values():
        for (before, _), (at, activity) in itertools.pairwise(events):
            waited[activity] += (at - before).total_seconds()
            waiting[activity] += 1
    rows = {r["step"]: r for r in running_items.steps.to_pylist()}
    # a first visit (no event before it) has no wait and is not an arrival that waited
    for step in ("pick item", "item out of stock"):
        assert rows[step]["waiting_arrivals"] == waiting[step]
        assert rows[step]["inventory_before"] == pytest.approx(waited[step] / span, rel=1e-9)
    assert rows["pick item"]["inventory_before"] == pytest.approx(38.6, abs=0.05)
    assert rows["item out of stock"]["inventory_before"] == pytest.approx(8.0, abs=0.05)


def test_a_future_state_moves_the_ladder_and_draws_the_kaizen_burst(running_items: Any) -> None:
    rows = {r["step"]: r for r in running_items.steps.to_pylist()}
    pick = rows["pick item"]
    future = future_state(
        running_items, {"pick item": {"wait_before_seconds": 3600}}, ["pick item"]
    )
    new = {r["step"]: r for r in future.steps.to_pylist()}["pick item"]
    # the same waiting arrivals, each waiting one hour
    per_object = pick["waiting_arrivals"] / running_items.objects
    assert new["ladder_wait_seconds"] == pytest.approx(3600 * per_object)
    assert future.lead_seconds == pytest.approx(
        running_items.lead_seconds - pick["ladder_wait_seconds"] + 3600 * per_object
    )
    assert new["inventory_before"] == pytest.approx(
        pick["inventory_before"] * 3600 / pick["wait_before_seconds"]
    )
    root = etree.fromstring(future.to_svg().encode())
    assert root.xpath("//*[@class='vsm-kaizen-burst']")
    assert future.to_json()["future_state"] is True
    with pytest.raises(ValueError, match="no step 'weld'"):
        future_state(running_items, {"weld": {"process_seconds": 1}}, [])


def test_steps_follow_the_process_map_not_the_alphabet(logistics_store: Path) -> None:
    traces = _ocel_traces(LOGISTICS, "Container")
    follows: Counter[tuple[str, str]] = Counter()
    for events in traces.values():
        for (_, a), (_, b) in itertools.pairwise(events):
            follows[(a, b)] += 1
    assert follows[("Place in Stock", "Bring to Loading Bay")] == 311
    assert follows[("Bring to Loading Bay", "Place in Stock")] == 0
    vsm = value_stream_map(Log.open(logistics_store), "Container")
    position = {r["step"]: r["position"] for r in vsm.steps.to_pylist()}
    assert position["Place in Stock"] < position["Bring to Loading Bay"]
    # every one-way arrow of the process map between two boxes points forward
    for (a, b), n in follows.items():
        if a != b and a in position and b in position and n and not follows[(b, a)]:
            assert position[a] < position[b], (a, b)


def test_step_order_drops_the_weakest_back_edge() -> None:
    edges = {("a", "b"): 10, ("b", "c"): 10, ("c", "b"): 2, ("c", "d"): 8, ("d", "a"): 1}
    order, dropped = step_order(edges, ["d", "c", "b", "a"])
    assert order == ["a", "b", "c", "d"]
    assert dropped == [("d", "a"), ("c", "b")]


def _xes_cases(path: Path) -> list[list[tuple[str, str, datetime]]]:
    """Each case's (activity, lifecycle, time) events, read with lxml from the XES file."""
    ns = "{http://www.xes-standard.org/}"
    cases = []
    with gzip.open(path) as f:
        for _, trace in etree.iterparse(f, tag=(f"{ns}trace", "trace")):
            events = []
            for ev in trace:
                if etree.QName(ev).localname != "event":
                    continue
                attrs = {a.get("key"): a.get("value") for a in ev}
                events.append(
                    (
                        attrs["concept:name"],
                        (attrs.get("lifecycle:transition") or "").lower(),
                        datetime.fromisoformat(attrs["time:timestamp"]),
                    )
                )
            cases.append(events)
            trace.clear()
    return cases


@pytest.fixture(scope="module")
def bpic(bpic2012_store: Path) -> tuple[Any, list[list[tuple[str, str, datetime]]]]:
    vsm = value_stream_map(Log.open(bpic2012_store), "case", max_steps=20)
    return vsm, _xes_cases(BPIC2012)


def test_bpic2012_process_cycle_efficiency_is_sum_va_over_sum_lt(bpic: Any) -> None:
    vsm, cases = bpic
    total_lead = total_va = 0.0
    for events in cases:
        times = [t for _, _, t in events]
        total_lead += (max(times) - min(times)).total_seconds()
        open_starts: dict[str, list[datetime]] = defaultdict(list)
        intervals = []
        for activity, transition, at in sorted(events, key=lambda e: e[2]):
            if transition == "start":
                open_starts[activity].append(at)
            elif transition == "complete" and open_starts[activity]:
                intervals.append((open_starts[activity].pop(0), at))
        reach: datetime | None = None
        for lo, hi in sorted(intervals):  # overlapping work counted once
            if reach is None or lo > reach:
                total_va += (hi - lo).total_seconds()
                reach = hi
            elif hi > reach:
                total_va += (hi - reach).total_seconds()
                reach = hi
    assert vsm.process_cycle_efficiency == pytest.approx(total_va / total_lead, rel=1e-6)
    assert vsm.process_cycle_efficiency == pytest.approx(0.0053, abs=0.00005)
    assert vsm.lead_seconds == pytest.approx(total_lead / len(cases), rel=1e-9)
    assert vsm.to_json()["process_cycle_efficiency"] == vsm.process_cycle_efficiency


def test_the_ladder_sums_to_the_totals(bpic: Any, running_items: Any) -> None:
    for vsm in (bpic[0], running_items):
        waits = sum(s["wait_seconds"] for s in vsm.ladder)
        va = sum(s["process_seconds"] or 0.0 for s in vsm.ladder)
        assert waits + va == pytest.approx(vsm.lead_seconds, rel=1e-9)
        if vsm.value_added_seconds is not None:
            assert va == pytest.approx(vsm.value_added_seconds, rel=1e-9)
        drawn = [s["step"] for s in vsm.ladder if s["step"] is not None]
        assert drawn == [r["step"] for r in vsm.steps.to_pylist()]  # every box has its wait
    # running example: every wait is a box's: nothing left off the map
    assert running_items.ladder[-1]["wait_seconds"] == pytest.approx(0.0, abs=1e-3)


def test_bpic2012_branches_are_drawn_off_the_path(bpic: Any) -> None:
    """No variant is BPIC 2012's way (the most frequent, straight to A_DECLINED, is a quarter
    of the cases): the path is the process map's heaviest, walked here by hand from the raw
    XES, and A_DECLINED is a branch off it, never in series with A_ACCEPTED."""
    vsm, cases = bpic
    traces = [[a for a, _, _ in sorted(e, key=lambda x: x[2])] for e in cases]
    variants = Counter(tuple(t) for t in traces)
    assert variants.most_common(1)[0][1] * 2 < len(traces)
    starts = Counter(t[0] for t in traces if t)
    ends = Counter(t[-1] for t in traces if t)
    edges = Counter((a, b) for t in traces for a, b in itertools.pairwise(t))
    here = max(sorted(starts), key=lambda a: starts[a])
    walked = [here]
    while True:
        out = sorted(
            ((n, b) for (a, b), n in edges.items() if a == here and b not in walked),
            key=lambda x: (-x[0], x[1]),
        )
        if not out or ends[here] > out[0][0]:
            break
        here = out[0][1]
        walked.append(here)
    rows = {r["step"]: r for r in vsm.steps.to_pylist()}
    main = [r["step"] for r in vsm.steps.to_pylist() if r["path"] == "main"]
    assert sorted(main) == sorted(walked) and "A_ACCEPTED" in main
    assert rows["A_DECLINED"]["path"] == "branch"
    assert rows["A_DECLINED"]["branch_of"] in main
    root = etree.fromstring(vsm.to_svg().encode())
    titles = [t.text or "" for t in root.xpath("//*[@class='vsm-branch']/*[local-name()='title']")]
    assert any(t.startswith("A_DECLINED") for t in titles)
    # the ladder sums to the measured lead time, every wait on it
    total = sum(s["wait_seconds"] or 0 for s in vsm.ladder) + sum(
        s["process_seconds"] or 0 for s in vsm.ladder
    )
    assert total == pytest.approx(vsm.lead_seconds, rel=1e-6)


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("vsm_demo") / "demo.duckdb"
    with Store(path) as store:
        for doc in sorted(DEMO.iterdir()):
            assert store.ingest_file(doc).status == "accepted"
    return path


def test_the_demo_shows_the_customer_demand_and_takt(demo_store: Path) -> None:
    # what the DC shipped to the retailer (outside the two companies), counted in its XML
    tree = etree.parse(str(DEMO / "2-umeda-distribution-dc.xml"))
    shipped = sum(
        len(ev.findall("epcList/epc"))
        for ev in tree.iter("ObjectEvent")
        if (ev.findtext("disposition") or "").endswith("in_transit")
    )
    times = [datetime.fromisoformat(t.text or "") for t in tree.iter("eventTime")]
    for doc in DEMO.glob("*.jsonld"):
        body = json.loads(doc.read_text())["epcisBody"]
        times += [datetime.fromisoformat(ev["eventTime"]) for ev in body.get("eventList", [])]
    span = (max(times) - min(times)).total_seconds()
    vsm = value_stream_map(Log.open(demo_store), "trade item")
    assert vsm.customer is not None
    assert vsm.customer["quantity"] == shipped
    assert vsm.customer["per_day"] == pytest.approx(shipped / (span / 86400))
    assert vsm.takt_seconds == pytest.approx(span / shipped)  # 24/7: no calendar given
    svg = vsm.to_svg()
    root = etree.fromstring(svg.encode())
    for icon in (
        "vsm-customer",
        "vsm-supplier",
        "vsm-production-control",
        "vsm-information",
        "vsm-truck",
        "vsm-supermarket",
        "vsm-takt",
        "vsm-process",
        "vsm-data-box",
        "vsm-ladder",
        "vsm-totals",
    ):
        assert root.xpath(f"//*[@class='{icon}']"), icon
    takt_text = " ".join(root.xpath("//*[@class='vsm-takt']//text()"))
    assert duration(span / shipped) in takt_text
    customer_text = " ".join(root.xpath("//*[@class='vsm-customer']//text()"))
    assert f"{shipped / (span / 86400):,.1f}" in customer_text
    assert "<script" not in svg and "href" not in svg
    # the business documents: the po and desadv numbers the events carry
    assert {i["document"] for i in vsm.information} == {"po", "desadv"}
    assert json.loads(json.dumps(vsm.to_json()))["takt_seconds"] == vsm.takt_seconds


def test_a_future_state_from_a_what_if_scenario(demo_store: Path) -> None:
    """The DC's stock waits before its storing step: a scenario that moves the retailer-facing
    buffer's policy scales that wait (and its inventory) by the predicted on-hand ratio, and a
    kaizen burst marks the step; the ladder still sums to the new lead time."""
    from keiretsu.sim.scenario import compare, read_scenarios

    model, variants = read_scenarios(
        Path(__file__).resolve().parents[2] / "src/keiretsu/examples/sim/forecast-3-scenarios.toml"
    )
    comparison = compare(model, [variants["retail-base-stock"]], periods=60, replications=64)
    (row,) = [
        r
        for r in comparison.table.to_pylist()
        if r["variant"] == "retail-base-stock"
        and r["kpi"] == "on_hand"
        and r["scope"] == "retailer"
    ]
    vsm = value_stream_map(Log.open(demo_store), "trade item")
    before = {r["step"]: r for r in vsm.steps.to_pylist()}["storing"]
    future = future_state_from_scenario(
        vsm, comparison.table, "retail-base-stock", {"retailer": "storing"}
    )
    after = {r["step"]: r for r in future.steps.to_pylist()}["storing"]
    ratio = row["value"] / row["baseline"]
    assert after["wait_before_seconds"] == pytest.approx(before["wait_before_seconds"] * ratio)
    assert after["inventory_before"] == pytest.approx(before["inventory_before"] * ratio)
    assert future.future and future.kaizen_bursts == ("storing",)
    total = sum(s["wait_seconds"] or 0 for s in future.ladder) + sum(
        s["process_seconds"] or 0 for s in future.ladder
    )
    assert total == pytest.approx(future.lead_seconds, rel=1e-6)
    root = etree.fromstring(future.to_svg().encode())
    assert root.xpath("//*[@class='vsm-kaizen-burst']")
    with pytest.raises(ValueError, match="no scope 'plant'"):
        future_state_from_scenario(vsm, comparison.table, "retail-base-stock", {"plant": "storing"})
