"""The ``keiretsu`` command's top-level commands (ingest, info, log, export, analyze, demo):
thin; they call the rooms below and show their results.

Every command that reads a store takes ``--store PATH`` (default ``.keiretsu/twin.duckdb``, or
the ``KEIRETSU_STORE`` environment variable), and ``--json`` for machine-readable output.

A user's mistake never ends in a traceback: every error is told as one paragraph — what was
wrong, where, and what to do — on stderr, with exit code 2 (1 for what looks like a fault of
keiretsu itself). ``keiretsu --debug …`` (or ``KEIRETSU_DEBUG=1``) lets the exception through
with its full traceback. The translation lives in the app's group (:class:`KeiretsuGroup`), so
every command and sub-app (``node``, ``network``, ``kaizen``…) gets it.
"""

from __future__ import annotations

import contextlib
import json
import os
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from typer.core import TyperGroup

from keiretsu.model import DocumentError
from keiretsu.store import IngestReport, StoreError, StoreSummary
from keiretsu.twin import DEFAULT_STORE, Twin

# --- errors: one paragraph, never a traceback --------------------------------------------------

USER_ERROR = 2
"""Exit code of a user's mistake (bad argument, missing file, unknown name, store in use)."""
FAULT = 1
"""Exit code of an error keiretsu did not expect (a bug: please report it)."""


def _debug_env() -> bool:
    return os.environ.get("KEIRETSU_DEBUG", "").strip().lower() not in ("", "0", "false", "no")


def explain(exc: BaseException) -> tuple[str, int]:
    """The paragraph told for ``exc`` and the exit code."""
    import duckdb

    from keiretsu.model.errors import DocumentError

    if isinstance(exc, DocumentError):
        return f"refused: {exc}", USER_ERROR
    if isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower():
        return (
            "the store is in use by another process (a running `keiretsu node serve`?): "
            f"{str(exc).splitlines()[0]}. Stop that process, or ask that node through its API.",
            USER_ERROR,
        )
    if isinstance(exc, duckdb.Error):
        return (
            f"the store cannot be read or written: {str(exc).splitlines()[0]}. Check that "
            "--store names a keiretsu store (a DuckDB file made by `keiretsu ingest`).",
            USER_ERROR,
        )
    if isinstance(exc, FileNotFoundError):
        where = exc.filename or str(exc)
        return f"{where}: no such file or folder. Check the path.", USER_ERROR
    if isinstance(exc, IsADirectoryError):
        return f"{exc.filename}: is a folder, a file was expected.", USER_ERROR
    if isinstance(exc, NotADirectoryError):
        return f"{exc.filename}: is a file, a folder was expected.", USER_ERROR
    if isinstance(exc, PermissionError):
        return (
            f"{exc.filename or exc}: permission denied. Choose a place you may write to.",
            USER_ERROR,
        )
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror or exc}.", USER_ERROR
    if isinstance(exc, KeyError) and not isinstance(exc, ValueError):
        text = str(exc.args[0]) if exc.args else "unknown name"
        return f"{text}.", USER_ERROR
    if isinstance(exc, (ValueError, LookupError)):
        return f"{exc}", USER_ERROR
    from keiretsu.store import StoreError

    if isinstance(exc, StoreError):
        return f"{exc}", USER_ERROR
    return (
        f"keiretsu failed unexpectedly ({type(exc).__name__}: {exc}). This looks like a bug: "
        "run the command again with `keiretsu --debug …` for the traceback and report it.",
        FAULT,
    )


