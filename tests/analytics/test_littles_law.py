"""Little's law checked against a WIP measured another way: on the demo chain, the goods' stays
against the stock ledger; on the WABO receipt log, step_stats against objects sampled at regular
instants — each expected figure recomputed here from the raw files."""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from lxml import etree

from _data import data
from keiretsu.analytics import Log
from keiretsu.analytics.littles_law import littles_law_check
from keiretsu.store import Store

EXAMPLE = (
    Path(__file__).resolve().parents[2] / "src" / "keiretsu" / "examples" / "two-company-chain"
)
PLANT, DC = "4012345", "0614141"  # the GS1 company prefixes of the two companies' sites


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Log:
    path = tmp_path_factory.mktemp("demo") / "node.duckdb"
    with Store(path) as store:
        for f in sorted(EXAMPLE.iterdir()):
            assert store.ingest_file(f).status == "accepted"
    return Log.open(path)


def _demo_raw() -> tuple[dict[str, list[datetime]], dict[str, list[datetime]], datetime, datetime]:
    """From the documents, read with json and lxml: per pallet (SSCC) its commissioning (the
    bottles made for it), its shipping from the plant and its receiving at the DC; per bottle its
    shipping from the DC; and the log's first and last event."""
    pallet: dict[str, list[datetime]] = defaultdict(list)
    shipped: dict[str, list[datetime]] = defaultdict(list)
    times: list[datetime] = []
    plant = json.loads((EXAMPLE / "1-sakura-foods-plant.jsonld").read_text())
    made: dict[str, datetime] = {}
    for ev in plant["epcisBody"]["eventList"]:
        t = datetime.fromisoformat(ev["eventTime"])
        times.append(t)
        for epc in ev.get("outputEPCList", []):
            made[epc] = t
        if ev["type"] == "AggregationEvent":
            pallet[ev["parentID"]].append(made[ev["childEPCs"][0]])  # made
        if ev.get("bizStep", "").endswith("shipping"):
            pallet[ev["epcList"][0]].append(t)  # shipped from the plant
    root = etree.parse(str(EXAMPLE / "2-umeda-distribution-dc.xml")).getroot()
    for ev in root.iter("ObjectEvent", "AggregationEvent"):
        t = datetime.fromisoformat(ev.findtext("eventTime") or "")
        times.append(t)
        step = (ev.findtext("bizStep") or "").rsplit(":", 1)[-1]
        epcs = [e.text or "" for e in ev.iter("epc")]
        if step == "receiving":
            pallet[epcs[0]].append(t)  # received at the DC
        if step == "shipping":
            for epc in epcs:
                shipped[epc].append(t)
    return pallet, shipped, min(times), max(times)


