"""When to look at a feed next: its interval, what the server asked, its pace, failures. Pure, no I/O.

The interval an operator writes in the config file is honoured as written, however short.
Server hints (Cache-Control max-age, Expires, <ttl>) and, when polling adapts, the feed's own pace
may only lengthen the wait, up to the maximum bound; Retry-After is obeyed within the bounds;
skipHours are skipped. Failures back off exponentially, capped, and never stop polling for good.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain import Pace

MAX_BACKOFF = timedelta(hours=6)
MAX_JITTER = timedelta(minutes=5)
WEEK = timedelta(days=7)  # a feed's pace is its average gap between entries over the last week
LOOKS_PER_GAP = 4  # adaptive polling looks this many times in that gap: a story waits a gap/8 on average
KEPT_DATES = 200  # entry dates a pace keeps (the newest): at that pace, adapting changes nothing


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
    posting_gap: timedelta | None = None  # the feed's average gap between entries, when polling adapts


def hint_number(text: str, most: int) -> int | None:
    """A number a server or feed wrote (<ttl>, max-age, Retry-After): ASCII digits only ("²" is a
    digit to str.isdigit), and at most `most`, read without converting more digits than that needs
    (Python refuses to convert over 4,300); None when it is not such a number."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()):
        return None
    digits = text.lstrip("0") or "0"
    return most if len(digits) > len(str(most)) else min(int(digits), most)


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
        adapted = hints.posting_gap / LOOKS_PER_GAP if hints.posting_gap else timedelta(0)
        hinted = max(hints.fresh_for or timedelta(0), hints.ttl or timedelta(0), adapted)
        delay = max(interval, min(hinted, bounds.maximum))
    return skip(now + delay + jitter(feed_id, delay), hints.skip_hours)


def skip(at: datetime, hours: frozenset[int]) -> datetime:
    """The first moment at or after `at` outside the skipped hours (UTC)."""
    if len(hours) >= 24:
        return at
    while at.hour in hours:
        at = at.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return at


def paced(pace: Pace | None, dates: Iterable[datetime], now: datetime) -> Pace:
    """The pace with these new entries' dates added (a date to come counts as now), those older than a
    week dropped. A feed's first pace starts at its oldest entry: the feed lists every one since."""
    new = [min(date, now) for date in dates]
    since = pace.since if pace else min([now, *new])
    recent = sorted(date for date in (*(pace.recent if pace else ()), *new) if date > now - WEEK)
    if len(recent) > KEPT_DATES:  # the oldest give way: what is kept is every entry since the first kept
        recent = recent[-KEPT_DATES:]
        since = max(since, recent[0])
    return Pace(since, tuple(recent))


def posting_gap(pace: Pace, now: datetime) -> timedelta:
    """The average time between a feed's entries over the last week (or since its pace began, when
    that is nearer); a feed with no entry in that time gets all of it."""
    start = max(pace.since, now - WEEK)
    entries = sum(date > start for date in pace.recent)  # the first one, at `since`, opens the span
    return (now - start) / max(entries, 1)


def chat_interval(requested: timedelta, bounds: Bounds) -> timedelta:
    """A feed added from a chat polls no more often than the minimum bound allows."""
    return bounds.clamp(requested)
