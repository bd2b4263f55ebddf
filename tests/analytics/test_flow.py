"""Where time goes: lead, processing and waiting time per object, the flow through each step with
Little's law as a cross-check, utilisation, and WIP over time — checked against hand arithmetic,
against plain-Python recomputations on third-party logs, and on Spark."""

from __future__ import annotations

import itertools
import math
import statistics
from collections import defaultdict, deque
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from _data import DATA
from keiretsu.analytics import Log
from keiretsu.analytics.flow import object_times, parse_freq, step_stats, wip_over_time
from keiretsu.model import OcelBuilder

LOGS = DATA / "logs"
T0 = datetime(2025, 3, 3, tzinfo=UTC)  # a Monday, midnight UTC
H = timedelta(hours=1)


def build(
    events: list[tuple[str, str, str, timedelta, dict[str, Any] | None]],
    object_type: str = "order",
    resources: dict[str, str] | None = None,
) -> Any:
    """An Ocel from (event id, object id, activity, offset from T0, attributes) rows."""
    b = OcelBuilder()
    for eid, oid, activity, offset, attrs in events:
        b.add_event(eid, activity, T0 + offset, attrs or {})
        b.relate(eid, oid, "order")
        b.add_object(oid, object_type)
    for eid, res in (resources or {}).items():
        b.relate(eid, res, "resource")
        b.add_object(res, "resource")
    return b.build()


def rows_by(view: Any, key: str) -> dict[str, dict[str, Any]]:
    return {r[key]: r for r in view.to_pylist()}


# --- object_times ---------------------------------------------------------------------------


def lifecycle_log() -> Any:
    s, c = {"lifecycle:transition": "start"}, {"lifecycle:transition": "complete"}
    return build(
        [
            # o1: two overlapping A jobs, then an atomic B
            ("e1", "o1", "A", 0 * H, s),
            ("e2", "o1", "A", 1 * H, {"lifecycle:transition": "START"}),  # any case
            ("e3", "o1", "A", 2 * H, c),
            ("e4", "o1", "A", 5 * H, {"lifecycle:transition": "Complete"}),
            ("e5", "o1", "B", 6 * H, c),
            # o2: a complete with no open start (atomic), then a real A job
            ("e6", "o2", "A", 0 * H, c),
            ("e7", "o2", "A", 1 * H, s),
            ("e8", "o2", "A", 3 * H, c),
        ]
    )


def test_processing_time_pairs_starts_and_completes_first_in_first_out() -> None:
    view = object_times(Log.from_ocel(lifecycle_log()), "order")
    rows = rows_by(view, "object_id")
    # o1: FIFO pairs A 0h-2h and A 1h-5h; they overlap, so together they cover 0h-5h = 5 h;
    # the atomic B adds nothing. Lead 0h-6h = 6 h; waiting 1 h; efficiency 5/6.
    o1 = rows["o1"]
    assert o1["lead_seconds"] == 6 * 3600
    assert o1["processing_seconds"] == 5 * 3600
    assert o1["waiting_seconds"] == 3600
    assert o1["flow_efficiency"] == pytest.approx(5 / 6)
    # o2: the complete at 0h has no open start (it must not be paired with the later start,
    # which would give a negative job); the start at 1h closes at 3h: 2 h of 3 h
    o2 = rows["o2"]
    assert o2["processing_seconds"] == 2 * 3600
    assert o2["lead_seconds"] == 3 * 3600
    assert o2["first_time"] == T0 and o2["last_time"] == T0 + 3 * H
    assert any("start/complete" in n for n in view.notes)
    assert view.meta["processing_rule"] == "lifecycle"


