"""Where time goes: lead, processing and waiting time per object (finished and censored), process
cycle efficiency, the flow through each step (first visits not measurable), utilisation on a
calendar, and WIP over time — checked against hand arithmetic, against plain-Python
recomputations from the third-party files themselves, and on Spark."""

from __future__ import annotations

import gzip
import itertools
import math
import random
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
from keiretsu.analytics.calendar import Calendar
from keiretsu.analytics.flow import object_times, parse_freq, step_stats, wip_over_time
from keiretsu.model import OcelBuilder
from keiretsu.store.received import RECEIVED_PREFIX

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
    figures recomputed from the XES file itself. Every case of the running example ends in
    "pay compensation" or "reject request" (declared here as the steps that hand the result to
    the customer), so every case is finished and the finished lead time is the lead time.
    (Before issue #17 the efficiency at a glance was the mean of the cases' own ratios; it is
    now Σ value-added ÷ Σ lead time, the mean of the ratios kept under its own name.)"""
    cases = xes_case_times(LOGS / "running-example.xes")
    marked = {"examine casually", "examine thoroughly", "decide"}
    ends = {"pay compensation", "reject request"}
    leads, added, to_exit = [], [], []
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
        exit_time = min(t for t, activity in ordered if activity in ends)
        to_exit.append((exit_time - ordered[0][0]).total_seconds())
    view = object_times(Log.open(running_example_xes), "case", value_adding=marked, end_steps=ends)
    glance = view.meta
    assert glance["objects"] == len(cases) == 6
    assert (glance["finished_objects"], glance["open_objects"]) == (6, 0)
    assert glance["finished_lead_seconds_median"] == pytest.approx(statistics.median(to_exit))
    assert glance["finished_lead_seconds_mean"] == pytest.approx(statistics.fmean(to_exit))
    assert glance["processing_seconds_mean"] == pytest.approx(statistics.fmean(added))
    assert glance["process_cycle_efficiency"] == pytest.approx(sum(added) / sum(leads))
    efficiency = [a / lead for a, lead in zip(added, leads, strict=True) if lead > 0]
    assert glance["mean_object_flow_efficiency"] == pytest.approx(statistics.fmean(efficiency))
    # nothing is censored: Kaplan–Meier's median is the plain median of the times to the exit
    assert glance["km_lead_seconds_median"] == pytest.approx(sorted(to_exit)[2])
    assert glance["km_lead_seconds_restricted_mean"] == pytest.approx(statistics.fmean(to_exit))
    unknown = object_times(Log.open(running_example_xes), "case").meta
    assert unknown["processing_seconds_mean"] is None  # not measurable, not 0
    assert unknown["process_cycle_efficiency"] is None
    assert unknown["mean_object_flow_efficiency"] is None


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


@pytest.fixture(scope="module")
def bpic2012_raw() -> dict[str, list[tuple[datetime, int, str, str]]]:
    """Per case of BPIC 2012: (time, position in the file, activity, lifecycle transition),
    read from the gzipped XES with lxml — not with keiretsu's reader."""
    cases: dict[str, list[tuple[datetime, int, str, str]]] = {}
    position = 0
    with gzip.open(LOGS / "bpic2012.xes.gz", "rb") as handle:
        for _, trace in etree.iterparse(handle, tag="{*}trace"):
            name = trace.find("{*}string[@key='concept:name']").get("value")
            events = []
            for ev in trace.iterfind("{*}event"):
                keyed = {c.get("key"): c.get("value") for c in ev}
                t = datetime.fromisoformat(keyed["time:timestamp"])
                events.append(
                    (t, position, keyed["concept:name"], keyed["lifecycle:transition"].lower())
                )
                position += 1
            cases[name] = events
            trace.clear()
    return cases


