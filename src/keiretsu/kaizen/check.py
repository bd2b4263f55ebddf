"""Check (PDCA): an experiment's effect measured on the node's real events, kept with it.

:func:`check` takes the experiment's target metric at its scope, per period, from the events in
the node's store, and measures the change made on the day the experiment moved to ``running``
(its status history) with :func:`keiretsu.kaizen.measure.measure_impact`: by
difference-in-differences when comparable steps, companies or locations that did not change are
named as the ``control``, else by an interrupted time series (trend, level and slope change,
weekly season; AR(1) errors by REML). The result — effect, interval, p, whether detected, the
smallest effect the data could have detected, the naive before/after difference beside it, the
verdict and the method — is kept as a row of ``kaizen_measurement`` (nothing overwritten), and a
running experiment moves to ``checked``. "Too few data to tell" is kept too, and the experiment
stays running until there are enough periods.

What the events can measure (the *measured metrics*):

* ``lead_hours``, ``waiting_hours``, ``processing_hours`` — of the objects (of one object type)
  finishing each period, network-wide (:func:`~keiretsu.kaizen.measure.object_series`);
* ``wait_hours`` (before a step) and ``time_in_step_hours`` — of the visits ending each period,
  at one step or one company (:func:`~keiretsu.kaizen.measure.step_series`);
* ``on_hand`` — units in stock at one location at the end of each period
  (:func:`keiretsu.analytics.inventory.stock_levels`), all products together.

The twin's other KPIs (cost, fill rate, backorders, bullwhip …) are figures of the simulation,
not of one step's events: :func:`check` refuses them, naming the metrics it can measure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from keiretsu.analytics.durations import parse_freq
from keiretsu.analytics.inventory import stock_levels
from keiretsu.analytics.log import Log
from keiretsu.analytics.view import View
from keiretsu.kaizen.experiment import load
from keiretsu.kaizen.measure import TOO_FEW, Impact, measure_impact, object_series, step_series
from keiretsu.store import Store
from keiretsu.store import kaizen as tables
from keiretsu.store.kaizen import KaizenError

__all__ = ["MEASURED_METRICS", "MIN_BEFORE", "check", "measured"]

MEASURED_METRICS: Mapping[str, str] = {
    "lead_hours": "hours",
    "waiting_hours": "hours",
    "processing_hours": "hours",
    "wait_hours": "hours",
    "time_in_step_hours": "hours",
    "on_hand": "units",
}
"""The metrics :func:`check` measures from the events, with their units."""

_OBJECT = ("lead_hours", "waiting_hours", "processing_hours")
_STEP = ("wait_hours", "time_in_step_hours")
_SCOPES = (
    "lead, waiting and processing hours network-wide (scope 'network' or an object type); "
    "wait and time in a step at a step or a company; on_hand at a location"
)


def _change_date(experiment: Any) -> datetime:
    running = [h for h in experiment.history.to_pylist() if h["status"] == "running"]
    if not running:
        raise KaizenError(
            f"experiment {experiment.experiment_id!r} never moved to running (it is "
            f"{experiment.status}): pass change_at, the time the change went to the floor"
        )
    when: datetime = running[-1]["moved_at"]
    return when


def _short(name: str) -> str:
    return name.rsplit(":", 1)[-1].rsplit("/", 1)[-1].rsplit("#", 1)[-1]


def _resolve(wanted: str, known: Sequence[str], what: str) -> str | None:
    """The unit ``wanted`` names: exactly, else by the last part of an identifier
    (``press`` for ``urn:keiretsu:bizstep:press``); None when none; ambiguity refused."""
    if wanted in known:
        return wanted
    found = [k for k in known if _short(k) == wanted]
    if len(found) > 1:
        raise KaizenError(f"{what} {wanted!r} is ambiguous: it may be {', '.join(found)}")
    return found[0] if found else None


def _units(table: pa.Table) -> list[str]:
    return sorted({str(u) for u in table.column("unit").to_pylist()})


def _named(
    wanted: str, known: Sequence[str], what: str, names: Mapping[str, str] | None
) -> str | None:
    by_name = {v: k for k, v in (names or {}).items()}
    if wanted in by_name and by_name[wanted] in known:
        return by_name[wanted]
    return _resolve(wanted, known, what)


def _step_units(
    log: Log, object_type: str, metric: str, freq: str, scope: str, control: Sequence[str]
) -> tuple[pa.Table, pa.Table | None, str, list[str]]:
    """The treated step's (or company's) series and its controls', with the units found."""
    last_known: list[str] = []
    for by in ("step", "company"):
        view = step_series(log, object_type, metric=metric, by=by, freq=freq)  # type: ignore[arg-type]
        known = _units(view.table)
        last_known += known
        unit = _resolve(scope, known, "step" if by == "step" else "company")
        if unit is None:
            continue
        resolved = []
        for c in control:
            u = _resolve(c, known, "control")
            if u is None:
                raise KaizenError(
                    f"control {c!r} is not a {by} with {metric} in the events of "
                    f"{object_type!r} (they have {', '.join(known)})"
                )
            resolved.append(u)
        units = view.table.column("unit")
        mine = view.table.filter(pc.equal(units, unit))
        ctl = (
            view.table.filter(pc.is_in(units, pa.array(resolved, pa.string())))
            if resolved
            else None
        )
        return mine, ctl, unit, resolved
    raise KaizenError(
        f"scope {scope!r} is not a step or company with {metric} in the events of "
        f"{object_type!r} (they have {', '.join(sorted(set(last_known))) or 'none'})"
    )


