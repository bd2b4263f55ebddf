"""What an EPCIS 2.0 query costs with a million events in the store (issue #18).

    .venv/bin/python bench/epcis_query.py                   # 1,000,000 events (store cached)
    .venv/bin/python bench/epcis_query.py --events 100000   # a quicker run

The store: the synthetic two-company chain of :mod:`keiretsu.io.epcis.synth` (``--events``
less 2,000), plus one document of 2,000 inspections carrying sensor reports (temperatures in
CEL, KEL and FAH), a user extension field ``ex:grade`` and master data (a site, its dock, rooms
below it). It is built once and kept under ``bench/out/`` (``--rebuild`` to build it again).

A store written before schema 8 is opened for writing once first, which builds the indexes
(the time it takes is printed).

Each query is asked ``--repeat`` times, in rounds (every query once per round, so load on the
machine falls on all of them alike), the way ``GET /events`` answers it, stage by stage: the
parameters read (:func:`parse_query`, stage ``parse``), the first page of 100 event ids
(:func:`select_events`, ``select``), those events' rows read (:func:`fetch_events`, ``fetch``)
and written as EPCIS (:func:`write_events`, ``render``). Printed per query: p50 and p95 of each
stage and of the whole (wall clock), the whole in CPU seconds of the process (all its threads:
what the query costs whatever else the machine runs), and the aim — indexed parameters (event
id, EPC, bizStep, a time window) p95 under 50 ms; sensor, extension-field and master-data
queries p95 under 1 s. No peer runs here (OpenEPCIS and other repositories need a JVM and a
database server); the figures are ours alone.

``--ingest-cost N`` measures instead what the indexes cost the ingest: N synthetic events
ingested into a fresh store with the indexes and without them (dropped before the ingest),
alternately, ``--runs`` times each; medians of wall and CPU seconds of the writing process,
and the file sizes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from keiretsu.io.epcis.synth import synthetic_events, write_synthetic_epcis_json
from keiretsu.node.query import fetch_events, parse_query, select_events, write_events
from keiretsu.store import Store
from keiretsu.store.schema import INDEXES, drop_indexes

STAGES = ("parse", "select", "fetch", "render", "total", "cpu")

OUT = Path(__file__).resolve().parent / "out"
NS = "https://ns.example.com/epcis/"
EXTRA = 2_000
SITE = "urn:epc:id:sgln:4012345.00070.0"
DOCK = "urn:epc:id:sgln:4012345.00071.0"
ROOMS = [f"urn:epc:id:sgln:4012345.0008{i}.0" for i in range(5)]
INDEXED_AIM = 0.050
FIELD_AIM = 1.0


def extra_document(path: Path) -> Path:
    """2,000 inspections with sensor data, an extension field and master data."""
    start = datetime(2024, 3, 1, tzinfo=UTC)
    units = [("CEL", 4.0), ("KEL", 278.15), ("FAH", 39.2)]
    events = []
    for i in range(EXTRA):
        uom, base = units[i % 3]
        events.append(
            {
                "type": "ObjectEvent",
                "eventID": f"urn:uuid:00000000-0000-4000-a000-{i:012d}",
                "eventTime": (start + timedelta(minutes=5 * i)).isoformat().replace("+00:00", "Z"),
                "eventTimeZoneOffset": "+00:00",
                "action": "OBSERVE",
                "bizStep": "inspecting",
                "epcList": [f"urn:epc:id:sgtin:4012345.088888.{i + 1}"],
                "readPoint": {"id": ROOMS[i % len(ROOMS)]},
                "ex:grade": "ABC"[i % 3],
                "sensorElementList": [
                    {
                        "sensorMetadata": {"deviceID": f"urn:epc:id:giai:4000001.{i % 7}"},
                        "sensorReport": [
                            {"type": "gs1:Temperature", "value": base + (i % 10), "uom": uom}
                        ],
                    }
                ],
            }
        )
    location = "urn:epcglobal:epcis:vtype:BusinessLocation"
    master = [
        {
            "type": location,
            "vocabularyElementList": [
                {
                    "id": SITE,
                    "attributes": [{"id": "cbvmda:name", "attribute": "Cold store"}],
                    "children": [DOCK],
                },
                {"id": DOCK, "children": ROOMS[:3]},
                *[
                    {"id": room, "attributes": [{"id": "cbvmda:sst", "attribute": str(201 + n)}]}
                    for n, room in enumerate(ROOMS)
                ],
            ],
        }
    ]
    document = {
        "@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld", {"ex": NS}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2024-03-01T00:00:00Z",
        "epcisHeader": {"epcisMasterData": {"vocabularyList": master}},
        "epcisBody": {"eventList": events},
    }
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def build(store_path: Path, n_events: int) -> None:
    store_path.unlink(missing_ok=True)
    Path(str(store_path) + ".wal").unlink(missing_ok=True)
    chain = OUT / f"epcis-query-chain-{n_events}.json"
    extra = extra_document(OUT / "epcis-query-extra.json")
    t0 = time.perf_counter()
    write_synthetic_epcis_json(chain, n_events - EXTRA)
    print(f"wrote {n_events - EXTRA:,} synthetic events in {time.perf_counter() - t0:.0f} s")
    with Store(store_path) as store:
        for doc in (chain, extra):
            t0 = time.perf_counter()
            report = store.ingest_file(doc)
            print(
                f"ingested {doc.name}: {report.events_new:,} events in "
                f"{time.perf_counter() - t0:.0f} s"
            )
    chain.unlink()


def probes(n_events: int) -> tuple[str, str, str, str]:
    """An event id, an EPC, an instant and a lot of the synthetic chain (a commissioning event
    half-way through it), from the chain's own generator."""
    middle = (n_events - EXTRA) // 2
    for i, event in enumerate(synthetic_events(n_events - EXTRA)):
        if i >= middle and event.get("ilmd") and event.get("eventID"):
            return (
                str(event["eventID"]),
                str(event["epcList"][0]),
                str(event["eventTime"]),
                str(event["ilmd"]["cbvmda:lotNumber"]),
            )
    raise SystemExit("no probe event found")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


