"""Lean analytics on a twin's log: process maps, where time goes, bottlenecks, inventory, the
eight wastes, bullwhip and the value stream map — Ibis expressions run on DuckDB or Spark."""

from keiretsu.analytics.log import Log, local_spark
from keiretsu.analytics.view import View

__all__ = ["Log", "View", "local_spark"]
