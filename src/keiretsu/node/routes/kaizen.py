"""The kaizen loop as routes of the twin, for the node's own users (``/twin/kaizen``).

- ``GET /twin/kaizen`` — every experiment, where it stands; ``POST /twin/kaizen`` — plan one
  (or make it from a suggestion);
- ``GET /twin/kaizen/{id}`` — its A3 (JSON); ``POST /twin/kaizen/{id}/notes`` — write a
  section of it;
- ``POST /twin/kaizen/{id}/simulate`` — the twin's prediction (kept; plan → simulated);
  ``…/start`` (→ running), ``…/check`` (measured impact; → checked), ``…/adopt``,
  ``…/abandon`` (with why);
- ``GET /twin/kaizen/suggestions`` — candidate countermeasures, simulated and ranked;
  ``GET /twin/kaizen/lessons`` — what was tried here and at the partners;
  ``GET /twin/kaizen/curve`` — the improvement curve (``/twin/kaizen/curve.svg``: drawn).

Local users only (a ``kt_`` token): a partner's signed request gets 403 — partners learn of
this node's experiments only through the lessons its sharing policy lets leave
(``/partners/lessons``). An unknown experiment is a 404 problem, a move the PDCA cycle does not
allow a 409 problem with the reason and where the experiment may go. Every write goes through
the node's one writer; the curve and the lessons are read on a read cursor.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from keiretsu.node.problems import HTTPProblem
from keiretsu.node.routes.twin import Instant
from keiretsu.node.security import Principal, local_user, node_of

__all__ = ["router"]

router = APIRouter(prefix="/twin/kaizen", tags=["Kaizen"])

ExperimentId = Annotated[str, PathParam(description="the experiment's id (kz-…)")]


# --- what the routes take -----------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CountermeasureIn(_Body):
    """The change, as the twin's model makes it."""

    name: str | None = Field(default=None, description="the variant's name (default: the id)")
    changes: dict[str, Any] = Field(
        description="model path → new value, e.g. {'buffer.shop.policy.level': 30}"
    )


class TargetIn(_Body):
    """The metric the experiment means to move."""

    metric: str = Field(description="on_hand, fill_rate, cost, backorders, … or a measured one")
    scope: str = Field(default="network", description="'network' or a buffer")
    direction: Literal["decrease", "increase"] = "decrease"
    value: float | None = Field(default=None, description="the level aimed at")
    unit: str | None = None


class NewExperiment(_Body):
    """A new experiment: the problem, its waste, the hypothesis, the countermeasure, the
    target and its owner — or ``suggestion``, a row of ``GET /twin/kaizen/suggestions``
    (then only ``owner`` is needed)."""

    owner: str = Field(description="who owns the target metric")
    title: str | None = None
    problem: str | None = None
    hypothesis: str | None = None
    waste: str | None = Field(default=None, description="transport, inventory, motion, waiting, …")
    kind: str = Field(default="parameter", description="parameter, policy or information")
    countermeasure: CountermeasureIn | None = None
    target: TargetIn | None = None
    evidence: bool = Field(
        default=True, description="take the evidence from the waste's evidence view of the log"
    )
    target_days: float | None = Field(
        default=None,
        gt=0,
        description="Inventory's target days of supply, for its evidence (stock above it)",
    )
    id: str | None = Field(default=None, description="the experiment's id (default kz-<12 hex>)")
    suggestion: dict[str, Any] | None = Field(
        default=None,
        description="a row of GET /twin/kaizen/suggestions to make the experiment from",
    )
    at: datetime | None = Field(default=None, description="when (with its UTC offset; default now)")


class MoveIn(_Body):
    """A move of the experiment's status."""

    note: str | None = Field(default=None, description="a word on the move")
    at: datetime | None = Field(default=None, description="when (with its UTC offset; default now)")


class AbandonIn(_Body):
    """Why the experiment is dropped (what did not work is the lesson)."""

    why: str = Field(min_length=1, description="why it is abandoned")
    at: datetime | None = None


