"""The kaizen loop: experiments (PDCA) kept in the node's store, their A3, and the impact the
twin predicts for them.

- :mod:`keiretsu.kaizen.experiment` — an experiment's life: the problem (a waste and its
  evidence), hypothesis, countermeasure (a change to the twin's model), target metric and
  owner; status plan → simulated → running → checked → adopted | abandoned, every move kept;
- :mod:`keiretsu.kaizen.a3` — the A3 page of an experiment (a dictionary, and Markdown);
- :mod:`keiretsu.kaizen.predict` — the countermeasure run as a scenario on the twin's
  calibrated model (common random numbers): the predicted effect with its interval, kept.

The tables live in :mod:`keiretsu.store.kaizen`. See ``docs/kaizen.md``.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keiretsu.kaizen.a3 import a3, render_a3
    from keiretsu.kaizen.check import MEASURED_METRICS, check, measured
    from keiretsu.kaizen.curve import Adoption, adoptions, improvement_curve
    from keiretsu.kaizen.experiment import (
        FINAL,
        KINDS,
        MOVES,
        SECTIONS,
        STATUSES,
        Evidence,
        Experiment,
        KaizenError,
        Target,
        evidence_from,
        experiments,
        load,
        move,
        new_experiment,
        write,
    )
    from keiretsu.kaizen.predict import predict, twin_model
    from keiretsu.kaizen.suggest import experiment_from_suggestion, suggest

__all__ = [
    "FINAL",
    "KINDS",
    "MEASURED_METRICS",
    "MOVES",
    "SECTIONS",
    "STATUSES",
    "Adoption",
    "Evidence",
    "Experiment",
    "KaizenError",
    "Target",
    "a3",
    "adoptions",
    "check",
    "evidence_from",
    "experiment_from_suggestion",
    "experiments",
    "improvement_curve",
    "load",
    "measured",
    "move",
    "new_experiment",
    "predict",
    "render_a3",
    "suggest",
    "twin_model",
    "write",
]

_HOMES = {
    "a3": "a3",
    "render_a3": "a3",
    "MEASURED_METRICS": "check",
    "check": "check",
    "measured": "check",
    "Adoption": "curve",
    "adoptions": "curve",
    "improvement_curve": "curve",
    "predict": "predict",
    "twin_model": "predict",
    "experiment_from_suggestion": "suggest",
    "suggest": "suggest",
    "FINAL": "experiment",
    "KINDS": "experiment",
    "MOVES": "experiment",
    "SECTIONS": "experiment",
    "STATUSES": "experiment",
    "Evidence": "experiment",
    "Experiment": "experiment",
    "KaizenError": "experiment",
    "Target": "experiment",
    "evidence_from": "experiment",
    "experiments": "experiment",
    "load": "experiment",
    "move": "experiment",
    "new_experiment": "experiment",
    "write": "experiment",
}


def __getattr__(name: str) -> Any:
    # each name is imported from its module on first use: the simulation and statistics
    # behind check, predict and suggest take seconds to import, and listing or moving an
    # experiment needs none of them
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'keiretsu.kaizen' has no attribute {name!r}")
    return getattr(importlib.import_module(f"keiretsu.kaizen.{home}"), name)


class _Room(types.ModuleType):
    """The package, where ``a3``, ``check``, ``predict`` and ``suggest`` stay the functions
    even once their modules of the same name are imported (the import system would otherwise
    set the module over the name), as when this package imported them eagerly."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _HOMES and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Room
