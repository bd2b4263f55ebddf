"""A capture into a large store: what a 1,000-event document costs when the node already holds
millions of events, stage by stage, this code beside another.

    STORE=/tmp/keiretsu-bench-views/running-example-10000000.duckdb
    python bench/capture_large_store.py --store $STORE
    python bench/capture_large_store.py --store $STORE --src /tmp/base/src   # another checkout

``--store`` is a store to start from, copied afresh for each variant (`bench/views.py --events
10000000` leaves the 10M-event one it builds: the running example x549, 5.5M objects). Into the
copy go ``--docs`` documents of 1,000 events (the synthetic two-company chain `bench/node.py`
posts, every event new, many of their objects new and some — locations, pallets — known),
one after another, as a node stores a capture (``Store.ingest_file`` with the node's checkpoint
threshold). Variants, each in a fresh process:

* this checkout as it ships: the ids a document brings are looked up through their ART
  index when the store is large (``IngestMixin.PROBE_ROW_RATIO``), and the trace update takes
  the objects' types from those lookups;
* this checkout with every lookup a scan (``PROBE_ROW_RATIO`` = infinity): the peer within;
* with ``--src``, another checkout's ``src`` (for instance the commit before the change).

Prints the median milliseconds of each stage over the documents after the first (its cold
cache is its own), the median whole ingest and the ratios to this checkout.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("read", "write:event", "write:object", "write", "traces", "commit", "total")

SCRIPT = r"""
import json, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[5])
from node import documents
from keiretsu.node.runtime import CHECKPOINT_THRESHOLD
from keiretsu.store import Store

store_path, docs, folder, ratio = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
source = documents(1000, "stream", seed=7)
out = []
with Store(store_path) as store:
    store.con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
    if ratio != "default":
        store.PROBE_ROW_RATIO = float(ratio)
    for i in range(docs):
        path = folder / f"capture-{i}.json"
        path.write_bytes(next(source).body)
        t0 = time.perf_counter()
        report = store.ingest_file(path, parallel=False)
        row = {k: 1000 * v for k, v in report.stages.items()}
        row["total"] = 1000 * (time.perf_counter() - t0)
        out.append(row)
print(json.dumps(out))
"""


def run(store: Path, docs: int, src: Path, ratio: str) -> list[dict[str, float]]:
    """Copy ``store``, capture ``docs`` documents into the copy with the code under ``src``."""
    with tempfile.TemporaryDirectory(prefix="keiretsu-capture-large-") as tmp:
        copy = Path(tmp) / "twin.duckdb"
        shutil.copyfile(store, copy)
        env = {**os.environ, "PYTHONPATH": str(src)}
        result = subprocess.run(
            [sys.executable, "-c", SCRIPT, str(copy), str(docs), tmp, ratio, str(ROOT / "bench")],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
    rows: list[dict[str, float]] = json.loads(result.stdout.strip().splitlines()[-1])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True, help="a large store to start from")
    parser.add_argument("--docs", type=int, default=11, help="documents of 1,000 events")
    parser.add_argument("--src", type=Path, help="another checkout's src/ to compare with")
    args = parser.parse_args()
    variants = [
        ("this checkout", ROOT / "src", "default"),
        ("this checkout, every lookup a scan", ROOT / "src", "inf"),
    ]
    if args.src:
        variants.append((f"{args.src}", args.src, "default"))
    medians = {}
    for label, src, ratio in variants:
        rows = run(args.store, args.docs, src, ratio)[1:]  # the first pays for a cold cache
        med = {k: statistics.median(r.get(k, 0.0) for r in rows) for k in STAGES}
        medians[label] = med
        stages = "  ".join(f"{k} {med[k]:6.1f}" for k in STAGES)
        print(f"{label}: {len(rows)} documents, median ms  {stages}", flush=True)
    ours = medians["this checkout"]["total"]
    for label, med in medians.items():
        print(
            f"{label}: {med['total']:.0f} ms a document = "
            f"{1000 * 1000 / med['total']:,.0f} events/s "
            f"({med['total'] / ours:.2f}x this checkout's time)"
        )


if __name__ == "__main__":
    main()