class NoteIn(_Body):
    """One section of the A3, written by hand."""

    section: Literal["background", "root_cause", "plan", "results", "standardize"]
    text: str = Field(min_length=1)
    at: datetime | None = None


class SimulateIn(_Body):
    """How the twin predicts the change."""

    replications: int = Field(default=256, ge=2, le=100_000, description="paired replications")
    periods: int = Field(default=200, ge=2, le=100_000, description="periods per run")
    seed: int = 0
    names: dict[str, str] | None = Field(
        default=None, description="readable names of the store's sites (site id → name)"
    )
    at: datetime | None = None


class CheckIn(_Body):
    """How the change's effect is measured on the real events."""

    metric: str | None = Field(default=None, description="default: the experiment's target")
    scope: str | None = None
    change_at: datetime | None = Field(default=None, description="default: its move to running")
    control: list[str] | None = Field(
        default=None, description="steps or companies that did not change"
    )
    freq: str = Field(default="D", description="period of the series")
    alpha: float = Field(default=0.05, gt=0, lt=1)
    advance: bool = Field(default=True, description="move a running experiment to checked")
    object_type: str | None = Field(
        default=None, description="whose events (default: the most frequent type)"
    )
    names: dict[str, str] | None = Field(
        default=None, description="readable names of locations (identifier → name)"
    )
    at: datetime | None = None


# --- what the routes answer ---------------------------------------------------------------


class TargetOut(BaseModel):
    metric: str
    scope: str
    direction: str
    value: float | None
    unit: str | None


class ExperimentSummary(BaseModel):
    """Where an experiment stands after a write."""

    experiment_id: str
    title: str
    status: str = Field(description="plan, simulated, running, checked, adopted or abandoned")
    status_at: Instant
    next_moves: list[str] = Field(description="where it may move next")
    waste: str | None
    kind: str
    target: TargetOut
    owner: str


class ExperimentRow(BaseModel):
    """One experiment in the list."""

    experiment_id: str
    title: str
    waste: str | None
    countermeasure_kind: str
    target_metric: str
    target_scope: str
    owner: str
    created_at: Instant
    status: str
    status_at: Instant


class A3Page(BaseModel):
    """The experiment's A3 (see docs/kaizen.md: each section and where it comes from)."""

    model_config = ConfigDict(extra="allow")

    experiment_id: str
    title: str
    owner: str
    status: str
    status_at: str
    background: str
    current_condition: dict[str, Any]
    target: dict[str, Any]
    root_cause: str
    countermeasure: dict[str, Any]
    plan: dict[str, Any]
    results: dict[str, Any]
    standardize: str


class Figures(BaseModel):
    """A view's rows, with notes on how they were computed, and where the experiment stands."""

    view: str
    experiment_id: str | None = None
    status: str | None = Field(default=None, description="the experiment's status after it")
    notes: list[str]
    meta: dict[str, Any] = Field(default_factory=dict)
    rows: list[dict[str, Any]]


# --- helpers ------------------------------------------------------------------------------


def _summary(exp: Any) -> ExperimentSummary:
    return ExperimentSummary(
        experiment_id=exp.experiment_id,
        title=exp.title,
        status=exp.status,
        status_at=exp.status_at,
        next_moves=exp.next_moves,
        waste=exp.waste,
        kind=exp.kind,
        target=TargetOut(
            metric=exp.target.metric,
            scope=exp.target.scope,
            direction=exp.target.direction,
            value=exp.target.value,
            unit=exp.target.unit,
        ),
        owner=exp.owner,
    )


def _known(request: Request, experiment_id: str) -> None:
    """404 for an experiment this node does not hold."""
    from keiretsu.store import kaizen as tables

    if experiment_id not in tables.experiment_ids(node_of(request).cursor()):
        raise HTTPProblem(
            404,
            "No such experiment",
            f"this node holds no experiment {experiment_id!r}",
            field="experiment_id",
        )


