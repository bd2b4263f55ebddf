"""What each obeya page shows, taken from the twin's views: every figure comes from
:mod:`keiretsu.analytics` (or :mod:`keiretsu.kaizen`, :mod:`keiretsu.store`) exactly as the CLI
and ``/twin/views`` get it; this module only picks, groups and labels rows for the templates
and the charts. Nothing here computes a metric of its own.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from keiretsu.analytics.view import View
from keiretsu.model.gs1 import CANONICAL_DOMAIN

if TYPE_CHECKING:  # the views (and Ibis) are imported by the pages that run them
    from keiretsu.analytics import Log


def plain(value: Any) -> Any:
    """A value as JSON can carry it (times as ISO 8601, NaN as null)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def short(identifier: Any) -> str:
    """A readable label for a long identifier: the last part of a GS1 Digital Link or URN
    (``https://id.gs1.org/414/4012345000009`` → ``414/4012345000009``)."""
    text = str(identifier)
    if text.startswith(CANONICAL_DOMAIN + "/"):
        return text[len(CANONICAL_DOMAIN) + 1 :]
    if text.startswith("urn:epc:id:"):
        return text[len("urn:epc:id:") :]
    return text


def table(view: View, limit: int | None = None) -> dict[str, Any]:
    """A view as the templates show it: its columns, rows (at most ``limit``), notes."""
    shown = view.table if limit is None else view.table.slice(0, limit)
    return {
        "name": view.name,
        "columns": list(view.table.schema.names),
        "rows": [plain(r) for r in shown.to_pylist()],
        "total": view.num_rows,
        "notes": list(view.notes),
    }


def main_type(log: Log) -> str:
    from keiretsu.analytics.report import main_object_type

    return main_object_type(log)


def _wastes(log: Log) -> View:
    """``waste.wastes(log)``, once per log for every page that shows it."""
    from keiretsu.analytics import waste

    return log.memo(("obeya", "wastes"), lambda: waste.wastes(log))


# --- overview: the network map --------------------------------------------------------------


def _colour(share: float) -> str:
    """Green (no waste) through amber to red (the most), for a share in 0..1."""
    share = min(max(share, 0.0), 1.0)
    stops = [(0.0, (46, 125, 50)), (0.5, (249, 168, 37)), (1.0, (198, 40, 40))]
    for (x0, c0), (x1, c1) in itertools.pairwise(stops):
        if share <= x1:
            t = (share - x0) / (x1 - x0)
            rgb = [round(a + (b - a) * t) for a, b in zip(c0, c1, strict=True)]
            return "#{:02x}{:02x}{:02x}".format(*rgb)
    return "#c62828"


def overview(log: Log, *, node: str, partners: Sequence[str]) -> dict[str, Any]:
    """The network map: the companies whose events this node holds (``chain.provenance``),
    its partners, and the lanes goods travel between sites — each lane with its moves, hours
    in transit and what Transport waste costs on it (``waste.waste_evidence('transport')``),
    coloured by that cost; the waste Pareto beside it."""
    from keiretsu.analytics import chain, waste

    provenance = chain.provenance(log, local=node)
    companies = [plain(r) for r in provenance.to_pylist()]
    transport = waste.waste_evidence(log, "transport")
    lanes: dict[tuple[str, str], dict[str, Any]] = {}
    for r in transport.to_pylist():
        key = (str(r["from_location"]), str(r["to_location"]))
        lane = lanes.setdefault(
            key, {"source": key[0], "target": key[1], "moves": 0, "hours": 0.0, "money": 0.0}
        )
        lane["moves"] += 1
        lane["hours"] += r["hours"] or 0.0
        lane["money"] += r["money"] or 0.0
    top = max((lane["money"] for lane in lanes.values()), default=0.0)
    for lane in lanes.values():
        lane["mean_hours"] = lane["hours"] / lane["moves"] if lane["moves"] else None
        lane["colour"] = _colour(lane["money"] / top if top > 0 else 0.0)
    sites = sorted({s for key in lanes for s in key})
    names = sorted({c["node"] for c in companies} | {node} | set(partners))
    graph_nodes = [
        {
            "id": f"company:{n}",
            "name": n,
            "category": 0,
            "label": n + (" (this node)" if n == node else ""),
        }
        for n in names
    ] + [{"id": f"site:{s}", "name": short(s), "category": 1, "label": short(s)} for s in sites]
    graph_links = [
        {"source": f"company:{node}", "target": f"company:{p}", "label": "partner"}
        for p in sorted(partners)
        if p != node
    ] + [
        {
            "source": f"site:{lane['source']}",
            "target": f"site:{lane['target']}",
            "label": f"{lane['moves']} moves · {lane['mean_hours']:.1f} h each",
            "colour": lane["colour"],
            "money": lane["money"],
        }
        for lane in lanes.values()
    ]
    wastes = _wastes(log)
    pareto = waste.pareto(wastes)
    return {
        "companies": companies,
        "partners": sorted(partners),
        "lanes": [plain(lane) for lane in lanes.values()],
        "graph": {"nodes": graph_nodes, "links": graph_links},
        "transport_notes": list(transport.notes),
        "pareto": table(pareto),
        "currency": wastes.meta.get("currency", ""),
    }


