"""The XES fast path (the strict scanner) against the reference reader (libxml2 callbacks).

Whatever the document, both must give the same tables, or both refuse it with the same problem.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import keiretsu.io.xes._read as xes_read
from _data import DATA
from keiretsu.io.xes import read_xes
from keiretsu.model import DocumentError, Ocel

LOGS = DATA / "logs"
ALL_LOGS = ["running-example.xes", "receipt.xes.gz", "bpic2013_incidents.xes.gz", "bpic2012.xes.gz"]


def _both(data: bytes | Path, batch_size: int = 50_000) -> tuple[object, object]:
    """(fast outcome, reference outcome): an Ocel, or the refusal's first problem."""
    outcomes = []
    for fast in (True, False):
        try:
            batches = xes_read._read(data, None, batch_size, "case", "resource", fast=fast)
            outcomes.append(Ocel.concat(batches))
        except DocumentError as exc:
            p = exc.problems[0]
            outcomes.append((p.title, p.detail, p.event_index, p.field, p.line))
    return outcomes[0], outcomes[1]


def _types(table: pa.Table) -> dict[str, list[dict[str, str]]]:
    """Each type's attributes as last declared: every batch re-declares the types it changed
    with all attributes known so far, so the batch boundaries do not matter."""
    rows = zip(table["ocel_type"].to_pylist(), table["attributes"].to_pylist(), strict=True)
    return dict(rows)


def _same(fast: object, reference: object, *, one_batch: bool = True) -> None:
    """Both read the document to the same tables, or both refuse it (with the same problem
    when all is read as one batch: times are parsed per batch, so with small batches a bad
    time may be met before or after a later mistake)."""
    if isinstance(reference, Ocel):
        assert isinstance(fast, Ocel), fast
        for name in Ocel.table_names():
            if name.endswith("_types"):
                assert _types(getattr(fast, name)) == _types(getattr(reference, name))
            else:
                assert getattr(fast, name).equals(getattr(reference, name)), name
    elif one_batch:
        assert fast == reference
    else:
        assert isinstance(fast, tuple), fast


