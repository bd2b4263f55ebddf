"""pm4py's process maps of the shared logs, written once as JSON test fixtures.

    .venv/bin/python bench/pm4py_fixtures.py      # a few minutes (pm4py reads BPIC 2012 slowly)

The process-map tests (``tests/analytics/test_process_map.py``) compare keiretsu's maps with
these files, so the tests never import pm4py (AGPL; a reference, never a dependency). Each file
names the pm4py version and the input file it was computed from.

For every XES log in ``../shared/data/logs`` (object type ``case``):

- ``pm4py.discover_dfg`` (edge frequencies, start and end activities);
- ``pm4py.discover_performance_dfg`` (mean, median, min, max, sum, stdev of the seconds between
  an event and the next one of the same case);
- the p90 of the same seconds: pm4py gives the raw durations of each edge
  (``df_statistics.get_dfg_graph(..., perf_aggregation_key="raw_values")``) and numpy takes their
  90th percentile with linear interpolation (pm4py has no p90 of its own);
- the number of distinct cases making each edge, from the same pm4py successive-rows frame;
- ``pm4py.get_variants`` (activity sequence → number of cases).

For every OCEL 2.0 SQLite log in ``../shared/data/ocel``: ``pm4py.discover_ocdfg`` (edges per
object type counted as event couples, objects and object transitions; their durations; the
activities and the start/end activities per object type), and per object type the flattened
DFG (``pm4py.ocel_flattening`` then ``discover_dfg`` / ``discover_performance_dfg``) and its
variants.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
OUT = ROOT / "tests" / "analytics" / "fixtures"

XES_LOGS = ["running-example.xes", "receipt.xes.gz", "bpic2012.xes.gz", "bpic2013_incidents.xes.gz"]
OCEL_LOGS = ["ocel20_example.sqlite", "running-example.sqlite", "logistics.sqlite"]


def _num(x: Any) -> float | None:
    x = float(x)
    return None if math.isnan(x) else x


def _summary(values: list[float]) -> dict[str, Any]:
    import numpy as np

    a = np.asarray(values, dtype=float)
    return {
        "count": len(values),
        "mean": float(a.mean()),
        "median": float(np.median(a)),
        "p90": float(np.percentile(a, 90)),
        "min": float(a.min()),
        "max": float(a.max()),
    }


def case_maps(df: Any) -> dict[str, Any]:
    """pm4py's DFG, performance DFG, start/end activities and variants of a case log."""
    import numpy as np
    import pm4py
    from pm4py.algo.discovery.dfg.adapters.pandas import df_statistics

    dfg, starts, ends = pm4py.discover_dfg(df)
    perf, _, _ = pm4py.discover_performance_dfg(df)
    raw = df_statistics.get_dfg_graph(df, measure="performance", perf_aggregation_key="raw_values")
    cases = _cases_per_edge(df)
    edges = []
    for (a, b), freq in sorted(dfg.items()):
        p = perf[(a, b)]
        edges.append(
            {
                "activity": a,
                "next_activity": b,
                "frequency": int(freq),
                "objects": cases[(a, b)],
                "mean_seconds": _num(p["mean"]),
                "median_seconds": _num(p["median"]),
                "p90_seconds": float(np.percentile(np.asarray(raw[(a, b)], dtype=float), 90)),
                "min_seconds": _num(p["min"]),
                "max_seconds": _num(p["max"]),
                "sum_seconds": _num(p["sum"]),
                "stdev_seconds": _num(p["stdev"]),
            }
        )
    variants = pm4py.get_variants(df)
    return {
        "edges": edges,
        "start_activities": {str(k): int(v) for k, v in sorted(starts.items())},
        "end_activities": {str(k): int(v) for k, v in sorted(ends.items())},
        "variants": sorted(
            ([list(map(str, k)), int(v)] for k, v in variants.items()),
            key=lambda kv: (-kv[1], kv[0]),
        ),
    }


def _cases_per_edge(df: Any) -> dict[tuple[str, str], int]:
    """Distinct cases per edge, from pm4py's own successive-rows frame (same sort as its DFG)."""
    from pm4py.algo.discovery.dfg.adapters.pandas import df_statistics

    pairs = df_statistics.get_dfg_graph(
        df, measure="frequency", keep_once_per_case=True
    )  # one row per (case, a, b): counting them gives the distinct cases of each edge
    return {k: int(v) for k, v in pairs.items()}


