"""Inventory: stock per location and product from EPCIS events, and days of supply — checked
against stock worked out by hand on a small chain, against the synthetic chain's own events
counted independently, and on random consistent histories."""

from __future__ import annotations

import io
import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keiretsu.analytics import Log
from keiretsu.analytics.inventory import (
    daily_demand,
    days_of_supply,
    movements,
    net_stock_change,
    parse_freq,
    stock_levels,
)
from keiretsu.io.epcis import read_epcis
from keiretsu.io.epcis.synth import synthetic_events, write_synthetic_epcis_json
from keiretsu.model.gs1 import canonical_id
from keiretsu.store import Store

EXAMPLES = Path(__file__).resolve().parents[2] / "src" / "keiretsu" / "examples"

# the hand-built chain: a plant P, a distribution centre D (with a back room D2), a store S
P, D, D2, S = (
    "urn:epc:id:sgln:4012345.00001.0",
    "urn:epc:id:sgln:0614141.00002.0",
    "urn:epc:id:sgln:0614141.00002.7",
    "urn:epc:id:sgln:0614141.00003.0",
)
X = canonical_id("urn:epc:idpat:sgtin:4012345.011111.*")  # the finished product's GTIN
FLOUR_LOT = "urn:epc:class:lgtin:4012345.055555.F1"
FLOUR = "https://id.gs1.org/01/04012345555554"  # the lot rolled up to its GTIN
SSCC = "urn:epc:id:sscc:4012345.0000000001"
A = [f"urn:epc:id:sgtin:4012345.011111.{k}" for k in range(1, 5)]


def where(gln: str) -> str:
    return canonical_id(gln)


def event(kind: str, at: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "eventTime": at, "eventTimeZoneOffset": "+00:00", **fields}


def place(gln: str) -> dict[str, Any]:
    return {"bizLocation": {"id": gln}}


def route(src: str, dst: str, po: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "sourceList": [{"type": "location", "source": src}],
        "destinationList": [{"type": "location", "destination": dst}],
    }
    if po:
        out["bizTransactionList"] = [
            {"type": "po", "bizTransaction": f"urn:epcglobal:cbv:bt:0614141000005:{po}"}
        ]
    return out


def document(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2025-03-10T00:00:00Z",
        "epcisBody": {"eventList": events},
    }


HAND_CHAIN = [
    # 25 kg of flour arrive at the plant
    event(
        "ObjectEvent",
        "2025-03-03T06:00:00Z",
        action="OBSERVE",
        bizStep="receiving",
        disposition="in_progress",
        quantityList=[{"epcClass": FLOUR_LOT, "quantity": 25, "uom": "KGM"}],
        **place(P),
    ),
    # 10 kg of it baked into four serialised items A1..A4
    event(
        "TransformationEvent",
        "2025-03-03T08:00:00Z",
        bizStep="commissioning",
        disposition="active",
        inputQuantityList=[{"epcClass": FLOUR_LOT, "quantity": 10, "uom": "KGM"}],
        outputEPCList=A,
        **place(P),
    ),
    # A1..A3 packed on a pallet
    event(
        "AggregationEvent",
        "2025-03-03T10:00:00Z",
        action="ADD",
        bizStep="packing",
        parentID=SSCC,
        childEPCs=A[:3],
        **place(P),
    ),
    # the pallet ships (its three items leave the plant) ...
    event(
        "ObjectEvent",
        "2025-03-04T09:00:00Z",
        action="OBSERVE",
        bizStep="shipping",
        disposition="in_transit",
        epcList=[SSCC],
        readPoint={"id": "urn:epc:id:sgln:4012345.00001.12"},
        **route(P, D, "PO-1"),
    ),
    # ... and arrives at the DC, where it is unpacked
    event(
        "ObjectEvent",
        "2025-03-05T07:00:00Z",
        action="OBSERVE",
        bizStep="receiving",
        disposition="in_progress",
        epcList=[SSCC],
        **place(D),
    ),
    event(
        "AggregationEvent",
        "2025-03-05T08:00:00Z",
        action="DELETE",
        bizStep="unpacking",
        parentID=SSCC,
        childEPCs=A[:3],
        **place(D),
    ),
    # A1 goes on to the store, and is sold there
    event(
        "ObjectEvent",
        "2025-03-06T12:00:00Z",
        action="OBSERVE",
        bizStep="shipping",
        disposition="in_transit",
        epcList=A[:1],
        **route(D, S, "PO-2"),
    ),
    event(
        "ObjectEvent",
        "2025-03-06T18:00:00Z",
        action="OBSERVE",
        bizStep="receiving",
        disposition="in_progress",
        epcList=A[:1],
        **place(S),
    ),
    event(
        "ObjectEvent",
        "2025-03-07T15:00:00Z",
        action="OBSERVE",
        bizStep="retail_selling",
        disposition="retail_sold",
        epcList=A[:1],
        **place(S),
    ),
    # A4, left at the plant, is decommissioned
    event(
        "ObjectEvent",
        "2025-03-07T16:00:00Z",
        action="DELETE",
        bizStep="decommissioning",
        epcList=A[3:],
        **place(P),
    ),
    # A2 is put away in the DC's back room
    event(
        "ObjectEvent",
        "2025-03-07T17:00:00Z",
        action="OBSERVE",
        bizStep="storing",
        disposition="sellable_accessible",
        epcList=A[1:2],
        **place(D2),
    ),
]


