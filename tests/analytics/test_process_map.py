"""Process maps: the DFG, start/end activities, variants and the OC-DFG equal pm4py's on the
shared logs (pm4py's values computed once by bench/pm4py_fixtures.py, kept as JSON in
tests/analytics/fixtures), hand-computed small cases, a pure-Python reference on generated logs,
and the same results on Spark."""

from __future__ import annotations

import gzip
import itertools
import json
import math
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _data import DATA
from keiretsu.analytics import Log
from keiretsu.analytics.process_map import (
    ProcessMap,
    dfg,
    ocdfg,
    start_end_activities,
    variants,
)
from keiretsu.model import OcelBuilder
from keiretsu.store import Store

LOGS, OCEL = DATA / "logs", DATA / "ocel"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
T0 = datetime(2025, 5, 5, 6, 0, tzinfo=UTC)
DURATIONS = ("mean", "median", "p90", "min", "max")


def pm4py_fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(gzip.decompress((FIXTURES / name).read_bytes()))
    assert data["pm4py_version"].startswith("2.7")
    return data


def close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


def _store(tmp_path_factory: pytest.TempPathFactory, source: Path, name: str) -> Path:
    path = tmp_path_factory.mktemp(name) / "node.duckdb"
    with Store(path) as store:
        assert store.ingest_file(source).status == "accepted"
    return path


@pytest.fixture(scope="module")
def bpic2013_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """BPI Challenge 2013 incidents (65,533 events)."""
    return _store(tmp_path_factory, LOGS / "bpic2013_incidents.xes.gz", "bpic2013")


@pytest.fixture(scope="module")
def ocel_example_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The OCEL 2.0 standard's small purchase-to-pay example (SQLite)."""
    return _store(tmp_path_factory, OCEL / "ocel20_example.sqlite", "ocel20_example")


XES = {
    "running_example_xes": "pm4py_dfg_running-example.json.gz",
    "receipt_store": "pm4py_dfg_receipt.json.gz",
    "bpic2012_store": "pm4py_dfg_bpic2012.json.gz",
    "bpic2013_store": "pm4py_dfg_bpic2013_incidents.json.gz",
}
OCELS = {
    "ocel_example_store": "pm4py_ocdfg_ocel20_example.json.gz",
    "ocel_running_store": "pm4py_ocdfg_running-example.json.gz",
    "logistics_store": "pm4py_ocdfg_logistics.json.gz",
}


def assert_dfg_equals_pm4py(log: Log, object_type: str, expected: dict[str, Any]) -> None:
    got = {(r["activity"], r["next_activity"]): r for r in dfg(log, object_type).to_pylist()}
    want = {(r["activity"], r["next_activity"]): r for r in expected["edges"]}
    assert set(got) == set(want)
    for edge, row in want.items():
        assert got[edge]["object_type"] == object_type
        assert got[edge]["frequency"] == row["frequency"], edge
        assert got[edge]["objects"] == row["objects"], edge
        for d in DURATIONS:
            assert close(got[edge][f"{d}_seconds"], row[f"{d}_seconds"]), (edge, d)


def assert_start_end_equals_pm4py(log: Log, object_type: str, expected: dict[str, Any]) -> None:
    rows = start_end_activities(log, object_type).to_pylist()
    assert {r["activity"]: r["starts"] for r in rows if r["starts"]} == expected["start_activities"]
    assert {r["activity"]: r["ends"] for r in rows if r["ends"]} == expected["end_activities"]


def assert_variants_equal_pm4py(log: Log, object_type: str, expected: dict[str, Any]) -> None:
    view = variants(log, object_type)
    got = [(r["variant"], r["frequency"]) for r in view.to_pylist()]
    # pm4py's, ordered the same way: most frequent first, ties by the text
    want = sorted(
        ((v, n) for v, n in expected["variants"]), key=lambda vn: (-vn[1], " → ".join(vn[0]))
    )
    assert got == want


# --- case-centric logs (XES): pm4py's DFG, performance DFG, start/end, variants -------------


@pytest.mark.parametrize("store_fixture", list(XES))
def test_case_dfg_counts_and_durations_equal_pm4py(
    store_fixture: str, request: pytest.FixtureRequest
) -> None:
    log = Log.open(request.getfixturevalue(store_fixture))
    expected = pm4py_fixture(XES[store_fixture])
    assert_dfg_equals_pm4py(log, "case", expected)
    # every event but each case's last one leaves by exactly one arrow
    total = sum(r["frequency"] for r in expected["edges"])
    cases = sum(n for _, n in expected["variants"])
    assert total == expected["events"] - cases


