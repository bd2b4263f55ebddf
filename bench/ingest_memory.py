"""Peak memory of a 1M-event EPCIS 2.0 JSON ingest (a 771 MiB document), writer and reader.

    python bench/ingest_memory.py [--events 1000000]

Prints the document's size, the ingest's time and the peak resident memory of the writer (this
store's process) and of the reader process it starts. The aim (issue #2): under 1 GiB each.
`tests/store/test_large.py` holds the same bound at 200,000 events in `make test`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from keiretsu.io.epcis.synth import write_synthetic_epcis_json

SCRIPT = """
import resource, sys
from keiretsu.store import Store
with Store(sys.argv[2]) as store:
    report = store.ingest_file(sys.argv[1])
    events = store.summary().events
me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
reader = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(report.events_read, events, me, reader)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="keiretsu-memory-") as tmp:
        doc = Path(tmp) / "large.jsonld"
        write_synthetic_epcis_json(doc, args.events)
        size = doc.stat().st_size / 2**20
        t0 = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", SCRIPT, str(doc), str(Path(tmp) / "n.duckdb")],
            capture_output=True,
            text=True,
            check=True,
        )
        seconds = time.perf_counter() - t0
    read, stored, writer_kib, reader_kib = (int(x) for x in out.stdout.split()[-4:])
    print(f"document: {args.events:,} events, {size:,.0f} MiB; read {read:,}, stored {stored:,}")
    print(f"ingest: {seconds:,.1f} s = {read / seconds:,.0f} events/s")
    print(f"peak memory: writer {writer_kib / 1024:,.0f} MiB, reader {reader_kib / 1024:,.0f} MiB")
    ok = writer_kib < 2**20 and reader_kib < 2**20
    print("under 1 GiB each: " + ("met" if ok else "NOT met"))


if __name__ == "__main__":
    main()
