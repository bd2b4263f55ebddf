"""The ``keiretsu`` command's top-level commands (ingest, info, log, export, analyze, demo):
thin; they call the rooms below and show their results.

Every command that reads a store takes ``--store PATH`` (default ``.keiretsu/twin.duckdb``, or
the ``KEIRETSU_STORE`` environment variable), and ``--json`` for machine-readable output.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from keiretsu.model import DocumentError
from keiretsu.store import IngestReport, StoreError, StoreSummary
from keiretsu.twin import DEFAULT_STORE, Twin

app = typer.Typer(
    name="keiretsu",
    help="A twin for every company of a value network: record events, see the value stream.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

StoreOption = Annotated[
    Path,
    typer.Option(
        "--store",
        "-s",
        envvar="KEIRETSU_STORE",
        help="The node's store (a DuckDB file; created on first ingest).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


def _print_problem(problem: dict[str, Any]) -> None:
    where = [
        str(problem[k])
        for k in ("document", "line", "event_index", "field")
        if problem.get(k) is not None
    ]
    if problem.get("event_index") is not None:
        where[where.index(str(problem["event_index"]))] = f"event {problem['event_index']}"
    if problem.get("line") is not None:
        where[where.index(str(problem["line"]))] = f"line {problem['line']}"
    err_console.print(f"[bold red]refused[/] {', '.join(where)}")
    err_console.print(f"  [red]{problem.get('title')}[/]: {problem.get('detail')}")
    if problem.get("expected"):
        err_console.print(f"  expected: {problem['expected']}")
    for extra in problem.get("problems", [])[1:6]:
        loc = ", ".join(
            f"{k} {extra[k]}" if k == "event" else str(extra[k])
            for k in ("event_index", "field")
            if extra.get(k) is not None
        )
        err_console.print(f"  also: {loc}: {extra.get('title')}: {extra.get('detail')}")
    more = len(problem.get("problems", [])) - 6
    if more > 0:
        err_console.print(f"  … and {more} more problem(s)")


def _summary_table(summary: StoreSummary) -> Table:
    table = Table(title=f"Twin {summary.path}", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value")
    table.add_row("events", f"{summary.events:,}")
    table.add_row("objects", f"{summary.objects:,}")
    table.add_row("event-object relations", f"{summary.relations:,}")
    span = "—"
    if summary.first_event and summary.last_event:
        days = (summary.last_event - summary.first_event).total_seconds() / 86400
        span = (
            f"{summary.first_event:%Y-%m-%d %H:%M} → {summary.last_event:%Y-%m-%d %H:%M} UTC "
            f"({days:,.1f} days)"
        )
    table.add_row("time span", span)
    table.add_row(
        "documents",
        f"{summary.documents_accepted} accepted, {summary.documents_refused} refused",
    )
    return table


def _types_table(title: str, counts: dict[str, int], unit: str, limit: int = 15) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("type")
    table.add_column(unit, justify="right")
    items = list(counts.items())
    for name, n in items[:limit]:
        table.add_row(name, f"{n:,}")
    if len(items) > limit:
        table.add_row(f"… {len(items) - limit} more", f"{sum(n for _, n in items[limit:]):,}")
    return table


def _show_summary(summary: StoreSummary) -> None:
    console.print(_summary_table(summary))
    if summary.event_types:
        console.print(_types_table("Event types (activities)", summary.event_types, "events"))
    if summary.object_types:
        console.print(_types_table("Object types", summary.object_types, "objects"))


def _open(store: Path, *, read_only: bool = False) -> Twin:
    try:
        return Twin(store, read_only=read_only)
    except StoreError as exc:
        err_console.print(f"[bold red]error[/] {exc}")
        raise typer.Exit(2) from exc


def _ingest_files(
    twin: Twin,
    files: list[Path],
    fmt: str | None,
    source: str,
    options: dict[str, Any],
    quiet: bool,
) -> list[IngestReport]:
    reports: list[IngestReport] = []
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        TextColumn("{task.completed:,.0f} events"),
        TextColumn("[dim]{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=err_console,
        disable=quiet,
        transient=False,
    ) as progress:
        for path in files:
            task = progress.add_task(path.name, total=None, rate="")
            elapsed = progress.tasks[task]

            def tick(n: int, task: Any = task, elapsed: Any = elapsed) -> None:
                secs = elapsed.elapsed or 0.0
                rate = f"{n / secs:,.0f} events/s" if secs > 0 else ""
                progress.update(task, completed=n, rate=rate)

            try:
                report = twin.store.ingest_file(
                    path, format=fmt, source=source, progress=tick, **options
                )
                progress.update(task, completed=report.events_read, total=report.events_read)
            except DocumentError as exc:
                progress.update(task, description=f"[red]{path.name} (refused)")
                report = IngestReport(
                    document=str(path), format=fmt, status="refused", problem=exc.to_dict()
                )
            progress.stop_task(task)
            reports.append(report)
    return reports


def _reports_table(reports: list[IngestReport]) -> Table:
    table = Table(title="Ingest", title_justify="left")
    table.add_column("document", no_wrap=True, overflow="ellipsis", max_width=20)
    table.add_column("status", min_width=8)
    for col in ("events", "new", "known", "corrected", "objects"):
        table.add_column(col, justify="right", min_width=len(col))
    for r in reports:
        status = "[green]accepted" if r.status == "accepted" else "[red]refused"
        table.add_row(
            Path(r.document).name,
            status,
            f"{r.events_read:,}",
            f"{r.events_new:,}",
            f"{r.events_known:,}",
            f"{r.events_corrected:,}",
            f"{r.objects_new:,}",
        )
    return table


@app.command()
def ingest(
    files: Annotated[list[Path], typer.Argument(help="Files to ingest, each whole or not at all.")],
    store: StoreOption = DEFAULT_STORE,
    format: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            help="Force the format: epcis-json, epcis-xml, ocel-json, ocel-xml, ocel-sqlite, "
            "xes, csv, parquet (default: detected per file).",
        ),
    ] = None,
    mapping: Annotated[
        str | None,
        typer.Option(
            "--map",
            help="CSV/Parquet column mapping, e.g. "
            "'activity=step,time=timestamp,object:order=order_id'.",
        ),
    ] = None,
    source: Annotated[str, typer.Option(help="Who sent these documents.")] = "local",
    lenient_order: Annotated[
        bool,
        typer.Option(
            "--lenient-order",
            help="EPCIS XML: accept event elements out of the order the EPCIS 2.0 XSD fixes.",
        ),
    ] = False,
    as_json: JsonOption = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Record files (EPCIS 2.0, OCEL 2.0, XES, CSV/Parquet) in the node's store."""
    options: dict[str, Any] = {}
    if lenient_order:
        options["strict"] = False
    if mapping is not None:
        from keiretsu.io.tabular import ColumnMapping

        try:
            options["mapping"] = ColumnMapping.parse(mapping)
        except ValueError as exc:
            err_console.print(f"[bold red]error[/] --map: {exc}")
            raise typer.Exit(2) from exc
    with _open(store) as twin:
        reports = _ingest_files(twin, files, format, source, options, quiet or as_json)
        if as_json:
            print(json.dumps([r.to_dict() for r in reports], indent=2, default=str))
        else:
            console.print(_reports_table(reports))
        for r in reports:
            if r.problem:
                _print_problem(r.problem)
    if any(r.status != "accepted" for r in reports):
        raise typer.Exit(1)


