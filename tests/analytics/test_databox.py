"""The data box per process: C/T, P/T, changeovers, EPEI, uptime, operators, available time,
first-pass yield and escaped defects — on the demo chain's raw EPCIS documents, the XES running
example, the OCEL 2.0 order-management log and a hand-built press line, every expected figure
recounted from the files (json, lxml, sqlite3) or by hand."""

from __future__ import annotations

import itertools
import json
import sqlite3
import statistics
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from _data import DATA
from keiretsu.analytics import Log
from keiretsu.analytics.calendar import Calendar
from keiretsu.analytics.databox import data_boxes
from keiretsu.model import OcelBuilder
from keiretsu.store import Store

EXAMPLE = (
    Path(__file__).resolve().parents[2] / "src" / "keiretsu" / "examples" / "two-company-chain"
)
RUNNING_XES = DATA / "logs" / "running-example.xes"
ORDERS = DATA / "ocel" / "running-example.sqlite"
H = 3600.0


def _store(tmp_path_factory: pytest.TempPathFactory, name: str, *files: Path) -> Log:
    path = tmp_path_factory.mktemp(name) / "node.duckdb"
    with Store(path) as store:
        for f in files:
            assert store.ingest_file(f).status == "accepted"
    return Log.open(path)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Log:
    return _store(tmp_path_factory, "demo", *sorted(EXAMPLE.iterdir()))


def _raw_steps() -> dict[str, list[tuple[datetime, int]]]:
    """Per business step of the demo's JSON and XML documents: (event time, bottles named in
    it as EPCs or children) — read with json and lxml. The correction document re-records one
    of the distributor's events with the same eventID: counted once."""
    seen: set[str] = set()
    out: dict[str, list[tuple[datetime, int]]] = defaultdict(list)
    for f in sorted(EXAMPLE.iterdir(), reverse=True):  # the correction first: it replaces
        if f.suffix == ".xml":
            root = etree.parse(str(f)).getroot()
            events = [
                (
                    ev.findtext("eventID") or etree.tostring(ev).decode(),
                    ev.findtext("eventTime") or "",
                    (ev.findtext("bizStep") or "").rsplit(":", 1)[-1],
                    [e.text or "" for e in ev.iter("epc")],
                )
                for ev in root.iter("ObjectEvent", "AggregationEvent", "TransformationEvent")
            ]
        else:
            doc = json.loads(f.read_text())
            events = [
                (
                    ev.get("eventID") or json.dumps(ev, sort_keys=True),
                    ev["eventTime"],
                    ev.get("bizStep", "").rsplit(":", 1)[-1],
                    ev.get("epcList", []) + ev.get("childEPCs", []) + ev.get("outputEPCList", []),
                )
                for ev in doc["epcisBody"]["eventList"]
            ]
        for eid, when, step, epcs in events:
            if eid in seen:
                continue
            seen.add(eid)
            bottles = [e for e in epcs if e.startswith("urn:epc:id:sgtin:")]
            if bottles:
                out[step].append((datetime.fromisoformat(when), len(bottles)))
    return out


def test_the_demo_data_box_counts_cycle_time_between_completions(demo: Log) -> None:
    """C/T = mean time between consecutive bottles completed: with 12 bottles an event, eleven
    gaps of zero and one of days, i.e. (last - first) / (bottles - 1)."""
    raw = _raw_steps()
    view = data_boxes(demo, "trade item")
    rows = {r["step"]: r for r in view.to_pylist()}
    for step in ("commissioning", "inspecting", "packing", "shipping"):
        times = sorted(t for t, n in raw[step] for _ in range(n))
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
        assert rows[step]["completions"] == len(times)
        assert rows[step]["cycle_seconds"] == pytest.approx(statistics.fmean(gaps))
    # one timestamp per step: no process time, and the data box says what it would need
    inspecting = rows["inspecting"]
    assert inspecting["process_seconds"] is None
    assert inspecting["uptime"] is None and inspecting["operators"] is None
    assert any(
        m.startswith("uptime: not measurable — needs machine-state or error events")
        for m in inspecting["missing"]
    )
    assert any(m.startswith("P/T: not measurable — needs") for m in inspecting["missing"])
    assert inspecting["available_seconds_per_day"] == 86_400.0
    assert "24/7" in view.meta["calendar"]


