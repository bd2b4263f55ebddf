"""The A3 of an experiment: the one page a lean team reads it on (Shook, *Managing to Learn*).

Its sections, in the order of the page: **background** (why this matters), **current
condition** (the problem, its waste and the evidence the twin shows), **target** (the metric,
which way, how far, and its owner), **root cause**, **countermeasure** (the change to the
twin's model, and the hypothesis), **plan** (the status history: who moved it when),
**results** (predicted by the twin; measured after the change, when a measurement is handed
in), and **what to standardize and share**.

What the team writes by hand (background, root cause, plan, results, standardize) comes from
the experiment's notes (:func:`keiretsu.kaizen.experiment.write`); a section nobody wrote yet
says so rather than staying blank. Only aggregates appear on the page (counts of the evidence,
the first few ids, figures): what may one day be shared with partners.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from keiretsu.kaizen.check import measured as kept_measurement
from keiretsu.kaizen.experiment import Experiment
from keiretsu.store import Store

__all__ = ["a3", "render_a3"]

NOT_WRITTEN = "not written yet"
SHOWN_IDS = 5
"""How many ids of each kind of evidence the page names (the counts are all there)."""


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _plain(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _iso(v) for k, v in row.items()}


def a3(
    experiment: Experiment,
    measured: Mapping[str, Any] | None = None,
    *,
    store: Store | None = None,
) -> dict[str, Any]:
    """The experiment's A3 as a JSON-ready dictionary: ``experiment_id``, ``title``, ``owner``,
    ``status`` and the sections ``background``, ``current_condition``, ``target``,
    ``root_cause``, ``countermeasure``, ``plan``, ``results``, ``standardize``.

    ``measured``: the measured effect after the change (a dictionary of figures, as the
    measurement gives it), shown under results beside the prediction; when none is handed in
    and ``store`` is, the newest measurement kept there (:func:`keiretsu.kaizen.check.check`)."""
    if measured is None and store is not None:
        measured = kept_measurement(store, experiment.experiment_id)
    s = experiment.sections
    ev = experiment.evidence
    predictions = [_plain(r) for r in experiment.predictions.to_pylist()]
    latest = predictions[-1] if predictions else None
    t = experiment.target
    return {
        "experiment_id": experiment.experiment_id,
        "title": experiment.title,
        "owner": experiment.owner,
        "status": experiment.status,
        "status_at": _iso(experiment.status_at),
        "background": s.get("background", NOT_WRITTEN),
        "current_condition": {
            "problem": experiment.problem,
            "waste": experiment.waste,
            "evidence": {
                "steps": len(ev.steps),
                "objects": len(ev.objects),
                "events": len(ev.events),
                "locations": len(ev.locations),
                "first_steps": list(ev.steps[:SHOWN_IDS]),
                "first_objects": list(ev.objects[:SHOWN_IDS]),
                "first_events": list(ev.events[:SHOWN_IDS]),
                "first_locations": list(ev.locations[:SHOWN_IDS]),
            },
            "baseline": None if latest is None else latest["baseline"],
            "baseline_note": (
                "not measurable — needs a prediction (the twin's baseline)"
                if latest is None
                else None
            ),
        },
        "target": {
            "metric": t.metric,
            "scope": t.scope,
            "direction": t.direction,
            "value": t.value,
            "unit": t.unit,
            "owner": experiment.owner,
        },
        "root_cause": s.get("root_cause", NOT_WRITTEN),
        "countermeasure": {
            "kind": experiment.kind,
            "variant": experiment.countermeasure.name,
            "changes": dict(experiment.countermeasure.changes),
            "hypothesis": experiment.hypothesis,
        },
        "plan": {
            "text": s.get("plan", NOT_WRITTEN),
            "history": [_plain(r) for r in experiment.history.to_pylist()],
        },
        "results": {
            "text": s.get("results", NOT_WRITTEN),
            "predicted": latest,
            "predictions": len(predictions),
            "measured": _plain(measured) if measured is not None else None,
        },
        "standardize": s.get("standardize", NOT_WRITTEN),
    }


def _num(x: Any, digits: int = 3) -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:.{digits}g}"
    return str(x)


def render_a3(page: Mapping[str, Any] | Experiment, *, store: Store | None = None) -> str:
    """The A3 as Markdown (an :class:`Experiment` — with its kept measurement when ``store`` is
    given — or the dictionary :func:`a3` gives)."""
    d = a3(page, store=store) if isinstance(page, Experiment) else page
    cc, tg, cm, pl, rs = (
        d["current_condition"],
        d["target"],
        d["countermeasure"],
        d["plan"],
        d["results"],
    )
    ev = cc["evidence"]
    lines = [
        f"# A3 — {d['title']}",
        "",
        f"Experiment `{d['experiment_id']}` · owner {d['owner']} · status **{d['status']}** "
        f"since {d['status_at']}",
        "",
        "## Background",
        "",
        str(d["background"]),
        "",
        "## Current condition",
        "",
        f"- Problem: {cc['problem']}",
        f"- Waste: {cc['waste'] or '—'}",
        f"- Evidence: {ev['steps']} steps, {ev['objects']} objects, {ev['events']} events, "
        f"{ev['locations']} locations"
        + (f" (steps: {', '.join(ev['first_steps'])})" if ev["first_steps"] else "")
        + (f" (locations: {', '.join(ev['first_locations'])})" if ev["first_locations"] else ""),
        f"- Baseline {tg['metric']} at {tg['scope']}: "
        + (_num(cc["baseline"]) if cc["baseline"] is not None else str(cc["baseline_note"])),
        "",
        "## Target",
        "",
        f"{tg['direction'].capitalize()} {tg['metric']} at {tg['scope']}"
        + (
            f" to {_num(tg['value'])} {tg['unit'] or ''}".rstrip()
            if tg["value"] is not None
            else ""
        )
        + f" (owner: {tg['owner']})",
        "",
        "## Root cause",
        "",
        str(d["root_cause"]),
        "",
        "## Countermeasure",
        "",
        f"- Kind: {cm['kind']}; variant `{cm['variant']}`",
        *(f"- `{k}` = {v!r}" for k, v in cm["changes"].items()),
        f"- Hypothesis: {cm['hypothesis']}",
        "",
        "## Plan",
        "",
        str(pl["text"]),
        "",
        "| # | status | at | by | note |",
        "|---|---|---|---|---|",
        *(
            f"| {h['seq']} | {h['status']} | {h['moved_at']} | {h['moved_by']} "
            f"| {h['note'] or ''} |"
            for h in pl["history"]
        ),
        "",
        "## Results",
        "",
        str(rs["text"]),
        "",
    ]
    p = rs["predicted"]
    if p is None:
        lines.append("- Predicted: not measurable — needs a prediction (kaizen.predict)")
    else:
        interval = (
            f"[{_num(p['ci_low'])}, {_num(p['ci_high'])}]"
            if p["ci_low"] is not None
            else "interval not measurable"
        )
        lines.append(
            f"- Predicted ({p['model']}, {p['replications']} paired replications of "
            f"{p['periods']} periods): {p['kpi']} at {p['scope']} changes by "
            f"{_num(p['difference'])} {p['unit'] or ''}, {p['confidence']:.0%} interval "
            f"{interval}"
            + (f" ({_num(p['pct'])}% of the baseline)" if p["pct"] is not None else "")
        )
    m = rs["measured"]
    if m is None:
        lines.append("- Measured: not measurable — needs the events after the change")
    elif "verdict" in m and "method" in m:  # a kept measurement (kaizen.check)
        lines.append(
            f"- Measured ({m['method']}, {m.get('metric')} at {m.get('scope')}, change at "
            f"{m.get('change_at')}): {m['verdict']}; the naive before/after difference "
            f"{_num(m.get('naive_effect'))} {m.get('unit') or ''}".rstrip()
        )
    else:
        lines.append("- Measured: " + ", ".join(f"{k} {_num(v)}" for k, v in m.items()))
    lines += ["", "## Standardize and share", "", str(d["standardize"]), ""]
    return "\n".join(lines)
