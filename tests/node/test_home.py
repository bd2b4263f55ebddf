"""A node's home files written or edited by hand: ``node.toml``, ``partners.toml``,
``tokens.toml`` and ``identity.toml`` are read through their models, and a file that does not
fit is refused naming the file, the entry, the key, what was expected and what was found."""

from __future__ import annotations

from pathlib import Path

import pytest

from keiretsu.node.auth import TokenStore
from keiretsu.node.home import NodeError, NodeHome
from keiretsu.node.identity import Identity, IdentityError


@pytest.fixture
def home(tmp_path: Path) -> NodeHome:
    return NodeHome.init(tmp_path / "twin.duckdb", "plant", url="http://127.0.0.1:8701/")


def test_the_files_init_writes_read_back(home: NodeHome, tmp_path: Path) -> None:
    config = home.config()
    assert (config.name, config.url) == ("plant", "http://127.0.0.1:8701")
    assert config.store == (tmp_path / "twin.duckdb").resolve()
    dc = Identity.create("dc")
    home.add_partner("dc", "https://dc.example:8702/", dc.public_key_text)
    partner = home.partners()["dc"]
    assert (partner.url, partner.public_key_text) == ("https://dc.example:8702", dc.public_key_text)
    assert home.identity().name == "plant"


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('name = "plant"\nurl = "http://a:1"\n', "missing key 'store'"),
        (
            'name = "plant"\nurl = "ftp://a"\nstore = "s"\n',
            "key 'url': expected an http(s) URL, e.g. http://127.0.0.1:8701, got 'ftp://a'",
        ),
        (
            'name = "Plant"\nurl = "http://a:1"\nstore = "s"\n',
            "key 'name': 'Plant' is not a valid node name",
        ),
        (
            'name = "plant"\nurl = "http://a:1"\nstore = "s"\nprot = 8701\n',
            "unknown key 'prot' (expected one of calendar, name, parquet_export,"
            " parquet_export_seconds, store, url)",
        ),
        ('name = "plant"\nurl = 8701\nstore = "s"\n', "key 'url': expected an http(s) URL"),
        ('name = "plant\n', "not valid TOML"),
    ],
)
def test_a_wrong_node_toml_is_named_with_its_key(home: NodeHome, text: str, said: str) -> None:
    home.config_path.write_text(text)
    with pytest.raises(NodeError) as caught:
        home.config()
    assert str(home.config_path) in str(caught.value)
    assert said in str(caught.value)


def test_a_wrong_partner_entry_is_named_by_its_place_and_name(home: NodeHome) -> None:
    key = Identity.create("dc").public_key_text
    home.partners_path.write_text(
        f'[[partner]]\nname = "dc"\nurl = "http://a:1"\npublic_key = "{key}"\n'
        '[[partner]]\nname = "wh"\nurl = "http://b:1"\npublic_key = "ed25519:abc"\n'
        '[[partner]]\nname = "Beta Corp"\nurl = "http://c:1"\n'
    )
    with pytest.raises(NodeError) as caught:
        home.partners()
    lines = str(caught.value).splitlines()
    assert all(line.startswith(f"{home.partners_path}: partner[") for line in lines)
    assert (
        "partner[1] (wh): key 'public_key': 'ed25519:abc': an Ed25519 public key is 32"
        in (lines[0])
    )
    assert any("partner[2] (Beta Corp): key 'name': 'Beta Corp' is not a valid" in x for x in lines)
    assert any("partner[2] (Beta Corp): missing key 'public_key'" in x for x in lines)


def test_a_hand_edited_token_file_is_refused_saying_which_token(home: NodeHome) -> None:
    tokens = TokenStore(home.tokens_path)
    secret = tokens.create("alice")
    assert tokens.check(secret) == "alice"
    text = home.tokens_path.read_text()
    home.tokens_path.write_text(text + '\n[[token]]\nlabel = "bob"\nsha256 = "xyz"\n')
    with pytest.raises(ValueError) as caught:
        TokenStore(home.tokens_path).check(secret)
    message = str(caught.value)
    assert f"{home.tokens_path}: token[1] (bob): key 'sha256': expected the token's SHA-256" in (
        message
    )
    assert "token[1] (bob): missing key 'created'" in message


def test_an_identity_file_with_a_wrong_name_says_which_key(tmp_path: Path) -> None:
    Identity.create("acme").save(tmp_path)
    info = tmp_path / "identity.toml"
    info.write_text(info.read_text().replace('name = "acme"', 'name = "ACME Corp"'))
    with pytest.raises(IdentityError, match=r"identity.toml: key 'name': 'ACME Corp' is not a"):
        Identity.load(tmp_path)
    info.write_text('public_key = "ed25519:x"\n')
    with pytest.raises(IdentityError, match="missing key 'name'"):
        Identity.load(tmp_path)
