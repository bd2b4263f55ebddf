"""The HTTP API reference in docs/ is generated from the node's OpenAPI and must match it."""

from pathlib import Path

from keiretsu.node._api_docs import api_reference

DOCS = Path(__file__).parents[2] / "docs" / "node" / "http-api.md"


def test_http_api_reference_is_current() -> None:
    assert DOCS.read_text() == api_reference(), (
        "docs/node/http-api.md is out of date: "
        "run `python -m keiretsu.node._api_docs > docs/node/http-api.md`"
    )