@app.command()
def info(store: StoreOption = DEFAULT_STORE, as_json: JsonOption = False) -> None:
    """What the twin holds: events, objects, their types, the time span, documents."""
    with _open(store, read_only=True) as twin:
        summary = twin.summary()
    if as_json:
        print(json.dumps(summary.to_dict(), indent=2, default=str))
    else:
        _show_summary(summary)


@app.command("log")
def ingest_log(
    store: StoreOption = DEFAULT_STORE,
    as_json: JsonOption = False,
    last: Annotated[int, typer.Option(help="Show the last N documents.")] = 20,
) -> None:
    """The ingest log: every document offered, when, from whom, accepted or refused and why."""
    with _open(store, read_only=True) as twin:
        rows = twin.ingest_log().to_pylist()[-last:]
    if as_json:
        print(json.dumps(rows, indent=2, default=str))
        return
    table = Table(title="Ingest log", title_justify="left")
    for col in ("#", "finished", "document", "source", "status", "new", "known", "problem"):
        table.add_column(col)
    for r in rows:
        problem = json.loads(r["problem"]) if r["problem"] else None
        table.add_row(
            str(r["ingest_id"]),
            f"{r['finished_at']:%Y-%m-%d %H:%M:%S}",
            Path(r["document"]).name,
            r["source"],
            "[green]accepted" if r["status"] == "accepted" else "[red]refused",
            f"{r['events_new']:,}",
            f"{r['events_known']:,}",
            (f"{problem.get('title')}: {problem.get('detail')}" if problem else ""),
        )
    console.print(table)


