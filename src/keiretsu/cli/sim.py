"""The what-if twin's commands: ``keiretsu simulate``, ``calibrate``, ``scenario compare`` and
``optimize``. Thin: each calls :mod:`keiretsu.sim` / :mod:`keiretsu.optimize` and shows the
result as Rich tables, or as JSON with ``--json``. A model file that does not read, or an
option out of range, is one line per problem naming the file, the key and what was expected,
and exit status 2 (no traceback)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from keiretsu.model import DocumentError

if TYPE_CHECKING:
    import pyarrow as pa

    from keiretsu.sim.kpis import Estimate
    from keiretsu.sim.model import Network

__all__ = ["register", "scenario_app"]

console = Console()
err_console = Console(stderr=True)

scenario_app = typer.Typer(
    help="What if? A baseline and named variants of a network, run on the same demand.",
    no_args_is_help=True,
)

ModelArgument = Annotated[Path, typer.Argument(help="The network model file (TOML).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
PeriodsOption = Annotated[
    int, typer.Option("--periods", "-p", help="Periods simulated (measured).")
]
SeedOption = Annotated[int, typer.Option("--seed", help="Seed of every random draw.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[bold red]error[/] {message}", highlight=False)
    return typer.Exit(2)


def _refused(exc: DocumentError) -> typer.Exit:
    for problem in exc.problems or []:
        err_console.print(f"[bold red]error[/] {problem}", highlight=False)
    if not exc.problems:
        err_console.print(f"[bold red]error[/] {exc}", highlight=False)
    return typer.Exit(2)


def _load(model: Path) -> Network:
    from keiretsu.sim.model import Network

    try:
        return Network.load(model)
    except DocumentError as exc:
        raise _refused(exc) from exc


def _num(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, float):
        return f"{value:,.{digits}g}"
    return str(value)


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    return [{k: _num(v) for k, v in row.items()} for row in table.to_pylist()]


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str, allow_nan=False))


@contextmanager
def _spinner(text: str, quiet: bool) -> Iterator[None]:
    """A spinner with the elapsed time on stderr, for runs with no progress of their own."""
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        TimeElapsedColumn(),
        console=err_console,
        disable=quiet,
        transient=True,
    ) as progress:
        progress.add_task(text, total=None)
        yield


def _kpi_table(title: str, table: pa.Table) -> Table:
    """A (scope, kpi, unit, mean, low, high, replications) table as Rich."""
    out = Table(title=title, title_justify="left")
    for col, justify in (
        ("scope", "left"),
        ("kpi", "left"),
        ("mean", "right"),
        ("95% interval", "right"),
        ("unit", "left"),
    ):
        out.add_column(col, justify=justify)  # type: ignore[arg-type]
    for r in table.to_pylist():
        low, high = r.get("low"), r.get("high")
        interval = "—" if low is None or not math.isfinite(low) else f"{low:,.4g} … {high:,.4g}"
        out.add_row(r["scope"], r["kpi"], _fmt(r["mean"]), interval, r["unit"])
    return out


# --- simulate ---------------------------------------------------------------------------------


def _targets(nodes: list[str]) -> dict[str, Any]:
    from keiretsu.sim.world import NodeTarget

    out: dict[str, Any] = {}
    for spec in nodes:
        name, sep, rest = spec.partition("=")
        url, colon, token = rest.rpartition(":")
        if not sep or not colon or not name or not token or "://" not in url:
            raise _fail(
                f"--node {spec!r}: expected NAME=URL:TOKEN, e.g. "
                "retailer=http://127.0.0.1:8101:s3cret (the company's name in the model, its "
                "node's URL and a token allowed to capture)"
            )
        out[name] = NodeTarget(url=url, token=token)
    return out


def simulate(
    model: ModelArgument,
    level: Annotated[
        str,
        typer.Option(
            help="policy: periodic review over many replications, a KPI table; flow: the "
            "world emitting each company's EPCIS events (to --out or --node)."
        ),
    ] = "policy",
    periods: PeriodsOption = 365,
    replications: Annotated[
        int,
        typer.Option(
            "--replications",
            "-r",
            help="Replications (policy level); with --kpis, runs of the world (flow level).",
        ),
    ] = 1000,
    seed: SeedOption = 0,
    warmup: Annotated[
        int | None,
        typer.Option(
            help="Periods run before measuring (default: 5 × the longest chain of lead "
            "times, at least 20)."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Flow level: folder for one EPCIS 2.0 JSON-LD file per company."
        ),
    ] = None,
    node: Annotated[
        list[str] | None,
        typer.Option(
            "--node",
            help="Flow level: send a company's events live to its node, NAME=URL:TOKEN "
            "(repeat the option).",
        ),
    ] = None,
    seconds_per_period: Annotated[
        float,
        typer.Option(
            help="Flow level, live: wall-clock seconds per simulated period (0: as fast "
            "as the nodes take them)."
        ),
    ] = 0.0,
    kpis: Annotated[
        bool,
        typer.Option(
            "--kpis",
            help="Flow level: measure the KPIs from the events of --replications runs "
            "(keiretsu.sim.flow_kpis) instead of writing events.",
        ),
    ] = False,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Run a network model forward: the policy level's KPIs with their intervals, or the
    flow-level world's EPCIS events (files or live into nodes) or its KPIs measured on them."""
    if level not in ("policy", "flow"):
        raise _fail(f"--level: expected policy or flow, not {level!r}")
    if periods < 2:
        raise _fail(f"--periods: expected at least 2, not {periods}")
    if replications < 1:
        raise _fail(f"--replications: expected at least 1, not {replications}")
    network = _load(model)
    if level == "policy":
        if out is not None or node or kpis:
            raise _fail("--out, --node and --kpis are for --level flow")
        _simulate_policy(network, periods, replications, seed, warmup, as_json, quiet)
    elif kpis:
        _simulate_flow_kpis(network, periods, replications, seed, warmup, as_json, quiet)
    else:
        if (out is None) == (not node):
            raise _fail("--level flow: give --out DIR (EPCIS files) or --node NAME=URL:TOKEN")
        _simulate_flow(network, periods, seed, out, node or [], seconds_per_period, as_json, quiet)


