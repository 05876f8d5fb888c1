"""The database: every feed, article, rule, subscription and pending alert is a row here.

SQLite by default (WAL), PostgreSQL for scale; schema changes only through Alembic migrations.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager, nullcontext
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, func, insert, or_, select, update
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.domain import (
    Alert,
    Article,
    Delivery,
    Feed,
    FeedUpdate,
    Match,
    NewStory,
    NoticeDelivery,
    Quote,
    Rule,
    StoredArticle,
    Subscription,
)
from bot.errors import StoreError
from bot.store.tables import articles, feeds, notices, outbox, rules, subscriptions

MIGRATIONS = Path(__file__).parent / "migrations"
_CHUNK = 500  # values per IN (...) list
_QUEUES = {"outbox": outbox, "notices": notices}
_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


def async_url(database_url: str) -> str:
    """`sqlite:///x.db` -> `sqlite+aiosqlite:///x.db`; a URL naming its driver is kept."""
    url = make_url(database_url)
    driver = _ASYNC_DRIVERS.get(url.drivername)
    return url.set(drivername=driver).render_as_string(hide_password=False) if driver else database_url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _upgrade(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


class Store:
    def __init__(self, engine: AsyncEngine):
        self.engine = engine
        # SQLite has one writer at a time: writers here queue for it instead of timing out on its lock.
        self._one_writer = asyncio.Lock() if engine.dialect.name == "sqlite" else None

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[Any]:
        """A write transaction (committed on success, rolled back on error)."""
        async with self._one_writer or nullcontext(), self.engine.begin() as conn:
            yield conn

    @classmethod
    def open(cls, database_url: str) -> Store:
        url = make_url(async_url(database_url))
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        try:
            engine = create_async_engine(url)
        except (SQLAlchemyError, ImportError) as error:
            raise StoreError(f"cannot open database {url.render_as_string()}: {error}") from None
        if url.get_backend_name() == "sqlite":
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return cls(engine)

    async def close(self) -> None:
        await self.engine.dispose()

    async def upgrade(self) -> None:
        """Bring the schema to the newest migration; safe to run on every start."""
        async with self._write() as conn:
            await conn.run_sync(_upgrade)

    # -- configuration ---------------------------------------------------------------------

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

    async def sync_config_subscriptions(
        self, specs: Sequence[tuple[Subscription, Sequence[str]]], now: datetime
    ) -> None:
        """Subscriptions from the config file, each with exactly its listed rules."""
        async with self._write() as conn:
            kept = []
            for spec, queries in specs:
                sub_id = await self._upsert_subscription(conn, spec, now)
                kept.append(sub_id)
                await self._replace_config_rules(conn, sub_id, queries, now)
            await conn.execute(
                update(subscriptions)
                .where(subscriptions.c.source == "config", subscriptions.c.id.not_in(kept))
                .values(active=False)
            )

    async def _upsert_subscription(self, conn: Any, spec: Subscription, now: datetime) -> int:
        key = (subscriptions.c.channel == spec.channel) & (subscriptions.c.address == spec.address)
        found = (await conn.execute(select(subscriptions.c.id).where(key))).scalar()
        if found is not None:
            await conn.execute(update(subscriptions).where(key).values(name=spec.name, active=True))
            return found
        result = await conn.execute(
            insert(subscriptions).values(
                channel=spec.channel,
                address=spec.address,
                name=spec.name,
                source="config",
                active=True,
                created_at=now,
            )
        )
        return result.inserted_primary_key[0]

    async def _replace_config_rules(
        self, conn: Any, sub_id: int, queries: Sequence[str], now: datetime
    ) -> None:
        mine = (rules.c.subscription_id == sub_id) & (rules.c.source == "config")
        have = set((await conn.execute(select(rules.c.query).where(mine))).scalars())
        await conn.execute(rules.delete().where(mine, rules.c.query.not_in(list(queries))))
        for query in dict.fromkeys(queries):
            if query not in have:
                await conn.execute(
                    insert(rules).values(
                        subscription_id=sub_id, query=query, source="config", active=True, created_at=now
                    )
                )

    # -- polling ---------------------------------------------------------------------------

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
            for at in range(0, len(wanted), _CHUNK):  # stay under the database's parameter limit
                query = select(articles.c.identity).where(
                    articles.c.feed_id == feed_id, articles.c.identity.in_(wanted[at : at + _CHUNK])
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
            moved = (
                state.moved_to
                and not (await conn.execute(select(feeds.c.id).where(feeds.c.url == state.moved_to))).first()
            )
            await conn.execute(
                update(feeds)
                .where(feeds.c.id == feed.id)
                .values(
                    etag=state.etag,
                    last_modified=state.last_modified,
                    body_hash=state.body_hash,
                    next_check_at=state.next_check_at,
                    claimed_until=None,
                    error_count=0,
                    last_error=None,
                    last_success_at=now,
                    failing_since=None,
                    failure_noticed=False,
                    name=func.coalesce(func.nullif(feeds.c.name, ""), state.title),
                    ttl_seconds=int(state.ttl.total_seconds()) if state.ttl else None,
                    skip_hours=",".join(map(str, sorted(state.skip_hours))) or None,
                    **({"url": state.moved_to} if moved else {}),
                )
            )

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
                "matches": _dump_matches(alert.matches), "status": "pending", "attempts": 0,
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

    async def rules_fingerprint(self) -> tuple[int, ...]:
        """Changes whenever the set of active rules changes; cheap to ask every tick."""
        query = (
            select(
                func.count(),
                func.coalesce(func.sum(rules.c.id), 0),
                func.coalesce(func.sum(rules.c.id * rules.c.id), 0),
                func.coalesce(func.max(rules.c.id), 0),
            )
            .select_from(rules.join(subscriptions))
            .where(rules.c.active, subscriptions.c.active)
        )
        async with self.engine.connect() as conn:
            return tuple((await conn.execute(query)).one())

    async def active_rules(self) -> list[Rule]:
        query = (
            select(rules.c.id, rules.c.subscription_id, rules.c.query)
            .join(subscriptions)
            .where(rules.c.active, subscriptions.c.active)
            .order_by(rules.c.id)
        )
        async with self.engine.connect() as conn:
            return [Rule(*row) for row in (await conn.execute(query)).all()]

    # -- delivery --------------------------------------------------------------------------

    async def claim_due_deliveries(
        self, now: datetime, channels: Collection[str], limit: int, lease: timedelta
    ) -> list[Delivery]:
        """Pending alerts whose time has come, oldest first, leased to this caller."""
        query = (
            select(outbox, subscriptions, articles, feeds.c.name.label("feed_name"))
            .join(subscriptions, outbox.c.subscription_id == subscriptions.c.id)
            .join(articles, outbox.c.article_id == articles.c.id)
            .join(feeds, articles.c.feed_id == feeds.c.id)
        )
        rows = await self._claim(outbox, query, now, channels, limit, lease)
        return [_delivery(row) for row in rows]

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
                row[notices.c.id], row[notices.c.attempts], _subscription(row), row[notices.c.text]
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
            rows = (await conn.execute(query.where(due).order_by(table.c.id).limit(limit))).mappings().all()
            ids = [row[table.c.id] for row in rows]
            await conn.execute(update(table).where(table.c.id.in_(ids)).values(claimed_until=now + lease))
        return list(rows)

    async def mark_sent(self, kind: str, row_id: int, message_id: str, now: datetime) -> None:
        """kind: "outbox" (alerts) or "notices"."""
        table = _QUEUES[kind]
        await self._set(
            table, row_id, status="sent", sent_at=now, message_id=message_id, claimed_until=None,
            attempts=table.c.attempts + 1,
        )  # fmt: skip

    async def mark_retry(self, kind: str, row_id: int, at: datetime, error: str) -> None:
        table = _QUEUES[kind]
        await self._set(
            table,
            row_id,
            next_attempt_at=at,
            last_error=error,
            claimed_until=None,
            attempts=table.c.attempts + 1,
        )

    async def mark_gone(self, kind: str, row_id: int, subscription_id: int, reason: str) -> None:
        """The address is gone: this row stops, and so does the subscription."""
        table = _QUEUES[kind]
        async with self._write() as conn:
            await conn.execute(
                update(table)
                .where(table.c.id == row_id)
                .values(status="gone", last_error=reason, claimed_until=None, attempts=table.c.attempts + 1)
            )
            await conn.execute(
                update(subscriptions).where(subscriptions.c.id == subscription_id).values(active=False)
            )

    async def _set(self, table: Any, row_id: int, **values: Any) -> None:
        async with self._write() as conn:
            await conn.execute(update(table).where(table.c.id == row_id).values(**values))

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

    async def count_outbox(self) -> dict[str, int]:
        """Outbox rows by status, for health and tests."""
        query = select(outbox.c.status, func.count()).group_by(outbox.c.status)
        async with self.engine.connect() as conn:
            return dict((await conn.execute(query)).all())


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


def _subscription(row: Any) -> Subscription:
    return Subscription(
        row[subscriptions.c.id],
        row[subscriptions.c.channel],
        row[subscriptions.c.address],
        row[subscriptions.c.name],
    )


def _delivery(row: Any) -> Delivery:
    subscription = _subscription(row)
    alert = Alert(
        title=row[articles.c.title],
        link=row[articles.c.link],
        feed_name=row["feed_name"],
        published_at=row[articles.c.published_at] or row[articles.c.fetched_at],
        summary=row[articles.c.summary],
        matches=_load_matches(row[outbox.c.matches]),
    )
    return Delivery(row[outbox.c.id], row[outbox.c.attempts], subscription, alert)


def _dump_matches(matches: Sequence[Match]) -> str:
    return json.dumps(
        [
            {"rule_id": m.rule_id, "rule": m.rule, "quote": m.quote.text, "spans": m.quote.spans}
            for m in matches
        ]
    )


def _load_matches(text: str) -> tuple[Match, ...]:
    return tuple(
        Match(m["rule_id"], m["rule"], Quote(m["quote"], tuple(tuple(s) for s in m["spans"])))
        for m in json.loads(text)
    )
