"""The database schema as SQLAlchemy Core tables. Alembic migrations must produce exactly this."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out; stored as naive UTC on every database."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        return value.astimezone(UTC).replace(tzinfo=None) if value else value

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        return value.replace(tzinfo=UTC) if value else value


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

feeds = Table(
    "feeds",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("url", Text, nullable=False, unique=True),  # where it is fetched now (301/308 update it)
    Column("config_url", Text, unique=True),  # the address the config file gives (config feeds)
    Column("name", Text, nullable=False),
    Column("interval_seconds", Integer, nullable=False),
    Column("backfill", Integer, nullable=True),  # NULL: every entry may alert on the first poll
    Column("source", String(16), nullable=False),  # "config" (trusted) or "chat"
    Column("active", Boolean, nullable=False, default=True),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("body_hash", String(64)),
    Column("error_count", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("next_check_at", UTCDateTime, nullable=False),
    Column("claimed_until", UTCDateTime),
    Column("last_success_at", UTCDateTime),
    Column("ttl_seconds", Integer),  # the feed's own <ttl>, kept for polls that do not parse it
    Column("skip_hours", String(64)),  # its <skipHours>, comma-separated UTC hours
    Column("failing_since", UTCDateTime),  # first failure after the last success
    Column("failure_noticed", Boolean, nullable=False, default=False),  # told subscribers once
    Column("retired_reason", Text),  # why it stopped for good (410 Gone)
    Column("created_at", UTCDateTime, nullable=False),
    Column("fixed_interval", Boolean, nullable=False, default=False),  # its own, from the config file
    Column("pace_since", UTCDateTime),  # Pace, while polling adapts to it
    Column("pace_recent", Text),  # its entry dates of the last week, comma-separated Unix seconds
    # when its entries were last read (a changed body parsed): seen_entries read then have this last_seen_at
    Column("entries_read_at", UTCDateTime),
)
Index("ix_feeds_due", feeds.c.active, feeds.c.next_check_at)

articles = Table(
    "articles",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("feed_id", Integer, ForeignKey("feeds.id", ondelete="CASCADE"), nullable=False),
    Column("identity", Text, nullable=False),  # Article.identity: guid, else link, else content hash
    Column("guid", Text),
    Column("link", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),  # plain text without boilerplate
    Column("summary", Text, nullable=False),
    Column("published_at", UTCDateTime),
    Column("fetched_at", UTCDateTime, nullable=False),
    # one event, however many outlets report it (stories.py): the id of its oldest article's story
    Column("story_id", Integer),
    # StoryKey.url and StoryKey.title, looked up as they are (before 0008, on a story's first article only)
    Column("story_url", Text),
    Column("title_key", Text),
    Column("sketch", Text),  # unused since 0008 (emptied; dropping it would copy the table on SQLite)
    # StoryKey.title_terms, " | ", StoryKey.lead_terms, each space-separated; NULL on articles before 0008
    Column("story_terms", Text),
    Column("index_terms", Text),  # its index terms (StoryDecider.index_terms), space-separated
    # on a story's first article (id = story_id): the story's face as the decider last chose it (0010)
    Column("face_id", Integer),
)
Index("ix_articles_feed_identity", articles.c.feed_id, articles.c.identity, unique=True)
Index("ix_articles_fetched", articles.c.fetched_at)
Index("ix_articles_story_feed", articles.c.story_id, articles.c.feed_id)

# What each feed has had: an entry whose identity is here is not new, even after its article was pruned.
# last_seen_at: the last read of the feed that had it; kept until the entry has left the feed for
# retention.articles (store/retention.py). Articles stored before 0012 are here as of their fetch.
seen_entries = Table(
    "seen_entries",
    metadata,
    Column("feed_id", Integer, ForeignKey("feeds.id", ondelete="CASCADE"), primary_key=True),
    Column("identity", Text, primary_key=True),  # Article.identity
    Column("last_seen_at", UTCDateTime, nullable=False),
    sqlite_with_rowid=False,  # the key is the row: no second copy of each identity in an index
)
Index("ix_seen_entries_last_seen", seen_entries.c.last_seen_at)

# What the stories a poll's articles may join are found by (store/stories.py): for each clue (a link, a
# headline, an index term; "" for an article without index terms), story, and text (a hash of its
# story_terms and embedding), the latest article having it and the latest from another outlet than that one.
story_clues = Table(
    "story_clues",
    metadata,
    Column("clue", Text, nullable=False),
    Column("story_id", Integer, nullable=False),
    Column("text", BigInteger, nullable=False),
    Column("article_id", Integer, nullable=False),
    Column("at", BigInteger, nullable=False),  # StoryArticle.at of article_id; times in microseconds (UTC)
    Column("feed_id", Integer, nullable=False),
    Column("other_id", Integer),
    Column("other_at", BigInteger),
    Column("other_feed_id", Integer),
    Column("first_at", BigInteger, nullable=False),  # the earliest StoryArticle.at of those having it
    Column("fetched_at", BigInteger, nullable=False),  # the latest fetch of an article having it
)
Index("ix_story_clues_clue", story_clues.c.clue, story_clues.c.story_id, story_clues.c.text)
Index("ix_story_clues_story", story_clues.c.story_id)

# An article's embedding (summary.llm.embeddings_model): what the story decider compares besides its words,
# and the embeddings cache (by text_hash, so a copy of a text already stored is not embedded again). Goes
# with its article.
article_vectors = Table(
    "article_vectors",
    metadata,
    Column("article_id", Integer, ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True),
    Column("model", Text, nullable=False),  # vectors of two models are never compared
    Column("text_hash", String(64), nullable=False),  # embeddings.text_hash of the model and the text
    Column("vector", LargeBinary, nullable=False),  # float32, little-endian (store/stories.py, packed)
)
Index("ix_article_vectors_text_hash", article_vectors.c.text_hash)

term_counts = Table(  # in how many recent articles each story term is: what makes a term rare (TermCounts)
    "term_counts",
    metadata,
    Column("term", Text, primary_key=True),
    Column("articles", Integer, nullable=False),
)

term_census = Table(  # when term_counts were counted, over how many articles: one row, id 1
    "term_census",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("articles", Integer, nullable=False),
    Column("last_article_id", Integer, nullable=False),  # the newest article counted
    Column("counted_at", UTCDateTime, nullable=False),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("channel", String(16), nullable=False),
    Column("address", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("source", String(16), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("stopped_at", UTCDateTime),  # /stop: the chat asked for nothing more (a restart keeps it so)
    Column("muted_until", UTCDateTime),  # /mute: alerts due before this are dropped, not sent later
    Column("digest", Text, nullable=False, default="instant"),  # /digest: instant, hourly, daily HH:MM
    Column("quiet", Text),  # /quiet: "22:00-07:00 Europe/Paris", NULL when off
    UniqueConstraint("channel", "address"),
)

rules = Table(
    "rules",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("subscription_id", Integer, ForeignKey("subscriptions.id", ondelete="CASCADE"), nullable=False),
    Column("query", Text, nullable=False),
    Column("source", String(16), nullable=False),
    Column("urgent", Boolean, nullable=False, default=False),  # /watch ! RULE: past digests and quiet hours
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("subscription_id", "query"),
    sqlite_autoincrement=True,  # ids are never reused, so a set of ids names a set of rules
)


# What a chat said about its alerts (the buttons under an alert): a story muted (feed_id NULL: the story of
# article_id, whichever story that article is in now), or a source muted until a time (feed_id set).
mutes = Table(
    "mutes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("subscription_id", Integer, ForeignKey("subscriptions.id", ondelete="CASCADE"), nullable=False),
    Column("article_id", Integer, ForeignKey("articles.id", ondelete="CASCADE"), nullable=False),
    Column("feed_id", Integer, ForeignKey("feeds.id", ondelete="CASCADE")),
    Column("until", UTCDateTime),  # a source's mute ends then; a story's never does
    Column("created_at", UTCDateTime, nullable=False),
)
Index("ix_mutes_subscription_id", mutes.c.subscription_id)

rule_edits = Table(  # "Not about this": a rule replaced by itself with one more exclusion, undoable
    "rule_edits",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("subscription_id", Integer, ForeignKey("subscriptions.id", ondelete="CASCADE"), nullable=False),
    Column("rule_id", Integer, ForeignKey("rules.id", ondelete="CASCADE"), nullable=False),  # the new rule
    Column("before", Text, nullable=False),  # the rule it replaced, as typed
    Column("created_at", UTCDateTime, nullable=False),
)
Index("ix_rule_edits_subscription_id", rule_edits.c.subscription_id)


def _delivery_columns() -> list[Column]:
    """What every queue of messages to chats keeps: who, state, tries, lease, outcome."""
    return [
        Column("id", Integer, primary_key=True),
        Column(
            "subscription_id", Integer, ForeignKey("subscriptions.id", ondelete="CASCADE"), nullable=False
        ),
        Column("status", String(16), nullable=False),  # pending, sent, gone, stopped (/stop); muted (/mute)
        Column("attempts", Integer, nullable=False, default=0),
        Column("next_attempt_at", UTCDateTime, nullable=False),
        Column("claimed_until", UTCDateTime),  # a lease: a crashed worker's claim comes free after it
        Column("sent_at", UTCDateTime),
        Column("message_id", Text),
        Column("last_error", Text),
        Column("created_at", UTCDateTime, nullable=False),
    ]


# alerts: one row per (subscription, story); sent again as an edit when an outlet or a better face joins.
# status "merged": dropped before it was sent, its story merged into one this chat has an alert for.
outbox = Table(
    "outbox",
    metadata,
    *_delivery_columns(),
    # the story's face (stories.face): the article the alert shows; it changes when a better one joins
    Column("article_id", Integer, ForeignKey("articles.id", ondelete="CASCADE"), nullable=False),
    Column("story_id", Integer, nullable=False),
    Column("urgent", Boolean, nullable=False, default=False),  # an urgent rule matched: no waiting
    Column("matches", Text, nullable=False),  # JSON: rule, quote and highlight spans per rule
    UniqueConstraint("subscription_id", "story_id"),
)
Index("ix_outbox_due", outbox.c.status, outbox.c.next_attempt_at)
Index("ix_outbox_story", outbox.c.story_id)  # a story's alerts: to edit, to show a new face, to merge
Index("ix_outbox_article", outbox.c.article_id)  # an article an alert shows is kept (store/retention.py)

notices = Table(  # sentences about the service: a feed failing for a day, a feed gone
    "notices",
    metadata,
    *_delivery_columns(),
    Column("text", Text, nullable=False),
)
Index("ix_notices_due", notices.c.status, notices.c.next_attempt_at)


llm_summaries = Table(  # what the LLM wrote, by the text it read: nothing is summarized twice
    "llm_summaries",
    metadata,
    Column("content_hash", String(64), primary_key=True),
    Column("summary", Text, nullable=False),
    Column("tokens", Integer, nullable=False),  # what it cost, counted against summary.llm.monthly_tokens
    Column("created_at", UTCDateTime, nullable=False),
)
Index("ix_llm_summaries_created", llm_summaries.c.created_at)

seen_signatures = Table(  # signed Slack requests while they could be replayed: the same one again is refused
    "seen_signatures",
    metadata,
    Column("signature", String(100), primary_key=True),  # X-Slack-Signature: "v0=" and 64 hex digits
    Column("expires_at", UTCDateTime, nullable=False),  # when its timestamp leaves Slack's five minutes
)
Index("ix_seen_signatures_expires", seen_signatures.c.expires_at)

admins = Table(  # who claimed the bot with the code it logged at start (the settings' admins are not here)
    "admins",
    metadata,
    Column("channel", String(16), primary_key=True),
    Column("user_id", Text, primary_key=True),  # as the chat app names the user
    Column("address", Text, nullable=False),  # the chat the claim came from: the admin's notices go there
    Column("added_at", UTCDateTime, nullable=False),
)

claim_codes = Table(  # the one-time codes that make their first user an admin; only their SHA-256 is kept
    "claim_codes",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("expires_at", UTCDateTime, nullable=False),
)

# A feed's WebSub subscription (domain.PushSubscription): while "subscribed", its hub pushes new entries and
# the feed is polled only as a safety net. Goes with its feed.
websub_subscriptions = Table(
    "websub_subscriptions",
    metadata,
    Column("feed_id", Integer, ForeignKey("feeds.id", ondelete="CASCADE"), primary_key=True),
    Column("hub", Text, nullable=False),
    Column("topic", Text, nullable=False),
    Column("token", String(64), nullable=False, unique=True),  # the callback's path: /websub/<token>
    Column("secret", Text, nullable=False),  # hub.secret
    Column("state", String(16), nullable=False),  # requested, subscribed, fallback, unsubscribing
    Column("lease_seconds", Integer, nullable=False),  # asked for
    Column("due_at", UTCDateTime, nullable=False),  # when the renewal check next looks at it
    Column("requested_at", UTCDateTime),
    Column("verified_at", UTCDateTime),
    Column("expires_at", UTCDateTime),
    Column("last_push_at", UTCDateTime),
    Column("reason", Text),  # why it fell back
)
Index("ix_websub_subscriptions_due", websub_subscriptions.c.due_at)
