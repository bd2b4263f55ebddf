"""The morning report: every view of a twin, computed in one go for ``keiretsu analyze``.

:func:`analyze` picks the object type the report follows (the one most events are about —
the cases of an XES log, the orders or items of an object-centric log — unless told), computes
the process map, variants, where time goes, the bottlenecks, inventory and days of supply, the
eight wastes with their Pareto, bullwhip and the value stream map, and returns them as a
:class:`Report` of :class:`~keiretsu.analytics.view.View` s.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import ibis

from keiretsu.analytics.bottleneck import bottlenecks
from keiretsu.analytics.bullwhip import bullwhip
from keiretsu.analytics.flow import object_times, step_stats
from keiretsu.analytics.inventory import days_of_supply
from keiretsu.analytics.log import Log
from keiretsu.analytics.process_map import ocdfg, variants
from keiretsu.analytics.rates import Rates
from keiretsu.analytics.view import View
from keiretsu.analytics.vsm import ValueStreamMap, value_stream_map
from keiretsu.analytics.waste import pareto, wastes

# Object types that are places, parties or equipment rather than work flowing through the
# process: never the default object type a report follows.
NOT_FLOWING = {
    "resource",
    "location",
    "party",
    "business transaction",
    "transformation",
}


@dataclass(frozen=True)
class Report:
    """Every view of one twin, following the objects of ``object_type``."""

    object_type: str
    object_types: list[str]
    views: dict[str, View]
    vsm: ValueStreamMap | None
    seconds: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready data: each view's rows and notes, and the map."""
        return {
            "object_type": self.object_type,
            "object_types": self.object_types,
            "views": {name: view.to_json() for name, view in self.views.items()},
            "value_stream_map": self.vsm.to_json() if self.vsm is not None else None,
            "seconds": self.seconds,
        }


def main_object_type(log: Log) -> str:
    """The object type the report follows by default: of the types whose objects flow through
    the process (not locations, parties or resources), the one most events are about."""
    r = log.relations.select("event_id", "object_id").distinct()
    j = r.join(log.objects, "object_id")
    counts = log.execute(
        j.group_by("object_type")
        .agg(events=j.event_id.nunique(), objects=j.object_id.nunique())
        .order_by([ibis.desc("events"), ibis.desc("objects"), "object_type"])
    ).to_pylist()
    flowing = [c for c in counts if c["object_type"].lower() not in NOT_FLOWING]
    chosen = flowing or counts
    if not chosen:
        raise ValueError("the log has no objects: nothing to analyse")
    return str(chosen[0]["object_type"])


def analyze(
    log: Log,
    *,
    object_type: str | None = None,
    value_adding: Collection[str] | None = None,
    rates: Rates | None = None,
    target_days: float | Mapping[str, float] | None = None,
    window_days: float = 28,
) -> Report:
    """Compute every view of the twin for the morning report (see the module docstring).

    ``value_adding`` marks the value-adding steps where the log has no start/complete events;
    ``rates`` prices the wastes; ``target_days`` is the target days of supply."""
    followed = object_type or main_object_type(log)
    types = log.object_types()
    if followed not in types:
        raise ValueError(
            f"no objects of type {followed!r}; the log has: {', '.join(types) or 'none'}"
        )
    views: dict[str, View] = {}
    seconds: dict[str, float] = {}

    def timed(name: str, make: Any) -> Any:
        t0 = time.perf_counter()
        result = make()
        seconds[name] = round(time.perf_counter() - t0, 3)
        return result

    pm = timed("process_map", lambda: ocdfg(log))
    views["process_map"] = pm.edges
    views["activities"] = pm.activities
    views["start_end"] = pm.start_end
    views["variants"] = timed("variants", lambda: variants(log, followed))
    views["object_times"] = timed("object_times", lambda: object_times(log, followed, value_adding))
    views["step_stats"] = timed("step_stats", lambda: step_stats(log, followed))
    views["bottlenecks"] = timed("bottlenecks", lambda: bottlenecks(log, followed))
    views["days_of_supply"] = timed(
        "days_of_supply", lambda: days_of_supply(log, window_days, targets=target_days)
    )
    waste_view = timed(
        "wastes",
        lambda: wastes(log, rates, target_days=target_days, value_adding=value_adding),
    )
    views["wastes"] = waste_view
    views["waste_pareto"] = pareto(waste_view)
    views["bullwhip"] = timed("bullwhip", lambda: bullwhip(log))
    vsm = timed(
        "value_stream_map", lambda: value_stream_map(log, followed, value_adding=value_adding)
    )
    return Report(followed, types, views, vsm, seconds)
