"""A node's working calendar: when the value stream is staffed and running, so that takt, cycle
time and utilisation are measured on *available time* as a lean practitioner measures them
(Rother & Shook, *Learning to See*: "available working time per shift, minus breaks").

A calendar is a set of weekly shifts in a time zone, minus holidays. Without one, every figure
is measured on the 24/7 clock and says so (:meth:`Calendar.label`): a plant that works two
shifts five days a week has 80 working hours a week, not 168, and its takt is 2.1 times
shorter than the 24/7 figure suggests.

Written in TOML (a node's ``node.toml`` ``[calendar]`` table, or a file of its own passed to
``keiretsu analyze --calendar``)::

    timezone = "Europe/Berlin"
    holidays = ["2026-12-24", "2026-12-25"]

    [shifts]
    mon-fri = ["06:00-14:00", "14:00-22:00"]
    sat = ["06:00-12:00"]

Days are ``mon`` … ``sun``, a range ``mon-fri``, or ``daily``; a shift that ends at or before
it starts runs past midnight (``"22:00-06:00"``). Breaks are left out of the shifts they
interrupt by writing the shift in two parts (``["06:00-10:00", "10:30-14:00"]``).
"""

from __future__ import annotations

import itertools
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["Calendar", "CalendarError"]

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SHIFT = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_WEEK = 7 * 86_400.0


class CalendarError(ValueError):
    """A calendar that cannot be read: says which key and what was wrong."""


def _weekdays(key: str, source: str) -> list[int]:
    """The weekdays (0 = Monday) a shifts key names: ``mon``, ``mon-fri``, ``daily``."""
    k = key.strip().lower()
    if k in ("daily", "every day", "mon-sun"):
        return list(range(7))
    if k in _DAYS:
        return [_DAYS.index(k)]
    first, sep, last = k.partition("-")
    if sep and first in _DAYS and last in _DAYS:
        a, b = _DAYS.index(first), _DAYS.index(last)
        return list(range(a, b + 1)) if a <= b else [*range(a, 7), *range(0, b + 1)]
    raise CalendarError(
        f"{source}shifts: unknown day {key!r} (expected mon … sun, a range such as mon-fri, "
        "or daily)"
    )


def _minutes(text: object, where: str) -> tuple[int, int]:
    """A shift ``"06:00-14:00"`` as (start, end) minutes of the day; end > start (a shift past
    midnight ends on the next day: end + 1440)."""
    m = _SHIFT.match(text) if isinstance(text, str) else None
    if m is None:
        raise CalendarError(f"{where}: expected a shift as 'HH:MM-HH:MM', got {text!r}")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2 != 0):
        raise CalendarError(f"{where}: {text!r} is not a time of day")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if end <= start:
        end += 24 * 60
    return start, end


