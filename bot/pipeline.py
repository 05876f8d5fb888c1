"""Poll one feed end to end: fetch -> parse -> keep new -> match -> summarize -> outbox rows.

Reads top to bottom: the decisions are the pure functions above `poll_feed`, the I/O is in it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.domain import Article, Clock, Feed, FeedUpdate, Match, NewStory, Rule, StoryAlert
from bot.errors import FetchError, QueryError
from bot.feeds.fetch import Fetcher
from bot.feeds.parse import parse_feed
from bot.feeds.schedule import next_check_at
from bot.rules.index import Document, RuleIndex
from bot.rules.query import parse_rule
from bot.rules.text import DEFAULT_LANGUAGE
from bot.store import Store
from bot.summary import clean_body, lead_summary, quote_match

log = logging.getLogger(__name__)


class Matcher:
    """Every active rule compiled once into one index, kept in step with the store's rules."""

    def __init__(self, language: str = DEFAULT_LANGUAGE):
        self.language = language
        self.index = RuleIndex(language=language)
        self.rules: dict[int, Rule] = {}

    def sync(self, rules: Iterable[Rule]) -> None:
        """Add what is new, drop what is gone; unchanged rules are not compiled again."""
        wanted = {rule.id: rule for rule in rules}
        for rule_id in self.rules.keys() - wanted.keys():
            self.index.remove(rule_id)
            del self.rules[rule_id]
        for rule_id, rule in wanted.items():
            if self.rules.get(rule_id) != rule:
                self._add(rule)
        if self.index.needs_compacting:
            self.index.compact()

    def _add(self, rule: Rule) -> None:
        try:
            self.index.add(rule.id, parse_rule(rule.query, self.language))
            self.rules[rule.id] = rule
        except QueryError as error:  # saved before a language change, say: skip, keep going
            log.warning("rule %s skipped: %s", rule.id, error)

    def alerts(self, doc: Document) -> tuple[StoryAlert, ...]:
        by_subscription: dict[int, list[Match]] = defaultdict(list)
        for rule_id, hit in self.index.match(doc).items():
            rule = self.rules[rule_id]
            quote = quote_match(doc.body if hit.field == "body" else doc.title, hit.spans)
            by_subscription[rule.subscription_id].append(Match(rule_id, rule.query, quote))
        return tuple(StoryAlert(sub, tuple(matches)) for sub, matches in sorted(by_subscription.items()))


def fresh_articles(items: Sequence[Article], known: set[str]) -> list[Article]:
    """Items whose identity the feed has not had; repeats within the batch dropped."""
    seen = set(known)
    fresh = []
    for item in items:
        if item.identity not in seen:
            fresh.append(item)
            seen.add(item.identity)
    return fresh


def first_alerting(count: int, feed: Feed) -> int:
    """Index of the first of `count` new items (oldest first) that may alert.

    On a feed's first poll only the newest `backfill` entries may alert, so adding a feed
    does not flood its subscribers with the backlog; afterwards every new entry may.
    """
    if feed.polled or feed.backfill is None:
        return 0
    return max(0, count - feed.backfill)


def prepare_story(
    article: Article, feed_name: str, matcher: Matcher, max_words: int, may_alert: bool
) -> NewStory:
    body = clean_body(article.title, article.text)
    doc = Document(article.title, body, feed_name, article.link)
    alerts = matcher.alerts(doc) if may_alert else ()
    return NewStory(article, body, lead_summary(body, max_words), alerts)


@dataclass(frozen=True)
class PollReport:
    feed_id: int
    new: int = 0
    alerts: int = 0
    error: str | None = None


async def poll_feed(
    feed: Feed, *, fetcher: Fetcher, store: Store, matcher: Matcher, clock: Clock, max_words: int
) -> PollReport:
    try:
        result = await fetcher.fetch(feed.url, feed.etag, feed.last_modified)
        body_hash = hashlib.sha256(result.body).hexdigest() if result.body is not None else feed.body_hash
        stories, title = [], ""
        if result.body is not None and body_hash != feed.body_hash:
            parsed = await asyncio.to_thread(parse_feed, result.body, feed.url)
            if not parsed.is_feed:
                raise FetchError("parse", f"not a feed: {parsed.bozo}")
            title = parsed.title
            fresh = fresh_articles(parsed.articles, await store.known_articles(feed.id, parsed.articles))
            start = first_alerting(len(fresh), feed)
            name = feed.name or parsed.title
            stories = [prepare_story(a, name, matcher, max_words, i >= start) for i, a in enumerate(fresh)]
    except FetchError as error:
        return await _failed(feed, str(error), store, clock)
    except Exception as error:  # a feed that breaks the parser is a bad feed, not a stopped bot
        log.exception("feed %s (%s) could not be processed", feed.id, display_url(feed))
        return await _failed(feed, f"could not process the feed: {type(error).__name__}", store, clock)
    now = clock.now()
    state = FeedUpdate(result.etag, result.last_modified, body_hash, next_check_at(now, feed.interval), title)
    await store.save_poll(feed, stories, state, now)
    return PollReport(feed.id, len(stories), sum(len(s.alerts) for s in stories))


async def _failed(feed: Feed, error: str, store: Store, clock: Clock) -> PollReport:
    log.warning("feed %s (%s) failed: %s", feed.id, display_url(feed), error)
    await store.record_feed_failure(
        feed, error, next_check_at(clock.now(), feed.interval, feed.error_count + 1)
    )
    return PollReport(feed.id, error=error)


def display_url(feed: Feed) -> str:
    """The feed for a log line: its name, or its URL without query or credentials (tokens live there)."""
    parts = urlsplit(feed.url)
    return feed.name or f"{parts.scheme}://{parts.hostname or ''}{parts.path}"
