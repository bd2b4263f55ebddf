"""A large EPCIS document streams into the store in bounded memory.

200,000 events (a 154 MiB document): `json.load` of 250,000 alone peaks at 981 MiB (measured),
so a reader or writer that held the document in memory would break the 1 GiB bound. At 200,000
the trace update once ran out of the ingest's 256 MB of DuckDB memory (the indexes' new entries,
held in memory until a checkpoint: 120 MB) where 250,000 passed — this size is the one that
failed. The 1M-event
run (771 MiB, about 7 minutes here) is `bench/ingest_memory.py`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from keiretsu.io.epcis.synth import write_synthetic_epcis_json

SCRIPT = """
import resource, sys
from keiretsu.store import Store
with Store(sys.argv[2]) as store:
    report = store.ingest_file(sys.argv[1])
    events = store.summary().events
me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
reader = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(report.events_read, report.events_new, events, me, reader)
"""

EVENTS = 200_000


@pytest.mark.slow
@pytest.mark.memory  # measured alone: see the Makefile's test target
def test_a_large_document_ingests_under_one_gigabyte(tmp_path: Path) -> None:
    doc = tmp_path / "large.jsonld"
    write_synthetic_epcis_json(doc, EVENTS)
    assert doc.stat().st_size > 150 * 2**20
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(doc), str(tmp_path / "n.duckdb")],
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert out.returncode == 0, out.stderr
    read, new, stored, writer_kib, reader_kib = (int(x) for x in out.stdout.split()[-5:])
    assert read == new == stored == EVENTS
    # peak resident memory of each process (the writer, and the reader it starts), in KiB
    assert writer_kib < 1024 * 1024, f"writer peaked at {writer_kib / 1024:.0f} MiB"
    assert reader_kib < 1024 * 1024, f"reader peaked at {reader_kib / 1024:.0f} MiB"
