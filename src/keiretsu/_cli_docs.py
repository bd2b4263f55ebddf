"""Generate the CLI reference (docs/cli.md) from the CLI itself, so it cannot drift."""

from __future__ import annotations

from typing import Any

import typer

from keiretsu.cli import app


def cli_reference() -> str:
    """The Markdown reference of every ``keiretsu`` command, its arguments and options."""
    group: Any = typer.main.get_command(app)  # typer's own (vendored) click group
    lines = [
        "# The `keiretsu` command",
        "",
        "Generated from the CLI itself by `python -m keiretsu._cli_docs > docs/cli.md`;",
        "a test fails when it is out of date.",
        "",
    ]
    _commands(group, "keiretsu", lines)
    return "\n".join(lines).rstrip() + "\n"


def _commands(group: Any, prefix: str, lines: list[str]) -> None:
    """Document every command of ``group``, descending into sub-groups (``keiretsu node …``)."""
    for name in sorted(group.commands):
        cmd = group.commands[name]
        if cmd.hidden:
            continue
        full = f"{prefix} {name}"
        if hasattr(cmd, "commands"):  # a group: its own options, then its commands
            lines += [f"## `{full} …`", "", (cmd.help or "").strip(), ""]
            if any(p.param_type_name == "option" and p.name != "help" for p in cmd.params):
                # a group that also runs on its own (`keiretsu export --to FILE`)
                lines += ["```", f"{full} [OPTIONS]", "```", ""]
                _params(cmd, lines)
            _commands(cmd, full, lines)
            continue
        lines += [f"## `{full}`", ""]
        lines += [(cmd.help or "").strip(), ""]
        usage = " ".join(
            ["[OPTIONS]"]
            + [
                p.name.upper() + ("..." if p.nargs == -1 else "")
                for p in cmd.params
                if p.param_type_name == "argument"
            ]
        )
        lines += ["```", f"{full} {usage}", "```", ""]
        _params(cmd, lines)


def _params(cmd: Any, lines: list[str]) -> None:
    """The table of a command's arguments and options."""
    rows = []
    for param in cmd.params:
        if param.param_type_name == "argument":
            rows.append((f"`{param.name.upper()}`", "argument", param.help or ""))
            continue
        if param.param_type_name != "option" or param.name == "help":
            continue
        names = ", ".join(f"`{o}`" for o in [*param.opts, *param.secondary_opts])
        default = ""
        if param.default not in (None, False) and not param.is_flag:
            default = f" (default: `{param.default}`)"
        env = f" Environment: `{param.envvar}`." if param.envvar else ""
        rows.append((names, "option", f"{param.help or ''}{default}{env}"))
    if rows:
        lines += ["| name | kind | meaning |", "|---|---|---|"]
        lines += [f"| {n} | {k} | {h} |" for n, k, h in rows]
        lines.append("")


if __name__ == "__main__":
    print(cli_reference(), end="")
