"""``Log.groups``: a large result taken apart group by group, one group held at a time.

The data boxes read their ten million visits this way (step by step); what they compute from
each step must not depend on how the engine cut the stream into batches."""

from __future__ import annotations

from pathlib import Path

import duckdb
import ibis
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keiretsu.analytics import Log
from keiretsu.io.detect import read_any
from keiretsu.model import Ocel

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"

_LOG: list[Log] = []


def _log() -> Log:
    """A log in memory (the OCEL 2.0 running example): the DuckDB connection the groups run
    on."""
    if not _LOG:
        _LOG.append(Log.from_ocel(Ocel.concat(read_any(DATA / "ocel" / "running-example.sqlite"))))
    return _LOG[0]


def _temp_tables(log: Log) -> list[str]:
    rows = log.backend.con.sql(
        "SELECT table_name FROM duckdb_tables() WHERE temporary AND table_name LIKE 'k_groups_%'"
    ).fetchall()
    return [r[0] for r in rows]


_ROWS = st.lists(
    st.tuples(
        st.sampled_from(["pack", "pick item", "ship", "weigh", None]),
        st.one_of(st.none(), st.integers(-5, 5)),
        st.integers(0, 10**6),
    ),
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(rows=_ROWS, batch_rows=st.integers(1, 7))
def test_each_group_comes_once_in_order_with_its_rows_sorted_nulls_last(
    rows: list[tuple[str | None, int | None, int]], batch_rows: int
) -> None:
    log = _log()
    # ``n`` is unique: rows equal in ``step`` and ``at`` still have one order
    table = pa.table(
        {
            "step": pa.array([r[0] for r in rows], pa.string()),
            "at": pa.array([r[1] for r in rows], pa.int64()),
            "n": pa.array([i for i, _ in enumerate(rows)], pa.int64()),
        }
    )
    got = list(log.groups(ibis.memtable(table), "step", ("at", "n"), batch_rows=batch_rows))

    def nulls_last(value: object) -> tuple[bool, object]:
        return (value is None, value if value is not None else 0)

    expected: dict[str | None, list[tuple[int | None, int]]] = {}
    for i, (step, at, _) in enumerate(rows):
        expected.setdefault(step, []).append((at, i))
    order = sorted(expected, key=nulls_last)
    assert [value for value, _ in got] == order
    for value, part in got:
        assert set(part.column("step").to_pylist()) == {value}
        pairs = list(zip(part.column("at").to_pylist(), part.column("n").to_pylist(), strict=True))
        assert pairs == sorted(expected[value], key=lambda p: (nulls_last(p[0]), p[1]))
    assert sum(part.num_rows for _, part in got) == len(rows)
    assert _temp_tables(log) == []


def test_a_reader_who_stops_early_leaves_no_table_behind() -> None:
    log = _log()
    e = log.events
    groups = log.groups(e.select("activity", "time", "seq"), "activity", ("time", "seq"))
    first, rows = next(groups)
    assert rows.num_rows > 0 and set(rows.column("activity").to_pylist()) == {first}
    # while the rows stream, the connection takes no other query: an error, not wrong rows
    with pytest.raises(duckdb.Error, match="open result"):
        log.scalar(e.count())
    groups.close()
    assert _temp_tables(log) == []
    # the log answers the next question as before
    assert log.scalar(e.count()) == 18_211
