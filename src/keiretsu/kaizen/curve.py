"""The improvement curve: the waste of each period, the kaizen adopted along the way, and what
they gained.

A node that runs the kaizen loop should see its waste fall as experiments are adopted. The
curve shows it, period by period (a week by default):

* **waste per period** — :func:`keiretsu.analytics.waste.wastes` (the one definition of each
  waste) run on the period's slice of the log: the events whose time falls in
  ``[period_start, period_end)``, with their relations and attributes (objects, their
  attributes and object-to-object relations as the whole log holds them). Hours and money per
  waste kind, and the total: the sum of the measurable wastes, less Overproduction's money when
  Inventory's is measurable in the same period (the goods made beyond demand *are* the
  inventory's excess — ``wastes`` says not to add the two). A waste the period's events cannot
  show stays empty, never 0. Anything that crosses a period's edge (a move shipped on Sunday
  and received on Monday, an object's wait spanning both weeks) is seen by neither slice: the
  curve counts the waste *inside* each period.
* **scope** — ``"node"``: this node's own events only; ``"network"``: everything the node sees,
  its own events and those its partners pushed to it (kept under
  ``urn:keiretsu:from:<partner>:``, :mod:`keiretsu.store.received`, as
  :mod:`keiretsu.analytics.chain` reads them).
* **adopted kaizen** — every experiment whose status history reached ``adopted``, marked in the
  period its adoption date falls in (``adopted`` column, and ``meta["adoptions"]``).
* **gain** — with adoption dates t₁ ≤ t₂ ≤ … and periods p₀, p₁, …: period *p* counts as
  *after* adoption *k* when it starts at or after tₖ. The **baseline** B is the mean waste per
  period (money; hours alike) over the periods before the first adoption. The gain of a period
  after the first adoption is B − W(p), its own waste W(p) subtracted from the baseline; the
  **cumulative gain** is the running sum of those gains (the area between the baseline and the
  curve since the first adoption). Per adoption, ``meta["adoptions"]`` gives the change of the
  waste rate at it — the mean per period of the stretch before it (since the previous adoption)
  minus the mean of the stretch after it (until the next) — whose sum over the adoptions is
  B minus the mean of the last stretch; and the latest measured effect kept for it
  (``kaizen_measurement``, in the metric's own unit: the controlled figure, where the curve's
  before/after is not). The curve's gain is a plain before/after reading: a busier period
  wastes more, and anything else that changed at the same time is in it too.

:func:`render_svg` draws the curve as one self-contained SVG (no script): stacked bars of the
waste per kind, the total, the baseline, each adoption marked, and the cumulative gain.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any, Literal

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from keiretsu.analytics.durations import parse_freq
from keiretsu.analytics.log import Log
from keiretsu.analytics.rates import Rates
from keiretsu.analytics.view import View
from keiretsu.analytics.waste import WASTES, wastes
from keiretsu.model import Ocel
from keiretsu.store import Store
from keiretsu.store import kaizen as tables
from keiretsu.store.received import RECEIVED_PREFIX

__all__ = ["Adoption", "adoptions", "improvement_curve", "render_svg"]

Scope = Literal["node", "network"]

# periods are counted from a Monday at midnight UTC (as analytics.flow buckets time): days are
# calendar days (UTC), weeks run Monday to Sunday
_ORIGIN = datetime(1970, 1, 5, tzinfo=UTC)
_TIME = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class Adoption:
    """One adopted kaizen: its id, title, the waste it attacked, when it was adopted, and the
    latest measured effect kept for it (``None``: never measured)."""

    experiment_id: str
    adopted_at: datetime
    title: str = ""
    waste: str | None = None
    measured: Mapping[str, Any] | None = None


def adoptions(source: Store | duckdb.DuckDBPyConnection) -> list[Adoption]:
    """Every experiment of the store that was adopted, in order of adoption: the date of its
    ``adopted`` move (its status history) and its latest measurement."""
    con = source.con if isinstance(source, Store) else source
    found: list[Adoption] = []
    for row in tables.experiments(con).to_pylist():
        if row["status"] != "adopted":
            continue
        eid = row["experiment_id"]
        moved = [r for r in tables.history(con, eid).to_pylist() if r["status"] == "adopted"]
        measured = tables.measurements(con, eid).to_pylist()
        latest = measured[-1] if measured else None
        found.append(
            Adoption(
                experiment_id=eid,
                adopted_at=moved[-1]["moved_at"],
                title=row["title"],
                waste=row["waste"],
                measured=(
                    {
                        k: latest[k]
                        for k in (
                            "metric",
                            "scope",
                            "unit",
                            "method",
                            "effect",
                            "ci_low",
                            "ci_high",
                            "detected",
                            "verdict",
                        )
                    }
                    if latest is not None
                    else None
                ),
            )
        )
    return sorted(found, key=lambda a: (a.adopted_at, a.experiment_id))


def _utc(t: datetime, name: str) -> datetime:
    if t.tzinfo is None:
        raise ValueError(f"{name} {t.isoformat()}: a date needs its time zone (e.g. UTC)")
    return t.astimezone(UTC)


def _bucket_start(t: datetime, length: timedelta) -> datetime:
    n = math.floor((t - _ORIGIN) / length)
    return _ORIGIN + n * length


@dataclass(frozen=True)
class _Tables:
    events: pa.Table  # event_id, activity, time, seq
    relations: pa.Table
    objects: pa.Table
    event_attributes: pa.Table
    object_attributes: pa.Table
    object_relations: pa.Table

    @classmethod
    def of(cls, log: Log, scope: Scope) -> _Tables:
        t = {
            name: log.execute(getattr(log, name))
            for name in (
                "events",
                "relations",
                "objects",
                "event_attributes",
                "object_attributes",
                "object_relations",
            )
        }
        events = t["events"]
        if scope == "node":
            own = pc.invert(pc.starts_with(events.column("event_id"), RECEIVED_PREFIX))
            events = events.filter(own)
        events = events.set_column(
            events.column_names.index("time"), "time", events.column("time").cast(_TIME)
        )
        return cls(
            events=events,
            relations=t["relations"],
            objects=t["objects"],
            event_attributes=t["event_attributes"],
            object_attributes=t["object_attributes"],
            object_relations=t["object_relations"],
        )

    def slice(self, start: datetime, end: datetime) -> Ocel:
        """The period's events (time in [start, end)) with their relations and attributes,
        as an OCEL log in the order the source read them."""
        e = self.events
        mask = pc.and_(
            pc.greater_equal(e.column("time"), pa.scalar(start, _TIME)),
            pc.less(e.column("time"), pa.scalar(end, _TIME)),
        )
        e = e.filter(mask).sort_by([("time", "ascending"), ("seq", "ascending")])
        ids = e.column("event_id")
        rel = self.relations.filter(pc.is_in(self.relations.column("event_id"), ids))
        attrs = self.event_attributes.filter(
            pc.is_in(self.event_attributes.column("event_id"), ids)
        )
        return Ocel(
            events=pa.table(
                {
                    "ocel_id": ids,
                    "ocel_type": e.column("activity"),
                    "ocel_time": e.column("time"),
                }
            ),
            event_objects=pa.table(
                {
                    "ocel_event_id": rel.column("event_id"),
                    "ocel_object_id": rel.column("object_id"),
                    "ocel_qualifier": rel.column("qualifier"),
                    "quantity": rel.column("quantity"),
                    "uom": rel.column("uom"),
                }
            ),
            objects=pa.table(
                {
                    "ocel_id": self.objects.column("object_id"),
                    "ocel_type": self.objects.column("object_type"),
                }
            ),
            event_attributes=pa.table(
                {
                    "ocel_id": attrs.column("event_id"),
                    "ocel_name": attrs.column("name"),
                    "ocel_value": attrs.column("value"),
                    "ocel_value_type": attrs.column("value_type"),
                }
            ),
            object_attributes=pa.table(
                {
                    "ocel_id": self.object_attributes.column("object_id"),
                    "ocel_name": self.object_attributes.column("name"),
                    "ocel_time": self.object_attributes.column("time").cast(_TIME),
                    "ocel_value": self.object_attributes.column("value"),
                    "ocel_value_type": self.object_attributes.column("value_type"),
                }
            ),
            object_objects=pa.table(
                {
                    "ocel_source_id": self.object_relations.column("source_id"),
                    "ocel_target_id": self.object_relations.column("target_id"),
                    "ocel_qualifier": self.object_relations.column("qualifier"),
                }
            ),
        )


def _total(found: Mapping[str, tuple[float | None, float | None]]) -> tuple[float, float]:
    """Total hours and money of one period's wastes (see the module docstring)."""
    hours = sum(h for h, _ in found.values() if h is not None)
    skip_overproduction = found["inventory"][1] is not None
    money = sum(
        m
        for w, (_, m) in found.items()
        if m is not None and not (w == "overproduction" and skip_overproduction)
    )
    return float(hours), float(money)


