"""The shared memory of kaizen: lessons — what was tried, and with what result.

A **lesson** is what an experiment may share with partners: its A3's aggregates and nothing
of the raw data behind them. :func:`lesson_of` writes it — title, problem, waste; the steps
named as evidence and the *counts* of the evidence's objects, events and locations (never
their ids); hypothesis; countermeasure kind and changes (to the twin's model); target; status
and its dated history; the newest prediction's figures; the newest measured effect; the root
cause, results and standardize notes; and the node's name as ``origin``. Which lessons leave,
for which partner, and which parts of them, is the sharing policy's lesson rules
(``keiretsu.node.policy``, deny by default); the node pushes them to partners, signed, and a
partner keeps what it received per source (:func:`receive`, :func:`keiretsu.store.kaizen.
add_lesson`: a changed copy is a new row, nothing is overwritten).

:func:`ask` answers "what was tried against waiting at receiving, and with what result?" over
the node's own experiments and the lessons its partners shared, failures included, each row
saying where it comes from.

```python
from keiretsu.kaizen.lessons import ask, lesson_of
from keiretsu.store import Store

with Store("node.duckdb") as store:
    print(ask(store, waste="waiting", step="receiving").to_pandas())
```
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

import duckdb
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, ValidationError

from keiretsu.analytics.view import View
from keiretsu.store import Store
from keiretsu.store import kaizen as tables
from keiretsu.store.kaizen import STATUSES, KaizenError

__all__ = [
    "LESSON_VERSION",
    "LOCAL",
    "LessonError",
    "ask",
    "lesson_of",
    "lessons_of",
    "receive",
    "validate_lesson",
]

LESSON_VERSION = 1
"""The version of the lesson document (its key ``lesson``)."""

LOCAL = "local"
"""The ``source`` of the node's own experiments in :func:`ask`."""

SHARED_NOTES = ("root_cause", "results", "standardize")
"""The A3 notes a lesson carries (background and plan stay home)."""

_EVIDENCE_KINDS = ("steps", "objects", "events", "locations")


class LessonError(KaizenError):
    """A lesson that cannot be kept: what is wrong and where (``field``: its place in the
    document, e.g. ``lessons[1].status``)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _con(store: Store | duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    return store.con if isinstance(store, Store) else store


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


_PREDICTED = (
    "kpi",
    "scope",
    "unit",
    "baseline",
    "value",
    "difference",
    "pct",
    "ci_low",
    "ci_high",
    "confidence",
    "significant",
    "replications",
    "periods",
    "made_at",
)
_MEASURED = (
    "metric",
    "scope",
    "unit",
    "method",
    "change_at",
    "effect",
    "ci_low",
    "ci_high",
    "p_value",
    "detected",
    "mde",
    "periods_before",
    "periods_after",
    "alpha",
    "naive_effect",
    "verdict",
    "measured_at",
)


def _plain(value: Any) -> Any:
    """A figure as JSON carries it: a date as ISO 8601 text, a NaN or infinity as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return _iso(value)


def _newest(table: pa.Table, keys: Sequence[str]) -> dict[str, Any] | None:
    found = table.to_pylist()
    if not found:
        return None
    return {k: _plain(found[-1].get(k)) for k in keys}


