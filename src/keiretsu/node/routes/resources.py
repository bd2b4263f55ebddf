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
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from keiretsu.model import cbv
from keiretsu.model.gs1 import CLASS_TYPES, canonical_id
from keiretsu.node.epcis_render import (
    EPCIS_CONTEXT,
    object_uri,
    plain_id,
    vocabulary_uri,
    vocabulary_word,
)
from keiretsu.node.problems import HTTPProblem
from keiretsu.node.routes.discovery import add_options
from keiretsu.node.routes.events import DEFAULT_PER_PAGE, MAX_PER_PAGE, run_query
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

# An EPC is what MATCH_anyEPC looks at: an object related to an event as one of its EPCs
# (epcList, childEPCs, parentID, inputEPCList, outputEPCList) — or, for an event that did not
# come as EPCIS, under a qualifier of its own — and not as a class (a quantity element).
_EPC_WHERE = (
    "(list_contains(?::VARCHAR[], eo.ocel_qualifier)"
    " OR (NOT list_contains(?::VARCHAR[], eo.ocel_qualifier)"
    " AND NOT starts_with(eo.ocel_qualifier, 'source:')"
    " AND NOT starts_with(eo.ocel_qualifier, 'destination:')"
    " AND eo.ocel_event_id NOT IN"
    " (SELECT ocel_id FROM ocel_event_attribute WHERE ocel_name = 'eventType')))"
    " AND eo.quantity IS NULL AND eo.uom IS NULL"
    " AND eo.ocel_object_id NOT IN"
    " (SELECT ocel_id FROM ocel_object WHERE list_contains(?::VARCHAR[], ocel_type))"
)
_EPC_PARAMS: list[Any] = [
    list(cbv.WHAT_ROLES),
    sorted(cbv.STANDARD_QUALIFIERS),
    sorted(CLASS_TYPES),
]
_OBJECTS: dict[str, tuple[str, list[Any]]] = {
    EPC.name: (_EPC_WHERE, _EPC_PARAMS),
    BIZ_LOCATION.name: ("eo.ocel_qualifier = ?", [cbv.BIZ_LOCATION]),
    READ_POINT.name: ("eo.ocel_qualifier = ?", [cbv.READ_POINT]),
}


def _object_page(cur: Any, resource: Resource, after: str | None, limit: int) -> list[str]:
    """Up to ``limit`` ids of objects the log relates to events as ``resource`` says, after
    the id ``after``, in order."""
    where, params = _OBJECTS[resource.name]
    rows = cur.execute(
        f"SELECT DISTINCT eo.ocel_object_id AS id FROM ocel_event_object eo WHERE {where}"
        " AND (?::VARCHAR IS NULL OR eo.ocel_object_id > ?) ORDER BY id LIMIT ?",
        [*params, after, after, limit],
    ).fetchall()
    return [str(r[0]) for r in rows]


def _knows_object(cur: Any, resource: Resource, value: str) -> bool:
    where, params = _OBJECTS[resource.name]
    rows = cur.execute(
        f"SELECT 1 FROM ocel_event_object eo WHERE {where} AND eo.ocel_object_id = ? LIMIT 1",
        [*params, canonical_id(plain_id(value))],
    ).fetchall()
    return bool(rows)


_EVENT_TYPE_NAMES = "|".join(sorted(cbv.EVENT_TYPES))
_NO_STEP = f"^({_EVENT_TYPE_NAMES})( (ADD|OBSERVE|DELETE))?$"


def _biz_steps_used(cur: Any) -> set[str]:
    """The business steps of the log's events, as EPCIS writes them. An EPCIS event sent
    without a bizStep is named ``ObjectEvent OBSERVE`` (its type and action): that name is
    not a business step."""
    types = [str(r[0]) for r in cur.execute("SELECT DISTINCT ocel_type FROM ocel_event").fetchall()]
    candidates = [t for t in types if re.fullmatch(_NO_STEP, t)]
    steps = {t for t in types if t not in candidates}
    if candidates:
        rows = cur.execute(
            "SELECT DISTINCT e.ocel_type FROM ocel_event e"
            " LEFT JOIN ocel_event_attribute t"
            " ON t.ocel_id = e.ocel_id AND t.ocel_name = 'eventType'"
            " LEFT JOIN ocel_event_attribute a ON a.ocel_id = e.ocel_id AND a.ocel_name = 'action'"
            " WHERE list_contains(?::VARCHAR[], e.ocel_type) AND (t.ocel_value IS NULL OR"
            " (e.ocel_type <> t.ocel_value"
            " AND e.ocel_type <> t.ocel_value || ' ' || coalesce(a.ocel_value, '')))",
            [candidates],
        ).fetchall()
        steps |= {str(r[0]) for r in rows}
    return {vocabulary_uri("bizStep", s) for s in steps}


