"""The world's events out: EPCIS 2.0 JSON-LD documents per company, into files or live into
each company's node (``POST /capture``, over HTTP with httpx — the world never imports the
node's code: it talks to a node as any EPCIS client does)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from keiretsu.sim.world.world import World

__all__ = [
    "CONTEXT",
    "NodeTarget",
    "epcis_document",
    "post_epcis",
    "run_live",
    "write_epcis_files",
]

CONTEXT = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld"
"""The EPCIS 2.0 JSON-LD context every document names."""

DOCUMENT_EVENTS = 10_000
"""Events per captured document at most (a node accepts up to 100,000)."""


def epcis_document(events: Sequence[dict[str, Any]], creation_date: str) -> dict[str, Any]:
    """An EPCIS 2.0 document (JSON-LD) holding ``events``."""
    return {
        "@context": [CONTEXT],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": creation_date,
        "epcisBody": {"eventList": list(events)},
    }


def _creation(world: World) -> str:
    return world.now.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-") or "company"


def write_epcis_files(world: World, directory: str | Path) -> dict[str, Path]:
    """Write each company's events so far as one EPCIS 2.0 JSON-LD document,
    ``<n>-<company>.jsonld`` in ``directory`` (created if absent); returns company -> path.
    A company that recorded nothing gets a document with an empty event list."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    created = _creation(world)
    paths: dict[str, Path] = {}
    for n, (company, events) in enumerate(world.events().items(), start=1):
        path = out / f"{n}-{_slug(company)}.jsonld"
        path.write_bytes(orjson.dumps(epcis_document(events, created)))
        paths[company] = path
    return paths


@dataclass(frozen=True)
class NodeTarget:
    """Where a company's events go: its node's base URL (``http://127.0.0.1:8101``) and a
    bearer token of one of the node's local users allowed to capture."""

    url: str
    token: str


def _chunks(events: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for i in range(0, len(events), size):
        yield events[i : i + size]


def post_epcis(
    world: World,
    nodes: Mapping[str, NodeTarget],
    *,
    client: httpx.Client | None = None,
    document_events: int = DOCUMENT_EVENTS,
) -> list[str]:
    """Send each company's events emitted since the last call to its node's ``POST
    /capture`` (EPCIS JSON-LD, ``Content-Type: application/ld+json``, ``Authorization:
    Bearer``), in documents of at most ``document_events`` events. Companies without a node
    in ``nodes`` are skipped (their events are kept for the next call only if they get one:
    the world hands each event out once). Returns the capture jobs' URLs (``Location``);
    an answer other than 202 raises :class:`httpx.HTTPStatusError`."""
    own = client is None
    http = client or httpx.Client(timeout=60.0)
    jobs: list[str] = []
    created = _creation(world)
    try:
        for company, events in world.take_new().items():
            target = nodes.get(company)
            if target is None or not events:
                continue
            for chunk in _chunks(events, document_events):
                body = orjson.dumps(epcis_document(chunk, created))
                answer = http.post(
                    target.url.rstrip("/") + "/capture",
                    content=body,
                    headers={
                        "Content-Type": "application/ld+json",
                        "Authorization": f"Bearer {target.token}",
                        "GS1-EPCIS-Version": "2.0.0",
                    },
                )
                if answer.status_code != 202:
                    raise httpx.HTTPStatusError(
                        f"{company}: {target.url} answered {answer.status_code} to a capture: "
                        f"{answer.text[:500]}",
                        request=answer.request,
                        response=answer,
                    )
                jobs.append(answer.headers.get("location", ""))
    finally:
        if own:
            http.close()
    return jobs


def run_live(
    world: World,
    nodes: Mapping[str, NodeTarget],
    periods: int,
    *,
    seconds_per_period: float = 0.0,
    client: httpx.Client | None = None,
) -> list[str]:
    """Run the world ``periods`` periods, sending each period's events to the companies'
    nodes as it ends: accelerated time, one simulated period every ``seconds_per_period``
    seconds of wall clock (0: as fast as the nodes take them). Returns the capture jobs."""
    jobs: list[str] = []
    for _ in range(periods):
        began = time.monotonic()
        world.run(1)
        jobs += post_epcis(world, nodes, client=client)
        rest = seconds_per_period - (time.monotonic() - began)
        if rest > 0:
            time.sleep(rest)
    return jobs
