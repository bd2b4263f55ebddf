"""``/events``, ``/queries``: the EPCIS 2.0 binding's query interface.

``GET /events`` takes the SimpleEventQuery parameters (docs/node/epcis-query.md) and pages with
``nextPageToken``; named queries keep a query under a name; subscriptions to a named query are
streamed to a webhook (``dest``, each POST signed with ``GS1-Signature``) or over a WebSocket.
A partner's signed request sees only what the sharing policy lets leave for it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request, Response, WebSocket
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from keiretsu.node.problems import HTTPProblem
from keiretsu.node.query import (
    MAX_PER_PAGE,
    QueryError,
    parse_query,
    query_document,
    select_events,
)
from keiretsu.node.query import query_from_json as read_json_query
from keiretsu.node.query.parameters import PARAMETERS, extension_namespaces
from keiretsu.node.runtime import new_id
from keiretsu.node.security import Principal, node_of, principal, websocket_principal
from keiretsu.node.sharing import PageTokens, log_cursor, render, scope_of
from keiretsu.store import named_queries as kept

router = APIRouter(tags=["Query"])

DEFAULT_PER_PAGE = 100
_partner_tokens = PageTokens()
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_PAGING = ("perPage", "nextPageToken")


# --- what the routes answer ------------------------------------------------------------------


class EPCISResponse(JSONResponse):
    """An EPCIS 2.0 document or event: JSON-LD (``application/ld+json``), as the binding says."""

    media_type = "application/ld+json"


class EPCISEvent(BaseModel):
    """One EPCIS 2.0 event in GS1's JSON binding: the members below and every other one GS1's
    schema of an event defines (``epcList``, ``quantityList``, ``bizTransactionList``,
    ``sourceList``, ``sensorElementList``, ``errorDeclaration``…), spelled as GS1 spells them.
    A local user gets each event as it was captured; a partner, as its view rebuilt it."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(
        description="ObjectEvent, AggregationEvent, TransactionEvent, TransformationEvent or "
        "AssociationEvent"
    )
    eventID: str | None = Field(default=None, description="the event's id, if it has one")
    eventTime: str = Field(description="when it happened (RFC 3339)")
    eventTimeZoneOffset: str = Field(description="the local time zone offset, e.g. +09:00")
    action: str | None = Field(default=None, description="ADD, OBSERVE or DELETE")
    bizStep: str | None = Field(default=None, description="the business step (CBV)")


class ResultsBody(BaseModel):
    """The events of one page, in the query's order."""

    eventList: list[EPCISEvent]


class QueryResults(BaseModel):
    """The answer to a query: which query, which subscription (for a subscription's
    notification), and the events."""

    queryName: str = Field(description="SimpleEventQuery, or the named query's name")
    subscriptionID: str | None = Field(
        default=None, description="only in a subscription's notification"
    )
    resultsBody: ResultsBody


class QueryBody(BaseModel):
    """The body of an EPCISQueryDocument."""

    queryResults: QueryResults


class EPCISQueryDocument(BaseModel):
    """GS1's ``EPCISQueryDocument``: one page of a query's events. The next page, if any, is
    named by the ``GS1-Next-Page-Token`` and ``Link: <…>; rel="next"`` headers."""

    model_config = ConfigDict(populate_by_name=True)

    context: list[Any] = Field(
        alias="@context", description="the EPCIS 2.0 JSON-LD context, and keiretsu's prefix"
    )
    type: Literal["EPCISQueryDocument"]
    schemaVersion: str = Field(description="2.0")
    creationDate: str = Field(description="when the document was written (RFC 3339)")
    epcisBody: QueryBody


class NamedQueryOut(BaseModel):
    """A named query: its name and its SimpleEventQuery parameters as a JSON object (and, in
    the listing, when it was made)."""

    name: str
    query: dict[str, Any] = Field(description="SimpleEventQuery parameters as a JSON object")
    createdAt: str | None = Field(default=None, description="when it was made (ISO 8601)")