def ingest(path: Path, events: list[dict[str, Any]]) -> Path:
    doc = path.with_suffix(".jsonld")
    doc.write_text(json.dumps(document(events)))
    with Store(path) as store:
        report = store.ingest_file(doc)
        assert report.status == "accepted", report.problem
    return path


@pytest.fixture(scope="module")
def hand_chain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ingest(tmp_path_factory.mktemp("hand") / "node.duckdb", HAND_CHAIN)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def rows(table: pa.Table, *columns: str) -> list[tuple[Any, ...]]:
    return [tuple(r[c] for c in columns) for r in table.to_pylist()]


def test_stock_after_each_change_on_the_hand_built_chain(hand_chain: Path) -> None:
    view = stock_levels(Log.open(hand_chain))
    got = rows(view.table, "location", "product", "uom", "time", "quantity")
    expected = [
        # the back room: A2 put away at 17:00 on the 7th
        (where(D2), X, None, utc("2025-03-07T17:00"), 1.0),
        # the DC: the pallet's 3 items in, A1 shipped to the store, A2 to the back room
        (where(D), X, None, utc("2025-03-05T07:00"), 3.0),
        (where(D), X, None, utc("2025-03-06T12:00"), 2.0),
        (where(D), X, None, utc("2025-03-07T17:00"), 1.0),
        # the store: A1 received, then sold
        (where(S), X, None, utc("2025-03-06T18:00"), 1.0),
        (where(S), X, None, utc("2025-03-07T15:00"), 0.0),
        # the plant: 4 made, 3 shipped on the pallet, the last one decommissioned
        (where(P), X, None, utc("2025-03-03T08:00"), 4.0),
        (where(P), X, None, utc("2025-03-04T09:00"), 1.0),
        (where(P), X, None, utc("2025-03-07T16:00"), 0.0),
        # flour: 25 kg received, 10 kg used → 15 kg
        (where(P), FLOUR, "KGM", utc("2025-03-03T06:00"), 25.0),
        (where(P), FLOUR, "KGM", utc("2025-03-03T08:00"), 15.0),
    ]
    assert sorted(got, key=str) == sorted(expected, key=str)
    assert not any("below zero" in n for n in view.notes)


