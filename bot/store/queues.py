"""Queue rows: alerts (outbox) and notices, claimed with a lease, marked sent, retried or gone."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, or_, select, tuple_, update

from bot.domain import (
    Alert,
    Delivery,
    Match,
    NoticeDelivery,
    Quote,
)
from bot.store.rows import Rows
from bot.store.rules import subscription_from_row
from bot.store.tables import articles, feeds, mutes, notices, outbox, subscriptions

_QUEUES = {"outbox": outbox, "notices": notices}


class QueueRows(Rows):
    async def claim_due_deliveries(
        self, now: datetime, channels: Collection[str], limit: int, lease: timedelta
    ) -> list[Delivery]:
        """The next alert of each chat (of its urgent ones, and of the rest), if its time has come,
        leased to this caller: a chat's alerts go one after another, in order."""
        query = self._delivery_query()
        heads = (
            select(func.min(outbox.c.id))
            .where(outbox.c.status == "pending")
            .group_by(outbox.c.subscription_id, outbox.c.urgent)
        )
        rows = await self._claim(outbox, query.where(outbox.c.id.in_(heads)), now, channels, limit, lease)
        return await self._deliveries(rows)

    async def drop_muted(self, now: datetime) -> None:
        """Alerts waiting for a muted chat, of a story it muted or from a source it muted are dropped
        (status "muted"): a mute means not now, not later."""
        muted = select(subscriptions.c.id).where(subscriptions.c.muted_until > now)
        muting = select(mutes.c.subscription_id)  # the alerts' mutes are looked at for these chats only
        async with self._write() as conn:
            await conn.execute(
                update(outbox)
                .where(
                    outbox.c.status == "pending",
                    or_(
                        outbox.c.subscription_id.in_(muted),
                        outbox.c.subscription_id.in_(muting) & or_(_muted_story(), _muted_source(now)),
                    ),
                )
                .values(status="muted")
            )

    async def claim_batch(
        self, subscription_id: int, before: datetime, now: datetime, lease: timedelta, limit: int
    ) -> list[Delivery]:
        """A chat's waiting alerts (not urgent) made before a time, in order: one digest's worth."""
        query = (
            self._delivery_query()
            .where(
                outbox.c.subscription_id == subscription_id, outbox.c.status == "pending",
                ~outbox.c.urgent, outbox.c.created_at < before,
            )
            .order_by(outbox.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=outbox)
        )  # fmt: skip
        async with self._write() as conn:
            rows = (await conn.execute(query)).mappings().all()
            ids = [row[outbox.c.id] for row in rows]
            await conn.execute(update(outbox).where(outbox.c.id.in_(ids)).values(claimed_until=now + lease))
        return await self._deliveries(rows)

    async def hold(self, row_id: int, until: datetime) -> None:
        """Not yet: a digest or quiet hours say when; the chat's later alerts wait behind this one."""
        await self._set_all(outbox, [row_id], next_attempt_at=until, claimed_until=None)

    async def release(self, row_ids: Sequence[int]) -> None:
        """Claimed but not sent (the chat app's pace): free for the next round, order untouched."""
        if row_ids:
            async with self._write() as conn:
                await conn.execute(update(outbox).where(outbox.c.id.in_(row_ids)).values(claimed_until=None))

    def _delivery_query(self) -> Any:
        return (
            select(outbox, subscriptions, articles, feeds.c.name.label("feed_name"))
            .join(subscriptions, outbox.c.subscription_id == subscriptions.c.id)
            .join(articles, outbox.c.article_id == articles.c.id)
            .join(feeds, articles.c.feed_id == feeds.c.id)
        )

    async def _deliveries(self, rows: Sequence[Any]) -> list[Delivery]:
        outlets = await self._outlets({row[outbox.c.story_id] for row in rows})
        return [_delivery(row, outlets.get(row[outbox.c.story_id], [])) for row in rows]

    async def _outlets(self, story_ids: set[int]) -> dict[int, list[str]]:
        """Each story's outlets (feed names), in the order they carried it: "Also in" lists them but the
        one of the article the alert shows (the story's face)."""
        query = (
            select(articles.c.story_id, feeds.c.name)
            .join(feeds)
            .where(articles.c.story_id.in_(story_ids))
            .order_by(articles.c.id)
        )
        outlets: dict[int, list[str]] = {}
        async with self.engine.connect() as conn:
            for story_id, name in (await conn.execute(query)).all():
                names = outlets.setdefault(story_id, [])
                if name not in names:
                    names.append(name)
        return outlets

    async def claim_due_notices(
        self, now: datetime, channels: Collection[str], limit: int, lease: timedelta
    ) -> list[NoticeDelivery]:
        """Pending notices (a feed failing, a feed gone) whose time has come, leased to this caller."""
        query = select(notices, subscriptions).join(
            subscriptions, notices.c.subscription_id == subscriptions.c.id
        )
        rows = await self._claim(notices, query, now, channels, limit, lease)
        return [
            NoticeDelivery(
                row[notices.c.id], row[notices.c.attempts], subscription_from_row(row), row[notices.c.text]
            )
            for row in rows
        ]

    async def _claim(
        self, table: Any, query: Any, now: datetime, channels: Collection[str], limit: int, lease: timedelta
    ) -> list[Any]:
        due = (
            (table.c.status == "pending")
            & (table.c.next_attempt_at <= now)
            & or_(table.c.claimed_until.is_(None), table.c.claimed_until < now)
            & subscriptions.c.active
            & subscriptions.c.channel.in_(list(channels))
        )
        async with self._write() as conn:
            # FOR UPDATE SKIP LOCKED (PostgreSQL; SQLite has one writer anyway): another process's claim
            # in progress is passed over, not waited for; the lease keeps it out after that.
            claim = (
                query.where(due).order_by(table.c.id).limit(limit).with_for_update(skip_locked=True, of=table)
            )
            rows = (await conn.execute(claim)).mappings().all()
            ids = [row[table.c.id] for row in rows]
            await conn.execute(update(table).where(table.c.id.in_(ids)).values(claimed_until=now + lease))
        return list(rows)

    async def mark_sent(
        self, kind: str, row_ids: Sequence[int], message_id: str | None, now: datetime
    ) -> None:
        """kind: "outbox" (alerts) or "notices"."""
        table = _QUEUES[kind]
        await self._set_all(
            table, row_ids, status="sent", sent_at=now, message_id=message_id, claimed_until=None,
            attempts=table.c.attempts + 1,
        )  # fmt: skip

    async def mark_retry(self, kind: str, row_ids: Sequence[int], at: datetime, error: str) -> None:
        table = _QUEUES[kind]
        await self._set_all(
            table,
            row_ids,
            next_attempt_at=at,
            last_error=error,
            claimed_until=None,
            attempts=table.c.attempts + 1,
        )

    async def mark_gone(self, kind: str, row_ids: Sequence[int], subscription_id: int, reason: str) -> None:
        """The address is gone: these rows stop, and so does the subscription."""
        table = _QUEUES[kind]
        async with self._write() as conn:
            await conn.execute(
                update(table)
                .where(table.c.id.in_(row_ids))
                .values(status="gone", last_error=reason, claimed_until=None, attempts=table.c.attempts + 1)
            )
            await conn.execute(
                update(subscriptions).where(subscriptions.c.id == subscription_id).values(active=False)
            )

    async def _set_all(self, table: Any, row_ids: Sequence[int], **values: Any) -> None:
        async with self._write() as conn:
            await conn.execute(update(table).where(table.c.id.in_(row_ids)).values(**values))

    async def count_outbox(self) -> dict[str, int]:
        """Outbox rows by status, for health and tests."""
        query = select(outbox.c.status, func.count()).group_by(outbox.c.status)
        async with self.engine.connect() as conn:
            return dict((await conn.execute(query)).all())


