"""network.toml: what a user writes, what it means, and errors that say where it is wrong."""

from pathlib import Path

import pytest

from keiretsu.network.config import NetworkError, NetworkFile

EXAMPLE = Path(__file__).parents[2] / "src" / "keiretsu" / "examples" / "network" / "network.toml"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "network.toml"
    path.write_text(text)
    return path


def test_the_shipped_example_loads_with_two_way_links(tmp_path: Path) -> None:
    net = NetworkFile.load(EXAMPLE, dir=tmp_path)
    assert [n.name for n in net.nodes] == ["sakura-plant", "umeda-dc"]
    plant, dc = net.nodes
    assert plant.partners == ("umeda-dc",) and dc.partners == ("sakura-plant",)
    assert (plant.port, dc.port) == (net.base_port, net.base_port + 1)
    assert plant.store == tmp_path.resolve() / "sakura-plant" / "twin.duckdb"
    assert all(f.is_file() for n in net.nodes for f in n.ingest)
    assert plant.policy is not None and plant.policy.name == "sakura-plant.toml"
    assert net.state_path == tmp_path.resolve() / "network.state.json"


def test_a_link_named_on_one_side_only_joins_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEIRETSU_STATE_DIR", str(tmp_path / "state"))
    path = _write(
        tmp_path,
        """
        [network]
        name = "n"
        base_port = 9100
        [[node]]
        name = "a"
        partners = ["b"]
        [[node]]
        name = "b"
        port = 9200
        [[node]]
        name = "c"
        """,
    )
    net = NetworkFile.load(path)
    assert net.node("a").partners == ("b",)
    assert net.node("b").partners == ("a",)
    assert net.node("c").partners == ()
    assert [n.port for n in net.nodes] == [9100, 9200, 9102]
    assert net.node("a").policy is None  # no policy: nothing leaves a
    # without [network] dir the nodes live in the user's state folder, never beside the file
    assert net.dir == (tmp_path / "state").resolve() / "networks" / "n"
    assert net.url(net.node("b")) == "http://127.0.0.1:9200"


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("[[node]]\nname = 'a'\n", "missing the [network] table"),
        ("[network]\nname = 'n'\ncolour = 'red'\n[[node]]\nname = 'a'\n", "unknown key 'colour'"),
        ("[network]\nname = 'n'\n", "at least one [[node]]"),
        ("[network]\nname = 'a b'\n[[node]]\nname = 'a'\n", "key 'network.name'"),
        ("[network]\nname = 'n'\nbase_port = 70000\n[[node]]\nname = 'a'\n", "network.base_port"),
        (
            "[network]\nname = 'n'\n[[node]]\nname = 'a'\npartners = ['z']\n",
            "node 'a': key 'partners': no node 'z'",
        ),
        (
            "[network]\nname = 'n'\n[[node]]\nname = 'a'\npartners = ['a']\n",
            "not its own partner",
        ),
        (
            "[network]\nname = 'n'\n[[node]]\nname = 'a'\n[[node]]\nname = 'a'\n",
            "a second node called 'a'",
        ),
        (
            "[network]\nname = 'n'\n[[node]]\nname = 'a'\nport = 9000\n"
            "[[node]]\nname = 'b'\nport = 9000\n",
            "node[1] (b): key 'port': 9000 is already the port of 'a'",
        ),
        (
            "[network]\nname = 'n'\n[[node]]\nname = 'a'\npolicy = 'nowhere.toml'\n",
            "node[0] (a): key 'policy': no file",
        ),
        (
            "[network]\nname = 'n'\n[[node]]\nname = 'a'\ningest = ['missing.xml']\n",
            "key 'ingest[0]': no file",
        ),
        ("[network]\nname = 'n'\n[[node]]\nname = 'a'\ningest = 'x.xml'\n", "a list of strings"),
        ("[network\nname = 'n'\n", "not valid TOML"),
    ],
)
def test_errors_name_the_file_and_the_key(tmp_path: Path, text: str, where: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(NetworkError) as caught:
        NetworkFile.load(path)
    message = str(caught.value)
    assert str(path) in message
    assert where in message


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(NetworkError, match="no such network file"):
        NetworkFile.load(tmp_path / "absent.toml")
