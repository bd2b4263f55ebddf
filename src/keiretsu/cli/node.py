"""``keiretsu node …``: make a node, introduce partners, issue tokens, write its sharing policy,
serve the node."""

from __future__ import annotations

import contextlib
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
policy_app = typer.Typer(
    help="The sharing policy: what may leave this node, for which partner (deny by default).",
    no_args_is_help=True,
)
node_app.add_typer(partner_app, name="partner")
node_app.add_typer(token_app, name="token")
node_app.add_typer(policy_app, name="policy")

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
    err_console.print(f"[bold red]error[/] {message}", soft_wrap=True)
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


@node_app.command("key")
def key(store: StoreOption = DEFAULT_STORE) -> None:
    """Print this node's public key alone (ed25519:…), for the partner's `node partner add`:
    `keiretsu node partner add NAME URL "$(keiretsu node key --store S)"`."""
    print(_home(store).identity().public_key_text)


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
    _warn_subjects(home)
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


@partner_app.command("share-history")
def partner_share_history(
    name: Annotated[str, typer.Argument(help="The partner's name.")],
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Owe a partner again every document this node recorded, as the policy now allows (after
    a policy change permits it more); it is sent when the node serves. The node must be
    stopped (its store in use otherwise); the partner keeps each event once."""
    from keiretsu.store import Store, StoreError

    home = _home(store)
    if name not in home.partners():
        known = ", ".join(sorted(home.partners())) or "none yet"
        raise _fail(f"{name!r} is not a partner of this node (its partners: {known})")
    try:
        with Store(store) as s:
            owed = s.outbox_add(name, again=True)
    except StoreError as exc:
        raise _fail(f"{exc} (stop the node first: `keiretsu node serve` holds the store)") from exc
    console.print(f"{owed} document(s) owed to {name}: sent when the node serves")


# --- the sharing policy ------------------------------------------------------------------------

_EXAMPLE_PARTNER = "umeda-distribution"  # the subject of the shipped example policy


def _warn(message: str) -> None:
    err_console.print(f"[bold yellow]warning[/] {message}", soft_wrap=True)


def _warn_subjects(home: Any) -> None:
    """Warn of each subject the node's policy names that is not a partner (nothing leaves for
    it); a faulty policy is left to the node, which reports it."""
    from keiretsu.node.policy import Policy, PolicyError
    from keiretsu.node.policy.partners import policy_notes

    if not home.policy_path.exists():
        return
    try:
        policy = Policy.load(home.policy_path)
    except PolicyError:
        return
    for note in policy_notes(policy, home.partners()):
        _warn(str(note))


def _local_documents(store: Path) -> int | None:
    """The documents of this node's own with new events (what a partner could be sent), or
    ``None`` when the store is in use (the node serving)."""
    from keiretsu.store import Store, StoreError

    if not store.exists():
        return 0
    try:
        with Store(store) as s:
            found = s.con.execute(
                "SELECT count(*) FROM ingest_log WHERE status = 'accepted' "
                "AND source = 'local' AND events_new > 0"
            ).fetchone()
    except StoreError:
        return None
    return int(found[0]) if found else 0


def _install(home: Any, store: Path, text: str) -> Path:
    """Check ``text`` as a policy, write it as the node's ``policy.toml`` and warn of what it
    will not do: subjects that are not partners, and partners it newly permits that were not
    sent what was recorded before."""
    from keiretsu.node.policy import Policy, PolicyError
    from keiretsu.node.policy.partners import newly_permitted, policy_notes

    target: Path = home.policy_path
    previous = Policy.deny_all()
    if target.exists():
        with contextlib.suppress(PolicyError):  # a faulty policy shares nothing
            previous = Policy.load(target)
    trial = target.with_name(target.name + ".new")
    trial.write_text(text, encoding="utf-8")
    try:
        policy = Policy.load(trial)
    except PolicyError as exc:
        trial.unlink()
        raise _fail(f"{exc}\\nthe node's policy is unchanged ({target})") from exc
    trial.replace(target)
    console.print(f"policy written to {target} ({len(policy.rules)} rules)", soft_wrap=True)
    partners = home.partners()
    for note in policy_notes(policy, partners):
        _warn(str(note))
    fresh = newly_permitted(previous, policy, partners)
    if fresh:
        recorded = _local_documents(store)
        for name in fresh:
            if recorded == 0:
                continue
            before = (
                f"the {recorded} document(s) this node recorded before"
                if recorded
                else "what this node recorded before (if anything)"
            )
            _warn(
                f"{name!r} may now receive what this policy permits; {before} went to it "
                "only as the former policy allowed (nothing, where it permitted nothing). "
                f"To send them: keiretsu node partner share-history {name} --store {store}"
                + ("" if recorded else " (with the node stopped)")
            )
    return target


@policy_app.command("example")
def policy_example(
    partner: Annotated[
        str, typer.Option("--partner", "-p", help="The partner the example shares with.")
    ],
    store: StoreOption = DEFAULT_STORE,
    force: Annotated[
        bool, typer.Option("--force", help="Replace the node's policy if it has one.")
    ] = False,
    stdout: Annotated[
        bool, typer.Option("--stdout", help="Print the policy instead of installing it.")
    ] = False,
) -> None:
    """Write the shipped example policy for PARTNER as this node's policy: a plant's packing and
    shipping events (its dock pseudonymised), its daily demand as totals, its bottling and
    inspections kept home. Edit it to your steps (docs/node/policies.md)."""
    from importlib import resources

    text = (resources.files("keiretsu") / "examples" / "policy.toml").read_text(encoding="utf-8")
    text = text.replace(f'"{_EXAMPLE_PARTNER}"', json.dumps(partner))
    if stdout:
        print(text, end="")
        return
    home = _home(store)
    if home.policy_path.exists() and not force:
        raise _fail(
            f"{home.policy_path} exists: use --force to replace it, or --stdout to see the example"
        )
    _install(home, store, text)


@policy_app.command("install")
def policy_install(
    file: Annotated[Path, typer.Argument(help="A policy file (TOML, [[rule]] tables).")],
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Check a policy file and make it this node's policy (a running node takes it at once).
    Warns of subjects that are not partners, and of partners now permitted that could be sent
    what was recorded before."""
    home = _home(store)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(f"{file}: cannot read the policy file: {exc}") from exc
    _install(home, store, text)


