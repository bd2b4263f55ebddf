"""The bottleneck ranking: the step where work waits and piles up comes first, with its evidence
in words, the same on DuckDB and Spark."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from keiretsu.analytics import Log
from keiretsu.analytics.bottleneck import bottlenecks, describe_seconds
from keiretsu.model import OcelBuilder

T0 = datetime(2025, 3, 3, tzinfo=UTC)  # a Monday, midnight UTC
DAY, H = timedelta(days=1), timedelta(hours=1)


def slow_b() -> Any:
    """Ten orders enter A one a day at 08:00; B finishes one every two days at 09:00; C follows
    B an hour later."""
    b = OcelBuilder()
    for i in range(10):
        for activity, t in (
            ("A", i * DAY + 8 * H),
            ("B", 2 * i * DAY + 9 * H),
            ("C", 2 * i * DAY + 10 * H),
        ):
            b.add_event(f"{activity}{i}", activity, T0 + t, {})
            b.relate(f"{activity}{i}", f"o{i}", "order")
        b.add_object(f"o{i}", "order")
    return b.build()


def test_the_step_where_work_queues_ranks_first_with_its_evidence() -> None:
    view = bottlenecks(Log.from_ocel(slow_b()), "order")
    rows = view.to_pylist()
    assert [r["activity"] for r in rows] == ["B", "C", "A"]
    b = rows[0]
    # order i waits from A (day i 08:00) to B (day 2i 09:00): i days + 1 h; mean 4.5 days + 1 h
    assert b["mean_wait_before_seconds"] == pytest.approx(4.5 * 86400 + 3600)
    # WIP in B at the end of day d (d = 0..18): arrived (i <= min(d, 9)) minus left (2i <= d)
    wip = [min(d, 9) + 1 - (d // 2 + 1) for d in range(19)]
    assert wip[:6] == [0, 1, 1, 2, 2, 3]
    slope = np.polyfit(np.arange(19.0), np.array(wip, dtype=float), 1)[0]
    assert b["wip_growth_per_day"] == pytest.approx(slope, abs=1e-9)
    assert b["utilisation"] is None  # one timestamp per step: not measurable
    assert b["evidence"].startswith("waits 4.5 days on average before this step, the longest")
    # C waits an hour; A is every order's first step
    assert rows[1]["mean_wait_before_seconds"] == pytest.approx(3600)
    assert rows[2]["mean_wait_before_seconds"] is None
    assert "no wait measured" in rows[2]["evidence"]
    assert [r["rank"] for r in rows] == [1, 2, 3]
    assert rows[0]["score"] >= rows[1]["score"] >= rows[2]["score"]
    assert any("utilisation not measurable" in n for n in view.notes)


def test_durations_read_as_people_say_them() -> None:
    assert describe_seconds(42) == "42 seconds"
    assert describe_seconds(45 * 60) == "45 minutes"
    assert describe_seconds(5.2 * 3600) == "5.2 hours"
    assert describe_seconds(3.2 * 86400) == "3.2 days"


def test_bpic2012_ranking_measures_utilisation_where_work_items_have_start_complete(
    bpic2012_store: Path,
) -> None:
    view = bottlenecks(Log.open(bpic2012_store), "case")
    rows = view.to_pylist()
    assert len(rows) == 23  # the activities with a step-ending event
    # the W_ work items have start/complete with resources: they carry a utilisation
    for r in rows:
        assert (r["utilisation"] is not None) == r["activity"].startswith("W_"), r
        assert 0 <= r["score"] <= 1
    # the evidence names the single step with the longest wait, and the ranking follows the score
    longest = max(rows, key=lambda r: r["mean_wait_before_seconds"] or 0)
    assert "the longest" in longest["evidence"]
    assert sum("the longest" in r["evidence"] for r in rows) == 1
    scores = [r["score"] for r in rows]
    assert scores == sorted(scores, reverse=True)


def test_the_ranking_agrees_on_duckdb_and_spark(
    running_example_xes: Path, both_engines: Any
) -> None:
    duck, spark = both_engines(running_example_xes)
    a, b = bottlenecks(duck, "case"), bottlenecks(spark, "case")
    assert a.notes == b.notes
    for left, right in zip(a.to_pylist(), b.to_pylist(), strict=True):
        for k, x in left.items():
            if isinstance(x, float):
                assert math.isclose(x, right[k], rel_tol=1e-9, abs_tol=1e-9), k
            else:
                assert x == right[k], k