def _mean(values: Iterable[float | None]) -> float | None:
    xs = [v for v in values if v is not None]
    return sum(xs) / len(xs) if xs else None


def improvement_curve(
    source: Store | Log,
    *,
    freq: str | timedelta = "W",
    rates: Rates | None = None,
    scope: Scope = "node",
    adopted: Sequence[Adoption] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    object_type: str | None = None,
    target_days: float | Mapping[str, float] | None = None,
    value_adding: Collection[str] | None = None,
    inspection_steps: Collection[str] | None = None,
    cycling_types: Collection[str] | None = None,
    end_steps: Collection[str] | None = None,
    max_periods: int = 1000,
) -> View:
    """The waste of each period (``freq``: ``"W"`` a week, ``"D"`` a day, ``"4 weeks"`` …;
    periods start on a Monday at midnight UTC) in hours and money (``rates``, the node's cost
    rates), per waste kind and in total, the kaizen adopted in each period, and the gain since
    the first adoption (see the module docstring for each definition).

    ``source``: a node's :class:`~keiretsu.store.Store` (its log and its adopted experiments)
    or a :class:`~keiretsu.analytics.log.Log` (then ``adopted`` names the adoptions; none by
    default). ``scope``: ``"node"`` (its own events) or ``"network"`` (its own and its
    partners' shared events). ``start``/``end`` (timezone-aware) limit the periods to those
    overlapping ``[start, end)``; by default from the first event's period to the last's. The
    remaining arguments but ``max_periods`` go to :func:`keiretsu.analytics.waste.wastes`
    for every period; more than ``max_periods`` periods are refused (each costs a run of
    the waste view, about a second).

    Columns, one row per period: ``period_start``, ``period_end`` (UTC), ``events``, ``hours``
    and ``money`` (total), ``<waste>_hours`` and ``<waste>_money`` for each of the eight wastes
    (empty where not measurable, or when the period has no events), ``adopted`` (the ids of
    the kaizen adopted in the period), ``gain_hours``, ``gain_money``, ``cumulative_gain_hours``
    and ``cumulative_gain_money`` (empty before the first adoption, and when there is no
    period before it). ``meta``: ``currency``, ``scope``, ``freq`` (seconds), ``baseline_hours``
    and ``baseline_money`` (per period), ``adoptions`` (each with its period and the change of
    the waste rate at it), ``gain_method`` (the definition, in words)."""
    if scope not in ("node", "network"):
        raise ValueError(f"scope {scope!r}: expected 'node' (own events) or 'network'")
    try:
        length = parse_freq(freq)
    except OverflowError as exc:
        raise ValueError(f"bucket length (freq) {freq!r} is too long") from exc
    node_rates = rates or Rates()
    if isinstance(source, Store):
        log = Log.from_connection(source.con)
        if adopted is None:
            adopted = adoptions(source)
    else:
        log = source
    chosen = sorted(adopted or (), key=lambda a: (a.adopted_at, a.experiment_id))
    for a in chosen:
        _utc(a.adopted_at, f"adoption of {a.experiment_id}")
    data = _Tables.of(log, scope)
    times = data.events.column("time")
    notes = [
        f"money in {node_rates.currency}",
        "waste per period: analytics.waste.wastes on the events of the period (time in "
        "[period_start, period_end)); what crosses a period's edge is in neither",
        "total: the measurable wastes' sum, Overproduction's money left out where Inventory's "
        "is measurable (the same goods)",
        "scope: this node's own events"
        if scope == "node"
        else "scope: the network this node sees — its own events and its partners' shared ones",
    ]
    if data.events.num_rows == 0 and (start is None or end is None):
        return _empty_view([*notes, "no events: no periods"], node_rates, scope, length, chosen)
    first = _utc(start, "start") if start is not None else pc.min(times).as_py()
    last = (
        _utc(end, "end") - timedelta(microseconds=1) if end is not None else pc.max(times).as_py()
    )
    if last < first:
        raise ValueError(f"end {last.isoformat()} comes before start {first.isoformat()}")
    try:
        p = _bucket_start(first, length)
        count = math.floor((last - p) / length) + 1
    except OverflowError as exc:
        raise ValueError(f"bucket length (freq) {freq!r} is too long") from exc
    if count > max_periods:
        raise ValueError(
            f"{count} periods of {length} from {first.isoformat()} to {last.isoformat()}: at "
            f"most {max_periods} (each is a run of the waste view); take a longer freq or a "
            "shorter window (start, end)"
        )
    periods = [p + k * length for k in range(count)]

    rows: list[dict[str, Any]] = []
    for p0 in periods:
        p1 = p0 + length
        sliced = data.slice(p0, p1)
        row: dict[str, Any] = {
            "period_start": p0,
            "period_end": p1,
            "events": sliced.num_events,
        }
        if sliced.num_events == 0:
            for w in WASTES:
                row[f"{w}_hours"] = None
                row[f"{w}_money"] = None
            row["hours"] = row["money"] = None
        else:
            view = wastes(
                Log.from_ocel(sliced),
                node_rates,
                object_type,
                target_days,
                value_adding=value_adding,
                inspection_steps=inspection_steps,
                cycling_types=cycling_types,
                end_steps=end_steps,
            )
            found: dict[str, tuple[float | None, float | None]] = {}
            for r in view.to_pylist():
                h = r["hours"] if r["measurable"] else None
                m = r["money"] if r["measurable"] else None
                found[r["waste"]] = (_finite(h), _finite(m))
            for w in WASTES:
                row[f"{w}_hours"], row[f"{w}_money"] = found[w]
            row["hours"], row["money"] = _total(found)
        row["adopted"] = [a.experiment_id for a in chosen if p0 <= a.adopted_at < p1]
        rows.append(row)
    if any(r["events"] == 0 for r in rows):
        notes.append("a period without events has no figures (empty, not 0)")

    # the gain: the baseline before the first adoption minus each later period's waste
    def after(a: Adoption) -> int:
        """Index of the first period starting at or after the adoption."""
        return next((i for i, p0 in enumerate(periods) if p0 >= a.adopted_at), len(periods))

    bounds = [after(a) for a in chosen]
    baseline: dict[str, float | None] = {"hours": None, "money": None}
    for r in rows:
        for col in ("gain_hours", "gain_money", "cumulative_gain_hours", "cumulative_gain_money"):
            r[col] = None
    meta_adoptions: list[dict[str, Any]] = []
    if chosen:
        b1 = bounds[0]
        for what in ("hours", "money"):
            baseline[what] = _mean(r[what] for r in rows[:b1])
        if baseline["money"] is None and baseline["hours"] is None:
            notes.append(
                "gain not measurable — needs periods with events before the first adoption "
                f"({chosen[0].adopted_at.isoformat()})"
            )
        for what in ("hours", "money"):
            base = baseline[what]
            if base is None:
                continue
            running = 0.0
            for r in rows[b1:]:
                if r[what] is not None:
                    r[f"gain_{what}"] = base - r[what]
                    running += base - r[what]
                r[f"cumulative_gain_{what}"] = running
        edges = [0, *bounds, len(periods)]
        for k, a in enumerate(chosen):
            before = rows[edges[k] : edges[k + 1]]
            later = rows[edges[k + 1] : edges[k + 2]]
            change = {}
            for what in ("hours", "money"):
                mb = _mean(r[what] for r in before)
                ma = _mean(r[what] for r in later)
                change[f"rate_change_{what}"] = None if mb is None or ma is None else mb - ma
            meta_adoptions.append(
                {
                    "experiment_id": a.experiment_id,
                    "title": a.title,
                    "waste": a.waste,
                    "adopted_at": a.adopted_at,
                    "period_start": next(
                        (p0 for p0 in periods if p0 <= a.adopted_at < p0 + length), None
                    ),
                    "periods_before": len(before),
                    "periods_after": len(later),
                    **change,
                    "measured": dict(a.measured) if a.measured is not None else None,
                }
            )
        notes.append(
            "gain of a period after the first adoption = the mean waste per period before it "
            "minus the period's waste; cumulative gain = their running sum"
        )
    else:
        notes.append("no kaizen adopted: no gain to show")
    return View(
        "improvement_curve",
        _table(rows),
        tuple(notes),
        {
            "currency": node_rates.currency,
            "scope": scope,
            "freq_seconds": length.total_seconds(),
            "baseline_hours": baseline["hours"],
            "baseline_money": baseline["money"],
            "adoptions": meta_adoptions,
            "gain_method": GAIN_METHOD,
        },
    )