def test_marked_value_adding_steps_count_from_the_previous_event() -> None:
    ocel = build(
        [
            ("e1", "o1", "receive", 0 * H, None),
            ("e2", "o1", "machine", 3 * H, None),  # 3 h since receive: value-adding
            ("e3", "o1", "inspect", 4 * H, None),
            ("e4", "o1", "pack", 10 * H, None),  # 6 h since inspect: value-adding
        ]
    )
    view = object_times(Log.from_ocel(ocel), "order", value_adding={"machine", "pack"})
    (row,) = view.to_pylist()
    assert row["lead_seconds"] == 10 * 3600
    assert row["processing_seconds"] == (3 + 6) * 3600
    assert row["waiting_seconds"] == 1 * 3600
    assert row["flow_efficiency"] == pytest.approx(0.9)
    assert any("value-adding" in n for n in view.notes)


def test_without_lifecycle_or_marked_steps_processing_is_unknown_not_zero(
    running_example_xes: Path,
) -> None:
    view = object_times(Log.open(running_example_xes), "case")
    assert view.num_rows == 6
    for column in ("processing_seconds", "waiting_seconds", "flow_efficiency"):
        assert view.table.column(column).null_count == 6
    assert any("unknown" in n for n in view.notes)


def xes_case_times(path: Path) -> dict[str, list[tuple[datetime, str]]]:
    """(time, activity) per case of an XES file, read with lxml, not with keiretsu's reader."""
    out: dict[str, list[tuple[datetime, str]]] = {}
    for trace in etree.parse(str(path)).getroot().iter("{*}trace"):
        name = trace.find("{*}string[@key='concept:name']").get("value")
        events = []
        for ev in trace.iter("{*}event"):
            t = datetime.fromisoformat(ev.find("{*}date[@key='time:timestamp']").get("value"))
            events.append((t, ev.find("{*}string[@key='concept:name']").get("value")))
        out[name] = events
    return out


def test_lead_and_value_added_time_on_the_xes_running_example(running_example_xes: Path) -> None:
    cases = xes_case_times(LOGS / "running-example.xes")
    marked = {"examine casually", "examine thoroughly", "decide"}
    view = object_times(Log.open(running_example_xes), "case", value_adding=marked)
    rows = rows_by(view, "object_id")
    assert set(rows) == set(cases)
    for case, events in cases.items():
        times = [t for t, _ in events]
        lead = (max(times) - min(times)).total_seconds()
        ordered = sorted(events, key=lambda e: e[0])
        value_added = sum(
            (b[0] - a[0]).total_seconds() for a, b in itertools.pairwise(ordered) if b[1] in marked
        )
        assert rows[case]["lead_seconds"] == lead
        assert rows[case]["processing_seconds"] == value_added
        assert rows[case]["waiting_seconds"] == lead - value_added


def test_the_objects_at_a_glance_are_the_medians_and_means_of_the_file(
    running_example_xes: Path,
) -> None:
    """What the report's "where time goes" panel prints: computed by the view, equal to the
    median and means of the lead and value-added times read from the XES file itself."""
    cases = xes_case_times(LOGS / "running-example.xes")
    marked = {"examine casually", "examine thoroughly", "decide"}
    leads, added = [], []
    for events in cases.values():
        ordered = sorted(events, key=lambda e: e[0])
        leads.append((ordered[-1][0] - ordered[0][0]).total_seconds())
        added.append(
            sum(
                (b[0] - a[0]).total_seconds()
                for a, b in itertools.pairwise(ordered)
                if b[1] in marked
            )
        )
    glance = object_times(Log.open(running_example_xes), "case", value_adding=marked).meta
    assert glance["objects"] == len(cases) == 6
    assert glance["lead_seconds_median"] == pytest.approx(statistics.median(leads))
    assert glance["lead_seconds_mean"] == pytest.approx(statistics.fmean(leads))
    assert glance["processing_seconds_mean"] == pytest.approx(statistics.fmean(added))
    efficiency = [a / lead for a, lead in zip(added, leads, strict=True) if lead > 0]
    assert glance["flow_efficiency_mean"] == pytest.approx(statistics.fmean(efficiency))
    unknown = object_times(Log.open(running_example_xes), "case").meta
    assert unknown["processing_seconds_mean"] is None  # not measurable, not 0
    assert unknown["flow_efficiency_mean"] is None