@app.command()
def export(
    to: Annotated[
        Path,
        typer.Option(
            "--to",
            help="Target file: .jsonocel, .xmlocel, .sqlite (OCEL 2.0) or .parquet (flat table).",
        ),
    ],
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Write the twin's log out as OCEL 2.0 (JSON, XML, SQLite) or a flat Parquet table."""
    with _open(store, read_only=True) as twin:
        try:
            path = twin.export(to)
        except ValueError as exc:
            err_console.print(f"[bold red]error[/] {exc}")
            raise typer.Exit(2) from exc
        summary = twin.summary()
    console.print(
        f"wrote [bold]{path}[/] ({summary.events:,} events, {summary.objects:,} objects, "
        f"{path.stat().st_size / 1e6:,.1f} MB)"
    )


@app.command()
def analyze(
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Logs to analyse straight away (ingested into --store, or into a temporary "
            "store when --store is not given). Without files: the store's log."
        ),
    ] = None,
    store: Annotated[
        Path | None,
        typer.Option(
            "--store",
            "-s",
            envvar="KEIRETSU_STORE",
            help="The node's store (default .keiretsu/twin.duckdb when no files are given).",
        ),
    ] = None,
    object_type: Annotated[
        str | None,
        typer.Option(
            "--object-type",
            "-t",
            help="The object type to follow (default: the one most events are about, "
            "not locations or resources).",
        ),
    ] = None,
    value_adding: Annotated[
        list[str] | None,
        typer.Option(
            "--value-adding",
            "-v",
            help="A step that adds value (repeat the option); for logs without "
            "start/complete events.",
        ),
    ] = None,
    rates: Annotated[
        Path | None,
        typer.Option("--rates", help="The node's cost rates (TOML) for pricing the wastes."),
    ] = None,
    target_days: Annotated[
        float | None, typer.Option("--target-days", help="Target days of supply.")
    ] = None,
    calendar: Annotated[
        Path | None,
        typer.Option(
            "--calendar",
            help="The node's working calendar (TOML: timezone, [shifts], holidays; or a "
            "node.toml with a [calendar] table). Takt, cycle time and utilisation are measured "
            "on its available time; default 24/7, and the report says so.",
        ),
    ] = None,
    end_step: Annotated[
        list[str] | None,
        typer.Option(
            "--end-step",
            help="A step at which objects leave to the customer (repeat the option); for logs "
            "whose events do not say it (EPCIS logs do: sold, or shipped outside the network).",
        ),
    ] = None,
    svg: Annotated[
        Path | None,
        typer.Option(
            "--svg",
            help="Where to write the value stream map (default value-stream-<type>.svg in the "
            "current directory).",
        ),
    ] = None,
    engine: Annotated[
        str,
        typer.Option(help="duckdb (default), or spark (local Spark; needs the spark extra)."),
    ] = "duckdb",
    memory_limit: Annotated[
        str | None,
        typer.Option(
            "--memory-limit",
            help="Cap DuckDB's memory, e.g. 3GB (it spills to disk beyond it; default: up to "
            "80% of the machine's memory).",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """The morning report: process map, where time goes, bottlenecks, inventory, the eight
    wastes, bullwhip, and the value stream map as SVG."""
    import tempfile

    from keiretsu.analytics import Log
    from keiretsu.analytics.rates import Rates
    from keiretsu.analytics.report import analyze as build_report

    if engine not in ("duckdb", "spark"):
        err_console.print(f"[bold red]error[/] --engine: {engine!r} is not duckdb or spark")
        raise typer.Exit(2)
    node_rates = None
    if rates is not None:
        try:
            node_rates = Rates.from_toml(rates)
        except (DocumentError, OSError) as exc:
            err_console.print(f"[bold red]error[/] --rates: {exc}")
            raise typer.Exit(2) from exc
    node_calendar = None
    if calendar is not None:
        from keiretsu.analytics.calendar import Calendar, CalendarError

        try:
            node_calendar = Calendar.from_toml(calendar)
        except CalendarError as exc:
            err_console.print(f"[bold red]error[/] --calendar: {exc}")
            raise typer.Exit(2) from exc
    with tempfile.TemporaryDirectory(prefix="keiretsu-analyze-") as tmp:
        path = store or (Path(tmp) / "twin.duckdb" if files else DEFAULT_STORE)
        if files:
            with _open(path) as twin:
                reports = _ingest_files(twin, files, None, "local", {}, True)
                for r in reports:
                    if r.problem:
                        _print_problem(r.problem)
                if any(r.status != "accepted" for r in reports):
                    raise typer.Exit(1)
        if not path.exists():
            err_console.print(
                f"[bold red]error[/] {path}: no store here (run `keiretsu ingest` first)"
            )
            raise typer.Exit(2)
        try:
            log = (
                Log.open(path, memory_limit=memory_limit)
                if engine == "duckdb"
                else Log.on_spark(path)
            )
            report = build_report(
                log,
                object_type=object_type,
                value_adding=value_adding,
                rates=node_rates,
                target_days=target_days,
                calendar=node_calendar,
                end_steps=end_step,
            )
        except ValueError as exc:
            err_console.print(f"[bold red]error[/] {exc}")
            raise typer.Exit(2) from exc
    svg_path = svg or Path(f"value-stream-{_slug(report.object_type)}.svg")
    if report.vsm is not None:
        svg_path.write_text(report.vsm.to_svg(), encoding="utf-8")
    if as_json:
        out = report.to_json()
        out["value_stream_map_svg"] = str(svg_path)
        print(json.dumps(out, indent=2, default=str))
        return
    from keiretsu.analytics.text import render

    for section in render(report):
        console.print(section)
    console.print(f"Value stream map written to [bold]{svg_path}[/]")


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-") or "objects"


def example_files() -> list[Path]:
    """The small two-company EPCIS example shipped with keiretsu (used by ``keiretsu demo``)."""
    root = resources.files("keiretsu") / "examples" / "two-company-chain"
    return sorted(Path(str(p)) for p in root.iterdir() if p.name.endswith((".jsonld", ".xml")))


@app.command()
def demo(
    store: StoreOption = Path(".keiretsu") / "demo.duckdb",
    fresh: Annotated[bool, typer.Option(help="Start from an empty store.")] = True,
    analyze: Annotated[
        bool, typer.Option(help="Then print the morning report and the value stream map.")
    ] = True,
) -> None:
    """Ingest the shipped two-company example (a plant and a distributor), show the twin and
    its value stream: process map, where time goes, bottlenecks, inventory, wastes."""
    if fresh and store.exists():
        store.unlink()
        wal = store.with_name(store.name + ".wal")
        if wal.exists():
            wal.unlink()
    files = example_files()
    console.print(
        f"[bold]keiretsu demo[/]: a plant ships pallets to a distributor; "
        f"{len(files)} EPCIS 2.0 documents from both companies → {store}"
    )
    with _open(store) as twin:
        reports = _ingest_files(twin, files, None, "demo", {}, quiet=False)
        console.print(_reports_table(reports))
        for r in reports:
            if r.problem:
                _print_problem(r.problem)
        again = twin.store.ingest_file(files[0], source="demo")
        console.print(
            f"Sent {Path(files[0]).name} again: {again.events_new} new, "
            f"{again.events_known} already known — ingest is idempotent."
        )
        _show_summary(twin.summary())
        if analyze and all(r.status == "accepted" for r in reports):
            from keiretsu.analytics.text import render

            # the plant's value-adding steps: making the tea and packing it for the customer
            report = twin.analyze(value_adding=["commissioning", "packing"], target_days=7)
            console.rule("The value stream, end to end")
            for section in render(report):
                console.print(section)
            if report.vsm is not None:
                svg = store.with_name("value-stream.svg")
                svg.write_text(report.vsm.to_svg(), encoding="utf-8")
                console.print(f"Value stream map written to [bold]{svg}[/]")
    if any(r.status != "accepted" for r in reports):
        raise typer.Exit(1)
