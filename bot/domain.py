"""Plain data that flows through the pipeline: frozen dataclasses and the Clock seam. No I/O."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

Span = tuple[int, int]  # [start, end) offsets into a string


class Clock(Protocol):
    """Where "now" comes from, and how to wait for later; tests pass a fake one that they move by
    hand and that moves itself when asked to wait."""

    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclass(frozen=True)
class Pace:
    """When a feed's entries came: adaptive polling reads its average gap between entries from this."""

    since: datetime  # every entry from this moment on is in `recent` (or older than a week)
    recent: tuple[datetime, ...] = ()  # the dates of its entries of the last week, oldest first


@dataclass(frozen=True)
class Feed:
    id: int
    url: str
    name: str
    interval: timedelta
    backfill: int | None  # newest entries that may alert on the first poll; None means all
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    error_count: int = 0
    polled: bool = False  # has a poll ever succeeded
    failing_since: datetime | None = None
    failure_noticed: bool = False
    trusted: bool = True  # from the config file; a feed added from a chat goes through the SSRF guard
    ttl: timedelta | None = None  # what the feed itself said last time it was parsed
    skip_hours: frozenset[int] = frozenset()
    fixed_interval: bool = False  # the config file gives it an interval of its own: it never adapts
    pace: Pace | None = None  # kept while polling adapts to it


@dataclass(frozen=True)
class Article:
    """One feed entry as plain text, before it is stored."""

    title: str
    link: str
    guid: str | None
    text: str
    published_at: datetime | None
    content_hash: str

    @property
    def identity(self) -> str:
        """What makes it the same entry next time: its guid, else its link, else its content."""
        if self.guid:
            return f"guid:{self.guid}"
        return f"link:{self.link}" if self.link else f"hash:{self.content_hash}"


@dataclass(frozen=True)
class Subscription:
    id: int
    channel: str  # "console", "telegram", "slack"
    address: str  # where in that channel: chat id ("chat:topic" in a forum), channel id, "stdout"
    name: str
    active: bool = True
    muted_until: datetime | None = None
    digest: str = "instant"  # instant, hourly, daily HH:MM [zone]
    quiet: str | None = None  # HH:MM-HH:MM [zone]


@dataclass(frozen=True)
class WatchRule:
    """A rule as its chat sees it in /rules."""

    id: int
    query: str
    active: bool  # False: paused
    source: str  # "config" (only the config file changes it) or "chat"
    urgent: bool = False


@dataclass(frozen=True)
class Rule:
    id: int
    subscription_id: int
    query: str
    urgent: bool = False  # past digests and quiet hours


@dataclass(frozen=True)
class Quote:
    """The sentence that matched, possibly trimmed, with the matched words' spans in `text`."""

    text: str
    spans: tuple[Span, ...]


@dataclass(frozen=True)
class Match:
    rule_id: int
    rule: str
    quote: Quote


@dataclass(frozen=True)
class Alert:
    title: str
    link: str
    feed_name: str
    published_at: datetime
    summary: str
    matches: tuple[Match, ...]
    also_in: tuple[str, ...] = ()  # other outlets that carried the same story
    # the outbox row it is sent from, the same on every try (a webhook's id); None: not from the outbox
    outbox_id: int | None = None
    article_id: int | None = None  # the stored article it shows: what its buttons act on (None: not stored)


def alert_record(alert: Alert) -> dict[str, Any]:
    """The alert as JSON, for `check --json` and the webhook channel's payload: one schema. Spans are
    [start, end) offsets, in characters, into their quote."""
    return {
        "title": alert.title,
        "link": alert.link,
        "feed": alert.feed_name,
        "published": alert.published_at.isoformat(),
        "summary": alert.summary,
        "matches": [
            {"rule": m.rule, "quote": m.quote.text, "spans": [list(span) for span in m.quote.spans]}
            for m in alert.matches
        ],
        "also_in": list(alert.also_in),
    }


@dataclass(frozen=True)
class AlertedStory:
    """A story a chat was alerted to, as an alert's buttons act on it: the article the alert shows, and
    the chat's rules that matched."""

    article_id: int
    story_id: int
    feed_id: int
    feed_name: str
    title: str
    body: str
    matches: tuple[Match, ...]


@dataclass(frozen=True)
class Mute:
    """A story or a source a chat muted from an alert, as /rules lists it to undo."""

    id: int
    what: str  # the story's title, or the source's name
    until: datetime | None = None  # a source's mute ends then; None: a story's


@dataclass(frozen=True)
class RuleEdit:
    """A rule narrowed from an alert ("Not about this"): the rule now, and the one it replaced."""

    id: int
    rule_id: int
    query: str
    before: str


@dataclass(frozen=True)
class Receipt:
    message_id: str


@dataclass(frozen=True)
class StoryAlert:
    """What one subscription will be told about one story: every rule of its that matched."""

    subscription_id: int
    matches: tuple[Match, ...]
    urgent: bool = False


@dataclass(frozen=True)
class StoryKey:
    """What tells whether two articles report one event (dedupe.story_key makes it, the story decider in
    stories.py compares it)."""

    url: str  # the link, as dedupe.url_key
    title: str  # the headline's normalized words, without the feed's own name after it
    title_terms: tuple[str, ...] = ()  # the headline's word keys, each once, in order
    lead_terms: tuple[str, ...] = ()  # the lead's word keys that are not in the headline, each once