GAIN_METHOD = (
    "baseline = mean waste per period over the periods before the first adoption; gain of each "
    "later period = baseline - its waste; cumulative gain = running sum of the gains. A period "
    "counts as after an adoption when it starts at or after the adoption's date. Per adoption: "
    "the change of the waste rate at it = mean per period of the stretch before it (since the "
    "previous adoption) - mean of the stretch after it (until the next)."
)
"""How the curve's gain is computed, in words (also in the view's meta)."""


def _finite(x: float | None) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return float(x)


def _schema() -> pa.Schema:
    fields = [
        pa.field("period_start", _TIME),
        pa.field("period_end", _TIME),
        pa.field("events", pa.int64()),
        pa.field("hours", pa.float64()),
        pa.field("money", pa.float64()),
    ]
    for w in WASTES:
        fields += [pa.field(f"{w}_hours", pa.float64()), pa.field(f"{w}_money", pa.float64())]
    fields += [
        pa.field("adopted", pa.list_(pa.string())),
        pa.field("gain_hours", pa.float64()),
        pa.field("gain_money", pa.float64()),
        pa.field("cumulative_gain_hours", pa.float64()),
        pa.field("cumulative_gain_money", pa.float64()),
    ]
    return pa.schema(fields)


def _table(rows: list[dict[str, Any]]) -> pa.Table:
    schema = _schema()
    return pa.table({f.name: pa.array([r[f.name] for r in rows], f.type) for f in schema}, schema)


