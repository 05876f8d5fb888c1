"""Find a site's feed from its page: `<link rel="alternate" type="application/rss+xml">`.

`feed_links` is pure; `find_feed` does one or two fetches through the Fetcher it is given.

Specs: the RSS autodiscovery convention (rssboard.org/rss-autodiscovery) and HTML's
rel="alternate" link type.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from bot.errors import FetchError
from bot.feeds.fetch import Fetcher
from bot.feeds.parse import parse_feed

FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json", "application/json")


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, str]] = []  # (type, href) in page order

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: (value or "") for name, value in attrs}
        rels = values.get("rel", "").lower().split()
        kind = values.get("type", "").lower().split(";")[0].strip()
        if tag in ("link", "a") and "alternate" in rels and kind in FEED_TYPES and values.get("href"):
            self.found.append((kind, values["href"]))


def feed_links(page: str, base_url: str) -> list[str]:
    """The feeds a page announces, absolute, RSS and Atom before JSON, in page order."""
    parser = _Links()
    parser.feed(page)
    parser.close()
    ranked = sorted(parser.found, key=lambda found: FEED_TYPES.index(found[0]) >= 2)
    return list(dict.fromkeys(urljoin(base_url, href) for _, href in ranked))


async def find_feed(fetcher: Fetcher, url: str) -> str:
    """The feed for what a user typed: the address itself if it is a feed, else the feed its page
    announces (checked to be a feed). Raises FetchError with a sentence a chat user can act on."""
    result = await fetcher.fetch(url)
    body = result.body or b""
    if parse_feed(body, result.url, result.content_type).is_feed:
        return result.url
    for link in feed_links(body.decode("utf-8", errors="replace"), result.url)[:3]:
        found = await fetcher.fetch(link)
        if parse_feed(found.body or b"", found.url, found.content_type).is_feed:
            return found.url
    raise FetchError("not_a_feed", f"{urlsplit(url).hostname or url} has no feed that newsalert can find")