@dataclass(frozen=True)
class StoryArticle:
    """An article as the story decider sees it: a poll's new one, or a stored one of a story it may join."""

    id: int
    story: int  # its story now: its own id when new
    feed: int
    at: datetime  # when it was published (never after it was fetched), else when it was fetched
    chars: int  # the length of its text: a full text is the better face for a story than a thin item
    key: StoryKey
    index: tuple[str, ...] = ()  # its index terms, as picked when it was stored; (): to be picked now
    vector: tuple[float, ...] | None = None  # its text's embedding (summary.llm.embeddings_model), if any


@dataclass(frozen=True)
class TermCounts:
    """In how many recent articles each word key appears: what makes a word rare, and so telling."""

    articles: int  # how many articles were counted
    counts: Mapping[str, int]  # key -> articles that have it; a key not here is in none of them


@dataclass(frozen=True)
class StoryPlan:
    """What the story decider decided for a poll's new articles; the store only writes it down."""

    stories: Mapping[int, int]  # each new article -> its story
    merged: Mapping[int, int]  # a story that another one absorbed (a new article links them) -> that one
    faces: Mapping[int, int]  # each story that changed -> the article its alerts show
    edited: frozenset[int] = frozenset()  # stories whose alerts already sent must be edited


class StoryDecider(Protocol):
    """Decides which story each new article joins. The store calls it inside its transaction (so two
    replicas never make two stories of one event), with what it loaded; stories.Stories is the one."""

    window: timedelta  # articles fetched longer ago than this are not looked at

    def index_terms(self, key: StoryKey, counts: TermCounts, embedded: bool = False) -> tuple[str, ...]:
        """The article's rarest terms (more when it has an embedding): the store finds candidates through
        them, and keeps them."""
        ...

    def decide(
        self, new: Sequence[StoryArticle], known: Sequence[StoryArticle], counts: TermCounts
    ) -> StoryPlan:
        """`known`: every article of every story that shares a link, a headline or an index term with
        one of `new`, or of those the articles that decide as they all would (store/stories.py)."""
        ...


@dataclass(frozen=True)
class Embedding:
    """An article's text as an embeddings model saw it (summary/embeddings.py): the story decider may
    compare two of one model."""

    model: str
    text_hash: str  # embeddings.text_hash of the model and the text: how the cache finds it again
    vector: tuple[float, ...]


@dataclass(frozen=True)
class NewStory:
    """A new article as the pipeline prepared it; alerts may be empty (no match, backfill)."""

    article: Article
    body: str
    summary: str
    alerts: tuple[StoryAlert, ...]
    key: StoryKey = StoryKey("", "")
    # The link its alert shows and its story is keyed by (dedupe.canonical_url); "": the article's own.
    # The article's identity keeps its link as the feed gave it, so an upgrade alerts nothing again.
    link: str = ""
    embedding: Embedding | None = None  # when summary.llm.embeddings_model is set and the endpoint answered


@dataclass(frozen=True)
class FeedUpdate:
    """A feed's state after a successful poll."""

    etag: str | None
    last_modified: str | None
    body_hash: str | None
    next_check_at: datetime
    title: str  # the feed's own title, used when the config gives no name
    moved_to: str | None = None  # a permanent redirect's target: the feed's new address
    ttl: timedelta | None = None
    skip_hours: frozenset[int] = frozenset()
    pace: Pace | None = None
    # the identities of the entries read in the feed this poll; None when it was not read (unchanged)
    seen: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Delivery:
    """A claimed outbox row: who gets which alert, and how many tries it has had."""

    id: int
    attempts: int
    subscription: Subscription
    alert: Alert
    message_id: str | None = None  # already sent as this message: edit it (a new outlet joined)
    urgent: bool = False
    created_at: datetime | None = None  # when the story came: digests and quiet hours count from it


@dataclass(frozen=True)
class StoredArticle:
    """An article as kept in the database, for looking back (backtests)."""

    title: str
    body: str
    feed_name: str
    link: str
    fetched_at: datetime


@dataclass(frozen=True)
class NoticeDelivery:
    """A claimed notice: a sentence about the service (a feed failing or gone) for one chat."""

    id: int
    attempts: int
    subscription: Subscription
    text: str


@dataclass(frozen=True)
class PushSubscription:
    """A feed's WebSub subscription (bot/feeds/websub.py decides, bot/push.py acts, the store keeps it).

    state: "requested" (the hub has not checked our intent yet), "subscribed" (pushes come; the feed is
    polled only as a safety net), "fallback" (polled as usual: the hub refused, never checked, or went
    silent; `reason` says which) or "unsubscribing" (the feed was removed)."""

    feed_id: int
    hub: str
    topic: str
    token: str  # the callback's unguessable last path segment: /websub/<token>
    secret: str  # hub.secret: pushes are signed with it; never logged
    state: str
    due_at: datetime  # when the renewal check next looks at it
    lease: timedelta  # hub.lease_seconds asked for
    requested_at: datetime | None = None  # a request the hub has not checked yet
    verified_at: datetime | None = None
    expires_at: datetime | None = None
    last_push_at: datetime | None = None  # the last push signed with our secret
    reason: str | None = None  # why it fell back

    def __repr__(self) -> str:  # the secret stays out of logs and tracebacks
        return f"PushSubscription(feed_id={self.feed_id}, hub={self.hub!r}, state={self.state!r})"