def _dispositions_used(cur: Any) -> set[str]:
    rows = cur.execute(
        "SELECT DISTINCT ocel_value FROM ocel_event_attribute"
        " WHERE ocel_name = 'disposition' AND ocel_value IS NOT NULL"
    ).fetchall()
    return {vocabulary_uri("disposition", str(r[0])) for r in rows}


def _vocabulary(cur: Any, resource: Resource) -> list[str]:
    """Every member of a vocabulary resource, sorted: the standard terms and those the log
    uses."""
    if resource is EVENT_TYPE:
        return sorted(cbv.EVENT_TYPES)
    if resource is BIZ_STEP:
        return sorted(cbv.BIZ_STEPS.terms | _biz_steps_used(cur))
    return sorted(cbv.DISPOSITIONS.terms | _dispositions_used(cur))


def _word(vocabulary: cbv.Vocabulary, kind: str, value: str) -> str:
    """A CBV value in any of its spellings (bare, URN, GS1 Web URI, CURIE) as EPCIS writes it."""
    return vocabulary_uri(kind, vocabulary_word(kind, vocabulary.word(value)))


def _knows(cur: Any, resource: Resource, value: str) -> bool:
    """Whether ``value`` is a member of ``resource`` for the reader of ``cur``."""
    if resource.name in _OBJECTS:
        return _knows_object(cur, resource, value)
    if resource is EVENT_TYPE:
        return value in cbv.EVENT_TYPES
    if resource is BIZ_STEP:
        step = _word(cbv.BIZ_STEPS, "bizStep", value)
        return step in cbv.BIZ_STEPS.terms or step in _biz_steps_used(cur)
    disposition = _word(cbv.DISPOSITIONS, "disposition", value)
    return disposition in cbv.DISPOSITIONS.terms or disposition in _dispositions_used(cur)


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


def _collection(members: Iterable[str]) -> dict[str, Any]:
    return {"@context": [EPCIS_CONTEXT], "type": "Collection", "member": list(members)}


def _listing(
    request: Request, who: Principal, resource: Resource, per_page: int, token: str | None
) -> Response:
    """One page of ``resource``'s members for ``who``, with the link to the next."""
    per_page = min(per_page, MAX_PER_PAGE)  # GS1: a limit the client cannot override
    after = _resume_after(resource.name, token)
    cur = log_cursor(node_of(request), who, "query")
    if resource.name in _OBJECTS:
        ids = _object_page(cur, resource, after, per_page + 1)
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
    return JSONResponse(_collection(members), headers=headers)


def _member(request: Request, who: Principal, resource: Resource, value: str) -> dict[str, Any]:
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

PER_PAGE = Query(DEFAULT_PER_PAGE, ge=1, le=MAX_PER_PAGE, description="events per page")
MEMBERS_PER_PAGE = Query(
    DEFAULT_PER_PAGE, ge=1, description=f"members per page (at most {MAX_PER_PAGE:,} are served)"
)
NEXT_PAGE = Query(None, description="the nextPageToken of the previous page")
EVENTS_DESCRIPTION = (
    "Any other SimpleEventQuery parameter narrows the answer (docs/node/epcis-query.md); "
    "paged with perPage and nextPageToken, like GET /events."
)

for _resource in RESOURCES:
    # the deeper paths first: /epcs/{epc:path} would also match /epcs/x/events
    _member_path = f"/{_resource.name}/{{{_resource.member}:path}}"
    add_options(router, f"{_member_path}/events", "OPTIONS, GET")
    add_options(router, _member_path, "OPTIONS, GET")
    add_options(router, f"/{_resource.name}", "OPTIONS, GET")