def _on_hand(
    log: Log, freq: str, scope: str, control: Sequence[str], names: Mapping[str, str] | None
) -> tuple[pa.Table, pa.Table | None, str, list[str]]:
    """Units on hand at the end of each period per location (all products), the period
    stamped with its start."""
    length = parse_freq(freq)
    levels = stock_levels(log, freq=f"{length.total_seconds():g}s").table
    if levels.num_rows == 0:
        raise KaizenError("on_hand: the events record no stock movement at any location")
    loc = levels.column("location").to_pylist()
    time = levels.column("time").to_pylist()
    qty = levels.column("quantity").to_numpy(zero_copy_only=False).astype(float)
    sums: dict[tuple[str, datetime], float] = {}
    for location, t, q in zip(loc, time, qty, strict=True):
        key = (str(location), t - length)
        sums[key] = sums.get(key, 0.0) + float(q)
    known = sorted({k[0] for k in sums})
    unit = _named(scope, known, "location", names)
    if unit is None:
        shown = [f"{k} ({names[k]})" if names and k in names else k for k in known]
        raise KaizenError(
            f"scope {scope!r} is not a location with stock in the events (they have "
            f"{', '.join(shown)}; pass names= to call them by name)"
        )
    resolved = []
    for c in control:
        u = _named(c, known, "control", names)
        if u is None:
            raise KaizenError(f"control {c!r} is not a location with stock in the events")
        resolved.append(u)

    def table(units: Sequence[str]) -> pa.Table:
        rows = [(u, p, v) for (u, p), v in sorted(sums.items()) if u in units]
        return pa.table(
            {
                "unit": pa.array([r[0] for r in rows], pa.string()),
                "period": pa.array([r[1] for r in rows], pa.timestamp("us", tz="UTC")),
                "value": pa.array([r[2] for r in rows], pa.float64()),
            }
        )

    return table([unit]), (table(resolved) if resolved else None), unit, resolved