def _delivery(row: Any, outlets: list[str]) -> Delivery:
    subscription = subscription_from_row(row)
    alert = Alert(
        title=row[articles.c.title],
        link=row[articles.c.link],  # as the pipeline cleaned it (dedupe.canonical_url)
        feed_name=row["feed_name"],
        published_at=row[articles.c.published_at] or row[articles.c.fetched_at],
        summary=row[articles.c.summary],
        matches=load_matches(row[outbox.c.matches]),
        also_in=tuple(name for name in outlets if name != row["feed_name"]),
        outbox_id=row[outbox.c.id],
        article_id=row[outbox.c.article_id],
    )
    return Delivery(
        row[outbox.c.id], row[outbox.c.attempts], subscription, alert, row[outbox.c.message_id],
        row[outbox.c.urgent], row[outbox.c.created_at],
    )  # fmt: skip


def _muted_story() -> Any:
    """The chat muted this alert's story: the story that the article it muted is in now."""
    muted = (
        select(mutes.c.subscription_id, articles.c.story_id).join(articles).where(mutes.c.feed_id.is_(None))
    )
    return tuple_(outbox.c.subscription_id, outbox.c.story_id).in_(muted)


def _muted_source(now: datetime) -> Any:
    """The chat muted, until later than now, the source of the article this alert shows."""
    feed = (
        select(articles.c.feed_id)
        .where(articles.c.id == outbox.c.article_id)
        .correlate(outbox)
        .scalar_subquery()
    )
    return exists(
        select(mutes.c.id).where(
            mutes.c.subscription_id == outbox.c.subscription_id, mutes.c.until > now, mutes.c.feed_id == feed
        )
    )


def dump_matches(matches: Sequence[Match]) -> str:
    return json.dumps(
        [
            {"rule_id": m.rule_id, "rule": m.rule, "quote": m.quote.text, "spans": m.quote.spans}
            for m in matches
        ]
    )


def load_matches(text: str) -> tuple[Match, ...]:
    return tuple(
        Match(m["rule_id"], m["rule"], Quote(m["quote"], tuple(tuple(s) for s in m["spans"])))
        for m in json.loads(text)
    )
