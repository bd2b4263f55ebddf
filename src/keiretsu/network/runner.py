"""Bringing a network up and down: one server process per company's node, on this machine.

``up`` makes each node that does not exist yet (``keiretsu node init``), installs its sharing
policy, introduces the linked nodes to each other (name, URL, public key), starts every node as
its own detached process (``keiretsu node serve``, its output in ``server.log`` in its home),
waits until each answers, then captures each node's ``ingest`` documents over HTTP — so their
events flow through each node's outbox to its partners as its policy allows. ``down`` stops the
processes (SIGTERM, then SIGKILL after a grace period). ``status`` asks each node what it holds
and what it still owes its partners.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from keiretsu.network.client import NodeClient
from keiretsu.network.config import NetworkError, NetworkFile, NodeSpec
from keiretsu.network.state import NetworkState, NodeState, process_alive, signal_node

__all__ = ["NodeStatus", "down", "status", "up", "wait_delivered"]

TOKEN_LABEL = "network"
Progress = Callable[[str], None]


@dataclass(frozen=True)
class NodeStatus:
    """One node as the network commands show it."""

    name: str
    url: str
    pid: int | None
    alive: bool
    events: int | None
    """Events in the node's store (its own and its partners'); None when it does not answer."""
    partners: tuple[str, ...]
    owed: dict[str, int]
    """Documents still owed to each partner (accepted here, not yet delivered there)."""
    errors: dict[str, str]
    """The last delivery error towards a partner, where the last attempt failed."""
    started: bool = False
    """Started by this ``up`` (False: it was running already)."""


def _quiet(message: str) -> None:
    pass


def _keiretsu(*args: str) -> list[str]:
    """The ``keiretsu`` command of this very installation (same interpreter, same venv)."""
    return [sys.executable, "-m", "keiretsu", *args]


# --- making the nodes ------------------------------------------------------------------------


def _ensure_node(net: NetworkFile, spec: NodeSpec, say: Progress) -> str:
    """Create the node if it has no home yet; make sure it has the network's URL and a token
    the network commands can use. Returns that token."""
    from keiretsu.node.auth import TokenStore
    from keiretsu.node.home import NodeError, NodeHome

    url = net.url(spec)
    if not (spec.home / "node.toml").exists():
        say(f"creating node {spec.name} in {spec.folder}")
        return _init_node(spec, url)
    try:
        home = NodeHome.open(spec.store)
        config = home.config()
    except NodeError as exc:
        raise NetworkError(f"node {spec.name}: {exc}") from exc
    if config.name != spec.name:
        raise NetworkError(
            f"node {spec.name}: its store {spec.store} belongs to a node called "
            f"{config.name!r}; give it its own store (key 'store') or rename it in {net.path}"
        )
    if config.url != url:
        home.set_url(url)
    if spec.token_path.exists():
        token = spec.token_path.read_text(encoding="utf-8").strip()
        if TokenStore(home.tokens_path).check(token) is not None:
            return token
    tokens = TokenStore(home.tokens_path)
    tokens.revoke(TOKEN_LABEL)
    token = tokens.create(TOKEN_LABEL)
    _write_token(spec.token_path, token)
    return token


def _init_node(spec: NodeSpec, url: str) -> str:
    """What ``keiretsu node init --store S --name N --url U`` does, done in this process: a
    second interpreter per node would cost a couple of seconds each."""
    from keiretsu.node.home import NodeError, create_node
    from keiretsu.node.identity import IdentityError

    spec.folder.mkdir(parents=True, exist_ok=True)
    try:
        _home, token = create_node(spec.store, spec.name, url=url, token_label=TOKEN_LABEL)
    except (NodeError, IdentityError) as exc:
        raise NetworkError(f"node {spec.name}: {exc}") from exc
    _write_token(spec.token_path, token)
    return token


def _write_token(path: Path, token: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(token + "\n")


def _install_policy(spec: NodeSpec) -> None:
    """Copy the node's policy file into its home as ``policy.toml`` after checking it loads;
    a node without a policy in the network file gets none (nothing leaves it). A running node
    reads the new file at its next decision."""
    from keiretsu.node.policy import Policy, PolicyError

    target = spec.home / "policy.toml"
    if spec.policy is None:
        target.unlink(missing_ok=True)
        return
    try:
        Policy.load(spec.policy)
    except PolicyError as exc:
        raise NetworkError(f"node {spec.name}: its policy cannot be used: {exc}") from exc
    if target.exists() and target.read_bytes() == spec.policy.read_bytes():
        return
    tmp = target.with_suffix(".part")
    shutil.copyfile(spec.policy, tmp)
    os.replace(tmp, target)


def _introduce(net: NetworkFile) -> None:
    """Each linked pair learns the other's name, URL and public key (``partners.toml``)."""
    from keiretsu.node.home import NodeError, NodeHome

    homes = {spec.name: NodeHome.open(spec.store) for spec in net.nodes}
    keys = {name: home.identity().public_key_text for name, home in homes.items()}
    for spec in net.nodes:
        known = homes[spec.name].partners()
        for partner in spec.partners:
            url = net.url(net.node(partner))
            have = known.get(partner)
            if have is not None and have.url == url:
                from keiretsu.node.identity import public_key_text

                if public_key_text(have.public_key) == keys[partner]:
                    continue  # already introduced: leave partners.toml untouched
            try:
                homes[spec.name].add_partner(partner, url, keys[partner])
            except (NodeError, ValueError) as exc:
                raise NetworkError(f"node {spec.name}: partner {partner}: {exc}") from exc