def _refused(exc: Exception) -> HTTPProblem:
    """The kaizen room's refusal as a problem, its message as the detail: 409 for a move the
    experiment's status does not allow (or dated before its last move) and for an id taken;
    400 for anything else wrong with what was asked."""
    text = str(exc)
    if "cannot move to" in text or "comes before its last one" in text:
        return HTTPProblem(409, "Not allowed now", text, type="keiretsu:KaizenMoveRefused")
    if "exists already" in text:
        return HTTPProblem(409, "Experiment exists", text)
    return HTTPProblem(400, "Experiment refused", text)


async def _move(
    request: Request,
    experiment_id: str,
    status: str,
    who: Principal,
    note: str | None,
    at: datetime | None,
) -> ExperimentSummary:
    from keiretsu.kaizen import KaizenError, move

    _known(request, experiment_id)
    node = node_of(request)
    try:
        exp = await node.writer.run(
            lambda store: move(store, experiment_id, status, by=who.name, note=note, at=at)
        )
    except KaizenError as exc:
        raise _refused(exc) from exc
    return _summary(exp)


# --- the routes ---------------------------------------------------------------------------


@router.get("", summary="Every kaizen experiment of this node, where it stands")
def list_experiments(
    request: Request,
    status: Annotated[str | None, Query(description="only experiments in this status")] = None,
    who: Principal = Depends(local_user),
) -> list[ExperimentRow]:
    from keiretsu.kaizen import STATUSES
    from keiretsu.store import kaizen as tables

    if status is not None and status not in STATUSES:
        raise HTTPProblem(
            400, "Unknown status", f"{status!r}; statuses: {', '.join(STATUSES)}", field="status"
        )
    rows = tables.experiments(node_of(request).cursor()).to_pylist()
    return [ExperimentRow.model_validate(r) for r in rows if status in (None, r["status"])]


@router.post(
    "",
    status_code=201,
    summary="Plan a new experiment (or make one from a suggestion)",
)
async def new(
    body: NewExperiment,
    request: Request,
    response: Response,
    who: Principal = Depends(local_user),
) -> ExperimentSummary:
    from keiretsu.analytics.log import Log
    from keiretsu.analytics.waste import waste_evidence
    from keiretsu.kaizen import (
        KaizenError,
        Target,
        evidence_from,
        experiment_from_suggestion,
        new_experiment,
    )
    from keiretsu.sim.scenario import Variant
    from keiretsu.store import Store

    node = node_of(request)

    def make(store: Store) -> Any:
        if body.suggestion is not None:
            return experiment_from_suggestion(
                store,
                body.suggestion,
                owner=body.owner,
                title=body.title,
                problem=body.problem,
                hypothesis=body.hypothesis,
                by=who.name,
                at=body.at,
                experiment_id=body.id,
            )
        missing = [
            k
            for k in ("title", "problem", "hypothesis", "countermeasure", "target")
            if getattr(body, k) is None
        ]
        if missing:
            raise KaizenError(
                f"a new experiment needs {', '.join(missing)} (or a suggestion to start from)"
            )
        assert body.countermeasure is not None and body.target is not None
        found = None
        if body.waste is not None and body.evidence:
            view = waste_evidence(
                Log.from_connection(store.con), body.waste, target_days=body.target_days
            )
            found = evidence_from(view)
        return new_experiment(
            store,
            title=str(body.title),
            problem=str(body.problem),
            hypothesis=str(body.hypothesis),
            waste=body.waste,
            evidence=found,
            kind=body.kind,
            countermeasure=Variant(
                body.countermeasure.name or body.id or "countermeasure",
                body.countermeasure.changes,
            ),
            target=Target(**body.target.model_dump()),
            owner=body.owner,
            by=who.name,
            at=body.at,
            experiment_id=body.id,
        )

    try:
        exp = await node.writer.run(make)
    except (KaizenError, ValueError) as exc:
        raise _refused(exc) from exc
    response.headers["Location"] = f"/twin/kaizen/{exp.experiment_id}"
    return _summary(exp)


