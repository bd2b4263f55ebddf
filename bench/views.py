"""Every view of the morning report on a large object-centric log: seconds and peak memory.

    .venv/bin/python bench/views.py [--events 10000000] [--runs 3] [--workdir DIR]

The figure of issue #3: "all the views on a generated 10M-event object-centric log within 10 s
and 4 GB on this 2-core machine". The log is the OCEL 2.0 ``running-example.sqlite`` (ocpa
sample logs, 18,211 events, 10,031 objects of six types) copied until it holds ``--events``
events: every event id and object id of copy ``k`` ends in ``#k``; times, activities,
qualifiers and attributes are left as they are, so copies overlap in time (a busier shop, not
a longer one). The copies are ingested with ``Store.ingest`` in documents of about a million
events each, so each document's trace update stays bounded. The store is built once in
``--workdir`` and reused by later runs.

Then, in a fresh process per run (nothing cached from the build or an earlier run), it opens
the store and times ``analyze(Log.open(store))``: every view the morning report shows for the
object type it follows (process map, variants, object times, step statistics, bottlenecks,
days of supply, the wastes with their Pareto, bullwhip and the value stream map). It prints
the total, the seconds of each view (``Report.seconds``; medians over ``--runs``) and the
process's peak memory (max RSS, which includes DuckDB's buffers), with DuckDB's own count of
the memory it holds at the end.

No peer tool computes all these views (pm4py has the process maps and variants, none has the
lean views: flow times with Little's law, bottlenecks, days of supply, the eight wastes,
bullwhip, the value stream map), so there is no peer figure here; ``bench/analytics.py``
compares the process maps with pm4py.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _replicate import suffixed  # bench/_replicate.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RUNNING = DATA / "ocel" / "running-example.sqlite"
DOCUMENT_EVENTS = 1_000_000


def build_store(workdir: Path, events: int) -> tuple[Path, float | None]:
    """The store of about ``events`` events (built unless already in ``workdir``) and the
    seconds the build took (None when reused)."""
    from keiretsu.io.detect import read_any
    from keiretsu.model import Ocel
    from keiretsu.store import Store

    path = workdir / f"running-example-{events}.duckdb"
    if path.exists():
        return path, None
    workdir.mkdir(parents=True, exist_ok=True)
    source = Ocel.concat(read_any(RUNNING))
    per_copy = source.events.num_rows
    copies = max(1, round(events / per_copy))
    per_document = max(1, round(DOCUMENT_EVENTS / per_copy))
    tmp = path.with_suffix(".building")
    tmp.unlink(missing_ok=True)
    t0 = time.perf_counter()
    # a document of a million events: the trace update after it needs more than the store's
    # default 256 MB for ingest (it ran out of memory there on 2026-12-03)
    with Store(tmp, ingest_memory_limit="2GB") as store:
        for first in range(0, copies, per_document):
            last = min(copies, first + per_document)

            def batches(lo: int = first, hi: int = last) -> Iterator[Any]:
                for k in range(lo, hi):
                    yield suffixed(source, f"#{k}")

            report = store.ingest(batches(), document=f"{RUNNING.name} copies {first}-{last - 1}")
            assert report.status == "accepted", report
            print(
                f"  ingested copies {first}-{last - 1} ({report.events_new:,} events) "
                f"at {time.perf_counter() - t0:.0f} s",
                flush=True,
            )
    tmp.rename(path)
    return path, time.perf_counter() - t0


# Run in a fresh process: open the store, run every view, report seconds and memory as JSON.
MEASURE = """
import json, resource, sys, time
t0 = time.perf_counter()
from keiretsu.analytics import Log
from keiretsu.analytics.report import analyze
t_import = time.perf_counter() - t0
t0 = time.perf_counter()
breakdown = {}
try:
    from keiretsu.analytics import sqlcache
    import keiretsu.analytics.report as report_module
except ImportError:  # code from before the SQL cache (an A/B run): no breakdown
    sqlcache = None
if sqlcache is not None and sys.argv[3] == "profile":
    def wrapped(view, fn):
        def call(*a, **k):
            before = sqlcache.stats()
            try:
                return fn(*a, **k)
            finally:
                after = sqlcache.stats()
                d = breakdown.setdefault(view, dict.fromkeys(after, 0))
                for key in after:
                    d[key] += after[key] - before[key]
        return call
    for view in PROFILED:
        setattr(report_module, view, wrapped(view, getattr(report_module, view)))