@pytest.mark.parametrize("store_fixture", list(XES))
def test_case_start_end_activities_and_variants_equal_pm4py(
    store_fixture: str, request: pytest.FixtureRequest
) -> None:
    log = Log.open(request.getfixturevalue(store_fixture))
    expected = pm4py_fixture(XES[store_fixture])
    assert_start_end_equals_pm4py(log, "case", expected)
    assert_variants_equal_pm4py(log, "case", expected)


def test_variant_shares_and_text_on_the_running_example(running_example_xes: Path) -> None:
    # the running example: 6 cases, every one its own variant
    view = variants(Log.open(running_example_xes), "case")
    assert view.num_rows == 6
    assert [r["share"] for r in view.to_pylist()] == [pytest.approx(1 / 6)] * 6
    first = view.to_pylist()[0]
    assert first["variant_text"] == " → ".join(first["variant"])
    assert first["steps"] == len(first["variant"])
    assert view.meta["objects"] == 6


# --- object-centric logs (OCEL 2.0 SQLite): pm4py's OC-DFG and flattened DFGs --------------


@pytest.mark.parametrize("store_fixture", list(OCELS))
def test_ocdfg_equals_pm4py(store_fixture: str, request: pytest.FixtureRequest) -> None:
    log = Log.open(request.getfixturevalue(store_fixture))
    # pm4py on the same log with events at one instant in the file's declared event-type order
    # (pm4py reads them alphabetically: see test_pm4py_as_read_differs_only_by_ties)
    expected = pm4py_fixture(OCELS[store_fixture])["declared_order"]
    m = ocdfg(log)
    assert isinstance(m, ProcessMap)
    got = {(r["object_type"], r["activity"], r["next_activity"]): r for r in m.edges.to_pylist()}
    want = {(r["object_type"], r["activity"], r["next_activity"]): r for r in expected["edges"]}
    assert set(got) == set(want)
    for edge, row in want.items():
        assert got[edge]["frequency"] == row["total_objects"], edge
        assert got[edge]["event_pairs"] == row["event_couples"], edge
        assert got[edge]["objects"] == row["unique_objects"], edge
        for d in DURATIONS:
            assert close(got[edge][f"{d}_seconds"], row["seconds_total_objects"][d]), (edge, d)

    activities = m.activities.to_pylist()
    for metric, column in (
        ("events", "events"),
        ("unique_objects", "objects"),
        ("total_objects", "object_events"),
    ):
        overall = {r["activity"]: r[column] for r in activities if r["object_type"] is None}
        assert overall == expected["activities_indep"][metric]
        for object_type, per_metric in expected["activities_ot"].items():
            rows = [r for r in activities if r["object_type"] == object_type]
            assert {r["activity"]: r[column] for r in rows} == per_metric[metric]

    start_end = m.start_end.to_pylist()
    for count, events, key in (
        ("starts", "start_events", "start_activities"),
        ("ends", "end_events", "end_activities"),
    ):
        for object_type, per_metric in expected[key].items():
            rows = [r for r in start_end if r["object_type"] == object_type and r[count]]
            assert {r["activity"]: r[count] for r in rows} == per_metric["unique_objects"]
            assert {r["activity"]: r[events] for r in rows} == per_metric["events"]


@pytest.mark.parametrize("store_fixture", list(OCELS))
def test_flattened_dfgs_equal_pm4py(store_fixture: str, request: pytest.FixtureRequest) -> None:
    log = Log.open(request.getfixturevalue(store_fixture))
    expected = pm4py_fixture(OCELS[store_fixture])["declared_order"]
    for object_type, flat in expected["flattened"].items():
        if flat is None:  # a type no event touches: nothing to flatten
            assert dfg(log, object_type).num_rows == 0
            continue
        assert_dfg_equals_pm4py(log, object_type, flat)
        assert_start_end_equals_pm4py(log, object_type, flat)
        assert_variants_equal_pm4py(log, object_type, flat)


