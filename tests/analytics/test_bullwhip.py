"""Bullwhip: the variance of orders an echelon places over the variance of the demand it
receives — worked out by hand on a small three-echelon EPCIS chain, and computed independently
with pandas on the real FMCG production and sales orders of SupplyGraph."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from _data import DATA
from keiretsu.analytics import Log
from keiretsu.analytics.bullwhip import ALL, bullwhip
from keiretsu.io.tabular import ColumnMapping
from keiretsu.model.gs1 import canonical_id
from keiretsu.store import Store

SUPPLYGRAPH = DATA / "supplygraph" / "Temporal Data" / "Unit"

# a plant P supplies a DC D, which supplies a store S that sells to shoppers
P, D, S = (
    "urn:epc:id:sgln:4012345.00001.0",
    "urn:epc:id:sgln:0614141.00002.0",
    "urn:epc:id:sgln:0614141.00003.0",
)
GOODS = "urn:epc:idpat:sgtin:4012345.011111.*"


def _event(day: int, hour: int, **fields: Any) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventTime": f"2025-03-0{3 + day}T{hour:02d}:00:00Z",
        "eventTimeZoneOffset": "+00:00",
        "action": "OBSERVE",
        **fields,
    }


def sale(day: int, quantity: int) -> dict[str, Any]:
    return _event(
        day,
        18,
        bizStep="retail_selling",
        disposition="retail_sold",
        bizLocation={"id": S},
        quantityList=[{"epcClass": GOODS, "quantity": quantity}],
    )


def despatch(day: int, src: str, dst: str, po: str, quantity: int) -> dict[str, Any]:
    return _event(
        day,
        8,
        bizStep="shipping",
        disposition="in_transit",
        quantityList=[{"epcClass": GOODS, "quantity": quantity}],
        bizTransactionList=[{"type": "po", "bizTransaction": f"urn:epcglobal:cbv:bt:{po}"}],
        sourceList=[{"type": "location", "source": src}],
        destinationList=[{"type": "location", "destination": dst}],
    )


def receipt(day: int, at: str, po: str, quantity: int) -> dict[str, Any]:
    return _event(
        day,
        9,
        bizStep="receiving",
        disposition="in_progress",
        bizLocation={"id": at},
        quantityList=[{"epcClass": GOODS, "quantity": quantity}],
        bizTransactionList=[{"type": "po", "bizTransaction": f"urn:epcglobal:cbv:bt:{po}"}],
    )


CHAIN = [
    sale(0, 4),
    sale(1, 6),
    sale(2, 5),
    sale(3, 5),
    despatch(0, D, S, "0614141000005:PO-S1", 10),
    despatch(2, D, S, "0614141000005:PO-S2", 10),
    despatch(0, P, D, "0614141000005:PO-D1", 20),
    # the DC receives PO-D1 the next day: the same order, not a second one
    receipt(1, D, "0614141000005:PO-D1", 20),
]


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bullwhip")
    doc = folder / "chain.jsonld"
    doc.write_text(
        json.dumps(
            {
                "@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"],
                "type": "EPCISDocument",
                "schemaVersion": "2.0",
                "creationDate": "2025-03-10T00:00:00Z",
                "epcisBody": {"eventList": CHAIN},
            }
        )
    )
    store = folder / "node.duckdb"
    with Store(store) as s:
        report = s.ingest_file(doc)
        assert report.status == "accepted", report.problem
    return store


def test_bullwhip_per_echelon_worked_by_hand(chain: Path) -> None:
    view = bullwhip(Log.open(chain), window_days=1)
    got = {r["echelon"]: r for r in view.to_pylist()}
    store, dc, plant = got[canonical_id(S)], got[canonical_id(D)], got[canonical_id(P)]
    # 4 daily windows (the 3rd 00:00 to the 6th)
    assert {r["windows"] for r in got.values()} == {4}
    # the store sells 4, 6, 5, 5: mean 5, sample variance (1 + 1 + 0 + 0) / 3 = 2/3;
    # it orders 10, 0, 10, 0 from the DC: mean 5, variance (4 x 25) / 3 = 100/3 → ratio 50
    assert store["demand_variance"] == pytest.approx(2 / 3)
    assert store["orders_variance"] == pytest.approx(100 / 3)
    assert store["bullwhip"] == pytest.approx(50)
    # the DC receives the store's 10, 0, 10, 0 and orders 20, 0, 0, 0 from the plant (received
    # on day 1, placed on day 0, counted once): variance (225 + 3 x 25) / 3 = 100 → ratio 3
    assert dc["demand_total"] == 20 and dc["orders_total"] == 20
    assert dc["orders_variance"] == pytest.approx(100)
    assert dc["bullwhip"] == pytest.approx(3)
    # the plant places no orders: no ratio, rather than a zero
    assert plant["orders_total"] is None and plant["bullwhip"] is None
    assert plant["demand_variance"] == pytest.approx(100)
    assert any("purchase orders" in n for n in view.notes)


def test_a_wider_window_smooths_both_sides(chain: Path) -> None:
    view = bullwhip(Log.open(chain), window_days=2)
    store = {r["echelon"]: r for r in view.to_pylist()}[canonical_id(S)]
    # two 2-day windows: sales 10 and 10 (no variance), orders 10 and 10
    assert store["windows"] == 2
    assert store["demand_variance"] == 0 and store["bullwhip"] is None


def test_no_order_events_gives_an_empty_view_that_says_so(running_example_xes: Path) -> None:
    view = bullwhip(Log.open(running_example_xes))
    assert view.num_rows == 0
    assert any("no order events" in n for n in view.notes)


def _supplygraph_long(folder: Path) -> Path:
    """SupplyGraph's daily production and sales orders per product, one row per day, product
    and step, as an ERP export would give them."""
    frames = []
    for step, name in (("Production", "Production .csv"), ("Sales Order", "Sales Order.csv")):
        wide = pd.read_csv(SUPPLYGRAPH / name)
        long = wide.melt(id_vars="Date", var_name="product", value_name="qty").dropna()
        long["step"] = step
        frames.append(long)
    path = folder / "supplygraph.csv"
    pd.concat(frames).to_csv(path, index=False)
    return path


def test_bullwhip_of_a_real_fmcg_company(tmp_path: Path) -> None:
    csv = _supplygraph_long(tmp_path)
    store = tmp_path / "node.duckdb"
    mapping = ColumnMapping(
        activity="step", time="Date", objects={"product": "product"}, attributes=("qty",)
    )
    with Store(store) as s:
        report = s.ingest_file(csv, mapping=mapping)
        assert report.status == "accepted", report.problem
    view = bullwhip(
        Log.open(store),
        window_days=7,
        orders=["Production"],
        demand=["Sales Order"],
        quantity_attribute="qty",
    )
    # independently: weekly totals straight from the two wide CSV files
    weekly = {}
    for step, name in (("Production", "Production .csv"), ("Sales Order", "Sales Order.csv")):
        wide = pd.read_csv(SUPPLYGRAPH / name, parse_dates=["Date"])
        daily = wide.drop(columns="Date").fillna(0).sum(axis=1)
        week = (wide["Date"] - wide["Date"].min()).dt.days // 7
        weekly[step] = daily.groupby(week).sum()
    assert len(weekly["Production"]) == 32  # 221 days
    (row,) = view.to_pylist()
    assert row["echelon"] == ALL and row["windows"] == 32
    assert row["orders_total"] == pytest.approx(weekly["Production"].sum(), rel=1e-9)
    assert row["demand_total"] == pytest.approx(weekly["Sales Order"].sum(), rel=1e-9)
    assert row["orders_variance"] == pytest.approx(weekly["Production"].var(), rel=1e-9)
    assert row["demand_variance"] == pytest.approx(weekly["Sales Order"].var(), rel=1e-9)
    ratio = weekly["Production"].var() / weekly["Sales Order"].var()
    assert row["bullwhip"] == pytest.approx(ratio, rel=1e-9)


def test_bullwhip_agrees_on_spark(chain: Path, both_engines: Any) -> None:
    duck, spark = both_engines(chain)
    a, b = bullwhip(duck, window_days=1), bullwhip(spark, window_days=1)
    assert a.num_rows == 3
    assert a.table.equals(b.table), (a.to_pylist(), b.to_pylist())
    assert a.notes == b.notes