def test_daily_buckets_carry_the_stock_forward(hand_chain: Path) -> None:
    view = stock_levels(Log.open(hand_chain), freq="1d")
    got = {(r["location"], r["product"], r["time"]): r["quantity"] for r in view.to_pylist()}
    day = {d: utc(f"2025-03-0{d}T00:00") for d in range(4, 9)}  # bucket ends (midnights)
    # the plant's finished goods at each midnight: 4 after the 3rd, 1 from the 4th, 0 after
    # the 7th; the flour stays at 15 kg from the 3rd to the end of the log (the 7th)
    assert [got[(where(P), X, day[d])] for d in range(4, 9)] == [4.0, 1.0, 1.0, 1.0, 0.0]
    assert [got[(where(P), FLOUR, day[d])] for d in range(4, 9)] == [15.0] * 5
    # the DC's first bucket is the day the pallet arrived (the 5th, ending at the 6th's midnight)
    assert [got[(where(D), X, day[d])] for d in range(6, 9)] == [3.0, 2.0, 1.0]
    assert (where(D), X, day[5]) not in got
    assert got[(where(S), X, day[7])] == 1.0 and got[(where(S), X, day[8])] == 0.0


def test_days_of_supply_against_the_demand_of_the_last_two_days(hand_chain: Path) -> None:
    view = days_of_supply(Log.open(hand_chain), window_days=2, targets={X: 0.5})
    got = {(r["location"], r["product"]): r for r in view.to_pylist()}
    # now = 7th 17:00; the window is (5th 17:00, 7th 17:00], 2 days
    dc = got[(where(D), X)]
    # DC: 1 in stock; 1 shipped to the store + 1 moved to the back room = 2 in 2 days
    assert (dc["stock"], dc["demand"], dc["daily_demand"], dc["days_of_supply"]) == (1, 2, 1, 1)
    # target 0.5 days of 1/day = 0.5 pieces; 1 on hand → 0.5 above target
    assert dc["target_days"] == 0.5 and dc["stock_above_target"] == 0.5
    store = got[(where(S), X)]
    assert (store["stock"], store["demand"], store["daily_demand"]) == (0, 1, 0.5)
    assert store["days_of_supply"] == 0
    back_room = got[(where(D2), X)]
    # stock but no demand: days of supply unknown, not zero or infinite
    assert back_room["daily_demand"] == 0 and back_room["days_of_supply"] is None
    flour = got[(where(P), FLOUR)]
    # the flour was used on the 3rd, outside the window; no target for flour
    assert flour["stock"] == 15 and flour["demand"] == 0 and flour["target_days"] is None
    # decommissioning is a write-off, not demand
    assert got[(where(P), X)]["demand"] == 0


def test_daily_demand_and_net_stock_change_on_the_hand_built_chain(hand_chain: Path) -> None:
    log = Log.open(hand_chain)
    day = {d: utc(f"2025-03-0{d}T00:00") for d in range(3, 8)}
    got = rows(daily_demand(log).table, "location", "product", "uom", "day", "quantity")
    assert sorted(got, key=str) == sorted(
        [
            (where(P), FLOUR, "KGM", day[3], 10.0),  # baked into A1..A4
            (where(P), X, None, day[4], 3.0),  # the pallet's three items shipped
            (where(D), X, None, day[6], 1.0),  # A1 shipped to the store
            (where(D), X, None, day[7], 1.0),  # A2 moved on to the back room
            (where(S), X, None, day[7], 1.0),  # A1 sold (A4's write-off is not demand)
        ],
        key=str,
    )
    whole = daily_demand(log, by_location=False, with_events=True).to_pylist()
    assert [(r["product"], r["day"], r["quantity"], r["events"]) for r in whole] == [
        (X, day[4], 3.0, 1),
        (X, day[6], 1.0, 1),
        (X, day[7], 2.0, 2),
        (FLOUR, day[3], 10.0, 1),
    ]
    # the figure narrowed to some events: the shipment of the 4th alone
    shipped = whole[0]["event_ids"]
    narrowed = daily_demand(log, by_location=False, events=shipped).to_pylist()
    assert [(r["day"], r["quantity"]) for r in narrowed] == [(day[4], 3.0)]
    # the net change per day is stock_levels' change at each midnight, where it moved
    change = rows(net_stock_change(log).table, "location", "product", "uom", "day", "quantity")
    buckets = stock_levels(log, freq="1d").table.to_pylist()
    assert sorted(change, key=str) == sorted(
        (
            (r["location"], r["product"], r["uom"], r["time"] - timedelta(days=1), r["change"])
            for r in buckets
            if r["change"]
        ),
        key=str,
    )
    assert (where(P), FLOUR, "KGM", day[3], 15.0) in change


