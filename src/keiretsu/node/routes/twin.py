"""The twin's own API: who this node is, what it holds, its analytics views, an object's path
across the chain, its policy and its audit log. Local users only: a partner sees what the policy
lets it query through ``/events`` and what is pushed to it, never these.

Each route answers with a model declared here, so the OpenAPI description says what it returns;
the figures come from the store (:mod:`keiretsu.store`) and the analytics
(:mod:`keiretsu.analytics`), never from SQL written in a route.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from keiretsu.node.problems import HTTPProblem
from keiretsu.node.security import Principal, local_user, node_of

router = APIRouter(prefix="/twin", tags=["Twin"])

Instant = Annotated[
    datetime,
    PlainSerializer(lambda t: t.isoformat(), return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
"""A moment, written as ISO 8601 with its UTC offset (``2026-11-02T05:00:00+00:00``)."""


# --- what the routes answer ---------------------------------------------------------------------


class StoreFigures(BaseModel):
    """What the node's store holds: the visible log (accepted documents only)."""

    path: str = Field(description="the store's file")
    events: int = Field(description="events held")
    objects: int = Field(description="objects (orders, lots, pallets, locations…) held")
    relations: int = Field(description="event-to-object relations")
    event_types: dict[str, int] = Field(description="activity → number of events")
    object_types: dict[str, int] = Field(description="object type → number of objects")
    first_event: Instant | None = Field(description="the earliest event's time (null: none)")
    last_event: Instant | None = Field(description="the latest event's time (null: none)")
    documents_accepted: int = Field(description="documents stored")
    documents_refused: int = Field(description="documents refused (see GET /twin/ingests)")


class TwinAnswer(BaseModel):
    """This node at a glance."""

    name: str = Field(description="the node's name, as its partners know it")
    url: str = Field(description="where its partners reach it")
    public_key: str = Field(description="its Ed25519 public key, 'ed25519:' and base64url")
    fingerprint: str = Field(description="a short digest of the key, to read out to a partner")
    partners: list[str] = Field(description="the partners it knows (partners.toml)")
    store: StoreFigures = Field(description="what its store holds")
    writer_backlog: int = Field(description="writes waiting for the store's one writer")
    captures_queued: int = Field(description="capture documents received, not stored yet")


class IngestEntry(BaseModel):
    """One document offered to the store: when, from whom, accepted or refused and why."""

    ingest_id: int = Field(description="its number in the ingest log, in the order offered")
    document: str = Field(description="the document's name or capture job")
    format: str | None = Field(description="the format it was read as (null: not recognised)")
    source: str = Field(description="'local', a label given at ingest, or the partner that sent it")
    started_at: Instant = Field(description="when its ingest started")
    finished_at: Instant = Field(description="when its ingest finished")
    status: str = Field(description="accepted, refused, or pending while it is stored")
    events_read: int = Field(description="events in the document")
    events_new: int = Field(description="events stored for the first time")
    events_known: int = Field(description="events already held (a resend)")
    problem: dict[str, Any] | None = Field(
        description="why it was refused: RFC 7807 problem details (null when accepted)"
    )


class ViewRows(BaseModel):
    """One analytics view: its rows, and notes that say how it was computed and what the data
    could not show."""

    view: str = Field(description="the view's name")
    notes: list[str] = Field(description="how it was computed, what the data could not show")
    meta: dict[str, Any] = Field(
        default_factory=dict, description="the view's settings and figures at a glance"
    )
    rows: list[dict[str, Any]] = Field(description="the view's table, a JSON object per row")


class ViewAnswer(ViewRows):
    """A view, and the object type it followed."""

    object_type: str = Field(description="the objects whose flow the view follows")


class ProcessMapAnswer(BaseModel):
    """The object-centric process map: its arrows, its steps, where objects start and end."""

    view: Literal["process_map"]
    edges: ViewRows = Field(description="the arrows: per object type, step to next step")
    activities: ViewRows = Field(description="each step with its events and objects")
    start_end: ViewRows = Field(description="per object type, where objects start and end")
    object_type: str = Field(description="the objects the report would follow")


