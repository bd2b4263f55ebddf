"""Ingest speed: events per second into the durable store, against pm4py's readers, in one run.

    make bench        # or: .venv/bin/python bench/ingest.py [--runs 3] [--events 200000]

For each input it times keiretsu's *whole* ingest (parse, validate, map to OCEL, store durably in
DuckDB, commit) and, where pm4py has a reader for the format, pm4py's reader on the same file
(pm4py only parses into memory: it stores nothing). Each figure is the median of ``--runs`` runs.
Then it measures the peak memory (max RSS) of ingesting a 1M-event EPCIS JSON document in a fresh
process.

Inputs: synthetic EPCIS 2.0 JSON and XML documents of a two-company chain (written by
``keiretsu.io.epcis.synth``; EPCIS has no pm4py reader), the OCEL 2.0 ``running-example.sqlite``
(ocpa sample logs) and the BPI Challenge 2012 XES log (4TU.ResearchData), both from ../shared/data.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def median_time(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def keiretsu_ingest(path: Path, fmt: str | None = None) -> Callable[[], int]:
    from keiretsu.store import Store

    def run() -> int:
        with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "bench.duckdb") as store:
            report = store.ingest_file(path, format=fmt)
            return report.events_read

    return run


def count_events(path: Path, fmt: str | None = None) -> int:
    return keiretsu_ingest(path, fmt)()


def pm4py_reader(kind: str, path: Path) -> Callable[[], object] | None:
    try:
        import pm4py
    except ImportError:
        return None
    if kind == "xes":
        return lambda: pm4py.read_xes(str(path))
    if kind == "ocel-sqlite":
        return lambda: pm4py.read_ocel2_sqlite(str(path))
    if kind == "ocel-json":
        return lambda: pm4py.read_ocel2_json(str(path))
    if kind == "ocel-xml":
        return lambda: pm4py.read_ocel2_xml(str(path))
    return None


PEAK_SCRIPT = """
import resource, sys, time
from keiretsu.store import Store
t0 = time.perf_counter()
with Store(sys.argv[2]) as store:
    r = store.ingest_file(sys.argv[1])
secs = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{r.events_read} {secs:.3f} {peak:.1f}")
"""


def peak_memory(path: Path) -> tuple[int, float, float]:
    """(events, seconds, peak RSS in MiB) of ingesting ``path`` in a fresh process."""
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [sys.executable, "-c", PEAK_SCRIPT, str(path), str(Path(tmp) / "peak.duckdb")],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    return int(out[0]), float(out[1]), float(out[2])


def main() -> None:
    os.environ.setdefault("TQDM_DISABLE", "1")  # pm4py's progress bars would drown the figures
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--events", type=int, default=200_000, help="synthetic EPCIS events")
    parser.add_argument("--peak-events", type=int, default=1_000_000, help="events for peak RSS")
    parser.add_argument("--skip-peak", action="store_true")
    args = parser.parse_args()

    from keiretsu.io.epcis.synth import write_synthetic_epcis_json, write_synthetic_epcis_xml

    print(
        f"# keiretsu ingest bench — {platform.processor() or platform.machine()}, "
        f"python {platform.python_version()}, median of {args.runs} runs"
    )
    try:
        import pm4py

        print(f"# pm4py {pm4py.__version__}")
    except ImportError:
        print("# pm4py not installed: no peer figures (pip install -e '.[bench]')")

    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        inputs: list[tuple[str, str, Path, str | None]] = []
        json_doc = tmpdir / "synthetic.jsonld"
        xml_doc = tmpdir / "synthetic.xml"
        write_synthetic_epcis_json(json_doc, args.events)
        write_synthetic_epcis_xml(xml_doc, args.events)
        inputs += [
            ("EPCIS JSON (synthetic)", "epcis-json", json_doc, None),
            ("EPCIS XML (synthetic)", "epcis-xml", xml_doc, None),
            (
                "OCEL 2.0 SQLite running-example",
                "ocel-sqlite",
                DATA / "ocel/running-example.sqlite",
                None,
            ),
            ("XES bpic2012.xes.gz", "xes", DATA / "logs/bpic2012.xes.gz", None),
        ]
        for label, kind, path, fmt in inputs:
            if not path.exists():
                print(f"{label}: {path} missing, skipped")
                continue
            n = count_events(path, fmt)
            ours = median_time(keiretsu_ingest(path, fmt), args.runs)
            line = f"{label}: {n:,} events; keiretsu ingest {ours:.2f} s = {n / ours:,.0f} events/s"
            peer = pm4py_reader(kind, path)
            if peer is not None:
                theirs = median_time(peer, args.runs)
                line += (
                    f"; pm4py read {theirs:.2f} s = {n / theirs:,.0f} events/s"
                    f"; ratio {theirs / ours:.1f}x"
                )
            print(line, flush=True)

        if not args.skip_peak:
            big = tmpdir / "big.jsonld"
            write_synthetic_epcis_json(big, args.peak_events)
            size = big.stat().st_size / 2**20
            n, secs, peak = peak_memory(big)
            print(
                f"peak memory, EPCIS JSON {n:,} events ({size:,.0f} MiB file): "
                f"max RSS {peak:,.0f} MiB; {secs:.1f} s = {n / secs:,.0f} events/s"
            )


if __name__ == "__main__":
    main()
