"""``network.state.json``: which node processes a ``keiretsu network up`` left running.

One entry per node — its pid, port, URL, the API token the network commands use, its store and
its log — so that ``down``, ``status`` and ``trace`` find the nodes again from another shell.
The file holds tokens: it is written readable by its owner only.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from keiretsu.network.config import NetworkError

__all__ = ["NetworkState", "NodeState", "process_alive"]


@dataclass(frozen=True)
class NodeState:
    """A started node: its server's pid, where it listens, how to talk to it, where it logs."""

    node: str
    pid: int
    port: int
    url: str
    token: str
    store: str
    log: str

    @property
    def alive(self) -> bool:
        """Whether this node's server process still runs."""
        return process_alive(self.pid, self.store)


@dataclass(frozen=True)
class NetworkState:
    """The running network: its name, the file it was started from, and its nodes."""

    network: str
    file: str
    nodes: tuple[NodeState, ...]

    def node(self, name: str) -> NodeState:
        for n in self.nodes:
            if n.node == name:
                return n
        known = ", ".join(n.node for n in self.nodes)
        raise NetworkError(f"no node {name!r} in the running network (nodes: {known})")

    def save(self, path: Path) -> None:
        """Write the state atomically, readable by its owner only (it holds tokens)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        body = {
            "network": self.network,
            "file": self.file,
            "nodes": [asdict(n) for n in self.nodes],
        }
        tmp = path.with_suffix(".part")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(body, fh, indent=2)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> NetworkState | None:
        """The state at ``path``, or None if no network was started there."""
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise NetworkError(f"{path}: not a network state file ({exc}); remove it") from exc
        try:
            nodes = tuple(
                NodeState(
                    node=str(n["node"]),
                    pid=int(n["pid"]),
                    port=int(n["port"]),
                    url=str(n["url"]),
                    token=str(n["token"]),
                    store=str(n["store"]),
                    log=str(n["log"]),
                )
                for n in data["nodes"]
            )
            return cls(network=str(data["network"]), file=str(data["file"]), nodes=nodes)
        except (KeyError, TypeError, ValueError) as exc:
            raise NetworkError(
                f"{path}: not a network state file (missing {exc}); remove it"
            ) from exc


def process_alive(pid: int, store: str | None = None) -> bool:
    """Whether process ``pid`` runs (a zombie does not count). Where ``/proc`` tells, it must
    also be a node server of ``store``: a pid the system handed on to another program after
    the node died is not taken for the node (and never signalled)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # someone else's process: not ours
    proc = Path("/proc") / str(pid)
    if not proc.exists():
        return True  # no /proc to ask (not Linux): trust the pid
    try:
        stat = (proc / "stat").read_text()
        if stat.rpartition(")")[2].split()[0] in ("Z", "X"):
            _reap(pid)
            return False
        if store is not None:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            return b"serve" in argv and os.fsencode(store) in argv
    except OSError:
        return False
    return True


def _reap(pid: int) -> None:
    """Collect a child that has ended (when this process started it, as the tests do)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def signal_node(pid: int, sig: signal.Signals) -> None:
    """Send ``sig`` to a node's server (already gone: nothing to do)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
