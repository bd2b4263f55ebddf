"""The network simulator: a model of the value network, run forward.

- :mod:`keiretsu.sim.model` — the network model (companies, steps, buffers, links, demand,
  costs, what each company sees) and its TOML file;
- :func:`simulate` (:mod:`keiretsu.sim.policy_level`) — the policy-level simulation: periodic
  review across echelons, thousands of replications at once, with common random numbers;
  its KPIs per buffer and for the network, with confidence intervals.
"""

from keiretsu.sim.model import ModelError, Network

__all__ = ["ModelError", "Network"]
