"""The bottleneck: the steps that hold the flow back, ranked, each with its evidence.

Three signs of a constraint, as a lean practitioner reads them off the floor:

* **work waits in front of it** — the mean wait before the step (see
  :mod:`keiretsu.analytics.flow` for how the wait is measured);
* **it is busy** — its resources' utilisation, where the log has start/complete events with a
  resource (otherwise this sign is absent and the ranking rests on the other two);
* **WIP piles up at it** — the WIP growth: the least-squares slope of the step's daily WIP (at
  each day's end) over the observed span, in objects per day.

Each sign is scaled to 0-1 by its largest value among the steps (negative growth counts as 0);
the score is the mean of the signs available. The ranking is a pointer to where to go and look,
not a proof: a long wait before a step may also come from a batch policy or a customer.
"""

from __future__ import annotations

from datetime import timedelta

import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from keiretsu.analytics.durations import duration
from keiretsu.analytics.flow import bucket_counts, step_stats, visits, wip_series
from keiretsu.analytics.log import Log
from keiretsu.analytics.view import View

__all__ = ["bottlenecks", "describe_seconds"]

_DAY = timedelta(days=1)


def describe_seconds(seconds: float) -> str:
    """A duration the way people say it: ``"45 minutes"``, ``"5.2 hours"``, ``"3.2 days"``
    (:func:`keiretsu.analytics.durations.duration` in words)."""
    return duration(seconds, words=True)


def _growth(log: Log, object_type: str, v: ir.Table | None = None) -> dict[str, float]:
    """Per step: the least-squares slope of its end-of-day WIP over the span (objects/day)."""
    if v is None:
        v = visits(log, object_type)
    rows = bucket_counts(log, v.select("activity", "arrive", "leave"), _DAY, ["activity"])
    if rows.num_rows == 0:
        return {}
    b = rows.column("b").to_numpy(zero_copy_only=False)
    lo, hi = int(b.min()), int(b.max())
    out: dict[str, float] = {}
    activities = rows.column("activity")
    for activity in sorted({str(a) for a in activities.to_pylist()}):
        mask = pc.equal(activities, activity)
        series = wip_series(rows.filter(mask), _DAY, lo, hi)
        if len(series.bucket) < 2:
            out[activity] = 0.0
            continue
        x = series.bucket.astype(np.float64)
        y = series.wip_end
        out[activity] = float(np.polyfit(x - x.mean(), y, 1)[0])
    return out


def bottlenecks(
    log: Log,
    object_type: str,
    *,
    stats: View | None = None,
    visit_table: ir.Table | None = None,
) -> View:
    """The steps of ``object_type``'s flow ranked as candidate bottlenecks, the likeliest first.

    Columns: ``rank`` (1 = likeliest), ``activity``, ``mean_wait_before_seconds`` (seconds),
    ``utilisation`` (0-1, null where not measurable), ``wip_growth_per_day`` (objects/day),
    ``mean_wip`` (objects), ``score`` (0-1, mean of the scaled signs) and ``evidence``, one line
    in words, e.g. "waits 3.2 days on average before this step, the longest; WIP grew by 4.0
    objects/day".

    ``stats`` (the type's :func:`~keiretsu.analytics.flow.step_stats` over its whole span) and
    ``visit_table`` (its :func:`~keiretsu.analytics.flow.visits`) may be passed when already
    at hand, as the morning report does, so they are not computed twice."""
    if stats is None:
        stats = step_stats(log, object_type, visit_table=visit_table)
    growth = _growth(log, object_type, visit_table)
    rows = stats.to_pylist()
    notes = [
        "score: mean of the wait before the step, its utilisation and its WIP growth, each "
        "scaled by the largest among the steps (negative growth counts as 0)",
        "WIP growth: least-squares slope of the step's WIP at each day's end (UTC) over the span",
    ]
    for note in stats.notes:
        if note.startswith(("wait before", "utilisation")):
            notes.append(note)
    if not rows:
        empty = pa.table(
            {
                "rank": pa.array([], pa.int64()),
                "activity": pa.array([], pa.string()),
                "mean_wait_before_seconds": pa.array([], pa.float64()),
                "utilisation": pa.array([], pa.float64()),
                "wip_growth_per_day": pa.array([], pa.float64()),
                "mean_wip": pa.array([], pa.float64()),
                "score": pa.array([], pa.float64()),
                "evidence": pa.array([], pa.string()),
            }
        )
        return View("bottlenecks", empty, (*notes, f"no {object_type} objects"), {})

    def scaled(values: list[float | None]) -> list[float] | None:
        known = [max(v, 0.0) for v in values if v is not None]
        if not known:
            return None
        top = max(known)
        return [0.0 if v is None or top == 0 else max(v, 0.0) / top for v in values]

    waits = [r["mean_wait_before_seconds"] for r in rows]
    utils = [r["utilisation"] for r in rows]
    grows: list[float | None] = [growth.get(r["activity"], 0.0) for r in rows]
    signs = [s for s in (scaled(waits), scaled(utils), scaled(grows)) if s is not None]
    scores = [sum(s[i] for s in signs) / len(signs) for i in range(len(rows))]
    longest = max((w for w in waits if w is not None), default=None)
    busiest = max((u for u in utils if u is not None), default=None)
    fastest = max((g for g in grows if g is not None), default=None)

    evidence = []
    for wait, util, grow in zip(waits, utils, grows, strict=True):
        parts = []
        if wait is None:
            parts.append("no wait measured (always an object's first step)")
        else:
            parts.append(
                f"waits {describe_seconds(wait)} on average before this step"
                + (", the longest" if wait == longest and wait > 0 else "")
            )
        if util is not None:
            parts.append(
                f"resources busy {util:.1%} of the time"
                + (", the busiest" if util == busiest and util > 0 else "")
            )
        assert grow is not None
        if abs(grow) < 0.05:
            parts.append("WIP steady")
        else:
            verb = "grew" if grow > 0 else "fell"
            parts.append(
                f"WIP {verb} by {abs(grow):.1f} objects/day"
                + (", the fastest" if grow == fastest and grow > 0 else "")
            )
        evidence.append("; ".join(parts))

    order = sorted(range(len(rows)), key=lambda i: (-scores[i], rows[i]["activity"]))
    table = pa.table(
        {
            "rank": pa.array(range(1, len(rows) + 1), pa.int64()),
            "activity": pa.array([rows[i]["activity"] for i in order], pa.string()),
            "mean_wait_before_seconds": pa.array([waits[i] for i in order], pa.float64()),
            "utilisation": pa.array([utils[i] for i in order], pa.float64()),
            "wip_growth_per_day": pa.array([grows[i] for i in order], pa.float64()),
            "mean_wip": pa.array([rows[i]["mean_wip"] for i in order], pa.float64()),
            "score": pa.array([scores[i] for i in order], pa.float64()),
            "evidence": pa.array([evidence[i] for i in order], pa.string()),
        }
    )
    return View("bottlenecks", table, tuple(notes), {"object_type": object_type})