def fifo_processing(log: Log) -> dict[str, float]:
    """Processing seconds per case, recomputed in plain Python: a FIFO queue of open starts per
    (case, activity), intervals merged by a sweep."""
    ev = log.execute(log.events).to_pylist()
    lc = {
        r["event_id"]: r["value"]
        for r in log.execute(log.event_attribute("lifecycle:transition")).to_pylist()
    }
    case_of = {
        r["event_id"]: r["object_id"]
        for r in log.execute(log.relations.filter(log.relations.qualifier == "case")).to_pylist()
    }
    ev.sort(key=lambda r: (r["time"], r["seq"]))
    open_starts: dict[tuple[str, str], deque[datetime]] = defaultdict(deque)
    jobs: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for r in ev:
        case, state = case_of[r["event_id"]], (lc.get(r["event_id"]) or "").lower()
        queue = open_starts[(case, r["activity"])]
        if state == "start":
            queue.append(r["time"])
        elif state == "complete" and queue:
            jobs[case].append((queue.popleft(), r["time"]))
    out = {}
    for case, intervals in jobs.items():
        intervals.sort()
        total, lo, hi = 0.0, intervals[0][0], intervals[0][1]
        for a, b in intervals[1:]:
            if a > hi:
                total += (hi - lo).total_seconds()
                lo, hi = a, b
            else:
                hi = max(hi, b)
        out[case] = total + (hi - lo).total_seconds()
    return out


def test_bpic2012_processing_time_matches_a_plain_fifo_recomputation(bpic2012_store: Path) -> None:
    log = Log.open(bpic2012_store)
    view = object_times(log, "case")
    expected = fifo_processing(log)
    got = view.table
    assert got.num_rows == 13087
    n_with_work = 0
    for case, processing, lead in zip(
        got.column("object_id").to_pylist(),
        got.column("processing_seconds").to_pylist(),
        got.column("lead_seconds").to_pylist(),
        strict=True,
    ):
        assert processing == pytest.approx(expected.get(case, 0.0), abs=1e-6)
        assert 0 <= processing <= lead + 1e-6
        n_with_work += processing > 0
    assert n_with_work == len([v for v in expected.values() if v > 0]) > 5000


# --- step_stats ------------------------------------------------------------------------------


def two_orders() -> Any:
    # o1: A at 0h, B at 2h, C at 5h; o2: A at 1h, B at 4h, C at 6h (one timestamp per step)
    return build(
        [
            ("e1", "o1", "A", 0 * H, None),
            ("e2", "o1", "B", 2 * H, None),
            ("e3", "o1", "C", 5 * H, None),
            ("e4", "o2", "A", 1 * H, None),
            ("e5", "o2", "B", 4 * H, None),
            ("e6", "o2", "C", 6 * H, None),
        ]
    )


def test_step_flow_and_littles_law_by_hand() -> None:
    view = step_stats(Log.from_ocel(two_orders()), "order")
    rows = rows_by(view, "activity")
    # span 0h-6h = 0.25 day. In B: o1 from 0h (left A) to 2h, o2 from 1h to 4h: 2 h and 3 h.
    b = rows["B"]
    assert (b["arrivals"], b["completions"], b["objects"]) == (2, 2, 2)
    assert b["throughput_per_day"] == pytest.approx(2 / 0.25)  # 8 per day
    assert b["mean_seconds_in_step"] == pytest.approx(2.5 * 3600)
    assert b["mean_wip"] == pytest.approx((2 + 3) / 6)  # 5 object-hours over 6 hours
    assert b["littles_law_wip"] == pytest.approx(8 * 2.5 / 24)  # same 0.833 objects
    assert b["littles_law_gap"] == pytest.approx(0.0, abs=1e-12)
    assert b["mean_wait_before_seconds"] == pytest.approx(2.5 * 3600)
    # C: o1 2h-5h, o2 4h-6h: (3 + 2) / 6
    assert rows["C"]["mean_wip"] == pytest.approx(5 / 6)
    # A is each order's first step: no time in it, no wait measured before it
    assert rows["A"]["mean_wip"] == 0
    assert rows["A"]["mean_wait_before_seconds"] is None
    # no start/complete: utilisation is not measurable, and the notes say why
    assert all(r["utilisation"] is None for r in rows.values())
    assert any("utilisation not measurable" in n for n in view.notes)


