"""Poll one feed end to end: fetch -> parse -> keep new -> match -> summarize -> outbox rows.

Reads top to bottom: the decisions are the pure functions above `Poller`, the I/O is in it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from bot.dedupe import (
    FEED_ITEMS,
    canonical_url,
    feed_parameters,
    shared_parameters,
    story_key,
    without_own_name,
)
from bot.domain import (
    Article,
    Clock,
    Feed,
    FeedUpdate,
    Match,
    NewStory,
    Pace,
    Rule,
    Span,
    StoryAlert,
    StoryDecider,
)
from bot.errors import FetchError, QueryError
from bot.feeds.extract import PageReader
from bot.feeds.fetch import Fetcher, FetchResult
from bot.feeds.parse import ParsedFeed, RawEntry, only_entries, raw_entries
from bot.feeds.parsers import Parsers
from bot.feeds.schedule import Bounds, Hints, next_check_at, paced, posting_gap
from bot.feeds.websub import HubLinks, hub_links
from bot.rules.index import Document, RuleIndex
from bot.rules.query import parse_rule
from bot.rules.text import DEFAULT_LANGUAGE
from bot.stories import Stories
from bot.summary import clean_body, summarize
from bot.summary.embeddings import story_text
from bot.summary.lead import Quotable, quote_terms

if TYPE_CHECKING:  # only named here: `check` polls without a database or a model, and starts faster
    from bot.store import Store
    from bot.summary.embeddings import Embedder
    from bot.summary.llm import LlmSummarizer

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
        return self.match(doc)[0]

    def match(self, doc: Document) -> tuple[tuple[StoryAlert, ...], set[Span]]:
        """The document's alerts, and the spans of its body that any rule matched: what its summary keeps."""
        by_subscription: dict[int, list[Match]] = defaultdict(list)
        body, title = Quotable(doc.body), Quotable(doc.title)  # each split once, however many rules quote it
        matched: set[Span] = set()
        for rule_id, hit in self.index.match(doc).items():
            rule = self.rules[rule_id]
            # the body before the title (which the alert shows anyway), unless the body has none of the words
            texts = {"body": body, "title": title} if hit.field == "body" else {"title": title, "body": body}
            quote = quote_terms(texts, hit.required, ((hit.field, start, end) for start, end in hit.spans))
            by_subscription[rule.subscription_id].append(Match(rule_id, rule.query, quote))
            matched.update(hit.spans if hit.field == "body" else ())
            matched.update((s, e) for term in hit.required for field, s, e in term if field == "body")
        alerts = tuple(
            StoryAlert(sub, tuple(matches), any(self.rules[m.rule_id].urgent for m in matches))
            for sub, matches in sorted(by_subscription.items())
        )
        return alerts, matched


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
    article: Article,
    feed_name: str,
    matcher: Matcher,
    max_words: int,
    may_alert: bool,
    feed_params: Collection[str] = (),
) -> NewStory:
    """The article cleaned, matched and summarized. Its link loses what does not name the page
    (dedupe.canonical_url, less feed_params: those its feed puts on every link), for its alert, its
    story and `link:` rules alike."""
    body = clean_body(article.title, article.text)
    link = canonical_url(article.link, feed_params)
    doc = Document(article.title, body, feed_name, link)
    alerts, matched = matcher.match(doc) if may_alert else ((), set())
    key = story_key(link, article.title, body, feed_name, matcher.language)
    # every article gets one: it may become the face of a story that another article's rule matched
    summary = summarize(body, max_words, keep=matched)
    return NewStory(article, body, summary, alerts, key, link)


def parameters_in_entries(body: bytes, entries: Sequence[RawEntry], links: Sequence[str]) -> frozenset[str]:
    """dedupe.feed_parameters when only some entries were parsed (these links): those parameters of
    theirs that every entry of the feed (at least FEED_ITEMS) has in its XML, spelled as the links
    spell them and standing alone there (after ?, & or &amp;, before the link ends). A shadow of the
    whole parse's answer: tests/test_dedupe.py holds the links shown either way equal."""
    if len(entries) < FEED_ITEMS:
        return frozenset()
    return frozenset(
        p
        for p in shared_parameters(links)
        if all(_stands_in(body, *entry.span, p.encode()) for entry in entries)
    )


_ENDS_A_LINK = frozenset(b"&#<\"' \t\r\n]")


def _stands_in(body: bytes, start: int, end: int, parameter: bytes) -> bool:
    at = body.find(parameter, start, end)
    while at >= 0:
        after = at + len(parameter)
        if at > start and body[at - 1] in b"?&;" and (after == end or body[after] in _ENDS_A_LINK):
            return True
        at = body.find(parameter, at + 1, end)
    return False


@dataclass(frozen=True)
class PollReport:
    feed_id: int
    new: int = 0
    alerts: int = 0
    error: str | None = None
    unrecorded: FeedUpdate | None = None  # nothing new: the new state is still to be stored
    hub: HubLinks | None = None  # the WebSub hub the feed names (looked for when Poller.find_hubs)


