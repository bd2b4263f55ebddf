"""The node calendar: available time counted minute by minute by hand, its invariants under
hypothesis, and a clear error for every badly written calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keiretsu.analytics.calendar import Calendar, CalendarError

TWO_SHIFTS = {
    "timezone": "Europe/Berlin",
    "shifts": {"mon-fri": ["06:00-14:00", "14:00-22:00"], "sat": ["06:00-12:00"]},
    "holidays": ["2026-12-24", "2026-12-25"],
}


def _by_hand(start: datetime, end: datetime) -> float:
    """Working seconds of TWO_SHIFTS, counted minute by minute on Berlin's wall clock."""
    zone = ZoneInfo("Europe/Berlin")
    t, working = start, 0.0
    while t < end:
        local = t.astimezone(zone)
        day = local.date()
        if day not in (date(2026, 12, 24), date(2026, 12, 25)):
            wd, h = local.weekday(), local.hour
            if (wd < 5 and 6 <= h < 22) or (wd == 5 and 6 <= h < 12):
                working += 60
        t += timedelta(minutes=1)
    return working


def test_two_shifts_a_saturday_morning_and_christmas() -> None:
    cal = Calendar.from_mapping(TWO_SHIFTS, source="node.toml")
    start = datetime(2026, 12, 20, tzinfo=UTC)
    end = datetime(2027, 1, 3, tzinfo=UTC)
    assert cal.available_seconds(start, end) == pytest.approx(_by_hand(start, end))
    assert cal.hours_per_week() == 86
    assert cal.label() == "calendar: 86 h a week, Europe/Berlin, 2 holidays (node.toml)"


def test_the_daylight_saving_week_keeps_shifts_on_the_wall_clock() -> None:
    cal = Calendar.from_mapping(TWO_SHIFTS)
    # Berlin moves to summer time on Sunday 2026-03-29: the week around it
    start = datetime(2026, 3, 23, tzinfo=UTC)
    end = datetime(2026, 4, 6, tzinfo=UTC)
    assert cal.available_seconds(start, end) == pytest.approx(_by_hand(start, end))


def test_a_night_shift_runs_past_midnight() -> None:
    cal = Calendar.from_mapping({"shifts": {"daily": ["22:00-06:00"]}})
    day = datetime(2026, 5, 4, tzinfo=UTC)
    assert cal.available_seconds(day, day + timedelta(days=1)) == 8 * 3600
    assert cal.available_seconds(day + timedelta(hours=6), day + timedelta(hours=22)) == 0


def test_the_default_is_24_7_and_says_so() -> None:
    cal = Calendar.always()
    assert cal.is_default and "24/7" in cal.label() and "default" in cal.label()
    a = datetime(2026, 1, 1, tzinfo=UTC)
    assert cal.available_seconds(a, a + timedelta(days=3)) == 3 * 86_400


def test_vectorised_and_one_at_a_time_agree_and_nulls_stay_null() -> None:
    cal = Calendar.from_mapping(TWO_SHIFTS)
    a = datetime(2026, 12, 18, 5, tzinfo=UTC)
    starts = [a, a + timedelta(hours=30), None, a + timedelta(days=9)]
    ends = [a + timedelta(hours=50), a + timedelta(days=4), a, a + timedelta(days=12)]
    got = cal.available_between(
        pa.array(starts, pa.timestamp("us", tz="UTC")), pa.array(ends, pa.timestamp("us", tz="UTC"))
    )
    for s, e, g in zip(starts, ends, got, strict=True):
        if s is None:
            assert g != g  # NaN
        else:
            assert g == pytest.approx(cal.available_seconds(s, e))


_instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=150, deadline=None)
@given(_instants, _instants, _instants)
def test_available_time_adds_up_and_never_exceeds_the_clock(
    a: datetime, b: datetime, c: datetime
) -> None:
    a, b, c = sorted([a, b, c])
    cal = Calendar.from_mapping(TWO_SHIFTS)
    ab, bc, ac = (cal.available_seconds(x, y) for x, y in ((a, b), (b, c), (a, c)))
    assert ab + bc == pytest.approx(ac, abs=1e-3)
    assert 0 <= ac <= (c - a).total_seconds() + 1e-6
    assert cal.available_seconds(c, a) == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"shifts": {"monday": ["06:00-14:00"]}}, "unknown day 'monday'"),
        ({"shifts": {"mon": ["6-14"]}}, r"shifts.mon\[0\]: expected a shift as 'HH:MM-HH:MM'"),
        ({"shifts": {"mon": ["25:00-26:00"]}}, "not a time of day"),
        ({"shifts": {"mon": ["06:00-14:00", "13:00-20:00"]}}, "overlap on mon"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
        ({"holidays": ["christmas"]}, r"holidays\[0\]: expected a date"),
        ({"shift": {}}, "unknown key 'shift'"),
    ],
)
def test_a_badly_written_calendar_says_what_and_where(
    data: dict[str, object], message: str
) -> None:
    with pytest.raises(CalendarError, match=message) as err:
        Calendar.from_mapping(data, source="plant.toml")
    assert str(err.value).startswith("plant.toml: ")