SUGGEST_SETTINGS: dict[str, Any] = {
    "replications": 64,
    "periods": 100,
    "seed": 0,
    "limit": None,
    "optimizer": True,
}
"""How the node's suggestions are simulated (``keiretsu kaizen suggest`` takes others)."""

RETRY_AFTER = 5
"""Seconds a client is asked to wait before asking again for suggestions being computed."""


@dataclass
class _Reading:
    """The node's store as its kaizen readers see it through a read cursor (committed data
    only): off the one writer, so a long read never holds up captures."""

    con: Any
    path: Path


def _reading(node: Any) -> Any:
    return _Reading(node.cursor(), node.store.path)


def _state(node: Any) -> tuple[Any, ...]:
    """What the suggestions and the curve are computed from, as counts that only grow: the
    events, the experiments' moves, predictions and measurements, the lessons received."""
    row = (
        node.cursor()
        .execute(
            "SELECT (SELECT count(*) FROM ocel_event), (SELECT count(*) FROM kaizen_status),"
            " (SELECT count(*) FROM kaizen_prediction),"
            " (SELECT count(*) FROM kaizen_measurement), (SELECT count(*) FROM kaizen_lesson)"
        )
        .fetchone()
    )
    return tuple(row or ())


@dataclass
class _Job:
    """One long read of the kaizen room run in the background for one state of the store and
    one question: running, done (``answer``), or refused (``refused``: why)."""

    started: datetime
    answer: Any = None
    refused: str | None = None
    done: threading.Event = field(default_factory=threading.Event)


JOBS_KEPT = 16
"""Answers kept per node (the newest), each for one state of the store and one question."""

_JOBS_LOCK = threading.Lock()


def _run(job: _Job, node: Any, compute: Callable[[Any], Any], what: str) -> None:
    """Run ``compute(store)`` on a connection of the job's own to the node's database (the
    same database, committed data only): the node may close its own meanwhile (it stops)
    without pulling the ground from under a read still running."""
    import duckdb

    from keiretsu.kaizen import KaizenError

    con = None
    try:
        try:
            con = duckdb.connect(str(node.store.path))
            con.execute("SET enable_progress_bar = false")
            reader: Any = _Reading(con, node.store.path)
        except duckdb.Error:  # the node's database opened otherwise: read on its cursor
            reader = _reading(node)
        job.answer = compute(reader)
    except (KaizenError, ValueError) as exc:
        job.refused = str(exc)
    except Exception as exc:  # told to the client: the thread must not die silently
        job.refused = f"{what} could not be computed: {exc}"
    finally:
        if con is not None:
            con.close()
        job.done.set()


def _background(
    request: Request,
    key: tuple[Any, ...],
    compute: Callable[[Any], Any],
    what: str,
    wait: float,
) -> _Job:
    """The job answering ``key`` — started in its own thread (on read cursors, off the one
    writer) unless one is running or done already — after waiting up to ``wait`` seconds."""
    app_state = request.app.state
    with _JOBS_LOCK:
        jobs: dict[tuple[Any, ...], _Job] | None = getattr(app_state, "kaizen_jobs", None)
        if jobs is None:
            jobs = app_state.kaizen_jobs = {}
        job = jobs.get(key)
        if job is None:
            while len(jobs) >= JOBS_KEPT:
                jobs.pop(next(iter(jobs)))
            job = jobs[key] = _Job(datetime.now(UTC))
            threading.Thread(
                target=_run,
                args=(job, node_of(request), compute, what),
                name="keiretsu-kaizen",
                # not a daemon: a thread killed inside DuckDB at exit aborts the process;
                # the interpreter waits for the job (a suggestion: seconds) instead
                daemon=False,
            ).start()
    job.done.wait(wait)
    return job


class Computing(BaseModel):
    """An answer still being computed: ask again after ``retry_after`` seconds."""

    status: Literal["computing"] = "computing"
    since: Instant = Field(description="when the computation started")
    retry_after: int = Field(description="seconds to wait before asking again")


