"""The constraint by Factory Physics: the busiest step on available time comes first, the
finished-goods queue is inventory and never the constraint, and the stream is placed against the
best, practical worst and worst cases — each figure recomputed here from the raw events."""

from __future__ import annotations

import gzip
import itertools
import json
import math
from collections import defaultdict, deque
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from _data import data
from keiretsu.analytics import Log
from keiretsu.analytics.bottleneck import bottlenecks, describe_seconds, factory_physics
from keiretsu.analytics.calendar import Calendar
from keiretsu.model import OcelBuilder
from keiretsu.store import Store

T0 = datetime(2025, 3, 3, tzinfo=UTC)  # a Monday, midnight UTC
H = timedelta(hours=1)
EXAMPLE = (
    Path(__file__).resolve().parents[2] / "src" / "keiretsu" / "examples" / "two-company-chain"
)


def serial_line() -> Any:
    """Four orders, one every 4 hours, through A (2 h, resource ra) then B (6 h, resource rb,
    first come first served): B starts when A is done and B is free.

    order i: A 4i..4i+2; B 2-8, 8-14, 14-20, 20-26 (hours from T0)."""
    b = OcelBuilder()
    b_free = 0
    for i in range(4):
        a_start, a_end = 4 * i, 4 * i + 2
        b_start = max(a_end, b_free)
        b_end = b_free = b_start + 6
        for eid, act, t, tr, res in (
            (f"a{i}s", "A", a_start, "start", "ra"),
            (f"a{i}c", "A", a_end, "complete", "ra"),
            (f"b{i}s", "B", b_start, "start", "rb"),
            (f"b{i}c", "B", b_end, "complete", "rb"),
        ):
            b.add_event(eid, act, T0 + t * H, {"lifecycle:transition": tr, "org:resource": res})
            b.relate(eid, f"o{i}", "order")
        b.add_object(f"o{i}", "order")
    return b.build()


def test_the_busiest_step_is_the_constraint_and_the_stream_sits_in_the_good_zone() -> None:
    log = Log.from_ocel(serial_line())
    rows = bottlenecks(log, "order").to_pylist()
    assert [r["activity"] for r in rows] == ["B", "A"]
    b, a = rows
    span = 26.0  # hours: A starts at 0, the last B completes at 26
    assert b["utilisation"] == pytest.approx(4 * 6 / span)
    assert a["utilisation"] == pytest.approx(4 * 2 / span)
    assert b["rule"] == "start/complete" and b["resources"] == 1
    assert b["process_seconds"] == pytest.approx(6 * 3600)
    # takt: 4 orders finished (B ends every path) over the 26 hours
    assert b["takt_seconds"] == pytest.approx(span * 3600 / 4)
    assert b["effective_over_takt"] == pytest.approx(6 / (span / 4))
    assert b["evidence"].startswith("the constraint: resources busy 92.3% of available time")

    (fp,) = factory_physics(log, "order").to_pylist()
    r_b = 24 / 6  # orders a day: B, one resource, 6 hours an order, 24 hours a day
    t0 = 2 + 6  # hours
    w0 = r_b * t0 / 24
    b_ends = [8, 14, 20, 26]  # B, one order after the other
    w = sum(end - 4 * i for i, end in enumerate(b_ends)) / span  # first event to B's end
    th = 4 / (span / 24)
    best = min(w / (t0 / 24), r_b)
    pwc = w / (w0 + w - 1) * r_b
    assert fp["constraint"] == "B"
    assert fp["bottleneck_rate_per_day"] == pytest.approx(r_b)
    assert fp["raw_process_seconds"] == pytest.approx(t0 * 3600)
    assert fp["critical_wip"] == pytest.approx(w0)
    assert fp["wip"] == pytest.approx(w)
    assert fp["throughput_per_day"] == pytest.approx(th)
    assert fp["best_case_per_day"] == pytest.approx(best)
    assert fp["practical_worst_case_per_day"] == pytest.approx(pwc)
    assert fp["worst_case_per_day"] == pytest.approx(24 / t0)
    assert pwc < th < best
    assert fp["zone"].startswith("good")


def test_a_two_shift_calendar_measures_load_on_working_time_only() -> None:
    """The same line on a calendar of 06:00-14:00 and 14:00-22:00 on weekdays (UTC): the
    26 hours from Monday 00:00 hold 16 working hours on Monday (06-22) and none on Tuesday
    before 02:00. Busy time counts only inside the shifts."""
    cal = Calendar.from_mapping({"shifts": {"mon-fri": ["06:00-14:00", "14:00-22:00"]}})
    rows = {
        r["activity"]: r
        for r in bottlenecks(Log.from_ocel(serial_line()), "order", calendar=cal).to_pylist()
    }

    def working(lo: float, hi: float) -> float:
        """Hours of [lo, hi) (hours from Monday 00:00) inside Monday 06-22."""
        return max(0.0, min(hi, 22) - max(lo, 6))

    available = working(0, 26)
    assert available == 16
    busy_b = sum(working(s, s + 6) for s in (2, 8, 14, 20))
    busy_a = sum(working(4 * i, 4 * i + 2) for i in range(4))
    assert rows["B"]["utilisation"] == pytest.approx(busy_b / available)
    assert rows["A"]["utilisation"] == pytest.approx(busy_a / available)
    assert rows["B"]["rank"] == 1