def merged_fifo_seconds(events: list[tuple[datetime, int, str, str]]) -> float:
    """Seconds covered by a case's start→complete intervals (each complete closes the oldest
    open start of its activity), overlaps counted once — flow.py's definition, by hand."""
    open_starts: dict[str, deque[datetime]] = defaultdict(deque)
    jobs = []
    for t, _, activity, state in sorted(events):
        if state == "start":
            open_starts[activity].append(t)
        elif state == "complete" and open_starts[activity]:
            jobs.append((open_starts[activity].popleft(), t))
    total, reach = 0.0, None
    for a, b in sorted(jobs):
        if reach is None or a > reach:
            total += (b - a).total_seconds()
            reach = b
        elif b > reach:
            total += (b - reach).total_seconds()
            reach = b
    return total


def test_process_cycle_efficiency_is_value_added_over_lead_time_on_bpic2012(
    bpic2012_store: Path, bpic2012_raw: dict[str, list[tuple[datetime, int, str, str]]]
) -> None:
    """Issue #17: one PCE. The CLI printed the mean of the cases' own ratios (a 1-hour case
    weighs like a 4-month one); the standard figure is Σ value-added ÷ Σ lead time. Both are
    recomputed here from the XES file with lxml."""
    value_added = total_lead = 0.0
    ratios = []
    for events in bpic2012_raw.values():
        times = [t for t, *_ in events]
        lead = (max(times) - min(times)).total_seconds()
        work = merged_fifo_seconds(events)
        value_added += work
        total_lead += lead
        if lead > 0:
            ratios.append(work / lead)
    glance = object_times(Log.open(bpic2012_store), "case").meta
    assert glance["objects"] == len(bpic2012_raw) == 13087
    assert glance["process_cycle_efficiency"] == pytest.approx(value_added / total_lead, rel=1e-9)
    assert glance["mean_object_flow_efficiency"] == pytest.approx(
        statistics.fmean(ratios), rel=1e-9
    )
    # the two are different numbers: short cases are the efficient ones
    assert glance["process_cycle_efficiency"] < glance["mean_object_flow_efficiency"] / 5


def product_limit(finished: list[float], still_open: list[float]) -> list[tuple[float, float]]:
    """The Kaplan–Meier (1958) curve by its definition: at each time t with d finishing of the
    n still at risk (time ≥ t; a censored time equal to t is still at risk), S *= 1 - d/n."""
    everyone = sorted(finished + still_open)
    counts: dict[float, int] = defaultdict(int)
    for x in finished:
        counts[x] += 1
    curve, share, i = [], 1.0, 0
    for t in sorted(counts):
        while everyone[i] < t:
            i += 1
        share *= 1 - counts[t] / (len(everyone) - i)
        curve.append((t, share))
    return curve


def km_median_and_restricted_mean(
    finished: list[float], still_open: list[float]
) -> tuple[float | None, float]:
    curve = product_limit(finished, still_open)
    median = next((t for t, share in curve if share <= 0.5), None)
    horizon = max(finished + still_open)
    area, last_t, last_share = 0.0, 0.0, 1.0
    for t, share in curve:
        area += last_share * (t - last_t)
        last_t, last_share = t, share
    return median, area + last_share * (horizon - last_t)