def test_the_demo_inspection_fails_a_quarter_and_they_ship_anyway(demo: Log) -> None:
    """The third lot's inspection is non_conformant: 12 of 48 bottles. They are packed and
    shipped anyway; FPY 75% at the inspection, RTY 75% (no other step fails a bottle)."""
    doc = json.loads((EXAMPLE / "1-sakura-foods-plant.jsonld").read_text())
    inspected = [e for e in doc["epcisBody"]["eventList"] if e.get("bizStep") == "inspecting"]
    total = sum(len(e["epcList"]) for e in inspected)
    failed = sum(len(e["epcList"]) for e in inspected if e["disposition"] == "non_conformant")
    view = data_boxes(demo, "trade item")
    rows = {r["step"]: r for r in view.to_pylist()}
    assert rows["inspecting"]["first_pass_yield"] == pytest.approx((total - failed) / total)
    assert rows["inspecting"]["escaped_defects"] == failed == 12
    assert rows["packing"]["first_pass_yield"] == 1.0
    assert view.meta["rolled_throughput_yield"] == pytest.approx((total - failed) / total)
    assert view.meta["escaped_defects"] == 12 and view.meta["reached_customers"] == 6


def test_the_demo_cycle_time_on_a_two_shift_calendar(demo: Log) -> None:
    """On Tokyo's two shifts (mon-fri 06:00-22:00) only working minutes count: recounted
    minute by minute between the first and the last inspection."""
    cal = Calendar.from_mapping(
        {"timezone": "Asia/Tokyo", "shifts": {"mon-fri": ["06:00-14:00", "14:00-22:00"]}},
        source="plant.toml",
    )
    times = sorted(t for t, n in _raw_steps()["inspecting"] for _ in range(n))
    t, working = times[0].astimezone(UTC), 0.0
    while t < times[-1]:
        local = t + timedelta(hours=9)
        if local.weekday() < 5 and 6 <= local.hour < 22:
            working += 60
        t += timedelta(minutes=1)
    view = data_boxes(demo, "trade item", steps=["inspecting"], calendar=cal)
    (row,) = view.to_pylist()
    assert row["cycle_seconds"] == pytest.approx(working / (len(times) - 1), abs=2)
    assert row["available_seconds_per_day"] == pytest.approx(16 * H)
    assert "plant.toml" in view.meta["calendar"]


# --- a hand-built press line --------------------------------------------------------------------

T0 = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday


def _at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def _press_line() -> Log:
    """Five parts cut (no resource, one timestamp) then pressed on machine M1 (start and
    complete) by ann or bob; products A A B B A; M1 breaks down at 6:30 and runs again when it
    starts p5 at 8:00."""
    b = OcelBuilder()
    b.add_object("M1", "machine")
    plan = [  # part, product, cut at, press start, press complete, operator
        ("p1", "A", 0.5, 1, 2, "ann"),
        ("p2", "A", 1.5, 2, 3, "ann"),
        ("p3", "B", 3.5, 4, 5, "ann"),
        ("p4", "B", 4.5, 5, 6, "bob"),
        ("p5", "A", 7.5, 8, 9, "bob"),
    ]
    for part, product, cut, start, done, who in plan:
        b.add_object(part, "part")
        b.add_object_attribute(part, "product", product)
        b.add_event(f"{part}-cut", "cut", _at(cut), {"lifecycle:transition": "complete"})
        b.relate(f"{part}-cut", part, "part")
        for kind, when in (("start", start), ("complete", done)):
            eid = f"{part}-press-{kind}"
            b.add_event(
                eid, "press", _at(when), {"lifecycle:transition": kind, "org:resource": who}
            )
            b.relate(eid, part, "part")
            b.relate(eid, "M1", "machine")
    b.add_event("m1-down", "machine breakdown", _at(6.5))
    b.relate("m1-down", "M1", "machine")
    return Log.from_ocel(b.build())


def test_a_press_line_fills_every_field_of_the_data_box() -> None:
    rows = {r["step"]: r for r in data_boxes(_press_line(), "part").to_pylist()}
    press = rows["press"]
    assert press["completions"] == 5
    assert press["cycle_seconds"] == pytest.approx((9 - 2) / 4 * H)  # completions 2,3,5,6,9 h
    assert press["process_seconds"] == pytest.approx(1 * H)  # every press took an hour
    # A A | B B | A: two switches, p2 done 3:00 -> p3 started 4:00, p4 done 6:00 -> p5 8:00
    assert press["changeovers"] == 2
    assert press["changeover_seconds"] == pytest.approx((1 + 2) / 2 * H)
    # EPEI: 7 h from first to last press, 3 product runs, 2 products
    assert press["epei_seconds"] == pytest.approx(7 / 3 * 2 * H)
    # down 6:30 -> 8:00 of the 7 h between the first and the last completion
    assert press["uptime"] == pytest.approx(1 - 1.5 / 7)
    assert press["operators"] == 2.0  # ann and bob, one day
    assert press["first_pass_yield"] == 1.0
    assert not [m for m in press["missing"] if "not measurable" in m]

    cut = rows["cut"]
    assert cut["process_seconds"] is None and cut["uptime"] is None and cut["operators"] is None
    # no place at the cut: the step as a whole; 1:30 -> 3:30 and 4:30 -> 7:30
    assert cut["changeovers"] == 2
    assert cut["changeover_seconds"] == pytest.approx(2.5 * H)
    assert any("counted on the step as a whole" in m for m in cut["missing"])