def lesson_of(
    store: Store | duckdb.DuckDBPyConnection, experiment_id: str, *, origin: str = LOCAL
) -> dict[str, Any]:
    """The lesson experiment ``experiment_id`` may share: a JSON-ready dictionary of its A3's
    aggregates — ``lesson`` (the document's version), ``experiment_id``, ``origin`` (the
    node's name), ``title``, ``status``, ``status_at``, ``created_at``, ``waste``, ``problem``,
    ``evidence`` (``steps``: the steps named, and ``counts`` of steps, objects, events and
    locations — no object, event or location id), ``hypothesis``, ``countermeasure`` (kind,
    variant, changes), ``target`` (metric, scope, direction, value, unit), ``history`` (each
    status move: seq, status, at, note — not who), ``predicted`` (the newest prediction's
    figures, in the target's unit per period), ``measured`` (the newest measured effect, in
    the metric's unit), ``notes`` (root cause, results, standardize; ``None`` where not
    written) and ``withheld`` (the parts a sharing rule kept home: none here).

    ``store``: the node's store, or a read cursor on it."""
    con = _con(store)
    row = tables.experiment_row(con, experiment_id)
    refs = tables.evidence(con, experiment_id).to_pylist()
    by_kind: dict[str, list[str]] = {k: [] for k in ("step", "object", "event", "location")}
    for r in refs:
        by_kind.setdefault(r["kind"], []).append(r["ref"])
    notes: dict[str, str] = {}
    for n in tables.notes(con, experiment_id).to_pylist():  # in order: the newest wins
        notes[n["section"]] = n["text"]
    return {
        "lesson": LESSON_VERSION,
        "experiment_id": row["experiment_id"],
        "origin": origin,
        "title": row["title"],
        "status": row["status"],
        "status_at": _iso(row["status_at"]),
        "created_at": _iso(row["created_at"]),
        "waste": row["waste"],
        "problem": row["problem"],
        "evidence": {
            "steps": sorted(by_kind["step"]),
            "counts": {k: len(by_kind[k[:-1]]) for k in _EVIDENCE_KINDS},
        },
        "hypothesis": row["hypothesis"],
        "countermeasure": {
            "kind": row["countermeasure_kind"],
            "variant": row["variant_name"],
            "changes": dict(row["variant_changes"]),
        },
        "target": {
            "metric": row["target_metric"],
            "scope": row["target_scope"],
            "direction": row["target_direction"],
            "value": _plain(row["target_value"]),
            "unit": row["target_unit"],
        },
        "history": [
            {"seq": h["seq"], "status": h["status"], "at": _iso(h["moved_at"]), "note": h["note"]}
            for h in tables.history(con, experiment_id).to_pylist()
        ],
        "predicted": _newest(tables.predictions(con, experiment_id), _PREDICTED),
        "measured": _newest(tables.measurements(con, experiment_id), _MEASURED),
        "notes": {s: notes.get(s) for s in SHARED_NOTES},
        "withheld": [],
    }


def lessons_of(
    store: Store | duckdb.DuckDBPyConnection, *, origin: str = LOCAL
) -> list[dict[str, Any]]:
    """The lesson of every experiment of the node, oldest first (:func:`lesson_of`)."""
    con = _con(store)
    return [lesson_of(con, eid, origin=origin) for eid in tables.experiment_ids(con)]


# --- a received lesson, checked --------------------------------------------------------------

