"""Lean analytics on a twin's log: process maps, where time goes, bottlenecks, inventory, the
eight wastes, bullwhip and the value stream map — Ibis expressions run on DuckDB or Spark."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keiretsu.analytics.log import Log, local_spark
    from keiretsu.analytics.view import View

__all__ = ["Log", "View", "local_spark"]


def __getattr__(name: str) -> Any:
    # imported on first use: Ibis takes most of a second to import, and a command or a node
    # that reads only the room's calendar or constants should not pay for it
    if name in ("Log", "local_spark"):
        from keiretsu.analytics import log

        return getattr(log, name)
    if name == "View":
        from keiretsu.analytics.view import View

        return View
    raise AttributeError(f"module 'keiretsu.analytics' has no attribute {name!r}")