# --- processes -------------------------------------------------------------------------------


def _start(net: NetworkFile, spec: NodeSpec, token: str) -> NodeState:
    """Start the node's server, detached from this terminal, its output in its log."""
    spec.log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(spec.log_path, "ab") as log:
        log.write(f"--- keiretsu network up: {time.strftime('%Y-%m-%dT%H:%M:%S%z')}\n".encode())
        log.flush()
        process = subprocess.Popen(
            _keiretsu(
                "node",
                "serve",
                "--store",
                str(spec.store),
                "--host",
                net.host,
                "--port",
                str(spec.port),
            ),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in this shell does not stop the network
            close_fds=True,
        )
    return NodeState(
        node=spec.name,
        pid=process.pid,
        port=spec.port,
        url=net.url(spec),
        token=token,
        store=str(spec.store),
        log=str(spec.log_path),
    )


def _log_tail(path: str | Path, lines: int = 15) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _wait_ready(state: NodeState, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with NodeClient(state.node, state.url, state.token) as client:
        while True:
            if client.ready():
                return
            if not process_alive(state.pid, state.store):
                raise NetworkError(
                    f"node {state.node} stopped while starting; its log {state.log} ends:\n"
                    f"{_log_tail(state.log)}"
                )
            if time.monotonic() > deadline:
                raise NetworkError(
                    f"node {state.node} did not answer at {state.url} within {timeout:.0f} s "
                    f"(pid {state.pid}); see its log {state.log}:\n{_log_tail(state.log)}"
                )
            time.sleep(0.1)


def _ingested_path(spec: NodeSpec) -> Path:
    return spec.home / "network.ingested.json"


def _capture(spec: NodeSpec, state: NodeState, say: Progress) -> int:
    """Capture the node's ``ingest`` documents not captured before (by content); returns the
    number captured."""
    record = _ingested_path(spec)
    done: list[str] = json.loads(record.read_text()) if record.exists() else []
    captured = 0
    with NodeClient(state.node, state.url, state.token, timeout=60.0) as client:
        for file in spec.ingest:
            digest = hashlib.sha256(file.read_bytes()).hexdigest()
            if digest in done:
                continue
            job = client.capture(file)
            report = job.get("keiretsu:report") or {}
            say(f"{spec.name}: captured {file.name} ({report.get('events_new', '?')} new events)")
            done.append(digest)
            record.write_text(json.dumps(done))
            captured += 1
    return captured


def up(
    net: NetworkFile,
    *,
    timeout: float = 30.0,
    progress: Progress = _quiet,
) -> list[NodeStatus]:
    """Bring the network up (see the module docstring). Nodes already running are left
    running; dead ones are started again. Returns each node's status."""
    net.dir.mkdir(parents=True, exist_ok=True)
    previous = NetworkState.load(net.state_path)
    running: dict[str, NodeState] = {}
    if previous is not None:
        running = {n.node: n for n in previous.nodes if n.alive}
    tokens: dict[str, str] = {}
    for spec in net.nodes:
        tokens[spec.name] = _ensure_node(net, spec, progress)
        _install_policy(spec)
    _introduce(net)

    states: dict[str, NodeState] = {}
    started: set[str] = set()
    try:
        for spec in net.nodes:
            old = running.get(spec.name)
            if old is not None and old.port == spec.port:
                states[spec.name] = replace(old, token=tokens[spec.name])
                continue
            if old is not None:  # its port changed in the file: restart it
                _stop([old], timeout=10.0)
            progress(f"starting {spec.name} on {net.url(spec)}")
            states[spec.name] = _start(net, spec, tokens[spec.name])
            started.add(spec.name)
            _save(net, states)
        _save(net, states)
        for spec in net.nodes:
            _wait_ready(states[spec.name], timeout)
    except BaseException:
        _save(net, states)  # `down` can still stop what did start
        raise
    for spec in net.nodes:
        _capture(spec, states[spec.name], progress)
    return [
        _status_of(states[spec.name], spec.partners, started=spec.name in started)
        for spec in net.nodes
    ]


def _save(net: NetworkFile, states: dict[str, NodeState]) -> None:
    NetworkState(network=net.name, file=str(net.path), nodes=tuple(states.values())).save(
        net.state_path
    )


def _stop(nodes: list[NodeState], *, timeout: float) -> dict[str, str]:
    """SIGTERM each live node, wait up to ``timeout`` seconds, SIGKILL what remains.
    Returns per node: ``stopped``, ``killed`` or ``not running``."""
    outcome: dict[str, str] = {}
    live = [n for n in nodes if process_alive(n.pid, n.store)]
    for n in nodes:
        if n not in live:
            outcome[n.node] = "not running"
    for n in live:
        signal_node(n.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while live and time.monotonic() < deadline:
        live = [n for n in live if process_alive(n.pid, n.store)]
        time.sleep(0.05)
    for n in nodes:
        if n.node in outcome:
            continue
        if n in live:
            signal_node(n.pid, signal.SIGKILL)
            outcome[n.node] = "killed"
        else:
            outcome[n.node] = "stopped"
    end = time.monotonic() + 5.0
    while live and time.monotonic() < end:  # let the kernel finish them
        live = [n for n in live if process_alive(n.pid, n.store)]
        time.sleep(0.05)
    return outcome


def down(state_path: Path, *, timeout: float = 10.0) -> dict[str, str]:
    """Stop every node of the network whose state is at ``state_path`` and remove the state
    file. Returns per node what happened (``stopped``, ``killed``, ``not running``)."""
    state = NetworkState.load(state_path)
    if state is None:
        return {}
    outcome = _stop(list(state.nodes), timeout=timeout)
    state_path.unlink(missing_ok=True)
    return outcome


def _status_of(node: NodeState, partners: tuple[str, ...], *, started: bool = False) -> NodeStatus:
    alive = node.alive
    events: int | None = None
    owed: dict[str, int] = {}
    errors: dict[str, str] = {}
    if alive:
        with NodeClient(node.node, node.url, node.token) as client:
            try:
                twin = client.twin()
                events = int(twin["store"]["events"])
                partners = tuple(twin.get("partners", partners))
                for row in client.partners():
                    owed[row["name"]] = int(row.get("documents_owed", 0))
                    if row.get("last_error"):
                        errors[row["name"]] = str(row["last_error"])
            except NetworkError as exc:
                errors["(node)"] = str(exc)
    return NodeStatus(
        name=node.node,
        url=node.url,
        pid=node.pid,
        alive=alive,
        events=events,
        partners=partners,
        owed=owed,
        errors=errors,
        started=started,
    )


def status(state_path: Path) -> list[NodeStatus]:
    """Each node of the running network: alive, events held, documents owed per partner."""
    state = NetworkState.load(state_path)
    if state is None:
        raise NetworkError(f"no network is running from {state_path.parent} (no {state_path.name})")
    return [_status_of(n, ()) for n in state.nodes]


def wait_delivered(state_path: Path, *, timeout: float = 30.0) -> list[NodeStatus]:
    """Wait until no node owes any partner a document (every outbox is empty); returns the
    status then. :class:`NetworkError` after ``timeout`` seconds, naming what is still owed."""
    deadline = time.monotonic() + timeout
    while True:
        rows = status(state_path)
        owing = [(r.name, p, n) for r in rows for p, n in r.owed.items() if n]
        dead = [r.name for r in rows if not r.alive]
        if dead:
            raise NetworkError(f"node(s) not running: {', '.join(dead)}")
        if not owing:
            return rows
        if time.monotonic() > deadline:
            what = "; ".join(f"{a} owes {b} {n} document(s)" for a, b, n in owing)
            errors = "; ".join(f"{r.name}→{p}: {e}" for r in rows for p, e in r.errors.items())
            raise NetworkError(
                f"deliveries not done after {timeout:.0f} s: {what}"
                + (f" (last errors: {errors})" if errors else "")
            )
        time.sleep(0.2)
