"""A node's identity: made, kept on disk, read back, and the public key text partners exchange."""

from __future__ import annotations

import base64
import hashlib
import re
import stat
import tomllib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from keiretsu.node.identity import (
    IDENTITY_FILE,
    KEY_FILE,
    Identity,
    IdentityError,
    PartnerKey,
    check_node_name,
    fingerprint,
    parse_public_key,
)


def raw(key: object) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)  # type: ignore[attr-defined]


def test_saved_identity_loads_back_with_the_same_key(tmp_path: Path) -> None:
    identity = Identity.create("acme-plant-1")
    identity.save(tmp_path)
    loaded = Identity.load(tmp_path)
    assert loaded.name == "acme-plant-1"
    assert loaded.public_key_text == identity.public_key_text
    assert loaded.fingerprint() == identity.fingerprint()
    # the loaded key signs what the original key's public half verifies
    identity.public_key.verify(loaded.private_key.sign(b"ASN"), b"ASN")


def test_private_key_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    Identity.create("acme").save(tmp_path)
    assert stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode) == 0o600


def test_identity_toml_holds_name_and_public_key_but_not_the_private_key(tmp_path: Path) -> None:
    identity = Identity.create("acme")
    identity.save(tmp_path)
    info = tomllib.loads((tmp_path / IDENTITY_FILE).read_text())
    assert info == {"name": "acme", "public_key": identity.public_key_text}
    private_raw = identity.private_key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    text = (tmp_path / IDENTITY_FILE).read_text()
    for spelling in (base64.b64encode(private_raw), base64.urlsafe_b64encode(private_raw)):
        assert spelling.rstrip(b"=").decode() not in text
    assert "PRIVATE KEY" in (tmp_path / KEY_FILE).read_text()


def test_saving_over_an_existing_identity_is_refused_and_keeps_the_old_one(tmp_path: Path) -> None:
    first = Identity.create("acme")
    first.save(tmp_path)
    with pytest.raises(IdentityError, match="already exists"):
        Identity.create("acme").save(tmp_path)
    assert Identity.load(tmp_path).public_key_text == first.public_key_text


def test_a_lone_leftover_file_also_blocks_saving(tmp_path: Path) -> None:
    (tmp_path / IDENTITY_FILE).write_text('name = "old"\n')
    with pytest.raises(IdentityError, match="already exists"):
        Identity.create("acme").save(tmp_path)
    assert not (tmp_path / KEY_FILE).exists()


def test_save_creates_the_directory(tmp_path: Path) -> None:
    Identity.create("acme").save(tmp_path / "twin.node")
    assert Identity.load(tmp_path / "twin.node").name == "acme"


def test_loading_a_key_others_can_read_is_refused(tmp_path: Path) -> None:
    Identity.create("acme").save(tmp_path)
    (tmp_path / KEY_FILE).chmod(0o644)
    with pytest.raises(IdentityError, match="chmod 600"):
        Identity.load(tmp_path)


def test_loading_files_from_two_different_nodes_is_refused(tmp_path: Path) -> None:
    Identity.create("acme").save(tmp_path / "a")
    Identity.create("acme").save(tmp_path / "b")
    (tmp_path / "a" / IDENTITY_FILE).write_bytes((tmp_path / "b" / IDENTITY_FILE).read_bytes())
    with pytest.raises(IdentityError, match="does not belong"):
        Identity.load(tmp_path / "a")


def test_loading_where_there_is_no_identity_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(IdentityError, match="keiretsu node init"):
        Identity.load(tmp_path)


def test_loading_a_key_file_that_is_not_a_key_is_refused(tmp_path: Path) -> None:
    Identity.create("acme").save(tmp_path)
    (tmp_path / KEY_FILE).write_text("-----BEGIN PRIVATE KEY-----\nnonsense\n")
    with pytest.raises(IdentityError, match=KEY_FILE):
        Identity.load(tmp_path)


@pytest.mark.parametrize("name", ["a", "acme-plant-1", "supplier.kyoto", "dc_07", "9", "a" * 63])
def test_valid_node_names(name: str) -> None:
    assert check_node_name(name) == name
    assert Identity.create(name).name == name


@pytest.mark.parametrize(
    "name",
    ["", "Acme", "-acme", ".acme", "a" * 64, "acme plant", "acme/1", "acme\n", "usine-é", "a:b"],
)
def test_bad_node_names_are_refused_saying_what_is_expected(name: str) -> None:
    with pytest.raises(IdentityError, match=r"not a valid node name.*a-z, 0-9"):
        Identity.create(name)


def test_public_key_text_is_prefix_and_unpadded_base64url_of_the_raw_key() -> None:
    # a key made outside keiretsu, written as the docs describe, is read as that key
    private = Ed25519PrivateKey.generate()
    raw_key = raw(private.public_key())
    text = "ed25519:" + base64.urlsafe_b64encode(raw_key).decode().rstrip("=")
    assert raw(parse_public_key(text)) == raw_key
    assert Identity("acme", private).public_key_text == text


def test_key_text_survives_copying_with_spaces_and_newlines() -> None:
    identity = Identity.create("acme")
    key = parse_public_key(f"  {identity.public_key_text}\n")
    assert raw(key) == raw(identity.public_key)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected 'ed25519:'"),
        ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG", "expected 'ed25519:'"),
        ("ed25519:", "32 bytes"),
        ("ed25519:abc!def", "base64url"),
        ("ed25519:KpVhUwBVfXa1QoV6o0Wzc asvZhdW8knrTbZ7-mmhr3g", "base64url"),
        ("ed25519:KpVhUwBVfXa1QoV6o0WzcasvZhdW8knrTbZ7-mmhr3", "32 bytes"),
        ("ed25519:KpVhUwBVfXa1QoV6o0WzcasvZhdW8knrTbZ7-mmhr3gA", "32 bytes"),
        ("ed25519:KpVhUwBVfXa1QoV6o0WzcasvZhdW8knrTbZ7-mmhr3h", "last character"),
    ],
)
def test_bad_key_texts_are_refused_saying_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(IdentityError, match=message):
        parse_public_key(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80) | st.text(max_size=60).map(lambda s: "ed25519:" + s))
def test_any_text_is_a_key_or_a_clear_refusal(text: str) -> None:
    try:
        parse_public_key(text)
    except IdentityError as exc:
        assert str(exc)


def test_fingerprint_is_short_groups_of_the_keys_sha256() -> None:
    identity = Identity.create("acme")
    printed = identity.fingerprint()
    assert re.fullmatch(r"[0-9a-f]{4}( [0-9a-f]{4}){3}", printed)
    assert printed.replace(" ", "") == hashlib.sha256(raw(identity.public_key)).hexdigest()[:16]
    assert fingerprint(parse_public_key(identity.public_key_text)) == printed
    assert Identity.create("acme").fingerprint() != printed


def test_partner_key_checks_name_and_url() -> None:
    key = Identity.create("beta").public_key
    partner = PartnerKey("beta", "https://beta.example:8700", key)
    assert partner.fingerprint() == fingerprint(key)
    with pytest.raises(IdentityError, match="http:// or https://"):
        PartnerKey("beta", "beta.example:8700", key)
    with pytest.raises(IdentityError, match="not a valid node name"):
        PartnerKey("Beta Corp", "https://beta.example", key)
