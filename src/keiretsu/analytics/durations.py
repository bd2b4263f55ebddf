"""Durations as people write and read them: a bucket length read, a span of seconds written.

A planner asks for WIP "per 12 hours" or stock "per day" and reads that a step waits "3.5 h"
or "2.1 days". Every view keeps time in seconds (or a :class:`~datetime.timedelta`); this
module is the one place where those numbers meet the words:

* :func:`parse_freq` reads a bucket length — ``"1d"``, ``"12 hours"``, ``"30 min"``,
  ``"1 week"``, ``"w"`` — with one grammar for every view that buckets time
  (:func:`~keiretsu.analytics.flow.wip_over_time`,
  :func:`~keiretsu.analytics.inventory.stock_levels`);
* :func:`duration` writes seconds the way a practitioner reads them: ``45 s``, ``12 min``,
  ``3.5 h``, ``2.1 d`` on a value stream map, or ``45 minutes``, ``5.2 hours`` in a sentence.
"""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = ["duration", "parse_freq"]

_UNIT_SECONDS: dict[str, float] = {
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "m": 60.0,
    "min": 60.0,
    "minute": 60.0,
    "h": 3600.0,
    "hour": 3600.0,
    "d": 86_400.0,
    "day": 86_400.0,
    "w": 604_800.0,
    "week": 604_800.0,
}
_FREQ = re.compile(r"\s*(\d+(?:\.\d+)?)?\s*([a-z]+)\s*", re.IGNORECASE)
_ACCEPTED = (
    "a number and a unit — s (sec, second), m (min, minute), h (hour), d (day) or w (week), "
    "plural or not — e.g. '1d', '12 hours', '30 min', 'w'"
)


def _unit_seconds(unit: str) -> float | None:
    unit = unit.lower()
    if unit in _UNIT_SECONDS:
        return _UNIT_SECONDS[unit]
    if unit.endswith("s") and len(unit) > 2 and unit[:-1] in _UNIT_SECONDS:  # "hours", "mins"
        return _UNIT_SECONDS[unit[:-1]]
    return None


def parse_freq(freq: str | timedelta) -> timedelta:
    """The length of a time bucket, from how people write it: a number (1 when left out) and
    a unit — ``"1d"``, ``"12 hours"``, ``"30min"``, ``"4h"``, ``"1 week"``, ``"w"`` — or a
    :class:`~datetime.timedelta` as it is.

    Raises :class:`ValueError` naming what is accepted, for text it cannot read and for a
    bucket shorter than one second."""
    if isinstance(freq, timedelta):
        length = freq
    else:
        m = _FREQ.fullmatch(freq)
        seconds = _unit_seconds(m.group(2)) if m is not None else None
        if m is None or seconds is None:
            raise ValueError(f"bucket length (freq) {freq!r} not understood: write {_ACCEPTED}")
        length = timedelta(seconds=float(m.group(1) or 1) * seconds)
    if length.total_seconds() < 1:
        raise ValueError(f"bucket length (freq) {freq!r} is shorter than one second")
    return length


_SHORT = ("s", "min", "h", "d")
_WORDS = ("seconds", "minutes", "hours", "days")


def duration(seconds: float | None, *, words: bool = False) -> str:
    """A duration as a practitioner reads it: ``45 s``, ``12 min``, ``3.5 h``, ``2.1 d`` — or,
    with ``words``, ``45 seconds``, ``12 minutes``, ``3.5 hours``, ``2.1 days``.

    The unit is the largest that still reads naturally: seconds below 90 s, minutes below
    90 min, hours below 36 h, days from there on. ``None`` (not measurable) is ``—``."""
    if seconds is None:
        return "—"
    units = _WORDS if words else _SHORT
    s = abs(seconds)
    if s < 90:
        text = f"{s:.0f} {units[0]}"
    elif s < 90 * 60:
        text = f"{s / 60:.0f} {units[1]}"
    elif s < 36 * 3600:
        text = f"{s / 3600:.1f} {units[2]}"
    else:
        text = f"{s / 86400:.1f} {units[3]}"
    return ("-" if seconds < 0 else "") + text
