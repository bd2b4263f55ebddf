"""Who a node is: a name and an Ed25519 key pair, and the partners' public keys it trusts.

A node signs every request it sends to a partner with its private key; the partner checks the
signature with the public key it was given when the two companies connected. The private key
never leaves the node's home (``identity.key``, readable by its owner only); the public key is
what a user copies to a partner, as one line of text::

    ed25519:KpVhUwBVfXa1QoV6o0WzcasvZhdW8knrTbZ7-mmhr3g

and the *fingerprint* (``93e3 3a32 f97b d67c``) is what the two sides read to each other by
phone to be sure the line was not swapped on the way.

Files in the node's home::

    identity.toml   name = "acme-plant-1", public_key = "ed25519:..."
    identity.key    the private key, PEM (PKCS #8), mode 0600
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import tomli_w
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import AfterValidator, Field

from keiretsu.model.config import ConfigModel, validate

IDENTITY_FILE = "identity.toml"
"""The node's name and public key, in its home."""

KEY_FILE = "identity.key"
"""The node's private key (PEM, PKCS #8), readable by its owner only."""

KEY_PREFIX = "ed25519:"

_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")


class IdentityError(ValueError):
    """A node name, a key text or an identity file is not what it should be; says what and where."""


def check_node_name(name: str) -> str:
    """``name`` if it is a valid node name, else :class:`IdentityError` saying what is expected.

    A node name is 1 to 63 characters: lower-case letters, digits, ``.``, ``_`` and ``-``,
    starting with a letter or digit (``acme-plant-1``, ``supplier.kyoto``). It goes into every
    signed request and every audit line, so it stays short and unambiguous.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise IdentityError(
            f"{name!r} is not a valid node name: expected 1-63 characters of a-z, 0-9, '.', '_' "
            "or '-', starting with a letter or digit (e.g. 'acme-plant-1')"
        )
    return name


NodeName = Annotated[
    str,
    Field(description="a node name: 1-63 characters of a-z, 0-9, '.', '_' or '-'"),
    AfterValidator(check_node_name),
]
"""A node's name in a configuration file, checked as :func:`check_node_name` does."""


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_text(public_key: Ed25519PublicKey) -> str:
    """The one-line text of a public key: ``ed25519:`` and the 32 raw bytes in base64url."""
    return KEY_PREFIX + base64.urlsafe_b64encode(_raw(public_key)).rstrip(b"=").decode("ascii")


def fingerprint(public_key: Ed25519PublicKey) -> str:
    """A short digest of a public key for people to compare by phone: ``93e3 3a32 f97b d67c``.

    The first 64 bits of the SHA-256 of the raw key, in four groups of four hex digits.
    """
    digest = hashlib.sha256(_raw(public_key)).hexdigest()[:16]
    return " ".join(digest[i : i + 4] for i in range(0, 16, 4))


def parse_public_key(text: str) -> Ed25519PublicKey:
    """The public key in ``text`` (``ed25519:<base64url of 32 bytes>``), as a partner sent it.

    Surrounding white space is ignored; padding ``=`` is accepted. Anything else gives an
    :class:`IdentityError` that says what is wrong with the text.
    """
    if not isinstance(text, str):
        raise IdentityError(f"a public key is text, got {type(text).__name__}")
    cleaned = text.strip()
    shown = cleaned if len(cleaned) <= 60 else cleaned[:57] + "..."
    if not cleaned.startswith(KEY_PREFIX):
        raise IdentityError(
            f"{shown!r} is not a keiretsu public key: expected 'ed25519:' followed by 43 "
            "base64url characters (as `keiretsu node show` prints it)"
        )
    body = cleaned[len(KEY_PREFIX) :].rstrip("=")
    if not re.fullmatch(r"[A-Za-z0-9_-]*", body):
        raise IdentityError(
            f"{shown!r}: the part after 'ed25519:' must be base64url (A-Z, a-z, 0-9, '-', '_'); "
            "was the line cut or wrapped when it was copied?"
        )
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError) as exc:
        raise IdentityError(f"{shown!r}: the key is not valid base64url ({exc})") from exc
    if len(raw) != 32:
        raise IdentityError(
            f"{shown!r}: an Ed25519 public key is 32 bytes (43 characters), this one is "
            f"{len(raw)} bytes; was the line cut when it was copied?"
        )
    # the text must be the canonical spelling of those bytes, so one key has one text
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != body:
        raise IdentityError(f"{shown!r}: the last character is not a valid end of a 32-byte key")
    return Ed25519PublicKey.from_public_bytes(raw)


