"""A node's home: the directory beside its store that holds who the node is and whom it talks to.

```
.keiretsu/twin.duckdb          the store (events, ingest log, outbox)
.keiretsu/twin.node/
    node.toml                  name, the URL partners reach it at, the store
    identity.toml, identity.key  the Ed25519 identity (the key file is readable by its owner only)
    partners.toml              each partner: name, URL, public key
    policy.toml                what may leave, to whom (deny by default: no file, nothing leaves)
    tokens.toml                local users' API tokens (hashes only)
    pseudonym.key              the secret behind pseudonymised identifiers
    audit.log                  every refused and accepted node-to-node request, a JSON line each
                               (rotated at 10 MiB: audit.log.1 … audit.log.5)
    replay.log                 partners' request tokens already used and not yet expired
    capture/                   capture documents received but not yet stored (survive a crash)
```
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import Annotated, Any

import tomli_w
from pydantic import AfterValidator, Field

from keiretsu.analytics.calendar import Calendar, CalendarError
from keiretsu.model.config import ConfigModel, read_toml, validate
from keiretsu.node.identity import Identity, NodeName, PartnerKey, parse_public_key

DEFAULT_PORT = 8700


class NodeError(RuntimeError):
    """Something about a node's home is missing or wrong; the message says what to do."""


def home_for(store: str | Path) -> Path:
    """The home directory of the node whose store is ``store``: ``twin.duckdb`` → ``twin.node``."""
    path = Path(store)
    return path.with_name(path.stem + ".node")


_URL = re.compile(r"^https?://[^\s/]+(:\d+)?(/.*)?$")
_URL_EXPECTED = "an http(s) URL, e.g. http://127.0.0.1:8701"


def check_url(url: str) -> str:
    """A partner or node URL: ``http(s)://host[:port]``, without a trailing slash."""
    if not _URL.match(url):
        raise NodeError(f"{url!r} is not an http(s) URL (expected e.g. http://127.0.0.1:8701)")
    return url.rstrip("/")


Url = Annotated[
    str,
    Field(pattern=_URL.pattern, description=_URL_EXPECTED),
    AfterValidator(lambda url: url.rstrip("/")),
]
"""A node's URL, ``http(s)://host[:port]``, kept without a trailing slash."""


def _public_key_text(text: str) -> str:
    parse_public_key(text)  # refuses what is not an Ed25519 key, saying why
    return text.strip()


class NodeConfig(ConfigModel):
    """``node.toml``: the node's name, the URL its partners reach it at, its store (and,
    optionally, its working calendar and where it keeps its Parquet export)."""

    name: NodeName
    url: Url
    store: Annotated[
        Path, Field(strict=False, description="the path of the node's store (a DuckDB file)")
    ]
    calendar: Annotated[
        dict[str, Any] | None,
        Field(
            description="the node's working calendar: timezone, [calendar.shifts], holidays "
            "(docs/analytics/customer.md); takt, cycle time and utilisation use it"
        ),
    ] = None
    parquet_export: Annotated[
        str | None,
        Field(
            description="keep the log exported as Parquet for Spark here (a directory, or an "
            "s3://, gs://, hdfs:// URI): the documents accepted are appended after each one "
            "(docs/spark.md)"
        ),
    ] = None
    parquet_export_seconds: Annotated[
        float,
        Field(
            ge=0,
            strict=False,
            description="at most one Parquet export every this many seconds (documents "
            "accepted meanwhile go in the next batch)",
        ),
    ] = 10.0


class PartnerEntry(ConfigModel):
    """One ``[[partner]]`` of ``partners.toml``, as ``keiretsu node partner add`` writes it."""

    name: NodeName
    url: Url
    public_key: Annotated[
        str,
        Field(description="the partner's public key, 'ed25519:' and its key in base64url"),
        AfterValidator(_public_key_text),
    ]


class PartnersFile(ConfigModel):
    """``partners.toml``: every partner this node talks to."""

    partner: Annotated[
        list[PartnerEntry],
        Field(default_factory=list, description="[[partner]] tables (name, url, public_key)"),
    ]