FAILING_NOTICE_AFTER = timedelta(days=1)
LONGEST_WAIT = 366 * 86400  # seconds: no server hint is taken beyond a year (the bounds cut it further)


def failure_notice(feed: Feed, now: datetime, error: str) -> str | None:
    """The one message to send when a feed has been failing for a day; None otherwise."""
    since = feed.failing_since or now
    if feed.failure_noticed or now - since < FAILING_NOTICE_AFTER:
        return None
    return (
        f"The feed {display_url(feed)} has been failing since {since:%Y-%m-%d %H:%M} UTC ({error}). "
        "newsalert keeps retrying and will say nothing more until it works again."
    )


def gone_notice(feed: Feed) -> str:
    return (
        f"The feed {display_url(feed)} says it is gone for good (HTTP 410), so newsalert stopped polling it."
    )


def log_dropped(feed: str, parsed: ParsedFeed) -> None:
    for reason in parsed.dropped:
        log.warning("feed %s: an entry could not be read and was left out (%s)", feed, reason)


def display_url(feed: Feed) -> str:
    """The feed for a message or log line: its name, or its URL without query or credentials."""
    parts = urlsplit(feed.url)
    return feed.name or f"{parts.scheme}://{parts.hostname or ''}{parts.path}"


@dataclass(frozen=True)
class Poller:
    """Polls one feed end to end: fetch, parse, keep new, match, summarize, outbox rows."""

    fetcher: Fetcher  # for the config file's feeds (trusted)
    guarded: Fetcher  # for feeds added from a chat: SSRF guard on every hop
    store: Store
    matcher: Matcher
    clock: Clock
    max_words: int = 60
    bounds: Bounds = Bounds()
    pages: PageReader = PageReader("never")
    llm: LlmSummarizer | None = None  # summary.llm: the alerting stories' summaries by a model
    adaptive: bool = False  # polling.adaptive: feeds without an interval of their own follow their pace
    parsers: Parsers = field(default_factory=Parsers)  # big bodies parsed in worker processes
    stories: StoryDecider = Stories()  # which story each new article joins (stories.window)
    # summary.llm.embeddings_model: each new article's embedding, which the story decider compares too
    embedder: Embedder | None = None
    find_hubs: bool = False  # http.public_url is set: a hub the feed names is reported, to subscribe

    async def poll(self, feed: Feed, pushed: FetchResult | None = None) -> PollReport:
        """Poll the feed; or take `pushed`, a body its WebSub hub sent, as a fetched one without the fetch
        (the push path answers its errors: they are not the feed's failures)."""
        try:
            fetcher = self.fetcher if feed.trusted else self.guarded
            result = pushed or await fetcher.fetch(feed.url, feed.etag, feed.last_modified)
            hub = hub_links(result.body, result.links, result.url) if self.find_hubs and not pushed else None
            body_hash = hashlib.sha256(result.body).hexdigest() if result.body is not None else feed.body_hash
            stories, title, seen = [], "", None
            ttl, hours = feed.ttl, feed.skip_hours  # what the feed said last time, unless it says anew
            if result.body is not None and body_hash != feed.body_hash:  # unchanged bodies are not parsed
                parsed, only_new, feed_params, seen = await self._parse_new(feed, result)
                if parsed is not None:
                    title, stories = parsed.title, await self._stories(feed, parsed, only_new, feed_params)
                    ttl, hours = parsed.ttl, parsed.skip_hours
        except FetchError as error:
            if pushed:
                raise
            return await self._failed(feed, error)
        except Exception as error:  # a feed that breaks the parser is a bad feed, not a stopped bot
            from bot.store.problems import from_the_database  # loaded already where a Poller runs

            if pushed or from_the_database(error):  # not the feed's failure: the caller answers for it
                raise
            log.exception("feed %s (%s) could not be processed", feed.id, display_url(feed))
            return await self._failed(
                feed, FetchError("parse", f"could not process the feed: {type(error).__name__}")
            )
        now = self.clock.now()
        pace = self._pace(feed, stories, now)
        gap = posting_gap(pace, now) if pace else None
        hints = Hints(fresh_for=result.fresh_for, ttl=ttl, skip_hours=hours, posting_gap=gap)
        at = next_check_at(now, feed.interval, feed_id=feed.id, hints=hints, bounds=self.bounds)
        state = FeedUpdate(
            result.etag, result.last_modified, body_hash, at, title, result.moved_to, ttl, hours, pace, seen
        )
        if not stories:  # the caller records these together, one transaction a tick
            return PollReport(feed.id, unrecorded=state, hub=hub)
        await self.store.save_poll(feed, stories, state, now, self.stories)
        return PollReport(feed.id, len(stories), sum(len(s.alerts) for s in stories), hub=hub)

    def _pace(self, feed: Feed, stories: Sequence[NewStory], now: datetime) -> Pace | None:
        """The feed's pace with this poll's new entries (one without a date counts when it was found),
        while polling adapts to it; None otherwise."""
        if not self.adaptive or feed.fixed_interval:
            return None
        return paced(feed.pace, (story.article.published_at or now for story in stories), now)

    async def _parse_new(
        self, feed: Feed, result: FetchResult
    ) -> tuple[ParsedFeed | None, bool, frozenset[str], tuple[str, ...]]:
        """The feed parsed, or only its new entries when they can be told apart cheaply (most changed
        bodies bring a few new entries, or none: just a new lastBuildDate); None: none new. True when
        only the new entries were parsed (already checked against the store). Then the parameters
        every link of the feed has (dedupe.feed_parameters), found in all its entries; and the
        identities of all its entries (what the feed still has: store/retention.py keeps them)."""
        body = result.body or b""
        # Relative links and permalinks resolve against where the feed was fetched: after a move,
        # the same address as before it (the redirect's target), so identities do not change.
        parse = partial(self.parsers.parse, url=result.url, content_type=result.content_type)
        entries = await asyncio.to_thread(raw_entries, body) if feed.polled else None
        if entries is not None:
            seen = tuple(entry.identity for entry in entries)
            known = await self.store.known_identities(feed.id, seen)
            new = [entry for entry in entries if entry.identity not in known]
            if not new:
                return None, False, frozenset(), seen
            if len(new) < len(entries):
                part = await parse(only_entries(body, entries, new))
                if {a.identity for a in part.articles} == {entry.identity for entry in new}:
                    log_dropped(display_url(feed), part)
                    links = [a.link for a in part.articles]
                    return part, True, parameters_in_entries(body, entries, links), seen  # else read it all
        parsed = await parse(body)
        if not parsed.is_feed:
            raise FetchError("parse", f"not a feed: {parsed.bozo}")
        log_dropped(display_url(feed), parsed)
        seen = tuple(article.identity for article in parsed.articles)
        return parsed, False, feed_parameters([a.link for a in parsed.articles]), seen

    async def _stories(
        self, feed: Feed, parsed: ParsedFeed, only_new: bool, feed_params: frozenset[str]
    ) -> list[NewStory]:
        known = set() if only_new else await self.store.known_articles(feed.id, parsed.articles)
        fresh = fresh_articles(parsed.articles, known)
        start = first_alerting(len(fresh), feed)  # the backlog before it is stored, not read further
        fetcher = self.fetcher if feed.trusted else self.guarded
        if not feed.url.startswith("file:"):  # a feed read from a file (the samples) stays offline
            fresh[start:] = await self.pages.fill(fetcher, fresh[start:])
        # Cleaning, summarizing and matching take CPU: off the event loop, like parsing.
        name = feed.name or parsed.title
        stories = await asyncio.to_thread(self._prepare, name, fresh, start, feed_params)
        if self.llm:  # only for stories someone will read: the budget is for alerts
            alerting = [i for i, story in enumerate(stories) if story.alerts]
            summarized = await asyncio.gather(*(self._llm_summary(stories[i]) for i in alerting))
            for i, story in zip(alerting, summarized, strict=True):
                stories[i] = story
        if self.embedder and stories:
            stories = await self._embedded(name, stories)
        return stories

    async def _embedded(self, feed_name: str, stories: list[NewStory]) -> list[NewStory]:
        """The new articles with their embeddings (of embeddings.story_text), for the story step; as
        they were when the endpoint or the cache fails: their words alone decide, nothing is held back."""
        assert self.embedder
        language = self.matcher.language
        texts = [story_text(without_own_name(s.article.title, feed_name, language), s.body) for s in stories]
        try:
            made = await self.embedder.embeddings(texts, self.clock.now())
        except Exception:  # the cache's database, say: the story step goes on without
            log.exception("embeddings failed; the words alone decide this poll's stories")
            return stories
        if made is None:
            return stories
        return [replace(s, embedding=e) for s, e in zip(stories, made, strict=True)]

    async def _llm_summary(self, story: NewStory) -> NewStory:
        assert self.llm
        summary = await self.llm.summarize(story.article.title, story.body, self.max_words, self.clock.now())
        return replace(story, summary=summary) if summary else story

    def _prepare(
        self, name: str, fresh: list[Article], start: int, feed_params: frozenset[str]
    ) -> list[NewStory]:
        return [
            prepare_story(a, name, self.matcher, self.max_words, i >= start, feed_params)
            for i, a in enumerate(fresh)
        ]

    async def _failed(self, feed: Feed, error: FetchError) -> PollReport:
        now = self.clock.now()
        log.warning("feed %s (%s) failed: %s", feed.id, display_url(feed), error)
        if error.kind == "gone":
            await self.store.retire_feed(feed, str(error), gone_notice(feed), now)
            return PollReport(feed.id, error=str(error))
        wait = (
            timedelta(seconds=min(error.retry_after, LONGEST_WAIT)) if error.retry_after is not None else None
        )
        at = next_check_at(
            now, feed.interval, feed_id=feed.id, error_count=feed.error_count + 1,
            hints=Hints(retry_after=wait), bounds=self.bounds,
        )  # fmt: skip
        await self.store.record_feed_failure(feed, str(error), at, now, failure_notice(feed, now, str(error)))
        return PollReport(feed.id, error=str(error))