def test_durations_read_as_people_say_them() -> None:
    assert describe_seconds(42) == "42 seconds"
    assert describe_seconds(45 * 60) == "45 minutes"
    assert describe_seconds(5.2 * 3600) == "5.2 hours"
    assert describe_seconds(3.2 * 86400) == "3.2 days"


# --- the demo chain: the finished-goods queue is inventory, not the constraint -------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Log:
    path = tmp_path_factory.mktemp("demo") / "node.duckdb"
    with Store(path) as store:
        for f in sorted(EXAMPLE.iterdir()):
            assert store.ingest_file(f).status == "accepted"
    return Log.open(path)


def _item_events() -> dict[str, list[tuple[datetime, str]]]:
    """Each serialised item's own events (time, business step), read from the documents with
    json and lxml: named in epcList, childEPCs or outputEPCList."""
    out: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for f in sorted(EXAMPLE.iterdir()):
        if f.suffix == ".xml":
            root = etree.parse(str(f)).getroot()
            for ev in root.iter("ObjectEvent", "AggregationEvent", "TransformationEvent"):
                t = datetime.fromisoformat(ev.findtext("eventTime") or "")
                step = (ev.findtext("bizStep") or "").rsplit(":", 1)[-1]
                for e in ev.iter("epc"):
                    if e.text and ":sgtin:" in e.text:
                        out[e.text].append((t, step))
        else:
            for ev in json.loads(f.read_text())["epcisBody"]["eventList"]:
                t = datetime.fromisoformat(ev["eventTime"])
                step = ev.get("bizStep", "").rsplit(":", 1)[-1]
                named = ev.get("epcList", []) + ev.get("childEPCs", [])
                named += ev.get("outputEPCList", [])
                for epc in named:
                    if ":sgtin:" in epc:
                        out[epc].append((t, step))
    return {k: sorted(v) for k, v in out.items()}


def test_the_demo_constraint_is_a_process_step_and_shipping_is_finished_goods(demo: Log) -> None:
    view = bottlenecks(demo, "trade item")
    rows = view.to_pylist()
    items = _item_events()
    # the distributor's shipping is where the customer pulls the bottles: finished goods
    fg = [r for r in rows if r["kind"] == "finished goods"]
    assert [r["activity"] for r in fg] == ["shipping"]
    assert rows[0]["activity"] != "shipping" and rows[0]["kind"] == "process"
    assert rows[-1]["activity"] == "shipping" and "not a constraint" in rows[-1]["evidence"]
    assert any("finished goods: the wait before shipping" in n for n in view.notes)
    # by hand: each step taken as one server busy while it holds an item (from the item's
    # previous event to the step's event); the step holding items longest is the constraint
    first = min(ev[0][0] for ev in items.values())
    last = max(ev[-1][0] for ev in items.values())
    span = (last - first).total_seconds()
    held: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for ev in items.values():
        for (t_prev, _), (t, step) in itertools.pairwise(ev):
            if t > t_prev and step != "shipping":
                held[step].append((t_prev, t))

    def union_seconds(spans: list[tuple[datetime, datetime]]) -> float:
        total, reach = 0.0, None
        for lo, hi in sorted(spans):
            if reach is None or lo > reach:
                total += (hi - lo).total_seconds()
                reach = hi
            elif hi > reach:
                total += (hi - reach).total_seconds()
                reach = hi
        return total

    share = {step: union_seconds(s) / span for step, s in held.items()}
    busiest = max(share, key=lambda k: share[k])
    assert busiest == "unpacking"  # the pallets' transit to the DC is inside it
    assert rows[0]["activity"] == busiest
    for r in rows:
        if r["activity"] in share:
            assert r["utilisation"] == pytest.approx(share[r["activity"]]), r["activity"]
    assert rows[0]["rule"] == "t_e vs takt"
    # takt: the 24 bottles the DC shipped to the retailer, over the log's span
    assert rows[0]["takt_seconds"] is not None

    (fp,) = factory_physics(demo, "trade item").to_pylist()
    assert fp["constraint"] == "unpacking"
    # finished goods: bottles from storing until shipped, or until the log ends
    log_end = last  # the items' last event is also the log's last (the DC's shipping)
    fg_seconds = 0.0
    for ev in items.values():
        stored = [t for t, s in ev if s == "storing"]
        shipped = [t for t, s in ev if s == "shipping"]
        if stored:
            fg_seconds += ((shipped or [log_end])[0] - stored[0]).total_seconds()
    assert fp["finished_goods_wip"] == pytest.approx(fg_seconds / span)
    assert fp["objects"] == len(items) == 48


