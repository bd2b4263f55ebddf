"""Schemathesis fuzzes every operation of the node's own OpenAPI description, as a local user
and with no token: whatever it sends, the node never answers with a server error (5xx)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from keiretsu.node.app import create_app
from keiretsu.node.auth import TokenStore
from keiretsu.node.home import NodeHome
from keiretsu.node.runtime import Node

EXAMPLE = (
    Path(__file__).resolve().parents[2]
    / "src/keiretsu/examples/two-company-chain/1-sakura-foods-plant.jsonld"
)


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    """The node's schema, loaded from its ASGI app, and a local user's token."""
    from keiretsu.io.epcis import read_epcis

    store = tmp_path_factory.mktemp("fuzz") / "twin.duckdb"
    home = NodeHome.init(store, "fuzzed")
    token = TokenStore(home.tokens_path).create("fuzzer")
    node = Node(store)
    # some events to query and view: the plant's document of the shipped example
    node.store.ingest(read_epcis(EXAMPLE), document="example")
    app = create_app(node, deliver=False)
    yield schemathesis.openapi.from_asgi("/openapi.json", app), token
    node.close()


BACKGROUND = ("/twin/kaizen/suggestions", "/twin/kaizen/curve")


def _operations(schema: Any) -> list[Any]:
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15  # capture, events, queries, subscriptions, partners, twin…
    return operations


def _examples(operation: Any) -> int:
    """Cases per operation: 20, but 4 for the twin's background computations (suggestions
    and the improvement curve) — each distinct case starts a simulation in the background,
    seconds of CPU that would slow every later case without finding more."""
    return 4 if operation.path.startswith(BACKGROUND) else 20


def test_no_server_errors_as_a_local_user(fuzzed: tuple[Any, str]) -> None:
    schema, token = fuzzed
    headers = {"Authorization": f"Bearer {token}"}
    for operation in _operations(schema):

        @given(case=operation.as_strategy())
        @settings(
            max_examples=_examples(operation),
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        fuzz()


def _is_open(case: Any) -> bool:
    """Discovery (``GET /``, ``OPTIONS``) is open to anyone; everything else needs a caller."""
    return bool(case.path == "/" or case.method.upper() == "OPTIONS")


def test_no_server_errors_and_no_way_in_without_a_token(fuzzed: tuple[Any, str]) -> None:
    schema, _ = fuzzed
    for operation in _operations(schema):

        @given(case=operation.as_strategy())
        @settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
        def fuzz(case: Any) -> None:
            response = case.call_and_validate(checks=[not_a_server_error])
            if not _is_open(case):
                assert response.status_code in (400, 401, 404, 405, 422), response.text

        fuzz()