def test_the_press_line_on_a_short_shift_counts_only_working_time() -> None:
    """Shift 00:00-07:00 every day: the gap 6:00 -> 9:00 is one working hour, and the
    breakdown 6:30 -> 8:00 half an hour of it."""
    cal = Calendar.from_mapping({"shifts": {"daily": ["00:00-07:00"]}})
    (press,) = data_boxes(_press_line(), "part", steps=["press"], calendar=cal).to_pylist()
    assert press["cycle_seconds"] == pytest.approx((1 + 2 + 1 + 1) / 4 * H)
    assert press["uptime"] == pytest.approx(1 - 0.5 / 5)  # 2:00 -> 9:00 holds 5 working hours
    assert press["available_seconds_per_day"] == pytest.approx(7 * H)


@pytest.mark.parametrize("first", ["A", "B"])
def test_one_event_of_two_products_counts_the_same_whatever_order_it_names_them(
    first: str,
) -> None:
    """A two-cavity die presses a part of A and a part of B at once (1:00), then B alone
    (2:00), then A alone (3:00): A B | B | A is two switches whichever part the first event
    names first (the event's parts are taken in product order; before, in the order the rows
    came, which made it two or three)."""
    b = OcelBuilder()
    b.add_object("M1", "machine")
    parts = {"pa": "A", "pb": "B", "pc": "B", "pd": "A"}
    for part, product in parts.items():
        b.add_object(part, "part")
        b.add_object_attribute(part, "product", product)
    presses = [("e1", 1, ["pa", "pb"] if first == "A" else ["pb", "pa"]), ("e2", 2, ["pc"])]
    for eid, hours, named in [*presses, ("e3", 3, ["pd"])]:
        b.add_event(eid, "press", _at(hours))
        b.relate(eid, "M1", "machine")
        for part in named:
            b.relate(eid, part, "part")
    (press,) = data_boxes(Log.from_ocel(b.build()), "part").to_pylist()
    assert press["completions"] == 4
    assert press["changeovers"] == 2
    # A -> B inside the first event (no time), B at 2:00 -> A at 3:00 (one hour)
    assert press["changeover_seconds"] == pytest.approx(0.5 * H)


def test_a_single_product_has_no_epei_and_a_log_without_products_says_so() -> None:
    b = OcelBuilder()
    for i in range(3):
        b.add_object(f"o{i}", "order")
        b.add_event(f"e{i}", "pack", _at(i))
        b.relate(f"e{i}", f"o{i}", "order")
    (row,) = data_boxes(Log.from_ocel(b.build()), "order").to_pylist()
    assert row["cycle_seconds"] == pytest.approx(H)
    assert row["changeovers"] is None and row["epei_seconds"] is None
    assert any(m.startswith("changeover: not measurable — needs") for m in row["missing"])


# --- third-party logs ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def running_xes(tmp_path_factory: pytest.TempPathFactory) -> Log:
    return _store(tmp_path_factory, "running_xes", RUNNING_XES)


def test_running_example_operators_and_cycle_time_recounted_from_the_xes(
    running_xes: Log,
) -> None:
    """Operators = distinct org:resource per UTC day at the step, mean over the days it ran;
    C/T = mean gap between consecutive events of the step — from the XES file with lxml."""
    root = etree.parse(str(RUNNING_XES)).getroot()
    times: dict[str, list[datetime]] = defaultdict(list)
    people: dict[str, dict[object, set[str]]] = defaultdict(lambda: defaultdict(set))
    for ev in root.iter("event"):
        attrs = {a.get("key"): a.get("value") for a in ev}
        when = datetime.fromisoformat(str(attrs["time:timestamp"])).astimezone(UTC)
        step = str(attrs["concept:name"])
        times[step].append(when)
        people[step][when.date()].add(str(attrs["org:resource"]))
    rows = {r["step"]: r for r in data_boxes(running_xes, "case").to_pylist()}
    assert set(rows) == set(times)
    for step, ts in times.items():
        ts.sort()
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(ts)]
        assert rows[step]["cycle_seconds"] == pytest.approx(statistics.fmean(gaps))
        per_day = [len(p) for p in people[step].values()]
        assert rows[step]["operators"] == pytest.approx(statistics.fmean(per_day))