class SubscriptionOut(BaseModel):
    """A webhook subscription to a named query (never its signatureToken)."""

    subscriptionID: str
    dest: str = Field(description="the webhook each captured document's results are POSTed to")
    stream: bool = Field(description="always true: a POST per captured document")
    createdAt: str = Field(description="when it was made (ISO 8601)")
    lastNotifiedAt: str | None = Field(
        default=None, description="when its webhook last took a POST (ISO 8601), if ever"
    )
    queryName: str | None = Field(default=None, description="the named query it follows")


def _query_parameters() -> list[dict[str, Any]]:
    """The SimpleEventQuery parameters as OpenAPI query parameters: documented here, read
    once, by :func:`keiretsu.node.query.parse_query`."""
    return [
        {
            "name": name,
            "in": "query",
            "required": False,
            "description": meaning,
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE}
            if name == "perPage"
            else {"type": "string"},
        }
        for name, meaning in PARAMETERS.items()
    ]


QUERY_PARAMETERS = _query_parameters()
"""Every SimpleEventQuery parameter, for the OpenAPI description of a route that takes them."""
PAGING_PARAMETERS = [p for p in QUERY_PARAMETERS if p["name"] in _PAGING]
"""``perPage`` and ``nextPageToken`` alone (a named query's events)."""


def _query_error(exc: Exception) -> HTTPProblem:
    kind = getattr(exc, "kind", None)
    if kind == "too_large":
        return HTTPProblem(
            413, "Query too large", str(exc), type="epcisException:QueryTooLargeException"
        )
    return HTTPProblem(
        400,
        "Invalid query",
        str(exc),
        type="epcisException:QueryParameterException",
        field=getattr(exc, "parameter", None),
    )


def run_query(
    request: Request,
    who: Principal,
    params: list[tuple[str, str]],
    *,
    query_name: str = "SimpleEventQuery",
    json_query: dict[str, Any] | None = None,
) -> Response:
    """One page of a query's results as an EPCISQueryDocument, with ``Link``/
    ``GS1-Next-Page-Token`` to the next page.

    ``params`` are the request's query parameters, read once by
    :func:`~keiretsu.node.query.parse_query` — the query and its paging (``perPage``,
    ``nextPageToken``) alike; for a named query (``json_query``) only its paging comes from
    the URL."""
    node = node_of(request)
    try:
        # extension fields are named prefix:local, the prefixes declared in this header
        namespaces = extension_namespaces(request.headers.get("GS1-Extensions"))
        if json_query is None:
            query = parse_query(params, namespaces=namespaces)
            paging = query
        else:
            query = read_json_query(json_query, namespaces=namespaces)
            paging = parse_query([(k, v) for k, v in params if k in _PAGING])
        per_page = paging.per_page or DEFAULT_PER_PAGE
        token = paging.next_page_token
        # a partner is answered on its view of the log: its filters, counts and pages see
        # only what the policy lets it see, and its page tokens are opaque handles
        cur = log_cursor(node, who, "query")
        if who.is_partner and token is not None:
            token = _partner_tokens.unwrap(who.name, token)
            if token is None:
                raise HTTPProblem(
                    400,
                    "Invalid nextPageToken",
                    "unknown or expired page token",
                    field="nextPageToken",
                )
        page = select_events(cur, query, limit=per_page, after=token)
        next_token = (
            _partner_tokens.wrap(who.name, page.next_token) if who.is_partner else page.next_token
        )
    except QueryError as exc:
        raise _query_error(exc) from exc
    events = render(node, who, page.event_ids, cursor=cur)
    headers: dict[str, str] = {}
    if next_token:
        headers["GS1-Next-Page-Token"] = next_token
        link = request.url.include_query_params(nextPageToken=next_token, perPage=per_page)
        headers["Link"] = f'<{link}>; rel="next"'
    return EPCISResponse(query_document(events, query_name=query_name), headers=headers)


@router.get(
    "/events",
    summary="Query events (EPCIS 2.0 SimpleEventQuery parameters)",
    description="Any SimpleEventQuery parameter below, and EQ_bizTransaction_<type>, "
    "EQ_source_<type>, EQ_destination_<type> (see docs/node/epcis-query.md); paged with "
    "perPage and nextPageToken.",
    response_model=EPCISQueryDocument,
    response_class=EPCISResponse,
    openapi_extra={"parameters": QUERY_PARAMETERS},
)
def events(request: Request, who: Principal = Depends(principal)) -> Response:
    return run_query(request, who, list(request.query_params.multi_items()))