class KeiretsuGroup(TyperGroup):
    """The ``keiretsu`` app's group: runs the command, and tells any error as one paragraph
    (see the module docstring) unless ``--debug`` was given."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except BrokenPipeError:
            raise typer.Exit(0) from None  # `keiretsu log | head`: the reader left
        except Exception as exc:
            if ctx.params.get("debug") or _debug_env():
                raise
            message, code = explain(exc)
            prefix = f"keiretsu {ctx.invoked_subcommand or ''}".strip()
            err_console.print(f"[bold red]error[/] ({prefix}): {escape(message)}", highlight=False)
            raise typer.Exit(code) from None


app = typer.Typer(
    cls=KeiretsuGroup,
    name="keiretsu",
    help="A twin for every company of a value network: record events, see the value stream.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


@app.callback()
def _global_options(
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            envvar="KEIRETSU_DEBUG",
            help="Show the full traceback of an error instead of the one-paragraph message.",
        ),
    ] = False,
) -> None:
    """A twin for every company of a value network: record events, see the value stream."""


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


def _preflight(files: list[Path], fmt: str | None, options: dict[str, Any]) -> list[DocumentError]:
    """What is wrong with the files before anything is written: missing, not a file, a format
    keiretsu does not read, a table without a column mapping."""
    from keiretsu.io.detect import FORMATS, detect_format

    problems: list[DocumentError] = []
    if fmt is not None and fmt not in FORMATS:
        raise typer.BadParameter(
            f"{fmt!r} is not a format keiretsu reads; formats: {', '.join(FORMATS)}",
            param_hint="'--format'",
        )
    for path in files:
        try:
            if path.is_dir():
                raise DocumentError.single(
                    "Not a file",
                    f"{path} is a folder; name the files in it (e.g. {path}/*.jsonld)",
                    document=str(path),
                )
            found = fmt or detect_format(path)
            if found in ("csv", "parquet") and options.get("mapping") is None:
                from keiretsu.io.tabular import read_table

                next(read_table(path, None, document=str(path)))
        except DocumentError as exc:
            problems.append(exc)
    return problems


def _forget_new_store(store: Path, made_parent: bool) -> None:
    """Remove a store this command created but put nothing in (every document refused)."""
    for leftover in (store, store.with_name(store.name + ".wal")):
        leftover.unlink(missing_ok=True)
    if made_parent:
        with contextlib.suppress(OSError):  # not empty: something else lives there
            store.parent.rmdir()


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
            "'activity=step,time=timestamp,object:order=order_id'; aggregate rows: "
            "'product=COL,quantity=COL,kind=sold,location=\"DC\"' (docs/formats/tabular.md).",
        ),
    ] = None,
    wide: Annotated[
        bool,
        typer.Option(
            "--wide",
            help="CSV/Parquet with one column per product (header: the product, cells: the "
            "quantities), melted to one aggregate row per product and row (same as wide=true "
            "in --map).",
        ),
    ] = False,
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
    """Record files (EPCIS 2.0, OCEL 2.0, XES, CSV/Parquet) in the node's store.

    Files that are missing, of no format keiretsu reads, or tables without --map are refused
    before anything is written (no store is created); a store that held nothing before and
    accepted nothing is removed again."""
    options: dict[str, Any] = {}
    if lenient_order:
        options["strict"] = False
    if wide and mapping is None:
        raise typer.BadParameter(
            "a wide table needs --map with at least time=COLUMN (and activity, kind, "
            "location), e.g. --map 'time=Date,kind=sold,location=\"plant\"'",
            param_hint="'--wide'",
        )
    if mapping is not None:
        from keiretsu.io.tabular import ColumnMapping

        text = mapping + (",wide=true" if wide else "")
        try:
            options["mapping"] = ColumnMapping.parse(text)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="'--map'") from exc
    problems = _preflight(files, format, options)
    if problems:
        if as_json:
            print(
                json.dumps(
                    [
                        {
                            "document": p.problems[0].document,
                            "status": "refused",
                            "problem": p.to_dict(),
                        }
                        for p in problems
                    ],
                    indent=2,
                )
            )
        for p in problems:
            _print_problem(p.to_dict())
        err_console.print(f"nothing was written ({store} left as it was)", highlight=False)
        raise typer.Exit(2)
    existed = store.exists()
    made_parent = not store.parent.exists()
    with _open(store) as twin:
        reports = _ingest_files(twin, files, format, source, options, quiet or as_json)
    accepted = [r for r in reports if r.status == "accepted"]
    if not existed and not accepted:
        _forget_new_store(store, made_parent)
    if as_json:
        print(json.dumps([r.to_dict() for r in reports], indent=2, default=str))
    else:
        console.print(_reports_table(reports))
    for r in reports:
        if r.problem:
            _print_problem(r.problem)
    if accepted:
        err_console.print(
            f"stored in [bold]{escape(str(store))}[/] "
            f"(see it with `keiretsu info --store {escape(str(store))}`)",
            highlight=False,
        )
    elif not existed:
        err_console.print(f"nothing accepted: no store created at {escape(str(store))}")
    if len(accepted) < len(reports):
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


ColumnsOption = Annotated[
    str | None,
    typer.Option(
        "--columns",
        help="The table's columns to show, comma-separated (default: all; the names are "
        "printed with the table). Cells wrap to the terminal's width.",
    ),
]


def _pick_columns(all_columns: list[str], columns: str | None) -> list[str]:
    """The columns the user asked for (``--columns a,b``), in their order; a clear error for
    a name the table has not."""
    if columns is None:
        return all_columns
    wanted = [c.strip() for c in columns.split(",") if c.strip()]
    unknown = [c for c in wanted if c not in all_columns]
    if unknown or not wanted:
        raise typer.BadParameter(
            (f"no column {unknown[0]!r}" if unknown else "no column named")
            + f"; the table's columns: {', '.join(all_columns)}",
            param_hint="'--columns'",
        )
    return wanted


def _print_rows(
    title: str,
    rows: list[dict[str, str]],
    columns: list[str],
    *,
    right: tuple[str, ...] = (),
) -> None:
    """A table of ``rows`` with the chosen columns; cells wrap (never cut) to the terminal."""
    table = Table(title=title, title_justify="left")
    for col in columns:
        table.add_column(col, overflow="fold", justify="right" if col in right else "left")
    for r in rows:
        table.add_row(*(r[c] for c in columns))
    console.print(table)


def _problem_object(text: str | None) -> Any:
    """The ingest log's stored problem (JSON text) as an object; text that is not JSON as is."""
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


