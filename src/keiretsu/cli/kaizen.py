"""``keiretsu kaizen …``: the kaizen loop from the command line — plan an experiment, let the
twin predict it, put it on the floor, check it, adopt or abandon it; list and show them (the
A3), ask for suggestions and for what was learnt, and draw the improvement curve.

Thin: each command calls :mod:`keiretsu.kaizen` on the node's store (``--store``, default
``.keiretsu/twin.duckdb`` or ``KEIRETSU_STORE``; a node's store is the file its home sits
beside) and shows the result as Rich tables or Markdown, or as JSON with ``--json``. A refused
move, an unknown experiment or a bad option is one line on stderr and exit status 2, never a
traceback. While a node server holds the store, use its routes (``/twin/kaizen``) instead.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.console import Console
from rich.markdown import Markdown
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from keiretsu.model import DocumentError
from keiretsu.twin import DEFAULT_STORE

if TYPE_CHECKING:
    from keiretsu.analytics.rates import Rates
    from keiretsu.analytics.view import View
    from keiretsu.kaizen import Experiment
    from keiretsu.store import Store

__all__ = ["kaizen_app"]

kaizen_app = typer.Typer(
    help="The kaizen loop: experiments (plan, do, check, act), suggestions, lessons and the "
    "improvement curve.",
    no_args_is_help=True,
)

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
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
IdArgument = Annotated[str, typer.Argument(help="The experiment's id (kz-…).")]
ByOption = Annotated[str, typer.Option("--by", help="Who does it (kept with the move).")]
AtOption = Annotated[
    str | None,
    typer.Option(
        "--at",
        help="When it happened, ISO 8601 (e.g. 2026-11-02T08:00+09:00; no offset: UTC). "
        "Default: now.",
    ),
]
NoteOption = Annotated[str | None, typer.Option("--note", help="A word on the move.")]
RatesOption = Annotated[
    Path | None,
    typer.Option("--rates", help="The node's cost rates (TOML) for pricing the waste."),
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No spinner.")]


class _Refused(Exception):
    """A command's input refused: the message is the one line printed."""


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[bold red]error[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(2)


@contextmanager
def _errors() -> Iterator[None]:
    """Every refusal as one line on stderr and exit status 2."""
    import duckdb

    from keiretsu.kaizen import KaizenError
    from keiretsu.store import StoreError

    try:
        yield
    except typer.Exit:
        raise
    except DocumentError as exc:
        for problem in exc.problems or []:
            err_console.print(f"[bold red]error[/] {problem}", highlight=False, soft_wrap=True)
        if not exc.problems:
            err_console.print(f"[bold red]error[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from exc
    except (_Refused, KaizenError, StoreError, ValueError, OSError) as exc:
        raise _fail(_escape(str(exc))) from exc
    except duckdb.Error as exc:
        raise _fail(_escape(f"the store could not answer: {exc}")) from exc


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


@contextmanager
def _store(path: Path, *, read_only: bool = False) -> Iterator[Store]:
    from keiretsu.store import Store

    if read_only and not path.exists():
        raise _Refused(f"{path}: no store here (run `keiretsu ingest` first, or give --store)")
    store = Store(path, read_only=read_only)
    try:
        yield store
    finally:
        store.close()


@contextmanager
def _spinner(text: str, quiet: bool) -> Iterator[None]:
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


def _plain(value: Any) -> Any:
    """JSON-ready: times as ISO 8601, NaN and infinities as null."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _print_json(data: Any) -> None:
    print(json.dumps(_plain(data), indent=2, default=str, allow_nan=False))


def _when(text: str | None, option: str = "--at") -> datetime | None:
    if text is None:
        return None
    try:
        t = datetime.fromisoformat(text)
    except ValueError as exc:
        raise _Refused(
            f"{option} {text!r}: not an ISO 8601 date or time (e.g. 2026-11-02T08:00+00:00)"
        ) from exc
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def _rates(path: Path | None) -> Rates | None:
    if path is None:
        return None
    from keiretsu.analytics.rates import Rates

    return Rates.from_toml(path)


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, float):
        return f"{value:,.{digits}g}"
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    return str(value)


def _table(title: str, rows: list[dict[str, Any]], columns: list[str]) -> Table:
    out = Table(title=title, title_justify="left")
    for c in columns:
        out.add_column(c)
    for r in rows:
        out.add_row(*(_escape(_fmt(r.get(c))) for c in columns))
    return out


def _summary(exp: Experiment) -> dict[str, Any]:
    """What a command that wrote or moved an experiment answers with."""
    return {
        "experiment_id": exp.experiment_id,
        "title": exp.title,
        "status": exp.status,
        "status_at": exp.status_at,
        "next_moves": exp.next_moves,
        "waste": exp.waste,
        "kind": exp.kind,
        "target": {
            "metric": exp.target.metric,
            "scope": exp.target.scope,
            "direction": exp.target.direction,
            "value": exp.target.value,
            "unit": exp.target.unit,
        },
        "owner": exp.owner,
    }


def _show_summary(exp: Experiment, as_json: bool) -> None:
    if as_json:
        _print_json(_summary(exp))
        return
    where = ", ".join(exp.next_moves) or "nowhere (final)"
    console.print(
        f"[bold]{_escape(exp.experiment_id)}[/] {_escape(exp.title)}: [bold]{exp.status}[/] "
        f"since {exp.status_at:%Y-%m-%d %H:%M} UTC (next: {where})",
        highlight=False,
        soft_wrap=True,
    )


# --- new ----------------------------------------------------------------------------------


def _value(text: str) -> Any:
    """A change's value as TOML reads it (``30``, ``2.5``, ``"kanban"``, ``["orders"]``),
    else the text as written."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _changes(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise _Refused(
                f"--change {item!r}: expected PATH=VALUE, e.g. buffer.shop.policy.level=30"
            )
        out[key.strip()] = _value(value.strip())
    return out


_FILE_KEYS = {
    "title",
    "problem",
    "waste",
    "hypothesis",
    "kind",
    "owner",
    "id",
    "countermeasure",
    "target",
    "evidence",
    "notes",
    "target_days",
}


def _from_file(path: Path) -> dict[str, Any]:
    """An experiment written as TOML: title, problem, waste, hypothesis, kind, owner, id,
    ``[countermeasure]`` (name, ``[countermeasure.changes]``), ``[target]`` (metric, scope,
    direction, value, unit), ``evidence`` (true: from the waste's evidence view),
    ``target_days`` (Inventory's target days of supply, for that view), ``[notes]`` (A3
    sections)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise _Refused(f"{path}: not TOML: {exc}") from exc
    unknown = sorted(set(data) - _FILE_KEYS)
    if unknown:
        raise _Refused(
            f"{path}: unknown key(s) {', '.join(unknown)} "
            f"(expected {', '.join(sorted(_FILE_KEYS))})"
        )
    for table in ("countermeasure", "target", "notes"):
        if table in data and not isinstance(data[table], dict):
            raise _Refused(f"{path}: {table} must be a table ([{table}])")
    return data


def new(
    title: Annotated[str | None, typer.Option(help="What the experiment is about.")] = None,
    problem: Annotated[str | None, typer.Option(help="What hurts, in the team's words.")] = None,
    hypothesis: Annotated[
        str | None, typer.Option(help="If we make this change, the target moves this way.")
    ] = None,
    waste: Annotated[
        str | None,
        typer.Option(
            help="Which waste: transport, inventory, motion, waiting, overproduction, "
            "overprocessing, defects, skills."
        ),
    ] = None,
    kind: Annotated[
        str | None, typer.Option(help="What the change changes: parameter, policy, information.")
    ] = None,
    change: Annotated[
        list[str] | None,
        typer.Option(
            "--change",
            help="The countermeasure as a change of the twin's model, PATH=VALUE "
            "(buffer.shop.policy.level=30; repeat the option).",
        ),
    ] = None,
    variant: Annotated[
        str | None, typer.Option(help="The countermeasure's name (default: the id).")
    ] = None,
    metric: Annotated[
        str | None, typer.Option(help="The target metric (on_hand, fill_rate, cost, …).")
    ] = None,
    scope: Annotated[
        str | None, typer.Option(help="Where: 'network' or a buffer (default network).")
    ] = None,
    direction: Annotated[str | None, typer.Option(help="decrease (default) or increase.")] = None,
    target_value: Annotated[
        float | None, typer.Option("--target-value", help="The level aimed at.")
    ] = None,
    unit: Annotated[str | None, typer.Option(help="The target's unit.")] = None,
    owner: Annotated[str | None, typer.Option(help="Who owns the target metric.")] = None,
    evidence: Annotated[
        bool,
        typer.Option(
            "--evidence/--no-evidence",
            help="Take the evidence (steps, objects, events, locations) from the waste's "
            "evidence view of the store's log.",
        ),
    ] = True,
    target_days: Annotated[
        float | None,
        typer.Option(
            "--target-days",
            help="Inventory's target days of supply, for its evidence (stock above it).",
        ),
    ] = None,
    experiment_id: Annotated[
        str | None, typer.Option("--id", help="The experiment's id (default kz-<12 hex>).")
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            "-f",
            help="The experiment as a TOML file (the same keys; [countermeasure] with "
            "name and [countermeasure.changes], [target], [notes]); options override it.",
        ),
    ] = None,
    from_suggestion: Annotated[
        int | None,
        typer.Option(
            "--from-suggestion",
            help="Make it from the suggestion ranked N (from --suggestions, else suggest "
            "is run again: same store and seed, same ranking).",
        ),
    ] = None,
    suggestions: Annotated[
        Path | None,
        typer.Option(help="The JSON `keiretsu kaizen suggest --json` printed (or its --out)."),
    ] = None,
    rates: RatesOption = None,
    store: StoreOption = DEFAULT_STORE,
    by: ByOption = "local",
    at: AtOption = None,
    quiet: QuietOption = False,
    as_json: JsonOption = False,
) -> None:
    """Plan a new experiment: the problem, its waste and evidence, the hypothesis, the
    countermeasure as a change of the twin's model, the target metric and its owner."""
    from keiretsu.analytics.log import Log
    from keiretsu.analytics.waste import waste_evidence
    from keiretsu.kaizen import Target, evidence_from, new_experiment, write
    from keiretsu.sim.scenario import Variant

    with _errors():
        when = _when(at)
        node_rates = _rates(rates)
        if from_suggestion is not None:
            if owner is None:
                raise _Refused("--owner: an experiment needs the owner of its target metric")
            with _store(store) as s:
                row = _suggestion(s, from_suggestion, suggestions, node_rates, quiet)
                from keiretsu.kaizen import experiment_from_suggestion

                exp = experiment_from_suggestion(
                    s,
                    row,
                    owner=owner,
                    title=title,
                    problem=problem,
                    hypothesis=hypothesis,
                    rates=node_rates,
                    by=by,
                    at=when,
                    experiment_id=experiment_id,
                )
            _show_summary(exp, as_json)
            return
        spec = _from_file(file) if file is not None else {}
        cm = dict(spec.get("countermeasure", {}))
        tg = dict(spec.get("target", {}))
        changes = dict(cm.get("changes", {}))
        changes.update(_changes(change or []))
        fields = {
            "title": title or spec.get("title"),
            "problem": problem or spec.get("problem"),
            "hypothesis": hypothesis or spec.get("hypothesis"),
            "owner": owner or spec.get("owner"),
            "metric": metric or tg.get("metric"),
        }
        missing = [f"--{k}" for k, v in fields.items() if not v]
        if missing:
            raise _Refused(f"a new experiment needs {', '.join(missing)} (or --file)")
        if not changes:
            raise _Refused(
                "a new experiment needs its countermeasure: --change PATH=VALUE (or "
                "[countermeasure.changes] in --file)"
            )
        the_waste = waste or spec.get("waste")
        eid = experiment_id or spec.get("id")
        with _store(store) as s:
            found = None
            if the_waste is not None and evidence and spec.get("evidence", True):
                with _spinner(f"the evidence of {the_waste}", quiet):
                    view = waste_evidence(
                        Log.from_connection(s.con),
                        the_waste,
                        node_rates,
                        target_days=target_days
                        if target_days is not None
                        else spec.get("target_days"),
                    )
                found = evidence_from(view)
            exp = new_experiment(
                s,
                title=str(fields["title"]),
                problem=str(fields["problem"]),
                hypothesis=str(fields["hypothesis"]),
                waste=the_waste,
                evidence=found,
                kind=kind or spec.get("kind", "parameter"),
                countermeasure=Variant(
                    variant or cm.get("name") or eid or "countermeasure", changes
                ),
                target=Target(
                    metric=str(fields["metric"]),
                    scope=scope or tg.get("scope", "network"),
                    direction=_direction(direction or tg.get("direction", "decrease")),
                    value=target_value if target_value is not None else tg.get("value"),
                    unit=unit or tg.get("unit"),
                ),
                owner=str(fields["owner"]),
                by=by,
                at=when,
                experiment_id=eid,
            )
            for section, text in dict(spec.get("notes", {})).items():
                exp = write(s, exp.experiment_id, section, str(text), by=by, at=when)
        _show_summary(exp, as_json)


def _direction(text: Any) -> Literal["decrease", "increase"]:
    if text == "decrease":
        return "decrease"
    if text == "increase":
        return "increase"
    raise _Refused(f"--direction {text!r}: expected decrease or increase")


def _suggestion(
    s: Store, rank: int, path: Path | None, rates: Rates | None, quiet: bool
) -> dict[str, Any]:
    if path is not None:
        data = json.loads(path.read_text(encoding="utf-8"))
        rows = data.get("rows", []) if isinstance(data, dict) else data
    else:
        from keiretsu.kaizen import suggest

        with _spinner("suggestions (simulated on the twin)", quiet):
            rows = suggest(s, rates=rates).to_json()["rows"]
    for row in rows:
        if row.get("rank") == rank:
            return dict(row)
    raise _Refused(
        f"--from-suggestion {rank}: no suggestion ranked {rank} (ranks 1 to {len(rows)})"
        if rows
        else "no suggestions to choose from"
    )


# --- the moves -----------------------------------------------------------------------------


def _names(items: list[str] | None) -> dict[str, str]:
    """``--name SITE=NAME`` options as a mapping (the site's id may itself hold '=')."""
    names: dict[str, str] = {}
    for item in items or []:
        site, sep, readable = item.rpartition("=")
        if not sep or not site or not readable:
            raise _Refused(f"--name {item!r}: expected SITE=NAME")
        names[site] = readable
    return names


def simulate(
    experiment_id: IdArgument,
    replications: Annotated[
        int, typer.Option("--replications", "-r", help="Paired replications.")
    ] = 256,
    periods: Annotated[int, typer.Option("--periods", "-p", help="Periods per run.")] = 200,
    seed: Annotated[int, typer.Option(help="Seed of every random draw.")] = 0,
    model: Annotated[
        Path | None,
        typer.Option(help="A network model (TOML) as the baseline, instead of the twin's own."),
    ] = None,
    name: Annotated[
        list[str] | None,
        typer.Option(
            "--name",
            help="A readable name for a site of the store, SITE=NAME (repeat the option).",
        ),
    ] = None,
    workers: Annotated[int, typer.Option(help="Processes for the replications.")] = 1,
    store: StoreOption = DEFAULT_STORE,
    by: ByOption = "local",
    at: AtOption = None,
    quiet: QuietOption = False,
    as_json: JsonOption = False,
) -> None:
    """Predict the experiment's effect on its target metric with the twin's model (common
    random numbers) and keep the prediction; a planned experiment becomes simulated."""
    from keiretsu.kaizen import load, predict

    with _errors():
        when = _when(at)
        names = _names(name)
        baseline = None
        if model is not None:
            from keiretsu.sim.model import Network

            baseline = Network.load(model)
        with _store(store) as s:
            with _spinner(f"predicting {experiment_id}", quiet):
                view = predict(
                    s,
                    experiment_id,
                    model=baseline,
                    replications=replications,
                    periods=periods,
                    seed=seed,
                    workers=workers,
                    names=names or None,
                    by=by,
                    at=when,
                )
            exp = load(s, experiment_id)
        row = view.to_json()["rows"][0]
        if as_json:
            _print_json({"experiment_id": experiment_id, "status": exp.status, **row})
            return
        console.print(
            _table(
                f"Predicted impact of {experiment_id}",
                [row],
                ["kpi", "scope", "unit", "baseline", "difference", "ci_low", "ci_high", "pct"],
            )
        )
        console.print(f"status: [bold]{exp.status}[/]", highlight=False)
        for n in view.notes:
            console.print(f"[dim]{_escape(n)}[/]")


def _move(
    experiment_id: str,
    status: str,
    store: Path,
    by: str,
    note: str | None,
    at: str | None,
    as_json: bool,
) -> None:
    from keiretsu.kaizen import move

    with _errors():
        when = _when(at)
        with _store(store) as s:
            exp = move(s, experiment_id, status, by=by, note=note, at=when)
        _show_summary(exp, as_json)


def start(
    experiment_id: IdArgument,
    store: StoreOption = DEFAULT_STORE,
    note: NoteOption = None,
    by: ByOption = "local",
    at: AtOption = None,
    as_json: JsonOption = False,
) -> None:
    """The change is on the floor (do): the experiment moves to running."""
    _move(experiment_id, "running", store, by, note, at, as_json)


def adopt(
    experiment_id: IdArgument,
    store: StoreOption = DEFAULT_STORE,
    note: NoteOption = None,
    by: ByOption = "local",
    at: AtOption = None,
    as_json: JsonOption = False,
) -> None:
    """The change becomes the new standard (act): a checked experiment moves to adopted."""
    _move(experiment_id, "adopted", store, by, note, at, as_json)


def abandon(
    experiment_id: IdArgument,
    why: Annotated[str, typer.Option("--why", help="Why it is dropped (kept: a lesson).")],
    store: StoreOption = DEFAULT_STORE,
    by: ByOption = "local",
    at: AtOption = None,
    as_json: JsonOption = False,
) -> None:
    """Drop the experiment, saying why (from any status not final)."""
    if not why.strip():
        raise _fail("--why: say why it is abandoned (what did not work is the lesson)")
    _move(experiment_id, "abandoned", store, by, why, at, as_json)


def check(
    experiment_id: IdArgument,
    metric: Annotated[
        str | None,
        typer.Option(help="The measured metric (default: the experiment's own target)."),
    ] = None,
    scope: Annotated[
        str | None, typer.Option(help="Where it is measured (a step, a company).")
    ] = None,
    change_at: Annotated[
        str | None,
        typer.Option(
            "--change-at",
            help="When the change went to the floor, ISO 8601 (default: its move to running).",
        ),
    ] = None,
    control: Annotated[
        list[str] | None,
        typer.Option(
            "--control", help="A step or company that did not change (repeat the option)."
        ),
    ] = None,
    freq: Annotated[str, typer.Option(help="Period of the series (D: a day, W: a week).")] = "D",
    alpha: Annotated[float, typer.Option(help="Significance level.")] = 0.05,
    object_type: Annotated[
        str | None,
        typer.Option("--object-type", help="Whose events (default: the most frequent type)."),
    ] = None,
    name: Annotated[
        list[str] | None,
        typer.Option(
            "--name",
            help="A readable name for a location of the store, SITE=NAME (repeat the option).",
        ),
    ] = None,
    advance: Annotated[
        bool,
        typer.Option("--advance/--no-advance", help="Move a running experiment to checked."),
    ] = True,
    store: StoreOption = DEFAULT_STORE,
    by: ByOption = "local",
    at: AtOption = None,
    quiet: QuietOption = False,
    as_json: JsonOption = False,
) -> None:
    """Measure the change's effect on the real events (interrupted time series, or
    difference-in-differences against controls), keep it, and move running → checked."""
    from keiretsu.kaizen import load
    from keiretsu.kaizen.check import check as measure

    with _errors():
        when = _when(at)
        changed = _when(change_at, "--change-at")
        names = _names(name)
        with _store(store) as s:
            with _spinner(f"measuring {experiment_id}", quiet):
                view = measure(
                    s,
                    experiment_id,
                    metric=metric,
                    scope=scope,
                    change_at=changed,
                    control=control or None,
                    freq=freq,
                    alpha=alpha,
                    advance=advance,
                    by=by,
                    at=when,
                    object_type=object_type,
                    names=names or None,
                )
            exp = load(s, experiment_id)
        out = view.to_json()
        if as_json:
            _print_json({"experiment_id": experiment_id, "status": exp.status, **out})
            return
        rows = out["rows"]
        columns = [
            c
            for c in ("metric", "scope", "method", "effect", "low", "high", "p_value", "mde")
            if rows and c in rows[0]
        ]
        console.print(_table(f"Measured impact of {experiment_id}", rows, columns))
        for r in rows:
            console.print(f"verdict: {_escape(str(r.get('verdict')))}", highlight=False)
        console.print(f"status: [bold]{exp.status}[/]", highlight=False)
        for n in out["notes"]:
            console.print(f"[dim]{_escape(n)}[/]")


def note(
    experiment_id: IdArgument,
    section: Annotated[
        str,
        typer.Argument(help="The A3 section: background, root_cause, plan, results, standardize."),
    ],
    text: Annotated[str, typer.Argument(help="What to write (earlier text of it is kept).")],
    store: StoreOption = DEFAULT_STORE,
    by: ByOption = "local",
    at: AtOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write one of the A3's sections (the earlier text of it stays in the notes)."""
    from keiretsu.kaizen import write

    with _errors():
        when = _when(at)
        with _store(store) as s:
            exp = write(s, experiment_id, section, text, by=by, at=when)
        _show_summary(exp, as_json)


# --- reading -------------------------------------------------------------------------------


def list_(
    status: Annotated[str | None, typer.Option(help="Only experiments in this status.")] = None,
    store: StoreOption = DEFAULT_STORE,
    as_json: JsonOption = False,
) -> None:
    """Every experiment of the node, oldest first, with where it stands."""
    from keiretsu.kaizen import STATUSES, experiments

    with _errors():
        if status is not None and status not in STATUSES:
            raise _Refused(f"--status {status!r}: expected one of {', '.join(STATUSES)}")
        with _store(store, read_only=True) as s:
            view = experiments(s)
        rows = [r for r in view.to_pylist() if status is None or r["status"] == status]
        if as_json:
            _print_json({"view": view.name, "notes": list(view.notes), "rows": rows})
            return
        console.print(
            _table(
                "Kaizen experiments",
                rows,
                [
                    "experiment_id",
                    "title",
                    "waste",
                    "target_metric",
                    "owner",
                    "status",
                    "status_at",
                ],
            )
        )


def show(
    experiment_id: IdArgument,
    store: StoreOption = DEFAULT_STORE,
    as_json: JsonOption = False,
) -> None:
    """The experiment's A3: Markdown, or its dictionary with --json."""
    from keiretsu.kaizen import a3, load, render_a3

    with _errors():
        with _store(store, read_only=True) as s:
            exp = load(s, experiment_id)
            page = a3(exp, store=s)
        if as_json:
            _print_json(page)
            return
        console.print(Markdown(render_a3(_plain(page))))


def suggest(
    replications: Annotated[
        int, typer.Option("--replications", "-r", help="Paired replications per candidate.")
    ] = 64,
    periods: Annotated[int, typer.Option("--periods", "-p", help="Periods per run.")] = 100,
    seed: Annotated[int, typer.Option(help="Seed of every random draw.")] = 0,
    limit: Annotated[int, typer.Option(help="At most this many suggestions.")] = 10,
    optimizer: Annotated[
        bool,
        typer.Option("--optimizer/--no-optimizer", help="Add the network-optimal levels."),
    ] = True,
    workers: Annotated[int, typer.Option(help="Processes for the replications.")] = 1,
    rates: RatesOption = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Also write the suggestions as JSON here (for "
            "`kaizen new --from-suggestion N --suggestions FILE`).",
        ),
    ] = None,
    store: StoreOption = DEFAULT_STORE,
    quiet: QuietOption = False,
    as_json: JsonOption = False,
) -> None:
    """Candidate countermeasures for the node's waste, simulated on its twin, ranked by money
    removed per unit of effort (each flagged with what was learnt from a like idea)."""
    from keiretsu.kaizen import suggest as make

    with _errors():
        node_rates = _rates(rates)
        with _store(store) as s, _spinner("suggestions (simulated on the twin)", quiet):
            view = make(
                s,
                rates=node_rates,
                replications=replications,
                periods=periods,
                seed=seed,
                limit=limit,
                optimizer=optimizer,
                workers=workers,
            )
        data = view.to_json()
        if out is not None:
            out.write_text(json.dumps(_plain(data), indent=2, allow_nan=False), encoding="utf-8")
        if as_json:
            _print_json(data)
            return
        console.print(
            _table(
                "Suggestions, best first",
                data["rows"],
                [
                    "rank",
                    "candidate_id",
                    "kind",
                    "waste",
                    "acts_on",
                    "money_removed",
                    "hours_removed",
                    "effort",
                    "tried",
                ],
            )
        )
        for n in data["notes"]:
            console.print(f"[dim]{_escape(n)}[/]")


def lessons(
    waste: Annotated[str | None, typer.Option(help="Only lessons about this waste.")] = None,
    step: Annotated[str | None, typer.Option(help="Only lessons about this step.")] = None,
    kind: Annotated[str | None, typer.Option(help="Only countermeasures of this kind.")] = None,
    status: Annotated[
        str | None, typer.Option(help="Only experiments that ended so (adopted, abandoned…).")
    ] = None,
    text: Annotated[str | None, typer.Option(help="Words to look for.")] = None,
    fetch: Annotated[
        bool,
        typer.Option(
            "--fetch",
            help="First ask the partners (partners.toml) for the lessons they share "
            "(signed requests); they also push them to a running node.",
        ),
    ] = False,
    partner: Annotated[
        list[str] | None,
        typer.Option("--partner", help="With --fetch: only this partner (repeat the option)."),
    ] = None,
    store: StoreOption = DEFAULT_STORE,
    as_json: JsonOption = False,
) -> None:
    """What was tried here and at the partners, what worked and what did not."""
    with _errors():
        from keiretsu.kaizen import lessons as module

        with _store(store, read_only=not fetch) as s:
            fetched = _fetch_lessons(s, partner) if fetch else None
            view = module.ask(s, waste=waste, step=step, kind=kind, status=status, text=text)
        data = view.to_json()
        if fetched is not None:
            data["fetched"] = _plain(fetched)
        if as_json:
            _print_json(data)
            return
        rows = data["rows"]
        columns = [
            c
            for c in ("source", "experiment_id", "title", "waste", "kind", "status", "result")
            if rows and c in rows[0]
        ]
        for f in fetched or []:
            said = f.get("error") or f"{f['read']} read, {f['new']} new, {f['known']} known"
            console.print(f"fetched from {_escape(f['partner'])}: {_escape(str(said))}")
        console.print(_table("Lessons", rows, columns))
        for n in data["notes"]:
            console.print(f"[dim]{_escape(n)}[/]")


def _fetch_lessons(s: Store, only: list[str] | None) -> list[dict[str, Any]]:
    """Ask each partner of the node (``partners.toml`` beside the store) for the lessons it
    shares with this node — a request signed with the node's key to its ``GET
    /partners/lessons`` — and keep them under the partner's name (checked whole; an identical
    copy adds nothing). One row per partner: ``partner``, ``read``/``new``/``known`` or
    ``error``. Partners also push their lessons to a running node by themselves."""
    import httpx

    from keiretsu.kaizen.lessons import receive
    from keiretsu.node.auth import sign_request
    from keiretsu.node.home import NodeError, NodeHome

    try:
        home = NodeHome.open(s.path)
        identity = home.identity()
        partners = home.partners()
    except NodeError as exc:
        raise _Refused(f"--fetch: {exc}") from exc
    unknown = sorted(set(only or ()) - set(partners))
    if unknown:
        raise _Refused(
            f"--partner {', '.join(unknown)}: not a partner of this node "
            f"(partners: {', '.join(sorted(partners)) or 'none'})"
        )
    path = "/partners/lessons"
    out: list[dict[str, Any]] = []
    for name in sorted(partners):
        if only and name not in only:
            continue
        partner = partners[name]
        token = sign_request(identity, audience=name, method="GET", path=path)
        try:
            answer = httpx.get(
                partner.url.rstrip("/") + path,
                headers={"Authorization": f"Bearer {token}"},
                timeout=30.0,
            )
            answer.raise_for_status()
            report = receive(s, name, answer.json().get("lessons", []))
        except (httpx.HTTPError, ValueError) as exc:
            out.append({"partner": name, "error": str(exc)})
            continue
        out.append({"partner": name, **report})
    return out


def curve(
    freq: Annotated[
        str, typer.Option(help="Period: W (a week), D (a day), '4 weeks'… (from Mondays, UTC).")
    ] = "W",
    scope: Annotated[
        str,
        typer.Option(
            help="node: this node's own events; network: its own and its partners' shared ones."
        ),
    ] = "node",
    start_at: Annotated[
        str | None, typer.Option("--from", help="First day, ISO 8601 (default: the first event).")
    ] = None,
    end_at: Annotated[
        str | None, typer.Option("--to", help="End (excluded), ISO 8601 (default: the last event).")
    ] = None,
    rates: RatesOption = None,
    svg: Annotated[
        Path | None, typer.Option("--svg", help="Also draw the curve into this SVG file.")
    ] = None,
    measure: Annotated[str, typer.Option(help="What the SVG draws: money or hours.")] = "money",
    store: StoreOption = DEFAULT_STORE,
    quiet: QuietOption = False,
    as_json: JsonOption = False,
) -> None:
    """The improvement curve: the waste of each period (hours and money, per waste and in
    total), the kaizen adopted along the way, and the gain since the first adoption."""
    from keiretsu.kaizen.curve import improvement_curve, render_svg

    with _errors():
        if scope not in ("node", "network"):
            raise _Refused(f"--scope {scope!r}: expected node or network")
        if measure not in ("money", "hours"):
            raise _Refused(f"--measure {measure!r}: expected money or hours")
        node_rates = _rates(rates)
        first, last = _when(start_at, "--from"), _when(end_at, "--to")
        with _store(store, read_only=True) as s, _spinner("the waste of each period", quiet):
            view = improvement_curve(
                s,
                freq=freq,
                rates=node_rates,
                scope=scope,  # type: ignore[arg-type]
                start=first,
                end=last,
            )
        if svg is not None:
            svg.write_text(render_svg(view, measure=measure), encoding="utf-8")  # type: ignore[arg-type]
        if as_json:
            _print_json(view.to_json())
            return
        _show_curve(view, svg)


def _show_curve(view: View, svg: Path | None) -> None:
    currency = view.meta.get("currency", "")
    out = Table(title=f"Improvement curve ({view.meta.get('scope')})", title_justify="left")
    for c, j in (
        ("period", "left"),
        ("events", "right"),
        ("hours", "right"),
        (f"money ({currency})", "right"),
        ("adopted", "left"),
        ("cumulative gain (h)", "right"),
        (f"cumulative gain ({currency})", "right"),
    ):
        out.add_column(c, justify=j)  # type: ignore[arg-type]
    for r in view.to_pylist():
        out.add_row(
            f"{r['period_start']:%Y-%m-%d}",
            f"{r['events']:,}",
            _fmt(r["hours"]),
            _fmt(r["money"]),
            ", ".join(r["adopted"]),
            _fmt(r["cumulative_gain_hours"]),
            _fmt(r["cumulative_gain_money"]),
        )
    console.print(out)
    for n in view.notes:
        console.print(f"[dim]{_escape(n)}[/]")
    if svg is not None:
        console.print(f"drawn: {svg}", highlight=False)


kaizen_app.command("new")(new)
kaizen_app.command("simulate")(simulate)
kaizen_app.command("start")(start)
kaizen_app.command("check")(check)
kaizen_app.command("adopt")(adopt)
kaizen_app.command("abandon")(abandon)
kaizen_app.command("note")(note)
kaizen_app.command("list")(list_)
kaizen_app.command("show")(show)
kaizen_app.command("suggest")(suggest)
kaizen_app.command("lessons")(lessons)
kaizen_app.command("curve")(curve)