@router.get(
    "/events/{eventID:path}",
    summary="One event by its id",
    response_model=EPCISQueryDocument,
    response_class=EPCISResponse,
)
def event(eventID: str, request: Request, who: Principal = Depends(principal)) -> Response:
    # a partner looks in its view: an event hidden from it and one that does not exist are
    # the same lookup with the same answer
    found = render(node_of(request), who, [eventID])
    if not found:
        raise HTTPProblem(404, "No such event", f"no event {eventID!r}")
    # the binding answers with an EPCISQueryDocument enclosing the one event (and the error
    # declarations received for it since, folded into it)
    return EPCISResponse(query_document(found))


# --- named queries ---------------------------------------------------------------------------

QUERIES_PER_PARTNER = 100
"""Most named queries one partner may keep on this node."""
SUBSCRIPTIONS_PER_PARTNER = 20
"""Most webhook subscriptions one partner may hold on this node."""


class NamedQuery(BaseModel):
    name: str = Field(min_length=1, max_length=128, description="the query's name")
    query: dict[str, Any] = Field(description="SimpleEventQuery parameters as a JSON object")


def _stored_query(request: Request, who: Principal, name: str) -> dict[str, Any]:
    query = kept.named_query(node_of(request).cursor(), scope_of(who), name)
    if query is None:
        raise HTTPProblem(404, "No such query", f"no named query {name!r}")
    return query


@router.post(
    "/queries",
    status_code=201,
    summary="Keep a query under a name",
    response_class=Response,
    responses={201: {"description": "Kept; Location is the query's URL"}},
)
async def create_query(
    body: NamedQuery, request: Request, who: Principal = Depends(principal)
) -> Response:
    node = node_of(request)
    if not _NAME.match(body.name):
        raise HTTPProblem(400, "Invalid query name", "letters, digits, ._- only", field="name")
    query = dict(body.query)
    try:
        namespaces = extension_namespaces(request.headers.get("GS1-Extensions"))
        if namespaces:  # kept with the query, which is run later without this header
            context = query.get("@context")
            items = context if isinstance(context, list) else [] if context is None else [context]
            query["@context"] = [*items, namespaces]
        read_json_query(query)
    except QueryError as exc:
        raise _query_error(exc) from exc
    scope = scope_of(who)

    def insert(store: Any) -> str:
        return kept.keep_query(
            store.con,
            scope=scope,
            name=body.name,
            query=query,
            owner=f"{who.kind}:{who.name}",
            created_at=datetime.now(UTC),
            limit=QUERIES_PER_PARTNER if who.is_partner else None,
        )

    outcome = await node.writer.run(insert)
    if outcome == "exists":
        raise HTTPProblem(409, "Query exists", f"a query named {body.name!r} exists already")
    if outcome == "quota":
        raise HTTPProblem(
            403,
            "Quota reached",
            f"a partner may keep {QUERIES_PER_PARTNER} named queries here: delete one first",
        )
    return Response(status_code=201, headers={"Location": f"/queries/{body.name}"})


@router.get(
    "/queries",
    summary="The named queries",
    response_model=list[NamedQueryOut],
    response_model_exclude_unset=True,
)
def list_queries(request: Request, who: Principal = Depends(principal)) -> list[NamedQueryOut]:
    return [
        NamedQueryOut(name=q.name, query=q.query, createdAt=q.created_at.isoformat())
        for q in kept.named_queries(node_of(request).cursor(), scope_of(who))
    ]


@router.get(
    "/queries/{queryName}",
    summary="One named query",
    response_model=NamedQueryOut,
    response_model_exclude_unset=True,
)
def get_query(
    queryName: str, request: Request, who: Principal = Depends(principal)
) -> NamedQueryOut:
    return NamedQueryOut(name=queryName, query=_stored_query(request, who, queryName))


