"""Find a site's feed from its page: `<link rel="alternate" type="application/rss+xml">`.

`feed_links` is pure; `find_feed` does one or two fetches through the Fetcher it is given, and
parses what they bring through Parsers (off the event loop).

Specs: the RSS autodiscovery convention (rssboard.org/rss-autodiscovery) and HTML's
rel="alternate" link type.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urljoin, urlsplit

import lxml.etree
import lxml.html

from bot.errors import FetchError
from bot.feeds.fetch import Fetcher
from bot.feeds.parsers import Parsers

FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json", "application/json")
_PARSER = lxml.html.HTMLParser(no_network=True)


def feed_links(page: bytes, base_url: str) -> list[str]:
    """The feeds a page announces, absolute, RSS and Atom before JSON, in page order. lxml reads the
    page: in time linear in its size, whatever it holds."""
    try:
        root = lxml.html.document_fromstring(page, parser=_PARSER)
    except (lxml.etree.ParserError, ValueError):  # an empty page, or one lxml makes nothing of
        return []
    found = []
    for link in root.iter("link", "a"):
        rels = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").lower().split(";")[0].strip()
        if "alternate" in rels and kind in FEED_TYPES and link.get("href"):
            found.append((kind, link.get("href")))
    ranked = sorted(found, key=lambda each: FEED_TYPES.index(each[0]) >= 2)
    return list(dict.fromkeys(urljoin(base_url, href) for _, href in ranked))


async def find_feed(fetcher: Fetcher, parsers: Parsers, url: str) -> str:
    """The feed for what a user typed: the address itself if it is a feed, else the feed its page
    announces (checked to be a feed). Raises FetchError with a sentence a chat user can act on."""
    result = await fetcher.fetch(url)
    body = result.body or b""
    if (await parsers.parse(body, result.url, result.content_type)).is_feed:
        return result.url
    for link in (await asyncio.to_thread(feed_links, body, result.url))[:3]:
        found = await fetcher.fetch(link)
        if (await parsers.parse(found.body or b"", found.url, found.content_type)).is_feed:
            return found.url
    raise FetchError("not_a_feed", f"{urlsplit(url).hostname or url} has no feed that newsalert can find")
