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
