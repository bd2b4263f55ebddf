"""``network.toml``: a value network in one file — its companies' nodes and who talks to whom.

```toml
[network]
name = "sakura-umeda"        # required
dir = "run"                  # the nodes' stores and homes (default .keiretsu/network-<name>)
base_port = 8710             # node i listens on base_port + i unless it names its port
host = "127.0.0.1"           # address every node listens on (loopback by default)

[[node]]
name = "sakura-plant"        # the node's name, as its partners know it
port = 8710                  # optional
store = "plant.duckdb"       # optional (default <dir>/<name>/twin.duckdb)
policy = "policies/sakura-plant.toml"   # optional: without one nothing leaves this node
ingest = ["../two-company-chain/1-sakura-foods-plant.jsonld"]   # captured at start
partners = ["umeda-dc"]
```

Paths are relative to the file. A **link is two-way**: a node named in another's ``partners``
is introduced to it and it to the first (either side may list it, or both). What flows along a
link in each direction is decided by the *sending* node's sharing policy, never by the link.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_BASE_PORT", "NetworkError", "NetworkFile", "NodeSpec"]

DEFAULT_BASE_PORT = 8710
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_NETWORK_KEYS = frozenset({"name", "dir", "base_port", "host", "description"})
_NODE_KEYS = frozenset({"name", "port", "store", "policy", "ingest", "partners", "description"})


class NetworkError(ValueError):
    """A network file that cannot be used, or a network that cannot be started or reached;
    the message names the file and key (or the node) and what to do."""


@dataclass(frozen=True)
class NodeSpec:
    """One company's node in the network: where it listens and keeps its store, what it may
    share (its policy file), what it records at start (``ingest``) and whom it talks to."""

    name: str
    port: int
    store: Path
    policy: Path | None
    ingest: tuple[Path, ...]
    partners: tuple[str, ...]
    """Every node it is linked to, in either direction (links are two-way)."""

    @property
    def folder(self) -> Path:
        """The folder of this node's store: its home, log and network bookkeeping live there."""
        return self.store.parent

    @property
    def log_path(self) -> Path:
        """The server's stdout and stderr."""
        return self.home / "server.log"

    @property
    def home(self) -> Path:
        """The node's home (identity, partners, policy, tokens, audit log)."""
        from keiretsu.node.home import home_for

        return home_for(self.store)

    @property
    def token_path(self) -> Path:
        """The API token ``network up`` uses to talk to this node (readable by its owner)."""
        return self.home / "network.token"