log = Log.open(sys.argv[1], memory_limit=sys.argv[2] or None)
report = analyze(log)
total = time.perf_counter() - t0
duck = log.backend.raw_sql(
    "SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory()"
).fetchall()[0][0]
events = log.scalar(log.events.count())
print(json.dumps({
    "events": events,
    "object_type": report.object_type,
    "total": total,
    "import": t_import,
    "seconds": report.seconds,
    "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "cpu": (lambda r: r.ru_utime + r.ru_stime)(resource.getrusage(resource.RUSAGE_SELF)),
    "duckdb_mib": duck / 2**20,
    "sql": sqlcache.stats() if sqlcache is not None else None,
    "breakdown": breakdown,
}))
"""


# the functions analyze() calls, by their names in keiretsu.analytics.report (--profile)
PROFILED = [
    "customer_demand",
    "ocdfg",
    "variants",
    "object_times",
    "visits",
    "step_stats",
    "bottlenecks",
    "factory_physics",
    "littles_law_check",
    "escaped_defects",
    "days_of_supply",
    "wastes",
    "bullwhip",
    "value_stream_map",
]
MEASURE = MEASURE.replace("PROFILED", repr(PROFILED))


def measure(
    store: Path,
    memory_limit: str,
    *,
    src: Path | None = None,
    sql_cache: str = "",
    profile: bool = False,
) -> dict[str, Any]:
    """One fresh process: ``analyze`` on ``store`` with the code in ``src`` (this checkout's
    by default) and ``KEIRETSU_SQL_CACHE=sql_cache`` (unset: the user's cache)."""
    env = dict(os.environ, PYTHONPATH=str(src or ROOT / "src"))
    if sql_cache:
        env["KEIRETSU_SQL_CACHE"] = sql_cache
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, str(store), memory_limit, "profile" if profile else ""],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=3, help="fresh processes (median)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/keiretsu-bench-views"))
    parser.add_argument(
        "--memory-limit",
        default="2500MB",
        help="DuckDB's memory cap for the views (Log.open(memory_limit=...)); '' for DuckDB's "
        "default (80%% of the machine's memory). 2500MB keeps the process within the aim's "
        "4 GiB at 10M events (Python holds ~1.4 GiB beside it) at no cost in time; 2GB within "
        "4*10^9 bytes, ~10%% slower. Before the data boxes read their visits step by step "
        "(2026-12-05), the views ran out of memory below 3GB",
    )
    parser.add_argument(
        "--store",
        type=Path,
        help="time analyze() on this store instead of the generated one (e.g. the demo's, "
        "or an ingested XES log)",
    )
    parser.add_argument(
        "--src",
        type=Path,
        help="run keiretsu from this source tree (an A/B run: a `git worktree` of an older "
        "commit's src/)",
    )
    parser.add_argument(
        "--sql-cache",
        choices=["cold", "warm", "user"],
        default="user",
        help="cold: an empty compiled-SQL cache each run (a first run on a machine); warm: one "
        "cache primed by a run before the timed ones (every later run); user: the user's own "
        "cache as it is (default)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="per view: queries run, compiled, and seconds compiling (Ibis) and querying "
        "(DuckDB); the rest is building the expressions and Python",
    )
    args = parser.parse_args()

    print(
        f"# every view of the morning report — {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {sys.version.split()[0]}; median of {args.runs} fresh processes"
    )
    print("# no peer tool computes all these views: no peer figure (maps: bench/analytics.py)")
    if args.store is not None:
        store, built = args.store, None
    else:
        store, built = build_store(args.workdir, args.events)
    size = store.stat().st_size / 2**20
    if built is None:
        print(f"store {store} reused ({size:,.0f} MiB)")
    else:
        print(f"store {store} built in {built:.0f} s ({size:,.0f} MiB)")
    import tempfile

    scratch = Path(tempfile.mkdtemp(prefix="keiretsu-views-sql-"))

    def cache_for(run: int) -> str:
        if args.sql_cache == "cold":
            return str(scratch / f"cold-{run}")
        if args.sql_cache == "warm":
            return str(scratch / "warm")
        return ""

    if args.sql_cache == "warm":  # prime it
        measure(store, args.memory_limit, src=args.src, sql_cache=cache_for(-1))
    runs = [
        measure(
            store,
            args.memory_limit,
            src=args.src,
            sql_cache=cache_for(i),
            profile=args.profile,
        )
        for i in range(args.runs)
    ]
    print(f"  code: {args.src or ROOT / 'src'}; compiled-SQL cache: {args.sql_cache}")
    first = runs[0]
    totals = [r["total"] for r in runs]
    rss = [r["max_rss_mib"] for r in runs]
    print(
        (
            f"{store.name}"
            if args.store is not None
            else f"running-example x{math.ceil(first['events'] / 18_211)}"
        )
        + f": {first['events']:,} events, "
        f"following {first['object_type']!r}"
    )
    print(
        f"  analyze(Log.open(store, memory_limit={args.memory_limit!r})): "
        f"{statistics.median(totals):.2f} s "
        f"(min {min(totals):.2f}, max {max(totals):.2f}); "
        f"peak RSS {statistics.median(rss):,.0f} MiB (max {max(rss):,.0f}); "
        f"DuckDB holds {statistics.median(r['duckdb_mib'] for r in runs):,.0f} MiB at the end"
    )
    # CPU seconds (user + system, every DuckDB thread) of the whole process, import included:
    # on a shared machine the wall seconds swing with the load, the CPU seconds far less
    print(
        f"  CPU {statistics.median(r.get('cpu', math.nan) for r in runs):.1f} s "
        f"(process, import included); load average {os.getloadavg()[0]:.1f} at the end"
    )
    for view in first["seconds"]:
        values = [r["seconds"][view] for r in runs]
        share = statistics.median(values) / statistics.median(totals)
        print(f"    {view:<18} {statistics.median(values):7.2f} s  ({share:5.1%})")
    if first.get("sql"):
        sql = first["sql"]
        print(
            f"  SQL (first run): {sql['queries']:.0f} queries, {sql['compiled']:.0f} compiled, "
            f"{sql['hits'] + sql['disk_hits']:.0f} from the cache; "
            f"compiling {statistics.median(r['sql']['compile_seconds'] for r in runs):.2f} s, "
            f"querying {statistics.median(r['sql']['query_seconds'] for r in runs):.2f} s "
            "(medians)"
        )
    if args.profile and first.get("breakdown"):
        print(f"  {'function':<18} {'queries':>7} {'compiled':>8} {'compile s':>9} {'query s':>8}")
        for fn in PROFILED:
            rows = [r["breakdown"].get(fn) for r in runs if r["breakdown"].get(fn)]
            if not rows:
                continue

            def med(key: str, rows: list[dict[str, float]] = rows) -> float:
                return statistics.median(r[key] for r in rows)

            print(
                f"  {fn:<18} {med('queries'):7.0f} {med('compiled'):8.0f} "
                f"{med('compile_seconds'):9.2f} {med('query_seconds'):8.2f}"
            )


if __name__ == "__main__":
    main()