@policy_app.command("explain")
def policy_explain(
    store: StoreOption = DEFAULT_STORE,
    partner: Annotated[
        list[str] | None,
        typer.Option("--partner", "-p", help="Only this partner or subject (repeatable)."),
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """What the policy lets leave, per partner: the rules that permit and deny, subjects that
    are not partners (nothing leaves for them), and — when the node is not serving — how many
    of this node's own events would leave, be counted in totals, or stay home."""
    from keiretsu.node.policy import Policy, PolicyError
    from keiretsu.node.policy.partners import policy_notes
    from keiretsu.node.policy.rules import EVENT_RIGHTS

    home = _home(store)
    path: Path = home.policy_path
    present = path.exists()
    try:
        policy = Policy.load(path) if present else Policy.deny_all()
        problem = None
    except PolicyError as exc:
        policy, problem = Policy.deny_all(), str(exc)
    partners = home.partners()
    notes = policy_notes(policy, partners)
    names = partner or sorted(set(partners) | policy.partners())
    counts = _explain_counts(store, policy, names, partners)
    rows: list[dict[str, Any]] = []
    for name in names:
        rules = [r for r in policy.rules if r.names(name)]
        event_rules = [r for r in rules if any(r.grants(x) for x in EVENT_RIGHTS)]
        note = None
        if name not in partners:
            mine = [n for n in notes if n.subject == name]
            note = str(mine[0]) if mine else f"{name!r} is not a partner of this node"
        rows.append(
            {
                "name": name,
                "is_partner": name in partners,
                "permits": [r.id for r in event_rules if r.effect == "permit"],
                "denies": [r.id for r in event_rules if r.effect == "deny"],
                "events": counts.get(name),
                "note": note,
            }
        )
    answer: dict[str, Any] = {
        "policy": str(path),
        "present": present,
        "problem": problem,
        "partners": rows,
        "notes": [str(n) for n in notes],
        "counted": counts != {},
    }
    if json_out:
        print(json.dumps(answer))
        return
    if not present:
        console.print(f"no policy at {path}: nothing leaves (deny by default)", soft_wrap=True)
    elif problem:
        console.print(f"the policy at {path} is faulty: nothing leaves. {problem}", soft_wrap=True)
    else:
        console.print(f"policy {path}: {len(policy.rules)} rules", soft_wrap=True)
    table = Table("subject", "partner?", "permitted by", "denied by", "events leave/totals/stay")
    for row in rows:
        events = row["events"]
        table.add_row(
            str(row["name"]),
            "yes" if row["is_partner"] else "[bold red]no[/]",
            ", ".join(row["permits"]) or "-",
            ", ".join(row["denies"]) or "-",
            "/".join(str(events[k]) for k in ("leave", "totals", "stay")) if events else "-",
        )
    console.print(table)
    for row in rows:
        if row["note"]:
            console.print(f"[bold yellow]note[/] {row['note']}", soft_wrap=True)
    for text in answer["notes"]:
        if not any(text == row["note"] for row in rows):
            console.print(f"[bold yellow]note[/] {text}", soft_wrap=True)
    if not counts and store.exists():
        console.print("(the store is in use — the node serving? — so events are not counted)")


def _explain_counts(
    store: Path, policy: Any, names: list[str], partners: dict[str, Any]
) -> dict[str, dict[str, int]]:
    """Per partner: this node's own events that would leave, be counted in totals, or stay;
    empty when the store is absent or in use."""
    import pyarrow.compute as pc

    from keiretsu.store import Store, StoreError

    if not store.exists():
        return {}
    try:
        with Store(store, read_only=True) as s:
            ocel = s.to_ocel()
            own = {
                r[0]
                for r in s.con.execute(
                    "SELECT e.ocel_id FROM event e JOIN ingest_log l USING (ingest_id) "
                    "WHERE l.source = 'local'"
                ).fetchall()
            }
    except StoreError:
        return {}
    out: dict[str, dict[str, int]] = {}
    for name in names:
        if name not in partners:
            out[name] = {"leave": 0, "totals": 0, "stay": len(own)}
            continue
        table = policy.explain(ocel, name)
        mine = pc.is_in(table["ocel_id"], value_set=_strings(sorted(own)))
        leave = pc.and_(mine, table["permitted"])
        totals = pc.and_(
            pc.and_(mine, pc.invert(table["permitted"])), pc.is_valid(table["aggregated_by"])
        )
        n_leave = int(pc.sum(leave).as_py() or 0)
        n_totals = int(pc.sum(totals).as_py() or 0)
        out[name] = {"leave": n_leave, "totals": n_totals, "stay": len(own) - n_leave - n_totals}
    return out


def _strings(values: list[str]) -> Any:
    import pyarrow as pa

    return pa.array(values, pa.string())
