"""Generate the HTTP API reference (docs/node/http-api.md) from the node's own OpenAPI
description, so it cannot drift: ``python -m keiretsu.node._api_docs > docs/node/http-api.md``."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

_METHODS = ("get", "post", "put", "delete", "options")


def api_reference() -> str:
    """The Markdown reference of every route of a node: method, path, who may call it, what
    it does, its parameters."""
    from keiretsu.node.app import create_app
    from keiretsu.node.home import NodeHome
    from keiretsu.node.runtime import Node

    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "twin.duckdb"
        NodeHome.init(store, "example")
        node = Node(store)
        try:
            spec: dict[str, Any] = create_app(node, deliver=False).openapi()
        finally:
            node.close()
    lines = [
        "# The node's HTTP API",
        "",
        "Generated from the node's OpenAPI description by",
        "`python -m keiretsu.node._api_docs > docs/node/http-api.md`; a test fails when it is out",
        "of date. A running node serves the same description at `/openapi.json` and an",
        "interactive page at `/docs`.",
        "",
        "Every route but discovery (`GET /`, `OPTIONS`) needs `Authorization: Bearer <token>`:",
        "a local user's token (`keiretsu node token create`), or a partner node's signed request",
        "(docs/node/identity.md). Errors are RFC 7807 problem details",
        "(`application/problem+json`). The WebSocket subscription",
        "`/queries/{queryName}/subscriptions` is described in docs/node/README.md.",
        "",
    ]
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, item in spec["paths"].items():
        for method in _METHODS:
            if method in item:
                op = item[method]
                tag = (op.get("tags") or ["Other"])[0]
                by_tag.setdefault(tag, []).append((method.upper(), path, op))
    for tag in sorted(by_tag):
        lines += [f"## {tag}", ""]
        for method, path, op in by_tag[tag]:
            lines += [f"### `{method} {path}`", "", op.get("summary", "").strip(), ""]
            description = (op.get("description") or "").strip()
            if description and description != op.get("summary"):
                lines += [description, ""]
            params = [p for p in op.get("parameters", []) if p.get("in") in ("query", "path")]
            if params:
                lines += ["| parameter | in | meaning |", "|---|---|---|"]
                for p in params:
                    meaning = (p.get("description") or "").replace("\n", " ")
                    lines.append(f"| `{p['name']}` | {p['in']} | {meaning} |")
                lines.append("")
            codes = ", ".join(sorted(op.get("responses", {})))
            lines += [f"Responses: {codes}.", ""]
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    print(api_reference(), end="")
