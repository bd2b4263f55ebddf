"""The value-network model: a typed description of the network a twin simulates.

Companies with their steps and buffers, the links between buffers, end-customer demand, costs,
and what each company sees of its partners — built in Python or read from a TOML file
(:meth:`Network.load`), checked whole. The common names are here:

- :class:`Network`, :class:`Company`, :class:`Step`, :class:`Buffer`, :class:`Link`;
- :class:`Demand` and :class:`Series` (end-customer demand);
- the policies :class:`BaseStock`, :class:`EchelonBaseStock`, :class:`SS`, :class:`RQ`,
  :class:`Kanban`, :class:`Forecast`;
- the distributions :class:`Constant`, :class:`Normal`, :class:`Poisson`, :class:`Gamma`,
  :class:`Uniform`, :class:`Empirical`;
- :class:`ModelError`, why a model was refused.
"""

from keiretsu.sim.model.demand import Demand, Series
from keiretsu.sim.model.distributions import (
    Constant,
    Distribution,
    Empirical,
    Gamma,
    Normal,
    Poisson,
    Uniform,
)
from keiretsu.sim.model.errors import ModelError
from keiretsu.sim.model.network import OUTSIDE, Buffer, Company, Link, Network, Step
from keiretsu.sim.model.policies import (
    RQ,
    SS,
    BaseStock,
    EchelonBaseStock,
    Forecast,
    Kanban,
    Policy,
)

__all__ = [
    "OUTSIDE",
    "RQ",
    "SS",
    "BaseStock",
    "Buffer",
    "Company",
    "Constant",
    "Demand",
    "Distribution",
    "EchelonBaseStock",
    "Empirical",
    "Forecast",
    "Gamma",
    "Kanban",
    "Link",
    "ModelError",
    "Network",
    "Normal",
    "Poisson",
    "Policy",
    "Series",
    "Step",
    "Uniform",
]
