"""Process-map speed: keiretsu's maps against pm4py's, in one run, on the same logs.

    .venv/bin/python bench/analytics.py [--runs 5] [--pm4py-runs 3] [--workdir DIR]

Two comparisons, the figures of issue #3:

1. **Case-centric DFG + performance DFG on a ~1M-event log**: BPI Challenge 2012 (262,200
   events) four times over, case and event ids made distinct per copy (1,048,800 events).
   keiretsu: ``dfg(Log.open(store), "case")`` on a store already ingested — frequencies,
   distinct cases and durations (mean, median, p90, min, max) in one query. pm4py:
   ``discover_dfg`` + ``discover_performance_dfg`` on a polars LazyFrame (its fastest path)
   and on a pandas DataFrame, both already in memory.
2. **OC-DFG with durations on running-example.sqlite ten times over** (~182,000 events, event
   and object ids suffixed per copy). keiretsu: ``ocdfg(Log.open(store))`` (edges with
   durations, activities, start/end). pm4py: ``discover_ocdfg`` on the OCEL in memory.

keiretsu is timed as a user calls it: *cold* = open the store and compute (a fresh DuckDB
connection each run), *warm* = compute again on the same open log. *raw SQL* is the floor under
both: the same queries, compiled by Ibis once beforehand, run straight on a DuckDB connection
(what is left above it is Ibis building and compiling the expressions, opening the store, and
shaping the result). Each figure is the median of ``--runs`` runs (pm4py's OC-DFG:
``--pm4py-runs``). The stores are built once in ``--workdir`` and reused by later runs.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from _replicate import suffixed  # bench/_replicate.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
BPIC2012 = DATA / "logs" / "bpic2012.xes.gz"
RUNNING = DATA / "ocel" / "running-example.sqlite"


def times(fn: Callable[[], object], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def replicated_store(
    path: Path, source: Path, copies: int, read: Callable[[Path], Iterator[Any]]
) -> Path:
    """A store holding ``copies`` copies of ``source``, ids suffixed ``#k`` per copy."""
    from keiretsu.store import Store

    if path.exists():
        # a store from an older keiretsu: opening it for writing brings its traces up to date
        # (e.g. object_step's next_seq); a read-only Log would not
        with Store(path):
            pass
        return path
    tmp = path.with_suffix(".building")
    tmp.unlink(missing_ok=True)
    with Store(tmp) as store:
        for k in range(copies):
            report = store.ingest(
                (suffixed(batch, f"#{k}") for batch in read(source)),
                document=f"{source.name} copy {k}",
            )
            assert report.status == "accepted", report
    tmp.rename(path)
    return path


def read_xes(path: Path) -> Iterator[Any]:
    from keiretsu.io.xes import read_xes as read

    return read(path)


def read_ocel(path: Path) -> Iterator[Any]:
    from keiretsu.io.ocel import read_ocel_sqlite

    return read_ocel_sqlite(path)


def pm4py_case_frames(copies: int) -> tuple[Any, Any]:
    """BPIC 2012 as pm4py reads it, ``copies`` times with distinct case ids: pandas and
    polars (LazyFrame)."""
    import pandas as pd
    import pm4py
    import polars as pl

    df = pm4py.read_xes(str(BPIC2012))[["case:concept:name", "concept:name", "time:timestamp"]]
    parts = []
    for k in range(copies):
        part = df.copy()
        part["case:concept:name"] = part["case:concept:name"] + f"#{k}"
        parts.append(part)
    big = pd.concat(parts, ignore_index=True)
    return big, pl.from_pandas(big).lazy()


def pm4py_ocel(copies: int) -> Any:
    """running-example.sqlite as pm4py reads it, ``copies`` times with suffixed ids."""
    import pandas as pd
    import pm4py
    from pm4py.objects.ocel.obj import OCEL

    ocel = pm4py.read_ocel2_sqlite(str(RUNNING))
    ev, ob, rel = [], [], []
    for k in range(copies):
        e, o, r = ocel.events.copy(), ocel.objects.copy(), ocel.relations.copy()
        e["ocel:eid"] = e["ocel:eid"] + f"#{k}"
        o["ocel:oid"] = o["ocel:oid"] + f"#{k}"
        r["ocel:eid"] = r["ocel:eid"] + f"#{k}"
        r["ocel:oid"] = r["ocel:oid"] + f"#{k}"
        ev.append(e)
        ob.append(o)
        rel.append(r)
    events = pd.concat(ev, ignore_index=True).sort_values("ocel:timestamp", kind="stable")
    relations = pd.concat(rel, ignore_index=True).sort_values("ocel:timestamp", kind="stable")
    return OCEL(events=events, objects=pd.concat(ob, ignore_index=True), relations=relations)


def raw_sql(store: Path, expressions: list[Any]) -> Callable[[], object]:
    """The floor: ``expressions`` compiled once, run as SQL on a plain DuckDB connection."""
    import duckdb
    import ibis

    con = duckdb.connect(str(store), read_only=True)
    con.execute("SET enable_progress_bar = false")
    statements = [str(ibis.to_sql(e, dialect="duckdb")) for e in expressions]

    def run() -> None:
        for sql in statements:
            con.sql(sql).to_arrow_table()

    return run


