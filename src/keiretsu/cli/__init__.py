"""The ``keiretsu`` command (Typer + Rich): thin; it calls the rooms below and shows their
results.

- :mod:`keiretsu.cli.commands` — the top-level commands (ingest, info, log, export, analyze,
  the quick two-company demo) and the Typer ``app`` they hang on;
- :mod:`keiretsu.cli.demo` — ``keiretsu demo`` (the five-node demo network; ``--quick``);
- :mod:`keiretsu.cli.node` — ``keiretsu node …``;
- :mod:`keiretsu.cli.network` — ``keiretsu network …``;
- :mod:`keiretsu.cli.sim` — ``keiretsu simulate``, ``calibrate``, ``scenario compare``,
  ``optimize``;
- :mod:`keiretsu.cli.kaizen` — ``keiretsu kaizen …`` (the kaizen loop);
- :mod:`keiretsu.cli.export` — ``keiretsu export --to FILE`` and ``keiretsu export parquet DIR``.

Every command that reads a store takes ``--store PATH`` (default ``.keiretsu/twin.duckdb``, or
the ``KEIRETSU_STORE`` environment variable), and ``--json`` for machine-readable output.
"""

from __future__ import annotations

from keiretsu.cli.commands import app, example_files
from keiretsu.cli.demo import demo
from keiretsu.cli.export import export_app
from keiretsu.cli.kaizen import kaizen_app
from keiretsu.cli.network import network_app
from keiretsu.cli.node import node_app
from keiretsu.cli.sim import register as register_sim

app.command("demo")(demo)
app.add_typer(node_app, name="node")
app.add_typer(network_app, name="network")
app.add_typer(kaizen_app, name="kaizen")
app.add_typer(export_app, name="export")  # replaces the plain `export` command
register_sim(app)

__all__ = ["app", "example_files", "main"]


def main() -> None:
    """Entry point of the ``keiretsu`` console script."""
    app()