def test_open_objects_are_censored_not_counted_as_finished_by_hand() -> None:
    """Four orders shipped, two still open when the log ends (at 30 h). Counting the open ones
    as finished at their last event (what the view did before issue #17) gives a mean lead
    time of (10 + 4 + 20 + 6 + 2 + 2) / 6 = 7.3 h, far below any shipped order's."""
    ocel = build(
        [
            ("e1", "o1", "A", 0 * H, None),
            ("e2", "o1", "ship", 10 * H, None),  # 10 h
            ("e3", "o2", "A", 2 * H, None),
            ("e4", "o2", "ship", 6 * H, None),  # 4 h
            ("e5", "o3", "A", 4 * H, None),
            ("e6", "o3", "ship", 24 * H, None),  # 20 h
            ("e7", "o6", "A", 1 * H, None),
            ("e8", "o6", "ship", 7 * H, None),  # 6 h
            ("e9", "o4", "A", 20 * H, None),  # open: in process 30 - 20 = 10 h at the end
            ("e10", "o4", "B", 22 * H, None),
            ("e11", "o5", "A", 28 * H, None),  # open: 2 h at the end
            ("e12", "o5", "B", 30 * H, None),
        ]
    )
    view = object_times(Log.from_ocel(ocel), "order", end_steps={"ship"})
    rows = rows_by(view, "object_id")
    assert {k for k, r in rows.items() if r["finished"]} == {"o1", "o2", "o3", "o6"}
    assert rows["o3"]["finished_at"] == T0 + 24 * H and rows["o4"]["finished_at"] is None
    g = view.meta
    assert (g["finished_objects"], g["open_objects"]) == (4, 2)
    assert g["finished_lead_seconds_mean"] == pytest.approx((10 + 4 + 20 + 6) / 4 * 3600)
    assert g["finished_lead_seconds_median"] == pytest.approx(8 * 3600)
    # Kaplan–Meier by hand, times 2(open) 4 6 10 10(open) 20:
    # S(4) = 4/5, S(6) = 4/5 x 3/4 = 3/5, S(10) = 3/5 x 2/3 = 2/5 (the order open at 10 h is
    # still at risk then), S(20) = 0. Median: the first time S <= 1/2: 10 h.
    # Restricted mean to 20 h: 4 x 1 + 2 x 4/5 + 4 x 3/5 + 10 x 2/5 = 12 h.
    assert g["km_lead_seconds_median"] == pytest.approx(10 * 3600)
    assert g["km_lead_seconds_restricted_mean"] == pytest.approx(12 * 3600)
    assert g["km_horizon_seconds"] == pytest.approx(20 * 3600)
    assert any("right-censored" in n and "Kaplan–Meier" in n for n in view.notes)
    # nothing declared and no terminal step: the median of all is not measurable when fewer
    # than half finished — None with a note, never a number
    few = object_times(Log.from_ocel(ocel), "order", end_steps={"B"})
    assert few.meta["finished_objects"] == 2 and few.meta["km_lead_seconds_median"] is None
    assert any("not measurable" in n for n in few.notes)


def test_lead_time_of_finished_and_open_cases_on_bpic2012(
    bpic2012_store: Path, bpic2012_raw: dict[str, list[tuple[datetime, int, str, str]]]
) -> None:
    """An application is finished once it is activated, declined or cancelled; the others are
    still open when the log ends. Recomputed from the XES file: finished cases' time to that
    decision, and Kaplan–Meier over all by the product-limit definition."""
    ends = {"A_ACTIVATED", "A_DECLINED", "A_CANCELLED"}
    log_end = max(t for events in bpic2012_raw.values() for t, *_ in events)
    finished, still_open = [], []
    for events in bpic2012_raw.values():
        first = min(t for t, *_ in events)
        decided = [t for t, _, activity, _ in events if activity in ends]
        if decided:
            finished.append((min(decided) - first).total_seconds())
        else:
            still_open.append((log_end - first).total_seconds())
    view = object_times(Log.open(bpic2012_store), "case", end_steps=ends)
    g = view.meta
    assert (g["finished_objects"], g["open_objects"]) == (len(finished), len(still_open))
    assert len(still_open) > 100
    assert g["finished_lead_seconds_mean"] == pytest.approx(statistics.fmean(finished))
    assert g["finished_lead_seconds_median"] == pytest.approx(statistics.median(finished))
    median, restricted = km_median_and_restricted_mean(finished, still_open)
    assert g["km_lead_seconds_median"] == pytest.approx(median)
    assert g["km_lead_seconds_restricted_mean"] == pytest.approx(restricted, rel=1e-9)
    # counting the open cases as done at their last event understates the lead time
    naive = statistics.fmean(view.table.column("lead_seconds").to_pylist())
    assert naive < g["km_lead_seconds_restricted_mean"]


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