def _empty_view(
    notes: list[str], rates: Rates, scope: Scope, length: timedelta, chosen: Sequence[Adoption]
) -> View:
    return View(
        "improvement_curve",
        _table([]),
        tuple(notes),
        {
            "currency": rates.currency,
            "scope": scope,
            "freq_seconds": length.total_seconds(),
            "baseline_hours": None,
            "baseline_money": None,
            "adoptions": [
                {"experiment_id": a.experiment_id, "title": a.title, "adopted_at": a.adopted_at}
                for a in chosen
            ],
            "gain_method": GAIN_METHOD,
        },
    )


# --- the picture ------------------------------------------------------------------------------

_COLOURS = {
    "transport": "#4e79a7",
    "inventory": "#f28e2b",
    "motion": "#e15759",
    "waiting": "#76b7b2",
    "overproduction": "#59a14f",
    "overprocessing": "#edc948",
    "defects": "#b07aa1",
    "skills": "#9c755f",
}


def _nice(x: float) -> float:
    """A round number at or above ``x`` for an axis's top."""
    if x <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(x))
    for m in (1, 2, 2.5, 5, 10):
        if m * exp >= x:
            return float(m * exp)
    return float(10 * exp)


def _fmt(x: float) -> str:
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:,.4g}"


def render_svg(view: View, *, measure: Literal["money", "hours"] = "money") -> str:
    """The curve as a self-contained SVG (no script, no external file): per period a bar
    stacked by waste kind (``measure``: money or hours), the baseline as a dashed line, each
    adopted kaizen as a vertical marker with its id, and the cumulative gain as a line in a
    panel below. Every bar and marker carries a ``<title>`` (its figures, shown on hover)."""
    if measure not in ("money", "hours"):
        raise ValueError(f"measure {measure!r}: expected 'money' or 'hours'")
    rows = view.to_pylist()
    unit = view.meta.get("currency", "") if measure == "money" else "h"
    width, left, right, top = 760, 70, 20, 40
    chart_h, gap, gain_h, legend_h = 260, 40, 110, 50
    height = top + chart_h + gap + gain_h + legend_h
    plot_w = width - left - right
    n = max(len(rows), 1)
    step = plot_w / n
    bar_w = max(step * 0.7, 1.0)
    top_value = _nice(max([r[measure] or 0.0 for r in rows] + [0.0]))
    baseline = view.meta.get(f"baseline_{measure}")
    if baseline is not None:
        top_value = _nice(max(top_value, baseline))

    def y(v: float) -> float:
        return top + chart_h - chart_h * v / top_value

    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f"<title>Improvement curve ({escape(str(view.meta.get('scope', '')))}): waste "
        f"{measure} per period</title>",
        f'<text x="{left}" y="20" font-size="14" font-weight="bold">Waste per period '
        f"({escape(unit)}) — {escape(str(view.meta.get('scope', '')))}</text>",
        f'<line x1="{left}" y1="{top + chart_h}" x2="{width - right}" y2="{top + chart_h}" '
        'stroke="#333"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + chart_h}" stroke="#333"/>',
    ]
    for i in range(5):
        v = top_value * i / 4
        out.append(
            f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{_fmt(v)}</text>'
            f'<line x1="{left}" y1="{y(v):.1f}" x2="{width - right}" y2="{y(v):.1f}" '
            'stroke="#ddd"/>'
        )
    for i, r in enumerate(rows):
        x = left + i * step + (step - bar_w) / 2
        acc = 0.0
        label = r["period_start"].strftime("%Y-%m-%d")
        for w in WASTES:
            v = r[f"{w}_{measure}"]
            if not v or (measure == "money" and w == "overproduction" and r["inventory_money"]):
                continue
            y1, y0 = y(acc + v), y(acc)
            out.append(
                f'<rect class="bar" x="{x:.1f}" y="{y1:.1f}" width="{bar_w:.1f}" '
                f'height="{max(y0 - y1, 0):.1f}" fill="{_COLOURS[w]}">'
                f"<title>{label} {w}: {_fmt(v)} {escape(unit)}</title></rect>"
            )
            acc += v
        total = r[measure]
        text = "no events" if total is None else _fmt(total)
        out.append(
            f'<text x="{x + bar_w / 2:.1f}" y="{y(acc) - 4:.1f}" text-anchor="middle" '
            f'font-size="9">{text}</text>'
        )
        if n <= 16 or i % math.ceil(n / 16) == 0:
            out.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{top + chart_h + 14}" text-anchor="middle" '
                f'font-size="9">{label}</text>'
            )
    if baseline is not None:
        out.append(
            f'<line class="baseline" x1="{left}" y1="{y(baseline):.1f}" x2="{width - right}" '
            f'y2="{y(baseline):.1f}" stroke="#333" stroke-dasharray="6 4">'
            f"<title>baseline: {_fmt(baseline)} {escape(unit)} per period before the first "
            "adoption</title></line>"
        )
    span = (rows[-1]["period_end"] - rows[0]["period_start"]) if rows else None
    for a in view.meta.get("adoptions", []):
        if not rows or span is None:
            break
        when = a["adopted_at"]
        frac = (when - rows[0]["period_start"]) / span
        if not 0 <= frac <= 1:
            continue
        x = left + plot_w * frac
        out.append(
            f'<g class="adoption"><line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" '
            f'y2="{top + chart_h + gap + gain_h}" stroke="#c00" stroke-width="1.5">'
            f"<title>adopted {escape(a['experiment_id'])} {escape(a.get('title') or '')} "
            f"({when:%Y-%m-%d})</title></line>"
            f'<text x="{x + 3:.1f}" y="{top + 10}" fill="#c00" font-size="9">'
            f"{escape(a['experiment_id'])}</text></g>"
        )
    # the cumulative gain
    g_top = top + chart_h + gap
    gains = [r[f"cumulative_gain_{measure}"] for r in rows]
    values = [g for g in gains if g is not None]
    out.append(
        f'<text x="{left}" y="{g_top - 8}" font-weight="bold">Cumulative gain '
        f"({escape(unit)})</text>"
    )
    if values:
        lo, hi = float(min(0.0, *values)), float(max(0.0, *values))
        spread = (hi - lo) or 1.0

        def gy(v: float) -> float:
            return g_top + gain_h - gain_h * (v - lo) / spread

        out.append(
            f'<line x1="{left}" y1="{gy(0):.1f}" x2="{width - right}" y2="{gy(0):.1f}" '
            'stroke="#999"/>'
        )
        points = [
            f"{left + (i + 0.5) * step:.1f},{gy(g):.1f}"
            for i, g in enumerate(gains)
            if g is not None
        ]
        out.append(
            f'<polyline class="gain" points="{" ".join(points)}" fill="none" '
            'stroke="#2a7" stroke-width="2"/>'
        )
        out.append(
            f'<text x="{width - right}" y="{gy(values[-1]) - 4:.1f}" text-anchor="end">'
            f"{_fmt(values[-1])}</text>"
        )
    else:
        out.append(
            f'<text x="{left}" y="{g_top + 20}" fill="#666">no gain to show (no kaizen adopted, '
            "or no period before the first)</text>"
        )
    ly = height - legend_h + 20
    for i, w in enumerate(WASTES):
        lx = left + i * (plot_w / len(WASTES))
        out.append(
            f'<rect x="{lx:.1f}" y="{ly}" width="10" height="10" fill="{_COLOURS[w]}"/>'
            f'<text x="{lx + 14:.1f}" y="{ly + 9}">{w}</text>'
        )
    out.append("</svg>")
    return "\n".join(out)