@dataclass(frozen=True)
class Calendar:
    """A node's working time: weekly shifts in a time zone, minus holidays.

    ``shifts[d]`` holds the shifts of weekday ``d`` (0 = Monday) as (start, end) minutes after
    local midnight (an end past 1440 runs into the next day); ``None`` means the 24/7 clock.
    ``source`` says where the calendar came from (a file, ``node.toml``), for the labels."""

    shifts: tuple[tuple[tuple[int, int], ...], ...] | None = None
    holidays: frozenset[date] = field(default_factory=frozenset)
    timezone: str = "UTC"
    source: str = ""

    @classmethod
    def always(cls) -> Calendar:
        """The 24/7 clock with no holidays: the default when a node names no calendar."""
        return cls()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = "") -> Calendar:
        """A calendar from its TOML form (see the module docstring); ``source`` (a file name)
        prefixes every error and is named in the labels."""
        where = f"{source}: " if source else ""
        unknown = sorted(set(data) - {"timezone", "shifts", "holidays"})
        if unknown:
            raise CalendarError(
                f"{where}unknown key {unknown[0]!r} (expected timezone, shifts, holidays)"
            )
        tz = data.get("timezone", "UTC")
        if not isinstance(tz, str):
            raise CalendarError(f"{where}timezone: expected a name such as 'Europe/Berlin'")
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise CalendarError(f"{where}timezone: unknown time zone {tz!r}") from None
        holidays: set[date] = set()
        raw_holidays = data.get("holidays", [])
        if not isinstance(raw_holidays, Sequence) or isinstance(raw_holidays, str):
            raise CalendarError(f"{where}holidays: expected a list of dates 'YYYY-MM-DD'")
        for i, h in enumerate(raw_holidays):
            if isinstance(h, date) and not isinstance(h, datetime):
                holidays.add(h)
                continue
            try:
                holidays.add(date.fromisoformat(str(h)))
            except ValueError:
                raise CalendarError(
                    f"{where}holidays[{i}]: expected a date 'YYYY-MM-DD', got {h!r}"
                ) from None
        raw_shifts = data.get("shifts")
        if raw_shifts is None:
            return cls(None, frozenset(holidays), tz, source)
        if not isinstance(raw_shifts, Mapping):
            raise CalendarError(f"{where}shifts: expected a table such as mon-fri = [...]")
        week: list[list[tuple[int, int]]] = [[] for _ in range(7)]
        for key, value in raw_shifts.items():
            days = _weekdays(str(key), where)
            if not isinstance(value, Sequence) or isinstance(value, str):
                raise CalendarError(f"{where}shifts.{key}: expected a list of 'HH:MM-HH:MM'")
            for j, text in enumerate(value):
                span = _minutes(text, f"{where}shifts.{key}[{j}]")
                for d in days:
                    week[d].append(span)
        for d, spans in enumerate(week):
            spans.sort()
            for a, b in itertools.pairwise(spans):
                if b[0] < a[1]:
                    raise CalendarError(
                        f"{where}shifts: two shifts overlap on {_DAYS[d]} "
                        f"({_hhmm(a)} and {_hhmm(b)})"
                    )
        return cls(tuple(tuple(s) for s in week), frozenset(holidays), tz, source)

    @classmethod
    def from_toml(cls, path: str | Path) -> Calendar:
        """The calendar in the TOML file at ``path``: its ``[calendar]`` table (a node's
        ``node.toml``), or the whole file when it has none. Raises :class:`CalendarError`
        naming the file and the key when it cannot be read or does not fit."""
        name = Path(path).name
        try:
            with open(path, "rb") as handle:
                data: dict[str, Any] = tomllib.load(handle)
        except OSError as exc:
            raise CalendarError(f"{name}: cannot read it: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise CalendarError(f"{name}: not valid TOML: {exc}") from None
        table = data.get("calendar", data)
        if not isinstance(table, Mapping):
            raise CalendarError(f"{name}: [calendar] must be a table")
        return cls.from_mapping(table, source=name)

    @property
    def is_default(self) -> bool:
        """Whether this is the 24/7 clock with no holidays (no calendar given)."""
        return self.shifts is None and not self.holidays

    def hours_per_week(self) -> float:
        """Working hours in a week without holidays (168 on the 24/7 clock)."""
        if self.shifts is None:
            return 168.0
        return sum(b - a for day in self.shifts for a, b in day) / 60.0

    def label(self) -> str:
        """What every figure measured on this calendar says about it, e.g. ``calendar: 24/7
        (default; no calendar given)`` or ``calendar: 80 h a week, Europe/Berlin, 2 holidays
        (node.toml)``."""
        if self.is_default:
            return "calendar: 24/7 (default; no calendar given)"
        parts = [
            "24/7" if self.shifts is None else f"{self.hours_per_week():g} h a week",
            self.timezone,
        ]
        if self.holidays:
            n = len(self.holidays)
            parts.append(f"{n} holiday{'s' if n != 1 else ''}")
        origin = f" ({self.source})" if self.source else ""
        return "calendar: " + ", ".join(parts) + origin

    # --- the working clock ----------------------------------------------------------------------

    def _clock(self, lo: datetime, hi: datetime) -> tuple[np.ndarray, np.ndarray]:
        """Breakpoints (UTC epoch seconds) and the working seconds elapsed at each, from the
        local day before ``lo`` to the day after ``hi``: a piecewise-linear clock that runs
        during shifts and stands still between them."""
        zone = ZoneInfo(self.timezone)
        first = lo.astimezone(zone).date() - timedelta(days=1)
        last = hi.astimezone(zone).date() + timedelta(days=1)
        spans: list[tuple[float, float]] = []
        day = first
        while day <= last:
            if day not in self.holidays:
                if self.shifts is None:
                    todays: Sequence[tuple[int, int]] = ((0, 24 * 60),)
                else:
                    todays = self.shifts[day.weekday()]
                midnight = datetime.combine(day, time(0), zone)
                for a, b in todays:
                    start = _local(midnight, a, zone)
                    end = _local(midnight, b, zone)
                    spans.append((start, end))
            day += timedelta(days=1)
        spans.sort()
        xs: list[float] = []
        ys: list[float] = []
        done = 0.0
        for t0, t1 in spans:
            if xs and t0 < xs[-1]:  # a shift past midnight meeting the next day's first shift
                t0 = xs[-1]
            if t1 <= t0:
                continue
            xs += [t0, t1]
            ys += [done, done + (t1 - t0)]
            done += t1 - t0
        if not xs:
            t0, t1 = _epoch(lo) - 86_400.0, _epoch(hi) + 86_400.0
            return np.array([t0, t1]), np.array([0.0, 0.0])
        return np.asarray(xs), np.asarray(ys)

    def available_seconds(self, start: datetime, end: datetime) -> float:
        """Working seconds between ``start`` and ``end`` (0 when ``end`` is not after
        ``start``)."""
        if end <= start:
            return 0.0
        if self.is_default:
            return (end - start).total_seconds()
        xs, ys = self._clock(start, end)
        got = np.interp([_epoch(start), _epoch(end)], xs, ys)
        return float(got[1] - got[0])

    def available_between(
        self, starts: pa.Array | pa.ChunkedArray, ends: pa.Array | pa.ChunkedArray
    ) -> np.ndarray:
        """Working seconds between each start and end (timestamp arrays of one length; null
        where either is null), vectorised."""
        s = _epoch_array(starts)
        e = _epoch_array(ends)
        valid = ~(np.isnan(s) | np.isnan(e))
        out = np.full(len(s), np.nan)
        if self.is_default:
            out[valid] = np.maximum(e[valid] - s[valid], 0.0)
            return out
        if not valid.any():
            return out
        lo = datetime.fromtimestamp(float(np.nanmin(np.minimum(s, e))), UTC)
        hi = datetime.fromtimestamp(float(np.nanmax(np.maximum(s, e))), UTC)
        xs, ys = self._clock(lo, hi)
        fs = np.interp(s[valid], xs, ys)
        fe = np.interp(e[valid], xs, ys)
        out[valid] = np.maximum(fe - fs, 0.0)
        return out


def _hhmm(span: tuple[int, int]) -> str:
    a, b = span
    return f"{a // 60 % 24:02d}:{a % 60:02d}-{b // 60 % 24:02d}:{b % 60:02d}"


def _local(midnight: datetime, minutes: int, zone: ZoneInfo) -> float:
    """UTC epoch seconds of ``minutes`` after local ``midnight`` on the wall clock (so a shift
    starting 06:00 starts at 06:00 on both sides of a daylight-saving change)."""
    day = midnight.date() + timedelta(days=minutes // 1440)
    m = minutes % 1440
    wall = datetime.combine(day, time(m // 60, m % 60), zone)
    return wall.timestamp()


def _epoch(t: datetime) -> float:
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.timestamp()


def _epoch_array(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Timestamps as float UTC epoch seconds (NaN for nulls)."""
    micros = pc.cast(pc.cast(values, pa.timestamp("us", tz="UTC")), pa.int64())
    if isinstance(micros, pa.ChunkedArray):
        micros = micros.combine_chunks()
    return np.asarray(micros.to_numpy(zero_copy_only=False), dtype="float64") / 1e6
