"""Feed rows: config sync, claiming due feeds, what is already known, a poll's results."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import bindparam, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from bot.domain import (
    Article,
    Feed,
    FeedUpdate,
    NewStory,
    Pace,
    StoredArticle,
    StoryDecider,
)
from bot.store.queues import dump_matches
from bot.store.rows import Direct, Rows, hold_lock, one_of
from bot.store.stories import plan_stories
from bot.store.tables import (
    admins,
    articles,
    feeds,
    llm_summaries,
    notices,
    outbox,
    seen_entries,
    subscriptions,
)

TRUSTED = ("config", "operator")  # feeds' sources polled without the SSRF guard: not from a chat


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
                    "fixed_interval": spec.fixed_interval,
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

    async def add_feed(
        self, url: str, name: str, interval: timedelta, now: datetime, *, source: str = "chat"
    ) -> tuple[int, bool]:
        """A feed added from a chat (untrusted: fetched through the SSRF guard), or by the operator's
        `opml import` (source "operator": trusted, as the config file's); its id, and whether it is
        new to the watch list. A feed watched already stays as it is; one watched before comes back
        as this source says."""
        async with self._write() as conn:
            found = (await conn.execute(select(feeds.c.id, feeds.c.active).where(feeds.c.url == url))).first()
            if found is not None:
                if not found.active:
                    back = update(feeds).where(feeds.c.id == found.id)
                    await conn.execute(back.values(active=True, source=source))
                return found.id, not found.active
            result = await conn.execute(
                insert(feeds).values(
                    url=url, name=name, interval_seconds=int(interval.total_seconds()), backfill=0,
                    source=source, active=True, next_check_at=now, created_at=now,
                )
            )  # fmt: skip
            return result.inserted_primary_key[0], True

    async def feed_items(self, feed_id: int) -> tuple[int, str | None]:
        """How many items of this feed are stored, and why it fails, while it does."""
        count = select(func.count()).select_from(articles).where(articles.c.feed_id == feed_id)
        error = select(feeds.c.last_error).where(feeds.c.id == feed_id, feeds.c.failing_since.is_not(None))
        async with self.engine.connect() as conn:
            return int((await conn.execute(count)).scalar() or 0), (await conn.execute(error)).scalar()

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
        claim = partial(_claim_feeds, now=now, limit=limit, until=now + lease, only=only)
        return await self._run(claim, write=True)

    async def release_feeds(self, feed_ids: Sequence[int]) -> None:
        """Claimed but not polled to the end (the database failed meanwhile): due again at once."""
        if feed_ids:
            async with self._write() as conn:
                await conn.execute(update(feeds).where(feeds.c.id.in_(feed_ids)).values(claimed_until=None))

    async def active_feed_ids(self) -> list[int]:
        async with self.engine.connect() as conn:
            return list(
                (await conn.execute(select(feeds.c.id).where(feeds.c.active).order_by(feeds.c.id))).scalars()
            )

    async def known_articles(self, feed_id: int, items: Sequence[Article]) -> set[str]:
        """Which of the items' identities this feed has already had."""
        return await self.known_identities(feed_id, [a.identity for a in items])

    async def known_identities(self, feed_id: int, identities: Sequence[str]) -> set[str]:
        return await self._run(
            partial(_known_identities, feed_id=feed_id, wanted=list(dict.fromkeys(identities)))
        )

    async def save_poll(
        self,
        feed: Feed,
        stories: Sequence[NewStory],
        state: FeedUpdate,
        now: datetime,
        decider: StoryDecider,
    ) -> None:
        """New articles joined to their stories as the decider plans it, their alerts and the feed's new
        state, in one transaction."""
        save = partial(_save_poll, feed_id=feed.id, stories=stories, state=state, now=now, decider=decider)
        await self._run(save, write=True)

    async def save_polls_without_news(self, states: Sequence[tuple[int, FeedUpdate]], now: datetime) -> None:
        """The new state of every feed a tick found with nothing new (304s, mostly), together."""
        if states:
            await self._run(partial(_record_successes, states=states, now=now), write=True)

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

    async def notify(self, channel: str, addresses: Sequence[str], text: str, now: datetime) -> None:
        """A notice to these chats of a channel (the settings' admins' own chats) and to those its
        admins claimed the bot from, those that are subscribed."""
        claimed = select(admins.c.address).where(admins.c.channel == channel)
        query = select(subscriptions.c.id).where(
            subscriptions.c.active,
            subscriptions.c.channel == channel,
            or_(subscriptions.c.address.in_(addresses), subscriptions.c.address.in_(claimed)),
        )
        async with self._write() as conn:
            await _queue_notices(conn, (await conn.execute(query)).scalars().all(), text, now)

    async def _notify_everyone(self, conn: Any, text: str, now: datetime) -> None:
        # Every active chat: each one's rules run over every feed, so each is affected.
        targets = (
            (await conn.execute(select(subscriptions.c.id).where(subscriptions.c.active))).scalars().all()
        )
        await _queue_notices(conn, targets, text, now)

    async def cached_summary(self, content_hash: str) -> str | None:
        query = select(llm_summaries.c.summary).where(llm_summaries.c.content_hash == content_hash)
        async with self.engine.connect() as conn:
            return (await conn.execute(query)).scalar()

    async def summary_tokens_since(self, since: datetime) -> int:
        query = select(func.coalesce(func.sum(llm_summaries.c.tokens), 0)).where(
            llm_summaries.c.created_at >= since
        )
        async with self.engine.connect() as conn:
            return int((await conn.execute(query)).scalar() or 0)

    async def save_summary(self, content_hash: str, summary: str, tokens: int, now: datetime) -> None:
        async with self._write() as conn:
            if (
                await conn.execute(
                    select(llm_summaries.c.content_hash).where(llm_summaries.c.content_hash == content_hash)
                )
            ).first() is None:
                await conn.execute(
                    insert(llm_summaries).values(
                        content_hash=content_hash, summary=summary, tokens=tokens, created_at=now
                    )
                )

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

    # --- /status (issue #10, hosting branch): added here, at the end, so the merge stays simple -----

    async def status_figures(self, since: datetime) -> tuple[datetime | None, list[float]]:
        """The last successful poll of any feed, and for each alert sent since a time, the seconds
        from its story's publication (else its fetching) to its delivery."""
        last_poll = select(func.max(feeds.c.last_success_at))
        sent = (
            select(func.coalesce(articles.c.published_at, articles.c.fetched_at), outbox.c.sent_at)
            .join(articles, outbox.c.article_id == articles.c.id)
            .where(outbox.c.status == "sent", outbox.c.sent_at >= since)
        )
        async with self.engine.connect() as conn:
            last = (await conn.execute(last_poll)).scalar()
            rows = (await conn.execute(sent)).all()
        return last, [max((delivered - published).total_seconds(), 0.0) for published, delivered in rows]


# -- The busiest paths, as plain functions of a connection (Store._run gives it) ---------------------


# The busiest statements are built once, and run by SQLite's driver directly (rows.Direct): building or
# executing one through SQLAlchemy costs more than SQLite takes to run it.
_KNOWN = Direct(  # what the feed has had: its articles' identities, and those of articles pruned since
    select(seen_entries.c.identity).where(
        seen_entries.c.feed_id == bindparam("feed"), one_of(seen_entries.c.identity, "identities")
    )
)


def _known_identities(conn: Connection, feed_id: int, wanted: list[str]) -> set[str]:
    return {identity for (identity,) in _KNOWN.rows(conn, {"feed": feed_id, "identities": wanted})}


def _claimable(which: Any) -> Any:
    free = feeds.c.active & or_(feeds.c.claimed_until.is_(None), feeds.c.claimed_until < bindparam("now"))
    return (
        select(feeds)
        .where(free, which)
        .order_by(feeds.c.next_check_at)
        .limit(bindparam("limit"))
        .with_for_update(skip_locked=True)  # PostgreSQL: replicas pass over each other's claims
    )


_DUE = _claimable(feeds.c.next_check_at <= bindparam("now"))
_THESE = _claimable(one_of(feeds.c.id, "only"))  # due or not
_CLAIM = update(feeds).where(one_of(feeds.c.id, "ids")).values(claimed_until=bindparam("until"))


def _claim_feeds(
    conn: Connection, now: datetime, limit: int, until: datetime, only: Sequence[int] | None
) -> list[Feed]:
    params = {"now": now, "limit": limit}
    rows = (
        conn.execute(_DUE, params).all()
        if only is None
        else conn.execute(_THESE, params | {"only": only}).all()
    )
    conn.execute(_CLAIM, {"ids": [row.id for row in rows], "until": until})
    return [_feed(row) for row in rows]


def _save_poll(
    conn: Connection,
    feed_id: int,
    stories: Sequence[NewStory],
    state: FeedUpdate,
    now: datetime,
    decider: StoryDecider,
) -> None:
    if stories:
        _insert_stories(conn, feed_id, stories, now, decider)
    _record_successes(conn, [(feed_id, state)], now)


def _record_successes(conn: Connection, states: Sequence[tuple[int, FeedUpdate]], now: datetime) -> None:
    """One statement for them all (executemany); then the moves, to an address no other feed has."""
    _RECORD_SUCCESS.run_many(conn, [_success_params(feed_id, state, now) for feed_id, state in states])
    read = [(feed_id, state.seen) for feed_id, state in states if state.seen is not None]
    _STILL_SEEN.run_many(conn, [{"feed": f, "identities": list(seen), "now": now} for f, seen in read])
    _ENTRIES_READ.run_many(conn, [{"feed": f, "now": now} for f, _ in read])
    for feed_id, state in states:
        taken = (
            state.moved_to and conn.execute(select(feeds.c.id).where(feeds.c.url == state.moved_to)).first()
        )
        if state.moved_to and not taken:
            conn.execute(update(feeds).where(feeds.c.id == feed_id).values(url=state.moved_to))


def _insert_stories(
    conn: Connection, feed_id: int, stories: Sequence[NewStory], now: datetime, decider: StoryDecider
) -> None:
    """A poll's articles, each joined to its story as the decider plans it (store/stories.py writes the
    plan), and one alert per subscription and story, showing the story's face."""
    rows = [
        {
            "feed_id": feed_id, "identity": story.article.identity, "guid": story.article.guid,
            "link": story.link or story.article.link, "content_hash": story.article.content_hash,
            "title": story.article.title, "body": story.body, "summary": story.summary,
            "published_at": story.article.published_at, "fetched_at": now,
            "story_url": story.key.url, "title_key": story.key.title,
            "story_terms": f"{' '.join(story.key.title_terms)} | {' '.join(story.key.lead_terms)}",
        }
        for story in stories
    ]  # fmt: skip
    hold_lock(conn, "stories")  # PostgreSQL: one save at a time joins stories, so replicas make one story
    ids = _INSERT_ARTICLES.returned(conn, rows)
    _INSERT_SEEN.run_many(
        conn, [{"feed_id": feed_id, "identity": row["identity"], "last_seen_at": now} for row in rows]
    )
    plan = plan_stories(conn, feed_id, list(zip(ids, stories, strict=True)), now, decider)
    had = _alerted(conn, set(plan.stories.values()))
    alerts = []
    for article_id, story in zip(ids, stories, strict=True):
        story_id = plan.stories[article_id]
        for alert in story.alerts:
            if (alert.subscription_id, story_id) not in had:
                had.add((alert.subscription_id, story_id))
                alerts.append(
                    {
                        "subscription_id": alert.subscription_id, "article_id": plan.faces[story_id],
                        "story_id": story_id, "matches": dump_matches(alert.matches), "status": "pending",
                        "urgent": alert.urgent,
                        "attempts": 0, "next_attempt_at": now, "created_at": now,
                    }
                )  # fmt: skip
    _INSERT_ALERTS.run_many(conn, alerts)


def _alerted(conn: Connection, story_ids: set[int]) -> set[tuple[int, int]]:
    """(subscription, story) pairs that already have their alert."""
    return {(sub, story) for sub, story in _ALERTED.rows(conn, {"stories": sorted(story_ids)})}


_INSERT_ARTICLES = Direct(insert(articles).returning(articles.c.id, sort_by_parameter_order=True))
_INSERT_ALERTS = Direct(insert(outbox))
_INSERT_SEEN = Direct(insert(seen_entries))
_STILL_SEEN = Direct(  # the entries a read of the feed found: still in it
    update(seen_entries)
    .where(seen_entries.c.feed_id == bindparam("feed"), one_of(seen_entries.c.identity, "identities"))
    .values(last_seen_at=bindparam("now"))
)
_ENTRIES_READ = Direct(
    update(feeds).where(feeds.c.id == bindparam("feed")).values(entries_read_at=bindparam("now"))
)
_ALERTED = Direct(
    select(outbox.c.subscription_id, outbox.c.story_id).where(one_of(outbox.c.story_id, "stories"))
)
_RECORD_SUCCESS = Direct(
    update(feeds)
    .where(feeds.c.id == bindparam("p_id"))
    .values(
        etag=bindparam("p_etag"), last_modified=bindparam("p_last_modified"),
        body_hash=bindparam("p_body_hash"), next_check_at=bindparam("p_next_check_at"), claimed_until=None,
        error_count=0, last_error=None, last_success_at=bindparam("p_now"), failing_since=None,
        failure_noticed=False, name=func.coalesce(func.nullif(feeds.c.name, ""), bindparam("p_title")),
        ttl_seconds=bindparam("p_ttl_seconds"), skip_hours=bindparam("p_skip_hours"),
        pace_since=bindparam("p_pace_since"), pace_recent=bindparam("p_pace_recent"),
    )
)  # fmt: skip


def _success_params(feed_id: int, state: FeedUpdate, now: datetime) -> dict[str, Any]:
    return {
        "p_id": feed_id, "p_etag": state.etag, "p_last_modified": state.last_modified,
        "p_body_hash": state.body_hash, "p_next_check_at": state.next_check_at, "p_now": now,
        "p_title": state.title, "p_ttl_seconds": int(state.ttl.total_seconds()) if state.ttl else None,
        "p_skip_hours": ",".join(map(str, sorted(state.skip_hours))) or None,
        "p_pace_since": state.pace and state.pace.since,
        "p_pace_recent": state.pace and ",".join(str(int(date.timestamp())) for date in state.pace.recent),
    }  # fmt: skip


async def _queue_notices(conn: Any, subscription_ids: Sequence[int], text: str, now: datetime) -> None:
    rows = [
        {"subscription_id": sub_id, "text": text, "status": "pending", "attempts": 0, "next_attempt_at": now,
         "created_at": now}
        for sub_id in subscription_ids
    ]  # fmt: skip
    if rows:
        await conn.execute(insert(notices), rows)


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
        trusted=row.source in TRUSTED,
        ttl=timedelta(seconds=row.ttl_seconds) if row.ttl_seconds else None,
        skip_hours=frozenset(int(h) for h in (row.skip_hours or "").split(",") if h),
        fixed_interval=row.fixed_interval,
        pace=_pace(row.pace_since, row.pace_recent),
    )


def _pace(since: datetime | None, recent: str | None) -> Pace | None:
    dates = (datetime.fromtimestamp(int(seconds), UTC) for seconds in (recent or "").split(",") if seconds)
    return Pace(since, tuple(dates)) if since else None