@router.delete("/queries/{queryName}", status_code=204, summary="Forget a named query")
async def delete_query(
    queryName: str, request: Request, who: Principal = Depends(principal)
) -> Response:
    node = node_of(request)
    _stored_query(request, who, queryName)
    scope = scope_of(who)
    await node.writer.run(lambda store: kept.forget_query(store.con, scope, queryName))
    return Response(status_code=204)


@router.get(
    "/queries/{queryName}/events",
    summary="Run a named query",
    response_model=EPCISQueryDocument,
    response_class=EPCISResponse,
    openapi_extra={"parameters": PAGING_PARAMETERS},
)
def query_events(queryName: str, request: Request, who: Principal = Depends(principal)) -> Response:
    query = _stored_query(request, who, queryName)
    params = [(k, v) for k, v in request.query_params.multi_items()]
    return run_query(request, who, params, query_name=queryName, json_query=query)


# --- subscriptions ---------------------------------------------------------------------------


class SubscriptionIn(BaseModel):
    dest: str = Field(min_length=1, max_length=2000, description="the webhook to POST results to")
    signatureToken: str | None = Field(
        default=None, max_length=500, description="secret to sign each POST (GS1-Signature)"
    )
    stream: bool | None = Field(default=None, description="true: a POST per captured document")
    schedule: dict[str, Any] | None = Field(default=None, description="not supported: use stream")
    reportIfEmpty: bool | None = None


@router.post(
    "/queries/{queryName}/subscriptions",
    status_code=201,
    tags=["Subscriptions"],
    summary="Subscribe a webhook to a named query's new results",
    response_model=SubscriptionOut,
)
async def subscribe(
    queryName: str,
    body: SubscriptionIn,
    request: Request,
    who: Principal = Depends(principal),
) -> Response:
    from keiretsu.node.home import NodeError, check_url

    node = node_of(request)
    _stored_query(request, who, queryName)
    if body.schedule is not None or not body.stream:
        raise HTTPProblem(
            400,
            "Only streaming subscriptions",
            "this node notifies on every captured document: set stream to true "
            "(scheduled subscriptions are not supported)",
            type="epcisException:SubscriptionControlsException",
            field="stream",
        )
    try:
        dest = check_url(body.dest)
    except NodeError as exc:
        raise HTTPProblem(400, "Invalid dest", str(exc), field="dest") from exc
    if who.is_partner:  # a partner's results go to its own node only
        partner = node.partners().get(who.name)
        if partner is None or not (dest + "/").startswith(partner.url + "/"):
            raise HTTPProblem(
                403, "Forbidden", "a partner may only subscribe its own node's URL", field="dest"
            )
    made = kept.Subscription(
        subscription_id=new_id(),
        query_name=queryName,
        dest=dest,
        created_at=datetime.now(UTC),
        signature_token=body.signatureToken,
        owner=f"{who.kind}:{who.name}",
        scope=scope_of(who),
    )
    limit = SUBSCRIPTIONS_PER_PARTNER if who.is_partner else None
    if not await node.writer.run(lambda store: kept.add_subscription(store.con, made, limit=limit)):
        raise HTTPProblem(
            403,
            "Quota reached",
            f"a partner may hold {SUBSCRIPTIONS_PER_PARTNER} subscriptions here: "
            "unsubscribe one first",
        )
    return JSONResponse(
        _subscription_out(made).model_dump(exclude_unset=True),
        status_code=201,
        headers={"Location": f"/queries/{queryName}/subscriptions/{made.subscription_id}"},
    )


def _subscription_out(found: kept.Subscription, **also: str) -> SubscriptionOut:
    return SubscriptionOut(
        subscriptionID=found.subscription_id,
        dest=found.dest,
        stream=True,
        createdAt=found.created_at.isoformat(),
        **(
            {"lastNotifiedAt": found.last_notified_at.isoformat()} if found.last_notified_at else {}
        ),
        **also,
    )


def _subscription_rows(
    request: Request, who: Principal, query_name: str, subscription_id: str | None = None
) -> list[SubscriptionOut]:
    """The caller's subscriptions to one of its named queries (one, if an id is given)."""
    cur = node_of(request).cursor()
    return [
        _subscription_out(found)
        for found in kept.subscriptions_of(cur, scope_of(who), query_name, subscription_id)
    ]


