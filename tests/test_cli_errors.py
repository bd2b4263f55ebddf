"""No traceback, ever, for a user's mistake: every ``keiretsu`` command, given wrong input
(an unknown option, a missing store or file, an unknown format, name or column), answers with
a one-paragraph error and a non-zero exit — run through Typer's CliRunner with
``catch_exceptions=False``, so an exception that escapes fails the test — and a refused
ingest leaves no store behind."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from keiretsu.cli import app, example_files

runner = CliRunner()


def _leaf_commands() -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []

    def walk(cmd: object, path: tuple[str, ...]) -> None:
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, (*path, name))
        else:
            out.append(path)

    walk(typer.main.get_command(app), ())
    return out


COMMANDS = _leaf_commands()

# Commands for which a store that does not exist is not a mistake (they make one), or that
# would start a long-running server: left out of the "missing store" sweep only.
MAKES_OR_SERVES = {
    ("ingest",),
    ("demo",),
    ("node", "init"),
    ("node", "serve"),
    ("node", "policy", "example"),
    ("kaizen", "new"),
    ("kaizen", "suggest"),
}


def _params(path: tuple[str, ...]) -> tuple[list[str], bool]:
    cmd: object = typer.main.get_command(app)
    for name in path:
        cmd = cmd.commands[name]  # type: ignore[attr-defined]
    params = cmd.params  # type: ignore[attr-defined]
    args = [p.name for p in params if p.__class__.__name__ == "TyperArgument" and p.required]
    return args, any(p.name == "store" for p in params)


def invoke(*args: str, cwd: Path | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def assert_told(code: int, out: str, err: str) -> None:
    assert code != 0, (out, err)
    assert "Traceback" not in out + err, out + err
    assert err.strip(), "an error says something on stderr"


@pytest.fixture(scope="module")
def good_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("good") / "twin.duckdb"
    code, _, err = invoke("ingest", *example_files(), "--store", store, "-q")
    assert code == 0, err
    return store


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_an_unknown_option_is_a_usage_error(path: tuple[str, ...]) -> None:
    code, out, err = invoke(*path, "--no-such-option")
    assert_told(code, out, err)
    assert code == 2
    assert "--no-such-option" in err


@pytest.mark.parametrize(
    "path", [p for p in COMMANDS if _params(p)[1] and p not in MAKES_OR_SERVES], ids=" ".join
)
def test_a_missing_store_is_named(path: tuple[str, ...], tmp_path: Path) -> None:
    args, _ = _params(path)
    missing = tmp_path / "no" / "such.duckdb"
    dummies = ["1" if "id" in a else "nope" for a in args]
    code, out, err = invoke(*path, *dummies, "--store", missing)
    assert_told(code, out, err)
    if path[0] != "kaizen":  # the kaizen commands open their store for writing (cli/kaizen.py)
        assert not missing.exists(), "reading a store never creates one"


@pytest.mark.parametrize(
    "path",
    [p for p in COMMANDS if p[0] in ("simulate", "optimize", "scenario", "network")],
    ids=" ".join,
)
def test_a_missing_model_or_network_file_is_named(path: tuple[str, ...], tmp_path: Path) -> None:
    args, _ = _params(path)
    missing = tmp_path / "missing.toml"
    values = [str(missing) if a in ("model", "file") else "nope" for a in args]
    if path[0] == "network":
        values.append(str(missing))
    code, out, err = invoke(*path, *values)
    assert_told(code, out, err)
    assert "missing.toml" in "".join(err.split())


def test_wrong_inputs_of_the_store_commands(good_store: Path, tmp_path: Path) -> None:
    csv = tmp_path / "picks.csv"
    csv.write_text("order_id,step,timestamp\nA,pick,2024-03-01T08:00:00Z\n")
    folder = tmp_path / "a-folder"
    folder.mkdir()
    rates = tmp_path / "missing-rates.toml"
    cases: list[list[object]] = [
        ["ingest", csv, "--store", good_store, "--map", "activity=step"],
        ["ingest", csv, "--store", good_store, "--map", "activity=step,time=timestamp,kind=x"],
        ["ingest", csv, "--store", good_store, "--map", "activity=nope,time=timestamp"],
        ["ingest", example_files()[0], "--store", good_store, "--format", "bogus"],
        ["ingest", folder, "--store", good_store],
        ["ingest", csv, "--store", good_store, "--wide"],
        ["log", "--store", good_store, "--columns", "bogus"],
        ["log", "--store", good_store, "--last", "0"],
        ["export", "--to", tmp_path / "out.bogus", "--store", good_store],
        ["analyze", "--store", good_store, "--object-type", "pallet"],
        ["analyze", "--store", good_store, "--orders", "no such step"],
        ["analyze", "--store", good_store, "--echelon-type", "truck"],
        ["analyze", "--store", good_store, "--value-adding", "no such step"],
        ["analyze", "--store", good_store, "--engine", "bogus"],
        ["analyze", "--store", good_store, "--rates", rates],
        ["analyze", tmp_path / "missing.jsonld"],
    ]
    for case in cases:
        code, out, err = invoke(*(str(c) for c in case))
        assert_told(code, out, err)
    before = good_store.stat().st_size
    assert good_store.stat().st_size == before


def test_an_unknown_name_lists_the_known_ones(good_store: Path) -> None:
    code, _out, err = invoke("analyze", "--store", good_store, "--object-type", "pallet")
    said = " ".join(err.split())
    assert code == 2
    assert "no object type 'pallet'" in said and "'logistic unit'" in said


def test_a_refused_ingest_creates_no_store(tmp_path: Path) -> None:
    store = tmp_path / "new" / "x.duckdb"
    code, out, err = invoke("ingest", tmp_path / "missing.jsonld", "--store", store)
    assert_told(code, out, err)
    assert code == 2
    assert not store.exists() and not store.parent.exists()
    # a document refused for its content: nothing accepted, so no store either
    bad = tmp_path / "bad.jsonld"
    bad.write_text('{"type": "EPCISDocument", "epcisBody": {"eventList": [{"type": 1}]}}')
    code, out, err = invoke("ingest", bad, "--store", store, "-q")
    assert_told(code, out, err)
    assert not store.exists() and not store.with_name("x.duckdb.wal").exists()


def test_a_refused_ingest_leaves_an_existing_store_intact(good_store: Path, tmp_path: Path) -> None:
    code, before, _ = invoke("info", "--store", good_store, "--json")
    code, out, err = invoke("ingest", tmp_path / "missing.jsonld", "--store", good_store)
    assert_told(code, out, err)
    _, after, _ = invoke("info", "--store", good_store, "--json")
    assert json.loads(after)["events"] == json.loads(before)["events"]


def test_a_csv_without_a_map_names_its_columns_and_suggests_one(tmp_path: Path) -> None:
    csv = tmp_path / "picks.csv"
    csv.write_text(
        "order_id,step,timestamp,qty\nA,pick,2024-03-01T08:00:00Z,3\nA,pack,2024-03-01T09:00:00Z,3\n"
    )
    store = tmp_path / "s.duckdb"
    code, _out, err = invoke("ingest", csv, "--store", store)
    said = " ".join(err.split())
    assert code == 2 and not store.exists()
    assert "order_id, step, timestamp, qty" in said
    suggested = said.split("--map '")[1].split("'")[0]
    assert suggested == "activity=step,time=timestamp,object:order=order_id"
    # the suggestion works as given
    code, _out, err = invoke("ingest", csv, "--store", store, "--map", suggested, "-q")
    assert code == 0, err
    assert f"storedin{store}" in "".join(err.split())


def test_log_json_gives_problems_as_objects(tmp_path: Path) -> None:
    store = tmp_path / "s.duckdb"
    invoke("ingest", *example_files(), "--store", store, "-q")
    bad = tmp_path / "bad.jsonld"
    bad.write_text('{"type": "EPCISDocument", "epcisBody": {"eventList": [{"type": 1}]}}')
    code, _, _ = invoke("ingest", bad, "--store", store, "-q")
    assert code == 1
    code, out, _ = invoke("log", "--store", store, "--json")
    rows = json.loads(out)
    refused = [r for r in rows if r["status"] == "refused"]
    assert refused and isinstance(refused[0]["problem"], dict)
    assert refused[0]["problem"]["title"]


def test_a_store_in_use_is_said_so(good_store: Path, tmp_path: Path) -> None:
    store = tmp_path / "busy.duckdb"
    code, _, err = invoke("ingest", example_files()[0], "--store", store, "-q")
    assert code == 0, err
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', "
            "flush=True); time.sleep(60)",
            str(store),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        for args in (["info"], ["ingest", example_files()[1]], ["analyze"], ["log"]):
            code, out, err = invoke(*args, "--store", store)
            assert_told(code, out, err)
            assert code == 2
            assert "in use" in " ".join(err.split()), err
    finally:
        holder.kill()
        holder.wait()


def test_debug_lets_the_exception_through(good_store: Path, tmp_path: Path) -> None:
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("")
    store = not_a_folder / "twin.duckdb"  # its folder is a file
    code, out, err = invoke("ingest", example_files()[0], "--store", store, "-q")
    assert_told(code, out, err)
    assert code == 2 and "a-file" in "".join(err.split())
    result = runner.invoke(
        app, ["--debug", "ingest", str(example_files()[0]), "--store", str(store)]
    )
    assert result.exit_code != 0
    assert isinstance(result.exception, OSError)  # the exception itself, for its traceback