# --- BPI Challenge 2012: the constraint is the busiest work item ----------------------------------


def _bpic_utilisation() -> dict[str, float]:
    """Per activity, from the raw XES with plain Python: start→complete intervals (each complete
    closing the oldest open start of the same activity in the same case), merged per
    (activity, resource of the complete; none = one unnamed resource), over the log's span on
    the 24/7 clock × the resources."""
    path = data("logs", "bpic2012.xes.gz")  # under CI a missing file fails
    intervals: dict[tuple[str, str], list[tuple[datetime, datetime]]] = defaultdict(list)
    lo = hi = None
    with gzip.open(path) as f:
        for _, trace in etree.iterparse(f, tag="{*}trace"):
            open_starts: dict[str, deque[datetime]] = defaultdict(deque)
            events = []
            for ev in trace.iterfind("{*}event"):
                attrs = {a.get("key"): a.get("value") for a in ev}
                t = datetime.fromisoformat(attrs["time:timestamp"])
                events.append((t, attrs))
            for t, attrs in events:  # the file's order within a trace is time order
                lo = t if lo is None or t < lo else lo
                hi = t if hi is None or t > hi else hi
                act = attrs["concept:name"]
                tr = (attrs.get("lifecycle:transition") or "").lower()
                if tr == "start":
                    open_starts[act].append(t)
                elif tr == "complete" and open_starts[act]:
                    start = open_starts[act].popleft()
                    res = attrs.get("org:resource") or ""
                    if t > start:
                        intervals[(act, res)].append((start, t))
            trace.clear()
    assert lo is not None and hi is not None
    span = (hi - lo).total_seconds()
    busy: dict[str, float] = defaultdict(float)
    resources: dict[str, int] = defaultdict(int)
    for (act, _), spans in intervals.items():
        total, reach = 0.0, None
        for a, b in sorted(spans):
            if reach is None or a > reach:
                total += (b - a).total_seconds()
                reach = b
            elif b > reach:
                total += (b - reach).total_seconds()
                reach = b
        busy[act] += total
        resources[act] += 1
    return {act: busy[act] / (span * resources[act]) for act in busy}


def test_bpic2012_constraint_is_the_busiest_step(bpic2012_store: Path) -> None:
    expected = _bpic_utilisation()
    view = bottlenecks(Log.open(bpic2012_store), "case")
    rows = view.to_pylist()
    assert len(rows) == 23  # the activities with a step-ending event
    busiest = max(expected, key=lambda k: expected[k])
    assert rows[0]["activity"] == busiest
    assert view.meta["constraint"] == busiest
    assert rows[0]["evidence"].startswith("the constraint: resources busy")
    got = {r["activity"]: r["utilisation"] for r in rows if r["utilisation"] is not None}
    assert set(got) == set(expected)
    for act, u in expected.items():
        assert got[act] == pytest.approx(u, rel=1e-9), act
    # the atomic A_ and O_ events carry no work interval: not measurable, never zero
    for r in rows:
        if not r["activity"].startswith("W_"):
            assert r["utilisation"] is None and "not measurable" in r["evidence"]
    # no exit in BPIC is a customer's pull: no finished-goods row
    assert all(r["kind"] == "process" for r in rows)


def test_the_ranking_agrees_on_duckdb_and_spark(
    running_example_xes: Path, both_engines: Any
) -> None:
    duck, spark = both_engines(running_example_xes)
    a, b = bottlenecks(duck, "case"), bottlenecks(spark, "case")
    assert a.notes == b.notes
    _same_rows(a.to_pylist(), b.to_pylist())


def test_factory_physics_agrees_on_duckdb_and_spark(
    running_example_xes: Path, both_engines: Any
) -> None:
    duck, spark = both_engines(running_example_xes)
    a, b = factory_physics(duck, "case"), factory_physics(spark, "case")
    assert a.notes == b.notes
    (left,), (right,) = a.to_pylist(), b.to_pylist()
    assert left["objects"] == 6 and left["finished"] == right["finished"]
    _same_rows([left], [right])


def _same_rows(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> None:
    """The same rows on two engines: equal values, floats within 1e-9."""
    for left, right in zip(ours, theirs, strict=True):
        for k, x in left.items():
            if isinstance(x, float):
                assert math.isclose(x, right[k], rel_tol=1e-9, abs_tol=1e-9), k
            else:
                assert x == right[k], k
