"""The log as Ibis tables: the same store reads the same on DuckDB and on Spark, and an
object's trace keeps the source's order for events at the same instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from keiretsu.analytics import Log
from keiretsu.analytics.traces import object_events, transitions
from keiretsu.model import OcelBuilder

T0 = datetime(2025, 5, 5, 6, 0, tzinfo=UTC)


def test_the_store_reads_the_same_on_duckdb_and_spark(
    running_example_xes: Path, both_engines: Any
) -> None:
    duck, spark = both_engines(running_example_xes)
    for name in ("events", "relations", "objects", "event_attributes"):
        a = duck.execute(getattr(duck, name))
        b = spark.execute(getattr(spark, name))
        key = [(c, "ascending") for c in a.column_names]
        assert a.num_rows == b.num_rows > 0
        a, b = a.sort_by(key), b.select(a.column_names).sort_by(key)
        for column in a.column_names:
            left, right = a.column(column), b.column(column)
            if pa.types.is_timestamp(left.type):  # same instants, whatever the unit/zone label
                left = left.cast(pa.timestamp("us", "UTC"))
                right = right.cast(pa.timestamp("us", "UTC"))
            assert left.to_pylist() == right.to_pylist(), column


def test_a_trace_keeps_the_read_order_for_events_at_one_instant() -> None:
    b = OcelBuilder()
    # a pallet scanned three times in the same second, listed pick, pack, ship; then delivered
    for eid, activity, t in [
        ("e9", "pick", T0),
        ("e1", "pack", T0),
        ("e5", "ship", T0),
        ("e2", "deliver", T0 + timedelta(hours=2, microseconds=250)),
    ]:
        b.add_event(eid, activity, t, {})
        b.relate(eid, "pallet-1", "epc")
    b.add_object("pallet-1", "pallet")
    log = Log.from_ocel(b.build())
    steps = log.execute(transitions(object_events(log, "pallet")).order_by("position"))
    assert steps.column("activity").to_pylist() == ["pick", "pack", "ship", "deliver"]
    assert steps.column("next_activity").to_pylist() == ["pack", "ship", "deliver", None]
    assert steps.column("seconds_to_next").to_pylist() == [0.0, 0.0, 7200.00025, None]
