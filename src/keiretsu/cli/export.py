"""``keiretsu export …``: the twin's log written out.

- ``keiretsu export --to FILE``: the whole log as one OCEL 2.0 file (JSON, XML, SQLite) or a
  flat Parquet table (:func:`keiretsu.cli.commands.export`, as it always was);
- ``keiretsu export parquet DIR``: the log as partitioned Parquet files that Spark reads
  (:func:`keiretsu.store.parquet.export_parquet`); run again, it appends the documents
  accepted since, and only those.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from keiretsu.twin import DEFAULT_STORE

__all__ = ["export_app"]

console = Console()
err_console = Console(stderr=True)

StoreOption = Annotated[
    Path,
    typer.Option(
        "--store",
        "-s",
        envvar="KEIRETSU_STORE",
        help="The node's store (a DuckDB file).",
    ),
]

export_app = typer.Typer(
    help="Write the twin's log out: one OCEL 2.0 file (--to), or Parquet files Spark reads "
    "(parquet DIR).",
    invoke_without_command=True,
)


@export_app.callback()
def export_file(
    ctx: typer.Context,
    to: Annotated[
        Path | None,
        typer.Option(
            "--to",
            help="Target file: .jsonocel, .xmlocel, .sqlite (OCEL 2.0) or .parquet (flat table).",
        ),
    ] = None,
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Write the twin's log out as OCEL 2.0 (JSON, XML, SQLite) or a flat Parquet table
    (--to FILE), or as partitioned Parquet files for Spark (``keiretsu export parquet DIR``)."""
    if ctx.invoked_subcommand is not None:
        return
    if to is None:
        err_console.print(
            "[bold red]error[/] keiretsu export: say where: --to FILE (one OCEL 2.0 file), or "
            "`keiretsu export parquet DIR` (Parquet files for Spark)."
        )
        raise typer.Exit(2)
    from keiretsu.cli.commands import export

    export(to=to, store=store)


@export_app.command("parquet")
def export_parquet_dir(
    path: Annotated[
        str,
        typer.Argument(
            help="The export directory: a local path, file://…, or an object store or HDFS "
            "URI pyarrow opens (s3://bucket/log, gs://…, hdfs://…).",
            show_default=False,
        ),
    ],
    store: StoreOption = DEFAULT_STORE,
    rows_per_file: Annotated[
        int,
        typer.Option("--rows-per-file", min=1, help="Most rows in one Parquet file."),
    ] = 4_000_000,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Export the log as partitioned Parquet files (event, event_object, object, attributes,
    object relations, declared types) that Spark reads directly — Log.from_parquet, or
    spark.read.parquet on a cluster. Run it again to append the documents accepted since:
    each run writes only those, as a new batch=N partition, and the manifest
    (keiretsu-export.json) last; an interrupted run is redone by the next, never doubled."""
    from keiretsu.store.parquet import ExportError, export_parquet

    if not store.exists():
        err_console.print(
            f"[bold red]error[/] {escape(str(store))}: no store here (run `keiretsu ingest` "
            "first, or give --store)",
            highlight=False,
        )
        raise typer.Exit(2)
    try:
        with Progress(
            SpinnerColumn(),
            TextColumn("[progress.description]{task.description}"),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
            disable=as_json,
        ) as progress:
            progress.add_task(f"exporting to {path}", total=None)
            report = export_parquet(store, path, rows_per_file=rows_per_file)
    except ExportError as exc:
        err_console.print(f"[bold red]error[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from exc
    if as_json:
        print(json.dumps(report.to_dict(), indent=2))
        return
    if report.removed:
        err_console.print(
            f"removed what an interrupted export left: {escape(', '.join(report.removed))}",
            highlight=False,
        )
    if not report.documents:
        console.print(
            f"nothing new to export: {escape(path)} holds every document up to ingest "
            f"{report.watermark}",
            highlight=False,
        )
        return
    table = Table(
        title=f"Exported to {path}: {report.documents:,} document(s), ingest "
        f"{report.watermark_before + 1}–{report.watermark}, {report.seconds:,.1f} s",
        title_justify="left",
    )
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, n in report.rows.items():
        table.add_row(name, f"{n:,}")
    console.print(table)