@app.command("log")
def ingest_log(
    store: StoreOption = DEFAULT_STORE,
    as_json: JsonOption = False,
    last: Annotated[int, typer.Option(help="Show the last N documents.", min=1)] = 20,
    columns: ColumnsOption = None,
) -> None:
    """The ingest log: every document offered, when, from whom, accepted or refused and why."""
    with _open(store, read_only=True) as twin:
        rows = twin.ingest_log().to_pylist()[-last:]
    if as_json:
        for r in rows:
            r["problem"] = _problem_object(r.get("problem"))
        print(json.dumps(rows, indent=2, default=str))
        return
    names = ["#", "finished", "document", "source", "status", "new", "known", "problem"]
    shown = _pick_columns(names, columns)
    out = []
    for r in rows:
        problem = _problem_object(r["problem"])
        if isinstance(problem, dict):
            problem = f"{problem.get('title')}: {problem.get('detail')}"
        out.append(
            {
                "#": str(r["ingest_id"]),
                "finished": f"{r['finished_at']:%Y-%m-%d %H:%M:%S}",
                "document": Path(r["document"]).name,
                "source": r["source"],
                "status": "[green]accepted" if r["status"] == "accepted" else "[red]refused",
                "new": f"{r['events_new']:,}",
                "known": f"{r['events_known']:,}",
                "problem": str(problem or ""),
            }
        )
    _print_rows("Ingest log", out, shown, right=("#", "new", "known"))


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
            help="Where to write the value stream map: a folder (value-stream-<type>.svg in "
            "it) or a .svg file. Default: beside the store (none for a temporary store).",
        ),
    ] = None,
    orders: Annotated[
        list[str] | None,
        typer.Option(
            "--orders",
            help="Bullwhip: an activity whose events are orders placed (repeat the option); "
            "default: EPCIS purchase orders, or production in aggregate data.",
        ),
    ] = None,
    demand: Annotated[
        list[str] | None,
        typer.Option(
            "--demand",
            help="Bullwhip: an activity whose events are demand received (repeat the "
            "option); default: EPCIS purchase orders received and sales.",
        ),
    ] = None,
    echelon_type: Annotated[
        str | None,
        typer.Option(
            "--echelon-type",
            help="Bullwhip: the object type whose objects are the echelons (e.g. plant, "
            "product); default: EPCIS source/destination, or product in aggregate data.",
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
    """The morning report: process map, where time goes, bottlenecks, inventory, the wastes,
    bullwhip, and the value stream map as SVG (beside the store, or --svg). On aggregate data
    (amounts per product and day) it shows demand, stock, days of supply and bullwhip, and says
    what it cannot compute. --json prints the report as JSON on stdout and nothing else."""
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
                orders=orders,
                demand=demand,
                echelon_type=echelon_type,
            )
        except ValueError as exc:
            err_console.print(f"[bold red]error[/] {escape(str(exc))}", highlight=False)
            raise typer.Exit(2) from exc
    name = f"value-stream-{_slug(report.object_type)}.svg"
    if svg is not None:
        svg_path: Path | None = svg if svg.suffix.lower() == ".svg" else svg / name
    elif store is not None or not files:
        svg_path = path.resolve().parent / name  # beside the store
    else:
        svg_path = None  # a temporary store: no picture unless asked
    written = None
    if report.vsm is not None and svg_path is not None:
        replaced = svg_path.exists()
        svg_path.parent.mkdir(parents=True, exist_ok=True)
        svg_path.write_text(report.vsm.to_svg(), encoding="utf-8")
        written = svg_path
        err_console.print(
            f"value stream map {'replaced' if replaced else 'written'}: "
            f"[bold]{escape(str(svg_path))}[/]",
            highlight=False,
        )
    elif report.vsm is not None:
        err_console.print("no value stream map written (give --svg DIR to keep one)")
    if as_json:
        out = report.to_json()
        out["value_stream_map_svg"] = str(written) if written else None
        print(json.dumps(out, indent=2, default=str))
        return
    from keiretsu.analytics.text import render

    for section in render(report):
        console.print(section)


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-") or "objects"


def example_files() -> list[Path]:
    """The small two-company EPCIS example shipped with keiretsu (used by ``keiretsu demo``)."""
    root = resources.files("keiretsu") / "examples" / "two-company-chain"
    return sorted(Path(str(p)) for p in root.iterdir() if p.name.endswith((".jsonld", ".xml")))


def demo(  # `keiretsu demo --quick` (registered by keiretsu.cli.demo)
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
