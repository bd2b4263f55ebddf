"""Aggregate data a company already has: SupplyGraph's real daily production and sales (one
column per product) ingest with one command, keep their quantities, and the report shows
demand, stock and bullwhip per product — each recounted here with pandas on the CSV — and
says what it cannot compute instead of printing flow times; unknown names are named."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from _data import data
from keiretsu.analytics import Log
from keiretsu.analytics.inventory import daily_demand
from keiretsu.analytics.log import UnknownNameError
from keiretsu.analytics.process_map import dfg
from keiretsu.cli import app

UNIT = data("supplygraph", "Temporal Data", "Unit")
PRODUCTION = UNIT / "Production .csv"
SALES = UNIT / "Sales Order.csv"
MAP = 'time=Date,location="plant",kind:Production=produced,kind:Sales Order=sold'

runner = CliRunner()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sg") / "sg.duckdb"
    result = runner.invoke(
        app,
        ["ingest", str(PRODUCTION), str(SALES), "--wide", "--map", MAP, "--store", str(path)],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.stderr
    return path


def _long(path: Path) -> pd.DataFrame:
    wide = pd.read_csv(path)
    long = wide.melt(id_vars="Date", var_name="product", value_name="q")
    long["day"] = pd.to_datetime(long["Date"], utc=True)
    return long[long.q.notna() & (long.q != 0)]


def test_every_nonzero_cell_is_one_event_with_its_quantity(store: Path) -> None:
    log = Log.open(store)
    r = log.relations
    n_events = int(log.scalar(log.events.count()))
    sold = log.execute(r.filter(r.qualifier == "epc").select("object_id", "quantity"))
    prod, sales = _long(PRODUCTION), _long(SALES)
    assert n_events == len(prod) + len(sales)
    total = sold.to_pandas().groupby("object_id").quantity.sum()
    expected = pd.concat([prod, sales]).groupby("product").q.sum()
    pd.testing.assert_series_equal(
        total.sort_index(), expected.sort_index(), check_names=False, rtol=1e-9
    )


def test_demand_stock_and_bullwhip_per_product_match_pandas(store: Path) -> None:
    result = runner.invoke(app, ["analyze", "--store", str(store), "--json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)  # JSON on stdout and nothing else
    assert report["aggregate"] is True
    assert "process_map" not in report["views"] and "object_times" not in report["views"]
    assert "flow" in report["not_measurable"]["object_times"]
    assert report["value_stream_map_svg"] is None
    prod, sales = _long(PRODUCTION), _long(SALES)

    # demand: what the customers took, per product
    took = {r["family"]: r["quantity"] for r in report["views"]["customer_demand"]["rows"]}
    expected = sales.groupby("product").q.sum()
    assert took.keys() == set(expected.index)
    for product, q in expected.items():
        assert took[product] == pytest.approx(q, rel=1e-9)

    # stock at the plant: produced less sold, per product
    stock = {r["product"]: r["stock"] for r in report["views"]["days_of_supply"]["rows"]}
    net = prod.groupby("product").q.sum().sub(sales.groupby("product").q.sum(), fill_value=0)
    for product, q in net.items():
        assert stock[product] == pytest.approx(q, rel=1e-9, abs=1e-6)

    # bullwhip per product: variance of weekly production over variance of weekly sales,
    # windows of 7 days from the log's first event
    both = pd.concat([prod.assign(side="orders"), sales.assign(side="demand")])
    first, last = both.day.min(), both.day.max()
    windows = int((last - first).total_seconds() // (7 * 86400)) + 1
    both["window"] = ((both.day - first).dt.total_seconds() // (7 * 86400)).astype(int)
    ratios = {r["echelon"]: r for r in report["views"]["bullwhip"]["rows"]}
    for product in ("SOS001L12P", "SOS005L04P", "ATN01K24P", "POV001L24P"):
        per = both[both["product"] == product]
        totals = {}
        for side in ("orders", "demand"):
            weekly = np.zeros(windows)
            s = per[per.side == side].groupby("window").q.sum()
            weekly[s.index.to_numpy()] = s.to_numpy()
            totals[side] = weekly.var(ddof=1)
        assert ratios[product]["windows"] == windows
        assert ratios[product]["bullwhip"] == pytest.approx(
            totals["orders"] / totals["demand"], rel=1e-9
        )


def test_daily_demand_per_product_and_day(store: Path) -> None:
    view = daily_demand(Log.open(store), by_location=False).to_pandas()
    sales = _long(SALES)
    expected = sales.groupby(["product", "day"]).q.sum()
    got = view.set_index(["product", "day"]).quantity
    got.index = got.index.set_levels(pd.to_datetime(got.index.levels[1], utc=True), level=1)
    pd.testing.assert_series_equal(
        got.sort_index(), expected.sort_index(), check_names=False, rtol=1e-9
    )


def test_an_unknown_object_type_lists_the_known_ones(store: Path) -> None:
    log = Log.open(store)
    with pytest.raises(UnknownNameError) as caught:
        dfg(log, "pallet")
    assert isinstance(caught.value, KeyError) and isinstance(caught.value, ValueError)
    assert "'pallet'" in str(caught.value) and "'product'" in str(caught.value)
    assert caught.value.known == ["location", "product"]


def test_a_text_quantity_is_refused_at_its_line(tmp_path: Path) -> None:
    csv = tmp_path / "sales.csv"
    csv.write_text("Date,A,B\n2023-01-01,3,1\n2023-01-02,x,2\n")
    store = tmp_path / "s.duckdb"
    result = runner.invoke(
        app,
        [
            "ingest",
            str(csv),
            "--wide",
            "--map",
            'time=Date,kind=sold,location="dc"',
            "--store",
            str(store),
        ],
        catch_exceptions=False,
    )
    said = "".join(result.stderr.split())
    assert result.exit_code == 1 and "line3" in said and "'A'" in said
    assert not store.exists()