class _Runs:
    """Counts the runs of traces the scanner took and declined."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.taken = self.declined = 0
        scan = xes_read.scan

        def counting(text: str, target: object) -> bool:
            ok = scan(text, target)  # type: ignore[arg-type]
            if ok:
                self.taken += 1
            else:
                self.declined += 1
            return ok

        monkeypatch.setattr(xes_read, "scan", counting)


@pytest.mark.parametrize("name", ALL_LOGS)
def test_real_logs_read_alike_and_by_the_scanner(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = _Runs(monkeypatch)
    fast, reference = _both(LOGS / name)
    _same(fast, reference)
    assert isinstance(fast, Ocel) and fast.num_events > 0
    # the OpenXES logs are read by the scanner throughout, not by falling back
    assert runs.taken >= 1 and runs.declined == 0


def test_batches_stay_near_batch_size_on_the_fast_path() -> None:
    batches = list(read_xes(LOGS / "bpic2013_incidents.xes.gz", batch_size=2_000))
    sizes = [b.num_events for b in batches]
    assert sum(sizes) == 65_533
    # a run is cut between traces: a batch runs over by less than one long trace
    assert all(n <= 2_000 + 200 for n in sizes) and len(sizes) >= 33


# --- generated documents ------------------------------------------------------------------

_TEXT = st.text(
    alphabet="ab zé€&<>\"'\t\n\r;#x0\u2028",
    max_size=8,
)


def _escape(raw: str, how: int) -> str:
    """Attribute value text: escaped plainly, or with character references, or (how == 2)
    with tabs, newlines and CRs left raw so the parser must normalise them."""
    out = raw.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
    if how == 1:
        out = out.replace(">", "&#62;").replace("'", "&apos;").replace("é", "&#233;")
    if how == 2:
        return out
    return out.replace("\t", "&#9;").replace("\n", "&#10;").replace("\r", "&#13;")


# hypothesis favours the ends of a range: the rare case is one value in the middle of it
_RARELY = st.integers(0, 60).map(lambda n: n == 30)


def _mostly(good: list[str], bad: str) -> st.SearchStrategy[str]:
    return st.builds(lambda rare, value: bad if rare else value, _RARELY, st.sampled_from(good))


_VALUES = {  # mostly good values, now and then one the reader must refuse
    "string": _TEXT,
    "id": _TEXT,
    "int": _mostly(["7", "-3", " 12 ", "0042", "1_000"], "x"),
    "float": _mostly(["1.5", "2", "1e3", "nan", "-0.0"], "one"),
    "boolean": _mostly(["true", "false", "TRUE", "1", "0"], "yes"),
    "date": _mostly(
        ["2024-03-01T08:00:00+01:00", "2024-03-01T08:00:00.123Z", "2024-03-01"], "soon"
    ),
}


@st.composite
def _attribute(draw: st.DrawFn, key: str | None = None, kind: str | None = None) -> str:
    kind = kind or draw(st.sampled_from(list(_VALUES)))
    key = key or draw(st.sampled_from(["org:resource", "lifecycle:transition", "cost", "a&amp;b"]))
    # an event names its resource with a string: other kinds of org:resource are rarer
    kind = "string" if key == "org:resource" and not draw(_RARELY) else kind
    value = draw(_VALUES[kind])
    how = draw(st.integers(0, 2))
    return f'<{kind} key="{key}" value="{_escape(value, how)}"/>'


_ODD = st.sampled_from(
    [
        "<!-- a comment -->",
        "<![CDATA[ <event> ]]>",
        '<list key="lots"><values><string key="x" value="L1"/></values></list>',
        '<string key="meta" value="m"><string key="inner" value="i"/></string>',
        "<string key='single' value='quotes'/>",
        '<string value="swapped" key="order"/>',
        '<string key="spaced" value="x" />',
        "<?pi here?>",
        "text between elements",
    ]
)


@st.composite
def _event(draw: st.DrawFn, ws: str) -> str:
    parts = [draw(_attribute()) for _ in range(draw(st.integers(0, 3)))]
    if not draw(_RARELY):
        parts.append(draw(_attribute("concept:name", "string")))
    if not draw(_RARELY):
        ts_kind = "string" if draw(_RARELY) else "date"
        parts.append(draw(_attribute("time:timestamp", ts_kind)))
    if draw(st.integers(0, 6).map(lambda n: n == 3)):
        parts.append(draw(_attribute("identity:id", "id")))
    if draw(_RARELY):
        parts.append(draw(_odd_or_repeat(parts)))
    order = draw(st.permutations(parts))
    inner = "".join(f"{ws}  {p}" for p in order)
    return f"{ws}<event>{inner}{ws}</event>"


def _odd_or_repeat(parts: list[str]) -> st.SearchStrategy[str]:
    return _ODD | st.sampled_from(parts) if parts else _ODD


@st.composite
def _trace(draw: st.DrawFn, ws: str, index: int) -> str:
    case = f"c{index}&amp;{index}"
    if draw(_RARELY):  # now and then a case id used twice, or a resource's
        case = draw(st.sampled_from(["c0&amp;0", "", "a&amp;b"]))
    head = [draw(_attribute()) for _ in range(draw(st.integers(0, 2)))]
    name = f'<string key="concept:name" value="{case}"/>'
    events = [draw(_event(ws + "  ")) for _ in range(draw(st.integers(0, 3)))]
    body = [ws + "  " + h for h in head]
    late = draw(_RARELY)
    if not late:  # the usual place: before the events
        body.append(ws + "  " + name)
    body += events
    if late:  # after the events, or (rarely) missing altogether
        body.append(ws + "  " + name if draw(st.booleans()) else "")
    return f"{ws}<trace>{''.join(body)}{ws}</trace>"


@st.composite
def _document(draw: st.DrawFn) -> bytes:
    ws = draw(st.sampled_from(["\n\t", "\n  ", "", " ", "\r\n"]))
    traces = [draw(_trace(ws, i)) for i in range(draw(st.integers(0, 5)))]
    header = draw(
        st.sampled_from(
            [
                "",
                '<extension name="Time" prefix="time" uri="http://x/time.xesext"/>',
                '<global scope="event"><date key="time:timestamp" value="1970-01-01"/></global>',
                "<!-- <trace> in a comment is no trace -->",
                '<container key="c"><trace><string key="concept:name" value="n"/></trace>'
                "</container>",
            ]
        )
    )
    tail = draw(st.sampled_from(["", "<!-- end -->", '<string key="late" value="log"/>']))
    text = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<!-- OpenXES -->\n'
        f'<log xes.version="1.0" xmlns="http://www.xes-standard.org/">{header}'
        f"{''.join(traces)}{tail}\n</log>\n"
    )
    return text.encode()


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(doc=_document(), batch_size=st.sampled_from([1, 2, 50_000]))
def test_generated_documents_read_alike(doc: bytes, batch_size: int) -> None:
    fast, reference = _both(doc, batch_size)
    _same(fast, reference, one_batch=batch_size > 1_000)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=_document(), cut=st.floats(0, 1), junk=st.sampled_from(["<", "&", "\xff", "</x>", '"']))
def test_damaged_documents_are_refused_alike(doc: bytes, cut: float, junk: str) -> None:
    at = int(len(doc) * cut)
    damaged = doc[:at] + junk.encode("latin-1") + doc[at:]
    fast, reference = _both(damaged)
    _same(fast, reference)


# --- documents the scanner must hand over ------------------------------------------------


def _log(body: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><log xmlns="http://www.xes-standard.org/">{body}'
        "</log>"
    ).encode()


EVENT = (
    '<event><string key="concept:name" value="pick"/>'
    '<date key="time:timestamp" value="2024-03-01T08:00:00+01:00"/></event>'
)


def _many_traces(n: int) -> Iterator[str]:
    for i in range(n):
        yield f'<trace><string key="concept:name" value="c{i}"/>{EVENT}</trace>'


def test_values_are_decoded_as_libxml2_reports_them() -> None:
    body = (
        '<trace><string key="concept:name" value="a&amp;b &lt;1&gt; &#x41;&#66;"/>'
        '<event><string key="concept:name" value="tab\there&#9;kept"/>'
        '<date key="time:timestamp" value="2024-03-01T08:00:00Z"/>'
        '<string key="note" value="line1\r\nline2 &quot;q&quot; &apos;s&apos;"/></event></trace>'
    )
    fast, reference = _both(_log(body))
    _same(fast, reference)
    assert isinstance(fast, Ocel)
    assert fast.objects["ocel_id"].to_pylist() == ["a&b <1> AB"]
    assert fast.events["ocel_type"].to_pylist() == ["tab here\tkept"]
    assert fast.event_attributes["ocel_value"].to_pylist() == ["line1 line2 \"q\" 's'"]


def test_a_trace_nested_in_a_log_attribute_is_not_a_case() -> None:
    body = (
        '<container key="c"><trace><string key="concept:name" value="nested"/>'
        f"{EVENT}</trace></container>" + "".join(_many_traces(3))
    )
    fast, reference = _both(_log(body))
    _same(fast, reference)
    assert isinstance(fast, Ocel) and "nested" not in fast.objects["ocel_id"].to_pylist()


def test_traces_in_a_comment_are_not_read() -> None:
    body = "<!--" + "".join(_many_traces(2)) + "-->" + "".join(_many_traces(1))
    fast, reference = _both(_log(body))
    _same(fast, reference)
    assert isinstance(fast, Ocel) and fast.num_events == 1


def test_other_encodings_go_to_the_reference_reader() -> None:
    text = (
        '<?xml version="1.0" encoding="ISO-8859-1"?><log><trace>'
        '<string key="concept:name" value="café"/>' + EVENT + "</trace></log>"
    )
    for data in (text.encode("latin-1"), text.replace("ISO-8859-1", "UTF-16").encode("utf-16")):
        fast, reference = _both(data)
        _same(fast, reference)
        assert isinstance(fast, Ocel) and fast.objects["ocel_id"].to_pylist() == ["café"]


def test_a_late_break_after_an_early_mistake_reports_the_mistake() -> None:
    # a missing timestamp in trace 0 and a broken tag much later, in the same chunk: the
    # reference reader meets the missing timestamp first, and so must the fast path
    bad = (
        '<trace><string key="concept:name" value="c"/>'
        '<event><string key="concept:name" value="a"/></event></trace>'
    )
    data = _log(bad + "".join(_many_traces(200)) + "<broken")
    fast, reference = _both(data)
    _same(fast, reference)
    assert isinstance(fast, tuple) and fast[0] == "Event without timestamp"


def test_invalid_utf8_in_a_value_is_refused_alike() -> None:
    data = _log("".join(_many_traces(3))).replace(b'value="c1"', b'value="c\xff1"')
    fast, reference = _both(data)
    _same(fast, reference)
    assert isinstance(fast, tuple) and fast[0] == "Not well-formed XML"


def test_a_gzip_stream_switching_to_the_reference_reader_midway_reads_alike(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runs = _Runs(monkeypatch)
    traces = list(_many_traces(30_000))
    traces[20_000] = traces[20_000].replace("<event>", "<event><!-- odd -->")
    data = gzip.compress(_log("\n".join(traces)))
    fast, reference = _both(data, batch_size=5_000)
    _same(fast, reference)
    assert isinstance(fast, Ocel) and fast.num_events == 30_000
    assert runs.taken >= 1 and runs.declined == 1
