"""The door to ``../shared/data`` (``tests/_data.py``): under CI a missing file or folder, or a
glob that matches nothing, fails; locally it skips. Proved on paths that do not exist, never by
touching ``../shared`` (read-only)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from _data import data, files, under_ci

TESTS = Path(__file__).resolve().parent


@pytest.fixture
def ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")


@pytest.fixture
def local(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("1", True), ("yes", True), ("", False), ("false", False), ("0", False)],
)
def test_ci_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: bool
) -> None:
    monkeypatch.setenv("CI", value)
    assert under_ci() is expected


@pytest.mark.usefixtures("ci")
def test_under_ci_a_missing_file_fails(tmp_path: Path) -> None:
    with pytest.raises(pytest.fail.Exception, match="no such file or folder"):
        data("epcis", "gone.json", root=tmp_path)


@pytest.mark.usefixtures("local")
def test_locally_a_missing_file_skips_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(pytest.skip.Exception, match=r"gone\.json: no such file or folder"):
        data("epcis", "gone.json", root=tmp_path)


@pytest.mark.usefixtures("ci")
def test_under_ci_a_missing_folder_or_an_empty_glob_fails(tmp_path: Path) -> None:
    with pytest.raises(pytest.fail.Exception, match="no such folder"):
        files(tmp_path / "missing", "*.json")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("not json")
    with pytest.raises(pytest.fail.Exception, match=r"nothing matches '\*\.json'"):
        files(tmp_path / "empty", "*.json")


@pytest.mark.usefixtures("local")
def test_locally_a_missing_folder_or_an_empty_glob_gives_nothing(tmp_path: Path) -> None:
    assert files(tmp_path / "missing", "*.json") == []
    assert files(tmp_path, "*.json") == []


def test_a_glob_gives_the_matching_files_sorted(tmp_path: Path) -> None:
    for name in ("b.json", "a.json", "c.xml", "sub/d.json"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("{}")
    assert files(tmp_path, "*.json") == [tmp_path / "a.json", tmp_path / "b.json"]
    assert files(tmp_path, "*.json", recursive=True) == [
        tmp_path / "a.json",
        tmp_path / "b.json",
        tmp_path / "sub" / "d.json",
    ]


def test_under_ci_a_suite_with_missing_data_fails_and_locally_it_skips(tmp_path: Path) -> None:
    """A real pytest run over a suite whose data is missing: a module reading a file at import,
    a test parametrised over a glob through the helper, and one parametrised over an empty
    list directly (a glob that bypassed the helper: the conftest guard catches it)."""
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "conftest.py").write_text(
        textwrap.dedent(
            f"""
            import sys
            sys.path.insert(0, {str(TESTS)!r})
            from _data import refuse_empty_parameters

            def pytest_generate_tests(metafunc):
                refuse_empty_parameters(metafunc)
            """
        )
    )
    missing = tmp_path / "no-data"
    (suite / "test_reads_at_import.py").write_text(
        textwrap.dedent(
            f"""
            from pathlib import Path
            from _data import data
            BYTES = data("example.json", root=Path({str(missing)!r})).read_bytes()

            def test_it():
                assert BYTES
            """
        )
    )
    (suite / "test_globs.py").write_text(
        textwrap.dedent(
            f"""
            from pathlib import Path
            import pytest
            from _data import files

            @pytest.mark.parametrize("path", files(Path({str(missing)!r}), "*.json"))
            def test_each_file(path):
                assert path.exists()
            """
        )
    )
    (suite / "test_bare_glob.py").write_text(
        textwrap.dedent(
            f"""
            from pathlib import Path
            import pytest

            @pytest.mark.parametrize("path", sorted(Path({str(missing)!r}).glob("*.json")))
            def test_each_file(path):
                assert path.exists()

            def test_without_data():
                assert True
            """
        )
    )

    def run(ci: bool) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k != "CI"}
        if ci:
            env["CI"] = "true"
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", str(suite)],
            cwd=suite,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    under_ci = run(ci=True)
    assert under_ci.returncode != 0, under_ci.stdout
    assert "3 errors" in under_ci.stdout, under_ci.stdout
    assert "example.json: no such file or folder" in under_ci.stdout
    assert "no-data: no such folder" in under_ci.stdout
    assert "parametrised over nothing" in under_ci.stdout

    locally = run(ci=False)
    assert locally.returncode == 0, locally.stdout
    assert "1 passed" in locally.stdout and "error" not in locally.stdout, locally.stdout
    assert "example.json: no such file or folder" in locally.stdout  # the reason is shown
