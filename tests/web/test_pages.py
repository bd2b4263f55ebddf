"""What the obeya's pages take from the views, without a browser: the stock chart of a large
log is drawn from buckets (a series of at most a few hundred points, ending on the stock the
ledger holds at the end), not from every change of stock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from keiretsu.analytics import Log, inventory
from keiretsu.io.epcis.synth import write_synthetic_epcis_json
from keiretsu.store import Store
from keiretsu.web import pages

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_the_stock_chart_takes_the_finest_bucket_within_its_points() -> None:
    assert pages.stock_bucket(None, None) == "1h"
    assert pages.stock_bucket(T0, T0 + timedelta(hours=30)) == "1h"
    assert pages.stock_bucket(T0, T0 + timedelta(days=60)) == "8h"
    assert pages.stock_bucket(T0, T0 + timedelta(days=365)) == "1d"
    assert pages.stock_bucket(T0, T0 + timedelta(days=3650)) == "1w"
    assert pages.stock_bucket(T0, T0 + timedelta(days=100_000)) == "1w"  # the coarsest


def test_the_inventory_page_draws_buckets_that_end_on_the_ledgers_stock(tmp_path: Path) -> None:
    doc = write_synthetic_epcis_json(tmp_path / "chain.jsonld", 3_000, seed=5)
    with Store(tmp_path / "twin.duckdb") as store:
        assert store.ingest_file(doc).status == "accepted"
    log = Log.open(tmp_path / "twin.duckdb")
    page = pages.inventory(log)
    # every change of stock, as the ledger has it: the last one per site and product
    final: dict[str, float] = {}
    changes = 0
    for r in log.execute(inventory.movements(log)).to_pylist():
        key = f"{pages.short(r['location'])} · {pages.short(r['product'])}"
        final[key] = final.get(key, 0.0) + r["delta"]
        changes += 1
    series = {s["name"]: s["data"] for s in page["series"]}
    assert set(series) == set(final)
    assert all(len(points) <= pages.STOCK_POINTS + 1 for points in series.values())
    assert sum(len(p) for p in series.values()) < changes  # bucketed, not every movement
    for name, points in series.items():
        assert abs(points[-1][1] - final[name]) < 1e-9, name
        times = [p[0] for p in points]
        assert times == sorted(times)
    assert page["levels"]["total"] == sum(len(p) for p in series.values())
    assert len(page["levels"]["rows"]) == min(200, page["levels"]["total"])
