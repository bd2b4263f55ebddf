"""``OPTIONS`` on the EPCIS 2.0 binding's resources: the methods a resource allows and the
versions this node speaks (GS1's ``204DefaultDiscoveryResponse``).

Discovery is open to anyone and never looks at the store: ``OPTIONS /events/{eventID}`` answers
the same for an event that exists and for one that does not, so it cannot tell a stranger
which ids the node holds.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

from fastapi import APIRouter, Response

from keiretsu import __version__

EPCIS_VERSION = "2.0.0"
CBV_VERSION = "2.0.0"


def discovery_headers(allow: str) -> dict[str, str]:
    """The headers of an ``OPTIONS`` answer: ``Allow`` and the GS1 version headers."""
    return {
        "Allow": allow,
        "GS1-EPCIS-Version": EPCIS_VERSION,
        "GS1-EPCIS-Min": EPCIS_VERSION,
        "GS1-EPCIS-Max": EPCIS_VERSION,
        "GS1-CBV-Version": CBV_VERSION,
        "GS1-CBV-Min": CBV_VERSION,
        "GS1-CBV-Max": CBV_VERSION,
        "GS1-Extensions": "",
        "GS1-Vendor-Version": f"keiretsu-{__version__}",
    }


def add_options(router: APIRouter, path: str, allow: str) -> None:
    """Serve ``OPTIONS path`` on ``router``: 204 with ``Allow: allow`` and the GS1 headers.
    The path's parameters (``{epc}``, ``{eventID:path}``) are declared so the node's own
    OpenAPI describes them; their values are not looked at."""
    names = re.findall(r"{(\w+)(?::\w+)?}", path)

    async def options(**_: Any) -> Response:
        return Response(status_code=204, headers=discovery_headers(allow))

    signature = inspect.Signature(
        [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, annotation=str) for n in names]
    )
    setattr(options, "__signature__", signature)  # noqa: B010 - FastAPI reads the parameters here
    router.add_api_route(
        path,
        options,
        methods=["OPTIONS"],
        status_code=204,
        response_class=Response,
        tags=["Discovery"],
        summary=f"Discovery: the methods allowed here ({allow}) and the EPCIS/CBV versions",
        operation_id=f"options_{re.sub(r'[^A-Za-z0-9]+', '_', path).strip('_') or 'root'}",
    )
