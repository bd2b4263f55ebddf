"""``keiretsu node key``, ``node token create``, ``node policy example|install|explain`` and
``node partner share-history`` as a user types them: the README's two-company example without
placeholders, and a policy that would share nothing in silence said out loud."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

import pytest
from typer.testing import CliRunner

from keiretsu.cli import app, example_files
from keiretsu.node.home import NodeHome
from keiretsu.node.identity import parse_public_key
from keiretsu.node.policy import Policy
from keiretsu.store import Store

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def _steps_of_plant_document() -> list[str]:
    """The bizSteps of the shipped plant document, read from its JSON (not through keiretsu)."""
    plant = next(p for p in example_files() if "sakura" in p.name)
    events = json.loads(plant.read_text(encoding="utf-8"))["epcisBody"]["eventList"]
    return [str(e["bizStep"]).rsplit(":", 1)[-1].rsplit("-", 1)[-1] for e in events]


@pytest.fixture
def plant(tmp_path: Path) -> tuple[Path, Path]:
    """Two nodes: the plant (partner umeda-dc) and the distributor; returns their stores."""
    p, d = tmp_path / "plant" / "twin.duckdb", tmp_path / "dc" / "twin.duckdb"
    assert run("node", "init", "--store", str(p), "--name", "sakura-plant")[0] == 0
    assert run("node", "init", "--store", str(d), "--name", "umeda-dc")[0] == 0
    code, key, _ = run("node", "key", "--store", str(d))
    assert code == 0
    code, _, err = run(
        "node", "partner", "add", "umeda-dc", "http://127.0.0.1:8702", key.strip(),
        "--store", str(p),
    )  # fmt: skip
    assert code == 0, err
    return p, d


def test_key_prints_the_public_key_alone(plant: tuple[Path, Path]) -> None:
    p, _ = plant
    code, out, _ = run("node", "key", "--store", str(p))
    assert code == 0
    shown = json.loads(run("node", "show", "--store", str(p), "--json")[1])
    assert out == shown["public_key"] + "\n"
    assert parse_public_key(out.strip()) == NodeHome.open(p).identity().public_key
    code, _, err = run("node", "key", "--store", str(p.parent / "none.duckdb"))
    assert code == 2 and "node init" in err


def test_token_create_prints_a_token_the_node_accepts(plant: tuple[Path, Path]) -> None:
    from keiretsu.node.auth import TokenStore

    p, _ = plant
    code, out, _ = run("node", "token", "create", "erp", "--store", str(p))
    assert code == 0 and out.count("\n") == 1
    assert TokenStore(NodeHome.open(p).tokens_path).check(out.strip()) == "erp"


def test_policy_example_for_a_named_partner(plant: tuple[Path, Path]) -> None:
    p, _ = plant
    code, out, err = run("node", "policy", "example", "--partner", "umeda-dc", "--store", str(p))
    assert code == 0, err
    home = NodeHome.open(p)
    assert str(home.policy_path) in out
    installed = Policy.load(home.policy_path)
    assert installed.partners() == {"umeda-dc"}
    assert "warning" not in err  # umeda-dc is a partner; nothing recorded yet
    # the shipped example's rules, only the subject changed
    shipped = (resources.files("keiretsu") / "examples" / "policy.toml").read_text("utf-8")
    assert home.policy_path.read_text("utf-8") == shipped.replace(
        '"umeda-distribution"', '"umeda-dc"'
    )
    # not overwritten without --force; --stdout prints and writes nothing
    code, _, err = run("node", "policy", "example", "--partner", "x", "--store", str(p))
    assert code == 2 and "--force" in err and str(home.policy_path) in err
    code, out, _ = run("node", "policy", "example", "-p", "other", "--stdout")
    assert code == 0 and 'subjects = ["other"]' in out
    assert Policy.load(home.policy_path).partners() == {"umeda-dc"}


def test_a_subject_that_is_not_a_partner_is_said(plant: tuple[Path, Path], tmp_path: Path) -> None:
    p, _ = plant
    shipped = Path(str(resources.files("keiretsu") / "examples" / "policy.toml"))
    code, out, err = run("node", "policy", "install", str(shipped), "--store", str(p))
    assert code == 0  # a valid policy: installed, with a warning per rule naming the stranger
    assert err.count("warning") == 2
    assert "'umeda-distribution', which is not a partner" in err
    assert "Did you mean 'umeda-dc'?" in err
    code, out, _ = run("node", "policy", "explain", "--store", str(p), "--json")
    assert code == 0
    rows = {r["name"]: r for r in json.loads(out)["partners"]}
    assert rows["umeda-distribution"]["is_partner"] is False
    assert "not a partner" in rows["umeda-distribution"]["note"]
    assert rows["umeda-dc"]["is_partner"] is True
    assert rows["umeda-dc"]["permits"] == []  # nothing leaves for the real partner
    assert rows["umeda-dc"]["denies"] == ["quality-stays-home"]
    code, out, _ = run("node", "policy", "explain", "--store", str(p))
    assert "not a partner" in out and "Did you mean 'umeda-dc'?" in out


def test_a_newly_permitted_partner_is_told_how_to_get_the_history(
    plant: tuple[Path, Path],
) -> None:
    p, _ = plant
    plant_doc = next(f for f in example_files() if "sakura" in f.name)
    assert run("ingest", str(plant_doc), "--store", str(p), "--quiet")[0] == 0
    shipped = Path(str(resources.files("keiretsu") / "examples" / "policy.toml"))
    code, _, err = run("node", "policy", "install", str(shipped), "--store", str(p))
    assert code == 0 and "share-history" not in err  # umeda-dc still gets nothing
    with Store(p) as s:  # as if the node had served: the document went, empty
        s.outbox_add("umeda-dc")
        s.outbox_done("umeda-dc", [1], events_sent=0)
    code, _, err = run("node", "policy", "example", "-p", "umeda-dc", "--force", "--store", str(p))
    assert code == 0
    assert "'umeda-dc' may now receive" in err and "1 document(s)" in err
    assert f"keiretsu node partner share-history umeda-dc --store {p}" in err
    # explain counts what leaves: the packing and shipping events, read from the JSON
    steps = _steps_of_plant_document()
    code, out, _ = run("node", "policy", "explain", "-p", "umeda-dc", "--store", str(p), "--json")
    (row,) = json.loads(out)["partners"]
    assert row["events"]["leave"] == sum(s in ("packing", "shipping") for s in steps)
    assert sum(row["events"].values()) == len(steps)
    # and share-history owes the document again
    code, out, _ = run("node", "partner", "share-history", "umeda-dc", "--store", str(p))
    assert code == 0 and "1 document(s) owed to umeda-dc" in out
    with Store(p) as s:
        status = {r["partner"]: r for r in s.outbox_status().to_pylist()}
    assert status["umeda-dc"]["documents_owed"] == 1
    code, _, err = run("node", "partner", "share-history", "nobody", "--store", str(p))
    assert code == 2 and "'nobody' is not a partner" in err and "umeda-dc" in err
    # installing the same policy again: nothing newly permitted, no warning
    code, _, err = run("node", "policy", "install", str(NodeHome.open(p).policy_path), "-s", str(p))
    assert code == 0 and "warning" not in err


def test_a_faulty_policy_is_refused_and_the_old_one_kept(
    plant: tuple[Path, Path], tmp_path: Path
) -> None:
    p, _ = plant
    assert run("node", "policy", "example", "-p", "umeda-dc", "--store", str(p))[0] == 0
    before = NodeHome.open(p).policy_path.read_text("utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text('[[rule]]\neffect = "permit"\nsubjects = ["umeda-dc"]\ncolour = 1\n', "utf-8")
    code, _, err = run("node", "policy", "install", str(bad), "--store", str(p))
    assert code == 2 and "colour" in err and "unchanged" in err
    assert NodeHome.open(p).policy_path.read_text("utf-8") == before
    assert not list(NodeHome.open(p).root.glob("*.new"))
    code, _, err = run("node", "policy", "install", str(tmp_path / "none.toml"), "-s", str(p))
    assert code == 2 and "none.toml" in err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_warns_of_a_subject_that_is_not_a_partner(plant: tuple[Path, Path]) -> None:
    p, _ = plant
    shipped = Path(str(resources.files("keiretsu") / "examples" / "policy.toml"))
    assert run("node", "policy", "install", str(shipped), "--store", str(p))[0] == 0
    command = [sys.executable, "-m", "keiretsu.cli", "node", "serve", "--store", str(p)]
    server = subprocess.Popen(
        [*command, "--port", str(_free_port())],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and server.stderr is not None:
            line = server.stderr.readline()
            lines.append(line)
            if "serving" in line or not line:
                break
        text = "".join(lines)
        assert "'umeda-distribution', which is not a partner" in text, text
        assert "serving" in text, text
    finally:
        server.terminate()
        server.wait(timeout=30)
