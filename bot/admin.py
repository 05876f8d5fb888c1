"""What the bot's admins need besides chat commands' plumbing: feeds in and out as OPML, and a
health summary. Shared by commands.py (/import, /export, /status) and the CLI (`newsalert opml`).

The describe_* functions are pure; import_feeds and export_feeds make the store calls.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from bot.domain import Feed
from bot.opml import Outline, write_opml
from bot.store import Store


@dataclass(frozen=True)
class ImportReport:
    added: tuple[str, ...]  # URLs
    already: int  # watched before
    refused: tuple[str, ...]  # not http(s): a feed from a file is not trusted like the config file


async def import_feeds(
    store: Store,
    feeds: Sequence[Outline],
    *,
    interval: timedelta,
    now: datetime,
    progress: Callable[[], None] = lambda: None,
) -> ImportReport:
    """Each feed as if an admin had added it from a chat: untrusted, so polled through the SSRF guard."""
    known = {feed.url for feed, _error in await store.feed_list()}
    added, already, refused = [], 0, []
    for url, title in feeds:
        if urlsplit(url).scheme not in ("http", "https"):
            refused.append(url)
        elif url in known:
            already += 1
        else:
            await store.add_chat_feed(url, title, interval, now)
            known.add(url)
            added.append(url)
        progress()
    return ImportReport(tuple(added), already, tuple(refused))


def describe_import(report: ImportReport) -> str:
    lines = [f"Added {len(report.added)} feed(s); {report.already} were already watched."]
    if report.refused:
        shown = ", ".join(report.refused[:5]) + (" ..." if len(report.refused) > 5 else "")
        lines.append(f"Left out {len(report.refused)} that are not http(s) addresses: {shown}")
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
) -> str:
    """What an admin wants to know without reading logs, in a few lines."""
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
    return "\n".join(lines)
