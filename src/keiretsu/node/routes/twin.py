"""The twin's own API: who this node is, what it holds, its analytics views, its policy and
its audit log. Local users only: a partner sees what the policy lets it query through
``/events`` and what is pushed to it, never these."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request

from keiretsu.node.problems import HTTPProblem
from keiretsu.node.security import Principal, local_user, node_of

router = APIRouter(prefix="/twin", tags=["Twin"])


@router.get("", summary="This node: name, identity, what its store holds")
def twin(request: Request, who: Principal = Depends(local_user)) -> dict[str, Any]:
    node = node_of(request)
    from keiretsu.store.node_store import Store

    summary = Store.summary_of(node.cursor(), node.store.path)
    return {
        "name": node.name,
        "url": node.config.url,
        "public_key": node.identity.public_key_text,
        "fingerprint": node.identity.fingerprint(),
        "partners": sorted(node.partners()),
        "store": summary.to_dict(),
        "writer_backlog": node.writer.backlog(),
        "captures_queued": node.captures_queued(),
    }


@router.get("/ingests", summary="The ingest log: every document, from whom, accepted or why not")
def ingests(
    request: Request, limit: int = 100, who: Principal = Depends(local_user)
) -> list[dict[str, Any]]:
    node = node_of(request)
    if not 1 <= limit <= 10_000:
        raise HTTPProblem(400, "Invalid limit", "limit: 1 to 10000", field="limit")
    rows = (
        node.cursor()
        .execute(
            "SELECT ingest_id, document, format, source, started_at, finished_at, status, "
            "events_read, events_new, events_known, problem FROM ingest_log "
            "ORDER BY ingest_id DESC LIMIT ?",
            [limit],
        )
        .fetchall()
    )
    keys = [
        "ingest_id",
        "document",
        "format",
        "source",
        "started_at",
        "finished_at",
        "status",
        "events_read",
        "events_new",
        "events_known",
        "problem",
    ]
    out = []
    for row in rows:
        item = dict(zip(keys, row, strict=True))
        item["started_at"] = item["started_at"].isoformat()
        item["finished_at"] = item["finished_at"].isoformat()
        item["problem"] = json.loads(item["problem"]) if item["problem"] else None
        out.append(item)
    return out


def _views() -> dict[str, Callable[..., Any]]:
    from keiretsu.analytics import bottleneck, bullwhip, flow, inventory, process_map, vsm, waste

    return {
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


VIEW_NAMES = [
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
)
def view(
    view: str,
    request: Request,
    object_type: str | None = None,
    who: Principal = Depends(local_user),
) -> dict[str, Any]:
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
        result = views[view](log, followed)
    except ValueError as exc:
        raise HTTPProblem(400, "Cannot compute the view", str(exc)) from exc
    if hasattr(result, "to_json"):
        body: dict[str, Any] = result.to_json()
    else:  # the process map: three views
        body = {
            "view": "process_map",
            "edges": result.edges.to_json(),
            "activities": result.activities.to_json(),
            "start_end": result.start_end.to_json(),
        }
    body["object_type"] = followed
    return body


@router.get(
    "/trace",
    summary="One object's path across the chain, with the company that recorded each step",
)
def trace(
    request: Request,
    object: str,
    contents: bool = False,
    who: Principal = Depends(local_user),
) -> dict[str, Any]:
    from keiretsu.analytics import Log
    from keiretsu.analytics.chain import object_path, resolve_object

    node = node_of(request)
    log = Log.from_connection(node.cursor())
    found = resolve_object(log, object)
    if found is None:
        raise HTTPProblem(404, "No such object", f"this node knows no {object!r}", field="object")
    rows = object_path(log, found, local=node.name, contents=contents)
    return {"node": node.name, "object": found, "events": _plain(rows.to_pylist())}


def _plain(value: Any) -> Any:
    from datetime import datetime

    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


@router.get("/policy", summary="The sharing policy in force, and its problem if it is faulty")
def policy(request: Request, who: Principal = Depends(local_user)) -> dict[str, Any]:
    node = node_of(request)
    path = node.home.policy_path
    return {
        "path": str(path),
        "present": path.exists(),
        "text": path.read_text(encoding="utf-8") if path.exists() else None,
        "problem": node.policy_problem(),
        "partners_named": sorted(node.policy().partners()),
    }


@router.get("/audit", summary="The audit log, newest last")
def audit(
    request: Request, limit: int = 200, who: Principal = Depends(local_user)
) -> list[dict[str, Any]]:
    node = node_of(request)
    if not 1 <= limit <= 100_000:
        raise HTTPProblem(400, "Invalid limit", "limit: 1 to 100000", field="limit")
    lines: list[dict[str, Any]] = node.audit.read()
    return lines[-limit:]
