"""Optimizing a value network as a whole.

- :func:`optimize_serial` / :func:`optimal_echelon_base_stock` (:mod:`keiretsu.optimize.serial`)
  — the exact optimum of a serial chain (Clark–Scarf, by Chen and Zheng's algorithm): echelon
  base-stock levels and their expected cost per period.
"""

from keiretsu.optimize.serial import SerialOptimum, optimal_echelon_base_stock, optimize_serial

__all__ = ["SerialOptimum", "optimal_echelon_base_stock", "optimize_serial"]
