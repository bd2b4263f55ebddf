"""The value stream map: process boxes with their process time, the inventory waiting between
them, and the lead-time ladder of waiting and value-added time — as data and as an SVG drawing.

How each figure is computed, for the objects of one type (for XES logs: the cases):

- **Steps** are the activities most objects pass through (at least ``min_share`` of them, at most
  ``max_steps``), drawn in the order objects usually meet them (the median of the position where
  each object first reaches the step). Or the steps you name.
- **Process time** (P/T, the value-added time of one visit):
  with start/complete lifecycle events (XES ``lifecycle:transition``), the mean time from a
  start to its complete (the k-th start of an activity on an object pairs with its k-th
  complete); else, for the steps you mark as value-adding, the mean time from the object's
  previous event to the step's event; otherwise it is unknown and drawn as "—".
- **Waiting before a step** (W/T): the mean time from the object's previous event to the step's
  start (lifecycle logs) or to the step's event (other logs, steps not marked value-adding).
- **Inventory before a step**: the mean number of objects waiting for it, by Little's law —
  arrivals per day x waiting days.
- **The ladder's totals**: lead time = the sum of waiting and process times along the steps drawn;
  value-added time = the sum of process times; flow efficiency = value-added / lead time. The
  measured mean lead time per object (first to last event) is given beside them: it differs when
  objects loop, skip steps or pass steps not drawn.
"""

from __future__ import annotations

import html
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import ibis
import pyarrow as pa

from keiretsu.analytics.durations import duration
from keiretsu.analytics.log import Log
from keiretsu.analytics.traces import object_events, seconds_between
from keiretsu.analytics.view import View

LIFECYCLE = "lifecycle:transition"


