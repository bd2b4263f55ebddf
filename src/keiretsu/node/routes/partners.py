"""Node to node: a partner's signed push (``POST /partners/inbox``) and this node's partners.

A push is stored whole or not at all before the answer goes back, so a ``200`` means the events
are in the store; a retried push is de-duplicated by event id (``events_known`` in the answer).
A push is read off the writer; pushes that queue while the writer is busy are stored in one
transaction (each its own ingest), and subscribers are told as soon as it commits.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from keiretsu.model.errors import DocumentError
from keiretsu.node import stages
from keiretsu.node.problems import HTTPProblem
from keiretsu.node.runtime import read_push
from keiretsu.node.security import Principal, local_user, node_of, partner_node
from keiretsu.node.transport import INBOX_SIZE_LIMIT

__all__ = ["INBOX_SIZE_LIMIT", "router"]

router = APIRouter(tags=["Partners"])

_DELIVERY = re.compile(r"^[A-Za-z0-9._:-]{1,200}$")


class PushReport(BaseModel):
    """What storing a partner's push did (the store's ingest report): how many events it
    held, how many were new, already known (a retried push) or corrections."""

    document: str = Field(description="the push as the ingest log names it: from/<partner>/<id>")
    format: str | None = Field(description="ocel-json")
    status: str = Field(description="accepted")
    ingest_id: int | None
    events_read: int
    events_new: int
    events_known: int = Field(description="already stored: a retried delivery")
    events_corrected: int = Field(description="stored events marked corrected")
    objects_new: int
    seconds: float = Field(description="time taken to store it")
    problem: dict[str, Any] | None = Field(description="why it was refused (never, when 200)")


class PartnerStatus(BaseModel):
    """A partner, and how delivery to it stands: documents delivered and still owed, events
    sent, the last error."""

    name: str
    url: str = Field(description="where its node listens")
    documents_delivered: int
    documents_owed: int
    events_sent: int
    last_error: str | None


class PartnerOut(BaseModel):
    """A partner as added: its name and its node's URL."""

    name: str
    url: str


@router.post(
    "/partners/inbox",
    summary="A partner pushes the events it shares with this node (OCEL 2.0 JSON, signed)",
    response_model=PushReport,
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": {}}}}
    },
)
async def inbox(
    request: Request, delivery: str = "push", who: Principal = Depends(partner_node)
) -> PushReport:
    node = node_of(request)
    if not _DELIVERY.match(delivery):
        raise HTTPProblem(400, "Invalid delivery id", "delivery: letters, digits, ._:- only")
    # read already, at most INBOX_SIZE_LIMIT bytes, and checked against the partner's token
    # (keiretsu.node.transport, security.principal)
    entered = stages.now()
    body = await request.body()
    # read off the event loop and off the writer; the writer then stores it with the pushes
    # queued beside it, in one transaction
    try:
        batches = await asyncio.to_thread(read_push, who.name, delivery, body)
    except DocumentError as exc:
        unreadable = exc  # logged as refused (nothing stored), like any refused document
        await node.writer.run(
            lambda s: node.refuse_push(s, who.name, delivery, len(body), unreadable)
        )
        raise refused_push(exc) from exc
    parsed = stages.now()
    try:
        report = await asyncio.wrap_future(node.store_push(who.name, delivery, batches, len(body)))
    except DocumentError as exc:
        raise refused_push(exc) from exc
    if stages.enabled():
        stages.record(
            "inbox",
            document=report.document,
            ingest_id=report.ingest_id,
            entered=entered,
            parsed=parsed,
            answered=stages.now(),
        )
    return PushReport(**report.to_dict())


_PROBLEM_MEMBERS = ("type", "title", "status", "detail")


def refused_push(exc: DocumentError) -> HTTPProblem:
    """The 400 answer to a push that is not a readable OCEL 2.0 document: the first problem's
    title and detail (what was wrong, and where: ``field``, ``line``, ``event_index``), every
    problem under ``problems`` when there are several."""
    found = exc.to_dict()
    extra = {k: v for k, v in found.items() if k not in _PROBLEM_MEMBERS}
    return HTTPProblem(
        400,
        f"Push refused: {found.get('title', 'invalid document')}",
        str(exc),
        type="epcisException:ValidationException",
        **extra,
    )


class PartnerIn(BaseModel):
    name: str = Field(min_length=1, max_length=63, description="the partner node's name")
    url: str = Field(min_length=1, max_length=2000, description="where its node listens")
    public_key: str = Field(min_length=1, max_length=200, description="ed25519:… as it sent it")
    share_history: bool = Field(
        default=False, description="also owe it every document recorded before today"
    )


@router.get(
    "/twin/partners",
    tags=["Twin"],
    summary="Partners and the delivery state to each",
    response_model=list[PartnerStatus],
)
async def partners(request: Request, who: Principal = Depends(local_user)) -> list[PartnerStatus]:
    node = node_of(request)
    status = {r["partner"]: r for r in node.store.outbox_status(con=node.cursor()).to_pylist()}
    delivery = getattr(request.app.state, "delivery", None)
    rows = []
    for name, p in sorted(node.partners().items()):
        link = delivery.links.get(name) if delivery is not None else None
        row = status.get(name, {})
        rows.append(
            PartnerStatus(
                name=name,
                url=p.url,
                documents_delivered=row.get("documents_delivered", 0),
                documents_owed=row.get("documents_owed", 0),
                events_sent=row.get("events_sent", 0),
                last_error=(link.last_error if link else None) or row.get("last_error"),
            )
        )
    return rows


@router.post(
    "/twin/partners",
    tags=["Twin"],
    status_code=201,
    summary="Add or update a partner",
    response_model=PartnerOut,
)
async def add_partner(
    partner: PartnerIn, request: Request, who: Principal = Depends(local_user)
) -> PartnerOut:
    from keiretsu.node.home import NodeError

    node = node_of(request)
    try:
        added = node.home.add_partner(partner.name, partner.url, partner.public_key)
    except (NodeError, ValueError) as exc:
        raise HTTPProblem(400, "Invalid partner", str(exc)) from exc
    if partner.share_history:
        await node.writer.run(lambda s: s.outbox_add(added.name))
    delivery = getattr(request.app.state, "delivery", None)
    if delivery is not None:
        delivery._wake_all()
    return PartnerOut(name=added.name, url=added.url)
