"""The value stream map: process and waiting times per step, inventory by Little's law, the
ladder's totals, and an SVG a browser can show — checked on hand-computed logs and on real XES."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from keiretsu.analytics import Log
from keiretsu.analytics.vsm import duration, value_stream_map
from keiretsu.model import OcelBuilder

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
    assert rows["cut"]["wait_before_seconds"] == 0.0
    # Little's law: 2 arrivals over the 8 h span = 0.25/h, waiting 3 h → 0.75 orders before weld
    assert rows["weld"]["inventory_before"] == pytest.approx(0.75)
    # ladder: waits 0 + 3 + 0.5 h, processing 1 + 0.75 + 1.5 h
    assert vsm.value_added_seconds == pytest.approx(3.25 * H)
    assert vsm.lead_seconds == pytest.approx(6.75 * H)
    assert vsm.flow_efficiency == pytest.approx(3.25 / 6.75)
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
    assert unknown.value_added_seconds is None and unknown.flow_efficiency is None
    assert "unknown" in unknown.notes[0]
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
    with pytest.raises(ValueError, match="no objects of type 'truck'"):
        value_stream_map(log, "truck")


def test_the_svg_is_a_document_with_every_box_and_the_totals(receipt_store: Path) -> None:
    vsm = value_stream_map(Log.open(receipt_store), "case")
    svg = vsm.to_svg()
    root = etree.fromstring(svg.encode())
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = " ".join(t for t in root.itertext())
    for row in vsm.steps.to_pylist():
        assert row["step"][:20] in svg
    assert "Lead time" in texts and "Flow efficiency" in texts
    assert "http" not in svg.replace("http://www.w3.org/2000/svg", "")  # nothing to fetch


def test_durations_read_like_a_practitioner_writes_them() -> None:
    assert [duration(s) for s in (12, 600, 5400, 3 * 86400, None)] == [
        "12 s",
        "10 min",
        "1.5 h",
        "3.0 d",
        "—",
    ]


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
