"""``/capture``: the EPCIS 2.0 binding's asynchronous capture jobs.

``POST /capture`` keeps the document on disk and answers ``202 Accepted`` with the job's URL at
once; one writer stores it whole or not at all (``GS1-Capture-Error-Behaviour: rollback``, the
standard's default and the only behaviour here). ``GET /capture/{captureID}`` says how it went.
``POST /events`` captures one event and answers when it is stored (the binding's synchronous
capture of a single event).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from keiretsu.node.problems import HTTPProblem
from keiretsu.node.routes.discovery import add_options, discovery_headers
from keiretsu.node.routes.events import EPCISEvent, EPCISResponse
from keiretsu.node.runtime import CAPTURE_EVENT_LIMIT, CAPTURE_SIZE_LIMIT, CaptureJob
from keiretsu.node.security import Principal, local_user, node_of
from keiretsu.store.ingest import events_of_ingest

router = APIRouter(tags=["Capture"])

CAPTURE_HEADERS = {
    "GS1-EPCIS-Version": "2.0.0",
    "GS1-CBV-Version": "2.0.0",
    "GS1-EPCIS-Capture-Limit": str(CAPTURE_EVENT_LIMIT),
    "GS1-EPCIS-Capture-File-Size-Limit": str(CAPTURE_SIZE_LIMIT),
    "GS1-Capture-Error-Behaviour": "rollback",
    "GS1-Extensions": "",
}

_MEDIA = ("application/json", "application/ld+json", "application/xml", "text/xml")


@router.options("/capture", status_code=204, summary="The capture interface's settings")
async def capture_options() -> Response:
    return Response(
        status_code=204, headers={**discovery_headers("OPTIONS, GET, POST"), **CAPTURE_HEADERS}
    )


@router.post(
    "/capture",
    status_code=202,
    summary="Capture an EPCIS 2.0 document (JSON/JSON-LD or XML), asynchronously",
    response_class=Response,
    responses={202: {"description": "Received; the Location header is the capture job"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "application/xml": {"schema": {"type": "string"}},
            },
        }
    },
)
async def capture(request: Request, who: Principal = Depends(local_user)) -> Response:
    node = node_of(request)
    media = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if media not in _MEDIA:
        raise HTTPProblem(
            415, "Unsupported media type", f"{media}: send application/json or application/xml"
        )
    behaviour = request.headers.get("gs1-capture-error-behaviour", "rollback").lower()
    if behaviour != "rollback":
        raise HTTPProblem(
            400,
            "Capture error behaviour not supported",
            f"GS1-Capture-Error-Behaviour: {behaviour}: this node stores a document whole or "
            "not at all (rollback)",
            field="GS1-Capture-Error-Behaviour",
        )
    body = await _body(request)
    if not body.strip():
        raise HTTPProblem(400, "Empty capture", "the request has no EPCIS document in its body")
    job = node.spool(body)
    return Response(
        status_code=202,
        headers={**CAPTURE_HEADERS, "Location": f"/capture/{job.capture_id}"},
    )


async def _body(request: Request) -> bytes:
    """The request's body, refused with 413 past the capture size limit."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > CAPTURE_SIZE_LIMIT:
        raise _too_large(int(declared))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > CAPTURE_SIZE_LIMIT:
            raise _too_large(size)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int) -> HTTPProblem:
    return HTTPProblem(
        413,
        "Capture payload too large",
        f"{size} bytes is more than this node takes in one capture ({CAPTURE_SIZE_LIMIT} bytes, "
        "GS1-EPCIS-Capture-File-Size-Limit): split the document",
        type="epcisException:CapturePayloadTooLargeException",
        headers={k: v for k, v in CAPTURE_HEADERS.items() if "Limit" in k},
    )


class CaptureJobOut(BaseModel):
    """GS1's ``CaptureJob``: a capture document received, being stored, or stored (or
    refused, with the reason in ``errors``), and what its ingest did."""

    model_config = ConfigDict(populate_by_name=True)

    captureID: str
    createdAt: str = Field(description="when the document was received (RFC 3339)")
    running: bool = Field(description="true while the document waits or is being stored")
    success: bool = Field(description="false once refused (see errors)")
    captureErrorBehaviour: Literal["rollback"] = Field(
        description="always rollback: a document is stored whole or not at all"
    )
    errors: list[dict[str, Any]] = Field(description="why it was refused (problem details)")
    finishedAt: str | None = Field(default=None, description="when it was stored or refused")
    report: dict[str, Any] | None = Field(
        default=None,
        alias="keiretsu:report",
        description="the ingest's report: events read, new, already known, corrected",
    )


def _job_out(job: CaptureJob) -> CaptureJobOut:
    return CaptureJobOut.model_validate(job.to_json())


MAX_JOBS_PER_PAGE = 10_000
"""The most capture jobs one page holds (a larger ``perPage`` gets this many)."""


