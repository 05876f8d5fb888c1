"""`newsalert check`: the alerts `run` would send for these feeds' items, all taken as new; nothing stored.

The same steps as a poll (pipeline.prepare_story, the feed's own link parameters, repeats within a feed
dropped) and the same story decision as the store's (stories.Stories, through stories.InMemory: the
store's story step on lists), on the batch: the terms of its own articles tell which words are rare.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bot.config import Settings, resolve_feed_url
from bot.dedupe import feed_parameters
from bot.domain import Alert, Match, NewStory, Rule, alert_record
from bot.feeds.fetch import Fetcher, open_session
from bot.feeds.parse import parse_feed
from bot.pipeline import Matcher, fresh_articles, log_dropped, prepare_story
from bot.rules.query import parse_rule
from bot.stories import InMemory, Stories, face, term_counts


@dataclass(frozen=True)
class CheckedAlert:
    """One alert as `run` would send it: its story's face, and the story's id within the check."""

    story: int
    feed: str
    new: NewStory
    matches: tuple[Match, ...]
    also_in: tuple[str, ...]

    def alert(self, now: datetime) -> Alert:
        """As a channel renders it; an item without a date shows `now`, as run shows when it came."""
        article = self.new.article
        published = article.published_at or now
        link = self.new.link or article.link
        return Alert(article.title, link, self.feed, published, self.new.summary, self.matches, self.also_in)

    def record(self) -> dict[str, Any]:
        """For `check --json`: the alert's JSON (domain.alert_record), with null for an item without a
        date, and the story's number within the check."""
        published = self.new.article.published_at
        record = alert_record(self.alert(published or datetime.now(UTC)))
        return record | {"published": record["published"] if published else None, "story": self.story}


@dataclass(frozen=True)
class CheckReport:
    feeds: int
    items: int
    alerts: list[CheckedAlert]


def batch_alerts(polls: Sequence[tuple[str, Sequence[NewStory]]], now: datetime) -> list[CheckedAlert]:
    """The alerts of these polls (a feed's name, its new stories oldest first), as run gives them when
    it saves them in this order and then delivers: each story alerts each subscription once, showing
    the story's face (stories.face: a full text over a thin item, then the earliest) with the rules that
    matched, and naming the other outlets that carried the story."""
    memory = InMemory(Stories(), term_counts(s.key for _, stories in polls for s in stories))
    saved: dict[int, tuple[str, NewStory]] = {}  # article id -> its feed's name and itself
    for feed, (name, stories) in enumerate(polls):
        ids = memory.save([(feed, _at(s, now), len(s.body), s.key) for s in stories])
        saved.update(zip(ids, ((name, s) for s in stories), strict=True))
    members: dict[int, list[int]] = {}  # story -> its articles, in the order they came
    for article_id in saved:
        members.setdefault(memory.story_of(article_id), []).append(article_id)
    found: list[CheckedAlert] = []
    for story_id, ids in members.items():
        face_id = face(memory.articles[i - 1] for i in ids).id
        name, shown = saved[face_id]
        outlets = [n for n in dict.fromkeys(saved[i][0] for i in ids) if n != name]
        matches: dict[int, tuple[Match, ...]] = {}  # subscription -> the first article's matches
        for i in ids:
            for alert in saved[i][1].alerts:
                matches.setdefault(alert.subscription_id, alert.matches)
        found += [CheckedAlert(story_id, name, shown, m, tuple(outlets)) for m in matches.values()]
    return found


def _at(story: NewStory, now: datetime) -> datetime:
    """When the article came, as the store has it: its date, never later than now."""
    published = story.article.published_at
    return min(published, now) if published else now


def feeds_to_check(settings: Settings, given: Sequence[str], base: Path) -> list[tuple[str, str]]:
    """The feeds `check` reads, as (url, name): those given (URLs, or files relative to `base`), else the
    config file's. A feed the config file names keeps its name, so that `feed:NAME` matches as in `run`;
    "" for the feed's own title."""
    named = [(f.url, f.name or "") for f in settings.feeds]
    if not given:
        return named
    names = dict(named)
    return [(url, names.get(url, "")) for url in (resolve_feed_url(f, base) for f in given)]


async def check(settings: Settings, feeds: Sequence[tuple[str, str]], queries: Sequence[str]) -> CheckReport:
    """Every item of the feeds (url, name: "" for the feed's own title) treated as new, matched against
    the queries as one subscription's rules; nothing stored, nothing sent."""
    rules = []
    for i, query in enumerate(queries, 1):
        parse_rule(query, settings.rules_language)  # raises QueryError for the caller to show
        rules.append(Rule(i, 0, query))
    matcher = Matcher(settings.rules_language)
    matcher.sync(rules)
    items, polls = 0, []
    async with open_session() as session:
        fetcher = Fetcher(session)
        for url, given in feeds:
            result = await fetcher.fetch(url)
            parsed = parse_feed(result.body or b"", url, result.content_type)
            name = given or parsed.title or urlsplit(url).hostname or url
            log_dropped(name, parsed)
            items += len(parsed.articles)
            feed_params = feed_parameters([a.link for a in parsed.articles])
            stories = [
                prepare_story(article, name, matcher, settings.summary.max_words, True, feed_params)
                for article in fresh_articles(parsed.articles, set())  # an item repeated in its feed: once
            ]
            polls.append((name, stories))
    return CheckReport(len(feeds), items, batch_alerts(polls, datetime.now(UTC)))
