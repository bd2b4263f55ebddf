"""The views that read each step's previous step and pass from the store's traces (schema 9:
rework and Defects, the cycling check, the visits, first-pass yield, Transport's moves) give
what their windows give: the same log, in a store (documents arriving out of time order, so
traces are recomputed for late events) and in memory (no ``object_step``: the windows), holds
the same rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keiretsu.analytics import Log, customer, flow, quality
from keiretsu.analytics.cycling import NOT_COMPLETIONS, cycling_object_types, object_rounds
from keiretsu.analytics.traces import steps as trace_steps
from keiretsu.analytics.traces import stored_passes
from keiretsu.analytics.vsm import first_positions
from keiretsu.analytics.waste import waste_evidence
from keiretsu.model import Ocel, OcelBuilder
from keiretsu.store import Store

T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
OBJECTS = {"lot-1": "lot", "lot-2": "lot", "lot-3": "lot", "box-1": "box", "truck-1": "truck"}
ACTIVITIES = ["pick", "inspect", "pack", "ship"]
PLACES = ["dock-A", "dock-B"]

Event = tuple[int, int, list[str], int, int | None]  # minute, activity, objects, doc, place


def documents(events: list[Event], lifecycle: bool) -> list[tuple[str, Ocel]]:
    """The events in documents, sent with the last document first (late events)."""
    docs: dict[int, OcelBuilder] = {}
    for i, (minute, activity, objects, doc, place) in enumerate(events):
        b = docs.setdefault(doc, OcelBuilder())
        attrs = {"lifecycle:transition": "complete"} if lifecycle else {}
        b.add_event(f"e{i}", ACTIVITIES[activity], T0 + timedelta(minutes=minute), attrs)
        for oid in objects:
            b.add_object(oid, OBJECTS[oid])
            b.relate(f"e{i}", oid, "epc")
        if place is not None:
            b.add_object(PLACES[place], "location")
            b.relate(f"e{i}", PLACES[place], "bizLocation")
    return [(f"doc-{d}", docs[d].build()) for d in sorted(docs, reverse=True)]


def rows(table: pa.Table) -> list[str]:
    """A table's rows as sorted JSON text (floats rounded: sums may run in another order)."""

    def norm(v: Any) -> Any:
        if isinstance(v, float):
            return round(v, 6)
        if isinstance(v, datetime):
            return v.astimezone(UTC).isoformat()
        return v

    return sorted(
        json.dumps({k: norm(v) for k, v in r.items()}, sort_keys=True, default=str)
        for r in table.to_pylist()
    )


def views(log: Log) -> dict[str, Any]:
    out: dict[str, Any] = {"rounds": rows(log.execute(object_rounds(log)))}
    cycling = cycling_object_types(log)
    out["cycling"] = (rows(cycling.table), cycling.notes)
    for t in ("lot", "box"):
        out[f"visits {t}"] = rows(log.execute(flow.visits(log, t)))
        out[f"first positions {t}"] = rows(log.execute(first_positions(log, trace_steps(log, t))))
        out[f"exits {t}"] = rows(log.execute(customer.exits(log, t)))
        out[f"failures {t}"] = rows(log.execute(quality.step_failures(log, t)))
        fpy = quality.first_pass_yield(log, t)
        out[f"fpy {t}"] = (rows(fpy.table), fpy.notes)
    for waste in ("defects", "overprocessing", "transport"):
        ev = waste_evidence(log, waste, cycling_types=())
        out[waste] = (rows(ev.table), ev.notes)
    return out


@settings(
    max_examples=12,  # each example: a store, two documents, every view twice (~5 s)
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    events=st.lists(
        st.tuples(
            st.integers(0, 15),  # few minutes: many events share an instant
            st.integers(0, len(ACTIVITIES) - 1),
            st.lists(st.sampled_from(sorted(OBJECTS)), min_size=1, max_size=3, unique=True),
            st.integers(0, 2),
            st.one_of(st.none(), st.integers(0, len(PLACES) - 1)),
        ),
        min_size=1,
        max_size=30,
    ),
    lifecycle=st.booleans(),
    in_numpy=st.booleans(),  # steps linked in NumPy (a capture's) or DuckDB (a large one's)
)
def test_views_read_from_the_traces_equal_their_windows(
    tmp_path_factory: pytest.TempPathFactory, events: list[Event], lifecycle: bool, in_numpy: bool
) -> None:
    path: Path = tmp_path_factory.mktemp("passes") / "node.duckdb"
    with Store(path) as store:
        store.STEP_ROWS = 4  # several passes per document, as a large document gets
        store.LINK_ROWS = store.LINK_ROWS if in_numpy else 0
        for name, ocel in documents(events, lifecycle):
            assert store.ingest(iter([ocel]), document=name).status == "accepted"
        stored = Log.from_connection(store.con)
        assert stored_passes(stored, NOT_COMPLETIONS) and flow.visits_are_steps(stored)
        in_memory = Log.from_ocel(store.to_ocel())
        assert not stored_passes(in_memory)
        assert views(stored) == views(in_memory)


def test_start_events_keep_the_windows(tmp_path: Path) -> None:
    """A log with XES start events: a step's start is no pass of its own, so the traces'
    passes (every event) are not the views' and the windows stay."""
    b = OcelBuilder()
    for i, (activity, transition) in enumerate(
        [("pick", "start"), ("pick", "complete"), ("pack", "start"), ("pack", "complete")]
    ):
        b.add_event(
            f"e{i}", activity, T0 + timedelta(minutes=i), {"lifecycle:transition": transition}
        )
        b.add_object("lot-1", "lot")
        b.relate(f"e{i}", "lot-1", "epc")
    with Store(tmp_path / "node.duckdb") as store:
        store.ingest(iter([b.build()]), document="a")
        stored = Log.from_connection(store.con)
        assert stored_passes(stored) and not stored_passes(stored, NOT_COMPLETIONS)
        assert not flow.visits_are_steps(stored)
        in_memory = Log.from_ocel(store.to_ocel())
        assert rows(stored.execute(object_rounds(stored))) == rows(
            in_memory.execute(object_rounds(in_memory))
        )
        visits = stored.execute(flow.visits(stored, "lot")).to_pylist()
        assert [v["activity"] for v in sorted(visits, key=lambda v: v["leave"])] == [
            "pick",
            "pack",
        ]