def test_littles_law_over_a_window_shows_the_edge_effect_by_hand() -> None:
    view = step_stats(Log.from_ocel(two_orders()), "order", window=(T0 + H, T0 + 5 * H))
    b = rows_by(view, "activity")["B"]
    # window 1h-5h (4 h = 1/6 day). o1 in B 0h-2h: 1 h inside, arrived before the window,
    # left inside; o2 in B 1h-4h: 3 h inside. Mean WIP = 4 h / 4 h = 1.0.
    assert b["arrivals"] == 1 and b["completions"] == 2
    assert b["mean_wip"] == pytest.approx(1.0)
    # throughput 2 / (1/6) = 12 per day; both visits last 2.5 h on average: 12 x 2.5/24 = 1.25
    assert b["throughput_per_day"] == pytest.approx(12.0)
    assert b["littles_law_wip"] == pytest.approx(1.25)
    assert b["littles_law_gap"] == pytest.approx(0.25)


def test_utilisation_and_wait_with_start_complete_and_resources_by_hand() -> None:
    s, c = {"lifecycle:transition": "start"}, {"lifecycle:transition": "complete"}
    ocel = build(
        [
            ("e1", "o1", "A", 0 * H, s),
            ("e2", "o1", "A", 2 * H, c),
            ("e3", "o2", "A", 1 * H, s),
            ("e4", "o2", "A", 3 * H, c),
            ("e5", "o3", "A", 0 * H, s),
            ("e6", "o3", "A", 1 * H, c),
            ("e7", "o2", "B", 4 * H, c),
        ],
        resources={"e1": "r1", "e2": "r1", "e3": "r1", "e4": "r1", "e5": "r2", "e6": "r2"},
    )
    view = step_stats(Log.from_ocel(ocel), "order")
    a = rows_by(view, "activity")["A"]
    # r1 works 0h-2h and 1h-3h: busy 0h-3h = 3 h; r2 works 0h-1h: 1 h. Span 0h-4h.
    # utilisation = (3 + 1) / (2 resources x 4 h) = 0.5
    assert a["resources"] == 2
    assert a["utilisation"] == pytest.approx(0.5)
    assert a["mean_work_seconds"] == pytest.approx((2 + 2 + 1) / 3 * 3600)
    # B: o2 left A at 3h, B ended at 4h with no start: the whole hour is wait before B
    b = rows_by(view, "activity")["B"]
    assert b["mean_wait_before_seconds"] == 3600
    assert b["utilisation"] is None


def test_littles_law_on_receipt_and_bpic2012(receipt_store: Path, bpic2012_store: Path) -> None:
    for store, exact in ((receipt_store, True), (bpic2012_store, False)):
        log = Log.open(store)
        whole = step_stats(log, "case").to_pylist()
        # over the whole observed span every visit starts and ends inside it: exact
        for r in whole:
            assert r["mean_wip"] == pytest.approx(r["littles_law_wip"], rel=1e-9, abs=1e-12)
        # the steps' WIP adds up to the WIP of the process (lead time / span); in bpic2012 a
        # few cases end on a start or schedule event, whose tail is in no step yet
        times = object_times(log, "case").table
        leads = sum(times.column("lead_seconds").to_pylist())
        first, last = times.column("first_time").to_pylist(), times.column("last_time").to_pylist()
        process_wip = leads / (max(last) - min(first)).total_seconds()
        in_steps = sum(r["mean_wip"] for r in whole)
        if exact:
            assert in_steps == pytest.approx(process_wip, rel=1e-9)
        else:
            assert process_wip * 0.99 < in_steps <= process_wip
    # over one month of bpic2012 (Nov 2011) the edge effects stay small for the busy steps:
    # within 10 % for every step with at least 1,000 completions in the month
    month = step_stats(Log.open(bpic2012_store), "case", window=("2011-11-01", "2011-12-01"))
    busy = [r for r in month.to_pylist() if r["completions"] >= 1000 and r["mean_wip"] > 0.1]
    assert len(busy) >= 5
    for r in busy:
        assert abs(r["littles_law_gap"]) < 0.10, r


