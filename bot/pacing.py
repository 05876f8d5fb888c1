"""When a message may go: token buckets per chat and per bot, digests and quiet hours. Pure.

The dispatcher asks two questions of each chat's next alert: has the chat asked to hear later
(a digest, quiet hours): release_at(); and may the chat app take one more message now: Pacer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Rate:
    per_second: float
    burst: float = 1.0  # messages that may go at once after a quiet spell


@dataclass
class TokenBucket:
    rate: Rate
    tokens: float = -1.0  # starts full
    at: datetime | None = None

    def take(self, now: datetime) -> bool:
        """One message now, if the bucket has a token; else no, and nothing is used."""
        if self.delay(now) == 0:
            self.tokens = max(self.tokens - 1, 0.0)
            return True
        return False

    def delay(self, now: datetime) -> float:
        """Seconds until there is a token (0: now; within a thousandth of one, which clocks with
        microseconds cannot tell apart, counts as one)."""
        self._refill(now)
        return 0.0 if self.tokens >= 1 - 1e-3 else (1 - self.tokens) / self.rate.per_second

    def _refill(self, now: datetime) -> None:
        if self.tokens < 0 or self.at is None:
            self.tokens, self.at = self.rate.burst, now
            return
        elapsed = max((now - self.at).total_seconds(), 0.0)
        self.tokens, self.at = min(self.rate.burst, self.tokens + elapsed * self.rate.per_second), now


@dataclass
class Pacer:
    """Every chat app's limits: one bucket per chat, one per app (its overall ceiling)."""

    chats: dict[tuple[str, str], TokenBucket] = field(default_factory=dict)
    apps: dict[str, TokenBucket] = field(default_factory=dict)

    def delay(self, app: str, chat: str, now: datetime, per_chat: Rate | None, overall: Rate | None) -> float:
        """Seconds until one message to this chat is within both limits (None: no limit)."""
        return max((bucket.delay(now) for bucket in self._buckets(app, chat, per_chat, overall)), default=0.0)

    def take(self, app: str, chat: str, now: datetime, per_chat: Rate | None, overall: Rate | None) -> bool:
        """One message to this chat now, within both limits (None: no limit)."""
        if self.delay(app, chat, now, per_chat, overall) > 0:
            return False
        for bucket in self._buckets(app, chat, per_chat, overall):
            bucket.take(now)
        return True

    def _buckets(self, app: str, chat: str, per_chat: Rate | None, overall: Rate | None) -> list[TokenBucket]:
        buckets = [self.chats.setdefault((app, chat), TokenBucket(per_chat))] if per_chat else []
        return buckets + ([self.apps.setdefault(app, TokenBucket(overall))] if overall else [])


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _next(local: datetime, at: time) -> datetime:
    """The first moment at or after `local` whose wall clock reads `at` (same zone)."""
    candidate = local.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
    return candidate if candidate >= local else candidate + timedelta(days=1)


def quiet_until(moment: datetime, quiet: str | None) -> datetime | None:
    """The end of the quiet hours `moment` falls in ("22:00-07:00 Europe/Paris"), or None."""
    if not quiet:
        return None
    hours, zone = quiet.split()
    start, end = (_clock(part) for part in hours.split("-"))
    local = moment.astimezone(ZoneInfo(zone))
    now = local.time()
    inside = start <= now < end if start < end else (now >= start or now < end)
    return _next(local, end).astimezone(moment.tzinfo) if inside else None


def release_at(created: datetime, digest: str, quiet: str | None) -> datetime:
    """When an alert made at `created` may go out: at once (instant), at the next full hour
    (hourly), at the next HH:MM in the chat's zone (daily), and never inside quiet hours."""
    at = created
    if digest == "hourly":
        at = created.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    elif digest.startswith("daily"):
        _, clock, zone = digest.split()
        at = _next(created.astimezone(ZoneInfo(zone)), _clock(clock)).astimezone(created.tzinfo)
    return quiet_until(at, quiet) or at


@dataclass
class Bursts:
    """Breaking news: when one rule has alerted a chat `stories` times within `window`, what it
    matches next joins one rolling message instead, until the rule is quiet for a `window`."""

    stories: int = 5
    window: timedelta = timedelta(minutes=10)
    recent: dict[tuple[int, int], list[datetime]] = field(default_factory=dict)  # (chat, rule) -> sends

    def bursting(self, key: tuple[int, int], now: datetime) -> bool:
        times = [t for t in self.recent.get(key, []) if now - t < self.window]
        self.recent[key] = times
        return len(times) >= self.stories

    def sent(self, key: tuple[int, int], now: datetime) -> None:
        self.recent.setdefault(key, []).append(now)
