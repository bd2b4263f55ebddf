"""Ingest speed: events per second into the durable store, against pm4py's readers, in one run.

    make bench        # or: .venv/bin/python bench/ingest.py [--runs 3] [--events 200000]

For each input it times keiretsu's *whole* ingest (parse, validate, map to OCEL, store durably in
DuckDB, commit) and, where pm4py has a reader for the format, pm4py's reader on the same file
(pm4py only parses into memory: it stores nothing). Each figure is the median of ``--runs`` runs.
Below each line, where the time goes: the same ingest taken apart, its stages run one after
the other in this process (parse, validate, map, build for EPCIS; ``read`` for the other
formats, whose readers do the four at once; then the store's write — with each table's share —
commit, traces and finish), medians of ``--runs`` runs. In the whole ingest the reader's stages
run in a second process beside the store's (files of 8 MiB and more), so its time is about the
larger of the two halves, not their sum.
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


CLOCK: list[Callable[[], float]] = [time.perf_counter]
"""The stages' clock: wall seconds, or (``--cpu``) this process's CPU seconds."""


def epcis_reader_stages(path: Path, stages: dict[str, float]) -> list[object]:
    """Read an EPCIS document in this process as ``read_epcis`` does, step by step, adding
    each step's seconds to ``stages`` (parse, validate, map, build); returns the batches."""
    from keiretsu.io.epcis import _local_context, sniff_syntax
    from keiretsu.io.epcis.hash import event_hash_id
    from keiretsu.io.epcis.mapping import map_event
    from keiretsu.io.epcis.validate import validate_event, validate_header
    from keiretsu.model.ocel import OcelBuilder

    clock = CLOCK[0]
    syntax, source = sniff_syntax(path)
    t = clock()
    if syntax == "xml":
        from keiretsu.io.epcis.xml_reader import read_xml_document

        header, events = read_xml_document(source, document=path.name, strict=True)
    else:
        from keiretsu.io.epcis.json_reader import read_json_document

        header, events = read_json_document(source, document=path.name)
    parse = clock() - t
    validate = map_ = build = 0.0
    t = clock()
    problems = list(validate_header(header, document=path.name))
    validate += clock() - t
    builder = OcelBuilder()
    batches: list[object] = []
    stream = iter(events)
    while True:
        t0 = clock()
        raw = next(stream, None)
        t1 = clock()
        parse += t1 - t0
        if raw is None:
            break
        problems += validate_event(raw, header, document=path.name)
        t2 = clock()
        validate += t2 - t1
        data = raw.data
        event_id = data.get("eventID")
        if not event_id:
            namespaces = header.namespaces
            if "@context" in data:
                namespaces = {**namespaces, **_local_context(data["@context"])}
            event_id = event_hash_id(data, namespaces, syntax=header.syntax)
        map_event(builder, event_id, raw, header)
        t3 = clock()
        map_ += t3 - t2
        if len(builder) >= 5000:
            batches.append(builder.build())
            build += clock() - t3
    t = clock()
    if len(builder):
        batches.append(builder.build())
    build += clock() - t
    assert not problems, problems[:3]
    for name, secs in (("parse", parse), ("validate", validate), ("map", map_), ("build", build)):
        stages[name] = stages.get(name, 0.0) + secs
    return batches


def stage_breakdown(kind: str, path: Path, fmt: str | None) -> dict[str, float]:
    """Seconds per stage of one ingest, the stages run one after the other in this process:
    the reader's (EPCIS: parse, validate, map, build; other formats: ``read``, all four in
    one) then the store's (write, commit, traces, finish; ``write:<table>`` its parts)."""
    from keiretsu.io.detect import reader_for
    from keiretsu.store import Store

    stages: dict[str, float] = {}
    if kind.startswith("epcis"):
        batches = epcis_reader_stages(path, stages)
    else:
        t = CLOCK[0]()
        batches = list(reader_for(fmt or kind)(path, document=str(path)))
        stages["read"] = CLOCK[0]() - t
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "stages.duckdb") as store:
        report = store.ingest(iter(batches), document=str(path), format=kind)  # type: ignore[arg-type]
    for name, secs in report.stages.items():
        if name != "read":  # the batches were read already
            stages[name] = stages.get(name, 0.0) + secs
    return stages


def median_stages(kind: str, path: Path, fmt: str | None, runs: int) -> dict[str, float]:
    """The median of each stage over ``runs`` runs of :func:`stage_breakdown`."""
    found = [stage_breakdown(kind, path, fmt) for _ in range(runs)]
    return {k: statistics.median(f.get(k, 0.0) for f in found) for k in found[0]}


def stage_line(n: int, stages: dict[str, float]) -> str:
    """``  stages (one process, one after the other): parse 1.20 s (6.0 µs/event) …``"""
    main = {k: v for k, v in stages.items() if ":" not in k}
    parts = [f"{k} {v:.2f} s ({v / n * 1e6:.1f} µs/ev)" for k, v in main.items()]
    total = sum(main.values())
    unit = "CPU seconds" if CLOCK[0] is time.process_time else "wall seconds"
    line = f"  stages ({unit}, one after the other in one process): {'; '.join(parts)}"
    line += f"; sum {total:.2f} s = {n / total:,.0f} events/s"
    subs = {k.split(":", 1)[1]: v for k, v in stages.items() if ":" in k}
    if subs:
        line += "\n  write by table: " + "; ".join(
            f"{k} {v:.2f} s" for k, v in sorted(subs.items(), key=lambda kv: -kv[1])
        )
    return line


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
    parser.add_argument(
        "--only", action="append", help="inputs whose label contains this (repeatable)"
    )
    parser.add_argument("--skip-stages", action="store_true", help="no stage breakdown")
    parser.add_argument(
        "--cpu",
        action="store_true",
        help="stages in CPU seconds of the process (time.process_time), not wall seconds: "
        "what a stage costs whatever else the machine runs",
    )
    args = parser.parse_args()
    if args.cpu:
        import keiretsu.store.ingest

        CLOCK[0] = time.process_time
        keiretsu.store.ingest.STAGE_CLOCK = time.process_time

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
            if args.only and not any(o.lower() in label.lower() for o in args.only):
                continue
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
            if not args.skip_stages:
                print(stage_line(n, median_stages(kind, path, fmt, args.runs)), flush=True)

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
