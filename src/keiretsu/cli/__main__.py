"""``python -m keiretsu.cli``: the same as the ``keiretsu`` command."""

from keiretsu.cli import main

main()
