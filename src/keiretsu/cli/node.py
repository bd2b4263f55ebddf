"""``keiretsu node …``: make a node, introduce partners, issue tokens, serve the node."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer
from rich.console import Console
from rich.table import Table

from keiretsu.twin import DEFAULT_STORE

node_app = typer.Typer(
    help="A node: the twin's server, its identity, its partners and its tokens.",
    no_args_is_help=True,
)
partner_app = typer.Typer(help="The partners this node talks to.", no_args_is_help=True)
token_app = typer.Typer(help="Local users' API tokens.", no_args_is_help=True)
node_app.add_typer(partner_app, name="partner")
node_app.add_typer(token_app, name="token")

console = Console()
err_console = Console(stderr=True)

StoreOption = Annotated[
    Path,
    typer.Option(
        "--store", "-s", envvar="KEIRETSU_STORE", help="The node's store (a DuckDB file)."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[bold red]error[/] {message}")
    return typer.Exit(2)


def _home(store: Path) -> Any:
    from keiretsu.node.home import NodeError, NodeHome

    try:
        return NodeHome.open(store)
    except NodeError as exc:
        raise _fail(str(exc)) from exc


@node_app.command("init")
def init(
    name: Annotated[str, typer.Option("--name", "-n", help="The node's name, e.g. acme-plant.")],
    store: StoreOption = DEFAULT_STORE,
    url: Annotated[
        str | None,
        typer.Option(help="Where partners reach this node (default http://127.0.0.1:8700)."),
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Create this node's identity (an Ed25519 key pair and a name) and a first API token."""
    from keiretsu.node.home import NodeError, create_node
    from keiretsu.node.identity import IdentityError

    try:
        home, token = create_node(store, name, url=url)
    except (NodeError, IdentityError) as exc:
        raise _fail(str(exc)) from exc
    identity = home.identity()
    config = home.config()
    info = {
        "name": identity.name,
        "url": config.url,
        "public_key": identity.public_key_text,
        "fingerprint": identity.fingerprint(),
        "home": str(home.root),
        "token": token,
    }
    if json_out:
        print(json.dumps(info))
        return
    console.print(f"node [bold]{identity.name}[/] created in {home.root}")
    console.print(f"  url          {config.url}")
    console.print(f"  public key   {identity.public_key_text}")
    console.print(f"  fingerprint  {identity.fingerprint()}")
    console.print(f"  API token    [bold]{token}[/]  (shown once; keep it)")
    console.print("Give your partners the name, URL and public key; compare fingerprints by phone.")


@node_app.command("show")
def show(store: StoreOption = DEFAULT_STORE, json_out: JsonOption = False) -> None:
    """This node's name, URL, public key and fingerprint: what a partner needs."""
    home = _home(store)
    identity = home.identity()
    info = {
        "name": identity.name,
        "url": home.config().url,
        "public_key": identity.public_key_text,
        "fingerprint": identity.fingerprint(),
    }
    if json_out:
        print(json.dumps(info))
        return
    for key, value in info.items():
        console.print(f"{key:12} {value}")