def test_order_management_changeovers_per_employee_recounted_from_sqlite(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Items picked: each item *is a* product (object-to-object); a changeover is an employee
    picking an item of another product than the one picked just before."""
    con = sqlite3.connect(ORDERS)
    product = dict(
        con.execute(
            "select oo.ocel_source_id, oo.ocel_target_id from object_object oo "
            "join object o on o.ocel_id = oo.ocel_target_id where o.ocel_type = 'products'"
        ).fetchall()
    )
    picks = con.execute(
        """
        select p.ocel_time, e.rowid, emp.ocel_object_id, it.ocel_object_id
        from event_PickItem p join event e on e.ocel_id = p.ocel_id
        join event_object emp on emp.ocel_event_id = p.ocel_id and emp.ocel_qualifier = 'employee'
        join event_object it on it.ocel_event_id = p.ocel_id and it.ocel_qualifier = 'item'
        """
    ).fetchall()
    by_employee: dict[str, list[tuple[str, int, str]]] = defaultdict(list)
    for when, rowid, employee, item in picks:
        by_employee[employee].append((when, rowid, product[item]))
    switches = 0
    epei: list[float] = []
    for rows in by_employee.values():
        rows.sort()
        kinds = [p for _, _, p in rows]
        n = sum(1 for a, b in itertools.pairwise(kinds) if a != b)
        switches += n
        if len(set(kinds)) > 1:
            span = (
                datetime.fromisoformat(rows[-1][0]) - datetime.fromisoformat(rows[0][0])
            ).total_seconds()
            epei.append(span / (n + 1) * len(set(kinds)))
    log = _store(tmp_path_factory, "orders", ORDERS)
    (row,) = data_boxes(log, "items", steps=["pick item"]).to_pylist()
    assert row["completions"] == len(picks)
    assert row["changeovers"] == switches
    assert row["epei_seconds"] == pytest.approx(statistics.fmean(epei))


# a completion of one step: (product or None, place or None, leave s, start before it s or None)
_COMPLETION = st.tuples(
    st.sampled_from([None, "A", "B", "C"]),
    st.sampled_from([None, "press 1", "press 2"]),
    st.integers(0, 40),
    st.one_of(st.none(), st.integers(0, 5)),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_COMPLETION, min_size=1, max_size=25))
def test_changeovers_equal_a_walk_through_the_completions(
    rows: list[tuple[str | None, str | None, int, int | None]],
) -> None:
    """Changeovers, C/O time and EPEI (computed on arrays) equal a walk through each place's
    completions in time order, ties in read order, on a 24/7 calendar."""
    from keiretsu.analytics.databox import _changeovers

    if all(p is None for p, _, _, _ in rows):
        rows = [("A", *rows[0][1:]), *rows[1:]]
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    table = pa.table(
        {
            "product": pa.array([p for p, _, _, _ in rows], pa.string()),
            "place": pa.array([q for _, q, _, _ in rows], pa.string()),
            "leave": pa.array(
                [t0 + timedelta(hours=h) for _, _, h, _ in rows], pa.timestamp("us", tz="UTC")
            ),
            "start_time": pa.array(
                [None if s is None else t0 + timedelta(hours=h - s) for _, _, h, s in rows],
                pa.timestamp("us", tz="UTC"),
            ),
            "seq": pa.array(range(len(rows)), pa.int64()),
        }
    )
    n, co, epei = _changeovers(Calendar.always(), table, [])
    # by hand: each place's completions with a product, in (leave, read order)
    at: dict[str | None, list[int]] = {}
    for i in sorted(range(len(rows)), key=lambda i: (rows[i][2], i)):
        if rows[i][0] is not None:
            at.setdefault(rows[i][1], []).append(i)
    gaps: list[float] = []
    epeis: list[float] = []
    for idx in at.values():
        runs = 1
        for a, b in itertools.pairwise(idx):
            if rows[a][0] != rows[b][0]:
                runs += 1
                start = rows[b][2] - (rows[b][3] or 0)
                gaps.append(max(start, rows[a][2]) - rows[a][2])
        kinds = {rows[i][0] for i in idx}
        if len(kinds) > 1:
            epeis.append((rows[idx[-1]][2] - rows[idx[0]][2]) * H / runs * len(kinds))
    assert n == len(gaps)
    assert co == (pytest.approx(statistics.fmean(gaps) * H) if gaps else None)
    assert epei == (pytest.approx(statistics.fmean(epeis)) if epeis else None)
