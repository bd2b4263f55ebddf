"""The network simulator: a model of the value network, run forward.

- :mod:`keiretsu.sim.model` — the network model (companies, steps, buffers, links, demand,
  costs, what each company sees) and its TOML file (:meth:`Network.load`);
- :func:`simulate` (:mod:`keiretsu.sim.policy_level`) — the policy-level simulation: periodic
  review across echelons, thousands of replications at once, with common random numbers;
- :class:`PolicyResult` and :class:`Estimate` (:mod:`keiretsu.sim.kpis`) — its KPIs per buffer
  and for the network, each a mean with its confidence interval.
"""

from keiretsu.sim.kpis import Estimate, PolicyResult
from keiretsu.sim.model import ModelError, Network
from keiretsu.sim.policy_level import simulate

__all__ = ["Estimate", "ModelError", "Network", "PolicyResult", "simulate"]