def test_pm4py_as_read_differs_only_by_ties(logistics_store: Path) -> None:
    """pm4py orders events at one instant by the alphabetical order of their type names; in
    the logistics log "Weigh" and "Place in Stock" share their second, so pm4py draws
    Place in Stock → Weigh where the container was weighed, then stocked. Counts that do not
    depend on order agree; the arrows differ only in how the tied events are sequenced."""
    log = Log.open(logistics_store)
    as_read = pm4py_fixture(OCELS["logistics_store"])["as_read"]
    m = ocdfg(log)
    overall = {r["activity"]: r["events"] for r in m.activities.to_pylist() if not r["object_type"]}
    assert overall == as_read["activities_indep"]["events"]
    ours: Counter[str] = Counter()
    theirs: Counter[str] = Counter()
    for r in m.edges.to_pylist():
        ours[r["object_type"]] += r["frequency"]
    for r in as_read["edges"]:
        theirs[r["object_type"]] += r["total_objects"]
    assert ours == theirs  # same number of transitions per object type
    edges = {(r["object_type"], r["activity"], r["next_activity"]) for r in m.edges.to_pylist()}
    assert ("Container", "Weigh", "Place in Stock") in edges
    assert ("Container", "Place in Stock", "Weigh") not in edges
    pm4py_edges = {(r["object_type"], r["activity"], r["next_activity"]) for r in as_read["edges"]}
    assert ("Container", "Place in Stock", "Weigh") in pm4py_edges


# --- hand-computed small cases -----------------------------------------------------------


def test_durations_by_hand() -> None:
    """Three orders go pick → pack after 60 s, 120 s and 600 s; one of them is picked again
    (pack → pick after 30 s, then pick → pack after 90 s).

    pick → pack: 4 transitions by 3 orders, seconds 60, 90, 120, 600:
      mean = 870 / 4 = 217.5; median = (90 + 120) / 2 = 105;
      p90 (linear) = value at rank 0.9 × 3 = 2.7 → 120 + 0.7 × (600 − 120) = 456;
      min 60, max 600.
    pack → pick: 1 transition, 30 s."""
    b = OcelBuilder()
    plan = {
        "o1": [("pick", 0), ("pack", 60)],
        "o2": [("pick", 0), ("pack", 120)],
        "o3": [("pick", 0), ("pack", 600), ("pick", 630), ("pack", 720)],
    }
    for oid, steps in plan.items():
        b.add_object(oid, "order")
        for i, (activity, secs) in enumerate(steps):
            eid = f"{oid}-{i}"
            b.add_event(eid, activity, T0 + timedelta(seconds=secs))
            b.relate(eid, oid, "order")
    view = dfg(Log.from_ocel(b.build()), "order")
    rows = {(r["activity"], r["next_activity"]): r for r in view.to_pylist()}
    pick_pack = rows[("pick", "pack")]
    assert (pick_pack["frequency"], pick_pack["objects"]) == (4, 3)
    assert pick_pack["mean_seconds"] == pytest.approx(217.5)
    assert pick_pack["median_seconds"] == pytest.approx(105.0)
    assert pick_pack["p90_seconds"] == pytest.approx(456.0)
    assert (pick_pack["min_seconds"], pick_pack["max_seconds"]) == (60.0, 600.0)
    assert rows[("pack", "pick")]["frequency"] == 1
    assert rows[("pack", "pick")]["mean_seconds"] == pytest.approx(30.0)


def test_objects_moving_together_and_double_links() -> None:
    """Two pallets are loaded by one event and unloaded by the next: two transitions, one
    event pair. The load event names pallet p1 twice (as "epc" and as "parent"): p1 still
    takes the step once. Ties at one instant follow the order the events were listed."""
    b = OcelBuilder()
    b.add_object("p1", "pallet")
    b.add_object("p2", "pallet")
    b.add_event("load", "load", T0)
    b.add_event("weigh", "weigh", T0 + timedelta(hours=1))
    b.add_event("stock", "stock", T0 + timedelta(hours=1))  # same second: listed after weigh
    for p in ("p1", "p2"):
        b.relate("load", p, "epc")
        b.relate("weigh", p, "epc")
        b.relate("stock", p, "epc")
    b.relate("load", "p1", "parent")
    m = ocdfg(Log.from_ocel(b.build()))
    edges = {(r["activity"], r["next_activity"]): r for r in m.edges.to_pylist()}
    assert set(edges) == {("load", "weigh"), ("weigh", "stock")}
    assert (edges[("load", "weigh")]["frequency"], edges[("load", "weigh")]["event_pairs"]) == (
        2,
        1,
    )
    assert edges[("load", "weigh")]["objects"] == 2
    assert edges[("weigh", "stock")]["max_seconds"] == 0.0
    load = next(r for r in m.activities.to_pylist() if r["activity"] == "load")
    assert (load["events"], load["objects"], load["object_events"]) == (1, 2, 2)
    start = next(r for r in m.start_end.to_pylist() if r["activity"] == "load")
    assert (start["starts"], start["start_events"]) == (2, 1)