Text = Annotated[StrictStr, Field(min_length=1, max_length=500)]
LongText = Annotated[StrictStr, Field(max_length=20_000)]
Number = float | None
Stamp = Annotated[StrictStr, Field(max_length=64)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _Evidence(_Strict):
    steps: Annotated[list[Text], Field(max_length=1000)]
    counts: dict[Literal["steps", "objects", "events", "locations"], Annotated[int, Field(ge=0)]]


class _Countermeasure(_Strict):
    kind: Text
    variant: Text
    changes: Annotated[dict[Text, Any], Field(max_length=200)]


class _Target(_Strict):
    metric: Text
    scope: Text
    direction: Literal["decrease", "increase"]
    value: Number = None
    unit: Annotated[StrictStr, Field(max_length=100)] | None = None


class _Move(_Strict):
    seq: Annotated[int, Field(ge=1)]
    status: Literal[STATUSES]  # type: ignore[valid-type]
    at: Stamp
    note: LongText | None = None


class _Predicted(_Strict):
    kpi: Text
    scope: Text
    unit: Annotated[StrictStr, Field(max_length=100)] | None = None
    baseline: Number = None
    value: Number = None
    difference: Number = None
    pct: Number = None
    ci_low: Number = None
    ci_high: Number = None
    confidence: Number = None
    significant: StrictBool | None = None
    replications: int | None = None
    periods: int | None = None
    made_at: Stamp | None = None


class _Measured(_Strict):
    metric: Text
    scope: Text
    unit: Annotated[StrictStr, Field(max_length=100)] | None = None
    method: Text
    change_at: Stamp | None = None
    effect: Number = None
    ci_low: Number = None
    ci_high: Number = None
    p_value: Number = None
    detected: StrictBool
    mde: Number = None
    periods_before: int | None = None
    periods_after: int | None = None
    alpha: Number = None
    naive_effect: Number = None
    verdict: LongText
    measured_at: Stamp | None = None


class _Notes(_Strict):
    root_cause: LongText | None = None
    results: LongText | None = None
    standardize: LongText | None = None


class LessonDocument(_Strict):
    """A lesson as it travels (:func:`lesson_of`'s keys); parts a sharing rule withheld are
    ``null`` and named under ``withheld``."""

    lesson: Literal[1]
    experiment_id: Annotated[StrictStr, Field(min_length=1, max_length=200)]
    origin: Text
    title: Text
    status: Literal[STATUSES]  # type: ignore[valid-type]
    status_at: Stamp
    created_at: Stamp | None = None
    waste: Text | None = None
    problem: LongText | None = None
    evidence: _Evidence | None = None
    hypothesis: LongText | None = None
    countermeasure: _Countermeasure | None = None
    target: _Target | None = None
    history: Annotated[list[_Move], Field(max_length=100)] | None = None
    predicted: _Predicted | None = None
    measured: _Measured | None = None
    notes: _Notes | None = None
    withheld: Annotated[list[Text], Field(max_length=20)] = []


def _place(loc: Sequence[str | int], prefix: str) -> str:
    text = prefix
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def validate_lesson(document: Any, *, where: str = "lesson") -> dict[str, Any]:
    """``document`` checked as a lesson (the keys and types :func:`lesson_of` writes; numbers
    may be integers or decimals) and returned as a plain dictionary; :class:`LessonError`
    naming the first problem's place (``where``, e.g. ``lessons[1]``) otherwise."""
    if not isinstance(document, Mapping):
        raise LessonError(f"{where}: expected a lesson (a JSON object)", field=where)
    try:
        # strict, but JSON has one number type: an integer where a decimal may be is fine
        LessonDocument.model_validate_json(json.dumps(document, allow_nan=False))
    except ValueError as exc:
        if not isinstance(exc, ValidationError):
            raise LessonError(f"{where}: not JSON ({exc})", field=where) from None
        first = exc.errors()[0]
        place = _place(tuple(first["loc"]), where)
        raise LessonError(f"{place}: {first['msg']}", field=place) from None
    out: dict[str, Any] = json.loads(json.dumps(document))
    return out


def receive(
    store: Store | duckdb.DuckDBPyConnection,
    source: str,
    documents: Sequence[Any],
    *,
    at: datetime | None = None,
) -> dict[str, int]:
    """Keep the lessons partner ``source`` shared (all or none): each is checked
    (:func:`validate_lesson`), must come from ``source`` itself (``origin``: a partner shares
    its own lessons, never another's), and is kept under ``source``
    (:func:`keiretsu.store.kaizen.add_lesson`: an identical copy adds nothing, a changed one
    is a new row). Returns ``read``, ``new`` and ``known`` counts."""
    checked: list[dict[str, Any]] = []
    for i, doc in enumerate(documents):
        lesson = validate_lesson(doc, where=f"lessons[{i}]")
        if lesson["origin"] != source:
            raise LessonError(
                f"lessons[{i}].origin: {lesson['origin']!r} is not the sender {source!r} "
                "(a partner shares its own lessons only)",
                field=f"lessons[{i}].origin",
            )
        checked.append(lesson)
    ids = [lesson["experiment_id"] for lesson in checked]
    if len(set(ids)) != len(ids):
        twice = next(i for i in ids if ids.count(i) > 1)
        raise LessonError(f"lessons: experiment {twice!r} twice in one push", field="lessons")
    con = _con(store)
    new = 0
    con.execute("BEGIN TRANSACTION")
    try:
        for lesson in checked:
            if tables.add_lesson(con, source, lesson, at=at) is not None:
                new += 1
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return {"read": len(checked), "new": new, "known": len(checked) - new}


# --- asking the network ----------------------------------------------------------------------

ASK_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("experiment_id", pa.string()),
        ("title", pa.string()),
        ("waste", pa.string()),
        ("steps", pa.string()),
        ("kind", pa.string()),
        ("changes", pa.string()),
        ("target", pa.string()),
        ("status", pa.string()),
        ("status_at", pa.string()),
        ("predicted", pa.float64()),
        ("predicted_low", pa.float64()),
        ("predicted_high", pa.float64()),
        ("predicted_unit", pa.string()),
        ("measured", pa.float64()),
        ("measured_low", pa.float64()),
        ("measured_high", pa.float64()),
        ("measured_unit", pa.string()),
        ("method", pa.string()),
        ("verdict", pa.string()),
        ("result", pa.string()),
        ("received_at", pa.string()),
    ]
)


def _words(value: str | Sequence[str] | None) -> set[str] | None:
    if value is None:
        return None
    return {value} if isinstance(value, str) else set(value)


def _result(lesson: Mapping[str, Any]) -> str:
    """One phrase: where the experiment ended and what the figures said."""
    status = lesson.get("status")
    m = lesson.get("measured")
    p = lesson.get("predicted")
    said = []
    if isinstance(p, Mapping) and p.get("difference") is not None:
        said.append(f"predicted {p['difference']:+.3g} {p.get('unit') or ''}".rstrip())
    if isinstance(m, Mapping):
        said.append(str(m.get("verdict")))
    elif "measured" in (lesson.get("withheld") or ()):
        said.append("measurement withheld")
    else:
        said.append("not measured")
    return f"{status}: " + "; ".join(said)


