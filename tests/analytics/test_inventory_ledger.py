"""The stock ledger kept once per state of a store's log: views read the same rows as the
ledger's expression, and a live log (a node's twin) sees the events stored since."""

from __future__ import annotations

from pathlib import Path

from keiretsu.analytics import Log, inventory
from keiretsu.io.epcis.synth import write_synthetic_epcis_json
from keiretsu.store import Store


def _sorted(rows: list[dict[str, object]]) -> list[tuple[object, ...]]:
    return sorted(tuple(str(v) for v in r.values()) for r in rows)


def test_the_kept_ledger_follows_the_store_and_equals_its_expression(tmp_path: Path) -> None:
    first = write_synthetic_epcis_json(tmp_path / "a.jsonld", 1_000, seed=3)
    second = write_synthetic_epcis_json(tmp_path / "b.jsonld", 500, seed=4)
    with Store(tmp_path / "twin.duckdb") as store:
        assert store.ingest_file(first).status == "accepted"
        log = Log.from_connection(store.con.cursor())  # live: not fixed
        kept = log.execute(inventory.movements(log))
        assert inventory.LEDGER_TABLE in str(inventory.movements(log).get_name())
        assert _sorted(kept.to_pylist()) == _sorted(log.execute(inventory._ledger(log)).to_pylist())
        before = inventory.stock_levels(log).table.num_rows
        assert store.ingest_file(second).status == "accepted"
        after = log.execute(inventory.movements(log))
        assert after.num_rows > kept.num_rows  # the second document's movements are there
        assert _sorted(after.to_pylist()) == _sorted(
            log.execute(inventory._ledger(log)).to_pylist()
        )
        assert inventory.stock_levels(log).table.num_rows > before
