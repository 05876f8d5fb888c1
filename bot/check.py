"""`newsalert check`: the alerts `run` would send for these feeds' items, all taken as new; nothing stored.

The same steps as a poll (pipeline.prepare_story, the feed's own link parameters, repeats within a feed
dropped) and the same story decision as the store's (dedupe.assign_stories), on the batch in memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from bot.config import Settings
from bot.dedupe import assign_stories, feed_parameters
from bot.domain import Alert, Match, NewStory, Rule, StoryKey
from bot.feeds.fetch import Fetcher, open_session
from bot.feeds.parse import parse_feed
from bot.pipeline import Matcher, fresh_articles, log_dropped, prepare_story
from bot.rules.query import parse_rule


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
        """For `check --json`: spans are [start, end) offsets, in characters, into their quote."""
        article = self.new.article
        return {
            "title": article.title,
            "link": self.new.link or article.link,
            "feed": self.feed,
            "published": article.published_at.isoformat() if article.published_at else None,
            "summary": self.new.summary,
            "matches": [
                {"rule": m.rule, "quote": m.quote.text, "spans": [list(span) for span in m.quote.spans]}
                for m in self.matches
            ],
            "story": self.story,
            "also_in": list(self.also_in),
        }


@dataclass(frozen=True)
class CheckReport:
    feeds: int
    items: int
    alerts: list[CheckedAlert]


def batch_alerts(polls: Sequence[tuple[str, Sequence[NewStory]]]) -> list[CheckedAlert]:
    """The alerts of these polls (a feed's name, its new stories oldest first), as run gives them when
    it saves them in this order and then delivers: each story (dedupe.assign_stories, called as the
    store calls it: against the first article of each story before) alerts each subscription once,
    through its first article that matched, naming the other outlets that carried the story."""
    known: list[tuple[int, StoryKey]] = []  # each story's first article, as the store keeps them
    outlets: dict[int, list[str]] = {}
    had: set[tuple[int, int]] = set()  # (subscription, story) pairs that have their alert
    found: list[tuple[int, str, NewStory, tuple[Match, ...]]] = []
    ids = 0
    for name, stories in polls:
        new = [(ids + i + 1, story.key) for i, story in enumerate(stories)]
        ids += len(stories)
        story_ids = assign_stories(new, known)
        for (article_id, key), story_id, story in zip(new, story_ids, stories, strict=True):
            if article_id == story_id:
                known.append((story_id, key))
            if name not in outlets.setdefault(story_id, []):
                outlets[story_id].append(name)
            for alert in story.alerts:
                if (alert.subscription_id, story_id) not in had:
                    had.add((alert.subscription_id, story_id))
                    found.append((story_id, name, story, alert.matches))
    return [
        CheckedAlert(story_id, name, story, matches, tuple(n for n in outlets[story_id] if n != name))
        for story_id, name, story, matches in found
    ]


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
    return CheckReport(len(feeds), items, batch_alerts(polls))
