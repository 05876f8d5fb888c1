"""Delivery a user can trust, on the fake Telegram: each chat at its pace and in order, 429 storms
ridden out, digests and quiet hours on a fake clock, urgent rules past both, nothing lost in a crash."""

from __future__ import annotations

import asyncio
import itertools
import signal
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import ClientSession

from bot.domain import Article, FeedUpdate, Match, NewStory, Quote, StoryAlert, StoryKey
from bot.pacing import Rate, TokenBucket, quiet_until, release_at
from bot.web import build_web_app, start_web
from tests.fakes.telegram_api import TOKEN
from tests.test_cli import clean_env, started

SECOND = timedelta(seconds=1)
_ids = itertools.count(1)


def chats_config(chats: list[int], extra: str = "") -> str:
    subs = "".join(f"  - channel: telegram\n    address: '{c}'\n    rules: [Membership]\n" for c in chats)
    return f"feeds:\n  - url: file:///dev/null\n{extra}subscriptions:\n{subs}"


@pytest.fixture
def app_with_chats(make_settings, start_app, telegram):
    async def start(chats: list[int], extra: str = ""):
        settings = make_settings(
            f"telegram:\n  token: {TOKEN}\n  api_url: {telegram.api_url}\n" + chats_config(chats, extra)
        )
        app, _ = await start_app(settings)
        return app

    return start


async def queue(app, clock, subscriptions: list[int], count: int = 1, urgent: bool = False) -> list[str]:
    """`count` new stories, each alerting these subscriptions (ids from 1, in config order)."""
    [feed] = await app.store.claim_due_feeds(clock.now(), 1, timedelta(0), only=[1])
    titles, stories = [], []
    for _ in range(count):
        n = next(_ids)
        title = f"Story number {n} about the Membership plan"
        titles.append(title)
        article = Article(
            title, f"https://news.example/{n}", f"g{n}", "Membership plan.", clock.now(), f"h{n}"
        )
        alerts = tuple(
            StoryAlert(sub, (Match(sub, "Membership", Quote("Membership plan.", ((0, 10),))),), urgent)
            for sub in subscriptions
        )
        stories.append(
            NewStory(article, "Membership plan.", "A summary.", alerts, StoryKey(f"n/{n}", f"s {n}"))
        )
    state = FeedUpdate(None, None, None, clock.now(), "F")
    await app.store.save_poll(feed, stories, state, clock.now(), app.poller.stories)
    return titles


async def test_a_chat_gets_a_message_a_second_in_order(app_with_chats, telegram, clock):
    app = await app_with_chats([1001])
    titles = await queue(app, clock, [1], count=4)
    sent = []
    for _ in range(4):
        report = await app.deliver_due()
        assert report.sent == 1, "one a second for a private chat"
        sent.append(telegram.last()["text"].split("\n")[0])
        clock.advance(SECOND)
    assert sent == titles


async def test_the_whole_bot_stays_under_thirty_a_second(app_with_chats, telegram, clock):
    chats = list(range(2001, 2061))
    app = await app_with_chats(chats)
    await queue(app, clock, list(range(1, 61)))
    start = clock.now()
    assert (await app.deliver_due()).sent == 60, "the round waits out the bot's pace, moment by moment"
    spread = timedelta(seconds=59 / 29.5) - timedelta(milliseconds=5)  # a clock of microseconds
    assert clock.now() - start >= spread, "evenly spaced: never 31 in one second"
    assert len(telegram.sent) == 60


async def test_a_429_storm_loses_nothing_and_sends_nothing_twice(app_with_chats, telegram, clock):
    app = await app_with_chats([1001, 1002], "delivery:\n  burst_stories: 100\n")
    titles = await queue(app, clock, [1, 2], count=10)
    calls = itertools.count(1)
    real = telegram._sendMessage

    async def every_third_refused(params):
        if next(calls) % 3 == 0:
            telegram.too_many, telegram.retry_after = 1, 1 + next(calls) % 3
        return await real(params)

    telegram._sendMessage = every_third_refused
    for _ in range(120):
        await app.deliver_due()
        clock.advance(SECOND)
    for chat in (1001, 1002):
        got = [m["text"].split("\n")[0] for m in telegram.to(chat)]
        assert got == titles, "every alert, once, in order"