def ensure_indexes(store_path: Path) -> None:
    """A store built before schema 8 gets its indexes (opened for writing once)."""
    with Store(store_path, read_only=True) as store:
        have = store.con.execute(
            "SELECT count(*) FROM duckdb_indexes() WHERE schema_name = 'main'"
        ).fetchone()
    if have and have[0] >= len(INDEXES):
        return
    w0, c0 = time.perf_counter(), time.process_time()
    with Store(store_path):
        pass
    print(
        f"built the indexes of schema 8: {time.perf_counter() - w0:.0f} s wall, "
        f"{time.process_time() - c0:.0f} s CPU; file now "
        f"{store_path.stat().st_size / 2**20:,.0f} MiB"
    )


def ingest_cost(n_events: int, runs: int) -> None:
    """What the indexes cost the ingest: a fresh store, with and without them."""
    OUT.mkdir(exist_ok=True)
    document = OUT / f"epcis-ingest-cost-{n_events}.json"
    write_synthetic_epcis_json(document, n_events)
    figures: dict[bool, list[tuple[float, float, float]]] = {True: [], False: []}
    for _ in range(runs):
        for indexed in (False, True):
            path = OUT / "epcis-ingest-cost.duckdb"
            path.unlink(missing_ok=True)
            with Store(path) as store:
                if not indexed:
                    drop_indexes(store.con)
                w0, c0 = time.perf_counter(), time.process_time()
                store.ingest_file(document)
                wall, cpu = time.perf_counter() - w0, time.process_time() - c0
            figures[indexed].append((wall, cpu, path.stat().st_size / 2**20))
            path.unlink()
    document.unlink()
    print(f"ingest of {n_events:,} synthetic EPCIS events into a fresh store, median of {runs}:")
    for indexed in (False, True):
        wall, cpu, size = (statistics.median(f[i] for f in figures[indexed]) for i in range(3))
        print(
            f"  {'with indexes' if indexed else 'no indexes':13} {wall:6.1f} s wall "
            f"({n_events / wall:,.0f} events/s), {cpu:6.1f} s CPU, file {size:,.0f} MiB"
        )
    (w0, c0, s0), (w1, c1, s1) = (
        tuple(statistics.median(f[i] for f in figures[k]) for i in range(3)) for k in (False, True)
    )
    print(f"  indexes cost: wall x{w1 / w0:.2f}, CPU x{c1 / c0:.2f}, file x{s1 / s0:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--ingest-cost", type=int, metavar="N", help="measure the ingest instead")
    parser.add_argument("--runs", type=int, default=3, help="runs of --ingest-cost")
    args = parser.parse_args()
    if args.ingest_cost:
        ingest_cost(args.ingest_cost, args.runs)
        return
    OUT.mkdir(exist_ok=True)
    store_path = OUT / f"epcis-query-{args.events}.duckdb"
    if args.rebuild or not store_path.exists():
        build(store_path, args.events)
    ensure_indexes(store_path)
    event_id, epc, when, lot = probes(args.events)
    at = datetime.fromisoformat(when)
    window = (at.isoformat(), (at + timedelta(hours=1)).isoformat())
    ns = {"ex": NS}
    queries: list[tuple[str, str, dict[str, str]]] = [
        ("indexed", "EQ_eventID", {"EQ_eventID": event_id}),
        ("indexed", "MATCH_epc (one EPC)", {"MATCH_epc": epc}),
        ("indexed", "EQ_bizStep=shipping", {"EQ_bizStep": "shipping"}),
        (
            "indexed",
            "GE_/LT_eventTime (1 h)",
            {"GE_eventTime": window[0], "LT_eventTime": window[1]},
        ),
        ("field", "EQ_type + GE_value_KEL", {"EQ_type": "Temperature", "GE_value_KEL": "285"}),
        ("field", "EQ_ex:grade=B", {"EQ_ex:grade": "B"}),
        ("field", "EQ_ILMD_cbvmda:lotNumber", {"EQ_ILMD_cbvmda:lotNumber": lot}),
        ("field", "WD_readPoint (site)", {"WD_readPoint": SITE}),
        ("field", "EQATTR_readPoint_cbvmda:sst", {"EQATTR_readPoint_cbvmda:sst": "202"}),
    ]
    with Store(store_path, read_only=True) as store:
        con = store.con
        n = con.execute("SELECT count(*) FROM ocel_event").fetchone()
        print(
            f"store: {n[0] if n else 0:,} events ({store_path.name}); "
            f"{args.repeat} rounds after one warm-up, first page of 100 each"
        )
        timings: dict[str, dict[str, list[float]]] = {
            name: {stage: [] for stage in STAGES} for _, name, _ in queries
        }
        found: dict[str, int] = {}
        for _ in range(args.repeat + 1):  # the first round warms up, not counted
            for _, name, params in queries:
                c0 = time.process_time()
                t0 = time.perf_counter()
                query = parse_query(params, namespaces=ns)
                t1 = time.perf_counter()
                page = select_events(con, query, limit=100)
                t2 = time.perf_counter()
                fetched = fetch_events(con, page.event_ids)
                t3 = time.perf_counter()
                events = write_events(fetched)
                t4 = time.perf_counter()
                cpu = time.process_time() - c0
                found[name] = len(events)
                for stage, seconds in zip(
                    STAGES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0, cpu), strict=True
                ):
                    timings[name][stage].append(seconds)
    print(
        f"{'query':30} {'found':>5} "
        + " ".join(f"{stage + ' p50/p95':>15}" for stage in STAGES[:-1])
        + f" {'CPU p50/p95':>15}  aim (total p95)"
    )
    for kind, name, _ in queries:
        cells = []
        for stage in STAGES:
            values = timings[name][stage][1:]
            cells.append((statistics.median(values), p95(values)))
        aim = INDEXED_AIM if kind == "indexed" else FIELD_AIM
        met = "met" if cells[4][1] < aim else "NOT met"
        print(
            f"{name:30} {found[name]:>5} "
            + " ".join(f"{ms(a):>6}/{ms(b):>6} ms" for a, b in cells)
            + f"  < {ms(aim)} ms: {met}"
        )


if __name__ == "__main__":
    sys.exit(main())
