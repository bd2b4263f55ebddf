"""The morning report as a terminal reader sees it: Rich tables of the views that matter most,
each with the few rows worth reading and the notes that say how it was computed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from keiretsu.analytics.durations import duration
from keiretsu.analytics.report import Report
from keiretsu.analytics.view import View


def _table(title: str, columns: list[tuple[str, str]], caption: str | None = None) -> Table:
    table = Table(title=title, title_justify="left", caption=caption, caption_justify="left")
    for name, justify in columns:
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    return table


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _num(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _notes(view: View, limit: int = 2) -> str | None:
    return "\n".join(view.notes[:limit]) if view.notes else None


def render(report: Report, *, top: int = 8) -> Iterator[RenderableType]:
    """The report's sections, in reading order."""
    v = report.views
    followed = report.object_type
    yield Text.from_markup(
        f"[bold]Following the objects of type [cyan]{followed}[/][/] "
        f"(object types in the log: {', '.join(report.object_types)}; "
        "choose with --object-type)"
    )

    yield _customer_table(v["customer_demand"], top)

    # process map: the busiest arrows of the followed type
    edges = [r for r in v["process_map"].to_pylist() if r["object_type"] == followed]
    edges.sort(key=lambda r: (-r["frequency"], r["activity"], r["next_activity"]))
    t = _table(
        f"Process map — {followed}: the {min(top, len(edges))} busiest of {len(edges)} arrows",
        [
            ("from", "left"),
            ("to", "left"),
            ("times", "right"),
            ("objects", "right"),
            ("median", "right"),
            ("p90", "right"),
        ],
    )
    for r in edges[:top]:
        t.add_row(
            r["activity"],
            r["next_activity"],
            f"{r['frequency']:,}",
            f"{r['objects']:,}",
            duration(r["median_seconds"]),
            duration(r["p90_seconds"]),
        )
    yield t

    variants = v["variants"].to_pylist()
    t = _table(
        f"Variants — {followed}: {len(variants):,} paths",
        [("objects", "right"), ("share", "right"), ("path", "left")],
    )
    for r in variants[: min(top, 5)]:
        path = r.get("variant_text") or " → ".join(r.get("variant") or [])
        if len(path) > 110:
            path = path[:109] + "…"
        t.add_row(f"{r['frequency']:,}", _pct(r.get("share")), path)
    yield t

    # where time goes
    glance = v["object_times"].meta
    summary = Table.grid(padding=(0, 2))
    summary.add_row("objects", f"{glance['objects']:,}")
    if glance["lead_seconds_median"] is not None:
        summary.add_row("lead time, median", duration(glance["lead_seconds_median"]))
        summary.add_row("lead time, mean", duration(glance["lead_seconds_mean"]))
    summary.add_row("processing time, mean", duration(glance["processing_seconds_mean"]))
    summary.add_row("flow efficiency, mean", _pct(glance["flow_efficiency_mean"]))
    yield Panel(
        Group(summary, Text(_notes(v["object_times"], 3) or "", style="dim")),
        title=f"Where time goes — {followed}",
        title_align="left",
    )

    steps = sorted(v["step_stats"].to_pylist(), key=lambda r: -(r["arrivals"] or 0))
    t = _table(
        f"Steps — {followed}",
        [
            ("step", "left"),
            ("arrivals", "right"),
            ("per day", "right"),
            ("mean WIP", "right"),
            ("Little's law WIP", "right"),
            ("wait before", "right"),
            ("utilisation", "right"),
        ],
        caption=_notes(v["step_stats"]),
    )
    for r in steps[:top]:
        t.add_row(
            r["activity"],
            f"{r['arrivals']:,}",
            _num(r["throughput_per_day"]),
            _num(r["mean_wip"]),
            _num(r["littles_law_wip"]),
            duration(r["mean_wait_before_seconds"]),
            _pct(r["utilisation"]),
        )
    yield t

    t = _table(
        "Bottlenecks, likeliest first",
        [("#", "right"), ("step", "left"), ("score", "right"), ("evidence", "left")],
    )
    for r in v["bottlenecks"].to_pylist()[:3]:
        t.add_row(str(r["rank"]), r["activity"], _num(r["score"], 2), r["evidence"])
    yield t

    stock = v["days_of_supply"].to_pylist()
    if stock:
        t = _table(
            "Inventory: days of supply",
            [
                ("location", "left"),
                ("product", "left"),
                ("stock", "right"),
                ("per day", "right"),
                ("days", "right"),
            ],
        )
        stock.sort(key=lambda r: -(r["days_of_supply"] or 0))
        for r in stock[:top]:
            t.add_row(
                r["location"],
                r["product"],
                _num(r["stock"], 0),
                _num(r["daily_demand"]),
                _num(r["days_of_supply"]),
            )
        yield t
    else:
        yield Text(
            "Inventory: no stock movements in this log (EPCIS quantity, aggregation or "
            "transformation events are needed)",
            style="dim",
        )

    yield _waste_table(v["wastes"], v["waste_pareto"])

    whip = v["bullwhip"].to_pylist()
    if whip:
        t = _table(
            "Bullwhip: variance of orders / variance of demand",
            [("echelon", "left"), ("ratio", "right"), ("windows", "right")],
        )
        for r in whip:
            t.add_row(str(r["echelon"]), _num(r["bullwhip"], 2), str(r["windows"]))
        yield t
    else:
        yield Text(
            "Bullwhip: " + (v["bullwhip"].notes[0] if v["bullwhip"].notes else ""), style="dim"
        )


def _customer_table(demand: View, top: int) -> RenderableType:
    rows = demand.to_pylist()
    calendar = demand.meta.get("calendar", "")
    if not rows:
        return Text(
            "The customer: no exits in this log — nothing was sold, shipped outside the network "
            "or reached an end step (name one with --end-step); " + calendar,
            style="dim",
        )
    t = _table(
        "The customer: demand and takt",
        [
            ("product family", "left"),
            ("customers took", "right"),
            ("unit", "left"),
            ("per day", "right"),
            ("takt", "right"),
        ],
        caption="\n".join(demand.notes),
    )
    for r in rows[:top]:
        t.add_row(
            r["family"],
            _num(r["quantity"], 0),
            r["unit"],
            _num(r["per_day"]),
            duration(r["takt_seconds"]),
        )
    return t


def _waste_table(wastes: View, pareto: View) -> Table:
    currency = wastes.meta.get("currency", "")
    share = {r["waste"]: r["share"] for r in pareto.to_pylist()}
    order = [r["waste"] for r in pareto.to_pylist()]
    rows = {r["waste"]: r for r in wastes.to_pylist()}
    t = _table(
        "The eight wastes (Pareto by cost)",
        [
            ("waste", "left"),
            ("hours", "right"),
            (f"cost {currency}".strip(), "right"),
            ("share", "right"),
            ("evidence", "left"),
        ],
    )
    for name in order + [w for w in rows if w not in order]:
        r: dict[str, Any] = rows[name]
        evidence = r["evidence"] or ""
        if len(evidence) > 90:
            evidence = evidence[:89] + "…"
        if not r["measurable"]:
            t.add_row(name, "—", "—", "not measurable", evidence, style="dim")
        else:
            t.add_row(
                name,
                _num(r["hours"], 0),
                _num(r["money"], 0),
                _pct(share.get(name)),
                evidence,
            )
    return t
