"""The XES reader against pm4py's reading of the same real-life logs, and against hostile input."""

from __future__ import annotations

import contextlib
import functools
import gzip
import io
from collections import Counter
from pathlib import Path

import pandas as pd
import pm4py
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _data import DATA
from keiretsu.io.xes import read_xes
from keiretsu.model import DocumentError, Ocel

LOGS = DATA / "logs"
SMALL = ["running-example.xes", "receipt.xes.gz", "bpic2013_incidents.xes.gz"]


@functools.cache
def _ours(path: Path) -> Ocel:
    return Ocel.concat(read_xes(path, batch_size=5_000))


@functools.cache
def _pm4py(path: Path) -> pd.DataFrame:
    """pm4py's reading, once per log per test process (it is the slow part of the suite)."""
    df = pm4py.read_xes(str(path))
    assert isinstance(df, pd.DataFrame)
    return df


def _case_of(ocel: Ocel) -> dict[str, str]:
    eo = ocel.event_objects.filter(pa.compute.equal(ocel.event_objects["ocel_qualifier"], "case"))
    return dict(zip(eo["ocel_event_id"].to_pylist(), eo["ocel_object_id"].to_pylist(), strict=True))


def _resource_of(ocel: Ocel) -> dict[str, str]:
    ea = ocel.event_attributes
    ea = ea.filter(pa.compute.equal(ea["ocel_name"], "org:resource"))
    return dict(zip(ea["ocel_id"].to_pylist(), ea["ocel_value"].to_pylist(), strict=True))


def _rows(ocel: Ocel) -> list[tuple[str, str, object, str | None]]:
    """(case, activity, time, resource) per event, in case order then time order."""
    case = _case_of(ocel)
    res = _resource_of(ocel)
    ev = ocel.events
    rows = [
        (case[i], a, t, res.get(i))
        for i, a, t in zip(
            ev["ocel_id"].to_pylist(),
            ev["ocel_type"].to_pylist(),
            ev["ocel_time"].to_pylist(),
            strict=True,
        )
    ]
    return rows


def _pm4py_rows(df: pd.DataFrame) -> list[tuple[str, str, object, str | None]]:
    res = df["org:resource"] if "org:resource" in df.columns else [None] * len(df)
    return [
        (c, a, t.to_pydatetime(), None if (r is None or pd.isna(r)) else r)
        for c, a, t, r in zip(
            df["case:concept:name"], df["concept:name"], df["time:timestamp"], res, strict=True
        )
    ]


@pytest.mark.parametrize("name", SMALL)
def test_counts_match_pm4py(name: str) -> None:
    path = LOGS / name
    ours = _ours(path)
    ref = _pm4py(path)
    assert ours.num_events == len(ref)
    cases = ours.objects.filter(pa.compute.equal(ours.objects["ocel_type"], "case"))
    assert cases.num_rows == ref["case:concept:name"].nunique()
    assert Counter(ours.events["ocel_type"].to_pylist()) == Counter(ref["concept:name"])
    times = ours.events["ocel_time"]
    assert pa.compute.min(times).as_py() == ref["time:timestamp"].min().to_pydatetime()
    assert pa.compute.max(times).as_py() == ref["time:timestamp"].max().to_pydatetime()


@pytest.mark.parametrize("name", ["running-example.xes", "receipt.xes.gz"])
def test_every_event_matches_pm4py(name: str) -> None:
    path = LOGS / name
    ours = sorted(_rows(_ours(path)), key=repr)
    ref = sorted(_pm4py_rows(_pm4py(path)), key=repr)
    assert ours == ref


def test_bpic2012_matches_pm4py() -> None:
    path = LOGS / "bpic2012.xes.gz"
    ours = _ours(path)
    ref = _pm4py(path)
    assert ours.num_events == len(ref) == 262_200
    assert Counter(ours.events["ocel_type"].to_pylist()) == Counter(ref["concept:name"])
    assert Counter(_case_of(ours).values()) == Counter(ref["case:concept:name"])
    lifecycle = ours.event_attributes.filter(
        pa.compute.equal(ours.event_attributes["ocel_name"], "lifecycle:transition")
    )
    assert Counter(lifecycle["ocel_value"].to_pylist()) == Counter(ref["lifecycle:transition"])


def test_reimport_gives_the_same_ids_and_batches_bound_memory() -> None:
    path = LOGS / "receipt.xes.gz"
    first = list(read_xes(path, batch_size=1_000))
    assert len(first) >= 8 and all(b.num_events <= 1_000 + 500 for b in first)
    again = Ocel.concat(read_xes(path.read_bytes()))
    assert sorted(Ocel.concat(first).events["ocel_id"].to_pylist()) == sorted(
        again.events["ocel_id"].to_pylist()
    )
    ids = again.events["ocel_id"].to_pylist()
    assert len(set(ids)) == len(ids)


def test_plain_and_gzip_and_stream_read_alike() -> None:
    raw = (LOGS / "running-example.xes").read_bytes()
    a = Ocel.concat(read_xes(raw)).sorted()
    b = Ocel.concat(read_xes(gzip.compress(raw))).sorted()
    c = Ocel.concat(read_xes(io.BufferedReader(io.BytesIO(raw)))).sorted()
    assert a.events.equals(b.events) and a.events.equals(c.events)
    assert a.event_objects.equals(b.event_objects)