async def test_an_hourly_digest_is_one_message(app_with_chats, telegram, clock):
    app = await app_with_chats([1001])
    await app.store.update_subscription(1, digest="hourly")
    clock.current = datetime(2026, 3, 1, 10, 20, tzinfo=UTC)
    titles = await queue(app, clock, [1], count=2)
    clock.current = datetime(2026, 3, 1, 10, 40, tzinfo=UTC)
    titles += await queue(app, clock, [1])
    await app.deliver_due()
    assert telegram.to(1001) == [], "held until the hour"
    clock.current = datetime(2026, 3, 1, 11, 0, tzinfo=UTC)
    await app.deliver_due()
    [digest] = telegram.to(1001)
    assert digest["text"].startswith("3 new stories")
    assert [
        line.removeprefix("\u2022 ") for line in digest["text"].split("\n") if line.startswith("\u2022")
    ] == titles
    assert await app.store.count_outbox() == {"sent": 3}


async def test_quiet_hours_hold_alerts_and_release_them_together_but_not_urgent_ones(
    app_with_chats, telegram, clock
):
    app = await app_with_chats([1001])
    await app.store.update_subscription(1, quiet="22:00-07:00 Europe/Paris")
    clock.current = datetime(2026, 3, 1, 22, 30, tzinfo=UTC)  # 23:30 in Paris
    titles = await queue(app, clock, [1], count=2)
    [urgent] = await queue(app, clock, [1], urgent=True)
    await app.deliver_due()
    assert [m["text"].split("\n")[0] for m in telegram.to(1001)] == [urgent], "urgent goes at once"
    clock.current = datetime(2026, 3, 2, 5, 59, tzinfo=UTC)
    await app.deliver_due()
    assert len(telegram.to(1001)) == 1
    clock.current = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)  # 07:00 in Paris
    await app.deliver_due()
    digest = telegram.last()
    assert digest["text"].startswith("2 new stories") and all(t in digest["text"] for t in titles)


def test_release_times():
    at = datetime(2026, 3, 1, 10, 20, tzinfo=UTC)
    assert release_at(at, "instant", None) == at
    assert release_at(at, "hourly", None) == datetime(2026, 3, 1, 11, 0, tzinfo=UTC)
    assert release_at(at, "daily 08:00 America/New_York", None) == datetime(2026, 3, 1, 13, 0, tzinfo=UTC)
    assert release_at(at, "daily 08:00 UTC", "07:00-09:00 UTC") == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert quiet_until(at, "09:00-17:00 UTC") == datetime(2026, 3, 1, 17, 0, tzinfo=UTC)
    assert quiet_until(at, "22:00-07:00 UTC") is None


def test_a_bucket_refills_at_its_rate():
    bucket, now = TokenBucket(Rate(2, 2)), datetime(2026, 3, 1, tzinfo=UTC)
    assert bucket.take(now) and bucket.take(now) and not bucket.take(now)
    assert bucket.take(now + SECOND / 2) and not bucket.take(now + SECOND / 2)