@dataclass(frozen=True)
class NetworkFile:
    """A parsed ``network.toml`` (see the module docstring). Load with :meth:`load`."""

    path: Path
    name: str
    dir: Path
    host: str
    base_port: int
    nodes: tuple[NodeSpec, ...]

    @property
    def state_path(self) -> Path:
        """The running network: a pid, port, URL and token per node (``network.state.json``)."""
        return self.dir / "network.state.json"

    def node(self, name: str) -> NodeSpec:
        """The node called ``name``, or a :class:`NetworkError` listing the names there are."""
        for spec in self.nodes:
            if spec.name == name:
                return spec
        known = ", ".join(n.name for n in self.nodes)
        raise NetworkError(f"{self.path}: no node {name!r} (nodes: {known})")

    def url(self, spec: NodeSpec) -> str:
        """Where the node listens (and its partners reach it)."""
        return f"http://{self.host}:{spec.port}"

    @classmethod
    def load(cls, path: str | Path, *, dir: str | Path | None = None) -> NetworkFile:
        """Read and check a network file; ``dir`` overrides its ``[network] dir``."""
        path = Path(path)
        try:
            with path.open("rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise NetworkError(f"{path}: no such network file") from None
        except OSError as exc:
            raise NetworkError(f"{path}: cannot read it: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise NetworkError(f"{path}: not valid TOML: {exc}") from None
        return cls.from_dict(data, path=path, dir=dir)

    @classmethod
    def from_dict(
        cls, data: dict[str, Any], *, path: Path, dir: str | Path | None = None
    ) -> NetworkFile:
        """A network from its parsed TOML; paths in it are relative to ``path``'s folder."""
        base = path.resolve().parent
        for key in data:
            if key not in ("network", "node"):
                raise NetworkError(
                    f"{path}: key {key!r} at the top level: expected [network] and [[node]] tables"
                )
        net = data.get("network")
        if not isinstance(net, dict):
            raise NetworkError(f"{path}: missing the [network] table (name, dir, base_port)")
        _unknown(path, "network", net, _NETWORK_KEYS)
        name = _name(path, "network.name", net.get("name"))
        host = net.get("host", "127.0.0.1")
        if not isinstance(host, str) or not host:
            raise NetworkError(f"{path}: key 'network.host': expected an address, got {host!r}")
        base_port = _port(path, "network.base_port", net.get("base_port", DEFAULT_BASE_PORT))
        if dir is not None:
            folder = Path(dir).resolve()
        elif "dir" in net:
            folder = _path(path, base, "network.dir", net["dir"])
        else:
            folder = base / ".keiretsu" / f"network-{name}"

        raw_nodes = data.get("node", [])
        if not isinstance(raw_nodes, list) or not raw_nodes:
            raise NetworkError(f"{path}: expected at least one [[node]] table")
        nodes: list[NodeSpec] = []
        links: dict[str, set[str]] = {}
        seen_ports: dict[int, str] = {}
        for i, raw in enumerate(raw_nodes):
            at = f"node[{i}]"
            if not isinstance(raw, dict):
                raise NetworkError(f"{path}: {at}: expected a [[node]] table, got {raw!r}")
            node_name = _name(path, f"{at}.name", raw.get("name"))
            at = f"node[{i}] ({node_name})"
            _unknown(path, at, raw, _NODE_KEYS)
            if node_name in links:
                raise NetworkError(f"{path}: {at}: key 'name': a second node called {node_name!r}")
            port = _port(path, f"{at}.port", raw.get("port", base_port + i))
            if port in seen_ports:
                raise NetworkError(
                    f"{path}: {at}: key 'port': {port} is already the port of {seen_ports[port]!r}"
                )
            seen_ports[port] = node_name
            store = (
                _path(path, base, f"{at}.store", raw["store"])
                if "store" in raw
                else folder / node_name / "twin.duckdb"
            )
            policy = _path(path, base, f"{at}.policy", raw["policy"]) if "policy" in raw else None
            if policy is not None and not policy.is_file():
                raise NetworkError(f"{path}: {at}: key 'policy': no file {policy}")
            ingest = tuple(
                _path(path, base, f"{at}.ingest[{j}]", item)
                for j, item in enumerate(_strings(path, f"{at}.ingest", raw.get("ingest", [])))
            )
            for j, file in enumerate(ingest):
                if not file.is_file():
                    raise NetworkError(f"{path}: {at}: key 'ingest[{j}]': no file {file}")
            partners = _strings(path, f"{at}.partners", raw.get("partners", []))
            links[node_name] = set(partners)
            nodes.append(
                NodeSpec(
                    name=node_name,
                    port=port,
                    store=store,
                    policy=policy,
                    ingest=ingest,
                    partners=(),
                )
            )
        names = set(links)
        for node_name, listed in links.items():
            for partner in listed:
                if partner == node_name:
                    raise NetworkError(
                        f"{path}: node {node_name!r}: key 'partners': a node is not its own partner"
                    )
                if partner not in names:
                    raise NetworkError(
                        f"{path}: node {node_name!r}: key 'partners': no node {partner!r} in "
                        f"this network (nodes: {', '.join(sorted(names))})"
                    )
        # links are two-way: B is A's partner if either lists the other
        both = {
            n: sorted(ps | {other for other, theirs in links.items() if n in theirs})
            for n, ps in links.items()
        }
        nodes = [
            NodeSpec(
                name=n.name,
                port=n.port,
                store=n.store,
                policy=n.policy,
                ingest=n.ingest,
                partners=tuple(both[n.name]),
            )
            for n in nodes
        ]
        return cls(
            path=path.resolve(),
            name=name,
            dir=folder,
            host=host,
            base_port=base_port,
            nodes=tuple(nodes),
        )


def _unknown(path: Path, at: str, table: dict[str, Any], allowed: frozenset[str]) -> None:
    for key in table:
        if key not in allowed:
            raise NetworkError(
                f"{path}: {at}: unknown key {key!r} (expected one of {', '.join(sorted(allowed))})"
            )


def _name(path: Path, key: str, value: Any) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise NetworkError(
            f"{path}: key {key!r}: expected a name of letters, digits, '.', '_' or '-' "
            f"(at most 63), got {value!r}"
        )
    return value


def _port(path: Path, key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise NetworkError(f"{path}: key {key!r}: expected a TCP port 1-65535, got {value!r}")
    return value


def _strings(path: Path, key: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise NetworkError(f"{path}: key {key!r}: expected a list of strings, got {value!r}")
    return list(value)


def _path(path: Path, base: Path, key: str, value: Any) -> Path:
    if not isinstance(value, str) or not value:
        raise NetworkError(f"{path}: key {key!r}: expected a path, got {value!r}")
    return (base / Path(value).expanduser()).resolve()