class TraceStep(BaseModel):
    """One event on an object's path."""

    time: Instant = Field(description="when it happened")
    node: str = Field(description="the company that recorded the event")
    activity: str = Field(description="the step (the EPCIS bizStep, the OCEL event type)")
    qualifier: str | None = Field(description="how the object took part: epc, parent, child…")
    objects: int = Field(description="how many of the followed objects the event touches")
    location: str | None = Field(description="the bizLocation, else the readPoint")
    event_id: str = Field(description="the event's id in this node's store")


class TraceAnswer(BaseModel):
    """An object's path across the chain, as this node sees it."""

    node: str = Field(description="this node")
    object: str = Field(description="the object's identifier as stored")
    events: list[TraceStep] = Field(description="its events in time order")


class PolicyAnswer(BaseModel):
    """The sharing policy in force."""

    path: str = Field(description="the policy file")
    present: bool = Field(description="false: no policy file, nothing leaves this node")
    text: str | None = Field(description="the file as written")
    problem: str | None = Field(
        description="why the file does not load (then nothing leaves until it is fixed)"
    )
    partners_named: list[str] = Field(description="the partners its rules name")


class AuditLine(BaseModel):
    """One line of the audit log. Further fields as the action records them: ``reason``,
    ``subject`` (who asked), ``peer`` (from which address), ``method``, ``path``, ``detail``…"""

    model_config = ConfigDict(extra="allow")

    time: str = Field(description="when (UTC)", json_schema_extra={"format": "date-time"})
    action: str = Field(description="what was attempted: node-request, request, policy-load…")
    outcome: str = Field(description="allowed or refused (failed, for the node's own work)")


# --- the routes ---------------------------------------------------------------------------------


@router.get("", summary="This node: name, identity, what its store holds")
def twin(request: Request, who: Principal = Depends(local_user)) -> TwinAnswer:
    from keiretsu.store import Store

    node = node_of(request)
    summary = Store.summary_of(node.cursor(), node.store.path)
    return TwinAnswer(
        name=node.name,
        url=node.config.url,
        public_key=node.identity.public_key_text,
        fingerprint=node.identity.fingerprint(),
        partners=sorted(node.partners()),
        store=StoreFigures.model_validate(summary.to_dict()),
        writer_backlog=node.writer.backlog(),
        captures_queued=node.captures_queued(),
    )


@router.get("/ingests", summary="The ingest log: every document, from whom, accepted or why not")
def ingests(
    request: Request,
    limit: Annotated[int, Query(description="how many documents, newest first (1-10000)")] = 100,
    who: Principal = Depends(local_user),
) -> list[IngestEntry]:
    from keiretsu.store.ingest_log import ingest_log

    node = node_of(request)
    if not 1 <= limit <= 10_000:
        raise HTTPProblem(400, "Invalid limit", "limit: 1 to 10000", field="limit")
    rows = ingest_log(node.cursor(), last=limit).to_pylist()
    for row in rows:
        row["problem"] = json.loads(row["problem"]) if row["problem"] else None
    return [IngestEntry.model_validate(row) for row in reversed(rows)]


def _views() -> dict[str, Callable[..., Any]]:
    from keiretsu.analytics import (
        bottleneck,
        bullwhip,
        customer,
        flow,
        inventory,
        process_map,
        vsm,
        waste,
    )

    return {
        "customer_demand": lambda log, ot, cal: customer.customer_demand(
            log, object_type=ot, calendar=cal
        ),
        "process_map": lambda log, ot: process_map.ocdfg(log),
        "dfg": lambda log, ot: process_map.dfg(log, ot),
        "variants": lambda log, ot: process_map.variants(log, ot),
        "object_times": lambda log, ot: flow.object_times(log, ot),
        "step_stats": lambda log, ot: flow.step_stats(log, ot),
        "bottlenecks": lambda log, ot: bottleneck.bottlenecks(log, ot),
        "stock_levels": lambda log, ot: inventory.stock_levels(log),
        "days_of_supply": lambda log, ot: inventory.days_of_supply(log),
        "wastes": lambda log, ot: waste.wastes(log),
        "waste_pareto": lambda log, ot: waste.pareto(waste.wastes(log)),
        "bullwhip": lambda log, ot: bullwhip.bullwhip(log),
        "value_stream_map": lambda log, ot: vsm.value_stream_map(log, ot),
    }


CALENDAR_VIEWS = {"customer_demand"}
"""Views measured on the node's working calendar (``[calendar]`` in node.toml)."""