def ocdfg_maps(ocel: Any) -> dict[str, Any]:
    """pm4py's OC-DFG, with each set reported by its size and each duration list summarised."""
    import pm4py

    m = pm4py.discover_ocdfg(ocel)
    edges = []
    for ot in sorted(m["edges"]["event_couples"]):
        for a, b in sorted(m["edges"]["event_couples"][ot]):
            perf_pairs = m["edges_performance"]["event_couples"][ot][(a, b)]
            perf_objects = m["edges_performance"]["total_objects"][ot][(a, b)]
            edges.append(
                {
                    "object_type": ot,
                    "activity": a,
                    "next_activity": b,
                    "event_couples": len(m["edges"]["event_couples"][ot][(a, b)]),
                    "unique_objects": len(m["edges"]["unique_objects"][ot][(a, b)]),
                    "total_objects": len(m["edges"]["total_objects"][ot][(a, b)]),
                    "seconds_event_couples": _summary(perf_pairs),
                    "seconds_total_objects": _summary(perf_objects),
                }
            )

    def per_activity(d: dict[str, Any]) -> dict[str, dict[str, int]]:
        return {
            metric: {str(act): len(v) for act, v in sorted(d[metric].items())}
            for metric in ("events", "unique_objects", "total_objects")
        }

    def per_type(d: dict[str, Any]) -> dict[str, dict[str, dict[str, int]]]:
        out: dict[str, dict[str, dict[str, int]]] = {}
        for metric in ("events", "unique_objects", "total_objects"):
            for ot, acts in sorted(d[metric].items()):
                out.setdefault(ot, {})[metric] = {str(a): len(v) for a, v in sorted(acts.items())}
        return out

    flattened = {}
    for ot in sorted(m["object_types"]):
        flat = pm4py.ocel_flattening(ocel, ot)
        # pm4py's get_variants reads each case's events as one run of rows (its own sort's
        # result is discarded), so the flattened frame is grouped per case first, keeping
        # time order and, at one instant, pm4py's event order
        flat = flat.reset_index(drop=True)
        flat["@@row"] = flat.index
        flat = flat.sort_values(["case:concept:name", "time:timestamp", "@@row"], kind="stable")
        flattened[ot] = case_maps(flat.drop(columns="@@row")) if len(flat) else None
    return {
        "activities": sorted(m["activities"]),
        "object_types": sorted(m["object_types"]),
        "edges": edges,
        "activities_indep": per_activity(m["activities_indep"]),
        "activities_ot": per_type(m["activities_ot"]),
        "start_activities": per_type(m["start_activities"]),
        "end_activities": per_type(m["end_activities"]),
        "flattened": flattened,
    }


def declared_order(ocel: Any, path: Path) -> Any:
    """The same log with events at one instant in the order the file declares their event
    types (``event_map_type``), then in their type table's row order — the order keiretsu's
    reader lists them. pm4py reads the type tables in alphabetical order of the type name, so
    at one instant "Place in Stock" comes before "Weigh" whatever the process did."""
    import sqlite3

    with sqlite3.connect(path) as con:
        declared = [r[0] for r in con.execute("SELECT ocel_type FROM event_map_type")]
    rank = {t: i for i, t in enumerate(declared)}
    events = ocel.events.reset_index(drop=True)
    events["@@rank"] = events["ocel:activity"].map(rank)
    events["@@row"] = events.index
    events = events.sort_values(["ocel:timestamp", "@@rank", "@@row"], kind="stable")
    position = {eid: i for i, eid in enumerate(events["ocel:eid"])}
    relations = ocel.relations.reset_index(drop=True)
    relations["@@pos"] = relations["ocel:eid"].map(position)
    relations["@@row"] = relations.index
    relations = relations.sort_values(["@@pos", "@@row"], kind="stable")
    ocel.events = events.drop(columns=["@@rank", "@@row"]).reset_index(drop=True)
    ocel.relations = relations.drop(columns=["@@pos", "@@row"]).reset_index(drop=True)
    return ocel


def main() -> None:
    os.environ.setdefault("TQDM_DISABLE", "1")  # no progress bars from pm4py's readers
    import pm4py

    OUT.mkdir(parents=True, exist_ok=True)
    for name in XES_LOGS:
        t0 = time.perf_counter()
        df = pm4py.read_xes(str(DATA / "logs" / name))
        result = {
            "pm4py_version": pm4py.__version__,
            "input": f"shared/data/logs/{name}",
            "object_type": "case",
            "events": len(df),
            **case_maps(df),
        }
        _write(f"pm4py_dfg_{name.split('.')[0]}.json.gz", result)
        print(f"{name}: {time.perf_counter() - t0:.1f} s")
    for name in OCEL_LOGS:
        t0 = time.perf_counter()
        path = DATA / "ocel" / name
        ocel = pm4py.read_ocel2_sqlite(str(path))
        result = {
            "pm4py_version": pm4py.__version__,
            "input": f"shared/data/ocel/{name}",
            "events": len(ocel.events),
            "as_read": ocdfg_maps(ocel),
            "declared_order": ocdfg_maps(declared_order(ocel, path)),
        }
        _write(f"pm4py_ocdfg_{name.split('.')[0]}.json.gz", result)
        print(f"{name}: {time.perf_counter() - t0:.1f} s")


def _write(name: str, result: dict[str, Any]) -> None:
    # gzip, fixed mtime: the same result gives the same bytes (no churn in git)
    data = json.dumps(result, indent=0, sort_keys=True, ensure_ascii=False).encode()
    with open(OUT / name, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
        f.write(data)


if __name__ == "__main__":
    main()
