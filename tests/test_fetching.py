"""Fetching politely: server hints, redirects, 410, failures for a day, limits, as a user sees them."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from email.utils import format_datetime

import pytest
from aiohttp import web

from bot.app import App
from bot.errors import FetchError
from bot.feeds.fetch import USER_AGENT, Fetcher, FetchLimits, open_session
from tests.conftest import SAMPLES, SEED_TITLE

WORLD = (SAMPLES / "world-news.xml").read_bytes()


@pytest.fixture
async def bot(feed_server, make_settings, start_app):
    """A bot with one config feed at /feed.xml (5 minute interval), and its console."""
    feed_server.files["/feed.xml"] = WORLD
    settings = make_settings(
        f"feeds:\n  - url: {feed_server.url('/feed.xml')}\n    name: World Desk\n    backfill: all\n"
        "subscriptions:\n  - channel: console\n    rules: [Membership Action Plan]\n"
    )
    return await start_app(settings)


def answer(status: int, headers: dict[str, str] | None = None):
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, headers=headers)

    return handler


def redirect(kind: type[web.HTTPRedirection], to: str):
    async def handler(request: web.Request) -> web.Response:
        raise kind(to)

    return handler


async def polls_after(app: App, clock, feed_server, minutes: float, path: str = "/feed.xml") -> int:
    clock.advance(timedelta(minutes=minutes))
    before = feed_server.hits(path)
    await app.poll_due()
    return feed_server.hits(path) - before


async def test_max_age_lengthens_the_wait_within_bounds(bot, feed_server, clock):
    app, out = bot
    feed_server.headers["Cache-Control"] = "public, max-age=3600"
    await app.poll_due()
    assert await polls_after(app, clock, feed_server, 30) == 0, "fresh for an hour: not asked again"
    assert await polls_after(app, clock, feed_server, 37) == 1


async def test_retry_after_on_429_is_obeyed(bot, feed_server, clock):
    app, out = bot

    feed_server.handlers["/feed.xml"] = answer(429, {"Retry-After": "1200"})
    assert (await app.poll_due())[0].error == "127.0.0.1 answered HTTP 429"
    assert await polls_after(app, clock, feed_server, 15) == 0, "asked to wait 20 minutes"
    del feed_server.handlers["/feed.xml"]
    assert await polls_after(app, clock, feed_server, 8) == 1
    await app.deliver_due()
    assert f"== {SEED_TITLE}" in out.getvalue()


async def test_a_permanent_redirect_updates_the_feed_address(bot, feed_server, clock):
    app, out = bot

    feed_server.handlers["/feed.xml"] = redirect(web.HTTPMovedPermanently, feed_server.url("/new.xml"))
    feed_server.files["/new.xml"] = WORLD
    await app.poll_due()
    await app.deliver_due()
    assert f"== {SEED_TITLE}" in out.getvalue()
    assert await polls_after(app, clock, feed_server, 6, "/new.xml") == 1
    assert feed_server.hits("/feed.xml") == 1, "the old address is not asked again"


async def test_a_temporary_redirect_keeps_the_address(bot, feed_server, clock):
    app, out = bot

    feed_server.handlers["/feed.xml"] = redirect(web.HTTPFound, feed_server.url("/mirror.xml"))
    feed_server.files["/mirror.xml"] = WORLD
    await app.poll_due()
    assert await polls_after(app, clock, feed_server, 6) == 1


async def test_410_retires_the_feed_and_tells_the_chats(bot, feed_server, clock):
    app, out = bot

    feed_server.handlers["/feed.xml"] = answer(410)
    await app.poll_due()
    await app.deliver_due()
    assert "!! newsalert: The feed World Desk says it is gone for good (HTTP 410)" in out.getvalue()
    assert await polls_after(app, clock, feed_server, 60 * 24 * 7) == 0, "never polled again"


async def test_a_feed_failing_for_a_day_is_reported_once_and_still_retried(bot, feed_server, clock):
    app, out = bot

    feed_server.handlers["/feed.xml"] = answer(500)
    polls = 0
    for _ in range(16):  # two days of backoff: 10 min, 20 min, ... capped at 6 hours
        polls += await polls_after(app, clock, feed_server, 200)
        await app.deliver_due()
    assert polls >= 8, "transient errors never stop polling for good"
    assert out.getvalue().count("!! newsalert: The feed World Desk has been failing since") == 1
    del feed_server.handlers["/feed.xml"]
    await polls_after(app, clock, feed_server, 400)
    await app.deliver_due()
    assert f"== {SEED_TITLE}" in out.getvalue()


async def test_a_server_that_drips_bytes_cannot_hold_a_worker(feed_server):
    async def drip(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        for _ in range(100):
            await response.write(b"<")
            await asyncio.sleep(1)
        return response

    feed_server.handlers["/slow.xml"] = drip
    async with open_session() as session:
        fetcher = Fetcher(session, FetchLimits(read_timeout=0.2, total_timeout=0.5))
        with pytest.raises(FetchError) as caught:
            await fetcher.fetch(feed_server.url("/slow.xml"))
    assert caught.value.kind == "timeout"


async def test_oversized_bodies_and_redirect_loops_are_refused(feed_server):
    feed_server.files["/big.xml"] = b"<" * 300_000

    async def loop(request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop.xml")

    feed_server.handlers["/loop.xml"] = loop
    async with open_session() as session:
        fetcher = Fetcher(session, FetchLimits(max_bytes=100_000))
        with pytest.raises(FetchError) as big:
            await fetcher.fetch(feed_server.url("/big.xml"))
        with pytest.raises(FetchError) as looping:
            await fetcher.fetch(feed_server.url("/loop.xml"))
    assert big.value.kind == "too_large"
    assert looping.value.kind == "redirect" and feed_server.hits("/loop.xml") == 6


async def test_the_user_agent_names_the_bot_its_version_and_where_to_read_about_it(feed_server):
    feed_server.files["/f.xml"] = WORLD
    async with open_session() as session:
        await Fetcher(session).fetch(feed_server.url("/f.xml"))
    agent = feed_server.requests[-1].headers["User-Agent"]
    assert agent == USER_AGENT and agent.startswith("newsalert/0.1.0 (+http")


async def test_a_feed_added_from_a_chat_cannot_reach_internal_addresses(bot, feed_server, clock):
    app, out = bot
    feed_server.files["/internal.xml"] = WORLD
    url = feed_server.url("/internal.xml")
    feed_id, _new = await app.store.add_feed(url, "Sneaky", timedelta(minutes=5), clock.now())
    reports = {r.feed_id: r for r in await app.poll_due()}
    assert reports[feed_id].error == (
        "127.0.0.1 is a loopback address; feeds added from a chat must be on the public internet."
    )
    assert feed_server.hits("/internal.xml") == 0, "refused before any connection"
    assert feed_server.hits("/feed.xml") == 1, "the trusted config feed is fetched as usual"


async def test_the_feeds_own_ttl_is_kept_across_unchanged_polls(bot, feed_server, clock):
    app, out = bot
    feed_server.files["/feed.xml"] = WORLD.replace(b"<language>en</language>", b"<ttl>120</ttl>")
    await app.poll_due()
    assert await polls_after(app, clock, feed_server, 60) == 0, "<ttl>120</ttl>: two hours"
    assert await polls_after(app, clock, feed_server, 66) == 1  # 304 Not Modified this time
    assert await polls_after(app, clock, feed_server, 60) == 0, "still two hours after a 304"


def rss(items: str) -> bytes:
    head = '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Desk</title>'
    return f"{head}{items}</channel></rss>".encode()


def item(n: int, text: str = "Ordinary news.") -> str:
    return f"<item><title>Story {n}</title><guid>tag:desk,{n}</guid><description>{text}</description></item>"


async def test_a_new_entry_with_markup_in_cdata_is_read_whole(bot, feed_server, clock):
    app, out = bot
    feed_server.files["/feed.xml"] = rss(item(1) + item(2))
    await app.poll_due()
    cdata = "<![CDATA[<p>Ignore this </item> then: a Membership Action Plan for Kyiv.</p>]]>"
    feed_server.files["/feed.xml"] = rss(item(3, cdata) + item(1) + item(2))
    assert await polls_after(app, clock, feed_server, 6) == 1
    await app.deliver_due()
    assert "== Story 3" in out.getvalue() and "**Membership Action Plan**" in out.getvalue()


async def test_a_move_does_not_make_old_stories_new_even_with_relative_permalinks(bot, feed_server, clock):
    app, out = bot
    entries = "".join(
        f'<item><title>Story {n}</title><guid isPermaLink="true">/news/{n}</guid></item>' for n in (1, 2)
    )
    feed_server.files["/new.xml"] = rss(entries)

    feed_server.handlers["/feed.xml"] = redirect(web.HTTPMovedPermanently, feed_server.url("/new.xml"))
    await app.poll_due()
    feed_server.files["/new.xml"] = rss(item(3, "A Membership Action Plan.") + entries)
    assert await polls_after(app, clock, feed_server, 6, "/new.xml") == 1
    await app.deliver_due()
    assert out.getvalue().count("== ") == 1 and "== Story 3" in out.getvalue()


async def test_a_restart_after_a_move_keeps_the_new_address_and_alerts_nothing_again(
    bot, feed_server, start_app, clock
):
    app, out = bot

    feed_server.handlers["/feed.xml"] = redirect(web.HTTPMovedPermanently, feed_server.url("/new.xml"))
    feed_server.files["/new.xml"] = WORLD
    await app.poll_due()
    await app.deliver_due()
    again, again_out = await start_app(app.settings)  # the config file still names /feed.xml
    clock.advance(timedelta(minutes=6))
    await again.poll_due()
    await again.deliver_due()
    assert again_out.getvalue() == ""
    assert feed_server.hits("/feed.xml") == 1 and feed_server.hits("/new.xml") == 2


async def test_a_retired_config_feed_stays_retired_across_restarts(bot, feed_server, start_app, clock):
    app, out = bot

    feed_server.handlers["/feed.xml"] = answer(410)
    await app.poll_due()
    await app.deliver_due()
    assert out.getvalue().count("gone for good") == 1
    again, again_out = await start_app(app.settings)
    clock.advance(timedelta(days=1))
    await again.poll_due()
    await again.deliver_due()
    assert feed_server.hits("/feed.xml") == 1 and "gone for good" not in again_out.getvalue()


async def test_absurd_server_hints_are_bounded_not_fatal(bot, feed_server, clock):
    app, out = bot

    feed_server.handlers["/feed.xml"] = answer(503, {"Retry-After": "99999999999999"})
    assert (await app.poll_due())[0].error == "127.0.0.1 answered HTTP 503"
    assert await polls_after(app, clock, feed_server, 23 * 60) == 0, "as long as the maximum bound"
    del feed_server.handlers["/feed.xml"]
    feed_server.headers["Cache-Control"] = "max-age=99999999999999"
    assert await polls_after(app, clock, feed_server, 2 * 60) == 1
    assert (await app.poll_due()) == [] and (await app.store.count_outbox()) == {"pending": 1}


def dated_rss(now: datetime, hours_apart: int, count: int) -> bytes:
    """A feed whose entries came every so many hours, the last one now."""
    dates = [format_datetime(now - timedelta(hours=n * hours_apart), usegmt=True) for n in range(count)]
    return rss(
        "".join(
            f"<item><title>Story {n}</title><guid>tag:desk,{n}</guid><description>News.</description>"
            f"<pubDate>{date}</pubDate></item>"
            for n, date in enumerate(dates)
        )
    )


async def test_adaptive_polling_looks_at_a_slow_feed_less_often_but_not_at_a_fixed_one(
    feed_server, make_settings, start_app, clock
):
    feed_server.files["/slow.xml"] = feed_server.files["/fixed.xml"] = dated_rss(clock.now(), 6, 5)
    app, _ = await start_app(
        make_settings(
            f"polling:\n  adaptive: true\nfeeds:\n  - url: {feed_server.url('/slow.xml')}\n"
            f"  - url: {feed_server.url('/fixed.xml')}\n    interval: 5m\n"
            "subscriptions:\n  - channel: console\n    rules: [Membership Action Plan]\n"
        )
    )
    await app.poll_due()
    assert await polls_after(app, clock, feed_server, 6, "/fixed.xml") == 1, "its own interval, as written"
    assert feed_server.hits("/slow.xml") == 1, "an entry every 6 hours: looked at every 90 minutes"
    assert await polls_after(app, clock, feed_server, 80, "/slow.xml") == 0
    assert await polls_after(app, clock, feed_server, 10, "/slow.xml") == 1  # 304 Not Modified
    assert await polls_after(app, clock, feed_server, 80, "/slow.xml") == 0, "its pace is kept across a 304"
    assert await polls_after(app, clock, feed_server, 30, "/slow.xml") == 1
