"""When a feed is looked at next: pure table tests."""

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain import Pace
from bot.feeds.schedule import (
    KEPT_DATES,
    WEEK,
    Bounds,
    Hints,
    chat_interval,
    jitter,
    next_check_at,
    paced,
    posting_gap,
    skip,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
BOUNDS = Bounds(timedelta(minutes=5), timedelta(hours=24))


@pytest.mark.parametrize(
    ("interval", "errors", "hints", "wait"),
    [
        (MIN, 0, Hints(), MIN),  # the operator's short interval, as written
        (5 * MIN, 0, Hints(fresh_for=60 * MIN), 60 * MIN),  # max-age lengthens
        (5 * MIN, 0, Hints(fresh_for=MIN), 5 * MIN),  # ...but never shortens
        (5 * MIN, 0, Hints(fresh_for=timedelta(days=30)), timedelta(hours=24)),  # ...within the maximum
        (5 * MIN, 0, Hints(ttl=90 * MIN, fresh_for=30 * MIN), 90 * MIN),  # the longer of ttl and max-age
        (5 * MIN, 1, Hints(retry_after=timedelta(seconds=30)), 5 * MIN),  # Retry-After within the minimum
        (5 * MIN, 1, Hints(retry_after=40 * MIN), 40 * MIN),
        (5 * MIN, 1, Hints(), 10 * MIN),  # failures double the wait
        (5 * MIN, 3, Hints(), 40 * MIN),
        (5 * MIN, 30, Hints(), timedelta(hours=6)),  # capped, never stopped
        (5 * MIN, 0, Hints(posting_gap=timedelta(hours=8)), timedelta(hours=2)),  # adapting: 4 looks a gap
        (5 * MIN, 0, Hints(posting_gap=10 * MIN), 5 * MIN),  # ...never more often than the interval
        (5 * MIN, 0, Hints(posting_gap=WEEK), timedelta(hours=24)),  # ...within the maximum
        (5 * MIN, 0, Hints(posting_gap=4 * 60 * MIN, ttl=90 * MIN), 90 * MIN),  # the longest hint wins
        (5 * MIN, 2, Hints(posting_gap=timedelta(hours=8)), 20 * MIN),  # failures back off as usual
    ],
)
def test_next_check(interval, errors, hints, wait):
    assert next_check_at(NOW, interval, error_count=errors, hints=hints, bounds=BOUNDS) == NOW + wait


def test_skip_hours_push_the_check_past_them():
    at = next_check_at(NOW, 5 * MIN, hints=Hints(skip_hours=frozenset({12, 13, 14})), bounds=BOUNDS)
    assert at == datetime(2026, 3, 1, 15, 0, tzinfo=UTC)
    assert skip(NOW, frozenset(range(24))) == NOW, "a feed skipping every hour is still polled"


def test_jitter_spreads_feeds_by_at_most_a_tenth_and_five_minutes():
    shares = {jitter(feed_id, timedelta(hours=1)) for feed_id in range(1, 200)}
    assert len(shares) > 100 and max(shares) <= timedelta(minutes=5)
    assert all(jitter(i, 10 * MIN) <= MIN for i in range(1, 200))
    assert jitter(7, 10 * MIN) == jitter(7, 10 * MIN), "fixed per feed"


def test_feeds_from_chats_are_held_to_the_bounds():
    assert chat_interval(MIN, BOUNDS) == 5 * MIN
    assert chat_interval(timedelta(days=3), BOUNDS) == timedelta(hours=24)


HOUR = timedelta(hours=1)


def hourly(hours: int) -> tuple[datetime, ...]:
    """An entry every hour for so many hours, the last one now."""
    return tuple(NOW - i * HOUR for i in reversed(range(hours)))


@pytest.mark.parametrize(
    ("pace", "gap"),
    [
        (Pace(NOW - 30 * WEEK, hourly(168)), HOUR),  # watched for long: the last week's average
        (Pace(NOW - 18 * HOUR, hourly(19)[::2]), 2 * HOUR),  # a new feed listing 10 entries of 18 hours
        (Pace(NOW - 3 * WEEK, ()), WEEK),  # nothing for a week: the whole of it
        (Pace(NOW - 3 * WEEK, (NOW - 2 * WEEK,)), WEEK),  # ...older entries do not count
        (Pace(NOW - 2 * HOUR, (NOW - HOUR,)), 2 * HOUR),  # one entry in two hours of watching
        (Pace(NOW, (NOW,) * 5), timedelta(0)),  # a first poll of undated entries says nothing yet
    ],
)
def test_a_feeds_posting_gap_is_its_average_time_between_entries(pace, gap):
    assert posting_gap(pace, NOW) == gap


def test_a_pace_keeps_the_last_weeks_entries_and_when_watching_began():
    first = paced(None, [NOW - 3 * WEEK, NOW - HOUR, NOW + HOUR], NOW)
    assert first == Pace(NOW - 3 * WEEK, (NOW - HOUR, NOW)), "a date to come counts as now"
    later = paced(first, [NOW - 4 * WEEK, NOW + 30 * MIN], NOW + 30 * MIN)
    assert later.since == NOW - 3 * WEEK, "a late entry with an old date does not move the start"
    assert later.recent == (NOW - HOUR, NOW, NOW + 30 * MIN)
    assert paced(later, [], NOW + WEEK).recent == (NOW + 30 * MIN,), "older than a week: dropped"
    assert paced(None, [], NOW) == Pace(NOW, ()), "a feed with nothing yet starts now"


def test_a_busy_feeds_pace_keeps_its_newest_dates_and_the_same_gap():
    busy = paced(None, [NOW - i * MIN for i in range(3 * KEPT_DATES)], NOW)
    assert len(busy.recent) == KEPT_DATES and busy.since == busy.recent[0]
    assert posting_gap(busy, NOW) == MIN