def test_trace_attributes_and_resources_become_objects() -> None:
    ocel = _ours(LOGS / "running-example.xes")
    types = Counter(ocel.objects["ocel_type"].to_pylist())
    assert types["case"] == 6
    assert types["resource"] == len({"Pete", "Mike", "Ellen", "Sara", "Sean", "Sue"})
    oa = {
        (r["ocel_id"], r["ocel_name"]): r["ocel_value"] for r in ocel.object_attributes.to_pylist()
    }
    assert oa[("3", "creator")] == "Fluxicon Nitro"
    assert all(t.year == 1970 for t in ocel.object_attributes["ocel_time"].to_pylist())


TRACE = (
    '<trace><string key="concept:name" value="c1"/>'
    '<event><string key="concept:name" value="pick"/>{ts}{extra}</event></trace>'
)
STAMP = '<date key="time:timestamp" value="2024-03-01T08:00:00+01:00"/>'


def _doc(body: str) -> bytes:
    return f'<?xml version="1.0"?><log xmlns="http://www.xes-standard.org/">{body}</log>'.encode()


def test_typed_attributes_and_nested_values() -> None:
    extra = (
        '<int key="qty" value="40"/><float key="kg" value="12.5"/>'
        '<boolean key="rush" value="true"/><date key="due" value="2024-03-02T00:00:00Z"/>'
        '<list key="lots"><values><string key="x" value="L1"/><string key="x" value="L2"/>'
        "</values></list>"
        '<string key="org:resource" value="Ann"><string key="meta" value="ignored"/></string>'
    )
    ocel = Ocel.concat(read_xes(_doc(TRACE.format(ts=STAMP, extra=extra))))
    attrs = {
        r["ocel_name"]: (r["ocel_value"], r["ocel_value_type"])
        for r in ocel.event_attributes.to_pylist()
    }
    assert attrs["qty"] == ("40", "integer")
    assert attrs["kg"] == ("12.5", "float")
    assert attrs["rush"] == ("true", "boolean")
    assert attrs["due"] == ("2024-03-02T00:00:00Z", "time")
    assert attrs["lots"] == ('["L1","L2"]', "string")
    assert attrs["org:resource"] == ("Ann", "string")
    assert "meta" not in attrs
    assert ocel.events["ocel_time"].to_pylist()[0].hour == 7  # 08:00+01:00 is 07:00 UTC
    assert ocel.events["ocel_id"].to_pylist() == ["c1/0"]


def test_missing_timestamp_names_trace_event_field_and_line() -> None:
    doc = _doc("\n" + TRACE.format(ts="", extra="").replace("<event>", "\n<event>"))
    with pytest.raises(DocumentError) as info:
        list(read_xes(doc, document="orders.xes"))
    p = info.value.problems[0]
    assert p.document == "orders.xes" and p.event_index == 0 and p.line == 3
    assert "time:timestamp" in (p.field or "") and "trace 0" in p.detail


def test_trace_without_case_id_is_refused() -> None:
    body = f'<trace><event><string key="concept:name" value="a"/>{STAMP}</event></trace>'
    with pytest.raises(DocumentError, match="concept:name"):
        list(read_xes(_doc(body)))


def test_bad_timestamp_is_refused() -> None:
    stamp = '<date key="time:timestamp" value="yesterday"/>'
    with pytest.raises(DocumentError, match="yesterday") as info:
        list(read_xes(_doc(TRACE.format(ts=stamp, extra=""))))
    assert info.value.problems[0].event_index == 0


def test_entity_expansion_and_dtd_are_refused() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE log [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        b'<log><trace><string key="concept:name" value="&c;"/></trace></log>'
    )
    with pytest.raises(DocumentError, match="DTD"):
        list(read_xes(bomb))
    external = b'<?xml version="1.0"?><!DOCTYPE log SYSTEM "http://example.com/x.dtd"><log/>'
    with pytest.raises(DocumentError):
        list(read_xes(external))


VALID = _doc(TRACE.format(ts=STAMP, extra='<string key="org:resource" value="Ann"/>'))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cut=st.integers(min_value=0, max_value=len(VALID) - 1), gz=st.booleans())
def test_truncated_documents_are_refused_cleanly(cut: int, gz: bool) -> None:
    data = VALID[:cut]
    if gz:
        data = gzip.compress(VALID)[: max(2, cut // 3)]
    with pytest.raises(DocumentError):
        list(read_xes(data))


@settings(max_examples=80, deadline=None)
@given(data=st.binary(max_size=400))
def test_random_bytes_give_document_error_only(data: bytes) -> None:
    with contextlib.suppress(DocumentError):
        list(read_xes(data))


@settings(max_examples=60, deadline=None)
@given(pos=st.integers(min_value=0, max_value=len(VALID)), junk=st.text(max_size=20))
def test_spliced_junk_gives_document_error_only(pos: int, junk: str) -> None:
    data = VALID[:pos] + junk.encode() + VALID[pos:]
    with contextlib.suppress(DocumentError):
        list(read_xes(data))