@router.get(
    "/eventTypes/{eventType:path}/events",
    summary="Events of one EPCIS event type",
    description=EVENTS_DESCRIPTION,
)
def event_type_events(
    eventType: str,
    request: Request,
    who: Principal = Depends(principal),
    perPage: int = PER_PAGE,
    nextPageToken: str | None = NEXT_PAGE,
) -> Response:
    return _events(request, who, EVENT_TYPE, eventType)


@router.get("/eventTypes/{eventType:path}", summary="One event type's sub-resources (events)")
def event_type(eventType: str, request: Request, who: Principal = Depends(principal)) -> Any:
    return _member(request, who, EVENT_TYPE, eventType)


@router.get("/eventTypes", summary="The EPCIS event types (the five of the standard)")
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
    description=EVENTS_DESCRIPTION,
)
def epc_events(
    epc: str,
    request: Request,
    who: Principal = Depends(principal),
    perPage: int = PER_PAGE,
    nextPageToken: str | None = NEXT_PAGE,
) -> Response:
    return _events(request, who, EPC, epc)


@router.get("/epcs/{epc:path}", summary="One EPC's sub-resources (events)")
def epc(epc: str, request: Request, who: Principal = Depends(principal)) -> Any:
    return _member(request, who, EPC, epc)


@router.get("/epcs", summary="The EPCs the log knows (instances, as canonical Digital Links)")
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
    description=EVENTS_DESCRIPTION,
)
def biz_step_events(
    bizStep: str,
    request: Request,
    who: Principal = Depends(principal),
    perPage: int = PER_PAGE,
    nextPageToken: str | None = NEXT_PAGE,
) -> Response:
    return _events(request, who, BIZ_STEP, bizStep)


@router.get("/bizSteps/{bizStep:path}", summary="One business step's sub-resources (events)")
def biz_step(bizStep: str, request: Request, who: Principal = Depends(principal)) -> Any:
    return _member(request, who, BIZ_STEP, bizStep)


@router.get("/bizSteps", summary="The CBV business steps and every other one the log uses")
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
    description=EVENTS_DESCRIPTION,
)
def biz_location_events(
    bizLocation: str,
    request: Request,
    who: Principal = Depends(principal),
    perPage: int = PER_PAGE,
    nextPageToken: str | None = NEXT_PAGE,
) -> Response:
    return _events(request, who, BIZ_LOCATION, bizLocation)


@router.get(
    "/bizLocations/{bizLocation:path}", summary="One business location's sub-resources (events)"
)
def biz_location(bizLocation: str, request: Request, who: Principal = Depends(principal)) -> Any:
    return _member(request, who, BIZ_LOCATION, bizLocation)


@router.get("/bizLocations", summary="The business locations the log knows")
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
    description=EVENTS_DESCRIPTION,
)
def read_point_events(
    readPoint: str,
    request: Request,
    who: Principal = Depends(principal),
    perPage: int = PER_PAGE,
    nextPageToken: str | None = NEXT_PAGE,
) -> Response:
    return _events(request, who, READ_POINT, readPoint)


@router.get("/readPoints/{readPoint:path}", summary="One read point's sub-resources (events)")
def read_point(readPoint: str, request: Request, who: Principal = Depends(principal)) -> Any:
    return _member(request, who, READ_POINT, readPoint)


@router.get("/readPoints", summary="The read points the log knows")
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
    description=EVENTS_DESCRIPTION,
)
def disposition_events(
    disposition: str,
    request: Request,
    who: Principal = Depends(principal),
    perPage: int = PER_PAGE,
    nextPageToken: str | None = NEXT_PAGE,
) -> Response:
    return _events(request, who, DISPOSITION, disposition)


@router.get("/dispositions/{disposition:path}", summary="One disposition's sub-resources (events)")
def disposition(disposition: str, request: Request, who: Principal = Depends(principal)) -> Any:
    return _member(request, who, DISPOSITION, disposition)


@router.get("/dispositions", summary="The CBV dispositions and every other one the log uses")
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