def _simulate_policy(
    network: Network,
    periods: int,
    replications: int,
    seed: int,
    warmup: int | None,
    as_json: bool,
    quiet: bool,
) -> None:
    from keiretsu.sim import simulate as run

    with _spinner(
        f"{replications:,} replications × {periods:,} {network.period}s", quiet or as_json
    ):
        try:
            result = run(
                network, periods=periods, replications=replications, seed=seed, warmup=warmup
            )
        except ValueError as exc:
            raise _fail(str(exc)) from exc
    table = result.to_arrow()
    if as_json:
        _print_json(
            {
                "level": "policy",
                "network": result.network,
                "period": result.period,
                "periods": result.periods,
                "replications": result.replications,
                "warmup": result.warmup,
                "seed": seed,
                "confidence": result.confidence,
                "kpis": _rows(table),
            }
        )
        return
    console.print(
        _kpi_table(
            f"{result.network}: policy level, {result.replications:,} replications × "
            f"{result.periods:,} {result.period}s (warm-up {result.warmup}), seed {seed}",
            table,
        )
    )


def _simulate_flow_kpis(
    network: Network,
    periods: int,
    replications: int,
    seed: int,
    warmup: int | None,
    as_json: bool,
    quiet: bool,
) -> None:
    from keiretsu.sim.flow_kpis import simulate_flow

    with _bar("runs of the world", replications, quiet or as_json) as tick:
        try:
            result = simulate_flow(
                network,
                periods=periods,
                replications=replications,
                seed=seed,
                warmup=warmup,
                progress=tick,
            )
        except ValueError as exc:
            raise _fail(str(exc)) from exc
    table = result.to_arrow()
    if as_json:
        _print_json(
            {
                "level": "flow",
                "network": result.network,
                "period": result.period,
                "periods": result.periods,
                "replications": result.replications,
                "warmup": result.warmup,
                "seed": seed,
                "events": result.events,
                "notes": list(result.notes),
                "kpis": _rows(table),
            }
        )
        return
    console.print(
        _kpi_table(
            f"{result.network}: flow level, KPIs from the events of {result.replications} runs "
            f"× {result.periods:,} {result.period}s (warm-up {result.warmup})",
            table,
        )
    )
    for note in result.notes:
        console.print(f"[dim]· {note}[/]", highlight=False)


