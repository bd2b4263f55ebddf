"""Durations read and written one way in every view: one bucket grammar, one formatter."""

from __future__ import annotations

from datetime import timedelta

import pytest

from keiretsu.analytics import bottleneck, flow, inventory, vsm
from keiretsu.analytics.durations import duration, parse_freq


def test_every_view_that_buckets_time_reads_the_same_grammar() -> None:
    assert flow.parse_freq is inventory.parse_freq is parse_freq
    spellings = {
        "1d": timedelta(days=1),
        "1 day": timedelta(days=1),
        "2 days": timedelta(days=2),
        "12h": timedelta(hours=12),
        "12 hours": timedelta(hours=12),
        "30min": timedelta(minutes=30),
        "30 mins": timedelta(minutes=30),
        "30 m": timedelta(minutes=30),
        "90 s": timedelta(seconds=90),
        "1.5 H": timedelta(hours=1.5),
        "w": timedelta(weeks=1),
        "1 week": timedelta(weeks=1),
    }
    for text, length in spellings.items():
        assert parse_freq(text) == length, text
    assert parse_freq(timedelta(hours=8)) == timedelta(hours=8)


@pytest.mark.parametrize("bad", ["fortnightly", "", "1 parsec", "5ms", "d2", "0 days", "0.5 s"])
def test_a_bucket_length_not_understood_says_what_is_accepted(bad: str) -> None:
    with pytest.raises(ValueError, match="freq") as err:
        parse_freq(bad)
    message = str(err.value)
    assert repr(bad) in message
    assert "second" in message  # the unit words accepted, or the lower bound


def test_durations_are_written_as_practitioners_read_them() -> None:
    assert [duration(s) for s in (45, 12 * 60, 3.5 * 3600, 2.1 * 86_400)] == [
        "45 s",
        "12 min",
        "3.5 h",
        "2.1 d",
    ]
    assert duration(None) == "—" and duration(-120) == "-2 min"
    assert duration(45 * 60, words=True) == "45 minutes"
    assert duration(5.2 * 3600, words=True) == "5.2 hours"
    # the value stream map and the bottleneck's sentences use this one formatter
    assert vsm.duration is duration
    assert bottleneck.describe_seconds(3.2 * 86_400) == duration(3.2 * 86_400, words=True)