def test_daily_demand_and_net_stock_change_agree_on_spark(
    hand_chain: Path, both_engines: Any
) -> None:
    duck, spark = both_engines(hand_chain)
    for view in (
        lambda log: daily_demand(log, with_events=True),
        lambda log: daily_demand(log, by_location=False, events=["nothing"]),
        lambda log: net_stock_change(log),
    ):
        a, b = view(duck), view(spark)
        assert a.table.equals(b.table), (a.to_pylist(), b.to_pylist())


def test_two_company_demo_chain(tmp_path: Path) -> None:
    store = tmp_path / "demo.duckdb"
    with Store(store) as s:
        for doc in sorted((EXAMPLES / "two-company-chain").iterdir()):
            assert s.ingest_file(doc).status == "accepted"
    view = stock_levels(Log.open(store))
    final = {(r["location"], r["product"]): r["quantity"] for r in view.to_pylist()}
    plant, dc = "https://id.gs1.org/414/4012345000009", "https://id.gs1.org/414/0614141000005"
    # the plant made 4 x 12 items and shipped all 4 pallets; the DC received the 4 pallets
    # (48 items) and shipped what its despatches list (counted from the XML itself)
    shipped_by_dc = _count_dc_despatches()
    assert final[(plant, X)] == 0
    assert final[(dc, X)] == 48 - shipped_by_dc
    # the leaf lots are consumed but their receipt is not in these documents: the ledger goes
    # below zero and says so rather than hiding it
    assert any("below zero" in n for n in view.notes)


def _count_dc_despatches() -> int:
    """Items the DC ships, counted straight from its EPCIS XML document."""
    from lxml import etree

    tree = etree.parse(str(EXAMPLES / "two-company-chain" / "2-umeda-distribution-dc.xml"))
    n = 0
    for ev in tree.iter("ObjectEvent"):
        if (ev.findtext("disposition") or "").endswith("in_transit"):
            n += len(ev.findall("epcList/epc"))
    return n


def test_synthetic_chain_stock_equals_what_its_events_say(tmp_path: Path) -> None:
    n = 300  # 60 pallet cycles, each complete
    doc = write_synthetic_epcis_json(tmp_path / "chain.json", n, seed=3)
    store = tmp_path / "node.duckdb"
    with Store(store) as s:
        assert s.ingest_file(doc).status == "accepted"
    # count independently from the generator's events
    pallets: dict[str, list[str]] = {}
    made: dict[str, int] = defaultdict(int)
    shipped: dict[str, int] = defaultdict(int)
    received: dict[str, int] = defaultdict(int)
    kg = 0.0
    gtin = {ref: canonical_id(f"urn:epc:idpat:sgtin:4012345.{ref}.*") for ref in _REFS}
    for ev in synthetic_events(n, seed=3):
        if ev["bizStep"] == "commissioning":
            made[gtin[ev["epcList"][0].split(".")[1]]] += len(ev["epcList"])
        elif ev["bizStep"] == "packing":
            pallets[ev["parentID"]] = ev["childEPCs"]
        elif ev["bizStep"] == "shipping":
            items = pallets[ev["epcList"][0]]
            shipped[gtin[items[0].split(".")[1]]] += len(items)
        elif ev["bizStep"] == "receiving" and "quantityList" in ev:
            kg += ev["quantityList"][0]["quantity"]
        elif ev["bizStep"] == "receiving":
            items = pallets[ev["epcList"][0]]
            received[gtin[items[0].split(".")[1]]] += len(items)
    view = stock_levels(Log.open(store))
    final: dict[tuple[str, str], float] = {}
    for r in view.to_pylist():
        final[(r["location"], r["product"])] = r["quantity"]
    plant, dc = canonical_id("urn:epc:id:sgln:4012345.00001.0"), canonical_id(_DC)
    for product in gtin.values():
        assert final.get((plant, product), 0) == made[product] - shipped[product]
        assert final.get((dc, product), 0) == received[product]
    raw = "https://id.gs1.org/01/04012345555554"
    assert final[(plant, raw)] == pytest.approx(kg)
    assert all(r["quantity"] >= 0 for r in view.to_pylist())


