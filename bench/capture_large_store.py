"""A capture into a large store: what a 1,000-event document costs when the node already holds
a long history, stage by stage, this code beside another.

    python bench/capture_large_store.py --events 1000000          # builds the store (~5 min)
    python bench/capture_large_store.py --events 1000000 --src /tmp/base/src  # another checkout
    python bench/capture_large_store.py --store OTHER.duckdb      # any store to start from

The store holds the first ``--events`` events of the synthetic two-company chain's stream in
time order (the stream `bench/node.py` posts; GS1 Digital Link ids, so no id range of the
store's blocks can be skipped by its min/max), ingested as documents of 50,000 events and
kept at ``/tmp/keiretsu-bench-capture/`` for the next run. It is copied afresh for each
variant; into the copy go ``--docs`` documents of 1,000 events that *continue* the stream (as
the plant's next captures: new events, new pallets and items, known locations and open
pallets), one after another as a node stores a capture (``Store.ingest_file``, the node's
checkpoint threshold). With ``--store``, that store is copied instead and the captures are the
stream's first documents (`bench/views.py --events 10000000` leaves the 10M-event running
example it builds: 5.5M objects whose ids are not the stream's). Variants, each in a fresh
process:

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
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("read", "write:event", "write:object", "write", "traces", "commit", "total")

SEED = 7
CACHE = Path(tempfile.gettempdir()) / "keiretsu-bench-capture"

SCRIPT = r"""
import itertools, json, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[5])
from node import _document, time_ordered
from keiretsu.io.epcis.synth import synthetic_events
from keiretsu.node.runtime import CHECKPOINT_THRESHOLD
from keiretsu.store import Store

store_path, docs, folder, ratio = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
skip, seed = int(sys.argv[6]), int(sys.argv[7])
stream = itertools.islice(time_ordered(synthetic_events(5_000_000, seed=seed)), skip, None)
out = []
with Store(store_path) as store:
    store.con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
    if ratio != "default":
        store.PROBE_ROW_RATIO = float(ratio)
    for i in range(docs):
        path = folder / f"capture-{i}.json"
        path.write_bytes(_document(list(itertools.islice(stream, 1000))).body)
        t0 = time.perf_counter()
        try:
            report = store.ingest_file(path, parallel=False)
        except Exception as exc:  # the store refused it: say so and stop
            out.append({"failed": i, "error": f"{type(exc).__name__}: {str(exc)[:200]}"})
            break
        row = {k: 1000 * v for k, v in report.stages.items()}
        row["total"] = 1000 * (time.perf_counter() - t0)
        out.append(row)
print(json.dumps(out))
"""


def build(events: int) -> Path:
    """The store of the stream's first ``events`` events (made once, then kept)."""
    path = CACHE / f"stream-{SEED}-{events}.duckdb"
    if path.exists():
        return path
    sys.path.insert(0, str(ROOT / "bench"))
    from keiretsu.io.epcis.synth import synthetic_events
    from keiretsu.store import Store
    from node import _document, time_ordered

    CACHE.mkdir(exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    stream = itertools.islice(time_ordered(synthetic_events(5_000_000, seed=SEED)), events)
    t0 = time.perf_counter()
    with Store(partial) as store, tempfile.TemporaryDirectory() as tmp:
        doc = Path(tmp) / "history.jsonld"
        while chunk := list(itertools.islice(stream, 50_000)):
            doc.write_bytes(_document(chunk).body)
            store.ingest_file(doc)
    partial.rename(path)
    print(f"built {path} ({events:,} events) in {time.perf_counter() - t0:.0f} s", flush=True)
    return path


def run(store: Path, docs: int, src: Path, ratio: str, skip: int) -> list[dict[str, float]]:
    """Copy ``store``, capture ``docs`` documents into the copy with the code under ``src``."""
    with tempfile.TemporaryDirectory(prefix="keiretsu-capture-large-") as tmp:
        copy = Path(tmp) / "twin.duckdb"
        shutil.copyfile(store, copy)
        env = {**os.environ, "PYTHONPATH": str(src)}
        command = [sys.executable, "-c", SCRIPT, str(copy), str(docs), tmp, ratio]
        result = subprocess.run(
            [*command, str(ROOT / "bench"), str(skip), str(SEED)],
            capture_output=True,
            text=True,
            env=env,
        )
    if result.returncode:
        last = [line for line in result.stderr.splitlines() if "Error" in line][-1:]
        print(f"  {src} ({ratio}) failed: {' '.join(last)[:300]}", flush=True)
        return []
    rows: list[dict[str, float]] = json.loads(result.stdout.strip().splitlines()[-1])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="the store's history")
    parser.add_argument("--store", type=Path, help="a store to start from instead")
    parser.add_argument("--docs", type=int, default=11, help="documents of 1,000 events")
    parser.add_argument("--src", type=Path, help="another checkout's src/ to compare with")
    args = parser.parse_args()
    store, skip = (args.store, 0) if args.store else (build(args.events), args.events)
    variants = [
        ("this checkout", ROOT / "src", "default"),
        ("this checkout, every lookup a scan", ROOT / "src", "inf"),
    ]
    if args.src:
        variants.append((f"{args.src}", args.src, "default"))
    medians = {}
    for label, src, ratio in variants:
        rows = run(store, args.docs, src, ratio, skip)
        failed = [r for r in rows if "failed" in r]
        if failed:
            print(f"{label}: capture {int(failed[0]['failed']) + 1} refused: {failed[0]['error']}")
        rows = [r for r in rows if "failed" not in r][1:]  # the first pays for a cold cache
        if not rows:
            continue
        med = {k: statistics.median(r.get(k, 0.0) for r in rows) for k in STAGES}
        medians[label] = med
        stages = "  ".join(f"{k} {med[k]:6.1f}" for k in STAGES)
        print(f"{label}: {len(rows)} documents, median ms  {stages}", flush=True)
    if "this checkout" not in medians:
        return
    ours = medians["this checkout"]["total"]
    for label, med in medians.items():
        print(
            f"{label}: {med['total']:.0f} ms a document = "
            f"{1000 * 1000 / med['total']:,.0f} events/s "
            f"({med['total'] / ours:.2f}x this checkout's time)"
        )


if __name__ == "__main__":
    main()
