"""The EPCIS 2.0 binding's top-level resources: ``/eventTypes``, ``/epcs``, ``/bizSteps``,
``/bizLocations``, ``/readPoints``, ``/dispositions`` — what an EPCIS client browses and traces
with (``GET /epcs/{epc}/events``: everything that happened to one EPC).

Each resource has three levels:

* the collection (``GET /epcs``): what the log knows, as URIs (CBV words bare), sorted and paged
  with ``perPage`` and ``nextPageToken`` (``Link: <…>; rel="next"``). ``/eventTypes`` lists
  the five EPCIS event types, ``/bizSteps`` and ``/dispositions`` the CBV's standard words and
  every other one the log uses;
* a member (``GET /epcs/{epc}``): its sub-resources (``events``), or 404 if the log does not
  know it;
* the member's events (``GET /epcs/{epc}/events``): the SimpleEventQuery the member stands for
  (``MATCH_anyEPC``, ``eventType``, ``EQ_bizStep``, ``EQ_bizLocation``, ``EQ_readPoint``,
  ``EQ_disposition``) and any other query parameter, answered by the same query as
  ``GET /events``.

A partner reads every level through its own view of the log
(:func:`keiretsu.node.sharing.log_cursor`): a value it may not see is neither listed nor known.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from keiretsu.model import cbv
from keiretsu.node.epcis_render import (
    EPCIS_CONTEXT,
    object_uri,
    vocabulary_uri,
    vocabulary_word,
)
from keiretsu.node.problems import HTTPProblem
from keiretsu.node.query import MAX_PER_PAGE
from keiretsu.node.query.listings import (
    biz_steps_used,
    dispositions_used,
    related_objects,
    relates_object,
)
from keiretsu.node.routes.discovery import add_options
from keiretsu.node.routes.events import (
    DEFAULT_PER_PAGE,
    PAGING_PARAMETERS,
    EPCISQueryDocument,
    EPCISResponse,
    run_query,
)
from keiretsu.node.security import Principal, node_of, principal
from keiretsu.node.sharing import log_cursor

router = APIRouter(tags=["Top-level resources"])

QUERY_PARAMETER = "epcisException:QueryParameterException"


@dataclass(frozen=True)
class Resource:
    """One top-level resource: its name in the URL, the query parameter its members stand
    for, and the parameters a caller may not give again beside the path's value."""

    name: str
    member: str
    """The name of a member in the path (``/epcs/{epc}``)."""
    parameter: str
    taken: tuple[str, ...]


EVENT_TYPE = Resource("eventTypes", "eventType", "eventType", ("eventType",))
EPC = Resource("epcs", "epc", "MATCH_anyEPC", ("MATCH_anyEPC",))
BIZ_STEP = Resource("bizSteps", "bizStep", "EQ_bizStep", ("EQ_bizStep",))
BIZ_LOCATION = Resource(
    "bizLocations", "bizLocation", "EQ_bizLocation", ("EQ_bizLocation", "WD_bizLocation")
)
READ_POINT = Resource("readPoints", "readPoint", "EQ_readPoint", ("EQ_readPoint", "WD_readPoint"))
DISPOSITION = Resource("dispositions", "disposition", "EQ_disposition", ("EQ_disposition",))
RESOURCES = (EVENT_TYPE, EPC, BIZ_STEP, BIZ_LOCATION, READ_POINT, DISPOSITION)


# --- what the log knows ------------------------------------------------------------------------

_ROLE_OF = {EPC.name: "epc", BIZ_LOCATION.name: cbv.BIZ_LOCATION, READ_POINT.name: cbv.READ_POINT}
"""The object resources, and the role in which the log relates their members to events."""


def _vocabulary(cur: Any, resource: Resource) -> list[str]:
    """Every member of a vocabulary resource, sorted: the standard terms and those the log
    uses."""
    if resource is EVENT_TYPE:
        return sorted(cbv.EVENT_TYPES)
    if resource is BIZ_STEP:
        return sorted(cbv.BIZ_STEPS.terms | biz_steps_used(cur))
    return sorted(cbv.DISPOSITIONS.terms | dispositions_used(cur))


def _word(vocabulary: cbv.Vocabulary, kind: str, value: str) -> str:
    """A CBV value in any of its spellings (bare, URN, GS1 Web URI, CURIE) as EPCIS writes it."""
    return vocabulary_uri(kind, vocabulary_word(kind, vocabulary.word(value)))


