"""The flow-level world: simulated EPCIS events per second, ours against plain SimPy.

    .venv/bin/python bench/sim_world.py [--days 365] [--runs 5] [--model distribution-5]

Needs the ``bench`` extra (SimPy): ``pip install -e '.[bench]'``.

The same world (``keiretsu.sim.world.World``: every order, batch, inspection, pallet,
shipment, receipt and sale of the model, each written as an EPCIS 2.0 event in the JSON
binding form) runs on two kernels in the same process:

- ours: :class:`keiretsu.sim.world.Kernel`, a heap of plain callbacks in simulated time;
- SimPy 4: the same flow model the SimPy way — every activity a process (``env.process``)
  that waits out its duration (``yield env.timeout(...)``) and then does its work.

Both produce the same events from the same seed (the count is printed; ties between events at
the same simulated instant may be taken in another order, so the streams can differ after a
while, not the model). Events per second = events emitted / seconds of simulation (the
documents are in memory; writing them as JSON-LD files is timed apart). The last line puts the
world's rate beside what one node captures over HTTP (README: 3,817–5,200 events/s,
``bench/node.py``).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import simpy

import keiretsu
from keiretsu.sim.model import Network
from keiretsu.sim.world import World, write_epcis_files

EXAMPLES = Path(keiretsu.__file__).parent / "examples" / "sim"
NODE_CAPTURE_EVENTS_PER_SECOND = 5_200  # README, bench/node.py, best figure (a fresh node)


class SimpyClock:
    """The world's clock on SimPy: each scheduled activity is a SimPy process."""

    def __init__(self) -> None:
        self.env = simpy.Environment()

    @property
    def now(self) -> float:
        return float(self.env.now)

    def _after(
        self, delay: float, fn: Callable[..., None], args: tuple[Any, ...]
    ) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(delay)
        fn(*args)

    def schedule(self, delay: float, fn: Callable[..., None], *args: Any) -> None:
        self.env.process(self._after(delay, fn, args))

    def run(self, until: float) -> None:
        self.env.run(until=until)


def _time(network: Network, days: int, clock: Callable[[], Any] | None) -> tuple[float, int]:
    world = World(network, seed=11, clock=None if clock is None else clock())
    t0 = time.perf_counter()
    world.run(days)
    return time.perf_counter() - t0, world.event_count()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=365, help="periods simulated per run")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--model", default="distribution-5", help="an example under examples/sim")
    args = parser.parse_args()
    network = Network.load(EXAMPLES / f"{args.model}.toml")
    _time(network, 5, None)  # warm caches (scipy's Poisson table, imports)
    _time(network, 5, SimpyClock)
    ours: list[float] = []
    theirs: list[float] = []
    n_ours = n_theirs = 0
    for _ in range(args.runs):  # alternate, so both see the same machine load
        s, n_ours = _time(network, args.days, None)
        ours.append(n_ours / s)
        s, n_theirs = _time(network, args.days, SimpyClock)
        theirs.append(n_theirs / s)
    a, b = statistics.median(ours), statistics.median(theirs)
    print(f"model {args.model}: {args.days} {network.period}s per run, median of {args.runs}")
    print(f"  ours (keiretsu Kernel): {n_ours:,} events, {a:,.0f} events/s")
    print(f"  plain SimPy {simpy.__version__}:      {n_theirs:,} events, {b:,.0f} events/s")
    print(f"flow-level world vs SimPy ratio {a / b:.2f}x")
    world = World(network, seed=11).run(args.days)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        paths = write_epcis_files(world, tmp)
        s = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in paths.values())
    print(
        f"  writing the JSON-LD files: {world.event_count() / s:,.0f} events/s "
        f"({size / 1e6:.1f} MB, {len(paths)} companies)"
    )
    print(
        f"flow-level world vs one node's capture ({NODE_CAPTURE_EVENTS_PER_SECOND:,} events/s) "
        f"ratio {a / NODE_CAPTURE_EVENTS_PER_SECOND:.1f}x"
    )


if __name__ == "__main__":
    main()
