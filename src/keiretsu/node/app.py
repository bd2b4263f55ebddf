"""The node server: one FastAPI application per node, served by uvicorn.

``create_app(node)`` builds it; ``serve(store, host, port)`` runs it (what
``keiretsu node serve`` does). Its OpenAPI description is at ``/openapi.json``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Response

from keiretsu import __version__
from keiretsu.node import problems
from keiretsu.node.runtime import Node
from keiretsu.node.transport import Gate, TransportLimits, http_protocol

DESCRIPTION = """\
A keiretsu node: one company's twin.

* **EPCIS 2.0 REST binding** — `POST /capture` (asynchronous capture jobs), `GET /events` with the
  standard query parameters, named queries and subscriptions (webhook and WebSocket).
* **Node to node** — `POST /partners/inbox` takes a partner's signed push.
* **The twin** — `/twin/...`: the node, its ingest log, analytics views, policy, partners,
  audit log.

Authentication: `Authorization: Bearer <token>` with a local token (`keiretsu node token create`)
or, between nodes, an EdDSA-signed JWT (see docs/node/identity.md). Errors are RFC 7807 problem
details.
"""


def create_app(
    node: Node,
    *,
    deliver: bool = True,
    tls_verify: bool | str = True,
    limits: TransportLimits | None = None,
) -> FastAPI:
    """The ASGI application of ``node``. ``deliver=False`` runs no outbox worker (for tests
    that look at the outbox itself); ``limits`` are the body timeout and the limit on failed
    requests per address (keiretsu.node.transport)."""
    from keiretsu.node.delivery import Delivery
    from keiretsu.node.parquet_export import ParquetExporter
    from keiretsu.node.routes import capture, events, kaizen, lessons, partners, resources, twin
    from keiretsu.node.subscriptions import Subscriptions

    delivery = Delivery(node, verify=tls_verify) if deliver else None
    subscriptions = Subscriptions(node, verify=tls_verify)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await subscriptions.start()
        if delivery is not None:
            await delivery.start()
        node.resume_spool()
        exporter = ParquetExporter.attach(node)  # node.toml's parquet_export, if any
        try:
            yield
        finally:
            if exporter is not None:
                exporter.close()
            if delivery is not None:
                await delivery.stop()
            await subscriptions.stop()

    app = FastAPI(
        title=f"keiretsu node {node.name}",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.node = node
    app.state.delivery = delivery
    app.state.subscriptions = subscriptions
    problems.install(app)

    @app.get("/", tags=["Discovery"], summary="The top-level resources of this EPCIS repository")
    async def root() -> dict[str, Any]:
        return {
            "@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"],
            "type": "Collection",
            "member": [
                "capture",
                "events",
                "queries",
                "eventTypes",
                "epcs",
                "bizSteps",
                "bizLocations",
                "readPoints",
                "dispositions",
            ],
            "keiretsu:node": node.name,
        }

    @app.options("/", tags=["Discovery"], status_code=204, summary="Server settings")
    async def root_options() -> Response:
        return Response(
            status_code=204,
            headers={
                "GS1-EPCIS-Version": "2.0.0",
                "GS1-CBV-Version": "2.0.0",
                "GS1-EPCIS-Min": "2.0.0",
                "GS1-EPCIS-Max": "2.0.0",
                "GS1-Extensions": "",
                "Allow": "OPTIONS, GET",
            },
        )

    app.include_router(capture.router)
    app.include_router(events.router)
    app.include_router(resources.router)
    app.include_router(partners.router)
    app.include_router(lessons.router)
    app.include_router(twin.router)
    app.include_router(kaizen.router)
    # the partners' tokens already used are kept on disk, so a restart does not forget them
    node.verifier.keep_journal(node.home.replay_path)
    # outermost: authentication before any body is read, body limits and timeouts, failed
    # requests limited per address, the EPCIS headers on every answer
    app.add_middleware(Gate, node=node, limits=limits)
    return app


def serve(
    store: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8700,
    tls_cert: str | Path | None = None,
    tls_key: str | Path | None = None,
    tls_verify: bool | str = True,
    log_level: str = "warning",
    limits: TransportLimits | None = None,
    extend: Callable[[FastAPI], None] | None = None,
) -> None:
    """Run the node of ``store`` until interrupted (Ctrl-C or SIGTERM). ``limits``: how long a
    client may take to send a request's head and each piece of its body (seconds), and how
    many failed requests an address may make (:class:`TransportLimits`; defaults: 10 s, 30 s,
    500 then 1 a second). ``extend``: adds more to the app before it runs (the CLI mounts
    the obeya, keiretsu.web, with it: node and web do not import each other)."""
    import uvicorn

    limits = limits or TransportLimits()
    node = Node(store)
    try:
        app = create_app(node, tls_verify=tls_verify, limits=limits)
        if extend is not None:
            extend(app)
        uvicorn.run(
            app,
            host=host,
            port=port,
            http=http_protocol(limits.header_timeout),
            ssl_certfile=str(tls_cert) if tls_cert else None,
            ssl_keyfile=str(tls_key) if tls_key else None,
            log_level=log_level,
            access_log=False,
            lifespan="on",
        )
    finally:
        node.close()