# --- value stream and process maps ----------------------------------------------------------


def value_stream(log: Log, object_type: str) -> dict[str, Any]:
    """The end-to-end value stream map of ``object_type`` (``vsm.value_stream_map``): its
    SVG drawing and its figures."""
    from keiretsu.analytics import vsm

    m = vsm.value_stream_map(log, object_type)
    return {
        "svg": m.to_svg(),
        "flow_efficiency": m.flow_efficiency,
        "takt_seconds": m.takt_seconds,
        "json": plain(m.to_json()),
    }


def process(log: Log, object_type: str) -> dict[str, Any]:
    """The process map of ``object_type`` (``process_map.ocdfg``): steps with their events
    and objects, arrows with their frequencies and durations."""
    from keiretsu.analytics import process_map

    pm = process_map.ocdfg(log, object_type)
    edges = [plain(r) for r in pm.edges.to_pylist() if r["object_type"] == object_type]
    activities = [plain(r) for r in pm.activities.to_pylist() if r["object_type"] == object_type]
    start_end = [plain(r) for r in pm.start_end.to_pylist() if r["object_type"] == object_type]
    return {
        "edges": edges,
        "activities": activities,
        "start_end": start_end,
        "notes": [*pm.edges.notes, *pm.activities.notes],
        "graph": {
            "nodes": [
                {"id": a["activity"], "name": a["activity"], "value": a["events"]}
                for a in activities
            ],
            "links": [
                {
                    "source": e["activity"],
                    "target": e["next_activity"],
                    "value": e["frequency"],
                    "label": f"{e['frequency']}× · {_duration(e['median_seconds'])}",
                }
                for e in edges
            ],
        },
    }


def _duration(seconds: Any) -> str:
    from keiretsu.analytics.durations import duration

    return duration(None if seconds is None else float(seconds))


# --- waste --------------------------------------------------------------------------------


def wastes(log: Log) -> dict[str, Any]:
    """The eight wastes (``waste.wastes``) and their Pareto (``waste.pareto``)."""
    from keiretsu.analytics import waste

    w = _wastes(log)
    return {
        "wastes": table(w),
        "pareto": table(waste.pareto(w)),
        "currency": w.meta.get("currency", ""),
    }


def evidence(log: Log, name: str, limit: int = 500) -> dict[str, Any]:
    """The rows behind one waste (``waste.waste_evidence``)."""
    from keiretsu.analytics import waste

    v = waste.waste_evidence(log, name)
    return {"waste": name, "evidence": table(v, limit), "meta": plain(v.meta)}


def trace(log: Log, object_id: str, *, node: str) -> dict[str, Any] | None:
    """An object's path across companies (``chain.object_path``), or None if unknown."""
    from keiretsu.analytics import chain

    found = chain.resolve_object(log, object_id)
    if found is None:
        return None
    path = chain.object_path(log, found, local=node)
    return {"object": found, "path": table(path)}


# --- inventory and bullwhip ---------------------------------------------------------------


STOCK_BUCKETS = (("1h", 3_600.0), ("8h", 28_800.0), ("1d", 86_400.0), ("1w", 604_800.0))
"""The buckets the stock chart may use, finest first (``inventory.stock_levels``' ``freq``)."""

STOCK_POINTS = 400
"""At most about this many points per site and product on the stock chart."""


def stock_bucket(first: datetime | None, last: datetime | None) -> str:
    """The finest bucket that draws the log's span (``first`` to ``last`` event) in at most
    :data:`STOCK_POINTS` points a series: a year of a million events is ~1,000 stock points
    per day, far more than a chart shows or a browser takes in one page."""
    span = 0.0 if first is None or last is None else (last - first).total_seconds()
    for freq, seconds in STOCK_BUCKETS:
        if span / seconds <= STOCK_POINTS:
            return freq
    return STOCK_BUCKETS[-1][0]


def inventory(log: Log) -> dict[str, Any]:
    """Stock on hand per site and product at the end of each hour, 8 hours, day or week —
    the finest that keeps a series within :data:`STOCK_POINTS` points
    (``inventory.stock_levels``) — and the bullwhip ratio per echelon (``bullwhip.bullwhip``)."""
    from keiretsu.analytics import bullwhip, inventory

    e = log.events
    span = log.execute(e.aggregate(first=e.time.min(), last=e.time.max())).to_pylist()[0]
    freq = stock_bucket(span["first"], span["last"])
    levels = inventory.stock_levels(log, freq=freq)
    series: dict[str, list[list[Any]]] = {}
    for r in levels.to_pylist():
        key = f"{short(r['location'])} · {short(r['product'])}"
        series.setdefault(key, []).append([plain(r["time"]), r["quantity"]])
    bw = bullwhip.bullwhip(log)
    rows = [plain(r) for r in bw.to_pylist()]
    return {
        "freq": freq,
        "levels": table(levels, 200),
        "series": [{"name": k, "data": v} for k, v in series.items()],
        "bullwhip": {**table(bw), "meta": plain(bw.meta)},
        "echelons": [
            {
                "name": short(r["echelon"]),
                "orders_variance": r["orders_variance"],
                "demand_variance": r["demand_variance"],
                "bullwhip": r["bullwhip"],
            }
            for r in rows
        ],
    }