def _knows(cur: Any, resource: Resource, value: str) -> bool:
    """Whether ``value`` is a member of ``resource`` for the reader of ``cur``."""
    if resource.name in _ROLE_OF:
        return relates_object(cur, _ROLE_OF[resource.name], value)
    if resource is EVENT_TYPE:
        return value in cbv.EVENT_TYPES
    if resource is BIZ_STEP:
        step = _word(cbv.BIZ_STEPS, "bizStep", value)
        return step in cbv.BIZ_STEPS.terms or step in biz_steps_used(cur)
    disposition = _word(cbv.DISPOSITIONS, "disposition", value)
    return disposition in cbv.DISPOSITIONS.terms or disposition in dispositions_used(cur)


# --- paging --------------------------------------------------------------------------------

_TOKEN_SALT = b"keiretsu resource page token v1\n"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def page_token(resource: str, key: str) -> str:
    """The ``nextPageToken`` that resumes ``resource``'s listing after ``key``: the key and a
    digest over it (tamper-evident, not secret: the key is the last member the caller saw)."""
    payload = orjson.dumps([resource, key])
    digest = hashlib.sha256(_TOKEN_SALT + payload).digest()[:12]
    return f"{_b64(payload)}.{_b64(digest)}"


def _resume_after(resource: str, token: str | None) -> str | None:
    if token is None:
        return None
    refused = HTTPProblem(
        400,
        "Invalid nextPageToken",
        f"not a page token of /{resource} (altered, or from another listing)",
        type=QUERY_PARAMETER,
        field="nextPageToken",
    )
    body, dot, sealed = token.partition(".")
    try:
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        digest = base64.urlsafe_b64decode(sealed + "=" * (-len(sealed) % 4))
        name, key = orjson.loads(payload)
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise refused from None
    expected = hashlib.sha256(_TOKEN_SALT + payload).digest()[:12]
    if not dot or not hmac.compare_digest(digest, expected) or name != resource:
        raise refused
    if not isinstance(key, str):
        raise refused
    return key


class Collection(BaseModel):
    """GS1's ``Collection``: the members of a top-level resource, sorted (identifiers as
    URIs, CBV words bare), or the sub-resources of one member (``events``). A listing's next
    page is named by the ``GS1-Next-Page-Token`` and ``Link: <…>; rel="next"`` headers."""

    model_config = ConfigDict(populate_by_name=True)

    context: list[Any] = Field(alias="@context", description="the EPCIS 2.0 JSON-LD context")
    type: Literal["Collection"]
    member: list[str]


def _collection(members: Iterable[str]) -> Collection:
    return Collection.model_validate(
        {"@context": [EPCIS_CONTEXT], "type": "Collection", "member": list(members)}
    )


def _listing(
    request: Request, who: Principal, resource: Resource, per_page: int, token: str | None
) -> Response:
    """One page of ``resource``'s members for ``who``, with the link to the next."""
    per_page = min(per_page, MAX_PER_PAGE)  # GS1: a limit the client cannot override
    after = _resume_after(resource.name, token)
    cur = log_cursor(node_of(request), who, "query")
    if resource.name in _ROLE_OF:
        ids = related_objects(cur, _ROLE_OF[resource.name], after=after, limit=per_page + 1)
        more = len(ids) > per_page
        ids = ids[:per_page]
        members = [object_uri(i) for i in ids]
        last = ids[-1] if ids else None
    else:
        every = _vocabulary(cur, resource)
        rest = [m for m in every if after is None or m > after]
        more = len(rest) > per_page
        members = rest[:per_page]
        last = members[-1] if members else None
    headers: dict[str, str] = {}
    if more and last is not None:
        token = page_token(resource.name, last)
        link = request.url.include_query_params(nextPageToken=token, perPage=per_page)
        headers["GS1-Next-Page-Token"] = token
        headers["Link"] = f'<{link}>; rel="next"'
    return JSONResponse(_collection(members).model_dump(by_alias=True), headers=headers)


def _member(request: Request, who: Principal, resource: Resource, value: str) -> Collection:
    cur = log_cursor(node_of(request), who, "query")
    if not value or not _knows(cur, resource, value):
        raise HTTPProblem(404, "Not found", f"/{resource.name} has no {resource.member} {value!r}")
    return _collection(["events"])