def _computing(response: Response, job: _Job) -> Computing:
    response.status_code = 202
    response.headers["Retry-After"] = str(RETRY_AFTER)
    return Computing(since=job.started, retry_after=RETRY_AFTER)


WaitQuery = Annotated[
    float,
    Query(ge=0, le=5, description="seconds to wait for the answer before a 202 (at most 5)"),
]
_COMPUTING: dict[int | str, dict[str, Any]] = {
    202: {"model": Computing, "description": "being computed: ask again"}
}


@router.get(
    "/suggestions",
    summary="Candidate countermeasures, simulated on the twin, ranked",
    description="Simulated once for each state of the node's log and experiments and each "
    "setting (by default 64 paired replications of 100 periods, seed 0, the network optimizer "
    "included), in the background: while it runs the answer is 202 with `Retry-After`; then "
    "200 with the ranked rows, kept until new events, moves, predictions, measurements or "
    "lessons arrive. Fewer replications answer sooner with wider intervals.",
    responses=_COMPUTING,
)
def suggestions(
    request: Request,
    response: Response,
    limit: Annotated[int, Query(ge=1, le=100, description="at most this many, best first")] = 10,
    replications: Annotated[
        int, Query(ge=2, le=1024, description="paired replications of each simulation")
    ] = SUGGEST_SETTINGS["replications"],
    periods: Annotated[
        int, Query(ge=10, le=2000, description="simulated periods (days) per replication")
    ] = SUGGEST_SETTINGS["periods"],
    optimizer: Annotated[
        bool, Query(description="also propose the network optimizer's levels (slower)")
    ] = SUGGEST_SETTINGS["optimizer"],
    wait: WaitQuery = 0,
    who: Principal = Depends(local_user),
) -> Figures | Computing:
    from keiretsu.kaizen import suggest

    node = node_of(request)
    settings = {
        **SUGGEST_SETTINGS,
        "replications": replications,
        "periods": periods,
        "optimizer": optimizer,
    }

    def compute(store: Any) -> dict[str, Any]:
        answer: dict[str, Any] = suggest(store, **settings).to_json()
        return answer

    key = ("suggest", _state(node), replications, periods, optimizer)
    job = _background(request, key, compute, "the suggestions", wait)
    if job.refused is not None:
        raise HTTPProblem(400, "Cannot suggest", job.refused)
    if not job.done.is_set():
        return _computing(response, job)
    return Figures.model_validate({**job.answer, "rows": job.answer["rows"][:limit]})


@router.get("/lessons", summary="What was tried here and at the partners, and with what result")
def lessons(
    request: Request,
    waste: Annotated[str | None, Query(description="one of the eight wastes")] = None,
    step: Annotated[str | None, Query(description="a step named in the evidence")] = None,
    kind: Annotated[str | None, Query(description="parameter, policy or information")] = None,
    status: Annotated[str | None, Query(description="adopted, abandoned, …")] = None,
    text: Annotated[str | None, Query(description="words in the title, problem, notes")] = None,
    source: Annotated[str | None, Query(description="'local' or a partner")] = None,
    who: Principal = Depends(local_user),
) -> Figures:
    from keiretsu.kaizen import KaizenError
    from keiretsu.kaizen.lessons import ask

    try:
        view = ask(
            node_of(request).cursor(),
            waste=waste,
            step=step,
            kind=kind,
            status=status,
            text=text,
            source=source,
        )
    except (KaizenError, ValueError) as exc:
        raise HTTPProblem(400, "Cannot ask", str(exc)) from exc
    return Figures.model_validate(view.to_json())


