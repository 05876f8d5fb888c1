"""When to look at a feed next, after a success or a failure. Pure, no I/O."""

from __future__ import annotations

from datetime import datetime, timedelta

MAX_BACKOFF = timedelta(hours=6)


def next_check_at(now: datetime, interval: timedelta, error_count: int = 0) -> datetime:
    """The feed's own interval after a success; doubling per failure, capped, after errors."""
    if error_count <= 0:
        return now + interval
    backoff = interval * (2 ** min(error_count, 16))
    return now + max(interval, min(backoff, MAX_BACKOFF))
