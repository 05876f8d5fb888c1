"""Three `newsalert run` processes on one PostgreSQL database share the work: every alert once,
every feed polled once per interval, and a replica killed with SIGKILL leaves nothing undone."""

from __future__ import annotations

import asyncio
import random
import signal
from collections.abc import Awaitable

import pytest

from bot.store import Store
from tests.conftest import POSTGRES, empty_postgres
from tests.fakes.telegram_api import TOKEN
from tests.test_cli import clean_env, started
from tests.test_delivery import queue

pytestmark = pytest.mark.skipif(not POSTGRES, reason="NEWSALERT_TEST_POSTGRES_URL is not set")

FEEDS, MATCHING, CHATS = 200, 20, 10
WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar".split()


def feed(i: int) -> bytes:
    rng = random.Random(i)  # every story its own text, so that none are taken for one story
    text = " ".join(rng.choice(WORDS) + str(rng.randrange(1000)) for _ in range(40))
    title = f"Membership item {i}" if i < MATCHING else f"Other item {i}"
    link = f"https://news.example/{i}"
    item = (
        f"<item><title>{title}</title><link>{link}</link><description>{title}. {text}.</description></item>"
    )
    return f'<rss version="2.0"><channel><title>Feed {i}</title>{item}</channel></rss>'.encode()


async def test_three_replicas_share_the_work_and_survive_a_kill(telegram, feed_server, tmp_path):
    await empty_postgres(POSTGRES)
    for i in range(FEEDS):
        feed_server.files[f"/f{i}.xml"] = feed(i)
    feeds = "".join(f"  - url: {feed_server.url(f'/f{i}.xml')}\n    backfill: all\n" for i in range(FEEDS))
    subs = "".join(
        f"  - channel: telegram\n    address: '{4001 + c}'\n    rules: [Membership]\n" for c in range(CHATS)
    )
    config = tmp_path / "newsalert.yaml"
    config.write_text(
        f"database_url: {POSTGRES}\nhttp:\n  host: 127.0.0.1\n  port: 0\n"
        "delivery:\n  lease: 3s\n  burst_stories: 1000\n"
        f"feeds:\n{feeds}subscriptions:\n{subs}",
        encoding="utf-8",
    )
    env = {**clean_env(), "TELEGRAM_BOT_TOKEN": TOKEN, "NEWSALERT_TELEGRAM_API_URL": telegram.api_url}

    def replica() -> Awaitable[asyncio.subprocess.Process]:
        return started("run", "--config", str(config), cwd=tmp_path, env=env)

    replicas = [await replica() for _ in range(3)]
    try:
        # Killed amid delivery, once every matching story is stored (one of its alerts went out) and
        # every feed fetched: a feed it had claimed but not fetched would wait out its lease (minutes).
        await asyncio.wait_for(telegram.until(lambda sent: len(stories(sent)) == MATCHING), 90)
        await asyncio.wait_for(feed_server.until(lambda served: len({r.path for r in served}) == FEEDS), 90)
        replicas[0].send_signal(signal.SIGKILL)
        await replicas[0].wait()
        await asyncio.wait_for(telegram.until(lambda sent: len(distinct(sent)) == MATCHING * CHATS), 120)
        for process in replicas[1:]:
            process.send_signal(signal.SIGTERM)
        for process in replicas[1:]:
            assert await asyncio.wait_for(process.wait(), 20) == 0
    finally:
        for process in replicas:
            if process.returncode is None:
                process.kill()
                await process.wait()
    assert len(distinct(telegram.sent)) == MATCHING * CHATS, "every matching story to every chat"
    assert len(telegram.sent) - len(distinct(telegram.sent)) <= 1, "at most the killed one's in-flight, twice"
    assert all(feed_server.hits(f"/f{i}.xml") == 1 for i in range(FEEDS)), "each feed polled once"
    for process in replicas[1:]:
        log = (await process.stderr.read()).decode()
        assert "Traceback" not in log, log


def stories(sent: list[dict]) -> set[str]:
    return {m["text"].split("\n")[0] for m in sent}


def distinct(sent: list[dict]) -> set[tuple[int, str]]:
    return {(m["chat"]["id"], m["text"].split("\n")[0]) for m in sent}


async def test_one_replica_at_a_time_sends_to_telegram(make_settings, start_app, telegram, clock):
    """Telegram's 30 a second are per bot token: a replica that does not hold the sender lock sends
    nothing to Telegram that tick (another one is sending)."""
    await empty_postgres(POSTGRES)
    subs = "".join(
        f"  - channel: telegram\n    address: '{5001 + c}'\n    rules: [Membership]\n" for c in range(3)
    )
    settings = make_settings(
        f"telegram:\n  token: {TOKEN}\n  api_url: {telegram.api_url}\nfeeds:\n  - url: file:///dev/null\n"
        f"subscriptions:\n{subs}",
        {"NEWSALERT_DATABASE_URL": POSTGRES},
    )
    app, _ = await start_app(settings)
    await queue(app, clock, [1, 2, 3])
    other = Store.open(POSTGRES)
    try:
        async with other.exclusive("send:telegram") as sending:
            assert sending
            assert (await app.deliver_due()).sent == 0 and telegram.sent == []
        assert (await app.deliver_due()).sent == 3, "the lock came free: this replica sends"
    finally:
        await other.close()