# --- wip_over_time ---------------------------------------------------------------------------


def test_wip_over_time_by_hand() -> None:
    ocel = build(
        [
            ("e1", "o1", "A", 12 * H, None),  # o1 in process day 0 12:00 ...
            ("e2", "o1", "B", 30 * H, None),  # ... to day 1 06:00
            ("e3", "o2", "A", 24 * H, None),  # o2 day 1 00:00 ...
            ("e4", "o2", "B", 36 * H, None),  # ... to day 1 12:00
            ("e5", "o3", "A", 36 * H, None),  # o3 day 1 12:00 ...
            ("e6", "o3", "B", 72 * H, None),  # ... to day 3 00:00 exactly
        ]
    )
    view = wip_over_time(Log.from_ocel(ocel), "order")
    rows = view.to_pylist()
    assert [r["bucket_start"] for r in rows] == [T0 + timedelta(days=d) for d in range(4)]
    # day 0: o1 arrives at 12:00 -> 1 at the end, half a day in process
    # day 1: o2 and o3 arrive, o1 and o2 leave -> o3 at the end;
    #        o1 6 h + o2 12 h + o3 12 h = 30 h -> 1.25 on average
    # day 2: o3 all day -> 1; day 3: o3 leaves at 00:00 -> 0
    assert [r["arrivals"] for r in rows] == [1, 2, 0, 0]
    assert [r["departures"] for r in rows] == [0, 2, 0, 1]
    assert [r["wip_end"] for r in rows] == [1, 1, 1, 0]
    assert [r["mean_wip"] for r in rows] == pytest.approx([0.5, 1.25, 1.0, 0.0])
    # in step B only (o1 12:00 d0 -> 06:00 d1; o2 00:00 -> 12:00 d1; o3 12:00 d1 -> 00:00 d3):
    # the same intervals, since every object has one step before B
    step = wip_over_time(Log.from_ocel(ocel), "order", step="B", freq="12 hours").to_pylist()
    # 12-hour buckets from 12:00 day 0: o1 leaves in the second, o2 at the third's start
    assert [r["wip_end"] for r in step] == [1, 1, 1, 1, 1, 0]


def test_bucket_lengths_are_read_as_people_write_them() -> None:
    assert parse_freq("1 day") == timedelta(days=1)
    assert parse_freq("12 hours") == timedelta(hours=12)
    assert parse_freq("1 week") == timedelta(weeks=1)
    assert parse_freq("30min") == timedelta(minutes=30)
    assert parse_freq("4h") == timedelta(hours=4)
    for bad in ("fortnightly", "0 days", "", "1 parsec"):
        with pytest.raises(ValueError):
            parse_freq(bad)


# --- invariants on generated logs -------------------------------------------------------------

