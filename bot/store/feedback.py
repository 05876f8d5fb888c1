"""What a chat says from an alert's buttons: stories and sources muted, rules narrowed; each undoable."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, or_, select

from bot.domain import AlertedStory, Mute, RuleEdit, TermCounts
from bot.store.queues import load_matches
from bot.store.rows import Rows
from bot.store.tables import articles, feeds, mutes, outbox, rule_edits, rules, term_census, term_counts

LISTED = 10  # mutes, and rule edits, that /rules offers to undo (the latest)


class FeedbackRows(Rows):
    async def alerted_story(self, sub_id: int, article_id: int) -> AlertedStory | None:
        """The story of this article, if this chat has an alert for it (whatever article it shows)."""
        query = (
            select(articles, feeds.c.name.label("feed_name"), outbox.c.matches)
            .join(feeds, articles.c.feed_id == feeds.c.id)
            .join(outbox, outbox.c.story_id == articles.c.story_id)
            .where(articles.c.id == article_id, outbox.c.subscription_id == sub_id)
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        if row is None:
            return None
        return AlertedStory(
            article_id, row[articles.c.story_id], row[articles.c.feed_id], row["feed_name"],
            row[articles.c.title], row[articles.c.body], load_matches(row[outbox.c.matches]),
        )  # fmt: skip

    async def mute_story(self, sub_id: int, story: AlertedStory, now: datetime) -> int:
        """No more alerts of this story for this chat (drop_muted applies it); the mute's id."""
        async with self._write() as conn:
            same = await conn.execute(
                select(mutes.c.id)
                .join(articles, mutes.c.article_id == articles.c.id)
                .where(
                    mutes.c.subscription_id == sub_id,
                    mutes.c.feed_id.is_(None),
                    articles.c.story_id == story.story_id,
                )
            )
            if (found := same.scalar()) is not None:
                return found
            values = {"subscription_id": sub_id, "article_id": story.article_id, "created_at": now}
            return (await conn.execute(insert(mutes).values(values))).inserted_primary_key[0]

    async def mute_source(self, sub_id: int, story: AlertedStory, until: datetime, now: datetime) -> int:
        """No alerts from the story's feed for this chat until then; the mute's id."""
        async with self._write() as conn:
            mine = (mutes.c.subscription_id == sub_id) & (mutes.c.feed_id == story.feed_id)
            await conn.execute(delete(mutes).where(mine))
            values = {
                "subscription_id": sub_id, "article_id": story.article_id, "feed_id": story.feed_id,
                "until": until, "created_at": now,
            }  # fmt: skip
            return (await conn.execute(insert(mutes).values(values))).inserted_primary_key[0]

    async def unmute(self, sub_id: int, mute_id: int) -> bool:
        """Undo a mute; False when this chat has no such mute."""
        mine = (mutes.c.id == mute_id) & (mutes.c.subscription_id == sub_id)
        async with self._write() as conn:
            return (await conn.execute(delete(mutes).where(mine))).rowcount > 0

    async def mutes(self, sub_id: int, now: datetime) -> list[Mute]:
        """This chat's mutes in force, the latest first: stories, and sources until their end."""
        query = (
            select(mutes.c.id, mutes.c.until, articles.c.title, feeds.c.name)
            .join(articles, mutes.c.article_id == articles.c.id)
            .outerjoin(feeds, mutes.c.feed_id == feeds.c.id)
            .where(mutes.c.subscription_id == sub_id, or_(mutes.c.until.is_(None), mutes.c.until > now))
            .order_by(mutes.c.id.desc())
            .limit(LISTED)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [Mute(id_, name if until else title, until) for id_, until, title, name in rows]

    async def replace_rule(
        self, sub_id: int, rule_id: int, query: str, now: datetime
    ) -> tuple[int, int] | None:
        """The chat's rule replaced by `query` (a new rule, so that matching picks it up; urgent as the old
        one was), recorded to undo: (the new rule's id, the edit's id); None when the chat has no such
        rule of its own, or has `query` already."""
        mine = (rules.c.id == rule_id) & (rules.c.subscription_id == sub_id) & (rules.c.source == "chat")
        async with self._write() as conn:
            old = (await conn.execute(select(rules.c.query, rules.c.urgent).where(mine))).one_or_none()
            taken = (rules.c.subscription_id == sub_id) & (rules.c.query == query)
            if old is None or (await conn.execute(select(rules.c.id).where(taken))).first():
                return None
            new_id = await _add_rule(conn, sub_id, query, old.urgent, now)
            await conn.execute(delete(rules).where(mine))
            values = {"subscription_id": sub_id, "rule_id": new_id, "before": old.query, "created_at": now}
            return new_id, (await conn.execute(insert(rule_edits).values(values))).inserted_primary_key[0]

    async def revert_rule(self, sub_id: int, edit_id: int, now: datetime) -> int | None:
        """Undo an edit: the rule as it was, back (a new id again); None when there is no such edit or the
        chat has that rule already."""
        query = (
            select(rule_edits.c.before, rules.c.id, rules.c.urgent)
            .join(rules, rule_edits.c.rule_id == rules.c.id)
            .where(rule_edits.c.id == edit_id, rule_edits.c.subscription_id == sub_id)
        )
        async with self._write() as conn:
            edit = (await conn.execute(query)).one_or_none()
            taken = (rules.c.subscription_id == sub_id) & (rules.c.query == (edit.before if edit else ""))
            if edit is None or (await conn.execute(select(rules.c.id).where(taken))).first():
                return None
            await conn.execute(delete(rules).where(rules.c.id == edit.id))  # its edit row goes with it
            return await _add_rule(conn, sub_id, edit.before, edit.urgent, now)

    async def rule_edits(self, sub_id: int) -> list[RuleEdit]:
        """This chat's rules narrowed from alerts, the latest first."""
        query = (
            select(rule_edits.c.id, rules.c.id, rules.c.query, rule_edits.c.before)
            .join(rules, rule_edits.c.rule_id == rules.c.id)
            .where(rule_edits.c.subscription_id == sub_id)
            .order_by(rule_edits.c.id.desc())
            .limit(LISTED)
        )
        async with self.engine.connect() as conn:
            return [RuleEdit(*row) for row in (await conn.execute(query)).all()]

    async def term_counts_of(self, terms: Iterable[str]) -> TermCounts:
        """In how many recent articles each of these word keys is (as the story step last counted)."""
        async with self.engine.connect() as conn:
            counted = (await conn.execute(select(term_census.c.articles))).scalar() or 0
            rows = await conn.execute(
                select(term_counts.c.term, term_counts.c.articles).where(term_counts.c.term.in_(set(terms)))
            )
            return TermCounts(counted, dict(rows.all()))


async def _add_rule(conn: Any, sub_id: int, query: str, urgent: bool, now: datetime) -> int:
    values = {
        "subscription_id": sub_id, "query": query, "source": "chat", "active": True, "urgent": urgent,
        "created_at": now,
    }  # fmt: skip
    return (await conn.execute(insert(rules).values(values))).inserted_primary_key[0]
