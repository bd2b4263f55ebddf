"""``/capture``: the EPCIS 2.0 binding's asynchronous capture jobs.

``POST /capture`` keeps the document on disk and answers ``202 Accepted`` with the job's URL at
once; one writer stores it whole or not at all (``GS1-Capture-Error-Behaviour: rollback``, the
standard's default and the only behaviour here). ``GET /capture/{captureID}`` says how it went.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from keiretsu.node.problems import HTTPProblem
from keiretsu.node.runtime import CAPTURE_EVENT_LIMIT, CAPTURE_SIZE_LIMIT
from keiretsu.node.security import Principal, local_user, node_of

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
    return Response(status_code=204, headers={**CAPTURE_HEADERS, "Allow": "OPTIONS, GET, POST"})


@router.post(
    "/capture",
    status_code=202,
    summary="Capture an EPCIS 2.0 document (JSON/JSON-LD or XML), asynchronously",
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
    body = b"".join(chunks)
    if not body.strip():
        raise HTTPProblem(400, "Empty capture", "the request has no EPCIS document in its body")
    job = node.spool(body)
    return Response(
        status_code=202,
        headers={**CAPTURE_HEADERS, "Location": f"/capture/{job.capture_id}"},
    )


def _too_large(size: int) -> HTTPProblem:
    return HTTPProblem(
        413,
        "Capture payload too large",
        f"{size} bytes is more than this node takes in one capture ({CAPTURE_SIZE_LIMIT} bytes, "
        "GS1-EPCIS-Capture-File-Size-Limit): split the document",
        type="epcisException:CapturePayloadTooLargeException",
    )


@router.get("/capture", summary="Capture jobs of this run, newest first")
async def capture_jobs(
    request: Request, perPage: int = 30, who: Principal = Depends(local_user)
) -> list[dict[str, Any]]:
    node = node_of(request)
    if perPage < 1:
        raise HTTPProblem(400, "Invalid perPage", "perPage must be 1 or more", field="perPage")
    jobs = sorted(node.jobs.values(), key=lambda j: j.capture_id, reverse=True)[:perPage]
    return [j.to_json() for j in jobs]


@router.get("/capture/{captureID}", summary="One capture job: running, success, errors")
async def capture_job(
    captureID: str, request: Request, who: Principal = Depends(local_user)
) -> dict[str, Any]:
    node = node_of(request)
    job = node.capture_job(captureID)
    if job is None:
        raise HTTPProblem(404, "No such capture job", f"no capture job {captureID!r}")
    return job.to_json()
