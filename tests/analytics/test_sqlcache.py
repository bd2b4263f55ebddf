"""The compiled-SQL cache: a view answered from kept SQL gives exactly what Ibis's own
compile-and-run gives, for tables in memory too, and never mixes up two expressions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import ibis
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keiretsu.analytics import Log, sqlcache
from keiretsu.analytics.process_map import ocdfg, variants


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "sql"
    monkeypatch.setenv("KEIRETSU_SQL_CACHE", str(folder))
    sqlcache.clear_memory()
    yield folder
    sqlcache.clear_memory()


def _files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.sql")) if folder.exists() else []


def _log(rows: list[tuple[str, str, str, int]]) -> Log:
    """A log in DuckDB of (event, activity, object, minute) rows, one object per event."""
    con = ibis.duckdb.connect()
    events = pa.table(
        {
            "event_id": [r[0] for r in rows],
            "activity": [r[1] for r in rows],
            "time": pa.array([r[3] * 60_000_000 for r in rows], pa.timestamp("us", tz="UTC")),
            "seq": pa.array(range(len(rows)), pa.int64()),
        }
    )
    con.con.register("ev", events)
    return Log(
        backend=con,
        engine="duckdb",
        events=con.table("ev"),
        relations=ibis.memtable({"event_id": ["x"], "object_id": ["y"]}),
        objects=ibis.memtable({"object_id": ["y"], "object_type": ["t"]}),
        event_attributes=ibis.memtable({"event_id": ["x"], "name": ["n"], "value": ["v"]}),
        object_attributes=ibis.memtable({"object_id": ["y"], "name": ["n"], "value": ["v"]}),
        object_relations=ibis.memtable({"source_id": ["y"], "target_id": ["y"]}),
    )


ROWS = [("e1", "pick", "o1", 0), ("e2", "pack", "o1", 5), ("e3", "pick", "o2", 7)]


def test_a_view_from_the_disk_cache_equals_ibis_own_result(
    cache: Path, running_example_xes: Path
) -> None:
    log = Log.open(running_example_xes)
    first = ocdfg(log)
    assert _files(cache), "the compiled SQL was kept on disk"
    compiled = sqlcache.stats()["compiled"]
    sqlcache.clear_memory()  # as a new process would start
    again = ocdfg(Log.open(running_example_xes))
    assert sqlcache.stats()["compiled"] == compiled, "nothing compiled the second time"
    for a, b in [(first.edges, again.edges), (first.activities, again.activities)]:
        assert a.table.equals(b.table)
    # the reference: Ibis's own compile and run, no cache involved
    o = log.objects
    expr = o.group_by("object_type").agg(n=o.count()).order_by("object_type")
    assert sqlcache.execute(log.backend, expr).equals(log.backend.to_pyarrow(expr))


def test_tables_in_memory_keep_their_own_rows(cache: Path, running_example_xes: Path) -> None:
    """Two expressions of the same shape over different tables in memory share one cached
    query, and each answers with its own rows."""
    log = Log.open(running_example_xes)

    def count_per_type(ids: list[str]) -> dict[str, int]:
        wanted = ibis.memtable({"object_id": ids})
        j = log.objects.join(wanted, "object_id")
        rows = log.execute(j.group_by("object_type").agg(n=j.count())).to_pylist()
        return {r["object_type"]: r["n"] for r in rows}

    kind = log.object_types()[0]
    rows = log.execute(log.objects).to_pylist()
    ids = sorted(r["object_id"] for r in rows if r["object_type"] == kind)
    assert len(ids) >= 6
    a = count_per_type(ids[:2])
    files = _files(cache)
    sqlcache.clear_memory()
    b = count_per_type(ids[1:6])
    assert _files(cache) == files, "the second shape was found, not compiled again"
    assert a == {kind: 2}
    assert b == {kind: 5}


def test_different_literals_are_different_queries(cache: Path) -> None:
    log = _log(ROWS)
    e = log.events
    picks = log.execute(e.filter(e.activity == "pick").select("event_id"))
    packs = log.execute(e.filter(e.activity == "pack").select("event_id"))
    assert picks.column("event_id").to_pylist() == ["e1", "e3"]
    assert packs.column("event_id").to_pylist() == ["e2"]
    # 1 and 1.0 compile differently (an integer and a double): two files
    n_int = log.scalar(e.count() + 1)
    n_float = log.scalar(e.count() + 1.0)
    assert (n_int, n_float) == (4, 4.0)
    assert isinstance(n_int, int) and isinstance(n_float, float)
    assert len(_files(cache)) == 4


def test_off_keeps_nothing_on_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEIRETSU_SQL_CACHE", "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert sqlcache.cache_dir() is None
    sqlcache.clear_memory()
    log = _log(ROWS)
    assert log.scalar(log.events.count()) == 3
    assert not list(tmp_path.rglob("*.sql"))


def test_a_damaged_cached_query_is_compiled_again(cache: Path) -> None:
    log = _log(ROWS)
    e = log.events
    expr = e.group_by("activity").agg(n=e.count()).order_by("activity")
    expected = log.backend.to_pyarrow(expr)
    assert log.execute(expr).equals(expected)
    (file,) = _files(cache)
    file.write_text("SELEKT nonsense")
    sqlcache.clear_memory()
    assert log.execute(expr).equals(expected)
    assert not file.exists() or "SELEKT" not in file.read_text()


def test_variants_with_a_lambda_are_kept(cache: Path, running_example_xes: Path) -> None:
    """Variants map each trace with a Python lambda: still one stable key."""
    log = Log.open(running_example_xes)
    first = variants(log, log.object_types()[0])
    sqlcache.clear_memory()
    before = sqlcache.stats()
    again = variants(Log.open(running_example_xes), log.object_types()[0])
    after = sqlcache.stats()
    assert after["uncacheable"] == before["uncacheable"]
    assert after["compiled"] == before["compiled"]
    assert first.table.equals(again.table)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    threshold=st.integers(min_value=-5, max_value=15),
    name=st.text(alphabet="abpick'\" ", max_size=6),
)
def test_cached_answers_equal_ibis_answers(cache: Path, threshold: int, name: str) -> None:
    """Whatever the literals, the cached route answers what Ibis's own route answers."""
    log = _log(ROWS)
    e = log.events
    minutes = (e.time.epoch_seconds() / 60).cast("int64")
    f = e.filter((minutes >= threshold) | (e.activity == name))
    expr = f.group_by("activity").agg(n=f.count(), last=f.time.max()).order_by("activity")
    for _ in range(2):
        assert log.execute(expr).equals(log.backend.to_pyarrow(expr))
        sqlcache.clear_memory()
