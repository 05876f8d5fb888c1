"""Hostile feeds: none can freeze the bot, crash its parser, or cost the other entries and feeds."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from aiohttp import web

from bot.errors import FetchError
from bot.feeds.fetch import fresh_for, retry_after
from bot.feeds.parse import parse_feed, raw_entries, skip_hours
from bot.web import build_web_app, start_web
from tests.fakes.hostile import KINDS, all_kinds_feed, hostile_feed, plain_feed

GOOD = b"<item><title>NATO-Russia Council meets</title><link>https://example.org/nrc</link></item>"
LATER = [  # distinct events, each its own story
    "NATO-Russia Council talks stall over missile defence in Europe",
    "Moscow names a new envoy to the NATO-Russia Council",
    "NATO-Russia Council sets a date for its spring session in Vienna",
]
NEXT_POLL = timedelta(minutes=6)  # the 5-minute interval plus at most 10% jitter
YEAR = 366 * 86400  # seconds: the longest wait a server can ask for
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def rss(items: bytes, channel: bytes = b"", declaration: bytes = b'<?xml version="1.0"?>') -> bytes:
    return (
        declaration + b'<rss version="2.0"><channel><title>Wire</title><link>https://example.org/</link>'
        + channel + items + b"</channel></rss>"
    )  # fmt: skip


@pytest.mark.parametrize(
    "bad",
    [
        b"<item><title>a</title><link>https://example.org/a</link></width></item>",
        b"<item><title>a</title><link>https://example.org/a</link></height></item>",
        b"<item><title>a</title><item<category</entry>></category></item>",
        b"<item><title>a &#xD800; <b></title><link>https://example.org/a</link></item>",  # not well-formed
    ],
)
def test_an_entry_that_breaks_the_parser_is_left_out_and_the_others_are_kept(bad):
    parsed = parse_feed(rss(bad + GOOD), "https://example.org/feed")
    assert [a.title for a in parsed.articles] == ["NATO-Russia Council meets"]
    assert len(parsed.dropped) == 1, "the reason goes to the log"


def test_an_atom_entry_that_breaks_the_parser_leaves_its_neighbours_their_namespace_and_base():
    body = (
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://example.org/news/">'
        b"<title>Wire</title><entry><title>Broken</title></height></entry>"
        b'<entry><title>NATO-Russia Council meets</title><link href="nrc"/><id>urn:nrc</id></entry></feed>'
    )
    parsed = parse_feed(body, "https://example.org/feed")
    assert [(a.title, a.link) for a in parsed.articles] == [
        ("NATO-Russia Council meets", "https://example.org/news/nrc")
    ]
    assert parsed.title == "Wire" and len(parsed.dropped) == 1


def test_a_declaration_that_never_ends_is_read_past():
    body = b"<?" + b'encoding="' * 500 + rss(GOOD).split(b"?>", 1)[1]
    assert [a.title for a in parse_feed(body, "https://example.org/feed").articles] == [
        "NATO-Russia Council meets"
    ]


def test_a_feed_with_kilobytes_before_its_first_element_is_refused_with_the_reason():
    with pytest.raises(FetchError, match="the feed has over 8 KB before its first element"):
        parse_feed(b"\n" * 10_000 + rss(GOOD), "https://example.org/feed")


def test_an_encoding_no_codec_has_is_read_as_the_bytes_allow():
    body = rss(GOOD, declaration=b'<?xml version="1.0" encoding="garbage-\xff-label"?>')
    assert [a.title for a in parse_feed(body, "https://example.org/feed").articles] == [
        "NATO-Russia Council meets"
    ]


def test_numbers_of_thousands_of_digits_are_read_as_the_longest_wait():
    huge = "9" * 5000
    parsed = parse_feed(rss(GOOD, channel=f"<ttl>{huge}</ttl>".encode()), "https://example.org/feed")
    assert parsed.ttl is None and len(parsed.articles) == 1
    assert retry_after(huge, NOW) == YEAR
    assert fresh_for({"Cache-Control": f"max-age={huge}"}, NOW) == timedelta(seconds=YEAR)
    assert retry_after("\u00b2", NOW) is None, "a superscript two is a digit to Python, not to HTTP"


def test_skip_hours_opened_again_and_again_read_the_first_block():
    text = "<skipHours><hour>3</hour>" * 5000 + "</skipHours><skipHours><hour>9</hour></skipHours>"
    assert skip_hours(text) == {3}
    assert skip_hours("<skipHours>" * 5000) == frozenset()


def test_images_never_closed_leave_the_items_link_its_identity():
    item = b"<item><title>x</title><link>https://example.org/1</link>" + b"<image><url>u</url>" * 5000
    entries = raw_entries(rss(item + b"</item>"))
    assert entries and [entry.identity for entry in entries] == ["link:https://example.org/1"]


@pytest.mark.parametrize("kind", KINDS)
def test_each_hostile_kind_keeps_the_good_item(kind):
    parsed = parse_feed(hostile_feed(kind, 100 * 1024), "https://example.org/feed")
    assert "NATO-Russia Council meets again" in [a.title for a in parsed.articles]


# -- the running bot ------------------------------------------------------------------------------


def later(n: int) -> bytes:
    """The good feed with the n-th later story in front."""
    item = f"<item><title>{LATER[n]}</title><link>https://example.org/later-{n}</link></item>"
    return rss(item.encode() + GOOD)


def config(*urls: str, extra: str = "") -> str:
    feeds = "".join(f"  - url: {url}\n    backfill: all\n" for url in urls)
    return f"feeds:\n{feeds}subscriptions:\n  - channel: console\n    rules: [NATO-Russia Council]\n{extra}"


async def test_a_feed_with_a_broken_entry_still_alerts_its_good_ones(
    feed_server, make_settings, start_app, caplog
):
    feed_server.files["/wire.xml"] = rss(b"<item><title>a</title></width></item>" + GOOD)
    app, out = await start_app(make_settings(config(feed_server.url("/wire.xml"))))
    [report] = await app.poll_due()
    await app.deliver_due()
    assert report.error is None
    assert "== NATO-Russia Council meets" in out.getvalue()
    assert "an entry could not be read and was left out (TypeError" in caplog.text


async def test_a_parse_over_the_deadline_fails_as_too_slow_and_backs_off(
    feed_server, make_settings, start_app, clock
):
    feed_server.files["/big.xml"] = plain_feed(200 * 1024)  # big enough for a worker process
    feed_server.files["/wire.xml"] = rss(GOOD)
    settings = make_settings(
        config(
            feed_server.url("/big.xml"),
            feed_server.url("/wire.xml"),
            extra="polling:\n  parse_deadline: 0.001s\n",
        )
    )
    app, out = await start_app(settings)
    reports = await app.poll_due()
    await app.deliver_due()
    assert [r.error for r in reports] == ["parsing took over 0.001 s", None]
    assert "== NATO-Russia Council meets" in out.getvalue()
    clock.advance(NEXT_POLL)
    await app.poll_due()
    assert feed_server.hits("/big.xml") == 1, "a failing feed waits longer than its interval"
    assert feed_server.hits("/wire.xml") == 2


async def test_one_slow_feed_holds_its_worker_not_the_tick(feed_server, make_settings, start_app, clock):
    release = asyncio.Event()

    async def drip(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(body=rss(b""))

    feed_server.handlers["/slow.xml"] = drip
    feed_server.files["/wire.xml"] = rss(GOOD)
    urls = feed_server.url("/slow.xml"), feed_server.url("/wire.xml")
    app, out = await start_app(make_settings(config(*urls, extra="poll_interval: 1m\n")))
    try:
        reports = await app.poll_due(grace=timedelta(0))
        assert [r.feed_id for r in reports] == [2], "the tick returned without the slow feed"
        await app.deliver_due()
        assert "== NATO-Russia Council meets" in out.getvalue()
        feed_server.files["/wire.xml"] = later(0)
        clock.advance(timedelta(minutes=2))  # the wire feed is due again; the slow one's lease still holds
        await app.poll_due(grace=timedelta(0))
        await app.deliver_due()
        assert f"== {LATER[0]}" in out.getvalue(), "the next tick ran meanwhile"
        assert feed_server.hits("/slow.xml") == 1, "still in flight: not claimed twice"
    finally:
        release.set()


async def test_a_hostile_feed_changed_every_poll_never_stops_healthz_or_the_other_feeds(
    feed_server, make_settings, start_app, clock
):
    """400 KB of every hostile kind at once, a new item each poll, beside a good feed: every /healthz
    probe is answered while the polls run, and each of the good feed's stories alerts."""

    async def hostile(request: web.Request) -> web.Response:
        return web.Response(body=all_kinds_feed(400 * 1024, guid=f"hostile-{len(feed_server.requests)}"))

    feed_server.handlers["/hostile.xml"] = hostile
    feed_server.files["/wire.xml"] = rss(GOOD)
    app, out = await start_app(
        make_settings(config(feed_server.url("/hostile.xml"), feed_server.url("/wire.xml")))
    )
    runner, port = await start_web(build_web_app(app.health), "127.0.0.1", 0)
    answered: list[int] = []
    done = asyncio.Event()

    async def probe() -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            while not done.is_set():
                async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    answered.append(response.status)

    prober = asyncio.create_task(probe())
    try:
        for n in range(len(LATER)):
            feed_server.files["/wire.xml"] = later(n)
            await app.poll_due()
            await app.deliver_due()
            clock.advance(NEXT_POLL)
        done.set()
        await asyncio.wait_for(prober, 30)  # a probe left unanswered for 10 s fails here
    finally:
        done.set()
        prober.cancel()
        await runner.cleanup()
    assert len(answered) >= len(LATER) and set(answered) <= {200, 503}
    assert [f"== {title}" in out.getvalue() for title in LATER] == [True] * len(LATER)
    assert feed_server.hits("/hostile.xml") == len(LATER)


async def test_a_page_whose_reading_overruns_the_deadline_leaves_the_item_as_the_feed_gave_it(
    feed_server, make_settings, start_app, caplog
):
    thin = b"<item><title>NATO-Russia Council meets</title><link>%s</link></item>"
    feed_server.files["/page.html"] = (
        b"<html><body><p>" + b"<a href='/x'>a</a> " * 20_000 + b"</p></body></html>"
    )
    feed_server.files["/wire.xml"] = rss(thin % feed_server.url("/page.html").encode())
    extra = "summary:\n  fetch_pages: always\npolling:\n  parse_deadline: 0.001s\n"
    caplog.set_level(logging.INFO, logger="bot.feeds.extract")
    app, out = await start_app(make_settings(config(feed_server.url("/wire.xml"), extra=extra)))
    [report] = await app.poll_due()
    await app.deliver_due()
    assert report.error is None and feed_server.hits("/page.html") == 1
    assert "== NATO-Russia Council meets" in out.getvalue()
    assert "not read: parsing took over 0.001 s" in caplog.text
