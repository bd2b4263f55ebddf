"""Every example of the README and docs/ runs as written, the way a reader would run it.

Each Markdown file is one test (so ``pytest -n 2`` spreads the files over the workers). Its
fenced ``sh``/``bash``/``console`` and ``python`` blocks are found by Sybil's Markdown parsers
and run in order, in a fresh empty directory, with the installed ``keiretsu`` (the ``keiretsu``
command and ``python`` of this environment first on ``PATH``); nothing is read from the source
tree. Python blocks share one namespace per file (as in a notebook); shell blocks run in bash
with ``set -e``, and a variable a block assigns is known to the blocks after it.

In the Markdown:

- ``<!-- not run: REASON -->`` right before a block: the block is not run (a production URL, a
  Spark cluster, a bench of many minutes); the reason is required.
- ``<!-- invisible-code-block: python`` … ``-->`` (Sybil's own): set-up the reader does not see
  but the example needs, e.g. files that stand for "your own" data.
- A shell command ending in ``&`` (``keiretsu node serve … &``) is started in its own process
  group; the block goes on once it listens on a port, and it is stopped (SIGTERM, then SIGKILL)
  when the block ends — after the block's check below, if it has one.

Some blocks have a check of their effect (``CHECKS``): after the README's two-company block,
the distributor's store holds the events the plant's policy shares, and nothing else of the
plant.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest
from sybil import Document, Region
from sybil.parsers.markdown import CodeBlockParser
from sybil.parsers.markdown.lexers import DirectiveInHTMLCommentLexer

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
SHELLS = ("sh", "bash", "console")
BIN = Path(sys.executable).parent
BLOCK_TIMEOUT = 300.0  # seconds a foreground part of a block may take
READY_TIMEOUT = 60.0  # seconds a background command has to start listening
CACHE = Path(tempfile.gettempdir()) / "keiretsu-docs-cache"


# -- the Markdown ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NotRun:
    """``<!-- not run: REASON -->``: the next code block is not run, for REASON."""

    reason: str


def _not_run_parser(document: Document) -> Iterator[Region]:
    lexer = DirectiveInHTMLCommentLexer(directive="not run", arguments=".*?")
    for region in lexer(document):
        reason = region.lexemes["arguments"].strip()
        if not reason:
            line = document.text.count("\n", 0, region.start) + 1
            raise ValueError(f"{document.path}, line {line}: 'not run' needs a reason")
        region.parsed = NotRun(reason)
        region.evaluator = lambda example: None
        yield region


@dataclass
class Block:
    language: str
    source: str
    line: int
    not_run: str | None = None


def blocks(path: Path) -> list[Block]:
    """The code blocks of a Markdown file that a reader would run, in order, with their
    ``not run`` reasons (Sybil finds the blocks and the directives)."""
    parsers = [CodeBlockParser(language=lang) for lang in (*SHELLS, "python")]
    document = Document.parse(str(path), *parsers, _not_run_parser)
    found: list[Block] = []
    pending: str | None = None
    for example in document.examples():
        if isinstance(example.parsed, NotRun):
            pending = example.parsed.reason
            continue
        language = example.region.lexemes["arguments"].split()[0]
        found.append(Block(language, str(example.parsed), example.line, pending))
        pending = None
    if pending is not None:
        raise ValueError(f"{path}: a 'not run' directive with no block after it")
    return found


# -- running the blocks ----------------------------------------------------------------------------


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEIRETSU_")}
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        HOME=str(home),
        XDG_STATE_HOME=str(home / ".local" / "state"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_CONFIG_HOME=str(home / ".config"),
        # a cache shared by the docs' tests, as a reader's ~/.cache is across commands (the
        # views' compiled SQL: keiretsu.analytics.sqlcache)
        XDG_CACHE_HOME=str(CACHE),
        COLUMNS="100",
        NO_COLOR="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def _join_continuations(source: str) -> list[str]:
    return source.replace("\\\n", " ").splitlines()


_BACKGROUND = re.compile(r"(?<![&>|])&(?![&>])")
_ASSIGNED = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=")


def _is_background(line: str) -> bool:
    code = line.split(" #", 1)[0]
    return bool(_BACKGROUND.search(code))


@dataclass
class Background:
    command: str
    process: subprocess.Popen[bytes]
    log: Path


@dataclass
class Reader:
    """A reader at a terminal in an empty directory, and a Python session beside it."""

    doc: Path
    cwd: Path
    env: dict[str, str]
    namespace: dict[str, object] = field(default_factory=dict)
    background: list[Background] = field(default_factory=list)

    @property
    def state(self) -> Path:
        return self.cwd.parent / "shell-state.sh"

    def where(self, block: Block) -> str:
        return f"{self.doc.relative_to(ROOT)}, block at line {block.line}"

    # shell
    def shell(self, block: Block) -> None:
        foreground: list[str] = []
        for line in _join_continuations(block.source):
            if _is_background(line):
                self._run(block, foreground)
                foreground = []
                self._start(block, line)
            else:
                foreground.append(line)
        self._run(block, foreground)

    def _prelude(self) -> str:
        return f'[ -f "{self.state}" ] && . "{self.state}"\n'

    def _run(self, block: Block, lines: list[str]) -> None:
        script = "\n".join(lines)
        if not script.strip():
            return
        names = sorted({m.group(1) for line in lines if (m := _ASSIGNED.match(line))})
        keep = (
            f'\n{{ declare -p {" ".join(names)}; }} >> "{self.state}" 2>/dev/null || true'
            * bool(names)
        )
        done = subprocess.run(
            ["bash", "-e", "-c", self._prelude() + script + keep],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=BLOCK_TIMEOUT,
            check=False,
        )
        if done.returncode != 0:
            raise AssertionError(
                f"{self.where(block)}: exit {done.returncode}\n$ {script}\n"
                f"--- stdout\n{done.stdout[-4000:]}\n--- stderr\n{done.stderr[-4000:]}"
            )

    def _start(self, block: Block, line: str) -> None:
        code = line.split(" #", 1)[0]
        for command in _BACKGROUND.split(code):
            if not command.strip():
                continue
            log = self.cwd.parent / f"background-{len(self.background)}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    ["bash", "-c", self._prelude() + "exec " + command.strip()],
                    cwd=self.cwd,
                    env=self.env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            self.background.append(Background(command.strip(), process, log))
            self._wait_listening(block, self.background[-1])

    def _wait_listening(self, block: Block, job: Background) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if job.process.poll() is not None:
                raise AssertionError(
                    f"{self.where(block)}: `{job.command} &` ended (exit {job.process.returncode})"
                    f"\n{job.log.read_text(errors='replace')[-4000:]}"
                )
            with contextlib.suppress(psutil.Error):
                parent = psutil.Process(job.process.pid)
                for proc in [parent, *parent.children(recursive=True)]:
                    if any(c.status == psutil.CONN_LISTEN for c in proc.net_connections("inet")):
                        return
            time.sleep(0.2)
        raise AssertionError(f"{self.where(block)}: `{job.command} &` never listened")

    def stop_background(self) -> None:
        for job in self.background:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(job.process.pid, signal.SIGTERM)
        for job in self.background:
            try:
                job.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(job.process.pid, signal.SIGKILL)
                job.process.wait(timeout=15)
        self.background.clear()

    # python
    def python(self, block: Block) -> None:
        code = compile(block.source, f"{self.where(block)}", "exec")
        exec(code, self.namespace)


# -- checks of what a block did --------------------------------------------------------------------


def _token(store: str, cwd: Path, env: dict[str, str]) -> str:
    made = subprocess.run(
        ["keiretsu", "node", "token", "create", "docs-test", "--store", store],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return made.stdout.strip()


def _two_companies(reader: Reader) -> None:
    """The distributor holds what the plant's policy shares of the captured despatch: its
    packing and shipping events, and none of the plant's commissioning or inspecting."""
    import httpx

    from keiretsu.cli import example_files

    despatch = next(p for p in example_files() if "sakura" in p.name)
    events = json.loads(despatch.read_text(encoding="utf-8"))["epcisBody"]["eventList"]
    steps = [str(e.get("bizStep", "")).rsplit(":", 1)[-1].rsplit("-", 1)[-1] for e in events]
    shared = sum(s in ("packing", "shipping") for s in steps)
    assert shared > 0 and len(steps) > shared  # the document has both kinds

    token = _token("plant/twin.duckdb", reader.cwd, reader.env)
    deadline = time.monotonic() + 60
    status: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        answer = httpx.get(
            "http://127.0.0.1:8701/twin/partners",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        status = answer.json()
        done = [
            p
            for p in status
            if p["name"] == "umeda-dc" and p["documents_owed"] == 0 and p["events_sent"]
        ]
        if done:
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"the plant never delivered to umeda-dc: {status}")
    reader.stop_background()

    from keiretsu.store import Store

    with Store(reader.cwd / "dc" / "twin.duckdb") as store:
        got = sorted(str(r[0]) for r in store.con.execute("SELECT ocel_type FROM event").fetchall())
    events_got = [t for t in got if t != "daily demand"]  # the policy's daily totals aside
    assert len(events_got) == shared, got
    assert all(("packing" in t or "shipping" in t) for t in events_got), got
    assert "daily demand" in got  # the aggregate rule's totals came too