def test_an_object_type_without_events_gives_an_empty_map() -> None:
    b = OcelBuilder()
    b.add_object("t1", "truck")
    b.add_object("o1", "order")
    b.add_event("e1", "place", T0)
    b.relate("e1", "o1", "order")
    log = Log.from_ocel(b.build())
    assert dfg(log, "truck").num_rows == 0
    assert variants(log, "truck").num_rows == 0
    # a name the log does not hold is a mistake, named with the ones it holds (issue 16)
    with pytest.raises(KeyError, match=r"no object type 'nothing-of-this-name'.*'order', 'truck'"):
        dfg(log, "nothing-of-this-name")
    assert variants(log, "order").to_pylist()[0]["variant"] == ["place"]


# --- generated logs against a pure-Python reference -----------------------------------------

ACTIVITIES = ["receive", "inspect", "store", "pick", "ship"]


@st.composite
def small_logs(draw: st.DrawFn) -> list[tuple[str, str, int, list[str]]]:
    """Events (id, activity, minute, related objects), in listing order; minutes collide often."""
    n = draw(st.integers(1, 25))
    objects = [f"o{i}" for i in range(draw(st.integers(1, 5)))]
    return [
        (
            f"e{i}",
            draw(st.sampled_from(ACTIVITIES)),
            draw(st.integers(0, 6)),
            draw(st.lists(st.sampled_from(objects), min_size=0, max_size=3)),
        )
        for i in range(n)
    ]


def reference_traces(events: list[tuple[str, str, int, list[str]]]) -> dict[str, list[Any]]:
    traces: dict[str, list[Any]] = defaultdict(list)
    for order, (eid, activity, minute, objs) in enumerate(events):
        for o in dict.fromkeys(objs):  # an object named twice by one event: once
            traces[o].append((minute, order, eid, activity))
    return {o: sorted(t) for o, t in traces.items()}


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
@given(small_logs())
def test_maps_match_a_plain_python_reference(events: list[tuple[str, str, int, list[str]]]) -> None:
    b = OcelBuilder()
    for eid, activity, minute, objs in events:
        b.add_event(eid, activity, T0 + timedelta(minutes=minute))
        for o in objs:
            b.relate(eid, o, "item")
    for o in {o for *_, objs in events for o in objs}:
        b.add_object(o, "item")
    log = Log.from_ocel(b.build())
    traces = reference_traces(events)

    freq: Counter[tuple[str, str]] = Counter()
    secs: dict[tuple[str, str], list[float]] = defaultdict(list)
    for trace in traces.values():
        for (m1, _, _, a1), (m2, _, _, a2) in itertools.pairwise(trace):
            freq[(a1, a2)] += 1
            secs[(a1, a2)].append(60.0 * (m2 - m1))
    rows = dfg(log, "item").to_pylist()
    assert {(r["activity"], r["next_activity"]): r["frequency"] for r in rows} == dict(freq)
    for r in rows:
        values = secs[(r["activity"], r["next_activity"])]
        assert r["mean_seconds"] == pytest.approx(sum(values) / len(values))
        assert (r["min_seconds"], r["max_seconds"]) == (min(values), max(values))

    expected_variants = Counter(tuple(a for *_, a in t) for t in traces.values())
    view = variants(log, "item")
    assert {tuple(r["variant"]): r["frequency"] for r in view.to_pylist()} == dict(
        expected_variants
    )
    if traces:
        assert sum(view.table.column("share").to_pylist()) == pytest.approx(1.0)
        starts = start_end_activities(log, "item").to_pylist()
        assert sum(r["starts"] for r in starts) == len(traces)
        assert sum(r["ends"] for r in starts) == len(traces)


# --- the same maps on Spark ---------------------------------------------------------------


def _same(a: pa.Table, b: pa.Table) -> None:
    assert a.schema.equals(b.schema), (a.schema, b.schema)
    assert a.num_rows == b.num_rows > 0
    for x, y in zip(a.to_pylist(), b.to_pylist(), strict=True):
        for k, v in x.items():
            if isinstance(v, float):
                assert close(v, y[k]), (k, x, y)
            else:
                assert v == y[k], (k, x, y)


def test_maps_are_the_same_on_spark(ocel_example_store: Path, both_engines: Any) -> None:
    # the small purchase-to-pay example: Spark answers a query in seconds whatever its size
    duck, spark = both_engines(ocel_example_store)
    _same(dfg(duck, "Invoice").table, dfg(spark, "Invoice").table)
    _same(variants(duck, "Invoice").table, variants(spark, "Invoice").table)
    a, b = ocdfg(duck), ocdfg(spark)
    for x, y in zip(a.views(), b.views(), strict=True):
        _same(x.table, y.table)