@router.get(
    "/queries/{queryName}/subscriptions",
    tags=["Subscriptions"],
    summary="The webhook subscriptions to a named query",
    response_model=list[SubscriptionOut],
    response_model_exclude_unset=True,
)
def subscriptions(
    queryName: str, request: Request, who: Principal = Depends(principal)
) -> list[SubscriptionOut]:
    _stored_query(request, who, queryName)
    return _subscription_rows(request, who, queryName)


@router.delete(
    "/queries/{queryName}/subscriptions/{subscriptionID}",
    status_code=204,
    tags=["Subscriptions"],
    summary="Unsubscribe",
)
async def unsubscribe(
    queryName: str, subscriptionID: str, request: Request, who: Principal = Depends(principal)
) -> Response:
    node = node_of(request)
    if not _subscription_rows(request, who, queryName, subscriptionID):
        raise HTTPProblem(404, "No such subscription", f"no subscription {subscriptionID!r}")
    await node.writer.run(lambda store: kept.remove_subscription(store.con, subscriptionID))
    return Response(status_code=204)


@router.websocket("/queries/{queryName}/subscriptions")
async def stream(websocket: WebSocket, queryName: str) -> None:
    """A WebSocket streaming subscription: every captured document's events that match the
    named query arrive as an EPCISQueryDocument message. Local users only (a token in the
    Authorization header or the ``token`` query parameter)."""
    node = node_of(websocket)
    who = websocket_principal(websocket)
    if who is None:
        await websocket.close(code=4401, reason="unauthorized")
        return
    if kept.named_query(node.cursor(), scope_of(who), queryName) is None:
        await websocket.close(code=4404, reason=f"no named query {queryName}")
        return
    await websocket.accept()
    hub = websocket.app.state.subscriptions
    await hub.stream(websocket, queryName, who)


# --- the rest of GS1's binding: one subscription, the WebSocket on /events, discovery ----------

_SCHEDULE = ("second", "minute", "hour", "dayOfMonth", "month", "dayOfWeek")


@router.get(
    "/queries/{queryName}/subscriptions/{subscriptionID}",
    tags=["Subscriptions"],
    summary="One webhook subscription (whether it is still active)",
    response_model=SubscriptionOut,
    response_model_exclude_unset=True,
)
def subscription(
    queryName: str, subscriptionID: str, request: Request, who: Principal = Depends(principal)
) -> SubscriptionOut:
    """The subscription, as listed by ``GET /queries/{queryName}/subscriptions`` (never its
    signatureToken), with the query it follows; 404 for one that is not the caller's."""
    cur = node_of(request).cursor()
    found = kept.subscriptions_of(cur, scope_of(who), queryName, subscriptionID)
    if not found:
        raise HTTPProblem(404, "No such subscription", f"no subscription {subscriptionID!r}")
    return _subscription_out(found[0], queryName=queryName)


@router.websocket("/queries/{queryName}/events")
async def stream_events(websocket: WebSocket, queryName: str) -> None:
    """GS1's spelling of the WebSocket subscription: ``/queries/{queryName}/events?stream=true``,
    the same stream as ``/queries/{queryName}/subscriptions``. Scheduled subscriptions
    (``second``, ``minute``…) are refused with the reason."""
    params = websocket.query_params
    if params.get("stream", "").lower() != "true" or any(k in params for k in _SCHEDULE):
        await websocket.close(
            code=4400, reason="set stream=true: scheduled subscriptions are not supported"
        )
        return
    await stream(websocket, queryName)


def _discovery() -> None:
    from keiretsu.node.routes.discovery import add_options

    for path, allow in (
        ("/events", "OPTIONS, GET, POST"),
        ("/events/{eventID:path}", "OPTIONS, GET"),
        ("/queries", "OPTIONS, GET, POST"),
        ("/queries/{queryName}", "OPTIONS, GET, DELETE"),
        ("/queries/{queryName}/events", "OPTIONS, GET"),
        ("/queries/{queryName}/subscriptions", "OPTIONS, GET, POST"),
        ("/queries/{queryName}/subscriptions/{subscriptionID}", "OPTIONS, GET, DELETE"),
    ):
        add_options(router, path, allow)


_discovery()
