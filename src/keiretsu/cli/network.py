"""``keiretsu network …``: start a value network of nodes from one file, see it, stop it, and
follow an object through it."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    import pyarrow as pa

    from keiretsu.network.config import NetworkFile
    from keiretsu.network.runner import NodeStatus

network_app = typer.Typer(
    help="A value network on this machine: its nodes from one network.toml, up and down, "
    "and what each sees end to end.",
    no_args_is_help=True,
)
console = Console()
err_console = Console(stderr=True)

DEFAULT_FILE = Path("network.toml")

FileArgument = Annotated[
    Path,
    typer.Argument(help="The network file (default ./network.toml).", show_default=False),
]
DirOption = Annotated[
    Path | None,
    typer.Option(
        "--dir",
        "--state",
        help="Where the nodes' stores, homes and the running network's state live (overrides "
        "[network] dir; default: the user's state folder, <state>/networks/<name>, or "
        "KEIRETSU_STATE_DIR).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[bold red]error[/] {message}")
    return typer.Exit(2)


def _load(file: Path, dir: Path | None) -> NetworkFile:
    from keiretsu.network.config import NetworkError, NetworkFile

    try:
        return NetworkFile.load(file, dir=dir)
    except NetworkError as exc:
        raise _fail(str(exc)) from exc


def _owed(row: NodeStatus) -> str:
    if not row.alive:
        return "-"
    if not row.partners:
        return "no partners"
    return ", ".join(f"{p} {row.owed.get(p, 0)}" for p in row.partners)


def _status_json(rows: list[NodeStatus]) -> list[dict[str, Any]]:
    return [
        {
            "node": r.name,
            "url": r.url,
            "pid": r.pid,
            "alive": r.alive,
            "events": r.events,
            "partners": list(r.partners),
            "documents_owed": r.owed,
            "last_errors": r.errors,
        }
        for r in rows
    ]


@network_app.command("up")
def up(
    file: FileArgument = DEFAULT_FILE,
    dir: DirOption = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each node to answer.")] = 30.0,
    wait: Annotated[
        float,
        typer.Option(
            help="Seconds to wait for the nodes to deliver what they owe their partners "
            "(0: do not wait)."
        ),
    ] = 30.0,
    json_out: JsonOption = False,
) -> None:
    """Start every node of the network (creating the ones that do not exist), introduce the
    partners, capture each node's ingest documents, and show the nodes. On a running network
    it starts only the nodes that are not running."""
    from keiretsu.network.config import NetworkError
    from keiretsu.network.runner import up as run_up
    from keiretsu.network.runner import wait_delivered

    net = _load(file, dir)

    def say(message: str) -> None:
        if not json_out:
            err_console.print(f"[dim]{message}[/]")

    try:
        rows = run_up(net, timeout=timeout, progress=say)
        started = {r.name for r in rows if r.started}
    except NetworkError as exc:
        raise _fail(
            f"{exc}\n(what started is in {net.state_path}; `keiretsu network down`)"
        ) from exc
    if wait > 0:
        try:
            rows = wait_delivered(net.state_path, timeout=wait)
        except NetworkError as exc:
            err_console.print(f"[yellow]warning[/] {exc}")
            from keiretsu.network.runner import status

            rows = status(net.state_path)
    if json_out:
        print(json.dumps(_status_json(rows)))
        return
    if rows and not started and all(r.alive for r in rows):
        console.print(f"network [bold]{net.name}[/] is already running")
    table = Table(title=f"network {net.name} ({net.dir})", title_justify="left")
    for column in ("node", "url", "pid", "events", "partners (documents owed)"):
        table.add_column(column, justify="right" if column in ("pid", "events") else "left")
    for r in rows:
        table.add_row(
            r.name,
            r.url,
            str(r.pid),
            "-" if r.events is None else f"{r.events:,}",
            _owed(r),
        )
    console.print(table)
    console.print(
        f"stores, homes and state in {net.dir}; logs: <node home>/server.log; "
        f"stop with `keiretsu network down {file}`" + (f" --dir {dir}" if dir else ""),
        highlight=False,
    )


@network_app.command("down")
def down(
    file: FileArgument = DEFAULT_FILE,
    dir: DirOption = None,
    timeout: Annotated[
        float, typer.Option(help="Seconds to let a node stop before it is killed.")
    ] = 10.0,
) -> None:
    """Stop every node of the running network (SIGTERM, then SIGKILL after --timeout)."""
    from keiretsu.network.runner import down as run_down

    state_path = _state_path(file, dir)
    outcome = run_down(state_path, timeout=timeout)
    if not outcome:
        console.print(f"no network running from {state_path.parent}")
        return
    for node, how in outcome.items():
        console.print(f"{node}: {how}")


def _state_path(file: Path, dir: Path | None) -> Path:
    """The state file: in ``--dir`` when no network file is at hand, else where the file says."""
    if dir is not None and not file.exists():
        return dir.resolve() / "network.state.json"
    return _load(file, dir).state_path


@network_app.command("status")
def status(
    file: FileArgument = DEFAULT_FILE, dir: DirOption = None, json_out: JsonOption = False
) -> None:
    """Per node: running or not, events held, documents still owed to each partner."""
    from keiretsu.network.config import NetworkError
    from keiretsu.network.runner import status as run_status

    try:
        rows = run_status(_state_path(file, dir))
    except NetworkError as exc:
        raise _fail(str(exc)) from exc
    if json_out:
        print(json.dumps(_status_json(rows)))
        return
    table = Table("node", "running", "pid", "events", "partners (documents owed)", "last error")
    for r in rows:
        table.add_row(
            r.name,
            "[green]yes[/]" if r.alive else "[red]no[/]",
            str(r.pid),
            "-" if r.events is None else f"{r.events:,}",
            _owed(r),
            "; ".join(f"{p}: {e}" for p, e in r.errors.items())[:120],
        )
    console.print(table)


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    out = []
    for row in table.to_pylist():
        out.append({k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()})
    return out


def _trace_live(url: str, token: str, node: str, object_id: str, contents: bool) -> Any:
    """The trace asked of the running node (``GET /twin/trace``); None if its server has no
    such route."""
    import httpx

    try:
        response = httpx.get(
            f"{url}/twin/trace",
            params={"object": object_id, "contents": str(contents).lower()},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30.0,
            trust_env=False,
        )
    except httpx.HTTPError as exc:
        raise _fail(f"node {node} at {url}: {exc}") from exc
    if (
        response.status_code == 404
        and "detail" in response.json()
        and (response.json().get("detail") == "Not Found")
    ):
        return None
    if response.status_code != 200:
        raise _fail(
            f"node {node}: GET /twin/trace answered {response.status_code}: {response.text}"
        )
    return response.json()


@network_app.command("trace")
def trace(
    object_id: Annotated[
        str,
        typer.Argument(
            help="The object: a pallet's SSCC, a lot, a trade item, a purchase order (as an EPC "
            "URN, a GS1 Digital Link or as stored)."
        ),
    ],
    file: FileArgument = DEFAULT_FILE,
    node: Annotated[
        str | None,
        typer.Option("--node", "-n", help="Whose view (default: the network's last node)."),
    ] = None,
    dir: DirOption = None,
    contents: Annotated[
        bool,
        typer.Option(help="Also follow what it was packed with (a pallet's cases and back)."),
    ] = False,
    json_out: JsonOption = False,
) -> None:
    """One object's path across the chain, as NODE sees it: each step, when, where, and which
    company recorded it."""
    from keiretsu.network.config import NetworkError
    from keiretsu.network.state import NetworkState
    from keiretsu.network.view import chain, open_store, resolve_object

    net = _load(file, dir)
    try:
        spec = net.node(node) if node else net.nodes[-1]
    except NetworkError as exc:
        raise _fail(str(exc)) from exc
    state = NetworkState.load(net.state_path)
    live = None
    if state is not None:
        try:
            running = state.node(spec.name)
        except NetworkError:
            running = None
        if running is not None and running.alive:
            live = _trace_live(running.url, running.token, spec.name, object_id, contents)
            if live is None:
                raise _fail(
                    f"node {spec.name} is running and its server cannot trace "
                    f"(no GET /twin/trace); stop the network (`keiretsu network down`) to "
                    "trace from its store"
                )
    if live is not None:
        resolved = live.get("object") or object_id
        rows = live["events"]
    else:
        try:
            with open_store(spec.store) as con:
                resolved = resolve_object(con, object_id) or object_id
                rows = _rows(chain(con, object_id, local=spec.name, contents=contents))
        except (FileNotFoundError, RuntimeError) as exc:
            raise _fail(str(exc)) from exc
    if json_out:
        print(json.dumps({"node": spec.name, "object": resolved, "events": rows}))
        return
    if not rows:
        raise _fail(f"node {spec.name} holds no event of {object_id}")
    companies = list(dict.fromkeys(r["node"] for r in rows))
    table = Table(
        title=f"{resolved} as {spec.name} sees it — recorded by {', '.join(companies)}",
        title_justify="left",
    )
    for column in ("time (UTC)", "company", "step", "as", "location"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            str(r["time"]).replace("T", " ")[:19],
            r["node"],
            r["activity"],
            r["qualifier"] + (f" ({r['objects']})" if r.get("objects", 1) > 1 else ""),
            r.get("location") or "",
        )
    console.print(table)