async def test_a_crash_while_delivering_loses_nothing(telegram, tmp_path, feed_server):
    """300 alerts to 100 chats from `newsalert run`, killed with SIGKILL midway and started again."""
    items = "".join(
        f"<item><title>Membership item {i}</title><link>https://news.example/{i}</link>"
        f"<description>Membership plan {i}.</description></item>"
        for i in range(3)
    )
    feed_server.files["/feed.xml"] = (
        f'<rss version="2.0"><channel><title>F</title>{items}</channel></rss>'.encode()
    )
    chats = list(range(3001, 3101))
    config = tmp_path / "newsalert.yaml"
    config.write_text(
        f"database_url: sqlite:///{tmp_path}/newsalert.db\nhttp:\n  host: 127.0.0.1\n  port: 0\n"
        "delivery:\n  lease: 3s\n"
        + chats_config(chats).replace(
            "file:///dev/null", f"{feed_server.url('/feed.xml')}\n    backfill: all"
        ),
        encoding="utf-8",
    )
    env = {**clean_env(), "TELEGRAM_BOT_TOKEN": TOKEN, "NEWSALERT_TELEGRAM_API_URL": telegram.api_url}

    def run() -> Awaitable[asyncio.subprocess.Process]:
        return started("run", "--config", str(config), cwd=tmp_path, env=env)

    first = await run()
    try:
        await asyncio.wait_for(telegram.until(lambda sent: len(sent) >= 100), 60)
        first.send_signal(signal.SIGKILL)
        await first.wait()
        second = await run()
        try:
            await asyncio.wait_for(telegram.until(lambda sent: len(distinct(sent)) >= 300), 120)
            second.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(second.wait(), 15) == 0
        finally:
            if second.returncode is None:
                second.kill()
                await second.wait()
    finally:
        if first.returncode is None:
            first.kill()
            await first.wait()
    assert len(distinct(telegram.sent)) == 300
    sent = [(m["chat"]["id"], m["text"]) for m in telegram.sent]
    assert len(sent) - len(set(sent)) <= 1, "at most the message in flight at the kill is sent twice"


async def test_a_burst_becomes_one_rolling_message_and_normal_alerts_resume(app_with_chats, telegram, clock):
    app = await app_with_chats([1001])
    titles = await queue(app, clock, [1], count=30)
    for _ in range(30):
        await app.deliver_due()
        clock.advance(SECOND)
    messages = telegram.to(1001)
    assert len(messages) == 6, "five alerts, then one rolling message"
    assert [m["text"].split("\n")[0] for m in messages[:5]] == titles[:5]
    rolling = telegram.edits[-1]
    assert rolling["message_id"] == messages[5]["message_id"]
    assert rolling["text"].startswith("Breaking: 25 more stories match Membership")
    assert (
        titles[-1] in rolling["text"] and titles[15] in rolling["text"] and titles[14] not in rolling["text"]
    )
    assert await app.store.count_outbox() == {"sent": 30}

    clock.advance(timedelta(minutes=10))
    [later] = await queue(app, clock, [1])
    await app.deliver_due()
    assert telegram.last()["text"].startswith(later), "the rule was quiet: a normal alert again"


async def test_metrics_count_deliveries_retries_and_latency(app_with_chats, telegram, clock):
    app = await app_with_chats([1001, 1002])
    await app.poll_due()  # file:///dev/null: a poll that fails
    clock.advance(timedelta(minutes=30))
    await queue(app, clock, [1, 2], count=2)
    telegram.too_many = 1
    clock.advance(timedelta(seconds=90))  # published 90 s ago
    await app.deliver_due()
    runner, port = await start_web(build_web_app(app.health, metrics=app.metrics_text), "127.0.0.1", 0)
    try:
        async with ClientSession() as http, http.get(f"http://127.0.0.1:{port}/metrics") as response:
            text = await response.text()
    finally:
        await runner.cleanup()
    assert 'newsalert_alerts_delivered_total{channel="telegram"} 1' in text
    assert 'newsalert_alerts_retried_total{channel="telegram"} 1' in text
    assert 'newsalert_delivery_latency_seconds_bucket{channel="telegram",le="60.0"} 0' in text
    assert 'newsalert_delivery_latency_seconds_bucket{channel="telegram",le="120.0"} 1' in text
    assert "newsalert_outbox_depth 3" in text
    assert "newsalert_poll_duration_seconds_count 1" in text
    assert 'newsalert_feeds_polled_total{outcome="failed"} 1' in text


def distinct(sent: list[dict]) -> set[tuple[int, str]]:
    return {(m["chat"]["id"], m["text"]) for m in sent}