CHECKS: dict[tuple[str, str], Callable[[Reader], None]] = {
    # (document, a line of the block) → its check
    ("README.md", "keiretsu node serve --store plant/twin.duckdb &"): _two_companies,
}


def _check_for(doc: Path, block: Block) -> Callable[[Reader], None] | None:
    name = str(doc.relative_to(ROOT))
    for (where, line), check in CHECKS.items():
        if where == name and line in block.source:
            return check
    return None


# -- the tests -------------------------------------------------------------------------------------


def test_every_check_finds_its_block() -> None:
    for where, line in CHECKS:
        assert any(line in b.source for b in blocks(ROOT / where)), (where, line)


def test_not_run_needs_a_reason(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text("<!-- not run: -->\n```sh\nfalse\n```\n", encoding="utf-8")
    with pytest.raises(ValueError, match="needs a reason"):
        blocks(doc)
    doc.write_text("<!-- not run: a Spark cluster -->\n```sh\nfalse\n```\n", encoding="utf-8")
    assert [b.not_run for b in blocks(doc)] == ["a Spark cluster"]


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(ROOT)) for d in DOCS])
def test_examples_run(doc: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    found = [b for b in blocks(doc) if b.not_run is None]
    if not found:
        return
    cwd, home = tmp_path / "reader", tmp_path / "home"
    cwd.mkdir()
    home.mkdir()
    env = _env(home)
    for key in [k for k in os.environ if k.startswith("KEIRETSU_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(CACHE))
    monkeypatch.chdir(cwd)
    reader = Reader(doc, cwd, env, namespace={"__name__": "__docs__"})
    ports = _PORTS if any(_serves(b.source) for b in found) else contextlib.nullcontext()
    with ports:
        _run_all(doc, found, reader)


def _serves(source: str) -> bool:
    """Whether a block starts servers on the docs' fixed ports (8700-8702, a network's 8710…)."""
    return any(_is_background(line) for line in source.splitlines()) or "network up" in source


class _PortLock:
    """One docs file at a time starts servers: the examples use fixed ports."""

    def __enter__(self) -> None:
        import fcntl

        self._file = open(Path(tempfile.gettempdir()) / "keiretsu-docs-ports.lock", "w")
        fcntl.flock(self._file, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        self._file.close()


_PORTS = _PortLock()


def _run_all(doc: Path, found: list[Block], reader: Reader) -> None:
    try:
        for block in found:
            started = time.perf_counter()
            if block.language == "python":
                reader.python(block)
            else:
                reader.shell(block)
            check = _check_for(doc, block)
            if check is not None:
                check(reader)
            reader.stop_background()
            print(f"{reader.where(block)}: {time.perf_counter() - started:.1f} s")
    finally:
        reader.stop_background()
