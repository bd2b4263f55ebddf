"""What a log computes once: a live twin's memoised building blocks follow the events it
gets; a store opened read-only, whose events cannot change, answers them without asking the
store again; a building block lent for a report is read by the views it calls, and only
there."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import ibis

from keiretsu.analytics import Log, sqlcache
from keiretsu.analytics.flow import visits
from keiretsu.model import Ocel, OcelBuilder
from keiretsu.store import Store

T0 = datetime(2025, 5, 5, 6, 0, tzinfo=UTC)


def _document(prefix: str, activities: list[str]) -> Ocel:
    b = OcelBuilder()
    for i, activity in enumerate(activities):
        b.add_event(f"{prefix}-e{i}", activity, T0 + timedelta(hours=i), {})
        b.relate(f"{prefix}-e{i}", f"{prefix}-order", "order")
    b.add_object(f"{prefix}-order", "order")
    return b.build()


def test_a_live_log_sees_new_activities_and_a_read_only_one_asks_once(tmp_path: Path) -> None:
    path = tmp_path / "twin.duckdb"
    with Store(path) as store:
        store.ingest([_document("a", ["pick", "pack"])], document="a")
        live = Log.from_connection(store.con)
        assert sorted(live.known_names("activity")) == ["pack", "pick"]
        store.ingest([_document("b", ["pick", "ship"])], document="b")
        # the same log, more events: computed again
        assert sorted(live.known_names("activity")) == ["pack", "pick", "ship"]
    opened = Log.open(path)
    assert sorted(opened.known_names("activity")) == ["pack", "pick", "ship"]
    before = sqlcache.stats()["queries"]
    for _ in range(5):
        assert sorted(opened.known_names("activity")) == ["pack", "pick", "ship"]
    # read-only: nobody can write the file meanwhile, so no count query per memo
    assert sqlcache.stats()["queries"] == before


def test_a_lent_table_is_read_inside_the_block_only() -> None:
    log = Log.from_ocel(_document("a", ["pick", "pack", "ship"]))
    stand_in = ibis.memtable({"object_id": ["a-order"]})
    with log.lend(("flow.visits", "order"), stand_in):
        assert visits(log, "order") is stand_in
        with log.lend(("flow.visits", "order"), None):  # nested: the inner one wins
            assert visits(log, "order") is not stand_in
        assert visits(log, "order") is stand_in
        # another object type is not lent
        assert visits(log, "pallet") is not stand_in
    # after the block: computed from the events, one visit per step
    assert log.execute(visits(log, "order")).num_rows == 3