def _events(request: Request, who: Principal, resource: Resource, value: str) -> Response:
    """The query ``resource``'s member ``value`` stands for, with the caller's other query
    parameters (and paging) beside it."""
    extra = list(request.query_params.multi_items())
    for name, _ in extra:
        if name in resource.taken:
            raise HTTPProblem(
                400,
                "Invalid query",
                f"{name}: the path names the {resource.name[:-1]} already; "
                f"use /events?{resource.parameter}=… to ask for several",
                type=QUERY_PARAMETER,
                field=name,
            )
    return run_query(request, who, [(resource.parameter, value), *extra])


# --- the routes ----------------------------------------------------------------------------

MEMBERS_PER_PAGE = Query(
    DEFAULT_PER_PAGE, ge=1, description=f"members per page (at most {MAX_PER_PAGE:,} are served)"
)
NEXT_PAGE = Query(None, description="the nextPageToken of the previous page")
EVENTS_DESCRIPTION = (
    "Any other SimpleEventQuery parameter of GET /events narrows the answer "
    "(docs/node/epcis-query.md); paged with perPage and nextPageToken, like GET /events."
)


EVENTS_ROUTE: dict[str, Any] = {
    "description": EVENTS_DESCRIPTION,
    "response_model": EPCISQueryDocument,
    "response_class": EPCISResponse,
    "openapi_extra": {"parameters": PAGING_PARAMETERS},
}
"""What a member's events route says of itself: its paging parameters (they and every other
query parameter are read once, by the query) and the EPCISQueryDocument it answers with."""


for _resource in RESOURCES:
    # the deeper paths first: /epcs/{epc:path} would also match /epcs/x/events
    _member_path = f"/{_resource.name}/{{{_resource.member}:path}}"
    add_options(router, f"{_member_path}/events", "OPTIONS, GET")
    add_options(router, _member_path, "OPTIONS, GET")
    add_options(router, f"/{_resource.name}", "OPTIONS, GET")


@router.get(
    "/eventTypes/{eventType:path}/events",
    summary="Events of one EPCIS event type",
    **EVENTS_ROUTE,
)
def event_type_events(
    eventType: str, request: Request, who: Principal = Depends(principal)
) -> Response:
    return _events(request, who, EVENT_TYPE, eventType)


@router.get(
    "/eventTypes/{eventType:path}",
    summary="One event type's sub-resources (events)",
    response_model=Collection,
)
def event_type(eventType: str, request: Request, who: Principal = Depends(principal)) -> Collection:
    return _member(request, who, EVENT_TYPE, eventType)


@router.get(
    "/eventTypes",
    summary="The EPCIS event types (the five of the standard)",
    response_model=Collection,
)
def event_types(
    request: Request,
    who: Principal = Depends(principal),
    perPage: int = MEMBERS_PER_PAGE,
    nextPageToken: str | None = NEXT_PAGE,
) -> Response:
    return _listing(request, who, EVENT_TYPE, perPage, nextPageToken)


@router.get(
    "/epcs/{epc:path}/events",
    summary="Events of one EPC (MATCH_anyEPC: an EPC URN, a Digital Link or a pattern)",
    **EVENTS_ROUTE,
)
def epc_events(epc: str, request: Request, who: Principal = Depends(principal)) -> Response:
    return _events(request, who, EPC, epc)


@router.get(
    "/epcs/{epc:path}", summary="One EPC's sub-resources (events)", response_model=Collection
)
def epc(epc: str, request: Request, who: Principal = Depends(principal)) -> Collection:
    return _member(request, who, EPC, epc)


@router.get(
    "/epcs",
    summary="The EPCs the log knows (instances, as canonical Digital Links)",
    response_model=Collection,
)
def epcs(
    request: Request,
    who: Principal = Depends(principal),
    perPage: int = MEMBERS_PER_PAGE,
    nextPageToken: str | None = NEXT_PAGE,
) -> Response:
    return _listing(request, who, EPC, perPage, nextPageToken)


@router.get(
    "/bizSteps/{bizStep:path}/events",
    summary="Events of one business step (EQ_bizStep, any CBV spelling)",
    **EVENTS_ROUTE,
)
def biz_step_events(
    bizStep: str, request: Request, who: Principal = Depends(principal)
) -> Response:
    return _events(request, who, BIZ_STEP, bizStep)


