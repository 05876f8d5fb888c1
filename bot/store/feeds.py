"""Feed rows: config sync, claiming due feeds, what is already known, a poll's results."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, insert, or_, select, update

from bot.domain import (
    Article,
    Feed,
    FeedUpdate,
    NewStory,
    StoredArticle,
)
from bot.store.queues import dump_matches
from bot.store.rows import CHUNK, Rows
from bot.store.tables import articles, feeds, notices, outbox, subscriptions


class FeedRows(Rows):
    async def sync_config_feeds(self, specs: Sequence[Feed], now: datetime) -> None:
        """Feeds from the config file become exactly the active `config` feeds.

        A feed is known by the address the config file gives it, even after a permanent redirect
        moved it, so a restart neither adds it again nor polls its old address; a feed retired by
        410 Gone stays retired (and says so in the log) until it leaves the config file.
        """
        async with self._write() as conn:
            by_config = dict((await conn.execute(select(feeds.c.config_url, feeds.c.id))).all())
            by_url = dict((await conn.execute(select(feeds.c.url, feeds.c.id))).all())
            for spec in specs:
                values = {
                    **({"name": spec.name} if spec.name else {}),
                    "interval_seconds": int(spec.interval.total_seconds()),
                    "backfill": spec.backfill,
                    "source": "config",
                    "config_url": spec.url,
                }
                feed_id = by_config.get(spec.url) or by_url.get(spec.url)
                if feed_id is None:
                    await conn.execute(
                        insert(feeds).values(
                            url=spec.url, next_check_at=now, created_at=now, **{"name": "", **values}
                        )
                    )
                    continue
                await conn.execute(update(feeds).where(feeds.c.id == feed_id).values(values))
                live = feeds.c.id == feed_id
                await conn.execute(
                    update(feeds).where(live, feeds.c.retired_reason.is_(None)).values(active=True)
                )
            await conn.execute(
                update(feeds)
                .where(feeds.c.source == "config", feeds.c.config_url.not_in([s.url for s in specs]))
                .values(active=False)
            )

    async def retired_config_feeds(self) -> list[tuple[str, str]]:
        """(address in the config file, why) for config feeds that are gone for good."""
        query = select(feeds.c.config_url, feeds.c.retired_reason).where(
            feeds.c.source == "config", feeds.c.retired_reason.is_not(None)
        )
        async with self.engine.connect() as conn:
            return [tuple(row) for row in (await conn.execute(query)).all()]  # type: ignore[misc]

    async def add_chat_feed(self, url: str, name: str, interval: timedelta, now: datetime) -> int:
        """A feed added from a chat (untrusted: fetched through the SSRF guard); returns its id."""
        async with self._write() as conn:
            found = (await conn.execute(select(feeds.c.id).where(feeds.c.url == url))).scalar()
            if found is not None:
                await conn.execute(update(feeds).where(feeds.c.id == found).values(active=True))
                return found
            result = await conn.execute(
                insert(feeds).values(
                    url=url, name=name, interval_seconds=int(interval.total_seconds()), backfill=0,
                    source="chat", active=True, next_check_at=now, created_at=now,
                )
            )  # fmt: skip
            return result.inserted_primary_key[0]

    async def feed_list(self) -> list[tuple[Feed, str | None]]:
        """Every feed being polled, with its last error when it is failing, by name."""
        query = select(feeds).where(feeds.c.active).order_by(func.lower(feeds.c.name), feeds.c.id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [(_feed(row), row.last_error if row.failing_since else None) for row in rows]

    async def remove_chat_feed(self, feed_id: int) -> str | None:
        """Stop polling a feed added from a chat. Returns why not (config feed, no such feed), or None."""
        async with self._write() as conn:
            row = (
                await conn.execute(select(feeds.c.source).where(feeds.c.id == feed_id, feeds.c.active))
            ).first()
            if row is None:
                return "no such feed"
            if row.source == "config":
                return "it comes from the config file: remove it there"
            await conn.execute(update(feeds).where(feeds.c.id == feed_id).values(active=False))
            return None

    async def claim_due_feeds(
        self, now: datetime, limit: int, lease: timedelta, *, only: Sequence[int] | None = None
    ) -> list[Feed]:
        """Feeds due for a poll (or these, due or not), leased to this caller meanwhile."""
        free = feeds.c.active & or_(feeds.c.claimed_until.is_(None), feeds.c.claimed_until < now)
        due = free & (feeds.c.next_check_at <= now) if only is None else free & feeds.c.id.in_(only)
        async with self._write() as conn:
            rows = (
                await conn.execute(select(feeds).where(due).order_by(feeds.c.next_check_at).limit(limit))
            ).all()
            ids = [row.id for row in rows]
            await conn.execute(update(feeds).where(feeds.c.id.in_(ids)).values(claimed_until=now + lease))
        return [_feed(row) for row in rows]

    async def active_feed_ids(self) -> list[int]:
        async with self.engine.connect() as conn:
            return list(
                (await conn.execute(select(feeds.c.id).where(feeds.c.active).order_by(feeds.c.id))).scalars()
            )

    async def known_articles(self, feed_id: int, items: Sequence[Article]) -> set[str]:
        """Which of the items' identities this feed has already had."""
        return await self.known_identities(feed_id, [a.identity for a in items])

    async def known_identities(self, feed_id: int, identities: Sequence[str]) -> set[str]:
        wanted = list(dict.fromkeys(identities))
        known: set[str] = set()
        async with self.engine.connect() as conn:
            for at in range(0, len(wanted), CHUNK):  # stay under the database's parameter limit
                query = select(articles.c.identity).where(
                    articles.c.feed_id == feed_id, articles.c.identity.in_(wanted[at : at + CHUNK])
                )
                known.update((await conn.execute(query)).scalars())
        return known

    async def save_poll(
        self, feed: Feed, stories: Sequence[NewStory], state: FeedUpdate, now: datetime
    ) -> None:
        """New stories, their alerts and the feed's new state, in one transaction."""
        async with self._write() as conn:
            if stories:
                await self._insert_stories(conn, feed.id, stories, now)
            await self._record_success(conn, feed.id, state, now)

    async def save_polls_without_news(self, states: Sequence[tuple[int, FeedUpdate]], now: datetime) -> None:
        """The new state of every feed a tick found with nothing new (304s, mostly), together."""
        if states:
            async with self._write() as conn:
                await self._record_successes(conn, states, now)

    async def _record_success(self, conn: Any, feed_id: int, state: FeedUpdate, now: datetime) -> None:
        await self._record_successes(conn, [(feed_id, state)], now)

    async def _record_successes(
        self, conn: Any, states: Sequence[tuple[int, FeedUpdate]], now: datetime
    ) -> None:
        """One statement for them all (executemany); then the moves, to an address no other feed has."""
        await conn.execute(
            _RECORD_SUCCESS, [_success_params(feed_id, state, now) for feed_id, state in states]
        )
        for feed_id, state in states:
            taken = (
                state.moved_to
                and (await conn.execute(select(feeds.c.id).where(feeds.c.url == state.moved_to))).first()
            )
            if state.moved_to and not taken:
                await conn.execute(update(feeds).where(feeds.c.id == feed_id).values(url=state.moved_to))

    async def _insert_stories(
        self, conn: Any, feed_id: int, stories: Sequence[NewStory], now: datetime
    ) -> None:
        """All of a poll's articles in one statement, then all their alerts in one more."""
        rows = [
            {
                "feed_id": feed_id, "identity": story.article.identity, "guid": story.article.guid,
                "link": story.article.link, "content_hash": story.article.content_hash,
                "title": story.article.title, "body": story.body, "summary": story.summary,
                "published_at": story.article.published_at, "fetched_at": now,
            }
            for story in stories
        ]  # fmt: skip
        inserted = await conn.execute(
            insert(articles).returning(articles.c.id, sort_by_parameter_order=True), rows
        )
        alerts = [
            {
                "subscription_id": alert.subscription_id, "article_id": article_id,
                "matches": dump_matches(alert.matches), "status": "pending", "attempts": 0,
                "next_attempt_at": now, "created_at": now,
            }
            for article_id, story in zip(inserted.scalars().all(), stories, strict=True)
            for alert in story.alerts
        ]  # fmt: skip
        if alerts:
            await conn.execute(insert(outbox), alerts)

    async def record_feed_failure(
        self, feed: Feed, error: str, next_check_at: datetime, now: datetime, notice: str | None = None
    ) -> None:
        """A failed poll: count it, say when to retry, and tell every chat once if asked to."""
        async with self._write() as conn:
            await conn.execute(
                update(feeds)
                .where(feeds.c.id == feed.id)
                .values(
                    error_count=feeds.c.error_count + 1,
                    last_error=error,
                    next_check_at=next_check_at,
                    claimed_until=None,
                    failing_since=func.coalesce(feeds.c.failing_since, now),
                    failure_noticed=feeds.c.failure_noticed | (notice is not None),
                )
            )
            if notice:
                await self._notify_everyone(conn, notice, now)

    async def retire_feed(self, feed: Feed, reason: str, notice: str, now: datetime) -> None:
        """The feed is gone for good (410): stop polling it and tell every chat."""
        async with self._write() as conn:
            await conn.execute(
                update(feeds)
                .where(feeds.c.id == feed.id)
                .values(active=False, retired_reason=reason, last_error=reason, claimed_until=None)
            )
            await self._notify_everyone(conn, notice, now)

    async def _notify_everyone(self, conn: Any, text: str, now: datetime) -> None:
        # Every active chat: each one's rules run over every feed, so each is affected.
        targets = (await conn.execute(select(subscriptions.c.id).where(subscriptions.c.active))).scalars()
        for sub_id in targets:
            await conn.execute(
                insert(notices).values(
                    subscription_id=sub_id, text=text, status="pending", attempts=0, next_attempt_at=now,
                    created_at=now,
                )
            )  # fmt: skip

    async def recent_articles(self, since: datetime, limit: int = 100_000) -> list[StoredArticle]:
        """Articles fetched since a time, newest first, with their feed's name (for backtests)."""
        query = (
            select(articles.c.title, articles.c.body, feeds.c.name, articles.c.link, articles.c.fetched_at)
            .join(feeds)
            .where(articles.c.fetched_at >= since)
            .order_by(articles.c.fetched_at.desc(), articles.c.id.desc())
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            return [StoredArticle(*row) for row in (await conn.execute(query)).all()]


_RECORD_SUCCESS = (
    update(feeds)
    .where(feeds.c.id == bindparam("p_id"))
    .values(
        etag=bindparam("p_etag"), last_modified=bindparam("p_last_modified"),
        body_hash=bindparam("p_body_hash"), next_check_at=bindparam("p_next_check_at"), claimed_until=None,
        error_count=0, last_error=None, last_success_at=bindparam("p_now"), failing_since=None,
        failure_noticed=False, name=func.coalesce(func.nullif(feeds.c.name, ""), bindparam("p_title")),
        ttl_seconds=bindparam("p_ttl_seconds"), skip_hours=bindparam("p_skip_hours"),
    )
)  # fmt: skip


def _success_params(feed_id: int, state: FeedUpdate, now: datetime) -> dict[str, Any]:
    return {
        "p_id": feed_id, "p_etag": state.etag, "p_last_modified": state.last_modified,
        "p_body_hash": state.body_hash, "p_next_check_at": state.next_check_at, "p_now": now,
        "p_title": state.title, "p_ttl_seconds": int(state.ttl.total_seconds()) if state.ttl else None,
        "p_skip_hours": ",".join(map(str, sorted(state.skip_hours))) or None,
    }  # fmt: skip


def _feed(row: Any) -> Feed:
    return Feed(
        id=row.id,
        url=row.url,
        name=row.name,
        interval=timedelta(seconds=row.interval_seconds),
        backfill=row.backfill,
        etag=row.etag,
        last_modified=row.last_modified,
        body_hash=row.body_hash,
        error_count=row.error_count,
        polled=row.last_success_at is not None,
        failing_since=row.failing_since,
        failure_noticed=row.failure_noticed,
        trusted=row.source == "config",
        ttl=timedelta(seconds=row.ttl_seconds) if row.ttl_seconds else None,
        skip_hours=frozenset(int(h) for h in (row.skip_hours or "").split(",") if h),
    )