def report(label: str, ours: list[float], theirs: float, their_label: str) -> None:
    med = statistics.median(ours)
    print(
        f"  {label}: {med:.3f} s (min {min(ours):.3f}, max {max(ours):.3f}) — "
        f"{their_label} {theirs:.2f} s — ratio {theirs / med:.1f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pm4py-runs", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/keiretsu-bench-analytics"))
    args = parser.parse_args()
    os.environ.setdefault("TQDM_DISABLE", "1")  # no progress bars from pm4py

    from keiretsu.analytics import Log
    from keiretsu.analytics.process_map import (
        _activities_table,
        _edge_table,
        _start_end_table,
        dfg,
        ocdfg,
    )

    args.workdir.mkdir(parents=True, exist_ok=True)
    print(f"# process maps: keiretsu vs pm4py — {platform.machine()}, {os.cpu_count()} cores, ")
    print(f"# Python {sys.version.split()[0]}; median of {args.runs} runs (pm4py OC-DFG: ")
    print(f"# {args.pm4py_runs}); stores in {args.workdir}")

    # 1. case-centric DFG + performance DFG, BPIC 2012 x4
    t0 = time.perf_counter()
    store = replicated_store(args.workdir / "bpic2012x4.duckdb", BPIC2012, 4, read_xes)
    print(f"\nBPIC 2012 x4 store ready ({time.perf_counter() - t0:.1f} s)")
    warm_log = Log.open(store)
    n_events = warm_log.scalar(warm_log.events.count())
    edges = dfg(warm_log, "case").num_rows
    print(f"  {n_events:,} events, {edges} edges")

    import pm4py

    pdf, lazy = pm4py_case_frames(4)
    assert len(pdf) == n_events, (len(pdf), n_events)

    def pm4py_both(frame: Any) -> None:
        pm4py.discover_dfg(frame)
        pm4py.discover_performance_dfg(frame)

    # runs interleaved, so that both sides see the same load on a shared machine
    floor = raw_sql(store, [_edge_table(warm_log, ["case"], event_pairs=False)])
    runs: dict[str, list[float]] = {"cold": [], "warm": [], "raw": [], "polars": [], "pandas": []}
    for _ in range(args.runs):
        runs["cold"] += times(lambda: dfg(Log.open(store), "case"), 1)
        runs["warm"] += times(lambda: dfg(warm_log, "case"), 1)
        runs["raw"] += times(floor, 1)
        runs["polars"] += times(lambda: pm4py_both(lazy), 1)
        runs["pandas"] += times(lambda: pm4py_both(pdf), 1)
    polars_s, pandas_s = statistics.median(runs["polars"]), statistics.median(runs["pandas"])
    print(
        f"  pm4py discover_dfg + discover_performance_dfg (frames in memory): "
        f"polars {polars_s:.2f} s, pandas {pandas_s:.2f} s"
    )
    fastest, fastest_label = min((polars_s, "pm4py polars"), (pandas_s, "pm4py pandas"))
    report("keiretsu dfg cold", runs["cold"], fastest, fastest_label)
    report("keiretsu dfg warm", runs["warm"], fastest, fastest_label)
    report("raw SQL floor    ", runs["raw"], fastest, fastest_label)

    # 2. OC-DFG with durations, running-example.sqlite x10
    t0 = time.perf_counter()
    store = replicated_store(args.workdir / "running-examplex10.duckdb", RUNNING, 10, read_ocel)
    print(f"\nrunning-example.sqlite x10 store ready ({time.perf_counter() - t0:.1f} s)")
    warm_log = Log.open(store)
    n_events = warm_log.scalar(warm_log.events.count())
    print(f"  {n_events:,} events, {ocdfg(warm_log).edges.num_rows} edges")
    ocel = pm4py_ocel(10)
    floor = raw_sql(
        store,
        [
            _edge_table(warm_log, None, event_pairs=True),
            _activities_table(warm_log, None),
            _start_end_table(warm_log, None),
        ],
    )
    runs = {"cold": [], "warm": [], "raw": [], "pm4py": []}
    for i in range(args.runs):
        runs["cold"] += times(lambda: ocdfg(Log.open(store)), 1)
        runs["warm"] += times(lambda: ocdfg(warm_log), 1)
        runs["raw"] += times(floor, 1)
        if i < args.pm4py_runs:
            runs["pm4py"] += times(lambda: pm4py.discover_ocdfg(ocel), 1)
    pm_s = statistics.median(runs["pm4py"])
    print(f"  pm4py discover_ocdfg (with edge durations): {pm_s:.2f} s")
    cold, warm = runs["cold"], runs["warm"]
    report("keiretsu ocdfg cold", cold, pm_s, "pm4py")
    report("keiretsu ocdfg warm", warm, pm_s, "pm4py")
    report("raw SQL floor      ", runs["raw"], pm_s, "pm4py")


if __name__ == "__main__":
    main()