@router.get(
    "/bizSteps/{bizStep:path}",
    summary="One business step's sub-resources (events)",
    response_model=Collection,
)
def biz_step(bizStep: str, request: Request, who: Principal = Depends(principal)) -> Collection:
    return _member(request, who, BIZ_STEP, bizStep)


@router.get(
    "/bizSteps",
    summary="The CBV business steps and every other one the log uses",
    response_model=Collection,
)
def biz_steps(
    request: Request,
    who: Principal = Depends(principal),
    perPage: int = MEMBERS_PER_PAGE,
    nextPageToken: str | None = NEXT_PAGE,
) -> Response:
    return _listing(request, who, BIZ_STEP, perPage, nextPageToken)


@router.get(
    "/bizLocations/{bizLocation:path}/events",
    summary="Events at one business location (EQ_bizLocation)",
    **EVENTS_ROUTE,
)
def biz_location_events(
    bizLocation: str, request: Request, who: Principal = Depends(principal)
) -> Response:
    return _events(request, who, BIZ_LOCATION, bizLocation)


@router.get(
    "/bizLocations/{bizLocation:path}",
    summary="One business location's sub-resources (events)",
    response_model=Collection,
)
def biz_location(
    bizLocation: str, request: Request, who: Principal = Depends(principal)
) -> Collection:
    return _member(request, who, BIZ_LOCATION, bizLocation)


@router.get(
    "/bizLocations", summary="The business locations the log knows", response_model=Collection
)
def biz_locations(
    request: Request,
    who: Principal = Depends(principal),
    perPage: int = MEMBERS_PER_PAGE,
    nextPageToken: str | None = NEXT_PAGE,
) -> Response:
    return _listing(request, who, BIZ_LOCATION, perPage, nextPageToken)


@router.get(
    "/readPoints/{readPoint:path}/events",
    summary="Events at one read point (EQ_readPoint)",
    **EVENTS_ROUTE,
)
def read_point_events(
    readPoint: str, request: Request, who: Principal = Depends(principal)
) -> Response:
    return _events(request, who, READ_POINT, readPoint)


@router.get(
    "/readPoints/{readPoint:path}",
    summary="One read point's sub-resources (events)",
    response_model=Collection,
)
def read_point(readPoint: str, request: Request, who: Principal = Depends(principal)) -> Collection:
    return _member(request, who, READ_POINT, readPoint)


@router.get("/readPoints", summary="The read points the log knows", response_model=Collection)
def read_points(
    request: Request,
    who: Principal = Depends(principal),
    perPage: int = MEMBERS_PER_PAGE,
    nextPageToken: str | None = NEXT_PAGE,
) -> Response:
    return _listing(request, who, READ_POINT, perPage, nextPageToken)


@router.get(
    "/dispositions/{disposition:path}/events",
    summary="Events with one disposition (EQ_disposition, any CBV spelling)",
    **EVENTS_ROUTE,
)
def disposition_events(
    disposition: str, request: Request, who: Principal = Depends(principal)
) -> Response:
    return _events(request, who, DISPOSITION, disposition)


@router.get(
    "/dispositions/{disposition:path}",
    summary="One disposition's sub-resources (events)",
    response_model=Collection,
)
def disposition(
    disposition: str, request: Request, who: Principal = Depends(principal)
) -> Collection:
    return _member(request, who, DISPOSITION, disposition)


@router.get(
    "/dispositions",
    summary="The CBV dispositions and every other one the log uses",
    response_model=Collection,
)
def dispositions(
    request: Request,
    who: Principal = Depends(principal),
    perPage: int = MEMBERS_PER_PAGE,
    nextPageToken: str | None = NEXT_PAGE,
) -> Response:
    return _listing(request, who, DISPOSITION, perPage, nextPageToken)


# --- /nextPageToken/{token} -------------------------------------------------------------------


@router.delete(
    "/nextPageToken/{token:path}",
    status_code=204,
    tags=["Query"],
    summary="Release a nextPageToken (the node keeps nothing for one: nothing to release)",
)
def release_page_token(token: str, who: Principal = Depends(principal)) -> Response:
    """GS1's optional release of what a server keeps for a page token. This node keeps
    nothing that needs releasing (a local user's token carries its own position; a partner's
    is a small handle dropped after 10,000 newer ones), so the answer is 204 at once. The
    token is not revoked: page tokens do not expire (docs/node/epcis-query.md)."""
    return Response(status_code=204)
