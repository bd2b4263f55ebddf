"""Every view of the morning report on local Spark, read from the node's Parquet export,
beside DuckDB on the node's store: seconds, per view, and the ratio.

    .venv/bin/python bench/views_spark.py [--events 10000000] [--runs 1] [--workdir DIR]
        [--cores 2] [--spark-memory 6g] [--spark-timeout SECONDS]

The log is bench/views.py's (the OCEL 2.0 running example copied until it holds ``--events``
events, ingested in documents of about a million events; the same store is reused). Then:

1. ``export_parquet(store, DIR)`` — the store's log as partitioned Parquet, timed (the first
   export; a later one appends only new documents);
2. in a fresh process: ``analyze(Log.open(store))`` on DuckDB (as bench/views.py times it);
3. in a fresh process: a local Spark session (``local[--cores]``), ``Log.from_parquet(DIR)``
   — Spark reads the files itself — and the same ``analyze``; the session's start is timed
   apart from the views.

It prints both totals, the ratio Spark / DuckDB and each view's seconds side by side (medians
over ``--runs``). One machine: Spark's figure here is what a cluster pays per node plus its
overheads, not what a cluster of many nodes would take.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from views import ROOT, build_store  # bench/views.py, beside this script

SPARK = """
import json, resource, sys, time
t0 = time.perf_counter()
from keiretsu.analytics import Log, local_spark
from keiretsu.analytics.report import analyze
session = local_spark(cores=int(sys.argv[2]), memory=sys.argv[3])
started = time.perf_counter() - t0
t0 = time.perf_counter()
log = Log.from_parquet(sys.argv[1], session)
report = analyze(log)
total = time.perf_counter() - t0
events = log.scalar(log.events.count())
print(json.dumps({
    "events": events, "object_type": report.object_type, "total": total, "start": started,
    "seconds": report.seconds,
    "driver_max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
session.stop()
"""


def spark_run(
    parquet: Path, cores: int, memory: str, timeout: float | None = None
) -> dict[str, Any] | None:
    """One fresh process's Spark figures, or None when it did not finish within ``timeout``
    seconds (the process and its JVM are then killed)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.Popen(
        [sys.executable, "-c", SPARK, str(parquet), str(cores), memory],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # its JVM in the same group, killed with it
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return None
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, "the Spark run", out)
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=1, help="fresh processes per engine")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/keiretsu-bench-views"))
    parser.add_argument("--cores", type=int, default=2, help="local Spark's cores")
    parser.add_argument("--spark-memory", default="6g", help="Spark driver's memory")
    parser.add_argument("--memory-limit", default="3GB", help="DuckDB's memory cap")
    parser.add_argument(
        "--spark-timeout",
        type=float,
        help="seconds a Spark run may take; one that takes longer is stopped and said so",
    )
    args = parser.parse_args()

    from keiretsu.store.parquet import export_parquet
    from views import measure  # bench/views.py: analyze() on DuckDB in a fresh process

    print(
        f"# every view on local Spark from the Parquet export vs DuckDB on the store — "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}; "
        f"median of {args.runs} fresh process(es) per engine"
    )
    store, built = build_store(args.workdir, args.events)
    print(f"store {store} {'reused' if built is None else f'built in {built:.0f} s'}")
    parquet = args.workdir / f"{store.stem}.parquet"
    shutil.rmtree(parquet, ignore_errors=True)
    report = export_parquet(store, parquet)
    size = sum(f.stat().st_size for f in parquet.rglob("*.parquet")) / 2**20
    print(
        f"export_parquet: {report.seconds:.1f} s, {report.rows['event']:,} events, "
        f"{len(report.files)} files, {size:,.0f} MiB (store {store.stat().st_size / 2**20:,.0f} "
        "MiB)"
    )
    t0 = time.perf_counter()
    again = export_parquet(store, parquet)
    print(
        f"export_parquet again (nothing new): {time.perf_counter() - t0:.2f} s, "
        f"{again.documents} documents"
    )
    duck = [measure(store, args.memory_limit) for _ in range(args.runs)]
    d = statistics.median(r["total"] for r in duck)
    print(f"{duck[0]['events']:,} events, following {duck[0]['object_type']!r}")
    print(f"  DuckDB on the store:                 {d:8.2f} s", flush=True)
    found = [
        spark_run(parquet, args.cores, args.spark_memory, args.spark_timeout)
        for _ in range(args.runs)
    ]
    spark = [r for r in found if r is not None]
    if not spark:
        print(
            f"  Spark local[{args.cores}] on the Parquet files: not finished within "
            f"{args.spark_timeout:.0f} s"
        )
        for view in duck[0]["seconds"]:
            dv = statistics.median(r["seconds"][view] for r in duck)
            print(f"    {view:<18} DuckDB {dv:9.2f} s")
        return
    s = statistics.median(r["total"] for r in spark)
    print(
        f"  Spark local[{args.cores}] on the Parquet files: {s:8.2f} s "
        f"(+ {statistics.median(r['start'] for r in spark):.1f} s to start the session; "
        f"driver peak RSS {statistics.median(r['driver_max_rss_mib'] for r in spark):,.0f} MiB)"
    )
    print(f"  ratio Spark / DuckDB: {s / d:.1f}x")
    print(f"    {'view':<18} {'DuckDB s':>9} {'Spark s':>9}")
    for view in duck[0]["seconds"]:
        dv = statistics.median(r["seconds"][view] for r in duck)
        sv = statistics.median(r["seconds"].get(view, float("nan")) for r in spark)
        print(f"    {view:<18} {dv:9.2f} {sv:9.2f}")


if __name__ == "__main__":
    main()
