"""What a push reads back from a large store: the node's own rows of the events of one
document, as delivery reads them before the sharing policy (``local_ocel``), this code beside
every table scanned and, with ``--src``, another checkout.

    python bench/push_readback.py                                   # the 1M-event chain store
    python bench/push_readback.py --store OTHER.duckdb --src /tmp/base/src

The store is `bench/capture_large_store.py`'s (the first million events of the synthetic
two-company chain, GS1 Digital Link ids; build it with ``capture_large_store.py --events
1000000`` first) or ``--store``, opened read-only. The events read are the first ``--events``
(100 and 1,000 by default) of the store's last accepted document, with the push's shortcut
(every event came in that document: its rows are read from the newer part of the event
tables). Variants, each in a fresh process, ``--rounds`` reads each (the first is its cold
cache, left out of the median):

* this checkout as it ships: the events' objects, their attribute values, links and types
  read through the store's indexes when the store is far larger than what is read
  (``keiretsu.store.partner_view.READ_BY_KEY_RATIO``);
* this checkout with every table scanned (the ratio set to infinity): the peer within;
* with ``--src``, another checkout's ``src``.

Prints the median milliseconds per read and the ratio to this checkout.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STORE = Path(tempfile.gettempdir()) / "keiretsu-bench-capture" / "stream-7-1000000.duckdb"

SCRIPT = r"""
import json, sys, time
import duckdb
import keiretsu.store.partner_view as pv
path, size, rounds, ratio = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
if ratio != "shipped" and hasattr(pv, "READ_BY_KEY_RATIO"):
    pv.READ_BY_KEY_RATIO = float(ratio)
con = duckdb.connect(path, read_only=True)
last = con.execute(
    "SELECT max(ingest_id) FROM ingest_log WHERE status = 'accepted' AND source = 'local'"
).fetchone()[0]
ids = [r[0] for r in con.execute(
    "SELECT ocel_id FROM event WHERE ingest_id = ? ORDER BY ocel_seq LIMIT ?", [last, size]
).fetchall()]
ms = []
for _ in range(rounds):
    t0 = time.perf_counter()
    log, _ = pv.local_ocel(con, ids, newer_than=last - 1)
    ms.append(1000 * (time.perf_counter() - t0))
print(json.dumps({"ms": ms, "events": log.num_events, "objects": log.objects.num_rows}))
"""


def run(store: Path, size: int, rounds: int, ratio: str, src: Path | None) -> dict:
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(store), str(size), str(rounds), ratio],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=STORE)
    parser.add_argument("--events", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--src", type=Path, help="another checkout's src/ to compare with")
    args = parser.parse_args()
    if not args.store.exists():
        sys.exit(f"{args.store}: no store (python bench/capture_large_store.py --events 1000000)")
    print(f"# push read-back from {args.store} ({args.store.stat().st_size / 2**20:,.0f} MiB)")
    variants = [("this checkout", "shipped", None), ("every table scanned", "inf", None)]
    if args.src is not None:
        variants.append((f"--src {args.src}", "shipped", args.src))
    for size in args.events:
        base = None
        for label, ratio, src in variants:
            got = run(args.store, size, args.rounds, ratio, src)
            median = statistics.median(got["ms"][1:])
            base = base or median
            print(
                f"{size:>6,} events ({got['objects']:,} objects): {label:<28} "
                f"{median:8.1f} ms (cold {got['ms'][0]:.0f} ms)  x{median / base:.2f}"
            )


if __name__ == "__main__":
    main()