_REFS = ("011111", "022222", "033333", "044444")
_DC = "urn:epc:id:sgln:0614141.00002.0"


def test_a_log_without_epcis_events_has_no_stock(running_example_xes: Path) -> None:
    log = Log.open(running_example_xes)
    assert stock_levels(log).num_rows == 0
    assert days_of_supply(log).num_rows == 0


def test_bad_arguments_are_refused_with_a_reason(hand_chain: Path) -> None:
    log = Log.open(hand_chain)
    with pytest.raises(ValueError, match="freq"):
        stock_levels(log, freq="fortnightly")
    with pytest.raises(ValueError, match="window_days"):
        days_of_supply(log, window_days=0)
    assert parse_freq("1d").total_seconds() == 86_400
    assert (
        parse_freq("30min").total_seconds() == 1800 and parse_freq("w").total_seconds() == 604_800
    )


def test_stock_levels_and_days_of_supply_agree_on_spark(
    hand_chain: Path, both_engines: Any
) -> None:
    duck, spark = both_engines(hand_chain)
    # (the daily buckets are the same query with a bucket number: left out, Spark is slow)
    for view in (
        lambda log: stock_levels(log),
        lambda log: days_of_supply(log, window_days=2, targets=1.0),
    ):
        a, b = view(duck), view(spark)
        assert a.table.num_rows > 0
        assert a.table.equals(b.table), (a.to_pylist(), b.to_pylist())
        assert a.notes == b.notes


# --- random consistent histories ----------------------------------------------------------------

SITES = [f"urn:epc:id:sgln:4012345.0000{k}.0" for k in range(1, 4)]
REFS = ("011111", "022222")
RAW = "urn:epc:class:lgtin:4012345.055555.R1"

operation = st.one_of(
    st.tuples(st.just("make"), st.integers(0, 2), st.integers(0, 1), st.integers(1, 3)),
    st.tuples(st.just("move"), st.integers(0, 50), st.integers(0, 2)),
    st.tuples(st.just("ship"), st.integers(0, 50)),
    st.tuples(st.just("sell"), st.integers(0, 50)),
    st.tuples(st.just("receive_kg"), st.integers(0, 2), st.integers(1, 40)),
    st.tuples(st.just("use_kg"), st.integers(0, 2), st.integers(1, 40)),
)