@dataclass(frozen=True)
class ValueStreamMap:
    """A value stream map of one object type: ``steps`` (a :class:`View`: one row per process
    box, in flow order) and the ladder's totals. ``to_svg()`` draws it."""

    object_type: str
    steps: View
    lead_seconds: float | None
    value_added_seconds: float | None
    flow_efficiency: float | None
    measured_lead_seconds: float | None
    objects: int
    notes: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dictionary of the map (what ``keiretsu analyze --json`` prints)."""
        return {
            "view": "value_stream_map",
            "object_type": self.object_type,
            "objects": self.objects,
            "lead_seconds": self.lead_seconds,
            "value_added_seconds": self.value_added_seconds,
            "flow_efficiency": self.flow_efficiency,
            "measured_lead_seconds": self.measured_lead_seconds,
            "notes": list(self.notes),
            "steps": self.steps.to_json()["rows"],
        }

    def to_svg(self, title: str | None = None) -> str:
        """The map as a standalone SVG document (no scripts, no external resources)."""
        return _draw(self, title or f"Value stream — {self.object_type}")


def value_stream_map(
    log: Log,
    object_type: str,
    *,
    value_adding: Collection[str] | None = None,
    steps: Sequence[str] | None = None,
    min_share: float = 0.05,
    max_steps: int = 10,
) -> ValueStreamMap:
    """The value stream map of the objects of ``object_type`` (see the module docstring for how
    every figure is computed). ``value_adding`` names the steps whose time counts as
    processing in a log without start/complete events; ``steps`` fixes the boxes drawn."""
    oe = object_events(log, object_type)
    lifecycle = log.event_attribute(LIFECYCLE).select("event_id", transition=ibis._.value.lower())
    oe = oe.left_join(lifecycle, "event_id").select(
        "object_id", "object_type", "event_id", "activity", "time", "seq", "transition"
    )
    w = ibis.window(group_by=["object_type", "object_id"], order_by=["time", "seq"])
    oe = oe.mutate(position=ibis.row_number().over(w), prev_time=oe.time.lag().over(w))
    oe = oe.mutate(gap=seconds_between(oe.prev_time, oe.time))

    totals = log.execute(
        oe.aggregate(
            objects=oe.object_id.nunique(),
            first=oe.time.min(),
            last=oe.time.max(),
        )
    ).to_pylist()[0]
    n_objects = int(totals["objects"] or 0)
    if n_objects == 0:
        raise ValueError(f"no objects of type {object_type!r} in this log")
    span_seconds = max((totals["last"] - totals["first"]).total_seconds(), 1.0)

    # the step visits: a start (lifecycle logs, activities that have starts) or the event itself
    started = oe.filter(oe.transition == "start").select("activity").distinct()
    started_acts = set(log.execute(started).column("activity").to_pylist())
    has_lifecycle = bool(started_acts)
    visit = oe.filter(
        (oe.transition == "start")
        | ~oe.activity.isin(list(started_acts) or [""])  # activities with no start: every event
    )
    # schedule/complete events of started activities are not visits
    per_step = visit.group_by("activity").agg(
        visits=visit.count(),
        objects=visit.object_id.nunique(),
        mean_gap=visit.gap.mean(),
    )
    firsts = oe.group_by(["object_id", "activity"]).agg(first_position=oe.position.min())
    order = firsts.group_by("activity").agg(
        order_key=firsts.first_position.cast("float64").quantile(0.5)
    )
    table = log.execute(per_step.join(order, "activity").order_by(["order_key", "activity"]))

    process: dict[str, float] = {}
    if started_acts:
        s = oe.filter(oe.transition == "start")
        c = oe.filter(oe.transition == "complete")
        k = ibis.window(group_by=["object_id", "activity"], order_by=["time", "seq"])
        s = s.select("object_id", "activity", start=s.time, k=ibis.row_number().over(k))
        c = c.select("object_id", "activity", end=c.time, k=ibis.row_number().over(k))
        pairs = s.join(c, ["object_id", "activity", "k"])
        pairs = pairs.mutate(seconds=seconds_between(pairs.start, pairs.end))
        got = log.execute(pairs.group_by("activity").agg(p=pairs.seconds.mean()))
        process = dict(
            zip(got.column("activity").to_pylist(), got.column("p").to_pylist(), strict=True)
        )
    marked = set(value_adding or ())

    rows = table.to_pylist()
    by_name = {r["activity"]: r for r in rows}
    if steps is not None:
        missing = [s for s in steps if s not in by_name]
        if missing:
            raise ValueError(f"no step {missing[0]!r} among the activities of {object_type!r}")
        chosen = [by_name[s] for s in steps]
    else:
        common = [r for r in rows if r["objects"] >= min_share * n_objects]
        keep = {r["activity"] for r in sorted(common, key=lambda r: -r["objects"])[:max_steps]}
        chosen = [r for r in rows if r["activity"] in keep]

    out = []
    for i, r in enumerate(chosen):
        name = r["activity"]
        gap = r["mean_gap"]
        if name in started_acts:
            p_t: float | None = process.get(name)
            wait = gap
            rule = "start→complete"
        elif name in marked:
            p_t, wait, rule = gap, 0.0, "value-adding (marked)"
        elif has_lifecycle:
            p_t, wait, rule = 0.0, gap, "instant (no start event)"
        else:
            p_t, wait, rule = None, gap, "unknown"
        wait = wait or 0.0  # the first step of every object has no time before it
        arrivals_per_second = r["visits"] / span_seconds
        out.append(
            {
                "step": name,
                "position": i + 1,
                "objects": int(r["objects"]),
                "visits": int(r["visits"]),
                "process_seconds": p_t,
                "wait_before_seconds": wait,
                "inventory_before": arrivals_per_second * wait,
                "process_time_rule": rule,
            }
        )
    lead_expr = oe.group_by("object_id").agg(lead=seconds_between(oe.time.min(), oe.time.max()))
    measured = log.scalar(lead_expr.lead.mean())

    known = [o["process_seconds"] for o in out if o["process_seconds"] is not None]
    value_added = sum(known) if known else None
    lead = sum(o["wait_before_seconds"] for o in out) + (value_added or 0.0)
    efficiency = value_added / lead if value_added is not None and lead > 0 else None
    notes = [
        "process time from start/complete lifecycle events"
        if started_acts
        else "process time of the steps marked value-adding: the time from the previous event"
        if marked
        else "process time unknown: the log has no start/complete events and no step is marked "
        "value-adding (mark them with --value-adding)",
        "inventory before a step by Little's law: arrivals per day x mean waiting days",
    ]
    schema = pa.schema(
        [
            ("step", pa.string()),
            ("position", pa.int64()),
            ("objects", pa.int64()),
            ("visits", pa.int64()),
            ("process_seconds", pa.float64()),
            ("wait_before_seconds", pa.float64()),
            ("inventory_before", pa.float64()),
            ("process_time_rule", pa.string()),
        ]
    )
    view = View("value_stream_map", pa.Table.from_pylist(out, schema), tuple(notes))
    return ValueStreamMap(
        object_type=object_type,
        steps=view,
        lead_seconds=lead if out else None,
        value_added_seconds=value_added,
        flow_efficiency=efficiency,
        measured_lead_seconds=float(measured) if measured is not None else None,
        objects=n_objects,
        notes=tuple(notes),
    )


# --- drawing -------------------------------------------------------------------------------------


_BOX_W, _GAP, _MARGIN = 150, 70, 30


def _draw(vsm: ValueStreamMap, title: str) -> str:
    rows = vsm.steps.to_pylist()
    n = max(len(rows), 1)
    width = _MARGIN * 2 + n * _BOX_W + (n - 1) * _GAP + _GAP + 190
    height = 400
    e = html.escape
    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" '
        'font-size="12">',
        f"<title>{e(title)}</title>",
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{_MARGIN}" y="28" font-size="17" font-weight="bold">{e(title)}</text>',
        f'<text x="{_MARGIN}" y="46" fill="#555">{vsm.objects:,} objects of type '
        f"{e(vsm.object_type)}; mean times per visit</text>",
    ]
    top, box_h, data_h = 90, 44, 62
    ladder_y = 300
    x = _MARGIN
    ladder = [(x, ladder_y)]
    for i, r in enumerate(rows):
        if i > 0 or r["wait_before_seconds"]:
            # the inventory triangle in the gap before the box
            tx = x - _GAP / 2 if i > 0 else x - 2
            if i > 0:
                out.append(
                    f'<polygon points="{tx - 16},{top + 40} {tx + 16},{top + 40} {tx},{top + 12}" '
                    'fill="#fde68a" stroke="#b45309"/>'
                    f'<text x="{tx}" y="{top + 36}" text-anchor="middle" '
                    'font-weight="bold">I</text>'
                    f'<text x="{tx}" y="{top + 56}" text-anchor="middle">'
                    f"{r['inventory_before']:,.1f}</text>"
                    f'<text x="{tx}" y="{top + 70}" text-anchor="middle" fill="#555">'
                    f"{e(duration(r['wait_before_seconds']))}</text>"
                    f'<line x1="{x - _GAP + 4}" y1="{top + box_h / 2}" x2="{tx - 18}" '
                    f'y2="{top + box_h / 2}" stroke="#999" stroke-dasharray="4 3"/>'
                )
        name = r["step"] if len(r["step"]) <= 24 else r["step"][:23] + "…"
        size = 12 if len(name) <= 17 else 10
        out.append(
            f"<g><title>{e(r['step'])}</title>"
            f'<rect x="{x}" y="{top}" width="{_BOX_W}" height="{box_h}" fill="#dbeafe" '
            'stroke="#1e3a8a" stroke-width="1.5"/>'
            f'<text x="{x + _BOX_W / 2}" y="{top + 27}" text-anchor="middle" '
            f'font-size="{size}" font-weight="bold">{e(name)}</text></g>'
            f'<rect x="{x}" y="{top + box_h}" width="{_BOX_W}" height="{data_h}" fill="white" '
            'stroke="#1e3a8a"/>'
            f'<text x="{x + 8}" y="{top + box_h + 18}">P/T {e(duration(r["process_seconds"]))}'
            "</text>"
            f'<text x="{x + 8}" y="{top + box_h + 34}">objects {r["objects"]:,}</text>'
            f'<text x="{x + 8}" y="{top + box_h + 50}">visits {r["visits"]:,}</text>'
        )
        # the ladder: waiting up (before the box), processing down (under the box)
        wait_x = x
        out.append(
            f'<line x1="{ladder[-1][0]}" y1="{ladder_y - 30}" x2="{wait_x}" y2="{ladder_y - 30}" '
            'stroke="#b91c1c" stroke-width="2"/>'
        )
        if i > 0:
            mid = (ladder[-1][0] + wait_x) / 2
            out.append(
                f'<text x="{mid}" y="{ladder_y - 36}" text-anchor="middle" fill="#b91c1c">'
                f"{e(duration(r['wait_before_seconds']))}</text>"
            )
        out.append(
            f'<line x1="{wait_x}" y1="{ladder_y - 30}" x2="{wait_x}" y2="{ladder_y}" '
            'stroke="#555"/>'
            f'<line x1="{wait_x}" y1="{ladder_y}" x2="{wait_x + _BOX_W}" y2="{ladder_y}" '
            'stroke="#15803d" stroke-width="2"/>'
            f'<text x="{wait_x + _BOX_W / 2}" y="{ladder_y + 16}" text-anchor="middle" '
            f'fill="#15803d">{e(duration(r["process_seconds"]))}</text>'
            f'<line x1="{wait_x + _BOX_W}" y1="{ladder_y}" x2="{wait_x + _BOX_W}" '
            f'y2="{ladder_y - 30}" stroke="#555"/>'
        )
        ladder.append((wait_x + _BOX_W, ladder_y))
        x += _BOX_W + _GAP
    # totals box
    bx = x - _GAP + 30
    eff = vsm.flow_efficiency
    lines = [
        ("Lead time", duration(vsm.lead_seconds)),
        ("Value-added", duration(vsm.value_added_seconds)),
        ("Flow efficiency", "—" if eff is None else f"{eff:.1%}"),
        ("Measured lead", duration(vsm.measured_lead_seconds)),
    ]
    out.append(
        f'<rect x="{bx}" y="{ladder_y - 70}" width="170" height="100" fill="#f8fafc" '
        'stroke="#334155"/>'
    )
    for j, (k, v) in enumerate(lines):
        out.append(
            f'<text x="{bx + 8}" y="{ladder_y - 50 + j * 22}">{e(k)}: '
            f'<tspan font-weight="bold">{e(v)}</tspan></text>'
        )
    note_y = ladder_y + 50
    for j, note in enumerate(vsm.notes[:2]):
        out.append(
            f'<text x="{_MARGIN}" y="{note_y + j * 16}" fill="#555" font-size="11">{e(note)}</text>'
        )
    out.append("</svg>")
    return "\n".join(out)
