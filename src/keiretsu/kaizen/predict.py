"""Predicted impact: an experiment's countermeasure run as a scenario against the twin's model.

The twin's model is calibrated from the node's own store
(:func:`keiretsu.sim.calibrate.calibrate`) unless one is given; the countermeasure — the
experiment's :class:`~keiretsu.sim.scenario.Variant` — is compared with that baseline by
:func:`keiretsu.sim.scenario.compare`: the same demand and lead-time draws for both (common
random numbers), ``replications`` paired runs of ``periods`` periods after a warm-up, the
difference on the target metric taken replication by replication (variant − baseline) with its
Student's t interval (scipy). The prediction — difference, percent of the baseline, interval,
whether the interval leaves out 0, and the run's replications, periods, warm-up and seed — is
kept with the experiment (a row of ``kaizen_prediction``), and an experiment still in ``plan``
moves to ``simulated``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa

from keiretsu.analytics.log import Log
from keiretsu.analytics.view import View
from keiretsu.kaizen.experiment import load
from keiretsu.sim.calibrate import CalibratedModel, calibrate, regime_start
from keiretsu.sim.kpis import KPI_UNITS
from keiretsu.sim.model import Network
from keiretsu.sim.scenario import compare
from keiretsu.store import Store
from keiretsu.store import kaizen as tables
from keiretsu.store.kaizen import KaizenError

__all__ = ["floor_changes", "predict", "twin_model"]


def floor_changes(store: Store) -> list[datetime]:
    """When the node's records show a change made on the floor: an experiment moved to
    ``running`` (its countermeasure put in place) or ``abandoned`` after running (taken back)."""
    try:
        rows = store.con.execute(
            "SELECT s.moved_at FROM kaizen_status s WHERE s.status = 'running' OR "
            "(s.status = 'abandoned' AND EXISTS (SELECT 1 FROM kaizen_status r WHERE "
            "r.experiment_id = s.experiment_id AND r.status = 'running'))"
        ).fetchall()
    except duckdb.CatalogException:  # a store without the kaizen tables: nothing recorded
        return []
    return [r[0] for r in rows]


def twin_model(
    store: Store, *, period: str = "day", since: datetime | str | None = "regime", **kwargs: Any
) -> CalibratedModel:
    """The twin's model calibrated from ``store`` (read through its own connection; ``kwargs``
    go to :func:`keiretsu.sim.calibrate.calibrate`: ``names``, ``outside_lead_time`` …).

    ``since``: the first time the model is fitted on; ``"regime"`` (the default): the current
    regime, from the last change the store shows — a partner's events starting to arrive, an
    experiment put on the floor or taken back (:func:`keiretsu.sim.calibrate.regime_start`);
    None: the whole log. A twin fitted across a change models neither regime: after a new
    order-up-to level the median position of the whole log is neither the old nor the new."""
    log = Log.from_connection(store.con)
    if since == "regime":
        start, _why = regime_start(
            log, period=period, changes=floor_changes(store), until=kwargs.get("until")
        )
    elif isinstance(since, str):
        raise ValueError(f"since: a time, None or 'regime', not {since!r}")
    else:
        start = since
    return calibrate(log, period=period, since=start, **kwargs)


def predict(
    store: Store,
    experiment_id: str,
    *,
    model: Network | CalibratedModel | None = None,
    periods: int = 200,
    replications: int = 256,
    seed: int = 0,
    confidence: float = 0.95,
    workers: int | None = None,
    period: str = "day",
    names: dict[str, str] | None = None,
    advance: bool = True,
    by: str = "local",
    at: datetime | None = None,
) -> View:
    """Predict the experiment's effect on its target metric and keep the prediction.

    ``model``: the baseline (a :class:`~keiretsu.sim.model.Network` or a calibrated model);
    by default the twin calibrates one from ``store`` (``period``, ``names``: see
    :func:`twin_model`). ``periods`` × ``replications`` paired runs (common random numbers,
    ``seed``), ``confidence`` for the interval, ``workers`` processes. ``advance``: an
    experiment in ``plan`` moves to ``simulated`` (dated ``at``).

    Returns a one-row view: ``kpi``, ``scope``, ``unit``, ``baseline`` and ``value`` (means
    per period over replications), ``difference`` (variant − baseline, in ``unit``), ``pct``
    (of the baseline), ``ci_low``/``ci_high``, ``significant`` (the interval leaves out 0),
    ``in_direction`` (significant and the way the target wants it), ``replications``,
    ``periods``, ``warmup``, ``seed``, ``model``, ``note`` (why a figure is not measurable)."""
    experiment = load(store, experiment_id)
    target = experiment.target
    if target.metric not in KPI_UNITS:
        raise KaizenError(
            f"experiment {experiment_id!r}: its target metric {target.metric!r} is not one the "
            f"twin simulates (expected one of {', '.join(KPI_UNITS)}); measure it instead"
        )
    if model is None:
        # fitted on what the twin knew at the prediction's date (the whole log when it is now)
        calibrated = twin_model(store, period=period, names=names, until=at)
        network = calibrated.network
        source = (
            f"model calibrated from {store.path.name} ({calibrated.periods} {period}s of events)"
        )
    elif isinstance(model, CalibratedModel):
        network = model.network
        source = f"calibrated model {network.name!r} ({model.periods} periods of events)"
    else:
        network = model
        source = f"model {network.name!r}"
    if target.scope != "network" and target.scope not in network.buffers:
        raise KaizenError(
            f"experiment {experiment_id!r}: its target scope {target.scope!r} is not a buffer "
            f"of the model (expected 'network' or one of {', '.join(network.buffers)})"
        )
    result = compare(
        network,
        [experiment.countermeasure],
        periods=periods,
        replications=replications,
        seed=seed,
        confidence=confidence,
        workers=workers,
        kpis=(target.metric,),
    )
    found = [
        r
        for r in result.table.to_pylist()
        if r["kpi"] == target.metric and r["scope"] == target.scope
    ]
    if not found:  # pragma: no cover - compare returns a row per scope and KPI asked
        raise KaizenError(f"the scenario gave no {target.metric} for {target.scope}")
    row = found[0]
    prediction: dict[str, Any] = {
        "kpi": target.metric,
        "scope": target.scope,
        "unit": row["unit"],
        "baseline": row["baseline"],
        "value": row["value"],
        "difference": row["difference"],
        "pct": row["pct"],
        "ci_low": row["ci_low"],
        "ci_high": row["ci_high"],
        "confidence": confidence,
        "significant": row["significant"],
        "replications": row["replications"],
        "periods": periods,
        "warmup": result.warmup,
        "seed": seed,
        "model": source,
        "note": row["note"],
    }
    when = at or datetime.now(UTC)
    tables.add_prediction(store.con, experiment_id, prediction, at=when)
    if advance and experiment.status == "plan":
        tables.move(
            store.con,
            experiment_id,
            "simulated",
            by=by,
            note=f"predicted on the {source}",
            at=when,
        )
    in_direction: bool | None = None
    if row["significant"] is not None:
        wanted = row["ci_high"] < 0 if target.direction == "decrease" else row["ci_low"] > 0
        in_direction = bool(row["significant"] and wanted)
    out = {**prediction, "in_direction": in_direction}
    return View(
        "kaizen_prediction",
        pa.Table.from_pylist([out]),
        result.notes,
        {"experiment_id": experiment_id, "variant": experiment.countermeasure.name},
    )