def history(
    ops: list[tuple[Any, ...]],
) -> tuple[list[dict[str, Any]], dict[tuple[str, str], float]]:
    """EPCIS events for the operations, and the stock a simple simulation of them ends with."""
    t = datetime(2025, 1, 6, tzinfo=UTC)
    at: dict[str, int | None] = {}  # item → site index, None in transit; absent once sold
    kg = [0.0, 0.0, 0.0]
    events: list[dict[str, Any]] = []
    serial = 1000
    for op in ops:
        t += timedelta(hours=1)
        stamp = t.isoformat().replace("+00:00", "Z")
        live = sorted(at)
        if op[0] == "make":
            _, site, ref, n = op
            new = [f"urn:epc:id:sgtin:4012345.{REFS[ref]}.{serial + k}" for k in range(n)]
            serial += n
            at.update(dict.fromkeys(new, site))
            events.append(
                event(
                    "ObjectEvent",
                    stamp,
                    action="ADD",
                    bizStep="commissioning",
                    epcList=new,
                    **place(SITES[site]),
                )
            )
        elif op[0] in ("move", "ship", "sell") and live:
            item = live[op[1] % len(live)]
            if op[0] == "move":
                at[item] = op[2]
                fields = {"bizStep": "receiving", **place(SITES[op[2]])}
            elif op[0] == "ship":
                if at[item] is None:
                    continue
                fields = {"bizStep": "shipping", "disposition": "in_transit"}
                fields |= route(SITES[at[item]], SITES[(at[item] + 1) % 3])  # type: ignore[index]
                at[item] = None
            else:
                if at[item] is None:
                    continue
                fields = {"bizStep": "retail_selling", "disposition": "retail_sold"}
                fields |= place(SITES[at[item]])  # type: ignore[index]
                del at[item]
            events.append(event("ObjectEvent", stamp, action="OBSERVE", epcList=[item], **fields))
        elif op[0] == "receive_kg":
            kg[op[1]] += op[2]
            events.append(
                event(
                    "ObjectEvent",
                    stamp,
                    action="OBSERVE",
                    bizStep="receiving",
                    quantityList=[{"epcClass": RAW, "quantity": op[2], "uom": "KGM"}],
                    **place(SITES[op[1]]),
                )
            )
        elif op[0] == "use_kg" and kg[op[1]] > 0:
            used = min(float(op[2]), kg[op[1]])  # a consistent history never uses what it lacks
            kg[op[1]] -= used
            new = [f"urn:epc:id:sgtin:4012345.{REFS[0]}.{serial}"]
            serial += 1
            at[new[0]] = op[1]
            events.append(
                event(
                    "TransformationEvent",
                    stamp,
                    bizStep="commissioning",
                    inputQuantityList=[{"epcClass": RAW, "quantity": used, "uom": "KGM"}],
                    outputEPCList=new,
                    **place(SITES[op[1]]),
                )
            )
    stock: dict[tuple[str, str], float] = defaultdict(float)
    for item, site in at.items():
        if site is not None:
            stock[(where(SITES[site]), _gtin(item))] += 1
    for site, amount in enumerate(kg):
        stock[(where(SITES[site]), "https://id.gs1.org/01/04012345555554")] += amount
    return events, stock


def _gtin(sgtin: str) -> str:
    ref = sgtin.split(".")[1]
    return canonical_id(f"urn:epc:idpat:sgtin:4012345.{ref}.*")


@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.lists(operation, min_size=1, max_size=30))
def test_stock_is_the_sum_of_movements_and_never_negative(ops: list[tuple[Any, ...]]) -> None:
    events, expected = history(ops)
    if not events:
        return
    batches = list(read_epcis(io.BytesIO(json.dumps(document(events)).encode()), document="h"))
    assert len(batches) == 1
    log = Log.from_ocel(batches[0])
    table = stock_levels(log).table
    final: dict[tuple[str, str], float] = {}
    running: dict[tuple[str, str], float] = defaultdict(float)
    for r in table.to_pylist():  # sorted by pair and time
        key = (r["location"], r["product"])
        running[key] += r["change"]
        assert r["quantity"] == pytest.approx(running[key])  # stock = sum of movements so far
        assert r["quantity"] >= -1e-9  # never negative in a consistent history
        final[key] = r["quantity"]
    for key in set(final) | {k for k, v in expected.items() if v}:
        assert final.get(key, 0.0) == pytest.approx(expected.get(key, 0.0)), key
    # the ledger's movements add up to the same stock
    m = log.execute(movements(log))
    sums: dict[tuple[str, str], float] = defaultdict(float)
    for r in m.to_pylist():
        sums[(r["location"], r["product"])] += r["delta"]
    for key, value in final.items():
        assert sums[key] == pytest.approx(value)