@router.get(
    "/capture", summary="Capture jobs of this run, newest first", response_model=list[CaptureJobOut]
)
async def capture_jobs(
    request: Request,
    perPage: int = Query(30, description="jobs per page (at most 10,000 are served)"),
    nextPageToken: str | None = Query(None, description="the token of the previous page"),
    who: Principal = Depends(local_user),
) -> Response:
    node = node_of(request)
    if perPage < 1:
        raise HTTPProblem(400, "Invalid perPage", "perPage must be 1 or more", field="perPage")
    per_page = min(perPage, MAX_JOBS_PER_PAGE)
    jobs = sorted(node.jobs.values(), key=lambda j: j.capture_id, reverse=True)
    if nextPageToken is not None:  # the id of the last job of the previous page
        jobs = [j for j in jobs if j.capture_id < nextPageToken]
    page = jobs[:per_page]
    headers: dict[str, str] = {}
    if len(jobs) > per_page:
        token = page[-1].capture_id
        link = request.url.include_query_params(nextPageToken=token, perPage=per_page)
        headers = {"GS1-Next-Page-Token": token, "Link": f'<{link}>; rel="next"'}
    return JSONResponse(
        [_job_out(j).model_dump(by_alias=True, exclude_unset=True) for j in page],
        headers=headers,
    )


@router.get(
    "/capture/{captureID}",
    summary="One capture job: running, success, errors",
    response_model=CaptureJobOut,
    response_model_exclude_unset=True,
)
async def capture_job(
    captureID: str, request: Request, who: Principal = Depends(local_user)
) -> CaptureJobOut:
    node = node_of(request)
    job = node.capture_job(captureID)
    if job is None:
        raise HTTPProblem(404, "No such capture job", f"no capture job {captureID!r}")
    return _job_out(job)


add_options(router, "/capture/{captureID}", "OPTIONS, GET")


# --- one event, synchronously --------------------------------------------------------------

EVENT_WAIT = 120.0
"""Seconds ``POST /events`` waits for its event to be stored before answering 202 with the
capture job instead."""


@router.post(
    "/events",
    status_code=201,
    summary="Capture one EPCIS event and answer once it is stored",
    description="The body is one EPCIS 2.0 event (JSON/JSON-LD). It is stored as a capture "
    "document of its own (same checks, same outbox); 201 with the event's URL in Location, "
    "400 with the reason, 409 if an event with its eventID is stored already.",
    response_model=EPCISEvent,
    response_class=EPCISResponse,
    responses={
        201: {"description": "Stored; Location is the event's URL, the body the event stored"},
        409: {"description": "An event with this eventID exists already"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def capture_event(request: Request, who: Principal = Depends(local_user)) -> Response:
    from keiretsu.node.epcis_render import EPCIS_CONTEXT
    from keiretsu.node.query import render_events

    node = node_of(request)
    media = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if media not in ("application/json", "application/ld+json"):
        raise HTTPProblem(
            415, "Unsupported media type", f"{media}: send one event as application/json"
        )
    try:
        event = orjson.loads(await _body(request))
    except orjson.JSONDecodeError as exc:
        raise HTTPProblem(400, "Invalid event", f"not JSON: {exc}") from None
    if not isinstance(event, dict):
        raise HTTPProblem(400, "Invalid event", "the body must be one EPCIS event (a JSON object)")
    if event.get("type") in ("EPCISDocument", "EPCISQueryDocument"):
        raise HTTPProblem(
            400, "Invalid event", "one event, not a document: POST /capture takes documents"
        )
    context = event.get("@context")
    extra = context if isinstance(context, list) else [context] if context else []
    document = {
        "@context": [EPCIS_CONTEXT, *(c for c in extra if c != EPCIS_CONTEXT)],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "epcisBody": {"eventList": [event]},
    }
    job = node.spool(orjson.dumps(document))
    deadline = time.monotonic() + EVENT_WAIT
    while job.running and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    if job.running:  # slow today: the job will tell
        return Response(status_code=202, headers={"Location": f"/capture/{job.capture_id}"})
    if not job.success:
        first = job.errors[0] if job.errors else {}
        raise HTTPProblem(
            400,
            "Invalid event",
            str(first.get("detail") or "the event was refused"),
            errors=job.errors,
        )
    report = job.report or {}
    if not report.get("events_new") and not report.get("events_corrected"):
        raise HTTPProblem(409, "Event exists", "an event with this eventID is stored already")
    brought = events_of_ingest(node.cursor(), report.get("ingest_id"))
    event_id = str(event.get("eventID") or (brought[0] if brought else ""))
    stored = render_events(node.cursor(), [event_id]) if event_id else []
    return EPCISResponse(
        stored[0] if stored else event,
        status_code=201,
        headers={"Location": "/events/" + quote(event_id, safe=":/;=@")},
    )
