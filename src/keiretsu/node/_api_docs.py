"""Generate the HTTP API reference (docs/node/http-api.md) from the node's own OpenAPI
description, so it cannot drift: ``python -m keiretsu.node._api_docs > docs/node/http-api.md``."""

from __future__ import annotations

import json
import re
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
            answer = _answer(op)
            if answer is not None:
                lines += [f"Returns {_type(answer)}.", ""]
            codes = ", ".join(sorted(op.get("responses", {})))
            lines += [f"Responses: {codes}.", ""]
    lines += _answers(spec)
    return "\n".join(lines).rstrip() + "\n"


def _answer(op: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema of an operation's success answer, where it names one of the node's
    models (a model, a list of them, or one of several)."""
    for code, response in sorted(op.get("responses", {}).items()):
        if not code.startswith("2"):
            continue
        content = response.get("content", {})
        for media in ("application/json", "application/ld+json"):  # EPCIS documents: JSON-LD
            schema = content.get(media, {}).get("schema") or {}
            if "$ref" in _refs_of(schema):
                return dict(schema)
    return None


def _refs_of(schema: dict[str, Any]) -> str:
    """The schema as JSON text (to look for references in it)."""
    return json.dumps(schema)


def _type(schema: dict[str, Any]) -> str:
    """A JSON schema in a few words: `` `TraceStep` ``, ``list of `IngestEntry` ``,
    ``text (date-time) or null``."""
    if "$ref" in schema:
        return f"`{schema['$ref'].rsplit('/', 1)[-1]}`"
    if "anyOf" in schema:
        return " or ".join(_type(s) for s in schema["anyOf"])
    kind = schema.get("type")
    if kind == "array":
        return "list of " + _type(schema.get("items", {}))
    if kind == "object":
        extra = schema.get("additionalProperties")
        return f"object of {_type(extra)}" if isinstance(extra, dict) and extra else "object"
    words = {"string": "text", "integer": "integer", "number": "number", "boolean": "boolean"}
    if kind == "null":
        return "null"
    text = words.get(str(kind), "any")
    if "format" in schema:
        text += f" ({schema['format']})"
    if "enum" in schema or "const" in schema:
        values = schema.get("enum") or [schema["const"]]
        text = " or ".join(f"`{v}`" for v in values)
    return text


def _answers(spec: dict[str, Any]) -> list[str]:
    """A section per model the routes answer with (and the models inside them): its fields,
    their types and what they mean."""
    schemas: dict[str, dict[str, Any]] = spec.get("components", {}).get("schemas", {})
    wanted: list[str] = []
    todo = [
        _answer(op)
        for item in spec["paths"].values()
        for method in _METHODS
        if isinstance(op := item.get(method), dict)
    ]
    while todo:
        schema = todo.pop()
        for name in re.findall(r'"#/components/schemas/([^"]+)"', _refs_of(schema or {})):
            if name not in wanted and name in schemas:
                wanted.append(name)
                todo.append(schemas[name])
    if not wanted:
        return []
    lines = ["## Answers", "", "What the routes above return, field by field.", ""]
    for name in sorted(wanted):
        schema = schemas[name]
        lines += [f"### `{name}`", ""]
        description = " ".join((schema.get("description") or "").split())
        if description:
            lines += [description, ""]
        required = set(schema.get("required", []))
        lines += ["| field | type | meaning |", "|---|---|---|"]
        for field, prop in schema.get("properties", {}).items():
            optional = "" if field in required else " (optional)"
            meaning = " ".join((prop.get("description") or "").split())
            lines.append(f"| `{field}` | {_type(prop)}{optional} | {meaning} |")
        if schema.get("additionalProperties") is True:
            lines.append("| … | any | further fields, as described above |")
        lines.append("")
    return lines


if __name__ == "__main__":
    print(api_reference(), end="")
