"""The clock of the flow-level world: a discrete-event kernel on simulated time.

The world schedules plain callbacks ("at hour 51.3, the pallet arrives at the DC") on a heap
ordered by simulated time, first scheduled first served among equal times. No wall clock is
read: a month of a plant runs in a fraction of a second.

Why not SimPy's kernel: SimPy runs each activity as a generator process and each wait as an
event object with callbacks; the world's activities are short (a batch ends, a pallet arrives)
and need none of that machinery. ``bench/sim_world.py`` runs the same world on both kernels
(:class:`Kernel` and a SimPy process per callback) and prints the ratio.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["Clock", "Kernel"]


class Clock(Protocol):
    """What the world needs of a kernel: the simulated time and a way to schedule work."""

    @property
    def now(self) -> float:
        """The simulated time, in hours since the world's start."""
        ...

    def schedule(self, delay: float, fn: Callable[..., None], *args: Any) -> None:
        """Call ``fn(*args)`` ``delay`` hours from now (``delay`` >= 0)."""
        ...

    def run(self, until: float) -> None:
        """Run every callback due before hour ``until``; the clock then reads ``until``."""
        ...


class Kernel:
    """A heap of (time, order, callback, arguments): the world's default clock."""

    __slots__ = ("_heap", "_seq", "now")

    def __init__(self) -> None:
        self.now = 0.0
        self._heap: list[tuple[float, int, Callable[..., None], tuple[Any, ...]]] = []
        self._seq = 0

    def schedule(self, delay: float, fn: Callable[..., None], *args: Any) -> None:
        """Call ``fn(*args)`` ``delay`` hours from now."""
        self._seq += 1
        heapq.heappush(self._heap, (self.now + delay, self._seq, fn, args))

    def run(self, until: float) -> None:
        """Run every callback due before hour ``until``."""
        heap = self._heap
        pop = heapq.heappop
        while heap and heap[0][0] < until:
            t, _, fn, args = pop(heap)
            self.now = t
            fn(*args)
        self.now = until
