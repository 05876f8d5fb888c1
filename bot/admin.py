"""What the bot's admins need besides chat commands' plumbing: feeds in and out as OPML, a health
summary, and the one-time code that makes the first admin. Shared by commands.py (/import, /export,
/status, /claim) and the CLI (`newsalert opml`).

The describe_* functions, the code's making and reading and the wait after wrong codes are pure;
import_feeds and export_feeds make the store calls.
"""

from __future__ import annotations

import hashlib
import secrets
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from bot.domain import Feed
from bot.errors import FetchError
from bot.feeds.guard import check_url
from bot.opml import Outline, write_opml
from bot.store import Store

OPERATOR_SCHEMES = ("http", "https", "file")  # what the fetcher reads; a file only for the operator


@dataclass(frozen=True)
class ImportReport:
    added: tuple[str, ...]  # URLs
    already: int  # watched before
    refused: tuple[tuple[str, str], ...]  # (URL, why it was left out)


def import_refusal(url: str, trusted: bool) -> str | None:
    """Why a feed of an OPML file is left out, or None. From a chat it must pass the SSRF guard's
    check of the address itself (http(s), no credentials, no loopback, private or metadata address
    spelled as a number); names are resolved and checked when the feed is fetched, on every hop.
    The operator's own import is trusted, as the config file is: any address the fetcher reads."""
    if not trusted:
        try:
            check_url(url)
        except FetchError as error:
            return str(error)
        return None
    if urlsplit(url).scheme not in OPERATOR_SCHEMES:
        return "not an http(s) or file address"
    return None


async def import_feeds(
    store: Store,
    feeds: Sequence[Outline],
    *,
    interval: timedelta,
    now: datetime,
    trusted: bool,
    progress: Callable[[], None] = lambda: None,
) -> ImportReport:
    """Each feed as if an admin had added it from a chat (untrusted: checked now, and polled through
    the SSRF guard), or, `trusted`, as the operator's own (polled as the config file's feeds are)."""
    known = {feed.url for feed, _error in await store.feed_list()}
    added, already, refused = [], 0, []
    for url, title in feeds:
        if why := import_refusal(url, trusted):
            refused.append((url, why))
        elif url in known:
            already += 1
        else:
            await store.add_feed(url, title, interval, now, source="operator" if trusted else "chat")
            known.add(url)
            added.append(url)
        progress()
    return ImportReport(tuple(added), already, tuple(refused))


REFUSALS_SHOWN = 5


def describe_import(report: ImportReport, note: str = "") -> str:
    """What an import did, `note` after its first line; each feed left out with the reason."""
    lines = [f"Added {len(report.added)} feed(s); {report.already} were already watched.{note}"]
    if report.refused:
        lines.append(f"Left out {len(report.refused)}:")
        lines += [f"  - {url}: {why}" for url, why in report.refused[:REFUSALS_SHOWN]]
        if len(report.refused) > REFUSALS_SHOWN:
            lines.append(f"  ... and {len(report.refused) - REFUSALS_SHOWN} more.")
    return "\n".join(lines)


async def export_feeds(store: Store, now: datetime) -> tuple[int, bytes]:
    """Every feed being polled, as OPML; and how many."""
    listed = await store.feed_list()
    return len(listed), write_opml([(feed.url, feed.name) for feed, _error in listed], now)


WORST_SHOWN = 5


def worst_feeds(listed: Sequence[tuple[Feed, str | None]], now: datetime) -> list[tuple[Feed, str]]:
    """The failing feeds, longest failing first, then most errors."""
    failing = [(feed, error) for feed, error in listed if error]
    failing.sort(key=lambda pair: (pair[0].failing_since or now, -pair[0].error_count))
    return failing[:WORST_SHOWN]


def _ago(then: datetime, now: datetime) -> str:
    return f"{then:%d %b %H:%M} UTC ({_span((now - then).total_seconds())} ago)"


def _span(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


def describe_status(
    listed: Sequence[tuple[Feed, str | None]],
    last_poll: datetime | None,
    waiting: int,
    latencies: Sequence[float],
    now: datetime,
    stored_since: datetime | None = None,
) -> str:
    """What an admin wants to know without reading logs, in a few lines; `stored_since`: the oldest
    stored story's fetch (retention.articles deletes older ones)."""
    failing = sum(1 for _feed, error in listed if error)
    lines = [f"Feeds: {len(listed)} watched, {len(listed) - failing} healthy, {failing} failing."]
    for feed, error in worst_feeds(listed, now):
        since = f"since {feed.failing_since:%d %b %H:%M} UTC, " if feed.failing_since else ""
        lines.append(f"  {feed.id}. {feed.name or feed.url}: {since}{feed.error_count} error(s): {error}")
    lines.append("Last successful poll: " + (_ago(last_poll, now) if last_poll else "never"))
    lines.append(f"Alerts waiting to be sent: {waiting}")
    if latencies:
        median = _span(statistics.median(latencies))
        lines.append(f"Publication to delivery today: {median} median, over {len(latencies)} alert(s)")
    else:
        lines.append("Publication to delivery today: no alert sent yet today")
    kept = f"since {stored_since:%d %b %Y}" if stored_since else "none yet"
    lines.append(f"Stories stored (what /test sees): {kept}")
    return "\n".join(lines)


# --- the first admin: a one-time code, logged at start for the operator -------------------------------

CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read from a log, typed on a phone
CODE_GROUPS = 3  # of 4 characters: 60 bits, and a guess is throttled (see claim_wait)
CODE_LIFETIME = timedelta(hours=24)


def new_claim_code() -> str:
    """A random code like "k7mq-4xzp-9wtr", from the secrets module."""
    groups = ("".join(secrets.choice(CODE_ALPHABET) for _ in range(4)) for _ in range(CODE_GROUPS))
    return "-".join(groups)


def claim_key(typed: str) -> str:
    """What is kept of a code, and compared: the SHA-256 of it as typed, in any letter case, with or
    without its dashes and spaces."""
    plain = "".join(ch for ch in typed.lower() if ch not in "- \t")
    return hashlib.sha256(plain.encode()).hexdigest()


FREE_GUESSES = 3  # a typo or two cost nothing
FIRST_WAIT = timedelta(minutes=1)
LONGEST_WAIT = timedelta(days=1)


def claim_wait(failures: int, last: datetime, now: datetime) -> timedelta:
    """How long a user who typed `failures` wrong codes, the last at `last`, waits before the next try:
    nothing for the first few, then a minute, doubling to a day."""
    if failures < FREE_GUESSES:
        return timedelta(0)
    wait = min(FIRST_WAIT * 2 ** (failures - FREE_GUESSES), LONGEST_WAIT)
    return max(last + wait - now, timedelta(0))


@dataclass
class Guesses:
    """Wrong claim codes per user (chat app, user id) in this process, for claim_wait."""

    wrong: dict[tuple[str, str], tuple[int, datetime]] = field(default_factory=dict)

    def wait(self, who: tuple[str, str], now: datetime) -> timedelta:
        failures, last = self.wrong.get(who, (0, now))
        return claim_wait(failures, last, now)

    def failed(self, who: tuple[str, str], now: datetime) -> None:
        self.wrong[who] = (self.wrong.get(who, (0, now))[0] + 1, now)


def describe_wait(wait: timedelta) -> str:
    """ "in 4 minutes", "in 2 hours": rounded up, a wait is never shorter than said."""
    minutes = -(-int(wait.total_seconds()) // 60)
    if minutes < 120:
        return f"in {minutes} minute" + ("" if minutes == 1 else "s")
    return f"in {-(-minutes // 60)} hours"
