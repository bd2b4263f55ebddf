"""``keiretsu demo``: the demo network a newcomer watches improve (five companies, each a real
node with its obeya), or ``--quick``: the two-company example into one store, as tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from keiretsu.cli.commands import console
from keiretsu.cli.commands import demo as two_company_demo

__all__ = ["demo"]

DEMO_DIR = Path(".keiretsu") / "demo"


def demo(
    quick: Annotated[
        bool,
        typer.Option(
            "--quick",
            help="The quick two-company demo instead: the shipped EPCIS example into one store, "
            "its value stream as tables.",
        ),
    ] = False,
    store: Annotated[
        Path | None,
        typer.Option(
            "--store",
            "-s",
            help="The quick demo's store (implies --quick). (default: .keiretsu/demo.duckdb)",
        ),
    ] = None,
    dir: Annotated[
        Path,
        typer.Option("--dir", help="Where the five nodes keep their stores, homes and logs."),
    ] = DEMO_DIR,
    headless: Annotated[
        bool,
        typer.Option(
            "--headless", help="No browser, no pauses: tell the story as fast as it runs."
        ),
    ] = False,
    duration: Annotated[
        float,
        typer.Option(
            help="Seconds of wall clock the story may take; kaizen cycles start while time is "
            "left (at least one runs)."
        ),
    ] = 300.0,
    days: Annotated[
        int, typer.Option(help="Simulated days of the isolated and of the connected phase.")
    ] = 56,
    cycle_days: Annotated[
        int, typer.Option(help="Simulated days the world runs after each kaizen change.")
    ] = 56,
    cycles: Annotated[
        int | None, typer.Option(help="At most this many kaizen cycles (default: by --duration).")
    ] = None,
    seconds_per_day: Annotated[
        float | None,
        typer.Option(
            help="Wall-clock seconds per simulated day (default 0.5 with a browser, 0 headless)."
        ),
    ] = None,
    replications: Annotated[
        int, typer.Option(help="Paired replications of the twin's simulations.")
    ] = 16,
    port: Annotated[int, typer.Option(help="The first node's port (the next free ones).")] = 8780,
    seed: Annotated[int, typer.Option(help="Seed of the world's draws.")] = 1,
    stop_after: Annotated[
        str | None,
        typer.Option(help="Stop at a milestone: 'first-page' or 'first-kaizen' (for timing)."),
    ] = None,
    fresh: Annotated[bool, typer.Option(help="For --quick: start from an empty store.")] = True,
    analyze: Annotated[
        bool, typer.Option(help="For --quick: print the report and the value stream map.")
    ] = True,
) -> None:
    """The demo network: five companies (resin supplier, parts maker, assembler, distributor,
    retailer), each a real node with its own store, policy and obeya; a simulated world plays
    the chain and sends each its EPCIS events. First isolated, then connected, then kaizen
    cycles: the waste falls. Ctrl-C stops every node it started."""
    if quick or store is not None:
        two_company_demo(
            store=store or Path(".keiretsu") / "demo.duckdb", fresh=fresh, analyze=analyze
        )
        return
    from keiretsu.network.config import NetworkError
    from keiretsu.network.demo import DemoOptions, display_available, render_report, run_demo

    if stop_after not in (None, "first-page", "first-kaizen"):
        raise typer.BadParameter(
            f"{stop_after!r}: 'first-page' or 'first-kaizen'", param_hint="--stop-after"
        )
    if days < 7 or cycle_days < 7:
        raise typer.BadParameter("at least 7 days (a week of demand)", param_hint="--days")
    pace = seconds_per_day if seconds_per_day is not None else (0.0 if headless else 0.5)
    options = DemoOptions(
        dir=dir.resolve(),
        duration=duration,
        phase_days=days,
        cycle_days=cycle_days,
        cycles=cycles,
        seconds_per_day=pace,
        post_every=7 if pace == 0 else 1,
        seed=seed,
        base_port=port,
        replications=replications,
        stop_after=stop_after,
        open_browser=not headless and display_available(),
    )
    console.print(
        "[bold]keiretsu demo[/]: five companies, each its own node; the world plays the chain "
        "in accelerated time. Ctrl-C stops every node."
    )
    try:
        report = run_demo(
            options, say=lambda line: console.print(line, highlight=False, soft_wrap=True)
        )
    except KeyboardInterrupt:
        console.print("interrupted: every node the demo started is stopped")
        raise typer.Exit(130) from None
    except NetworkError as exc:
        console.print(f"[red]demo failed:[/] {exc}")
        raise typer.Exit(1) from exc
    console.print(render_report(report), highlight=False, soft_wrap=True)
