"""Thin feeds: when an item says too little, its page is fetched and reduced to its main text."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import urlsplit

from bot.dedupe import canonical_url
from bot.domain import Article, Clock
from bot.errors import FetchError
from bot.feeds.fetch import Fetcher
from bot.feeds.parsers import Parsers

log = logging.getLogger(__name__)

Mode = Literal["never", "auto", "always"]
THIN_WORDS = 40  # an item with fewer words than this is thin: its page probably says more
CACHE_SIZE = 2000  # pages, by URL
CONCURRENT_PAGES = 4
HOST_PAUSE = timedelta(minutes=10)  # a site that cannot be reached is not tried again meanwhile
_UNREACHABLE = frozenset({"network", "timeout"})  # FetchError kinds that say the site, not the page


def wants_page(article: Article, mode: Mode) -> bool:
    """Whether to read the item's page: never, always, or (auto) when the item itself is thin."""
    if mode == "never" or not article.link.startswith(("http://", "https://")):
        return False
    return mode == "always" or len(article.text.split()) < THIN_WORDS


def main_text(page: bytes, url: str) -> str | None:
    """A web page's main text (the article, without menus, comments and footers), or None."""
    import trafilatura  # here, in the worker that reads pages: 0.1 s to load, and `check` never needs it

    return trafilatura.extract(
        page, url=url, include_comments=False, include_tables=False, favor_precision=True, deduplicate=True
    )


class PageReader:
    """Fills thin items with their page's main text; each page is fetched once (cached by URL)."""

    def __init__(self, mode: Mode, clock: Clock | None = None, parsers: Parsers | None = None):
        self.mode = mode
        self.clock = clock
        self.parsers = parsers or Parsers()  # pages are read off the event loop, with a deadline
        self._cache: OrderedDict[str, str | None] = OrderedDict()
        self._limit = asyncio.Semaphore(CONCURRENT_PAGES)
        self._paused: dict[str, datetime] = {}  # host -> when to try it again

    async def fill(self, fetcher: Fetcher, articles: Sequence[Article]) -> list[Article]:
        """The articles, those that want it with their page's text when it says more than they do.

        `fetcher` is the one their feed came through (guarded for a feed added from a chat)."""
        return list(await asyncio.gather(*(self._fill(fetcher, a) for a in articles)))

    async def _fill(self, fetcher: Fetcher, article: Article) -> Article:
        if not wants_page(article, self.mode):
            return article
        text = await self._page_text(fetcher, article.link)
        if text and len(text.split()) > len(article.text.split()):
            return replace(article, text=text)
        return article

    async def _page_text(self, fetcher: Fetcher, url: str) -> str | None:
        key = canonical_url(url)  # the same page however it is linked (tracking, fragment, AMP)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        host = urlsplit(url).hostname or ""
        text = None
        async with self._limit:
            if self._is_paused(host):  # asked when its turn comes: the site may have failed meanwhile
                return None  # its alert goes out now with the item's own text, not after a timeout
            try:
                page = await fetcher.fetch(url)
                text = await self.parsers.page_text(page.body or b"", page.url)
            except FetchError as error:  # the item as the feed gave it is still worth an alert
                log.info("page %s not read: %s", url, error)
                if self.clock and error.kind in _UNREACHABLE:
                    now = self.clock.now()
                    self._paused = {h: at for h, at in self._paused.items() if at > now}
                    self._paused[host] = now + HOST_PAUSE
        self._cache[key] = text
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return text

    def _is_paused(self, host: str) -> bool:
        if self.clock is None:
            return False
        now = self.clock.now()
        return self._paused.get(host, now) > now
