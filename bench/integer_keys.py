"""Integer keys for objects and events (issue #14, item 2): what they would save, measured
before the schema is changed.

    .venv/bin/python bench/integer_keys.py [--events 10000000] [--runs 3] [--workdir DIR]

The store keeps objects and events by their text ids (an EPC URN, ``i-880001#12``…) in every
table that names them: ``event_object``, the traces' ``object_step``, the attributes. The
alternative is a dictionary table per kind — each id stored once with an integer key — and the
integer in every other row. This script measures both layouts on the same rows, in one run:

* **Views.** From the 10M-event store of ``bench/views.py`` (built by it, or here if missing)
  it copies the visible traces twice into a scratch DuckDB file: ``steps_text`` as stored
  (object and event ids as text), ``steps_int`` with the object id replaced by its key in a
  dictionary of objects and each event id by its read order ``seq`` (already an integer per
  event); the objects' attributes likewise (``attr_text``, ``attr_int``). Then it times the
  query shapes the morning report's views spend their time in — the process map's counts per
  edge and per step (``count(DISTINCT …)`` over ~20M rows), per-object aggregation, a trace
  joined with itself (step to next step), distinct event–object pairs, and steps joined with
  their object's attribute (the data boxes' product) — on each layout, in the same process,
  DuckDB capped at 3 GB on both cores as ``Log.open`` has it.
* **Writes.** The first million trace rows of each layout appended into a fresh file and
  committed (with a checkpoint), on one thread as the ingest does: CPU seconds and file size.

It prints each figure for both layouts with the ratio text / integer (above 1: the integer
layout is faster). Medians of ``--runs`` runs, the two layouts interleaved.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import duckdb

from views import build_store  # bench/views.py, beside this script

DURATION = "(epoch(next_time) - epoch(time))"
EDGES = "FROM {t} WHERE next_seq IS NOT NULL GROUP BY object_type, activity, next_activity"
QUERIES = {
    "process map: edges (counts, distinct pairs and objects, durations)": (
        "SELECT object_type, activity, next_activity, count(*), "
        "count(DISTINCT {{'s': seq, 'n': next_seq}}), count(DISTINCT object_id), "
        f"avg({DURATION}), quantile_cont({DURATION}, [0.5, 0.9]), min({DURATION}), "
        f"max({DURATION}) {EDGES}"
    ),
    "process map: distinct objects per edge": (
        f"SELECT object_type, activity, next_activity, count(DISTINCT object_id) {EDGES}"
    ),
    "process map: events and objects per step": (
        "SELECT object_type, activity, count(DISTINCT seq), count(DISTINCT object_id), "
        "count(*) FROM {t} GROUP BY object_type, activity"
    ),
    "per object: steps, first and last time": (
        "SELECT count(*) FROM (SELECT object_id, count(*), min(time), max(time) FROM {t} "
        "GROUP BY object_id)"
    ),
    "trace joined with itself (step to next step)": (
        "SELECT count(*) FROM {t} a JOIN {t} b ON a.object_id = b.object_id AND a.next_seq = b.seq"
    ),
    "distinct event-object pairs": (
        "SELECT count(*) FROM (SELECT DISTINCT event_id, object_id FROM {t})"
    ),
    "steps joined with their object's attributes": (
        "SELECT count(*), count(DISTINCT a.value) FROM {t} s JOIN {a} a "
        "ON a.object_id = s.object_id"
    ),
}


def build_layouts(store: Path, scratch: Path) -> None:
    """Copy the store's traces and object attributes into ``scratch`` in both layouts."""
    con = duckdb.connect(str(scratch))
    con.execute("SET memory_limit = '3GB'")
    con.execute(f"ATTACH '{store}' AS s (READ_ONLY)")
    con.execute(
        "CREATE TABLE objects AS SELECT row_number() OVER () AS k, ocel_id FROM s.ocel_object"
    )
    con.execute(
        """
        CREATE TABLE steps_text AS
        SELECT object_id, object_type, event_id, activity, time, seq, position,
               next_event_id, next_activity, next_time, next_seq, pass_index
        FROM s.object_steps
        """
    )
    # the same rows, the same order (by event), with integer keys
    con.execute(
        """
        CREATE TABLE steps_int AS
        SELECT o.k AS object_id, t.object_type, t.seq AS event_id, t.activity, t.time, t.seq,
               t.position, t.next_seq AS next_event_id, t.next_activity, t.next_time,
               t.next_seq, t.pass_index
        FROM steps_text t JOIN objects o ON o.ocel_id = t.object_id
        ORDER BY t.seq, o.k
        """
    )
    con.execute("CREATE TABLE steps_text_sorted AS SELECT * FROM steps_text ORDER BY seq")
    con.execute("DROP TABLE steps_text")
    con.execute("ALTER TABLE steps_text_sorted RENAME TO steps_text")
    con.execute(
        """
        CREATE TABLE attr_text AS
        SELECT ocel_id AS object_id, ocel_name AS name, ocel_value AS value
        FROM s.ocel_object_attribute
        """
    )
    con.execute(
        """
        CREATE TABLE attr_int AS
        SELECT o.k AS object_id, a.name, a.value
        FROM attr_text a JOIN objects o ON o.ocel_id = a.object_id
        """
    )
    con.execute("CHECKPOINT")
    con.close()


