"""``/events``, ``/queries``: the EPCIS 2.0 binding's query interface.

``GET /events`` takes the SimpleEventQuery parameters (docs/node/epcis-query.md) and pages with
``nextPageToken``; named queries keep a query under a name; subscriptions to a named query are
streamed to a webhook (``dest``, each POST signed with ``GS1-Signature``) or over a WebSocket.
A partner's signed request sees only what the sharing policy lets leave for it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response, WebSocket
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from keiretsu.node.problems import HTTPProblem
from keiretsu.node.runtime import new_id
from keiretsu.node.security import Principal, node_of, principal, websocket_principal
from keiretsu.node.sharing import PageTokens, log_cursor, render, scope_of

router = APIRouter(tags=["Query"])

DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 10_000
_partner_tokens = PageTokens()
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


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
    ``GS1-Next-Page-Token`` to the next page."""
    from keiretsu.node.query import (
        QueryError,
        parse_query,
        query_document,
        query_from_json,
        select_events,
    )

    node = node_of(request)
    paging = {k: v for k, v in params if k in ("perPage", "nextPageToken")}
    rest = [(k, v) for k, v in params if k not in ("perPage", "nextPageToken")]
    try:
        per_page = int(paging.get("perPage", DEFAULT_PER_PAGE))
    except ValueError:
        raise HTTPProblem(
            400, "Invalid perPage", "perPage: a whole number", field="perPage"
        ) from None
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise HTTPProblem(400, "Invalid perPage", f"perPage: 1 to {MAX_PER_PAGE}", field="perPage")
    token = paging.get("nextPageToken")
    try:
        query = query_from_json(json_query) if json_query is not None else parse_query(rest)
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
    return JSONResponse(
        query_document(events, query_name=query_name),
        headers=headers,
        media_type="application/ld+json",
    )


@router.get(
    "/events",
    summary="Query events (EPCIS 2.0 SimpleEventQuery parameters)",
    description="Any SimpleEventQuery parameter (eventType, GE_eventTime, LT_eventTime, "
    "EQ_bizStep, EQ_disposition, EQ_readPoint, EQ_bizLocation, MATCH_epc, MATCH_anyEPC, "
    "MATCH_epcClass, EQ_bizTransaction_<type>, …; see docs/node/epcis-query.md), paged with "
    "perPage and nextPageToken.",
)
def events(
    request: Request,
    who: Principal = Depends(principal),
    eventType: str | None = Query(None, description="ObjectEvent, AggregationEvent, …"),
    GE_eventTime: str | None = Query(None, description="events at or after (ISO 8601)"),
    LT_eventTime: str | None = Query(None, description="events before (ISO 8601)"),
    EQ_bizStep: str | None = Query(None, description="business steps, e.g. shipping"),
    MATCH_epc: str | None = Query(None, description="EPCs or EPC patterns"),
    perPage: int = Query(DEFAULT_PER_PAGE, ge=1, le=MAX_PER_PAGE),
    nextPageToken: str | None = Query(None),
) -> Response:
    return run_query(request, who, list(request.query_params.multi_items()))


@router.get("/events/{eventID:path}", summary="One event by its id")
def event(eventID: str, request: Request, who: Principal = Depends(principal)) -> Response:
    # a partner looks in its view: an event hidden from it and one that does not exist are
    # the same lookup with the same answer
    from keiretsu.node.query import query_document

    found = render(node_of(request), who, [eventID])
    if not found:
        raise HTTPProblem(404, "No such event", f"no event {eventID!r}")
    # the binding answers with an EPCISQueryDocument enclosing the one event (and the error
    # declarations received for it since, folded into it)
    return JSONResponse(query_document(found), media_type="application/ld+json")


# --- named queries ---------------------------------------------------------------------------

QUERIES_PER_PARTNER = 100
"""Most named queries one partner may keep on this node."""
SUBSCRIPTIONS_PER_PARTNER = 20
"""Most webhook subscriptions one partner may hold on this node."""


class NamedQuery(BaseModel):
    name: str = Field(min_length=1, max_length=128, description="the query's name")
    query: dict[str, Any] = Field(description="SimpleEventQuery parameters as a JSON object")


def _stored_query(request: Request, who: Principal, name: str) -> dict[str, Any]:
    import json

    rows = (
        node_of(request)
        .cursor()
        .execute("SELECT query FROM node_query WHERE scope = ? AND name = ?", [scope_of(who), name])
        .fetchall()
    )
    if not rows:
        raise HTTPProblem(404, "No such query", f"no named query {name!r}")
    query: dict[str, Any] = json.loads(rows[0][0])
    return query


@router.post("/queries", status_code=201, summary="Keep a query under a name")
async def create_query(
    body: NamedQuery, request: Request, who: Principal = Depends(principal)
) -> Response:
    import json

    from keiretsu.node.query import QueryError, query_from_json

    node = node_of(request)
    if not _NAME.match(body.name):
        raise HTTPProblem(400, "Invalid query name", "letters, digits, ._- only", field="name")
    try:
        query_from_json(body.query)
    except QueryError as exc:
        raise _query_error(exc) from exc
    scope = scope_of(who)

    def insert(store: Any) -> str:
        con = store.con
        found = con.execute(
            "SELECT 1 FROM node_query WHERE scope = ? AND name = ?", [scope, body.name]
        ).fetchall()
        if found:
            return "exists"
        if who.is_partner:
            row = con.execute("SELECT count(*) FROM node_query WHERE scope = ?", [scope]).fetchone()
            if row is not None and int(row[0]) >= QUERIES_PER_PARTNER:
                return "quota"
        con.execute(
            "INSERT INTO node_query VALUES (?, ?, ?, ?, ?)",
            [scope, body.name, json.dumps(body.query), f"{who.kind}:{who.name}", datetime.now(UTC)],
        )
        return "created"

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


