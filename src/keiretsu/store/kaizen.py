"""Kaizen experiments (PDCA) kept in the node's store: append-only tables, their reads and writes.

An experiment is written once (``kaizen_experiment``: the problem, the waste it attacks, the
hypothesis, the countermeasure as a change to the twin's model, the target metric and its
owner); everything that happens to it afterwards is a new row, never an update:

- ``kaizen_evidence`` — the steps, objects, events and locations the problem rests on (ids from
  :func:`keiretsu.analytics.waste.waste_evidence`);
- ``kaizen_status`` — each move of its status, dated, numbered from 1 (``plan`` at creation);
- ``kaizen_note`` — the A3's written sections (root cause, plan, results, what to standardize
  and share); the newest note of a section is the one the A3 shows, the older ones stay;
- ``kaizen_prediction`` — each predicted effect on the target metric (the twin's scenario run:
  difference, its interval, the run's replications and seed);
- ``kaizen_measurement`` — each measured effect on the real events (schema 6): the method
  (difference-in-differences or interrupted time series), the effect with its interval, the
  smallest effect the data could have detected, the naive before/after difference beside it;
- ``kaizen_lesson`` — lessons partners shared with this node (schema 6): each received copy of a
  partner's experiment as its A3's aggregates (a JSON document), kept per source, never
  overwritten (a newer copy of the same experiment is a new row).

Statuses move plan → simulated → running → checked → adopted, and any status not yet final may
move to abandoned. A move the machine does not allow, or dated before the last one, is refused
with :class:`KaizenError` naming the experiment, where it stands and where it may go.

The tables are part of the store's schema (:data:`keiretsu.store.schema.DDL`, version 5); a
partner's view shadows them empty like every other table (nothing leaves the node by default).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa

from keiretsu.store.arrow import arrow_table, rows

__all__ = [
    "FINAL",
    "KAIZEN_DDL",
    "KAIZEN_TABLES",
    "MOVES",
    "SECTIONS",
    "STATUSES",
    "KaizenError",
    "add_lesson",
    "add_measurement",
    "add_note",
    "add_prediction",
    "allowed_moves",
    "evidence",
    "experiment_ids",
    "experiment_row",
    "experiments",
    "history",
    "insert_experiment",
    "lessons",
    "measurements",
    "move",
    "notes",
    "predictions",
]

STATUSES = ("plan", "simulated", "running", "checked", "adopted", "abandoned")
"""An experiment's statuses, in the order of its life (PDCA: plan; simulated — the twin's
prediction made; running — the countermeasure in place on the floor (do); checked — its effect
measured (check); adopted as the new standard, or abandoned (act))."""

FINAL = frozenset({"adopted", "abandoned"})
"""Statuses an experiment never leaves."""

MOVES: Mapping[str, frozenset[str]] = {
    "plan": frozenset({"simulated", "abandoned"}),
    "simulated": frozenset({"running", "abandoned"}),
    "running": frozenset({"checked", "abandoned"}),
    "checked": frozenset({"adopted", "abandoned"}),
    "adopted": frozenset(),
    "abandoned": frozenset(),
}
"""Where each status may move next."""

SECTIONS = ("background", "root_cause", "plan", "results", "standardize")
"""The A3's sections written by hand (the others are read from the experiment and its
predictions)."""

KAIZEN_TABLES = (
    "kaizen_experiment",
    "kaizen_evidence",
    "kaizen_status",
    "kaizen_note",
    "kaizen_prediction",
    "kaizen_measurement",
    "kaizen_lesson",
)
"""The kaizen tables of the store (schema 5; measurements and lessons from schema 6)."""

KAIZEN_DDL = [
    """
    -- One row per experiment, written once: the problem, the waste it attacks, the hypothesis,
    -- the countermeasure (a change to the twin's model: a sim.scenario.Variant's name and
    -- changes, and its kind: parameter, policy or information), the target metric and owner.
    CREATE TABLE IF NOT EXISTS kaizen_experiment (
        experiment_id VARCHAR PRIMARY KEY,
        title VARCHAR NOT NULL,
        problem VARCHAR NOT NULL,
        waste VARCHAR,
        hypothesis VARCHAR NOT NULL,
        countermeasure_kind VARCHAR NOT NULL,
        variant_name VARCHAR NOT NULL,
        variant_changes JSON NOT NULL,
        target_metric VARCHAR NOT NULL,
        target_scope VARCHAR NOT NULL,
        target_direction VARCHAR NOT NULL,
        target_value DOUBLE,
        target_unit VARCHAR,
        owner VARCHAR NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        created_by VARCHAR NOT NULL
    )
    """,
    """
    -- The steps, objects, events and locations an experiment's problem rests on (kind: step,
    -- object, event, location), as waste_evidence lists them.
    CREATE TABLE IF NOT EXISTS kaizen_evidence (
        experiment_id VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        ref VARCHAR NOT NULL,
        PRIMARY KEY (experiment_id, kind, ref)
    )
    """,
    """
    -- Each status move of an experiment, dated and numbered (1: plan, at creation). Rows are
    -- only ever added.
    CREATE TABLE IF NOT EXISTS kaizen_status (
        experiment_id VARCHAR NOT NULL,
        seq INTEGER NOT NULL,
        status VARCHAR NOT NULL,
        moved_at TIMESTAMPTZ NOT NULL,
        moved_by VARCHAR NOT NULL,
        note VARCHAR,
        PRIMARY KEY (experiment_id, seq)
    )
    """,
    """
    -- The A3's written sections, each note kept; the newest of a section is the current one.
    CREATE TABLE IF NOT EXISTS kaizen_note (
        experiment_id VARCHAR NOT NULL,
        seq INTEGER NOT NULL,
        section VARCHAR NOT NULL,
        text VARCHAR NOT NULL,
        written_at TIMESTAMPTZ NOT NULL,
        written_by VARCHAR NOT NULL,
        PRIMARY KEY (experiment_id, seq)
    )
    """,
    """
    -- Each prediction of an experiment's effect on its target metric: the countermeasure run
    -- as a scenario against the twin's model (common random numbers), variant minus baseline
    -- with its interval.
    CREATE TABLE IF NOT EXISTS kaizen_prediction (
        experiment_id VARCHAR NOT NULL,
        seq INTEGER NOT NULL,
        made_at TIMESTAMPTZ NOT NULL,
        kpi VARCHAR NOT NULL,
        scope VARCHAR NOT NULL,
        unit VARCHAR,
        baseline DOUBLE,
        value DOUBLE,
        difference DOUBLE,
        pct DOUBLE,
        ci_low DOUBLE,
        ci_high DOUBLE,
        confidence DOUBLE NOT NULL,
        significant BOOLEAN,
        replications BIGINT NOT NULL,
        periods BIGINT NOT NULL,
        warmup BIGINT NOT NULL,
        seed BIGINT NOT NULL,
        model VARCHAR NOT NULL,
        note VARCHAR,
        PRIMARY KEY (experiment_id, seq)
    )
    """,
    """
    -- Each measurement of an experiment's effect on the real events after the change against
    -- those before (and against a control that did not change, when there is one).
    CREATE TABLE IF NOT EXISTS kaizen_measurement (
        experiment_id VARCHAR NOT NULL,
        seq INTEGER NOT NULL,
        measured_at TIMESTAMPTZ NOT NULL,
        metric VARCHAR NOT NULL,
        scope VARCHAR NOT NULL,
        unit VARCHAR,
        method VARCHAR NOT NULL,
        change_at TIMESTAMPTZ,
        effect DOUBLE,
        ci_low DOUBLE,
        ci_high DOUBLE,
        p_value DOUBLE,
        detected BOOLEAN NOT NULL,
        mde DOUBLE,
        periods_before BIGINT NOT NULL,
        periods_after BIGINT NOT NULL,
        alpha DOUBLE NOT NULL,
        naive_effect DOUBLE,
        naive_p_value DOUBLE,
        control VARCHAR,
        verdict VARCHAR NOT NULL,
        note VARCHAR,
        PRIMARY KEY (experiment_id, seq)
    )
    """,
    """
    -- Lessons partners shared: each received copy of a partner's experiment (its A3's
    -- aggregates as JSON, never raw events), numbered per source and experiment.
    CREATE TABLE IF NOT EXISTS kaizen_lesson (
        source VARCHAR NOT NULL,
        experiment_id VARCHAR NOT NULL,
        seq INTEGER NOT NULL,
        received_at TIMESTAMPTZ NOT NULL,
        status VARCHAR NOT NULL,
        waste VARCHAR,
        title VARCHAR NOT NULL,
        lesson JSON NOT NULL,
        PRIMARY KEY (source, experiment_id, seq)
    )
    """,
]


class KaizenError(ValueError):
    """A kaizen write the store refuses: an unknown experiment, an id taken, an illegal move."""


def _now(at: datetime | None) -> datetime:
    if at is None:
        return datetime.now(UTC)
    if at.tzinfo is None:
        raise KaizenError(f"{at.isoformat()}: a date needs its time zone (e.g. UTC)")
    return at


def _dicts(table: pa.Table) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = table.to_pylist()
    return out


def experiment_ids(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every experiment's id, oldest first."""
    return [
        r[0]
        for r in rows(
            con, "SELECT experiment_id FROM kaizen_experiment ORDER BY created_at, experiment_id"
        )
    ]


