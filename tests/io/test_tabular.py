"""The table reader: pm4py's running example written out as CSV and Parquet reads back as the
same events as the XES reader gives; object-centric mappings; bad rows refused."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd
import pm4py
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from _data import DATA
from keiretsu.io.tabular import ColumnMapping, read_table
from keiretsu.io.xes import read_xes
from keiretsu.model import DocumentError, Ocel

LOGS = DATA / "logs"
CASE_MAPPING = ColumnMapping(
    activity="concept:name",
    time="time:timestamp",
    objects={"case:concept:name": "case"},
    resource="org:resource",
    attributes=(),
)


def _events(ocel: Ocel) -> list[tuple[str, str, object, str | None]]:
    """(case, activity, time, resource) per event, sorted."""
    eo = ocel.event_objects
    case = dict(
        zip(
            eo.filter(pc.equal(eo["ocel_qualifier"], "case"))["ocel_event_id"].to_pylist(),
            eo.filter(pc.equal(eo["ocel_qualifier"], "case"))["ocel_object_id"].to_pylist(),
            strict=True,
        )
    )
    res_rows = eo.filter(pc.equal(eo["ocel_qualifier"], "resource"))
    res = dict(
        zip(
            res_rows["ocel_event_id"].to_pylist(),
            res_rows["ocel_object_id"].to_pylist(),
            strict=True,
        )
    )
    ev = ocel.events
    return sorted(
        (
            (case[i], a, t, res.get(i))
            for i, a, t in zip(
                ev["ocel_id"].to_pylist(),
                ev["ocel_type"].to_pylist(),
                ev["ocel_time"].to_pylist(),
                strict=True,
            )
        ),
        key=repr,
    )


@pytest.fixture(scope="module")
def running_example() -> pd.DataFrame:
    df = pm4py.read_xes(str(LOGS / "running-example.xes"))
    assert isinstance(df, pd.DataFrame)
    return df


def test_csv_export_reads_as_the_xes_log(running_example: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "running.csv"
    running_example.to_csv(path, index=False)
    ours = Ocel.concat(read_table(path, CASE_MAPPING))
    xes = Ocel.concat(read_xes(LOGS / "running-example.xes"))
    assert _events(ours) == _events(xes)
    assert ours.num_events == 42
    # events ids from the file row: the same file read twice gives the same ids
    again = Ocel.concat(read_table(path, CASE_MAPPING, batch_size=5))
    assert ours.events["ocel_id"].to_pylist() == again.events["ocel_id"].to_pylist()
    assert ours.events["ocel_id"][0].as_py() == f"{path}#1"


def test_parquet_export_reads_as_the_xes_log(running_example: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "running.parquet"
    running_example.to_parquet(path, index=False, row_group_size=10)
    batches = list(read_table(path, CASE_MAPPING, batch_size=10))
    assert len(batches) >= 4 and all(b.num_events <= 10 for b in batches)
    ours = Ocel.concat(batches)
    assert _events(ours) == _events(Ocel.concat(read_xes(LOGS / "running-example.xes")))
    cases = pc.equal(ours.objects["ocel_type"], "case")
    assert ours.objects.filter(cases).num_rows == running_example["case:concept:name"].nunique()


def test_all_other_columns_become_typed_attributes(
    running_example: pd.DataFrame, tmp_path: Path
) -> None:
    df = running_example.assign(Costs=running_example["Costs"].astype(int), rush=True)
    path = tmp_path / "typed.parquet"
    df.to_parquet(path, index=False)
    mapping = ColumnMapping(
        activity="concept:name", time="time:timestamp", objects={"case:concept:name": "case"}
    )
    ocel = Ocel.concat(read_table(path, mapping))
    ea = ocel.event_attributes
    types = dict(zip(ea["ocel_name"].to_pylist(), ea["ocel_value_type"].to_pylist(), strict=True))
    assert types["Costs"] == "integer" and types["rush"] == "boolean"
    assert types["org:resource"] == "string"
    costs = ea.filter(pc.equal(ea["ocel_name"], "Costs"))["ocel_value"].to_pylist()
    assert sorted(map(int, costs)) == sorted(df["Costs"])


def test_object_centric_mapping_with_two_object_columns(tmp_path: Path) -> None:
    path = tmp_path / "wms.csv"
    path.write_text(
        "step,ts,order_id,material,qty\n"
        "Pick,2024-03-01T08:00:00Z,O1,M1,4\n"
        "Pick,2024-03-01T08:05:00Z,O1,M2,1\n"
        "Pack,2024-03-01T09:00:00Z,O1,,\n"
        "Pick,2024-03-01T09:10:00Z,O2,M1,2\n"
    )
    mapping = ColumnMapping.parse(
        "activity=step,time=ts,object:order=order_id,object:material=material,"
        "qualifier:material=picked"
    )
    ocel = Ocel.concat(read_table(path, mapping))
    objs = dict(
        zip(ocel.objects["ocel_id"].to_pylist(), ocel.objects["ocel_type"].to_pylist(), strict=True)
    )
    assert objs == {"O1": "order", "O2": "order", "M1": "material", "M2": "material"}
    quals = Counter(ocel.event_objects["ocel_qualifier"].to_pylist())
    assert quals == {"order": 4, "picked": 3}
    qty = ocel.event_attributes.filter(pc.equal(ocel.event_attributes["ocel_name"], "qty"))
    assert qty["ocel_value"].to_pylist() == ["4", "1", "2"]
    assert set(qty["ocel_value_type"].to_pylist()) == {"integer"}


def test_start_and_end_columns_give_start_and_complete_events(tmp_path: Path) -> None:
    path = tmp_path / "mes.csv"
    path.write_text(
        "op,started,ended,lot\n"
        "Mill,01.03.2024 08:00,01.03.2024 08:40,L1\n"
        "Drill,01.03.2024 09:00,01.03.2024 09:05,L1\n"
    )
    mapping = ColumnMapping.parse(
        "activity=op,time=ended,start_time=started,time_format=%d.%m.%Y %H:%M,object:lot=lot"
    )
    ocel = Ocel.concat(read_table(path, mapping))
    assert ocel.num_events == 4
    life = ocel.event_attributes.filter(
        pc.equal(ocel.event_attributes["ocel_name"], "lifecycle:transition")
    )
    assert Counter(life["ocel_value"].to_pylist()) == {"start": 2, "complete": 2}
    ev = ocel.events.sort_by("ocel_time")
    assert [t.hour * 60 + t.minute for t in ev["ocel_time"].to_pylist()] == [480, 520, 540, 545]


@pytest.mark.parametrize(
    ("line", "column", "text"),
    [
        (3, "ts", "Pick,not a time,O1\n"),
        (3, "step", ",2024-03-01T08:00:00Z,O1\n"),
    ],
)
def test_bad_rows_are_refused_with_line_and_column(
    tmp_path: Path, line: int, column: str, text: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("step,ts,order_id\nPick,2024-03-01T08:00:00Z,O1\n" + text)
    mapping = ColumnMapping.parse("activity=step,time=ts,object:order=order_id")
    with pytest.raises(DocumentError) as info:
        list(read_table(path, mapping))
    problem = info.value.problems[0]
    assert problem.line == line and problem.document == str(path)
    assert column in problem.detail and problem.expected


def test_missing_column_and_bad_mapping_text(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("step,ts\nPick,2024-03-01T08:00:00Z\n")
    with pytest.raises(DocumentError, match="order_id"):
        list(read_table(path, ColumnMapping.parse("activity=step,time=ts,object:o=order_id")))
    with pytest.raises(ValueError, match="time"):
        ColumnMapping.parse("activity=step")
    with pytest.raises(ValueError, match="colour"):
        ColumnMapping.parse("activity=step,time=ts,colour=red")


def test_object_id_of_two_types_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(
        "step,ts,a,b\nPick,2024-03-01T08:00:00Z,X1,X2\nPick,2024-03-01T08:00:00Z,X2,X3\n"
    )
    mapping = ColumnMapping.parse("activity=step,time=ts,object:order=a,object:item=b")
    with pytest.raises(DocumentError, match="X2"):
        list(read_table(path, mapping))


def test_arrow_types_survive(tmp_path: Path) -> None:
    table = pa.table(
        {
            "step": ["a", "b"],
            "ts": pa.array([0, 60_000_000], pa.timestamp("us")),
            "due": pa.array([86_400_000_000, None], pa.timestamp("us", tz="UTC")),
            "kg": [1.5, 2.0],
        }
    )
    import pyarrow.parquet as pq

    pq.write_table(table, tmp_path / "x.parquet")
    ocel = Ocel.concat(read_table(tmp_path / "x.parquet", ColumnMapping("step", "ts")))
    rows = {
        (r["ocel_name"], r["ocel_value"], r["ocel_value_type"])
        for r in ocel.event_attributes.to_pylist()
    }
    assert rows == {
        ("due", "1970-01-02T00:00:00Z", "time"),
        ("kg", "1.5", "float"),
        ("kg", "2.0", "float"),
    }
