"""Finding a site's feed from the address a user typed."""

import pytest

from bot.errors import FetchError
from bot.feeds.discover import feed_links, find_feed
from bot.feeds.fetch import Fetcher, open_session
from bot.feeds.parsers import Parsers
from tests.conftest import SAMPLES

PAGE = b"""<!doctype html><html><head><title>World Desk</title>
<link rel="stylesheet" href="/site.css">
<link rel="alternate" type="application/feed+json" href="/feed.json">
<LINK REL="Alternate" TYPE="application/rss+xml" HREF="/rss/world.xml" title="World">
</head><body><p>News</p></body></html>"""


def test_announced_feeds_are_found_absolute_rss_and_atom_first():
    assert feed_links(PAGE, "https://world.example.org/news/") == [
        "https://world.example.org/rss/world.xml",
        "https://world.example.org/feed.json",
    ]
    assert feed_links(b"<html><body>no feeds here</body></html>", "https://x.test/") == []
    assert feed_links(b"", "https://x.test/") == []


async def test_a_site_address_leads_to_its_feed(feed_server):
    feed_server.files["/"] = PAGE
    feed_server.files["/rss/world.xml"] = (SAMPLES / "world-news.xml").read_bytes()
    async with open_session() as session:
        fetcher = Fetcher(session)
        assert await find_feed(fetcher, Parsers(), feed_server.url("/")) == feed_server.url("/rss/world.xml")
        feed = feed_server.url("/rss/world.xml")
        assert await find_feed(fetcher, Parsers(), feed) == feed


async def test_a_page_without_a_feed_says_so(feed_server):
    feed_server.files["/"] = b"<html><head><title>Nothing</title></head><body>Hello</body></html>"
    async with open_session() as session:
        with pytest.raises(FetchError) as caught:
            await find_feed(Fetcher(session), Parsers(), feed_server.url("/"))
    assert str(caught.value) == "127.0.0.1 has no feed that newsalert can find"