FreqQuery = Annotated[str, Query(description="period: W (a week), D (a day), '4 weeks', …")]
ScopeQuery = Annotated[
    str, Query(description="node: own events; network: own and partners' shared events")
]
StartQuery = Annotated[datetime | None, Query(description="from (with its UTC offset)")]
EndQuery = Annotated[datetime | None, Query(description="to, excluded (with its UTC offset)")]
CURVE_NOTE = (
    "Computed in the background once for each state of the store and each question (each "
    "period is a run of the waste view, about a second): while it runs the answer is 202 "
    "with `Retry-After`."
)


def _curve(
    request: Request,
    freq: str,
    scope: str,
    start: datetime | None,
    end: datetime | None,
    wait: float,
) -> _Job:
    """The improvement curve's job; what is wrong with the question is a 400 at once."""
    from keiretsu.analytics.durations import parse_freq
    from keiretsu.analytics.log import Log
    from keiretsu.kaizen.curve import adoptions, improvement_curve

    if scope not in ("node", "network"):
        raise HTTPProblem(400, "Unknown scope", f"{scope!r}: node or network", field="scope")
    try:
        parse_freq(freq)
    except (ValueError, OverflowError) as exc:
        raise HTTPProblem(400, "Cannot draw the curve", str(exc), field="freq") from exc
    for name, t in (("start", start), ("end", end)):
        if t is not None and t.tzinfo is None:
            raise HTTPProblem(
                400, "Cannot draw the curve", f"{name}: a time needs its UTC offset", field=name
            )
    node = node_of(request)

    def compute(store: Any) -> Any:
        return improvement_curve(
            Log.from_connection(store.con),
            freq=freq,
            scope=scope,  # type: ignore[arg-type]
            adopted=adoptions(store.con),
            start=start,
            end=end,
        )

    key = ("curve", _state(node), freq, scope, start, end)
    job = _background(request, key, compute, "the curve", wait)
    if job.refused is not None:
        raise HTTPProblem(400, "Cannot draw the curve", job.refused)
    return job


@router.get(
    "/curve",
    summary="The improvement curve: waste per period, adoptions, gain",
    description=CURVE_NOTE,
    responses=_COMPUTING,
)
def curve(
    request: Request,
    response: Response,
    freq: FreqQuery = "W",
    scope: ScopeQuery = "node",
    start: StartQuery = None,
    end: EndQuery = None,
    wait: WaitQuery = 0,
    who: Principal = Depends(local_user),
) -> Figures | Computing:
    job = _curve(request, freq, scope, start, end, wait)
    if not job.done.is_set():
        return _computing(response, job)
    return Figures.model_validate(job.answer.to_json())


@router.get(
    "/curve.svg",
    summary="The improvement curve drawn (SVG, self-contained)",
    description=CURVE_NOTE,
    response_class=Response,
    responses={
        200: {"content": {"image/svg+xml": {}}, "description": "the SVG picture"},
        **_COMPUTING,
    },
)
def curve_svg(
    request: Request,
    freq: FreqQuery = "W",
    scope: ScopeQuery = "node",
    start: StartQuery = None,
    end: EndQuery = None,
    measure: Annotated[
        Literal["money", "hours"], Query(description="what the bars show")
    ] = "money",
    wait: WaitQuery = 0,
    who: Principal = Depends(local_user),
) -> Response:
    from keiretsu.kaizen.curve import render_svg

    job = _curve(request, freq, scope, start, end, wait)
    if not job.done.is_set():
        return Response(
            _computing(Response(), job).model_dump_json(),
            status_code=202,
            media_type="application/json",
            headers={"Retry-After": str(RETRY_AFTER)},
        )
    return Response(render_svg(job.answer, measure=measure), media_type="image/svg+xml")


@router.get("/{experiment_id}", summary="The experiment's A3 (JSON)")
async def show(
    experiment_id: ExperimentId,
    request: Request,
    who: Principal = Depends(local_user),
) -> A3Page:
    from keiretsu.kaizen import a3, load

    _known(request, experiment_id)

    def page(store: Any) -> dict[str, Any]:
        return a3(load(store, experiment_id), store=store)

    return A3Page.model_validate(_plain(await node_of(request).writer.run(page)))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and value != value:  # NaN
        return None
    return value