ACTIVITIES = ["cut", "weld", "paint", "check"]
trace = st.lists(
    st.tuples(
        st.sampled_from(ACTIVITIES),
        st.integers(0, 20 * 24 * 60),  # minute offset within 20 days
        st.sampled_from([None, "start", "complete"]),
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(trace, min_size=1, max_size=6))
def test_flow_invariants_on_generated_logs(traces: list[Any]) -> None:
    rows = []
    for i, events in enumerate(traces):
        for j, (activity, minute, state) in enumerate(events):
            attrs = {"lifecycle:transition": state} if state else None
            rows.append((f"e{i}-{j}", f"o{i}", activity, timedelta(minutes=minute), attrs))
    log = Log.from_ocel(build(rows))
    times = object_times(log, "order").to_pylist()
    for r in times:
        assert r["lead_seconds"] >= 0
        if r["processing_seconds"] is not None:
            assert 0 <= r["processing_seconds"] <= r["lead_seconds"] + 1e-6
            assert r["waiting_seconds"] == pytest.approx(
                r["lead_seconds"] - r["processing_seconds"]
            )
    steps = step_stats(log, "order").to_pylist()
    span = (
        max(r["last_time"] for r in times) - min(r["first_time"] for r in times)
    ).total_seconds()
    for r in steps:
        if span > 0:
            # every object starts and finishes inside the observed span: Little's law is exact
            assert r["mean_wip"] == pytest.approx(r["littles_law_wip"], rel=1e-9, abs=1e-12)
            assert r["mean_wip"] >= 0
    if span > 0:
        # the steps tile each object's time from its first event to its last step-ending event
        # (a trailing start has not ended a step yet)
        tiled = 0.0
        for events in traces:
            ends = [m for _, m, state in events if state != "start"]
            if ends:
                tiled += (max(ends) - min(m for _, m, _ in events)) * 60
        assert sum(r["mean_wip"] for r in steps) == pytest.approx(tiled / span, abs=1e-9)
    wip = wip_over_time(log, "order", freq="1 day").to_pylist()
    assert all(r["wip_end"] >= 0 and r["mean_wip"] >= -1e-12 for r in wip)
    assert wip[-1]["wip_end"] == 0
    assert sum(r["arrivals"] for r in wip) == sum(r["departures"] for r in wip) == len(traces)
    # object-days in process = the sum of lead times
    assert sum(r["mean_wip"] for r in wip) * 86400 == pytest.approx(
        sum(r["lead_seconds"] for r in times), abs=1e-6
    )


# --- the same numbers on Spark -----------------------------------------------------------------


def same(a: Any, b: Any) -> None:
    assert a.table.column_names == b.table.column_names
    assert a.num_rows == b.num_rows
    for left, right in zip(a.to_pylist(), b.to_pylist(), strict=True):
        for k, x in left.items():
            y = right[k]
            if isinstance(x, float) and isinstance(y, float):
                assert math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9), (k, x, y)
            else:
                assert x == y, (k, x, y)
    assert a.notes == b.notes


def test_the_views_agree_on_duckdb_and_spark(
    running_example_xes: Path, both_engines: Any, spark: Any
) -> None:
    duck, on_spark = both_engines(running_example_xes)
    same(object_times(duck, "case", ["decide"]), object_times(on_spark, "case", ["decide"]))
    same(wip_over_time(duck, "case", "decide"), wip_over_time(on_spark, "case", "decide"))
    # start/complete pairs, resources and a window, on a hand-built log
    s, c = {"lifecycle:transition": "start"}, {"lifecycle:transition": "complete"}
    ocel = build(
        [
            ("e1", "o1", "A", 0 * H, s),
            ("e2", "o1", "A", 2 * H, c),
            ("e3", "o2", "A", 1 * H, s),
            ("e4", "o2", "A", 3 * H, c),
            ("e5", "o2", "B", 4 * H, c),
            ("e6", "o1", "B", 5 * H, c),
        ],
        resources={"e1": "r1", "e2": "r1", "e3": "r2", "e4": "r2"},
    )
    duck, on_spark = Log.from_ocel(ocel), Log.from_ocel(ocel, engine="spark", spark=spark)
    same(object_times(duck, "order"), object_times(on_spark, "order"))
    window = (T0 + H, T0 + 4 * H)
    same(step_stats(duck, "order", window), step_stats(on_spark, "order", window))
