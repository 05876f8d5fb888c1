"""Retention: rows older than a cutoff deleted in small batches, each batch its own short write
transaction, so polling and delivery never wait long for the write lock. The cutoffs are decided by the
caller (app.py, from the settings); here only which rows they reach, and never a waiting alert.

- outbox and notices: done with (not pending), last sent (else made) before the outbox cutoff; an
  alert only once its story has had no new article since `live_since` (stories.window), since the
  alert row is what keeps a chat from being alerted to its story twice.
- articles fetched before the articles cutoff that no alert shows (an alert row's article is its
  story's face: deleting it would delete the alert), with their vectors (the foreign key cascades) and
  the story_clues rows of their stories whose articles were all fetched before the cutoff.
- seen_entries: an entry's identity once its article is gone and it has not been in its feed since
  the articles cutoff (the feed has been read since without it), so an entry still in a feed is never
  new again.
- llm_summaries: made before the articles cutoff (a cache; the month's token count is younger).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, exists, func, select, text
from sqlalchemy.engine import Connection

from bot.store.rows import Rows, one_of
from bot.store.stories import micros
from bot.store.tables import (
    articles,
    feeds,
    llm_summaries,
    notices,
    outbox,
    seen_entries,
    story_clues,
)

BATCH = 500  # rows a write transaction deletes at most
FEWEST = 10  # and at least, however slow the disk
HOLD = 0.1  # seconds a write transaction should hold the lock at most: batches shrink to stay under it
VACUUM_PAGES = 500  # SQLite pages (4 KB each) a write transaction gives back to the disk at most
DONE = ("sent", "stopped", "muted", "gone", "merged")  # every status but pending


class RetentionRows(Rows):
    async def prune(
        self,
        articles_before: datetime | None,
        outbox_before: datetime | None,
        live_since: datetime,
    ) -> dict[str, int]:
        """Delete what is older than the cutoffs (None: keep forever), batch by batch; how many rows of
        each table went. On SQLite the freed pages then go back to the disk (incremental vacuum)."""
        pruned: Counter[str] = Counter()
        if outbox_before:
            pruned["outbox"] = await self._batches(_done_alerts, outbox_before, live_since)
            pruned["notices"] = await self._batches(_done_notices, outbox_before)
        if articles_before:
            pruned["articles"] = await self._batches(_old_articles, articles_before, clues=pruned)
            pruned["seen_entries"] = await self._batches(_gone_entries, articles_before)
            pruned["llm_summaries"] = await self._batches(_old_summaries, articles_before)
        if any(pruned.values()) and self.engine.dialect.name == "sqlite":
            while await self._run(_give_back_pages, write=True):
                pass
            await self._run(_checkpoint, write=True)
        return {table: n for table, n in pruned.items() if n}

    async def _batches(self, work: Callable[..., int], *cutoffs: datetime, **counts: Counter[str]) -> int:
        """`work` in write transactions of its own, each deleting a batch (next_batch says how many),
        until one deletes less; rows deleted."""
        total, size = 0, FEWEST
        while True:
            began = time.perf_counter()
            deleted = await self._run(lambda conn, n=size: work(conn, n, *cutoffs, **counts), write=True)
            total += deleted
            if deleted < size:
                return total
            size = next_batch(size, time.perf_counter() - began)

    async def oldest_article(self) -> datetime | None:
        """When the oldest stored article was fetched: how far back a backtest sees."""
        async with self.engine.connect() as conn:
            return (await conn.execute(select(func.min(articles.c.fetched_at)))).scalar()


def next_batch(size: int, took: float) -> int:
    """How many rows the next write transaction deletes, after one of `size` rows took `took` seconds:
    half as many after one that held the lock longer than HOLD, twice as many (up to BATCH) after one
    that took less than a quarter of it. A cold cache or a busy disk makes the rows dearer; the first
    batch is small, for the same reason."""
    if took > HOLD:
        return max(size // 2, FEWEST)
    if took < HOLD / 4:
        return min(size * 2, BATCH)
    return size


def _deleted(conn: Connection, table: Any, ids: list[int]) -> int:
    if ids:
        conn.execute(delete(table).where(one_of(table.c.id, "ids")), {"ids": ids})
    return len(ids)


def _done_alerts(conn: Connection, size: int, before: datetime, live_since: datetime) -> int:
    live = exists().where(articles.c.story_id == outbox.c.story_id, articles.c.fetched_at >= live_since)
    query = (
        select(outbox.c.id)
        .where(
            outbox.c.status.in_(DONE),
            func.coalesce(outbox.c.sent_at, outbox.c.created_at) < before,
            ~live,
        )
        .limit(size)
    )
    return _deleted(conn, outbox, list(conn.execute(query).scalars()))


def _done_notices(conn: Connection, size: int, before: datetime) -> int:
    query = (
        select(notices.c.id)
        .where(notices.c.status.in_(DONE), func.coalesce(notices.c.sent_at, notices.c.created_at) < before)
        .limit(size)
    )
    return _deleted(conn, notices, list(conn.execute(query).scalars()))


def _old_articles(conn: Connection, size: int, before: datetime, clues: Counter[str]) -> int:
    shown = exists().where(outbox.c.article_id == articles.c.id)
    query = (
        select(articles.c.id, articles.c.story_id)
        .where(articles.c.fetched_at < before, ~shown)
        .order_by(articles.c.fetched_at)
        .limit(size)
    )
    rows = conn.execute(query).all()
    stories = sorted({story for _, story in rows if story is not None})
    if stories:
        clues["story_clues"] += conn.execute(
            _CLUES_GONE, {"stories": stories, "before": micros(before)}
        ).rowcount
    return _deleted(conn, articles, [i for i, _ in rows])


_CLUES_GONE = delete(story_clues).where(  # every article having them was fetched before the cutoff
    one_of(story_clues.c.story_id, "stories"), story_clues.c.fetched_at < bindparam("before")
)


def _gone_entries(conn: Connection, size: int, before: datetime) -> int:
    read_since = select(feeds.c.entries_read_at).where(feeds.c.id == seen_entries.c.feed_id).scalar_subquery()
    stored = exists().where(
        articles.c.feed_id == seen_entries.c.feed_id, articles.c.identity == seen_entries.c.identity
    )
    query = (
        select(seen_entries.c.feed_id, seen_entries.c.identity)
        .where(seen_entries.c.last_seen_at < before, seen_entries.c.last_seen_at < read_since, ~stored)
        .limit(size)
    )
    keys = [{"feed": feed, "identity": identity} for feed, identity in conn.execute(query).all()]
    if keys:  # one key a statement: SQLite reads a row-value IN list by scanning the whole table
        conn.execute(_ENTRY, keys)
    return len(keys)


_ENTRY = delete(seen_entries).where(
    seen_entries.c.feed_id == bindparam("feed"), seen_entries.c.identity == bindparam("identity")
)


def _old_summaries(conn: Connection, size: int, before: datetime) -> int:
    query = select(llm_summaries.c.content_hash).where(llm_summaries.c.created_at < before).limit(size)
    hashes = list(conn.execute(query).scalars())
    if hashes:
        conn.execute(delete(llm_summaries).where(llm_summaries.c.content_hash.in_(hashes)))
    return len(hashes)


def _give_back_pages(conn: Connection) -> bool:
    """Up to VACUUM_PAGES free pages of the SQLite file given back to the disk (the file shrinks; it
    needs auto_vacuum = INCREMENTAL, migration 0012); whether there is more to give back."""
    free = conn.execute(text("PRAGMA freelist_count")).scalar() or 0
    # as a script: executed as a statement, Python's sqlite3 steps it once, which frees one page
    conn.connection.driver_connection.executescript(f"PRAGMA incremental_vacuum({VACUUM_PAGES});")
    left = conn.execute(text("PRAGMA freelist_count")).scalar() or 0
    return 0 < left < free


def _checkpoint(conn: Connection) -> None:
    """The write-ahead log copied into the file and emptied: the file shrinks on disk now, and the log
    does not keep the size the deletions gave it."""
    conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