@router.get("/queries", summary="The named queries")
def list_queries(request: Request, who: Principal = Depends(principal)) -> list[dict[str, Any]]:
    import json

    rows = (
        node_of(request)
        .cursor()
        .execute(
            "SELECT name, query, created_at FROM node_query WHERE scope = ? ORDER BY name",
            [scope_of(who)],
        )
        .fetchall()
    )
    return [{"name": n, "query": json.loads(q), "createdAt": c.isoformat()} for n, q, c in rows]


@router.get("/queries/{queryName}", summary="One named query")
def get_query(queryName: str, request: Request, who: Principal = Depends(principal)) -> Any:
    return {"name": queryName, "query": _stored_query(request, who, queryName)}


@router.delete("/queries/{queryName}", status_code=204, summary="Forget a named query")
async def delete_query(
    queryName: str, request: Request, who: Principal = Depends(principal)
) -> Response:
    node = node_of(request)
    _stored_query(request, who, queryName)
    scope = scope_of(who)

    def delete(store: Any) -> None:
        store.con.execute(
            "DELETE FROM node_subscription WHERE scope = ? AND query_name = ?", [scope, queryName]
        )
        store.con.execute("DELETE FROM node_query WHERE scope = ? AND name = ?", [scope, queryName])

    await node.writer.run(delete)
    return Response(status_code=204)


@router.get("/queries/{queryName}/events", summary="Run a named query")
def query_events(queryName: str, request: Request, who: Principal = Depends(principal)) -> Any:
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
    subscription_id = new_id()
    created = datetime.now(UTC)
    scope = scope_of(who)

    def insert(store: Any) -> bool:
        if who.is_partner:
            row = store.con.execute(
                "SELECT count(*) FROM node_subscription WHERE scope = ?", [scope]
            ).fetchone()
            if row is not None and int(row[0]) >= SUBSCRIPTIONS_PER_PARTNER:
                return False
        store.con.execute(
            "INSERT INTO node_subscription (subscription_id, query_name, dest,"
            " signature_token, owner, created_at, last_notified_at, scope)"
            " VALUES (?, ?, ?, ?, ?, ?, NULL, ?)",
            [
                subscription_id,
                queryName,
                dest,
                body.signatureToken,
                f"{who.kind}:{who.name}",
                created,
                scope,
            ],
        )
        return True

    if not await node.writer.run(insert):
        raise HTTPProblem(
            403,
            "Quota reached",
            f"a partner may hold {SUBSCRIPTIONS_PER_PARTNER} subscriptions here: "
            "unsubscribe one first",
        )
    return JSONResponse(
        {
            "subscriptionID": subscription_id,
            "dest": dest,
            "stream": True,
            "createdAt": created.isoformat(),
        },
        status_code=201,
        headers={"Location": f"/queries/{queryName}/subscriptions/{subscription_id}"},
    )


def _subscription_rows(
    request: Request, who: Principal, query_name: str, subscription_id: str | None = None
) -> list[dict[str, Any]]:
    """The caller's subscriptions to one of its named queries (one, if an id is given)."""
    sql = (
        "SELECT subscription_id, dest, created_at, last_notified_at FROM node_subscription"
        " WHERE scope = ? AND query_name = ?"
    )
    params: list[Any] = [scope_of(who), query_name]
    if subscription_id is not None:
        sql += " AND subscription_id = ?"
        params.append(subscription_id)
    rows = node_of(request).cursor().execute(sql + " ORDER BY subscription_id", params).fetchall()
    return [
        {
            "subscriptionID": sid,
            "dest": dest,
            "stream": True,
            "createdAt": created.isoformat(),
            **({"lastNotifiedAt": last.isoformat()} if last else {}),
        }
        for sid, dest, created, last in rows
    ]


@router.get(
    "/queries/{queryName}/subscriptions",
    tags=["Subscriptions"],
    summary="The webhook subscriptions to a named query",
)
def subscriptions(
    queryName: str, request: Request, who: Principal = Depends(principal)
) -> list[dict[str, Any]]:
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
    await node.writer.run(
        lambda s: s.con.execute(
            "DELETE FROM node_subscription WHERE subscription_id = ?", [subscriptionID]
        )
    )
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
    rows = (
        node.cursor()
        .execute(
            "SELECT 1 FROM node_query WHERE scope = ? AND name = ?", [scope_of(who), queryName]
        )
        .fetchall()
    )
    if not rows:
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
)
def subscription(
    queryName: str, subscriptionID: str, request: Request, who: Principal = Depends(principal)
) -> dict[str, Any]:
    """The subscription, as listed by ``GET /queries/{queryName}/subscriptions`` (never its
    signatureToken); 404 for one that is not the caller's."""
    found = _subscription_rows(request, who, queryName, subscriptionID)
    if not found:
        raise HTTPProblem(404, "No such subscription", f"no subscription {subscriptionID!r}")
    return {**found[0], "queryName": queryName}


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
