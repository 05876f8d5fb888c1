"""What `/why URL` reads: the article at a link, its feed and story, and each chat's rules and alert row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, or_, select

from bot.domain import Subscription
from bot.store.rows import Rows
from bot.store.rules import subscription_from_row
from bot.store.stories import link_clue
from bot.store.tables import articles, feeds, outbox, rules, story_clues, subscriptions


@dataclass(frozen=True)
class SeenArticle:
    id: int
    title: str
    body: str  # as matched: plain text without boilerplate
    link: str  # as alerts show it
    published_at: datetime | None
    fetched_at: datetime  # when the poll that found it ran
    story_id: int | None
    feed_name: str
    first_poll: bool  # found by its feed's first poll, with the backlog


@dataclass(frozen=True)
class SeenStory:
    face: str  # the headline its alerts show
    outlets: tuple[str, ...]  # feed names, in the order they carried it
    first_seen: datetime


@dataclass(frozen=True)
class ChatRule:
    id: int
    query: str
    active: bool
    urgent: bool
    created_at: datetime


@dataclass(frozen=True)
class AlertRow:
    """The chat's outbox row for the story, as it is now."""

    status: str  # pending, sent, gone, stopped, muted, merged
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    attempts: int
    last_error: str | None
    urgent: bool
    message_id: str | None


@dataclass(frozen=True)
class ChatView:
    subscription: Subscription
    rules: tuple[ChatRule, ...]
    alert: AlertRow | None


@dataclass(frozen=True)
class Seen:
    article: SeenArticle
    story: SeenStory | None
    chats: tuple[ChatView, ...]


@dataclass(frozen=True)
class Unseen:
    articles: int
    feeds: int
    since: datetime | None  # the oldest article kept


class WhyRows(Rows):
    async def seen(
        self, links: Sequence[str], story_urls: Sequence[str], chat: tuple[str, str] | None = None
    ) -> Seen | Unseen:
        """The first article stored with one of these links (as its link or guid) or story keys, with its
        story and, for the chat (channel, address) or every subscription (None), the rules and alert row."""
        first = select(articles, feeds.c.name.label("feed_name")).join(feeds).order_by(articles.c.id).limit(1)
        at = or_(
            articles.c.link.in_(list(links)),
            articles.c.guid.in_(list(links)),  # a permalink, often the link without its query
            articles.c.story_url.in_(list(story_urls)),
        )
        clued = select(story_clues.c.story_id).where(story_clues.c.clue.in_(list(map(link_clue, story_urls))))
        async with self.engine.connect() as conn:
            # the stories with that link, through story_clues' index; else every article (no index serves it)
            row = (await conn.execute(first.where(articles.c.story_id.in_(clued), at))).one_or_none()
            if row is None:
                row = (await conn.execute(first.where(at))).one_or_none()
            if row is None:
                return Unseen(*(await conn.execute(_COUNTS)).one())
            article = await _article(conn, row._mapping)
            story = await _story(conn, article.story_id) if article.story_id is not None else None
            chats = await _chats(conn, article.story_id, chat)
        return Seen(article, story, chats)


async def _article(conn: Any, row: Any) -> SeenArticle:
    first = select(func.min(articles.c.fetched_at)).where(articles.c.feed_id == row[articles.c.feed_id])
    return SeenArticle(
        row[articles.c.id], row[articles.c.title], row[articles.c.body], row[articles.c.link],
        row[articles.c.published_at], row[articles.c.fetched_at], row[articles.c.story_id],
        row["feed_name"], (await conn.execute(first)).scalar() == row[articles.c.fetched_at],
    )  # fmt: skip


async def _story(conn: Any, story_id: int) -> SeenStory | None:
    members = (
        await conn.execute(
            select(articles.c.id, articles.c.title, articles.c.fetched_at, articles.c.face_id, feeds.c.name)
            .join(feeds)
            .where(articles.c.story_id == story_id)
            .order_by(articles.c.id)
        )
    ).all()
    if not members:
        return None
    titles = {member.id: member.title for member in members}
    face = next((m.face_id for m in members if m.id == story_id and m.face_id), members[0].id)
    outlets = tuple(dict.fromkeys(member.name for member in members))
    first = min(member.fetched_at for member in members)
    return SeenStory(titles.get(face, members[0].title), outlets, first)


async def _chats(conn: Any, story_id: int | None, chat: tuple[str, str] | None) -> tuple[ChatView, ...]:
    query = select(subscriptions).order_by(subscriptions.c.id)
    if chat:
        query = query.where(subscriptions.c.channel == chat[0], subscriptions.c.address == chat[1])
    views = []
    for row in (await conn.execute(query)).mappings().all():
        subscription = subscription_from_row(row)
        listed = (
            await conn.execute(
                select(rules.c.id, rules.c.query, rules.c.active, rules.c.urgent, rules.c.created_at)
                .where(rules.c.subscription_id == subscription.id)
                .order_by(rules.c.id)
            )
        ).all()
        alert = None
        if story_id is not None:
            mine = (outbox.c.subscription_id == subscription.id) & (outbox.c.story_id == story_id)
            found = (await conn.execute(select(outbox).where(mine))).mappings().one_or_none()
            alert = _alert(found) if found else None
        views.append(ChatView(subscription, tuple(ChatRule(*rule) for rule in listed), alert))
    return tuple(views)


def _alert(row: Any) -> AlertRow:
    return AlertRow(
        row[outbox.c.status], row[outbox.c.created_at], row[outbox.c.next_attempt_at], row[outbox.c.sent_at],
        row[outbox.c.attempts], row[outbox.c.last_error], row[outbox.c.urgent], row[outbox.c.message_id],
    )  # fmt: skip


# each through an index: the articles, the feeds that have one, the oldest
_COUNTS = select(
    select(func.count()).select_from(articles).scalar_subquery(),
    select(func.count())
    .select_from(feeds)
    .where(exists().where(articles.c.feed_id == feeds.c.id))
    .scalar_subquery(),
    select(func.min(articles.c.fetched_at)).scalar_subquery(),
)
