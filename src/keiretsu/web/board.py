"""The kaizen board: the node's experiments by status, each opening its A3 with the impact the
twin predicted and the impact measured since; the improvement curve and the lessons partners
shared, where the node's kaizen room has them.

Everything is read from the store through a read cursor, by the kaizen room's own functions
(:func:`keiretsu.kaizen.experiments`, :func:`keiretsu.kaizen.load`, :func:`keiretsu.kaizen.a3`,
:mod:`keiretsu.store.kaizen`; the curve by ``keiretsu.kaizen.curve``)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from keiretsu.web.pages import plain


@dataclass
class _ReadStore:
    """A store seen through one read cursor: what the kaizen room's readers need of a
    :class:`~keiretsu.store.Store` (its ``con``)."""

    con: Any


def board(cursor: Any) -> dict[str, Any]:
    """The experiments grouped by status (in the order of the status machine), the
    improvement curve (an SVG) and the lessons partners shared."""
    from keiretsu import kaizen
    from keiretsu.store import kaizen as tables

    store: Any = _ReadStore(cursor)
    rows = [plain(r) for r in kaizen.experiments(store).to_pylist()]
    columns = [
        {"status": s, "experiments": [r for r in rows if r["status"] == s]} for s in kaizen.STATUSES
    ]
    return {
        "columns": columns,
        "count": len(rows),
        "lessons": [plain(item) for item in tables.lessons(cursor)],
    }


def curve(cursor: Any, log: Any) -> tuple[str | None, str | None]:
    """The improvement curve drawn by ``keiretsu.kaizen.curve`` (None and why, if this
    node's kaizen room has none, or the log cannot show it)."""
    try:
        curve = importlib.import_module("keiretsu.kaizen.curve")
    except ImportError:
        return None, "the improvement curve is not part of this version"
    try:
        if log.events.count().execute() == 0:
            return None, "no events yet"
        view = curve.improvement_curve(log, adopted=curve.adoptions(cursor))
        return str(curve.render_svg(view)), None
    except (ValueError, TypeError, KeyError) as exc:
        return None, f"the improvement curve cannot be drawn: {exc}"


def a3_page(cursor: Any, experiment_id: str) -> dict[str, Any]:
    """The A3 of one experiment (:func:`keiretsu.kaizen.a3`), with the newest measured
    effect kept for it as its measured impact; LookupError if there is no such experiment."""
    from keiretsu import kaizen
    from keiretsu.store import kaizen as tables

    if experiment_id not in tables.experiment_ids(cursor):
        raise LookupError(f"no experiment {experiment_id!r} in this node's store")
    experiment = kaizen.load(_ReadStore(cursor), experiment_id)  # type: ignore[arg-type]
    measured = tables.measurements(cursor, experiment_id).to_pylist()
    page = kaizen.a3(experiment, measured=plain(measured[-1]) if measured else None)
    return {
        "a3": plain(page),
        "markdown": kaizen.render_a3(page),
        "next_moves": experiment.next_moves,
        "measurements": len(measured),
    }