def check(
    store: Store,
    experiment_id: str,
    *,
    metric: str | None = None,
    scope: str | None = None,
    change_at: datetime | None = None,
    control: Sequence[str] | None = None,
    freq: str = "D",
    alpha: float = 0.05,
    advance: bool = True,
    by: str = "local",
    at: datetime | None = None,
    object_type: str | None = None,
    names: Mapping[str, str] | None = None,
    before: int | Literal["as_after"] | None = "as_after",
    **kwargs: Any,
) -> View:
    """Measure the experiment's effect on the node's events, keep it, and move it to checked.

    ``metric`` and ``scope`` default to the experiment's target (metrics: see
    :data:`MEASURED_METRICS`; scope: ``network`` or an object type for the objects' lead,
    waiting and processing hours; a step — by its name or identifier, e.g. ``press`` for
    ``urn:keiretsu:bizstep:press`` — or a company for ``wait_hours`` and
    ``time_in_step_hours``; a location — its identifier, or its name in ``names`` (identifier
    → name) — for ``on_hand``). ``change_at`` defaults to when the experiment moved to
    ``running``. ``control`` names comparable steps, companies or locations that did not
    change: difference-in-differences against them; none, an interrupted time series.
    ``freq``: the period (``"D"`` a day, ``"1w"`` a week, …); ``alpha``: the test's level;
    ``object_type``: whose events (default: the most frequent type in the log);
    ``before``: how many periods before the change are compared — ``"as_after"`` (the
    default): as many as there are after it, and at least :data:`MIN_BEFORE` (two weekly
    cycles, for the season); a number: that many; None: every period the log has. Periods
    long before the change carry other changes (a new policy, a partner connected) that a
    trend line does not follow: they widen the interval and hide the effect; other
    ``kwargs`` go to :func:`~keiretsu.kaizen.measure.measure_impact` (``season``,
    ``min_periods``, ``errors`` …).

    The measurement is kept (``kaizen_measurement``, dated ``at``, now by default) whatever it
    says — "too few data to tell" included. ``advance``: a running experiment whose effect
    could be measured moves to ``checked`` (by ``by``, at ``at``); with too few data it stays
    running.

    Returns a one-row view: ``experiment_id``, ``metric``, ``scope``, ``unit``, ``method``,
    ``change_at``, ``effect`` (in ``unit``, after minus before), ``low``/``high`` (its
    interval at 1 − ``alpha``), ``p_value``, ``detected``, ``in_direction`` (detected and the
    way the target wants), ``mde`` (the smallest effect the data could have detected, 80%
    power), ``periods_before``/``periods_after``, ``naive_effect``/``naive_p_value`` (plain
    before/after), ``control``, ``verdict``, ``status`` (after the check), ``seq`` (the kept
    row's number); the notes say how it was measured."""
    experiment = load(store, experiment_id)
    target = experiment.target
    metric = metric or target.metric
    scope = scope or target.scope
    if metric not in MEASURED_METRICS:
        raise KaizenError(
            f"experiment {experiment_id!r}: {metric!r} cannot be measured from the events; "
            f"the metrics that can are {', '.join(MEASURED_METRICS)} ({_SCOPES}); pass "
            "metric= and scope= to check one of them"
        )
    when_changed = change_at if change_at is not None else _change_date(experiment)
    if when_changed.tzinfo is None:
        raise KaizenError(f"change_at {when_changed.isoformat()} needs a time zone (e.g. UTC)")
    controls = list(control or ())
    log = Log.from_connection(store.con)
    ctl: pa.Table | None = None
    resolved: list[str] = []
    if metric in _OBJECT:
        if controls:
            raise KaizenError(
                f"{metric} is measured network-wide: a control needs a step, company or "
                f"location metric ({', '.join(_STEP)}, on_hand)"
            )
        types = log.object_types()
        kind = object_type or (scope if scope in types else None) or (types[0] if types else None)
        if kind is None or kind not in types or scope not in ("network", kind):
            raise KaizenError(
                f"scope {scope!r} for {metric}: expected 'network' or an object type of the "
                f"log ({', '.join(types) or 'none'})"
            )
        series: pa.Table = object_series(log, kind, metric=metric, freq=freq).table  # type: ignore[arg-type]
        unit_name = "network" if scope == "network" else kind
        label = f"{metric} of {kind!r} objects"
    elif metric in _STEP:
        types = log.object_types()
        kind = object_type or (types[0] if types else None)
        if kind is None or kind not in types:
            raise KaizenError(
                f"object type {object_type!r} is not in the log ({', '.join(types) or 'none'})"
            )
        series, ctl, unit_name, resolved = _step_units(log, kind, metric, freq, scope, controls)
        label = f"{metric} at {unit_name} ({kind!r} objects)"
    else:
        series, ctl, unit_name, resolved = _on_hand(log, freq, scope, controls, names)
        label = f"on hand at {unit_name}"
    window = _window(series, ctl, when_changed, parse_freq(freq), before)
    if window is not None:
        series, ctl, kept = window
        notes_window = (
            f"compared: the {kept} {_period(freq)}s before the change"
            + (" (as many as after it)" if before == "as_after" else "")
            + "; earlier ones left out"
        )
    else:
        notes_window = None
    impact: Impact = measure_impact(
        series,
        when_changed,
        control=ctl,
        metric=metric,
        alpha=alpha,
        freq=parse_freq(freq),
        **kwargs,
    )
    too_few = impact.verdict.startswith(TOO_FEW)
    unit = MEASURED_METRICS[metric]
    notes = [f"measured: {label}, per {_period(freq)}, change at {when_changed.isoformat()}"]
    if change_at is None:
        notes.append("change date: when the experiment moved to running")
    if notes_window is not None:
        notes.append(notes_window)
    notes += list(impact.notes)
    row: dict[str, Any] = {
        "metric": metric,
        "scope": scope,
        "unit": unit,
        "method": impact.method,
        "change_at": when_changed,
        "effect": impact.effect,
        "ci_low": impact.low,
        "ci_high": impact.high,
        "p_value": impact.p_value,
        "detected": impact.detected,
        "mde": impact.mde,
        "periods_before": impact.periods_before,
        "periods_after": impact.periods_after,
        "alpha": alpha,
        "naive_effect": impact.naive_effect,
        "naive_p_value": impact.naive_p_value,
        "control": ", ".join(resolved) if resolved else None,
        "verdict": impact.verdict,
        "note": "; ".join(notes),
    }
    kept_at = at or datetime.now(UTC)
    seq = tables.add_measurement(store.con, experiment_id, row, at=kept_at)
    status = experiment.status
    if advance and status == "running":
        if too_few:
            notes.append("still running: too few data to tell, check again later")
        else:
            tables.move(
                store.con,
                experiment_id,
                "checked",
                by=by,
                note=f"measured {metric} at {scope}: {impact.verdict}",
                at=kept_at,
            )
            status = "checked"
    in_direction: bool | None = None
    if impact.effect is not None:
        wanted = impact.effect < 0 if target.direction == "decrease" else impact.effect > 0
        in_direction = bool(impact.detected and wanted)
    out = {
        "experiment_id": experiment_id,
        "metric": metric,
        "scope": scope,
        "unit": unit,
        "method": impact.method,
        "change_at": when_changed.astimezone(UTC),
        "effect": impact.effect,
        "low": impact.low,
        "high": impact.high,
        "p_value": impact.p_value,
        "detected": impact.detected,
        "in_direction": in_direction,
        "mde": impact.mde,
        "periods_before": impact.periods_before,
        "periods_after": impact.periods_after,
        "naive_effect": impact.naive_effect,
        "naive_p_value": impact.naive_p_value,
        "control": row["control"],
        "verdict": impact.verdict,
        "status": status,
        "seq": seq,
    }
    schema = pa.schema(
        [
            ("experiment_id", pa.string()),
            ("metric", pa.string()),
            ("scope", pa.string()),
            ("unit", pa.string()),
            ("method", pa.string()),
            ("change_at", pa.timestamp("us", tz="UTC")),
            *((c, pa.float64()) for c in ("effect", "low", "high", "p_value")),
            ("detected", pa.bool_()),
            ("in_direction", pa.bool_()),
            ("mde", pa.float64()),
            ("periods_before", pa.int64()),
            ("periods_after", pa.int64()),
            ("naive_effect", pa.float64()),
            ("naive_p_value", pa.float64()),
            ("control", pa.string()),
            ("verdict", pa.string()),
            ("status", pa.string()),
            ("seq", pa.int64()),
        ]
    )
    return View(
        "kaizen.check",
        pa.Table.from_pylist([out], schema=schema),
        tuple(notes),
        {"experiment_id": experiment_id, "alpha": alpha, "season": impact.season},
    )