@router.post("/{experiment_id}/notes", summary="Write a section of the experiment's A3")
async def note(
    experiment_id: ExperimentId,
    body: NoteIn,
    request: Request,
    who: Principal = Depends(local_user),
) -> ExperimentSummary:
    from keiretsu.kaizen import KaizenError, write

    _known(request, experiment_id)
    try:
        exp = await node_of(request).writer.run(
            lambda store: write(
                store, experiment_id, body.section, body.text, by=who.name, at=body.at
            )
        )
    except KaizenError as exc:
        raise _refused(exc) from exc
    return _summary(exp)


async def _figures(
    request: Request, experiment_id: str, job: Callable[[Any], tuple[Any, str]]
) -> Figures:
    """Run ``job`` (a prediction or a check, then the experiment's status) on the node's
    writer; a refused experiment answers as a problem."""
    from keiretsu.kaizen import KaizenError

    try:
        view, status = await node_of(request).writer.run(job)
    except (KaizenError, ValueError) as exc:
        raise _refused(exc) from exc
    return Figures.model_validate(
        {**view.to_json(), "experiment_id": experiment_id, "status": status}
    )


@router.post(
    "/{experiment_id}/simulate",
    summary="The twin's predicted impact (kept; a planned experiment becomes simulated)",
)
async def simulate(
    experiment_id: ExperimentId,
    request: Request,
    body: SimulateIn | None = None,
    who: Principal = Depends(local_user),
) -> Figures:
    from keiretsu.kaizen import load, predict

    _known(request, experiment_id)
    run = body or SimulateIn()

    def job(store: Any) -> tuple[Any, str]:
        view = predict(
            store,
            experiment_id,
            replications=run.replications,
            periods=run.periods,
            seed=run.seed,
            workers=1,
            names=run.names,
            by=who.name,
            at=run.at,
        )
        return view, load(store, experiment_id).status

    return await _figures(request, experiment_id, job)


@router.post("/{experiment_id}/start", summary="The change is on the floor: → running")
async def start(
    experiment_id: ExperimentId,
    request: Request,
    body: MoveIn | None = None,
    who: Principal = Depends(local_user),
) -> ExperimentSummary:
    b = body or MoveIn()
    return await _move(request, experiment_id, "running", who, b.note, b.at)


@router.post(
    "/{experiment_id}/check",
    summary="Measure the change on the real events (kept; running → checked)",
)
async def check(
    experiment_id: ExperimentId,
    request: Request,
    body: CheckIn | None = None,
    who: Principal = Depends(local_user),
) -> Figures:
    from keiretsu.kaizen import load
    from keiretsu.kaizen.check import check as measure

    _known(request, experiment_id)
    b = body or CheckIn()

    def job(store: Any) -> tuple[Any, str]:
        view = measure(
            store,
            experiment_id,
            metric=b.metric,
            scope=b.scope,
            change_at=b.change_at,
            control=b.control,
            freq=b.freq,
            alpha=b.alpha,
            advance=b.advance,
            by=who.name,
            at=b.at,
            object_type=b.object_type,
            names=b.names,
        )
        return view, load(store, experiment_id).status

    return await _figures(request, experiment_id, job)


@router.post("/{experiment_id}/adopt", summary="The new standard: checked → adopted")
async def adopt(
    experiment_id: ExperimentId,
    request: Request,
    body: MoveIn | None = None,
    who: Principal = Depends(local_user),
) -> ExperimentSummary:
    b = body or MoveIn()
    return await _move(request, experiment_id, "adopted", who, b.note, b.at)


@router.post("/{experiment_id}/abandon", summary="Drop the experiment, saying why")
async def abandon(
    experiment_id: ExperimentId,
    body: AbandonIn,
    request: Request,
    who: Principal = Depends(local_user),
) -> ExperimentSummary:
    return await _move(request, experiment_id, "abandoned", who, body.why, body.at)