def _row(source: str, lesson: Mapping[str, Any], received_at: Any) -> dict[str, Any]:
    ev = lesson.get("evidence") or {}
    cm = lesson.get("countermeasure") or {}
    tg = lesson.get("target") or {}
    p = lesson.get("predicted") or {}
    m = lesson.get("measured") or {}
    return {
        "source": source,
        "experiment_id": lesson.get("experiment_id"),
        "title": lesson.get("title"),
        "waste": lesson.get("waste"),
        "steps": ", ".join(ev.get("steps") or ()),
        "kind": cm.get("kind"),
        "changes": json.dumps(cm["changes"], sort_keys=True) if "changes" in cm else None,
        "target": (
            f"{tg.get('direction')} {tg.get('metric')} at {tg.get('scope')}" if tg else None
        ),
        "status": lesson.get("status"),
        "status_at": lesson.get("status_at"),
        "predicted": p.get("difference"),
        "predicted_low": p.get("ci_low"),
        "predicted_high": p.get("ci_high"),
        "predicted_unit": p.get("unit"),
        "measured": m.get("effect"),
        "measured_low": m.get("ci_low"),
        "measured_high": m.get("ci_high"),
        "measured_unit": m.get("unit"),
        "method": m.get("method"),
        "verdict": m.get("verdict"),
        "result": _result(lesson),
        "received_at": _iso(received_at),
    }


def _text_of(lesson: Mapping[str, Any]) -> str:
    notes = lesson.get("notes") or {}
    parts = [
        lesson.get("title"),
        lesson.get("problem"),
        lesson.get("hypothesis"),
        *(notes.get(s) for s in SHARED_NOTES),
    ]
    return " ".join(str(p) for p in parts if p).casefold()


def ask(
    store: Store | duckdb.DuckDBPyConnection,
    *,
    waste: str | None = None,
    step: str | None = None,
    kind: str | None = None,
    status: str | Sequence[str] | None = None,
    text: str | None = None,
    source: str | None = None,
) -> View:
    """What was tried, and with what result: the node's own experiments (``source`` =
    ``"local"``) and the lessons partners shared (``source`` = the partner), failures
    included — one row each, the node's own first, then by when received.

    Filters (each optional, all must hold): ``waste`` (one of the eight), ``step`` (named in
    the evidence, or the target's scope), ``kind`` (of countermeasure), ``status`` (one or
    several), ``text`` (in the title, problem, hypothesis or notes; any case), ``source``
    (``"local"`` or a partner).

    Columns: source, experiment_id, title, waste, steps, kind, changes (JSON), target, status,
    status_at; ``predicted`` (the twin's predicted difference of the target metric, per
    period) with its interval and unit; ``measured`` (the measured effect) with its interval,
    unit, ``method`` and ``verdict``; ``result`` (one phrase); received_at (partners'
    lessons)."""
    con = _con(store)
    statuses = _words(status)
    for s in statuses or ():
        if s not in STATUSES:
            raise KaizenError(f"unknown status {s!r}: expected one of {', '.join(STATUSES)}")
    wanted = text.casefold() if text else None
    found: list[dict[str, Any]] = []
    candidates: list[tuple[str, Mapping[str, Any], Any]] = []
    if source in (None, LOCAL):
        candidates += [(LOCAL, lesson, None) for lesson in lessons_of(con)]
    if source != LOCAL:
        for kept in tables.lessons(con, source=source):
            candidates.append((kept["source"], kept, kept["received_at"]))
    for src, lesson, received_at in candidates:
        ev = lesson.get("evidence") or {}
        cm = lesson.get("countermeasure") or {}
        tg = lesson.get("target") or {}
        if waste is not None and lesson.get("waste") != waste:
            continue
        if step is not None and step not in (ev.get("steps") or ()) and tg.get("scope") != step:
            continue
        if kind is not None and cm.get("kind") != kind:
            continue
        if statuses is not None and lesson.get("status") not in statuses:
            continue
        if wanted is not None and wanted not in _text_of(lesson):
            continue
        found.append(_row(src, lesson, received_at))
    asked = ", ".join(
        f"{k}={v!r}"
        for k, v in (
            ("waste", waste),
            ("step", step),
            ("kind", kind),
            ("status", status),
            ("text", text),
            ("source", source),
        )
        if v is not None
    )
    notes = (
        f"asked: {asked or 'everything'}",
        "source 'local': this node's experiments; any other: the partner that shared it",
        "predicted: the twin's difference of the target metric per period; measured: the "
        "effect on the real events after the change",
    )
    return View("kaizen_lessons", pa.Table.from_pylist(found, schema=ASK_SCHEMA), notes, {})
