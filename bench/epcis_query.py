"""What an EPCIS 2.0 query costs with a million events in the store (issue #18).

    .venv/bin/python bench/epcis_query.py                   # 1,000,000 events (store cached)
    .venv/bin/python bench/epcis_query.py --events 100000   # a quicker run

The store: the synthetic two-company chain of :mod:`keiretsu.io.epcis.synth` (``--events``
less 2,000), plus one document of 2,000 inspections carrying sensor reports (temperatures in
CEL, KEL and FAH), a user extension field ``ex:grade`` and master data (a site, its dock, rooms
below it). It is built once and kept under ``bench/out/`` (``--rebuild`` to build it again).

Each query is asked ``--repeat`` times, in rounds (every query once per round, so load on the
machine falls on all of them alike), the way ``GET /events`` answers it: the first page of 100
event ids (:func:`select_events`, stage ``select``), then those events rendered as EPCIS
(:func:`render_events`, stage ``render``). Printed per query: p50 and p95 of each stage and of
the whole, and the aim — indexed parameters (event id, EPC, bizStep, a time window) p95 under
50 ms; sensor, extension-field and master-data queries p95 under 1 s. No peer runs here
(OpenEPCIS and other repositories need a JVM and a database server); the figures are ours
alone.
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
from keiretsu.node.query import parse_query, render_events, select_events
from keiretsu.store import Store

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    store_path = OUT / f"epcis-query-{args.events}.duckdb"
    if args.rebuild or not store_path.exists():
        build(store_path, args.events)
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
            f"{args.repeat} rounds, first page of 100 each"
        )
        timings: dict[str, dict[str, list[float]]] = {
            name: {"select": [], "render": [], "total": []} for _, name, _ in queries
        }
        found: dict[str, int] = {}
        for _ in range(args.repeat + 1):  # the first round warms up, not counted
            for _, name, params in queries:
                query = parse_query(params, namespaces=ns)
                t0 = time.perf_counter()
                page = select_events(con, query, limit=100)
                t1 = time.perf_counter()
                render_events(con, page.event_ids)
                t2 = time.perf_counter()
                found[name] = len(page.event_ids)
                for stage, seconds in (
                    ("select", t1 - t0),
                    ("render", t2 - t1),
                    ("total", t2 - t0),
                ):
                    timings[name][stage].append(seconds)
    print(
        f"{'query':32} {'found':>5} {'select p50/p95':>16} {'render p50/p95':>16} "
        f"{'total p50/p95':>16}  aim"
    )
    for kind, name, _ in queries:
        cells = []
        for stage in ("select", "render", "total"):
            values = timings[name][stage][1:]
            p95 = statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]
            cells.append((statistics.median(values), p95))
        aim = INDEXED_AIM if kind == "indexed" else FIELD_AIM
        met = "met" if cells[2][1] < aim else "NOT met"
        print(
            f"{name:32} {found[name]:>5} "
            + " ".join(f"{ms(a):>7}/{ms(b):>7} ms" for a, b in cells)
            + f"  p95 < {ms(aim)} ms: {met}"
        )


if __name__ == "__main__":
    sys.exit(main())