def test_step_flow_by_hand() -> None:
    view = step_stats(Log.from_ocel(two_orders()), "order")
    rows = rows_by(view, "activity")
    # span 0h-6h = 0.25 day. In B: o1 from 0h (left A) to 2h, o2 from 1h to 4h: 2 h and 3 h.
    b = rows["B"]
    assert (b["arrivals"], b["completions"], b["objects"], b["first_visits"]) == (2, 2, 2, 0)
    assert b["throughput_per_day"] == pytest.approx(2 / 0.25)  # 8 per day
    assert b["mean_seconds_in_step"] == pytest.approx(2.5 * 3600)
    assert b["mean_wip"] == pytest.approx((2 + 3) / 6)  # 5 object-hours over 6 hours
    assert b["mean_wait_before_seconds"] == pytest.approx(2.5 * 3600)
    # C: o1 2h-5h, o2 4h-6h: (3 + 2) / 6
    assert rows["C"]["mean_wip"] == pytest.approx(5 / 6)
    # A is each order's first step: it starts the order's life in the log, so its time in step
    # and wait are not measurable (null, with a note) — not 0 h as before issue #17
    a = rows["A"]
    assert (a["arrivals"], a["completions"], a["first_visits"]) == (2, 2, 2)
    assert a["mean_seconds_in_step"] is None and a["mean_wait_before_seconds"] is None
    assert any(n.startswith("A: ") and "starts the object's life here" in n for n in view.notes)
    assert not any(n.startswith(("B: ", "C: ")) for n in view.notes)
    # no start/complete: utilisation is not measurable, and the notes say why
    assert all(r["utilisation"] is None for r in rows.values())
    assert any("utilisation not measurable" in n for n in view.notes)
    # issue #17: the "Little's law WIP" column was throughput x mean time in step over the
    # same intervals as mean WIP — a check that could not fail; it is gone
    assert "littles_law_wip" not in view.table.column_names
    assert "littles_law_gap" not in view.table.column_names


def test_a_window_counts_the_time_inside_it_by_hand() -> None:
    view = step_stats(Log.from_ocel(two_orders()), "order", window=(T0 + H, T0 + 5 * H))
    b = rows_by(view, "activity")["B"]
    # window 1h-5h (4 h = 1/6 day). o1 in B 0h-2h: 1 h inside, arrived before the window,
    # left inside; o2 in B 1h-4h: 3 h inside. Mean WIP = 4 h / 4 h = 1.0.
    assert b["arrivals"] == 1 and b["completions"] == 2
    assert b["mean_wip"] == pytest.approx(1.0)
    # throughput 2 / (1/6) = 12 per day; both visits completed in it: 2 h and 3 h
    assert b["throughput_per_day"] == pytest.approx(12.0)
    assert b["mean_seconds_in_step"] == pytest.approx(2.5 * 3600)


def stock_on_hand_log() -> Any:
    """A warehouse log that starts with stock on hand: i1 was received and stored before the
    log begins (true time in pick unknown to the log); i2 and i3 go through every step."""
    return build(
        [
            ("a1", "i1", "pick", 5 * H, None),  # first event in the log
            ("a2", "i1", "ship", 8 * H, None),  # 3 h
            ("b1", "i2", "receive", 0 * H, None),
            ("b2", "i2", "store", 2 * H, None),  # 2 h
            ("b3", "i2", "pick", 6 * H, None),  # 4 h
            ("b4", "i2", "ship", 7 * H, None),  # 1 h
            ("c1", "i3", "receive", 1 * H, None),
            ("c2", "i3", "store", 3 * H, None),  # 2 h
            ("c3", "i3", "pick", 9 * H, None),  # 6 h
            ("c4", "i3", "ship", 12 * H, None),  # 3 h
        ],
        object_type="item",
    )


