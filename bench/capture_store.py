"""A capture's store, stage by stage, as the store grows: the writer's half of `bench/node.py`
without HTTP, processes or a second node.

    python bench/capture_store.py [--docs 60] [--size 1000] [--workload stream|seeds]

Documents of ``--size`` events (the same synthetic documents `bench/node.py` posts: slices of
one time-ordered stream of the two-company chain, or whole documents of distinct seeds that
revisit the same objects) are stored one after another into one store, in this process, by
``Store.ingest`` — twice, in one run: with a capture's trace steps linked in NumPy (as the store
ships: ``keiretsu.store.traces.LINK_ROWS``) and with DuckDB's window functions (the way every
document was linked before, and a large document still is: ``LINK_ROWS = 0``). Each store has
the node's checkpoint threshold. Prints, per ten documents, the median milliseconds of each
stage (``IngestReport.stages``: read, write, traces, commit) and the events per second of the
whole ingest, then the ratio of the trace update's medians over the run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from keiretsu.node.runtime import CHECKPOINT_THRESHOLD
from keiretsu.store import Store

sys.path.insert(0, str(Path(__file__).parent))
from node import documents  # bench/node.py: the documents the node bench posts

STAGES = ("read", "write", "traces", "commit")


def run(root: Path, docs: int, size: int, workload: str, link_rows: int) -> list[dict[str, float]]:
    """Store ``docs`` documents one after another; the stages of each (ms) and its total."""
    source = documents(size, workload, seed=1)
    out: list[dict[str, float]] = []
    with Store(root / "twin.duckdb") as store:
        store.con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
        store.LINK_ROWS = link_rows
        for i in range(docs):
            path = root / f"doc-{i}.json"
            path.write_bytes(next(source).body)
            t0 = time.perf_counter()
            report = store.ingest_file(path, parallel=False)
            total = time.perf_counter() - t0
            row = {s: 1000 * report.stages.get(s, 0.0) for s in STAGES}
            row["total"] = 1000 * total
            row["events"] = report.events_read
            out.append(row)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=60)
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--workload", choices=["stream", "seeds"], default="stream")
    args = parser.parse_args()
    results = {}
    for label, link_rows in (("NumPy", Store.LINK_ROWS), ("DuckDB windows", 0)):
        with tempfile.TemporaryDirectory(prefix="keiretsu-capture-") as tmp:
            rows = run(Path(tmp), args.docs, args.size, args.workload, link_rows)
        results[label] = rows
        print(f"{label}: {args.docs} documents of {args.size} events ({args.workload})")
        for start in range(0, len(rows), 10):
            chunk = rows[start : start + 10]
            med = {k: statistics.median(r[k] for r in chunk) for k in (*STAGES, "total")}
            events = sum(r["events"] for r in chunk)
            rate = events / (sum(r["total"] for r in chunk) / 1000)
            stages = "  ".join(f"{k} {med[k]:6.1f}" for k in STAGES)
            print(
                f"  documents {start + 1:3d}-{start + len(chunk):3d}: {stages}  "
                f"(median ms)  {rate:,.0f} events/s"
            )
    ours = statistics.median(r["traces"] for r in results["NumPy"])
    windows = statistics.median(r["traces"] for r in results["DuckDB windows"])
    rate = {
        k: sum(r["events"] for r in v) / (sum(r["total"] for r in v) / 1000)
        for k, v in results.items()
    }
    print(
        f"trace update, median over the run: NumPy {ours:.1f} ms, DuckDB windows {windows:.1f} ms "
        f"= {windows / ours:.2f}x; whole ingest {rate['NumPy']:,.0f} vs "
        f"{rate['DuckDB windows']:,.0f} events/s = {rate['NumPy'] / rate['DuckDB windows']:.2f}x"
    )


if __name__ == "__main__":
    main()