VIEW_NAMES = [
    "customer_demand",
    "process_map",
    "dfg",
    "variants",
    "object_times",
    "step_stats",
    "bottlenecks",
    "stock_levels",
    "days_of_supply",
    "wastes",
    "waste_pareto",
    "bullwhip",
    "value_stream_map",
]


@router.get(
    "/views/{view}",
    summary="One analytics view over everything this node sees (its own and shared events)",
    description="Views: " + ", ".join(VIEW_NAMES) + ". `object_type` picks the objects "
    "followed (default: the type with the longest flows).",
    response_model_exclude_unset=True,
)
def view(
    view: Annotated[str, PathParam(description="the view's name (see above)")],
    request: Request,
    object_type: Annotated[
        str | None, Query(description="the objects followed (default: the main flow's)")
    ] = None,
    who: Principal = Depends(local_user),
) -> ProcessMapAnswer | ViewAnswer:
    from keiretsu.analytics import Log
    from keiretsu.analytics.report import main_object_type

    node = node_of(request)
    views = _views()
    if view not in views:
        raise HTTPProblem(
            404, "No such view", f"{view!r}; views: {', '.join(VIEW_NAMES)}", field="view"
        )
    log = Log.from_connection(node.cursor())
    try:
        if log.events.count().execute() == 0:
            raise HTTPProblem(404, "No events", "this node holds no events yet")
        followed = object_type or main_object_type(log)
        if followed not in log.object_types():
            raise HTTPProblem(
                400,
                "Unknown object type",
                f"{followed!r}; types: {', '.join(log.object_types())}",
                field="object_type",
            )
        make = views[view]
        if view in CALENDAR_VIEWS:
            result = make(log, followed, node.home.calendar())
        else:
            result = make(log, followed)
    except ValueError as exc:
        raise HTTPProblem(400, "Cannot compute the view", str(exc)) from exc
    if hasattr(result, "to_json"):
        return ViewAnswer.model_validate({**result.to_json(), "object_type": followed})
    return ProcessMapAnswer(  # the process map: three views
        view="process_map",
        edges=ViewRows.model_validate(result.edges.to_json()),
        activities=ViewRows.model_validate(result.activities.to_json()),
        start_end=ViewRows.model_validate(result.start_end.to_json()),
        object_type=followed,
    )


@router.get(
    "/trace",
    summary="One object's path across the chain, with the company that recorded each step",
)
def trace(
    request: Request,
    object: Annotated[
        str,
        Query(
            description="the object: an SSCC, a lot, a trade item, a purchase order — as an EPC "
            "URN, a GS1 Digital Link, as stored, or a bare business transaction number"
        ),
    ],
    contents: Annotated[
        bool, Query(description="also follow what it was packed with (a pallet's cases and back)")
    ] = False,
    who: Principal = Depends(local_user),
) -> TraceAnswer:
    from keiretsu.analytics import Log
    from keiretsu.analytics.chain import object_path, resolve_object

    node = node_of(request)
    log = Log.from_connection(node.cursor())
    found = resolve_object(log, object)
    if found is None:
        raise HTTPProblem(404, "No such object", f"this node knows no {object!r}", field="object")
    path = object_path(log, found, local=node.name, contents=contents)
    return TraceAnswer(
        node=node.name,
        object=found,
        events=[TraceStep.model_validate(row) for row in path.to_pylist()],
    )


@router.get("/policy", summary="The sharing policy in force, and its problem if it is faulty")
def policy(request: Request, who: Principal = Depends(local_user)) -> PolicyAnswer:
    node = node_of(request)
    path = node.home.policy_path
    return PolicyAnswer(
        path=str(path),
        present=path.exists(),
        text=path.read_text(encoding="utf-8") if path.exists() else None,
        problem=node.policy_problem(),
        partners_named=sorted(node.policy().partners()),
    )


@router.get("/audit", summary="The audit log, newest last")
def audit(
    request: Request,
    limit: Annotated[int, Query(description="how many lines, the newest (1-100000)")] = 200,
    who: Principal = Depends(local_user),
) -> list[AuditLine]:
    node = node_of(request)
    if not 1 <= limit <= 100_000:
        raise HTTPProblem(400, "Invalid limit", "limit: 1 to 100000", field="limit")
    lines: list[dict[str, Any]] = node.audit.read()
    return [AuditLine.model_validate(line) for line in lines[-limit:]]
