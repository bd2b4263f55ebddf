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

    if report.not_measurable:
        yield from _aggregate_sections(report, top)
        return

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
    summary.add_row(
        "reached the customer / still open",
        f"{glance.get('finished_objects') or 0:,} / {glance.get('open_objects') or 0:,}",
    )
    summary.add_row(
        "lead time of finished objects, median / mean",
        f"{duration(glance.get('finished_lead_seconds_median'))} / "
        f"{duration(glance.get('finished_lead_seconds_mean'))}",
    )
    summary.add_row(
        "lead time of all, Kaplan–Meier median", duration(glance.get("km_lead_seconds_median"))
    )
    summary.add_row("processing time, mean", duration(glance.get("processing_seconds_mean")))
    summary.add_row(
        "process cycle efficiency (ΣVA ÷ ΣLT)", _pct(glance.get("process_cycle_efficiency"))
    )
    yield Panel(
        Group(summary, Text(_notes(v["object_times"], 4) or "", style="dim")),
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
            ("time in step", "right"),
            ("wait before", "right"),
            ("utilisation", "right"),
        ],
        caption=_notes(v["step_stats"], 3),
    )
    for r in steps[:top]:
        t.add_row(
            r["activity"],
            f"{r['arrivals']:,}",
            _num(r["throughput_per_day"]),
            _num(r["mean_wip"]),
            duration(r["mean_seconds_in_step"]),
            duration(r["mean_wait_before_seconds"]),
            _pct(r["utilisation"]),
        )
    yield t

    if report.vsm is not None:
        yield _data_box_table(report.vsm.steps, v["escaped_defects"], report.vsm.takt_seconds)

    yield _constraint(v["bottlenecks"], v["factory_physics"])
    yield _littles_law(v["littles_law"], top)

    yield from _stock_sections(v, top)

    yield _waste_table(v["wastes"], v["waste_pareto"])

    yield from _bullwhip_sections(v)


def _data_box_table(boxes: View, escaped: View, takt: float | None) -> RenderableType:
    """The data box under each process of the map: C/T beside takt, P/T, changeover, uptime,
    first-pass yield, operators ("—" where the events lack the evidence)."""
    t = _table(
        "Data boxes — the value stream's processes" + (f" (takt {duration(takt)})" if takt else ""),
        [
            ("process", "left"),
            ("C/T", "right"),
            ("C/T ÷ takt", "right"),
            ("P/T", "right"),
            ("C/O", "right"),
            ("uptime", "right"),
            ("FPY", "right"),
            ("operators", "right"),
        ],
    )
    for r in boxes.to_pylist():
        ct = r.get("cycle_seconds")
        name = r["step"] if r.get("path") != "branch" else f"  ↳ {r['step']} (branch)"
        t.add_row(
            name,
            duration(ct),
            _num(ct / takt, 2) if ct is not None and takt else "—",
            duration(r.get("process_seconds")),
            duration(r.get("changeover_seconds")),
            _pct(r.get("uptime")),
            _pct(r.get("first_pass_yield")),
            _num(r.get("operators")),
        )
    rty = boxes.meta.get("rolled_throughput_yield")
    failed = escaped.to_pylist()
    moved = sum(1 for r in failed if r.get("escaped"))
    reached = sum(1 for r in failed if r.get("reached_customer"))
    lines = [f"rolled throughput yield {_pct(rty)}"]
    if failed:
        lines.append(
            f"escaped defects: {len(failed):,} objects failed an inspection, {moved:,} moved on "
            f"anyway, {reached:,} reached customers"
        )
    calendar = boxes.meta.get("calendar")
    if calendar:
        lines.append(str(calendar))
    t.caption = "\n".join(lines)
    return t