def test_stock_on_hand_at_the_start_is_not_a_zero_hour_visit_by_hand() -> None:
    rows = rows_by(step_stats(Log.from_ocel(stock_on_hand_log()), "item"), "activity")
    # pick: i2 4 h, i3 6 h -> 5 h; i1's pick is its first event: it was there before the log,
    # so it counts as a visit but not in the mean (counting it as 0 h gave 10/3 = 3.3 h)
    pick = rows["pick"]
    assert (pick["completions"], pick["first_visits"]) == (3, 1)
    assert pick["mean_seconds_in_step"] == pytest.approx(5 * 3600)
    assert pick["mean_wait_before_seconds"] == pytest.approx(5 * 3600)
    assert rows["ship"]["mean_seconds_in_step"] == pytest.approx((3 + 1 + 3) / 3 * 3600)
    assert rows["store"]["mean_seconds_in_step"] == pytest.approx(2 * 3600)
    # receive starts every item's life: not measurable, not 0
    assert rows["receive"]["mean_seconds_in_step"] is None
    assert rows["receive"]["first_visits"] == rows["receive"]["arrivals"] == 2


def test_a_companys_first_event_of_an_object_is_a_first_visit_by_hand() -> None:
    """The DC's log holds the plant's pushed events (ids under the plant's name) and its own:
    the item's receiving at the DC follows the plant's shipping, but the 3 h between them are
    transit, not time in receiving; commissioning starts the item's life at the plant."""
    plant = f"{RECEIVED_PREFIX}sakura-plant:"
    ocel = build(
        [
            (plant + "p1", "j1", "commissioning", 0 * H, None),
            (plant + "p2", "j1", "shipping", 2 * H, None),  # 2 h at the plant
            ("d1", "j1", "receiving", 5 * H, None),  # the DC's first event of j1
            ("d2", "j1", "storing", 6 * H, None),  # 1 h
            (plant + "p3", "j2", "commissioning", 1 * H, None),
            (plant + "p4", "j2", "shipping", 5 * H, None),  # 4 h
            ("d3", "j2", "receiving", 9 * H, None),
            ("d4", "j2", "storing", 12 * H, None),  # 3 h
        ],
        object_type="item",
    )
    view = step_stats(Log.from_ocel(ocel), "item")
    rows = rows_by(view, "activity")
    assert rows["shipping"]["mean_seconds_in_step"] == pytest.approx(3 * 3600)
    assert rows["storing"]["mean_seconds_in_step"] == pytest.approx(2 * 3600)
    for step in ("commissioning", "receiving"):
        assert rows[step]["mean_seconds_in_step"] is None
        assert rows[step]["mean_wait_before_seconds"] is None
        assert rows[step]["first_visits"] == rows[step]["completions"] == 2
        assert any(n.startswith(f"{step}: ") and "not measurable" in n for n in view.notes)


def test_picking_time_on_a_generated_chain_with_stock_on_hand() -> None:
    """A generated warehouse whose true times are known: 400 pallets received over 60 days,
    each stored, picked and shipped after random times; the log covers days 20 to 60 only, so
    the pallets already in the warehouse on day 20 appear first mid-way (stock on hand). Time
    in pick is measured on the pallets whose previous step the log saw, exactly; the pallets
    whose first event in the log is their pick no longer pull the figure down as 0 h."""
    rng = random.Random(17)
    begin = 20 * 24 * H
    rows, true_pick, seen_pick, all_pick_in_log = [], [], [], []
    for n in range(400):
        t = timedelta(hours=rng.uniform(0, 60 * 24))
        times = [t]
        for mean_hours in (8, 50, 6):  # store, pick, ship
            t = t + timedelta(hours=rng.expovariate(1 / mean_hours))
            times.append(t)
        stamped = list(zip(["receive", "store", "pick", "ship"], times, strict=True))
        kept = [(a, at) for a, at in stamped if begin <= at <= 60 * 24 * H]
        for j, (activity, at) in enumerate(kept):
            rows.append((f"e{n}-{j}", f"p{n}", activity, at, None))
        pick_hours = (times[2] - times[1]) / H
        true_pick.append(pick_hours)
        if any(a == "pick" for a, _ in kept):
            all_pick_in_log.append(pick_hours)
            if any(a == "store" for a, _ in kept):
                seen_pick.append(pick_hours)
    log = Log.from_ocel(build(rows, object_type="pallet"))
    pick = rows_by(step_stats(log, "pallet"), "activity")["pick"]
    assert len(seen_pick) < len(all_pick_in_log)  # some pallets were stock on hand
    assert pick["completions"] == len(all_pick_in_log)
    assert pick["first_visits"] == len(all_pick_in_log) - len(seen_pick)
    assert pick["mean_seconds_in_step"] / 3600 == pytest.approx(statistics.fmean(seen_pick))
    # counting the stock on hand as 0-hour visits (before issue #17) was further from the
    # true mean time in pick of the pallets picked in the log
    truth = statistics.fmean(all_pick_in_log)
    zero_counted = sum(seen_pick) / len(all_pick_in_log)
    assert abs(pick["mean_seconds_in_step"] / 3600 - truth) < abs(zero_counted - truth)


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