@dataclass(frozen=True)
class Identity:
    """This node: its name and its private key. Create with :meth:`create`, keep with
    :meth:`save`, read back with :meth:`load`."""

    name: str
    private_key: Ed25519PrivateKey

    def __post_init__(self) -> None:
        check_node_name(self.name)

    @classmethod
    def create(cls, name: str) -> Identity:
        """A new identity called ``name`` with a fresh key pair."""
        return cls(name=check_node_name(name), private_key=Ed25519PrivateKey.generate())

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def public_key_text(self) -> str:
        """What a user copies to a partner: ``ed25519:<base64url>``."""
        return public_key_text(self.public_key)

    def fingerprint(self) -> str:
        """Short digest of the public key for comparing by phone (``93e3 3a32 f97b d67c``)."""
        return fingerprint(self.public_key)

    def save(self, directory: Path) -> None:
        """Write ``identity.toml`` and ``identity.key`` (mode 0600) into ``directory``.

        Refuses if either file is already there: an identity is replaced on purpose (delete the
        files), never by accident, since every partner would have to be given the new key.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        key_path, info_path = directory / KEY_FILE, directory / IDENTITY_FILE
        for path in (key_path, info_path):
            if path.exists():
                raise IdentityError(
                    f"{path} already exists: this directory holds an identity; delete "
                    f"{KEY_FILE} and {IDENTITY_FILE} first if you really mean to replace it "
                    "(every partner will then need the new public key)"
                )
        pem = self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        info = tomli_w.dumps({"name": self.name, "public_key": self.public_key_text})
        # O_EXCL: a concurrent `node init` cannot slip a second key in between check and write
        _write_new(key_path, pem, 0o600)
        _write_new(info_path, info.encode("utf-8"), 0o644)

    @classmethod
    def load(cls, path: Path) -> Identity:
        """The identity saved in directory ``path``; checks that its two files agree and that
        the key file is not readable by other users (as ssh does)."""
        directory = Path(path)
        key_path, info_path = directory / KEY_FILE, directory / IDENTITY_FILE
        try:
            with info_path.open("rb") as fh:
                info = tomllib.load(fh)
            pem = key_path.read_bytes()
            mode = key_path.stat().st_mode
        except FileNotFoundError as exc:
            raise IdentityError(
                f"{exc.filename}: missing; create an identity with `keiretsu node init`"
            ) from exc
        except tomllib.TOMLDecodeError as exc:
            raise IdentityError(f"{info_path}: not valid TOML ({exc})") from exc
        if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise IdentityError(
                f"{key_path}: the private key is readable by other users (mode "
                f"{stat.S_IMODE(mode):o}); run `chmod 600 {key_path}`"
            )
        written = validate(IdentityFile, info, source=info_path, error=IdentityError)
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise IdentityError(f"{key_path}: not an unencrypted PEM private key ({exc})") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise IdentityError(f"{key_path}: expected an Ed25519 key, found {type(key).__name__}")
        identity = cls(name=written.name, private_key=key)
        try:
            stated = parse_public_key(written.public_key)
        except IdentityError as exc:
            raise IdentityError(f"{info_path}: key 'public_key': {exc}") from exc
        if _raw(stated) != _raw(identity.public_key):
            raise IdentityError(
                f"{info_path}: public_key does not belong to the private key in {key_path} "
                "(were the files copied from two different nodes?)"
            )
        return identity


class IdentityFile(ConfigModel):
    """``identity.toml``: the node's name and public key, as :meth:`Identity.save` writes
    them (the private key is in ``identity.key``)."""

    name: NodeName
    public_key: Annotated[str, Field(description="the node's public key, 'ed25519:' and base64url")]


@dataclass(frozen=True)
class PartnerKey:
    """A partner as this node knows it: its name, the URL it is reached at, its public key."""

    name: str
    url: str
    public_key: Ed25519PublicKey

    def __post_init__(self) -> None:
        check_node_name(self.name)
        if not self.url.startswith(("http://", "https://")):
            raise IdentityError(
                f"partner {self.name!r}: URL {self.url!r} must start with http:// or https://"
            )

    @property
    def public_key_text(self) -> str:
        return public_key_text(self.public_key)

    def fingerprint(self) -> str:
        """Short digest of the partner's key, to compare with what the partner reads out."""
        return fingerprint(self.public_key)


def _write_new(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, mode)  # the umask may have taken bits off; set exactly what was asked