def _constraint(ranked: View, physics: View) -> RenderableType:
    """The constraint by Factory Physics and the steps ranked behind it; finished goods
    waiting for the customer are listed as inventory."""
    t = _table(
        "The constraint (highest utilisation on available time), and the steps behind it",
        [
            ("#", "right"),
            ("step", "left"),
            ("utilisation", "right"),
            ("t_e ÷ takt", "right"),
            ("evidence", "left"),
        ],
    )
    rows = ranked.to_pylist()
    shown = [r for r in rows if r.get("kind") != "finished goods"][:3]
    shown += [r for r in rows if r.get("kind") == "finished goods"]
    for r in shown:
        t.add_row(
            str(r["rank"]),
            r["activity"],
            _pct(r.get("utilisation")),
            _num(r.get("effective_over_takt"), 2),
            r.get("evidence") or "",
            style="dim" if r.get("kind") == "finished goods" else None,
        )
    fp = physics.to_pylist()
    if fp and fp[0].get("bottleneck_rate_per_day") is not None:
        f = fp[0]
        t.caption = (
            f"Factory Physics: r_b {_num(f['bottleneck_rate_per_day'])}/day, "
            f"T0 {duration(f['raw_process_seconds'])}, W0 {_num(f['critical_wip'])}; "
            f"observed WIP {_num(f['wip'])}, TH {_num(f['throughput_per_day'])}/day — "
            f"{f['zone']} (best {_num(f['best_case_per_day'])}, practical worst "
            f"{_num(f['practical_worst_case_per_day'])}, worst {_num(f['worst_case_per_day'])}"
            f"/day)\n" + (_notes(ranked, 1) or "")
        )
    else:
        t.caption = "\n".join(physics.notes[:2]) or _notes(ranked, 1)
    return t


def _littles_law(check: View, top: int) -> RenderableType:
    rows = check.to_pylist()
    if not rows:
        return Text("Little's law: " + (check.notes[0] if check.notes else ""), style="dim")
    where = "location" if rows[0].get("location") is not None else "step"
    t = _table(
        "Little's law: λ·W against the WIP measured independently",
        [
            (where, "left"),
            ("λ per day", "right"),
            ("W", "right"),
            ("λ·W", "right"),
            ("measured", "right"),
            ("gap", "right"),
        ],
        caption=_notes(check, 2),
    )
    for r in rows[:top]:
        gap = r.get("gap_pct")
        t.add_row(
            str(r.get(where)),
            _num(r.get("arrivals_per_day")),
            duration(r["mean_days"] * 86_400 if r.get("mean_days") is not None else None),
            _num(r.get("littles_law_wip")),
            _num(r.get("measured_wip")),
            "—" if gap is None else f"{gap:+.0f}%",
        )
    return t


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


def _stock_sections(v: dict[str, View], top: int) -> Iterator[RenderableType]:
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


def _bullwhip_sections(v: dict[str, View]) -> Iterator[RenderableType]:
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


def _aggregate_sections(report: Report, top: int) -> Iterator[RenderableType]:
    """The report on aggregate data: demand, stock and bullwhip, and what it cannot show."""
    v = report.views
    yield Text(
        "Aggregate data (amounts per product and period, not one event per object and step): "
        "demand, stock, days of supply and bullwhip only.",
        style="bold",
    )
    yield _customer_table(v["customer_demand"], top)
    daily = v["daily_demand"].to_pylist()
    if daily:
        per: dict[str, list[float]] = {}
        for r in daily:
            per.setdefault(str(r["product"]), []).append(float(r["quantity"] or 0.0))
        days = len({r["day"] for r in daily})
        t = _table(
            f"Daily demand per product over {days} days with demand",
            [("product", "left"), ("total", "right"), ("days", "right"), ("mean/day", "right")],
        )
        ranked = sorted(per.items(), key=lambda kv: -sum(kv[1]))
        for product, qs in ranked[:top]:
            t.add_row(product, _num(sum(qs), 0), str(len(qs)), _num(sum(qs) / len(qs)))
        yield t
    yield from _stock_sections(v, top)
    yield from _bullwhip_sections(v)
    cannot = Table.grid(padding=(0, 2))
    for name, needs in report.not_measurable.items():
        cannot.add_row(name.replace("_", " "), f"needs {needs}")
    yield Panel(
        cannot,
        title="Not measurable from aggregate data",
        title_align="left",
        style="dim",
    )