def test_demo_locations_lambda_w_against_the_stock_ledger(demo: Log) -> None:
    view = littles_law_check(demo)
    rows = {r["location"]: r for r in view.to_pylist()}
    assert view.meta["mode"] == "location"
    plant = next(r for k, r in rows.items() if PLANT in k.replace(".", ""))
    dc = next(r for k, r in rows.items() if DC in k.replace(".", ""))
    pallet, shipped, first, last = _demo_raw()
    span = (last - first).total_seconds()
    days = span / 86_400
    # the ledger, by hand: 12 bottles a pallet on hand at the plant from their commissioning to
    # the pallet's shipping; at the DC from the pallet's receiving to each bottle's shipping
    # (or the log's end for the 6 of each pallet never shipped)
    plant_pieces = sum(12 * (ship - made).total_seconds() for made, ship, _ in pallet.values())
    dc_shipped = defaultdict(list)
    for epc, ts in shipped.items():
        dc_shipped[epc.rsplit(".", 1)[-1][0]].append(ts[0])  # serial's first digit = batch
    dc_pieces = 0.0
    for received_batch, (_, _, received) in enumerate(sorted(pallet.values())):
        out = dc_shipped[str(received_batch)]
        dc_pieces += sum((t - received).total_seconds() for t in out)
        dc_pieces += (12 - len(out)) * (last - received).total_seconds()
    assert plant["measured_wip"] == pytest.approx(plant_pieces / span)
    assert dc["measured_wip"] == pytest.approx(dc_pieces / span)
    # λ·W by hand: 48 stays at each; the plant's all ended, the DC's shipped ones ended
    assert plant["arrivals"] == dc["arrivals"] == 48
    plant_days = [(ship - made).total_seconds() / 86_400 for made, ship, _ in pallet.values()]
    assert plant["littles_law_wip"] == pytest.approx(48 / days * float(np.mean(plant_days)))
    dc_days = []
    for batch, (_, _, received) in enumerate(sorted(pallet.values())):
        dc_days += [(t - received).total_seconds() / 86_400 for t in dc_shipped[str(batch)]]
    assert len(dc_days) == 24 and dc["open_at_end"] == 24
    assert dc["littles_law_wip"] == pytest.approx(48 / days * float(np.mean(dc_days)))
    # every plant stay ended inside the log: the two measurements agree; at the DC the 24
    # bottles still on hand make the gap, and the note says so
    assert plant["gap"] == pytest.approx(0.0, abs=1e-9)
    assert dc["gap"] < 0 and "24 of 48 stays still open" in dc["note"]
    assert dc["gap_pct"] == pytest.approx(
        (dc["littles_law_wip"] - dc["measured_wip"]) / dc["measured_wip"] * 100
    )


def _receipt_visits() -> tuple[dict[str, list[tuple[float, float]]], float, float]:
    """Per activity, every visit (arrive, leave) in epoch seconds from the raw XES: every event
    ends a step (all are 'complete'); a case arrives at a step when it left the one before (its
    first step: at its first event)."""
    path = data("logs", "receipt.xes.gz")  # under CI a missing file fails
    visits: dict[str, list[tuple[float, float]]] = defaultdict(list)
    lo, hi = np.inf, -np.inf
    with gzip.open(path) as f:
        for _, trace in etree.iterparse(f, tag="{*}trace"):
            events = []
            for pos, ev in enumerate(trace.iterfind("{*}event")):
                attrs = {a.get("key"): a.get("value") for a in ev}
                t = datetime.fromisoformat(attrs["time:timestamp"]).timestamp()
                events.append((t, pos, attrs["concept:name"]))
            events.sort()
            prev = events[0][0] if events else None
            for t, _, act in events:
                visits[act].append((prev, t))
                prev = t
                lo, hi = min(lo, t), max(hi, t)
            trace.clear()
    return visits, lo, hi


def test_receipt_steps_lambda_w_against_sampled_wip(receipt_store: Path) -> None:
    view = littles_law_check(Log.open(receipt_store), "case")
    rows = {r["step"]: r for r in view.to_pylist()}
    assert view.meta["mode"] == "step" and view.meta["samples"] == 1000
    visits, lo, hi = _receipt_visits()
    instants = lo + (np.arange(1000) + 0.5) * (hi - lo) / 1000
    days = (hi - lo) / 86_400
    assert set(rows) == set(visits)
    for act, spans in visits.items():
        a = np.array([s[0] for s in spans])
        b = np.array([s[1] for s in spans])
        # sampled: objects in the step at each instant (arrived at or before it, not yet left)
        inside = (a[:, None] <= instants[None, :]) & (instants[None, :] < b[:, None])
        assert rows[act]["measured_wip"] == pytest.approx(inside.sum() / 1000, abs=1e-12), act
        lw = len(spans) / days * float(np.mean(b - a)) / 86_400
        assert rows[act]["littles_law_wip"] == pytest.approx(lw, rel=1e-9), act
    # where the WIP is large enough for 1000 samples to see it, the law holds within 2%
    big = [r for r in rows.values() if r["measured_wip"] > 1]
    assert len(big) >= 4
    for r in big:
        assert abs(r["gap_pct"]) < 2, r
