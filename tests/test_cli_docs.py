"""The CLI reference in docs/ is generated from the CLI and must match it."""

from pathlib import Path

from keiretsu._cli_docs import cli_reference

DOCS = Path(__file__).parents[1] / "docs" / "cli.md"


def test_cli_reference_is_current() -> None:
    assert DOCS.read_text() == cli_reference(), (
        "docs/cli.md is out of date: run `python -m keiretsu._cli_docs > docs/cli.md`"
    )
