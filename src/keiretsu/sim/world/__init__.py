"""The flow-level world: a discrete-event simulation of a value network that emits the EPCIS
2.0 events its companies would record (issue 11, "the world is not the twin").

- :class:`World` — the network's orders, lots and shipments through every step, in simulated
  time; :meth:`World.truth` for tests only;
- :func:`write_epcis_files` — each company's events as an EPCIS 2.0 JSON-LD file;
- :func:`post_epcis`, :func:`run_live` — the same, live, to each company's node
  (``POST /capture`` over HTTP), :class:`NodeTarget` naming the node and its token;
- :class:`Kernel` — the discrete-event clock (simulated hours).

What is emitted, and how each model element maps to EPCIS, is in ``docs/sim/world.md``.
"""

from keiretsu.sim.world.kernel import Clock, Kernel
from keiretsu.sim.world.output import (
    NodeTarget,
    epcis_document,
    post_epcis,
    run_live,
    write_epcis_files,
)
from keiretsu.sim.world.world import HOURS_PER_PERIOD, World

__all__ = [
    "HOURS_PER_PERIOD",
    "Clock",
    "Kernel",
    "NodeTarget",
    "World",
    "epcis_document",
    "post_epcis",
    "run_live",
    "write_epcis_files",
]