def time_queries(scratch: Path, runs: int) -> dict[str, tuple[float, float]]:
    """Median seconds of each query on the text and the integer layout."""
    con = duckdb.connect(str(scratch), read_only=True)
    con.execute("SET memory_limit = '3GB'")
    out: dict[str, tuple[float, float]] = {}
    for name, sql in QUERIES.items():
        times: dict[str, list[float]] = {"text": [], "int": []}
        for _ in range(runs):
            for layout in ("text", "int"):
                query = sql.format(t=f"steps_{layout}", a=f"attr_{layout}")
                t0 = time.perf_counter()
                con.execute(query).fetchall()
                times[layout].append(time.perf_counter() - t0)
        out[name] = (statistics.median(times["text"]), statistics.median(times["int"]))
    con.close()
    return out


def time_writes(scratch: Path, runs: int, rows: int) -> dict[str, tuple[float, float, float]]:
    """Per layout: median CPU seconds to append ``rows`` trace rows, to commit them (with a
    checkpoint), and the file's size in MiB."""
    src = duckdb.connect(str(scratch), read_only=True)
    tables = {
        layout: src.sql(f"SELECT * FROM steps_{layout} ORDER BY seq LIMIT {rows}").to_arrow_table()
        for layout in ("text", "int")
    }
    src.close()
    found: dict[str, list[tuple[float, float, float]]] = {"text": [], "int": []}
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(runs):
            for layout, table in tables.items():
                path = Path(tmp) / f"{layout}-{run}.duckdb"
                con = duckdb.connect(str(path))
                con.execute("SET threads = 1")
                con.register("batch", table)
                con.execute("CREATE TABLE t AS SELECT * FROM batch LIMIT 0")
                t0 = time.process_time()
                con.execute("BEGIN TRANSACTION")
                con.execute("INSERT INTO t SELECT * FROM batch")
                t1 = time.process_time()
                con.execute("COMMIT")
                con.execute("CHECKPOINT")
                t2 = time.process_time()
                con.close()
                found[layout].append((t1 - t0, t2 - t1, path.stat().st_size / 2**20))
    return {
        layout: tuple(statistics.median(r[i] for r in results) for i in range(3))  # type: ignore[misc]
        for layout, results in found.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/keiretsu-bench-views"))
    parser.add_argument("--write-rows", type=int, default=1_000_000)
    args = parser.parse_args()
    print(
        f"# integer keys vs text ids — {platform.machine()}, {os.cpu_count()} cores, "
        f"DuckDB {duckdb.__version__}; medians of {args.runs} runs, layouts interleaved"
    )
    store, built = build_store(args.workdir, args.events)
    print(f"store {store} {'reused' if built is None else f'built in {built:.0f} s'}")
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp) / "layouts.duckdb"
        t0 = time.perf_counter()
        build_layouts(store, scratch)
        con = duckdb.connect(str(scratch), read_only=True)
        n = con.execute("SELECT count(*) FROM steps_text").fetchone()[0]  # type: ignore[index]
        con.close()
        print(f"layouts copied in {time.perf_counter() - t0:.0f} s: {n:,} trace rows each")
        print(f"{'query':<70} {'text':>8} {'integer':>8} {'ratio':>6}")
        for name, (text, integer) in time_queries(scratch, args.runs).items():
            print(f"{name:<70} {text:7.2f}s {integer:7.2f}s {text / integer:5.2f}x")
        writes = time_writes(scratch, args.runs, args.write_rows)
        (ta, tc, ts), (ia, ic, isz) = writes["text"], writes["int"]
        print(f"{args.write_rows:,} trace rows written, one thread (CPU seconds):")
        print(f"  append  text {ta:.2f} s, integer {ia:.2f} s = {ta / ia:.2f}x")
        print(f"  commit  text {tc:.2f} s, integer {ic:.2f} s = {tc / ic:.2f}x")
        print(f"  file    text {ts:.0f} MiB, integer {isz:.0f} MiB")


if __name__ == "__main__":
    main()