MIN_BEFORE = 14
"""Fewest periods before the change a balanced check compares (two weekly cycles of days)."""


def _window(
    series: pa.Table,
    control: pa.Table | None,
    change: datetime,
    length: timedelta,
    before: int | str | None,
) -> tuple[pa.Table, pa.Table | None, int] | None:
    """The series (and control) cut to ``before`` periods before the change (see
    :func:`check`), and how many periods are kept; None when nothing is cut."""
    if before is None:
        return None
    if before == "as_after":
        periods = series.column("period").to_pylist()
        after = len({p for p in periods if p is not None and p >= change})
        n = max(MIN_BEFORE, after)
    elif isinstance(before, int) and not isinstance(before, bool) and before >= 1:
        n = before
    else:
        raise KaizenError(
            f"before: 'as_after', a number of periods (1 or more) or None, not {before!r}"
        )
    first = change - n * length
    if all(p is None or p >= first for p in series.column("period").to_pylist()):
        return None

    def cut(t: pa.Table) -> pa.Table:
        keep = [p is not None and p >= first for p in t.column("period").to_pylist()]
        return t.filter(pa.array(keep, pa.bool_()))

    return cut(series), (cut(control) if control is not None else None), n


def _period(freq: str) -> str:
    s = parse_freq(freq).total_seconds()
    for word, size in (("week", 604_800), ("day", 86_400), ("hour", 3_600)):
        if s == size:
            return word
    return f"period of {timedelta(seconds=s)}"


def measured(store: Store, experiment_id: str) -> dict[str, Any] | None:
    """The newest measurement kept for the experiment (the columns of ``kaizen_measurement``:
    ``seq``, ``measured_at``, ``metric``, ``scope``, ``unit``, ``method``, ``change_at``,
    ``effect``, ``ci_low``, ``ci_high``, ``p_value``, ``detected``, ``mde``,
    ``periods_before``, ``periods_after``, ``alpha``, ``naive_effect``, ``naive_p_value``,
    ``control``, ``verdict``, ``note``), or None before any."""
    load(store, experiment_id)  # an unknown experiment is refused by name
    rows: list[dict[str, Any]] = tables.measurements(store.con, experiment_id).to_pylist()
    if not rows:
        return None
    newest = rows[-1]
    return {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in newest.items()}