def _require(con: duckdb.DuckDBPyConnection, experiment_id: str) -> None:
    if not rows(con, "SELECT 1 FROM kaizen_experiment WHERE experiment_id = ?", [experiment_id]):
        raise KaizenError(f"no experiment {experiment_id!r} in this store")


def insert_experiment(
    con: duckdb.DuckDBPyConnection,
    *,
    experiment_id: str,
    title: str,
    problem: str,
    waste: str | None,
    hypothesis: str,
    countermeasure_kind: str,
    variant_name: str,
    variant_changes: Mapping[str, Any],
    target_metric: str,
    target_scope: str,
    target_direction: str,
    target_value: float | None,
    target_unit: str | None,
    owner: str,
    by: str,
    evidence_refs: Sequence[tuple[str, str]] = (),
    at: datetime | None = None,
) -> None:
    """Write a new experiment, its evidence (``(kind, id)`` pairs) and its first status,
    ``plan``, in one transaction. An id already taken is refused."""
    when = _now(at)
    if rows(con, "SELECT 1 FROM kaizen_experiment WHERE experiment_id = ?", [experiment_id]):
        raise KaizenError(f"experiment {experiment_id!r} exists already: ids are never reused")
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            "INSERT INTO kaizen_experiment VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                experiment_id,
                title,
                problem,
                waste,
                hypothesis,
                countermeasure_kind,
                variant_name,
                json.dumps(dict(variant_changes), sort_keys=True),
                target_metric,
                target_scope,
                target_direction,
                target_value,
                target_unit,
                owner,
                when,
                by,
            ],
        )
        unique = sorted(set(evidence_refs))
        if unique:
            con.executemany(
                "INSERT INTO kaizen_evidence VALUES (?, ?, ?)",
                [[experiment_id, kind, ref] for kind, ref in unique],
            )
        con.execute(
            "INSERT INTO kaizen_status VALUES (?, 1, 'plan', ?, ?, NULL)",
            [experiment_id, when, by],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def experiment_row(con: duckdb.DuckDBPyConnection, experiment_id: str) -> dict[str, Any]:
    """The experiment as written (``variant_changes`` decoded), with ``status`` and
    ``status_at``: where it stands now."""
    found = _dicts(
        arrow_table(
            con,
            "SELECT e.*, s.status, s.moved_at AS status_at FROM kaizen_experiment e"
            " JOIN (SELECT * FROM kaizen_status QUALIFY row_number() OVER"
            " (PARTITION BY experiment_id ORDER BY seq DESC) = 1) s USING (experiment_id)"
            " WHERE e.experiment_id = ?",
            [experiment_id],
        )
    )
    if not found:
        raise KaizenError(f"no experiment {experiment_id!r} in this store")
    row = found[0]
    row["variant_changes"] = json.loads(row["variant_changes"])
    return row


def experiments(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """Every experiment, oldest first: id, title, waste, target metric and scope, owner,
    created, and where it stands (``status``, ``status_at``)."""
    return arrow_table(
        con,
        "SELECT e.experiment_id, e.title, e.waste, e.countermeasure_kind, e.target_metric,"
        " e.target_scope, e.owner, e.created_at, s.status, s.moved_at AS status_at"
        " FROM kaizen_experiment e JOIN (SELECT * FROM kaizen_status QUALIFY row_number()"
        " OVER (PARTITION BY experiment_id ORDER BY seq DESC) = 1) s USING (experiment_id)"
        " ORDER BY e.created_at, e.experiment_id",
    )


def evidence(con: duckdb.DuckDBPyConnection, experiment_id: str) -> pa.Table:
    """The experiment's evidence: ``kind`` (step, object, event, location) and ``ref``."""
    return arrow_table(
        con,
        "SELECT kind, ref FROM kaizen_evidence WHERE experiment_id = ? ORDER BY kind, ref",
        [experiment_id],
    )


def history(con: duckdb.DuckDBPyConnection, experiment_id: str) -> pa.Table:
    """Every status move of the experiment, in order: ``seq``, ``status``, ``moved_at``,
    ``moved_by``, ``note``."""
    return arrow_table(
        con,
        "SELECT seq, status, moved_at, moved_by, note FROM kaizen_status"
        " WHERE experiment_id = ? ORDER BY seq",
        [experiment_id],
    )


def allowed_moves(status: str) -> list[str]:
    """Where an experiment in ``status`` may move next, in the order of its life."""
    if status not in MOVES:
        raise KaizenError(f"unknown status {status!r}: expected one of {', '.join(STATUSES)}")
    return [s for s in STATUSES if s in MOVES[status]]


def move(
    con: duckdb.DuckDBPyConnection,
    experiment_id: str,
    status: str,
    *,
    by: str,
    note: str | None = None,
    at: datetime | None = None,
) -> int:
    """Move the experiment to ``status`` (a new, dated row of its history; its number is
    returned). Refused: an unknown status, a move the machine does not allow from where it
    stands, a date before its last move."""
    if status not in STATUSES:
        raise KaizenError(f"unknown status {status!r}: expected one of {', '.join(STATUSES)}")
    when = _now(at)
    con.execute("BEGIN TRANSACTION")
    try:
        last = rows(
            con,
            "SELECT seq, status, moved_at FROM kaizen_status WHERE experiment_id = ?"
            " ORDER BY seq DESC LIMIT 1",
            [experiment_id],
        )
        if not last:
            raise KaizenError(f"no experiment {experiment_id!r} in this store")
        seq, current, last_at = last[0]
        if status not in MOVES[current]:
            where = ", ".join(allowed_moves(current)) or "nowhere (it is final)"
            raise KaizenError(
                f"experiment {experiment_id!r} is {current}: it cannot move to {status}"
                f" (from {current} it may move to {where})"
            )
        if when < last_at:
            raise KaizenError(
                f"experiment {experiment_id!r}: a move dated {when.isoformat()} comes before"
                f" its last one ({current}, {last_at.isoformat()})"
            )
        con.execute(
            "INSERT INTO kaizen_status VALUES (?, ?, ?, ?, ?, ?)",
            [experiment_id, seq + 1, status, when, by, note],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return int(seq) + 1


def _next_seq(con: duckdb.DuckDBPyConnection, table: str, experiment_id: str) -> int:
    found = rows(
        con,
        f"SELECT coalesce(max(seq), 0) + 1 FROM {table} WHERE experiment_id = ?",
        [experiment_id],
    )
    return int(found[0][0])


def add_note(
    con: duckdb.DuckDBPyConnection,
    experiment_id: str,
    section: str,
    text: str,
    *,
    by: str,
    at: datetime | None = None,
) -> int:
    """Write one of the A3's sections (``SECTIONS``); earlier notes of it stay. Returns the
    note's number."""
    if section not in SECTIONS:
        raise KaizenError(f"unknown A3 section {section!r}: expected one of {', '.join(SECTIONS)}")
    _require(con, experiment_id)
    seq = _next_seq(con, "kaizen_note", experiment_id)
    con.execute(
        "INSERT INTO kaizen_note VALUES (?, ?, ?, ?, ?, ?)",
        [experiment_id, seq, section, text, _now(at), by],
    )
    return seq


def notes(con: duckdb.DuckDBPyConnection, experiment_id: str) -> pa.Table:
    """Every note of the experiment's A3, in order: ``seq``, ``section``, ``text``,
    ``written_at``, ``written_by``."""
    return arrow_table(
        con,
        "SELECT seq, section, text, written_at, written_by FROM kaizen_note"
        " WHERE experiment_id = ? ORDER BY seq",
        [experiment_id],
    )


_PREDICTION_COLUMNS = (
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
    "warmup",
    "seed",
    "model",
    "note",
)


def add_prediction(
    con: duckdb.DuckDBPyConnection,
    experiment_id: str,
    prediction: Mapping[str, Any],
    *,
    at: datetime | None = None,
) -> int:
    """Keep one prediction of the experiment (keys: ``kpi, scope, unit, baseline, value,
    difference, pct, ci_low, ci_high, confidence, significant, replications, periods, warmup,
    seed, model, note``). Returns its number."""
    _require(con, experiment_id)
    missing = [c for c in _PREDICTION_COLUMNS if c not in prediction]
    if missing:
        raise KaizenError(f"a prediction needs {', '.join(missing)}")
    seq = _next_seq(con, "kaizen_prediction", experiment_id)
    con.execute(
        "INSERT INTO kaizen_prediction VALUES (?, ?, ?, "
        + ", ".join("?" for _ in _PREDICTION_COLUMNS)
        + ")",
        [experiment_id, seq, _now(at), *(prediction[c] for c in _PREDICTION_COLUMNS)],
    )
    return seq


def predictions(con: duckdb.DuckDBPyConnection, experiment_id: str) -> pa.Table:
    """Every prediction kept for the experiment, oldest first (``seq``, ``made_at`` and the
    columns :func:`add_prediction` takes)."""
    return arrow_table(
        con,
        "SELECT * EXCLUDE (experiment_id) FROM kaizen_prediction WHERE experiment_id = ?"
        " ORDER BY seq",
        [experiment_id],
    )


_MEASUREMENT_COLUMNS = (
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
    "naive_p_value",
    "control",
    "verdict",
    "note",
)


def add_measurement(
    con: duckdb.DuckDBPyConnection,
    experiment_id: str,
    measurement: Mapping[str, Any],
    *,
    at: datetime | None = None,
) -> int:
    """Keep one measured effect of the experiment (keys: ``metric, scope, unit, method,
    change_at, effect, ci_low, ci_high, p_value, detected, mde, periods_before, periods_after,
    alpha, naive_effect, naive_p_value, control, verdict, note``). Returns its number."""
    _require(con, experiment_id)
    missing = [c for c in _MEASUREMENT_COLUMNS if c not in measurement]
    if missing:
        raise KaizenError(f"a measurement needs {', '.join(missing)}")
    seq = _next_seq(con, "kaizen_measurement", experiment_id)
    con.execute(
        "INSERT INTO kaizen_measurement VALUES (?, ?, ?, "
        + ", ".join("?" for _ in _MEASUREMENT_COLUMNS)
        + ")",
        [experiment_id, seq, _now(at), *(measurement[c] for c in _MEASUREMENT_COLUMNS)],
    )
    return seq


def measurements(con: duckdb.DuckDBPyConnection, experiment_id: str) -> pa.Table:
    """Every measurement kept for the experiment, oldest first (``seq``, ``measured_at`` and
    the columns :func:`add_measurement` takes)."""
    return arrow_table(
        con,
        "SELECT * EXCLUDE (experiment_id) FROM kaizen_measurement WHERE experiment_id = ?"
        " ORDER BY seq",
        [experiment_id],
    )


def add_lesson(
    con: duckdb.DuckDBPyConnection,
    source: str,
    lesson: Mapping[str, Any],
    *,
    at: datetime | None = None,
) -> int | None:
    """Keep a lesson a partner (``source``) shared: a JSON-ready mapping with at least
    ``experiment_id``, ``title`` and ``status`` (and ``waste`` when known). A copy equal to
    the newest kept from that source for that experiment adds nothing (returns None);
    otherwise a new row is numbered and its number returned — nothing is overwritten."""
    for key in ("experiment_id", "title", "status"):
        if not isinstance(lesson.get(key), str) or not lesson[key]:
            raise KaizenError(f"a lesson needs {key!r} (a non-empty text)")
    experiment_id = str(lesson["experiment_id"])
    document = json.dumps(lesson, sort_keys=True, default=str)
    newest = rows(
        con,
        "SELECT seq, lesson::VARCHAR FROM kaizen_lesson WHERE source = ? AND experiment_id = ?"
        " ORDER BY seq DESC LIMIT 1",
        [source, experiment_id],
    )
    if newest and json.loads(newest[0][1]) == json.loads(document):
        return None
    seq = (newest[0][0] + 1) if newest else 1
    con.execute(
        "INSERT INTO kaizen_lesson VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            source,
            experiment_id,
            seq,
            _now(at),
            lesson["status"],
            lesson.get("waste"),
            lesson["title"],
            document,
        ],
    )
    return seq


def lessons(con: duckdb.DuckDBPyConnection, *, source: str | None = None) -> list[dict[str, Any]]:
    """The newest copy of each lesson partners shared (or one ``source``'s), as dictionaries:
    ``source``, ``received_at``, ``seq`` and the lesson's own keys."""
    where = "WHERE source = ?" if source is not None else ""
    params: list[Any] = [source] if source is not None else []
    found = rows(
        con,
        "SELECT source, seq, received_at, lesson::VARCHAR FROM kaizen_lesson "
        + where
        + " QUALIFY seq = max(seq) OVER (PARTITION BY source, experiment_id)"
        " ORDER BY received_at, source, experiment_id",
        params,
    )
    out = []
    for src, seq, received_at, doc in found:
        item = json.loads(doc)
        item.update({"source": src, "seq": seq, "received_at": received_at})
        out.append(item)
    return out
