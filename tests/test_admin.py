"""The status summary, pure: which failing feeds are the worst, and how the numbers read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.admin import describe_status, worst_feeds
from bot.domain import Feed

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def feed(id: int, days: float | None, errors: int = 1) -> Feed:
    since = NOW - timedelta(days=days) if days is not None else None
    return Feed(id, f"https://f{id}.example/rss", f"Feed {id}", timedelta(minutes=5), 0,
                error_count=errors, failing_since=since)  # fmt: skip


def test_the_worst_five_fail_longest_then_most_often():
    listed = [(feed(1, None, 0), None), (feed(2, 1, 3), "503"), (feed(3, 3), "404"), (feed(4, 1, 9), "dns")]
    listed += [(feed(i, 0.5), "timeout") for i in range(5, 9)]
    assert [f.id for f, _ in worst_feeds(listed, NOW)] == [3, 4, 2, 5, 6]


def test_the_summary_reads_plainly_with_nothing_yet():
    text = describe_status([(feed(1, None, 0), None)], None, 0, [], NOW)
    assert text.splitlines() == [
        "Feeds: 1 watched, 1 healthy, 0 failing.",
        "Last successful poll: never",
        "Alerts waiting to be sent: 0",
        "Publication to delivery today: no alert sent yet today",
    ]


def test_the_median_is_of_todays_alerts():
    text = describe_status([], NOW - timedelta(seconds=42), 3, [30.0, 90.0, 4000.0, 150.0], NOW)
    assert "Publication to delivery today: 2m 00s median, over 4 alert(s)" in text
    assert "Last successful poll: 01 Mar 11:59 UTC (42s ago)" in text
    assert "Alerts waiting to be sent: 3" in text