@node_app.command("serve")
def serve(
    store: StoreOption = DEFAULT_STORE,
    host: Annotated[
        str, typer.Option(help="Address to listen on (loopback unless you say otherwise).")
    ] = "127.0.0.1",
    port: Annotated[
        int | None, typer.Option(help="Port (default: the port of the node's URL).")
    ] = None,
    tls_cert: Annotated[
        Path | None, typer.Option("--tls-cert", help="PEM certificate: serve HTTPS.")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", help="PEM private key.")] = None,
    ca: Annotated[
        Path | None,
        typer.Option("--ca", help="CA bundle to trust when pushing to partners over HTTPS."),
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn's log level.")] = "warning",
    header_timeout: Annotated[
        float,
        typer.Option(help="Seconds a client has to send a request's line and headers."),
    ] = 10.0,
    body_timeout: Annotated[
        float, typer.Option(help="Seconds a request body may stall between two pieces.")
    ] = 30.0,
    failure_burst: Annotated[
        int, typer.Option(help="Failed requests an address may make before it gets 429.")
    ] = 500,
    failure_rate: Annotated[
        float, typer.Option(help="Failed requests per second an address earns back after that.")
    ] = 1.0,
) -> None:
    """Serve the node: the EPCIS 2.0 REST binding, the twin's API, delivery to partners."""
    from keiretsu.node.app import serve as run
    from keiretsu.node.transport import TransportLimits
    from keiretsu.web.app import mount as mount_obeya

    try:
        limits = TransportLimits(
            header_timeout=header_timeout,
            body_timeout=body_timeout,
            failure_burst=failure_burst,
            failure_rate=failure_rate,
        )
    except ValueError as exc:
        raise _fail(str(exc)) from exc

    home = _home(store)
    if (tls_cert is None) != (tls_key is None):
        raise _fail("--tls-cert and --tls-key go together")
    config = home.config()
    chosen = port or urlsplit(config.url).port or 8700
    scheme = "https" if tls_cert else "http"
    err_console.print(
        f"node [bold]{config.name}[/] serving {scheme}://{host}:{chosen} "
        f"(OpenAPI at /docs, the obeya at /obeya/); Ctrl-C to stop"
    )
    sys.stderr.flush()
    run(
        store,
        host=host,
        port=chosen,
        tls_cert=tls_cert,
        tls_key=tls_key,
        tls_verify=str(ca) if ca else True,
        log_level=log_level,
        limits=limits,
        extend=mount_obeya,  # the obeya at /obeya/ (keiretsu.web)
    )


@partner_app.command("add")
def partner_add(
    name: Annotated[str, typer.Argument(help="The partner node's name.")],
    url: Annotated[str, typer.Argument(help="Where its node listens.")],
    public_key: Annotated[str, typer.Argument(help="Its public key, ed25519:….")],
    store: StoreOption = DEFAULT_STORE,
    share_history: Annotated[
        bool,
        typer.Option(help="Also owe it what was recorded before (as the policy allows)."),
    ] = False,
) -> None:
    """Introduce a partner: its name, URL and public key (check its fingerprint with it)."""
    from keiretsu.node.home import NodeError
    from keiretsu.node.identity import fingerprint, parse_public_key

    home = _home(store)
    try:
        partner = home.add_partner(name, url, public_key)
    except (NodeError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    if share_history:
        from keiretsu.store import Store, StoreError

        try:
            with Store(store) as s:
                owed = s.outbox_add(name)
        except StoreError as exc:
            raise _fail(f"{exc} (or add the partner through the running node's API)") from exc
        console.print(f"{owed} earlier document(s) owed to {name}")
    console.print(
        f"partner [bold]{partner.name}[/] at {partner.url}, fingerprint "
        f"{fingerprint(parse_public_key(public_key))}"
    )


@partner_app.command("list")
def partner_list(store: StoreOption = DEFAULT_STORE, json_out: JsonOption = False) -> None:
    """The partners this node knows."""
    from keiretsu.node.identity import fingerprint, public_key_text

    home = _home(store)
    rows = [
        {
            "name": p.name,
            "url": p.url,
            "public_key": public_key_text(p.public_key),
            "fingerprint": fingerprint(p.public_key),
        }
        for p in home.partners().values()
    ]
    if json_out:
        print(json.dumps(rows))
        return
    table = Table("partner", "url", "fingerprint")
    for r in rows:
        table.add_row(r["name"], r["url"], r["fingerprint"])
    console.print(table)


@partner_app.command("remove")
def partner_remove(name: str, store: StoreOption = DEFAULT_STORE) -> None:
    """Stop talking to a partner (what is owed to it stays in the outbox)."""
    home = _home(store)
    if not home.remove_partner(name):
        raise _fail(f"no partner {name!r}")
    console.print(f"partner {name} removed")


@token_app.command("create")
def token_create(
    label: Annotated[str, typer.Argument(help="Who the token is for, e.g. alice or dashboard.")],
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Make an API token for a local user (printed once; only its hash is kept)."""
    from keiretsu.node.auth import TokenStore

    home = _home(store)
    try:
        print(TokenStore(home.tokens_path).create(label))
    except ValueError as exc:
        raise _fail(str(exc)) from exc


@token_app.command("list")
def token_list(store: StoreOption = DEFAULT_STORE) -> None:
    """The labels of the tokens that work."""
    from keiretsu.node.auth import TokenStore

    for label in TokenStore(_home(store).tokens_path).labels():
        console.print(label)


@token_app.command("revoke")
def token_revoke(label: str, store: StoreOption = DEFAULT_STORE) -> None:
    """Revoke a token by its label."""
    from keiretsu.node.auth import TokenStore

    if not TokenStore(_home(store).tokens_path).revoke(label):
        raise _fail(f"no token labelled {label!r}")
    console.print(f"token {label} revoked")
