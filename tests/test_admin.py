"""The admins' pure parts: which failing feeds are the worst and how the numbers read; the claim
code, how it is read, and how long wrong guesses wait."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.admin import (
    claim_key,
    claim_wait,
    describe_status,
    describe_wait,
    import_refusal,
    new_claim_code,
    worst_feeds,
)
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
        "Stories stored (what /test sees): none yet",
    ]


def test_the_median_is_of_todays_alerts():
    text = describe_status([], NOW - timedelta(seconds=42), 3, [30.0, 90.0, 4000.0, 150.0], NOW, NOW)
    assert text.splitlines()[-1] == "Stories stored (what /test sees): since 01 Mar 2026"
    assert "Publication to delivery today: 2m 00s median, over 4 alert(s)" in text
    assert "Last successful poll: 01 Mar 11:59 UTC (42s ago)" in text
    assert "Alerts waiting to be sent: 3" in text


def test_claim_codes_are_random_readable_and_read_as_typed_in_any_case_or_spacing():
    codes = {new_claim_code() for _ in range(50)}
    assert len(codes) == 50 and all(len(code) == 14 and code.count("-") == 2 for code in codes)
    assert not set("".join(codes)) & set("01ilo"), "no character that reads as another"
    code = codes.pop()
    assert (
        claim_key(code)
        == claim_key(code.upper())
        == claim_key(code.replace("-", " "))
        == claim_key(f" {code.replace('-', '')} ")
    )
    assert claim_key(code) != claim_key(code[:-1]) and code not in claim_key(code)


@pytest.mark.parametrize(
    "failures, since, wait",
    [(0, 0, 0), (2, 0, 0), (3, 0, 60), (3, 59, 1), (3, 60, 0), (4, 0, 120), (5, 30, 210), (40, 0, 86400)],
)
def test_wrong_codes_wait_a_minute_after_three_doubling_to_a_day(failures, since, wait):
    last = NOW - timedelta(seconds=since)
    assert claim_wait(failures, last, NOW) == timedelta(seconds=wait)


def test_a_wait_is_said_rounded_up():
    assert describe_wait(timedelta(seconds=1)) == "in 1 minute"
    assert describe_wait(timedelta(seconds=61)) == "in 2 minutes"
    assert describe_wait(timedelta(hours=23, minutes=1)) == "in 24 hours"


@pytest.mark.parametrize(
    "url, from_chat, from_operator",
    [
        ("https://www.nato.int/rss", None, None),
        ("http://127.0.0.1/feed", "127.0.0.1 is a loopback address", None),
        ("http://2130706433/feed", "2130706433 (that is 127.0.0.1) is a loopback address", None),
        ("http://169.254.169.254/latest", "169.254.169.254 is a cloud metadata address", None),
        ("http://10.0.0.5/rss", "10.0.0.5 is a private address", None),
        ("file:///srv/feeds/local.xml", "file: URLs are not allowed", None),
        ("ftp://x.example/feed", "ftp: URLs are not allowed", "not an http(s) or file address"),
    ],
)
def test_an_import_from_a_chat_meets_the_guard_and_the_operators_is_trusted(url, from_chat, from_operator):
    said = import_refusal(url, trusted=False)
    assert (said or "").startswith(from_chat or "") and bool(said) == bool(from_chat)
    assert import_refusal(url, trusted=True) == from_operator