class NodeHome:
    """The files of one node (see the module docstring). Create with :meth:`init`."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    # paths
    @property
    def config_path(self) -> Path:
        return self.root / "node.toml"

    @property
    def partners_path(self) -> Path:
        return self.root / "partners.toml"

    @property
    def policy_path(self) -> Path:
        return self.root / "policy.toml"

    @property
    def tokens_path(self) -> Path:
        return self.root / "tokens.toml"

    @property
    def audit_path(self) -> Path:
        return self.root / "audit.log"

    @property
    def replay_path(self) -> Path:
        return self.root / "replay.log"

    @property
    def spool_dir(self) -> Path:
        return self.root / "capture"

    @property
    def pseudonym_key_path(self) -> Path:
        return self.root / "pseudonym.key"

    # life cycle
    @classmethod
    def init(cls, store: str | Path, name: str, *, url: str | None = None) -> NodeHome:
        """Create a node for ``store``: an identity called ``name``, an empty partner list, no
        policy (so nothing leaves), a pseudonym secret. Refuses to overwrite an existing one."""
        home = cls(home_for(store))
        if home.config_path.exists():
            raise NodeError(f"{home.root} already holds a node; remove it first to start afresh")
        home.root.mkdir(parents=True, exist_ok=True)
        identity = Identity.create(name)
        identity.save(home.root)
        config = {
            "name": identity.name,
            "url": check_url(url or f"http://127.0.0.1:{DEFAULT_PORT}"),
            "store": str(Path(store).resolve()),
        }
        home.config_path.write_text(tomli_w.dumps(config), encoding="utf-8")
        home.partners_path.write_text("# partners: keiretsu node partner add\n", encoding="utf-8")
        _write_secret(home.pseudonym_key_path, secrets.token_bytes(32))
        return home

    @classmethod
    def open(cls, store: str | Path) -> NodeHome:
        """The node of ``store``; a clear error if ``keiretsu node init`` was not run."""
        home = cls(home_for(store))
        if not home.config_path.exists():
            raise NodeError(
                f"no node for {store}: run `keiretsu node init --store {store} --name NAME` first"
            )
        return home

    def config(self) -> NodeConfig:
        """``node.toml``, checked: a clear error naming the file and key if it is not right."""
        data = _read_toml(self.config_path)
        config = validate(NodeConfig, data, source=self.config_path, error=NodeError)
        self._calendar_of(config)
        return config

    def calendar(self) -> Calendar:
        """The node's working calendar (``[calendar]`` in ``node.toml``; 24/7 without one)."""
        return self._calendar_of(self.config())

    def _calendar_of(self, config: NodeConfig) -> Calendar:
        if config.calendar is None:
            return Calendar.always()
        try:
            return Calendar.from_mapping(config.calendar, source=self.config_path.name)
        except CalendarError as exc:
            raise NodeError(f"{exc} (in [calendar])") from None

    def set_url(self, url: str) -> None:
        data = _read_toml(self.config_path)
        data["url"] = check_url(url)
        self.config_path.write_text(tomli_w.dumps(data), encoding="utf-8")

    def identity(self) -> Identity:
        return Identity.load(self.root)

    def pseudonym_secret(self) -> bytes:
        return self.pseudonym_key_path.read_bytes()

    # partners
    def partners(self) -> dict[str, PartnerKey]:
        """Partners by name, from ``partners.toml``."""
        if not self.partners_path.exists():
            return {}
        data = _read_toml(self.partners_path)
        written = validate(PartnersFile, data, source=self.partners_path, error=NodeError)
        return {
            p.name: PartnerKey(name=p.name, url=p.url, public_key=parse_public_key(p.public_key))
            for p in written.partner
        }

    def add_partner(self, name: str, url: str, public_key: str) -> PartnerKey:
        """Add (or update) a partner; returns it. The key text is checked first."""
        partner = PartnerKey(name=name, url=check_url(url), public_key=parse_public_key(public_key))
        if name == self.config().name:
            raise NodeError(f"{name!r} is this node's own name")
        data = _read_toml(self.partners_path) if self.partners_path.exists() else {}
        entries = [e for e in data.get("partner", []) if e.get("name") != name]
        entries.append({"name": name, "url": partner.url, "public_key": public_key.strip()})
        self.partners_path.write_text(tomli_w.dumps({"partner": entries}), encoding="utf-8")
        return partner

    def remove_partner(self, name: str) -> bool:
        data = _read_toml(self.partners_path) if self.partners_path.exists() else {}
        entries = data.get("partner", [])
        kept = [e for e in entries if e.get("name") != name]
        self.partners_path.write_text(tomli_w.dumps({"partner": kept}), encoding="utf-8")
        return len(kept) != len(entries)


def create_node(
    store: str | Path, name: str, *, url: str | None = None, token_label: str = "owner"
) -> tuple[NodeHome, str]:
    """What ``keiretsu node init`` does: the node's home (identity, empty partner list, no
    policy), its store, and a first local API token — returned once, only its hash is kept."""
    from keiretsu.node.auth import TokenStore
    from keiretsu.store import Store

    home = NodeHome.init(store, name, url=url)
    Store(store).close()  # the store exists from now on
    return home, TokenStore(home.tokens_path).create(token_label)


def _read_toml(path: Path) -> dict[str, Any]:
    return read_toml(path, error=NodeError)


def _write_secret(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
