"""``network.toml``: a value network in one file — its companies' nodes and who talks to whom.

```toml
[network]
name = "sakura-umeda"        # required
dir = "run"                  # the nodes' stores and homes (default: the user's state folder)
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

Paths are relative to the file. Without ``dir`` (and without ``--dir``/``--state``) the nodes
live in the user's state folder, ``<state>/networks/<name>`` (:func:`user_state_dir`), never
beside the file — which may be a packaged example inside an installed keiretsu.

A **link is two-way**: a node named in another's ``partners`` is introduced to it and it to the
first (either side may list it, or both). What flows along a
link in each direction is decided by the *sending* node's sharing policy, never by the link.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from keiretsu.model.config import ConfigModel, read_toml, validate

__all__ = [
    "DEFAULT_BASE_PORT",
    "NetworkError",
    "NetworkFile",
    "NetworkToml",
    "NodeSpec",
    "user_state_dir",
]

DEFAULT_BASE_PORT = 8710

Name = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$",
        description="a name of letters, digits, '.', '_' or '-' (at most 63)",
    ),
]
Port = Annotated[int, Field(ge=1, le=65535, description="a TCP port 1-65535")]
FilePath = Annotated[str, Field(min_length=1, description="a path (relative to the network file)")]


class NetworkError(ValueError):
    """A network file that cannot be used, or a network that cannot be started or reached;
    the message names the file and key (or the node) and what to do."""


class NetworkTable(ConfigModel):
    """``[network]``: the network's name, where its nodes live, the ports and address."""

    name: Name
    dir: FilePath | None = None
    base_port: Port = DEFAULT_BASE_PORT
    host: Annotated[
        str, Field(min_length=1, description="an address to listen on, e.g. 127.0.0.1")
    ] = "127.0.0.1"
    description: Annotated[str, Field(description="text")] = ""


class NodeTable(ConfigModel):
    """One ``[[node]]``: a company's node, as written in the file."""

    name: Name
    port: Port | None = None
    store: FilePath | None = None
    policy: FilePath | None = None
    ingest: Annotated[
        list[Annotated[str, Field(min_length=1)]],
        Field(
            default_factory=list,
            description="a list of strings: documents to capture at start, paths relative "
            "to the network file",
        ),
    ]
    partners: Annotated[
        list[Annotated[str, Field(min_length=1)]],
        Field(
            default_factory=list,
            description="a list of strings: the names of the nodes it is linked to",
        ),
    ]
    description: Annotated[str, Field(description="text")] = ""


class NetworkToml(ConfigModel):
    """``network.toml`` as written (see the module docstring); :class:`NetworkFile` is what it
    means, with paths resolved and links made two-way."""

    network: Annotated[NetworkTable, Field(description="name, dir, base_port, host")]
    node: Annotated[list[NodeTable], Field(min_length=1, description="at least one [[node]] table")]


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
        data = read_toml(path, error=NetworkError, missing="no such network file")
        return cls.from_dict(data, path=path, dir=dir)

    @classmethod
    def from_dict(
        cls, data: dict[str, Any], *, path: Path, dir: str | Path | None = None
    ) -> NetworkFile:
        """A network from its parsed TOML; paths in it are relative to ``path``'s folder.

        The file's shape is :class:`NetworkToml`'s; then the network's own rules: one node per
        name and per port, partners that are nodes of the network (not the node itself), and
        the policy and ingest files present."""
        written = validate(NetworkToml, data, source=path, error=NetworkError)
        base = path.resolve().parent
        net = written.network
        if dir is not None:
            folder = Path(dir).resolve()
        elif net.dir is not None:
            folder = _resolve(base, net.dir)
        else:
            folder = user_state_dir() / "networks" / net.name

        nodes: list[NodeSpec] = []
        links: dict[str, set[str]] = {}
        seen_ports: dict[int, str] = {}
        for i, raw in enumerate(written.node):
            at = f"{path}: node[{i}] ({raw.name})"
            if raw.name in links:
                raise NetworkError(f"{at}: key 'name': a second node called {raw.name!r}")
            port = raw.port if raw.port is not None else net.base_port + i
            if not 1 <= port <= 65535:
                raise NetworkError(
                    f"{at}: key 'port': base_port + {i} = {port} is not a TCP port; "
                    "give the node a port"
                )
            if port in seen_ports:
                raise NetworkError(
                    f"{at}: key 'port': {port} is already the port of {seen_ports[port]!r}"
                )
            seen_ports[port] = raw.name
            store = (
                _resolve(base, raw.store)
                if raw.store is not None
                else folder / raw.name / "twin.duckdb"
            )
            policy = _resolve(base, raw.policy) if raw.policy is not None else None
            if policy is not None and not policy.is_file():
                raise NetworkError(f"{at}: key 'policy': no file {policy}")
            ingest = tuple(_resolve(base, item) for item in raw.ingest)
            for j, file in enumerate(ingest):
                if not file.is_file():
                    raise NetworkError(f"{at}: key 'ingest[{j}]': no file {file}")
            links[raw.name] = set(raw.partners)
            nodes.append(
                NodeSpec(
                    name=raw.name,
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
        return cls(
            path=path.resolve(),
            name=net.name,
            dir=folder,
            host=net.host,
            base_port=net.base_port,
            nodes=tuple(replace(n, partners=tuple(both[n.name])) for n in nodes),
        )


def user_state_dir() -> Path:
    """Where keiretsu keeps what it runs for this user: ``KEIRETSU_STATE_DIR`` if set; else
    platformdirs' user state folder for ``keiretsu`` when platformdirs is installed; else
    ``$XDG_STATE_HOME/keiretsu`` (``~/.local/state/keiretsu``)."""
    import os

    given = os.environ.get("KEIRETSU_STATE_DIR")
    if given:
        return Path(given).expanduser().resolve()
    try:
        import platformdirs
    except ImportError:
        xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        return (Path(xdg).expanduser() / "keiretsu").resolve()
    return Path(platformdirs.user_state_dir("keiretsu")).resolve()


def _resolve(base: Path, written: str) -> Path:
    """A path of the file, relative to its folder (``~`` expanded)."""
    return (base / Path(written).expanduser()).resolve()