@contextmanager
def _bar(what: str, total: int, quiet: bool) -> Iterator[Callable[[int], None]]:
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,}"),
        TimeElapsedColumn(),
        console=err_console,
        disable=quiet,
        transient=True,
    ) as progress:
        task = progress.add_task(what, total=total)

        def tick(done: int) -> None:
            progress.update(task, completed=done)

        yield tick


def _simulate_flow(
    network: Network,
    periods: int,
    seed: int,
    out: Path | None,
    nodes: list[str],
    seconds_per_period: float,
    as_json: bool,
    quiet: bool,
) -> None:
    import time

    import httpx

    from keiretsu.sim.flow_kpis import aligned_start
    from keiretsu.sim.world import HOURS_PER_PERIOD, World, post_epcis, write_epcis_files

    targets = _targets(nodes)
    unknown = sorted(set(targets) - {c.name for c in network.companies})
    if unknown:
        raise _fail(
            f"--node {unknown[0]!r}: no company of that name in the model (expected one of "
            f"{', '.join(c.name for c in network.companies)})"
        )
    hpp = HOURS_PER_PERIOD.get(network.period.strip().lower())
    if hpp is None:
        raise _fail(
            f"[network] period {network.period!r}: the world knows {', '.join(HOURS_PER_PERIOD)}"
        )
    world = World(network, seed=seed, start=aligned_start(hpp))
    jobs: list[str] = []
    with _bar(f"{network.period}s simulated", periods, quiet or as_json) as tick:
        if targets:
            with httpx.Client(timeout=60.0) as client:
                for k in range(periods):
                    began = time.monotonic()
                    world.run(1)
                    try:
                        jobs += post_epcis(world, targets, client=client)
                    except httpx.HTTPError as exc:
                        raise _fail(f"live capture: {exc}") from exc
                    tick(k + 1)
                    rest = seconds_per_period - (time.monotonic() - began)
                    if rest > 0:
                        time.sleep(rest)
        else:
            chunk = max(1, periods // 50)
            for k in range(0, periods, chunk):
                world.run(min(chunk, periods - k))
                tick(min(k + chunk, periods))
    counts = {c: len(e) for c, e in world.events().items()}
    paths: dict[str, Path] = {}
    if out is not None:
        paths = write_epcis_files(world, out)
    if as_json:
        _print_json(
            {
                "level": "flow",
                "network": network.name,
                "periods": periods,
                "seed": seed,
                "start": world.start.isoformat(),
                "end": world.now.isoformat(),
                "events": world.event_count(),
                "companies": [
                    {
                        "company": c,
                        "events": n,
                        "file": str(paths[c]) if c in paths else None,
                        "node": targets[c].url if c in targets else None,
                    }
                    for c, n in counts.items()
                ],
                "capture_jobs": jobs,
            }
        )
        return
    table = Table(
        title=f"{network.name}: the world, {periods:,} {network.period}s from "
        f"{world.start:%Y-%m-%d %H:%M} UTC, seed {seed}",
        title_justify="left",
    )
    table.add_column("company")
    table.add_column("EPCIS events", justify="right")
    table.add_column("written to")
    for c, n in counts.items():
        where = str(paths[c]) if c in paths else (targets[c].url if c in targets else "—")
        table.add_row(c, f"{n:,}", where)
    console.print(table)
    if jobs:
        console.print(f"{len(jobs)} capture jobs accepted by the nodes")


# --- calibrate --------------------------------------------------------------------------------


def calibrate(
    store: Annotated[
        Path,
        typer.Option(
            "--store",
            "-s",
            envvar="KEIRETSU_STORE",
            help="The node's store to calibrate from (a DuckDB file).",
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Where to write the model file (TOML).")
    ] = Path("model.toml"),
    period: Annotated[
        str, typer.Option(help="What one period of the model is: hour, shift, day, week, month.")
    ] = "day",
    replications: Annotated[
        int,
        typer.Option(
            "--replications", "-r", help="Runs of the calibrated model in the validation."
        ),
    ] = 99,
    seed: SeedOption = 0,
    outside_lead_time: Annotated[
        float,
        typer.Option(
            help="Lead time of outside suppliers, in periods (not in the events: no order events)."
        ),
    ] = 1.0,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Fit a network model from a node's store (its EPCIS events alone), write the model file,
    and print the fits and the validation (the calibrated model's lead times against the
    store's)."""
    from keiretsu.sim.calibrate import calibrate_store

    if not store.exists():
        raise _fail(f"--store {store}: no store here (run `keiretsu ingest` first)")
    if replications < 1:
        raise _fail(f"--replications: expected at least 1, not {replications}")
    with _spinner(
        f"calibrating from {store} and validating over {replications} runs", quiet or as_json
    ):
        try:
            text, fits, check = calibrate_store(
                store,
                period=period,
                replications=replications,
                seed=seed,
                outside_lead_time=outside_lead_time,
            )
        except DocumentError as exc:
            raise _refused(exc) from exc
        except (ValueError, OSError) as exc:
            raise _fail(f"--store {store}: {exc}") from exc
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    if as_json:
        _print_json({"model": str(out), "fits": fits.to_json(), "validation": check.to_json()})
        return
    ft = Table(title=f"Fits (written to {out})", title_justify="left")
    for col in ("quantity", "subject", "n", "family", "mean", "sd", "unit", "KS p"):
        ft.add_column(col, justify="right" if col in ("n", "mean", "sd", "KS p") else "left")
    for r in fits.to_pylist():
        ft.add_row(
            str(r["quantity"]),
            str(r["subject"]),
            _fmt(r["n"]),
            str(r["family"]),
            _fmt(r["mean"]),
            _fmt(r["sd"]),
            str(r["unit"]),
            _fmt(r["ks_pvalue"], 2),
        )
    console.print(ft)
    vt = Table(
        title="Validation: the calibrated model's lead times against the store's",
        title_justify="left",
    )
    for col in ("test", "distance", "p-value", "store mean h", "model mean h", "rejected at 5%"):
        vt.add_column(col, justify="left" if col == "test" else "right")
    for r in check.to_pylist():
        vt.add_row(
            str(r["test"]),
            _fmt(r["distance"], 3),
            _fmt(r["p_value"], 2),
            _fmt(r["observed_mean_hours"]),
            _fmt(r["simulated_mean_hours"]),
            "[red]yes" if r["rejected_at_5pct"] else "[green]no",
        )
    console.print(vt)
    for note in check.notes:
        console.print(f"[dim]· {note}[/]", highlight=False)


# --- scenario compare -------------------------------------------------------------------------


@scenario_app.command("compare")
def scenario_compare(
    model: Annotated[
        Path, typer.Argument(help="The model file with its [variants.<name>] tables (TOML).")
    ],
    variant: Annotated[
        list[str] | None,
        typer.Option(
            "--variant",
            "-v",
            help="A variant to compare (repeat the option; default: all of them).",
        ),
    ] = None,
    periods: PeriodsOption = 365,
    replications: Annotated[
        int,
        typer.Option(
            "--replications", "-r", help="Replications, each variant on the baseline's demand."
        ),
    ] = 1000,
    seed: SeedOption = 0,
    engine: Annotated[
        str, typer.Option(help="local (processes on this machine) or spark.")
    ] = "local",
    workers: Annotated[
        int | None, typer.Option(help="Local processes (default: one per core).")
    ] = None,
    svg: Annotated[
        Path | None,
        typer.Option("--svg", help="Write the differences with their intervals as SVG."),
    ] = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Each variant against the baseline, KPI by KPI: baseline, variant, difference, %, its
    confidence interval and whether it is significant (common random numbers)."""
    from keiretsu.sim.scenario import compare, read_scenarios

    if engine not in ("local", "spark"):
        raise _fail(f"--engine: expected local or spark, not {engine!r}")
    if replications < 2:
        raise _fail(f"--replications: expected at least 2 (for an interval), not {replications}")
    try:
        network, variants = read_scenarios(model)
    except DocumentError as exc:
        raise _refused(exc) from exc
    names = variant or list(variants)
    missing = [n for n in names if n not in variants]
    if missing:
        raise _fail(
            f"{model}: no variant {missing[0]!r} (expected one of "
            f"{', '.join(variants) or 'none: add [variants.<name>] tables'})"
        )
    if not names:
        raise _fail(f"{model}: no [variants.<name>] tables to compare")
    with _spinner(
        f"{len(names)} variant(s) × {replications:,} replications on {engine}", quiet or as_json
    ):
        try:
            result = compare(
                network,
                [variants[n] for n in names],
                periods=periods,
                replications=replications,
                seed=seed,
                engine=engine,  # type: ignore[arg-type]
                workers=workers,
            )
        except ValueError as exc:
            raise _fail(str(exc)) from exc
    if svg is not None:
        svg.parent.mkdir(parents=True, exist_ok=True)
        svg.write_text(result.to_svg(), encoding="utf-8")
    if as_json:
        data = result.to_json()
        data["svg"] = None if svg is None else str(svg)
        _print_json(data)
        return
    table = Table(
        title=f"{result.network}: variants against the baseline, {result.replications:,} "
        f"replications × {result.periods:,} {result.period}s, seed {result.seed}",
        title_justify="left",
    )
    for col in (
        "variant",
        "kpi",
        "scope",
        "baseline",
        "variant ",
        "difference",
        "%",
        "interval",
        "significant",
    ):
        table.add_column(
            col.strip(), justify="left" if col in ("variant", "kpi", "scope", "unit") else "right"
        )
    for r in result.table.to_pylist():
        interval = f"{_fmt(r['ci_low'])} … {_fmt(r['ci_high'])}"
        table.add_row(
            r["variant"],
            r["kpi"],
            r["scope"],
            _fmt(r["baseline"]),
            _fmt(r["value"]),
            _fmt(r["difference"]),
            _fmt(r["pct"], 3),
            interval,
            "[bold]yes" if r["significant"] else "no",
        )
    console.print(table)
    for note in result.notes:
        console.print(f"[dim]· {note}[/]", highlight=False)
    if svg is not None:
        console.print(f"Differences plotted to [bold]{svg}[/]")


# --- optimize ---------------------------------------------------------------------------------


def optimize(
    model: ModelArgument,
    scope: Annotated[
        str,
        typer.Option(
            help="network: one objective over the whole chain; local: each company its own cost."
        ),
    ] = "network",
    exact: Annotated[
        bool,
        typer.Option(
            "--exact",
            help="The exact optimum of a serial chain (Clark–Scarf, Chen–Zheng) instead of "
            "a search.",
        ),
    ] = False,
    fill_rate: Annotated[
        float | None,
        typer.Option(
            "--fill-rate", help="Keep the end customers' fill rate at least this share (e.g. 0.95)."
        ),
    ] = None,
    periods: PeriodsOption = 300,
    replications: Annotated[
        int, typer.Option("--replications", "-r", help="Replications per candidate.")
    ] = 200,
    seed: SeedOption = 0,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write the model with the policies found (TOML)."),
    ] = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """The inventory policies of lowest expected total cost per period: the exact serial
    optimum (--exact), or a simulation-based search under a fill-rate target, for the whole
    network or company by company."""
    if scope not in ("local", "network"):
        raise _fail(f"--scope: expected local or network, not {scope!r}")
    if fill_rate is not None and not 0 < fill_rate <= 1:
        raise _fail(f"--fill-rate: expected a share above 0, at most 1, not {fill_rate}")
    network = _load(model)
    if exact:
        _optimize_exact(network, model, fill_rate, out, as_json)
        return
    from keiretsu.optimize.simopt import optimize_network, parameters_of

    with _spinner(f"searching the policies ({scope} scope)", quiet or as_json):
        try:
            found = optimize_network(
                network,
                scope=scope,  # type: ignore[arg-type]
                fill_rate=fill_rate,
                periods=periods,
                replications=replications,
                seed=seed,
            )
        except ValueError as exc:
            raise _fail(str(exc)) from exc
    if out is not None:
        out.write_text(found.network.to_toml(), encoding="utf-8")
    stages = []
    for buffer, policy in found.policies.items():
        names, values = parameters_of(policy)
        stage: dict[str, Any] = {"buffer": buffer, "policy": policy.kind}
        stage.update(dict(zip(names, values, strict=True)))
        stage["cost_per_period"] = _estimate(found.evaluation.stages[buffer]["cost"])
        stage["fill_rate"] = _estimate(found.evaluation.stages[buffer]["fill_rate"])
        stages.append(stage)
    cost, fill = _estimate(found.cost), _estimate(found.fill_rate)
    if as_json:
        _print_json(
            {
                "method": "simulation",
                "scope": scope,
                "fill_rate_target": fill_rate,
                "stages": stages,
                "expected_cost_per_period": cost,
                "fill_rate": fill,
                "in_sample_cost_per_period": found.in_sample_cost,
                "evaluations": found.evaluations,
                "seconds": found.seconds,
                "model": None if out is None else str(out),
            }
        )
        return
    table = Table(
        title=f"{network.name}: policies found ({scope} scope"
        + (f", fill rate ≥ {fill_rate:g}" if fill_rate else "")
        + f"), {found.evaluations} simulations",
        title_justify="left",
    )
    for col in ("buffer", "policy", "parameters", "cost per period", "fill rate"):
        table.add_column(
            col, justify="right" if col in ("cost per period", "fill rate") else "left"
        )
    for s in stages:
        params = ", ".join(
            f"{k} {v:,.4g}"
            for k, v in s.items()
            if k not in ("buffer", "policy", "cost_per_period", "fill_rate")
        )
        table.add_row(
            s["buffer"],
            s["policy"],
            params,
            _fmt(s["cost_per_period"]["mean"]),
            _fmt(s["fill_rate"]["mean"], 3),
        )
    console.print(table)
    console.print(
        f"Expected total cost per {network.period}: [bold]{_fmt(cost['mean'])}[/] "
        f"(95% interval {_fmt(cost['low'])} … {_fmt(cost['high'])}, evaluated on "
        f"{found.evaluation.replications:,} fresh replications); end customers' fill rate "
        f"{_fmt(fill['mean'], 3)}"
    )
    if out is not None:
        console.print(f"Model with these policies written to [bold]{out}[/]")


def _estimate(e: Estimate) -> dict[str, Any]:
    return {
        "mean": _num(e.mean),
        "low": _num(e.low),
        "high": _num(e.high),
        "replications": e.replications,
    }


def _optimize_exact(
    network: Network, model: Path, fill_rate: float | None, out: Path | None, as_json: bool
) -> None:
    from keiretsu.optimize import optimize_serial

    if fill_rate is not None:
        raise _fail(
            "--fill-rate: the exact optimum minimizes cost with backorders; drop --exact to "
            "keep a fill rate"
        )
    try:
        best = optimize_serial(network)
    except (ValueError, ArithmeticError) as exc:
        raise _fail(f"{model}: {exc}") from exc
    if out is not None:
        out.write_text(network.with_policies(dict(best.policies())).to_toml(), encoding="utf-8")
    stages = [
        {"buffer": b, "policy": "echelon_base_stock", "level": e, "local_level": loc}
        for b, e, loc in zip(best.stages, best.echelon_levels, best.local_levels, strict=True)
    ]
    if as_json:
        _print_json(
            {
                "method": "exact",
                "scope": "network",
                "stages": stages,
                "expected_cost_per_period": best.cost,
                "model": None if out is None else str(out),
            }
        )
        return
    table = Table(
        title=f"{network.name}: exact optimum (Clark–Scarf, Chen–Zheng), customer-facing "
        "stage first",
        title_justify="left",
    )
    table.add_column("buffer")
    table.add_column("echelon base-stock level", justify="right")
    table.add_column("installation level", justify="right")
    for s in stages:
        table.add_row(str(s["buffer"]), f"{s['level']:,.4f}", f"{s['local_level']:,.4f}")
    console.print(table)
    console.print(f"Expected total cost per {network.period}: [bold]{best.cost:,.4f}[/]")
    if out is not None:
        console.print(f"Model with these policies written to [bold]{out}[/]")


def register(app: typer.Typer) -> None:
    """Hang the commands on the ``keiretsu`` app."""
    app.command("simulate")(simulate)
    app.command("calibrate")(calibrate)
    app.command("optimize")(optimize)
    app.add_typer(scenario_app, name="scenario")