def test_utilisation_on_the_nodes_calendar_by_hand() -> None:
    """Issue #17: utilisation was measured against 24 hours a day. r1 works A from 08:00 to
    12:00 on Monday; the order's B ends Tuesday 16:00. The span, Monday 08:00 to Tuesday
    16:00, is 32 hours, of which a one-shift calendar (weekdays 08:00-16:00) has 16 working."""
    s, c = {"lifecycle:transition": "start"}, {"lifecycle:transition": "complete"}
    ocel = build(
        [
            ("e1", "o1", "A", 8 * H, s),
            ("e2", "o1", "A", 12 * H, c),
            ("e3", "o1", "B", 40 * H, c),
        ],
        resources={"e1": "r1", "e2": "r1"},
    )
    log = Log.from_ocel(ocel)
    shift = Calendar.from_mapping({"timezone": "UTC", "shifts": {"mon-fri": ["08:00-16:00"]}})
    on_shift = step_stats(log, "order", calendar=shift)
    assert rows_by(on_shift, "activity")["A"]["utilisation"] == pytest.approx(4 / 16)
    assert shift.label() in on_shift.notes and on_shift.meta["calendar"] == shift.label()
    around_the_clock = step_stats(log, "order")
    assert rows_by(around_the_clock, "activity")["A"]["utilisation"] == pytest.approx(4 / 32)
    # the default calendar is named too
    assert any("24/7" in n and "default" in n for n in around_the_clock.notes)


def test_the_steps_wip_adds_up_to_the_process_wip_on_receipt_and_bpic2012(
    receipt_store: Path, bpic2012_store: Path
) -> None:
    for store, exact in ((receipt_store, True), (bpic2012_store, False)):
        log = Log.open(store)
        whole = step_stats(log, "case").to_pylist()
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
            assert r["mean_wip"] >= 0
        # first visits are visits, never more than the step's completions
        assert 0 <= r["first_visits"] <= r["completions"]
        if r["completions"] and r["first_visits"] == r["completions"]:
            assert r["mean_seconds_in_step"] is None
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
    # a partner's pushed events (first visits per company) and declared end steps
    plant = f"{RECEIVED_PREFIX}sakura-plant:"
    ocel = build(
        [
            (plant + "p1", "j1", "commissioning", 0 * H, None),
            (plant + "p2", "j1", "shipping", 2 * H, None),
            ("d1", "j1", "receiving", 5 * H, None),
            ("d2", "j1", "storing", 6 * H, None),
            ("d3", "j2", "receiving", 7 * H, None),
        ],
        object_type="item",
    )
    duck, on_spark = Log.from_ocel(ocel), Log.from_ocel(ocel, engine="spark", spark=spark)
    same(step_stats(duck, "item"), step_stats(on_spark, "item"))
    ends = {"storing"}
    same(object_times(duck, "item", end_steps=ends), object_times(on_spark, "item", end_steps=ends))
