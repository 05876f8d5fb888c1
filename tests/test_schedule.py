"""When a feed is looked at next: pure table tests."""

from datetime import UTC, datetime, timedelta

import pytest

from bot.feeds.schedule import Bounds, Hints, chat_interval, jitter, next_check_at, skip

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
