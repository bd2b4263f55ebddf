"""Fixtures of the node tests: real node processes, killed at the end of each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from _nodes import NodeProcess, nodes_fixture


@pytest.fixture
def nodes() -> Iterator[list[NodeProcess]]:
    """Nodes made with ``make_node`` and appended by the test; all killed at the end."""
    yield from nodes_fixture()
