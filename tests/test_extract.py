"""Thin feeds: an item of a line or two gets its page's main text, fetched once, never for the
backlog, and a page that cannot be read leaves the item as the feed gave it."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.domain import Article
from bot.feeds.extract import CONCURRENT_PAGES, HOST_PAUSE, THIN_WORDS, main_text, wants_page

LEAD = (
    "NATO foreign ministers agreed on Tuesday to gradually resume formal contacts with Russia, "
    "suspended since the war in Georgia in August."
)
PARAGRAPHS = [
    LEAD,
    "The decision, reached at a meeting in Brussels, reopens the NATO-Russia Council, the forum where "
    "the alliance and Moscow discuss security questions of common concern.",
    "Several ministers said the alliance could not ignore Russia, a neighbour and a major power, even while "
    "it disagreed strongly with its actions in Georgia and its recognition of two breakaway regions.",
    "Germany and France had pressed for the contacts to resume, while Lithuania and Poland argued for a "
    "harder line until Russian troops withdrew to their positions before the war.",
]
PAGE = (
    "<html><head><title>NATO to resume Russia contacts</title></head><body>"
    "<nav><a href='/'>Home</a> | <a href='/world'>World</a> | <a href='/sport'>Sport</a></nav>"
    "<article><h1>NATO to resume Russia contacts</h1>"
    + "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    + "</article><footer>Copyright 2008 Example News. All rights reserved. Privacy | Terms</footer>"
    "<div class='comments'><p>Great article, thanks!</p></div></body></html>"
).encode()


def feed(items: list[tuple[str, str]]) -> bytes:
    entries = "".join(
        f"<item><title>NATO to resume Russia contacts</title><link>{link}</link><guid>{link}</guid>"
        f"<description>{text}</description></item>"
        for link, text in items
    )
    channel = f"<channel><title>Thin</title>{entries}</channel>"
    return f'<?xml version="1.0"?><rss version="2.0">{channel}</rss>'.encode()


def test_only_thin_items_with_web_links_want_their_page():
    thin = Article("T", "https://example.org/a", None, "NATO agrees. More soon.", None, "h")
    full = Article("T", "https://example.org/a", None, "word " * THIN_WORDS, None, "h")
    assert wants_page(thin, "auto") and not wants_page(full, "auto")
    assert wants_page(full, "always") and not wants_page(thin, "never")
    assert not wants_page(Article("T", "file:///tmp/a.html", None, "x", None, "h"), "always")


def test_the_main_text_leaves_menus_footers_and_comments_out():
    text = main_text(PAGE, "https://example.org/a")
    assert text and text.split("\n")[:2] == ["NATO to resume Russia contacts", LEAD]
    assert "Sport" not in text and "Copyright" not in text and "Great article" not in text


@pytest.fixture
def thin_feed(feed_server, make_settings, start_app):
    async def start(mode: str = "auto"):
        feed_server.files["/feed.xml"] = feed([])
        feed_server.files["/story"] = PAGE
        settings = make_settings(
            f"summary:\n  fetch_pages: {mode}\n"
            f"feeds:\n  - url: {feed_server.url('/feed.xml')}\n    name: Thin\n"
            "subscriptions:\n  - channel: console\n    rules: [NATO-Russia Council]\n"
        )
        app, out = await start_app(settings)
        await app.poll_due()
        return app, out

    return start


async def publish(app, feed_server, clock, items) -> None:
    feed_server.files["/feed.xml"] = feed(items)
    clock.advance(timedelta(minutes=6))
    await app.poll_due()
    await app.deliver_due()


async def test_a_thin_item_alerts_with_its_pages_text_fetched_once(thin_feed, feed_server, clock):
    app, out = await thin_feed()
    link = feed_server.url("/story")
    await publish(app, feed_server, clock, [(link, "NATO ministers met in Brussels.")])
    text = out.getvalue()
    assert text.count("== ") == 1, "the rule matched the page's text, not the one-line item"
    assert LEAD in text and "**NATO-Russia Council**" in text
    await publish(app, feed_server, clock, [(link + "#again", "Same page."), (link, "NATO ministers met.")])
    assert feed_server.hits("/story") == 1, "a page is read once"


async def test_never_reads_pages(thin_feed, feed_server, clock):
    app, out = await thin_feed("never")
    await publish(app, feed_server, clock, [(feed_server.url("/story"), "NATO ministers met in Brussels.")])
    assert feed_server.hits("/story") == 0 and out.getvalue() == ""


async def test_an_unreadable_page_leaves_the_item_as_it_was(thin_feed, feed_server, clock):
    app, out = await thin_feed()
    await publish(app, feed_server, clock, [(feed_server.url("/gone"), "The NATO-Russia Council meets.")])
    assert "The **NATO-Russia Council** meets." in out.getvalue()


async def test_the_backlog_of_a_new_feed_is_not_read(feed_server, make_settings, start_app):
    feed_server.files["/feed.xml"] = feed([(feed_server.url("/story"), "NATO ministers met.")])
    feed_server.files["/story"] = PAGE
    settings = make_settings(f"feeds:\n  - url: {feed_server.url('/feed.xml')}\n")
    app, _out = await start_app(settings)
    await app.poll_due()
    assert feed_server.hits("/story") == 0


async def test_a_site_that_cannot_be_reached_is_not_tried_for_every_item(thin_feed, feed_server, clock):
    """Its items alert at once with their own text, instead of each waiting for a failed fetch."""
    connections = []

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        writer.close()

    site = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    base = f"http://127.0.0.1:{site.sockets[0].getsockname()[1]}"
    try:
        app, out = await thin_feed()
        await publish(app, feed_server, clock, [(f"{base}/a", "The NATO-Russia Council meets.")])
        tried = per_page = len(connections)  # (the client tries a dropped connection twice)
        await publish(app, feed_server, clock, [(f"{base}/b", "The NATO-Russia Council met again.")])
        assert tried >= 1 and len(connections) == tried, "the second page is not tried"
        assert "The **NATO-Russia Council** meets." in out.getvalue(), "it alerted with its own text"
        clock.advance(HOST_PAUSE)
        await publish(app, feed_server, clock, [(f"{base}/c", "The NATO-Russia Council met once more.")])
        assert len(connections) > tried, "the site is tried again after a pause"
        clock.advance(HOST_PAUSE)
        tried = len(connections)
        items = [(f"{base}/many{i}", f"The NATO-Russia Council met, take {i}.") for i in range(12)]
        await publish(app, feed_server, clock, items)
        assert len(connections) - tried <= per_page * CONCURRENT_PAGES, (
            "items waiting their turn are not tried"
        )
    finally:
        site.close()
        await site.wait_closed()
