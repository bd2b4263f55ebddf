"""A value network on one machine: its nodes described in one file (``network.toml``), started
and stopped together, and what each node sees of the chain end to end.

``NetworkFile.load`` reads the file; :func:`up` / :func:`down` / :func:`status` run the nodes;
:mod:`keiretsu.network.view` answers "whose events do I hold" and "where has this pallet been".
"""

from keiretsu.network.config import NetworkError, NetworkFile, NodeSpec
from keiretsu.network.runner import NodeStatus, down, status, up, wait_delivered
from keiretsu.network.state import NetworkState, NodeState
from keiretsu.network.view import chain, end_to_end, provenance, shared_objects

__all__ = [
    "NetworkError",
    "NetworkFile",
    "NetworkState",
    "NodeSpec",
    "NodeState",
    "NodeStatus",
    "chain",
    "down",
    "end_to_end",
    "provenance",
    "shared_objects",
    "status",
    "up",
    "wait_delivered",
]
