"""When to look at a feed next: its interval, what the server asked, failures. Pure, no I/O.

The interval an operator writes in the config file is honoured as written, however short.
Server hints (Cache-Control max-age, Expires, <ttl>) may only lengthen the wait, up to the
maximum bound; Retry-After is obeyed within the bounds; skipHours are skipped. Failures back off
exponentially, capped, and never stop polling for good.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

MAX_BACKOFF = timedelta(hours=6)
MAX_JITTER = timedelta(minutes=5)


@dataclass(frozen=True)
class Bounds:
    minimum: timedelta = timedelta(minutes=5)
    maximum: timedelta = timedelta(hours=24)

    def clamp(self, delay: timedelta) -> timedelta:
        return max(self.minimum, min(delay, self.maximum))


@dataclass(frozen=True)
class Hints:
    """What the server and the feed said about when to come back."""

    fresh_for: timedelta | None = None  # Cache-Control max-age or Expires
    ttl: timedelta | None = None  # RSS <ttl>
    retry_after: timedelta | None = None  # 429 or 503 Retry-After
    skip_hours: frozenset[int] = frozenset()  # RSS <skipHours>, hours of the day in UTC


def jitter(feed_id: int, delay: timedelta) -> timedelta:
    """A fixed per-feed share (0-10%) of the delay, so feeds added together do not fire together."""
    share = (feed_id * 2654435761 % 1000) / 10_000
    return min(delay * share, MAX_JITTER)


def next_check_at(
    now: datetime,
    interval: timedelta,
    *,
    feed_id: int = 0,
    error_count: int = 0,
    hints: Hints = Hints(),
    bounds: Bounds = Bounds(),
) -> datetime:
    if hints.retry_after is not None:
        delay = bounds.clamp(hints.retry_after)
    elif error_count > 0:
        backoff = interval * (2 ** min(error_count, 16))
        delay = max(interval, min(backoff, MAX_BACKOFF, bounds.maximum))
    else:
        hinted = max(hints.fresh_for or timedelta(0), hints.ttl or timedelta(0))
        delay = max(interval, min(hinted, bounds.maximum))
    return skip(now + delay + jitter(feed_id, delay), hints.skip_hours)


def skip(at: datetime, hours: frozenset[int]) -> datetime:
    """The first moment at or after `at` outside the skipped hours (UTC)."""
    if len(hours) >= 24:
        return at
    while at.hour in hours:
        at = at.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return at


def chat_interval(requested: timedelta, bounds: Bounds) -> timedelta:
    """A feed added from a chat polls no more often than the minimum bound allows."""
    return bounds.clamp(requested)
