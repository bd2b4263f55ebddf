"""A notebook user's path: ingest into a Twin, then read its views as Arrow, polars or pandas."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from _data import DATA
from keiretsu import Twin
from keiretsu.analytics.process_map import dfg


def test_a_twin_analyses_its_own_store(tmp_path: Path) -> None:
    with Twin(tmp_path / "node.duckdb") as twin:
        twin.ingest(DATA / "logs" / "running-example.xes")
        edges = dfg(twin.log(), "case")
        frame = edges.to_polars()
        assert isinstance(frame, pl.DataFrame)
        # the running example: "register request" is followed by "examine casually" in 3
        # cases, by "check ticket" in 2 and by "examine thoroughly" in 1 (pm4py's DFG agrees)
        after_register = {
            r["next_activity"]: r["frequency"]
            for r in frame.filter(pl.col("activity") == "register request").to_dicts()
        }
        assert after_register == {"examine casually": 3, "check ticket": 2, "examine thoroughly": 1}
        report = twin.analyze(value_adding=["decide"])
        assert report.object_type == "case"
        assert report.views["object_times"].to_pandas().shape[0] == 6


def test_the_report_follows_what_flows_not_who_handles_it(ocel_running_store: Path) -> None:
    from keiretsu.analytics import Log
    from keiretsu.analytics.report import main_object_type

    # in the OCEL running example the employees are related to the most events, but they are
    # who does the work, not what flows: the report follows the items
    log = Log.open(ocel_running_store)
    assert "employees" in log.object_types()
    assert main_object_type(log) == "items"
