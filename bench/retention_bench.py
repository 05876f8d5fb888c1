"""How long pruning holds SQLite's write lock: a day's rows for 300 feeds, after 90 days of history.

A SQLite database made by the migrations is filled (straight SQL, for speed) with what 300 feeds of 20 new
items a day leave: per day 6,000 articles (bodies of about 1 KB, stories of three articles, three
story_clues rows each, the seen_entries row) and, over the last 31 days, an alert row (sent) for one
article in ten, to one of 50 chats. The oldest day is then due: retention.articles (90d) reaches it,
and retention.outbox (30d) the alerts of the oldest day that has them.

Ours: Store.prune (bot/store/retention.py): batches of 10 to 500 rows, each its own write transaction,
halved after one that held the lock over 100 ms, doubled after one under 25 ms; then the incremental
vacuum, 500 pages a transaction. Baseline, on a copy of the same file: one write transaction deleting
everything due at once (the outbox, the articles no alert shows, their story_clues, the seen_entries
gone), as a plain retention job would. What is timed is each write transaction as the store runs it
(Store._run with write=True, wrapped here): the longest is the longest a poll or a delivery waits for
the lock.

    .venv/bin/python bench/retention_bench.py [--days 90]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402

from bench.results import write_section  # noqa: E402
from bot.store import Store  # noqa: E402

FEEDS, PER_DAY, CHATS = 300, 20, 50
ARTICLES_A_DAY = FEEDS * PER_DAY
START = datetime(2026, 1, 1, tzinfo=UTC)
GOAL_MS = 200.0


def fill(path: Path, days: int) -> int:
    """History of `days` + 1 days, straight SQL; the number of articles."""
    total = (days + 1) * ARTICLES_A_DAY
    p = {
        "total": total, "feeds": FEEDS, "chats": CHATS, "step": 86400 / ARTICLES_A_DAY,
        "start": START.strftime("%Y-%m-%d %H:%M:%S"), "micros": int(START.timestamp() * 1_000_000),
        "read": (START + timedelta(days=days + 1)).strftime("%Y-%m-%d %H:%M:%S"),
        "body": ("The ministers met in Brussels on Tuesday and agreed to resume talks. " * 15)[:1000],
        "alerted_from": (days - 30) * ARTICLES_A_DAY,  # the last 31 days' alerts are still kept
    }  # fmt: skip
    numbers = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {}) "
    at = "datetime(:start, '+' || CAST(i * :step AS INT) || ' seconds')"
    micros = ":micros + CAST(id * :step * 1000000 AS INT)"
    statements = [
        numbers.format(":feeds") + "INSERT INTO feeds (id, url, name, interval_seconds, source, active, "
        "error_count, next_check_at, created_at, fixed_interval, failure_noticed, entries_read_at) "
        "SELECT i, 'https://f' || i || '.example/rss', 'Feed ' || i, 300, 'config', 1, 0, :start, :start, "
        "0, 0, :read FROM n",
        numbers.format(":chats") + "INSERT INTO subscriptions (id, channel, address, name, source, active, "
        "created_at, digest) SELECT i, 'telegram', 'chat' || i, 'Chat ' || i, 'config', 1, :start, "
        "'instant' FROM n",
        numbers.format(":total") + "INSERT INTO articles (id, feed_id, identity, guid, link, content_hash, "
        "title, body, summary, published_at, fetched_at, story_id, story_url, title_key, story_terms, "
        "index_terms) SELECT i, i % :feeds + 1, 'guid:' || i, 'g' || i, 'https://f.example/' || i, "
        f"printf('%064x', i), 'Title ' || i, :body || i, substr(:body, 1, 300), {at}, {at}, "
        "i - (i - 1) % 3, 'f.example/' || i, 'title ' || i, 'a b c | d e f', "
        "'term' || (i % 5000) || ' term' || (i % 777) FROM n",
        "INSERT INTO seen_entries SELECT feed_id, identity, fetched_at FROM articles",
        *(
            "INSERT INTO story_clues (clue, story_id, text, article_id, at, feed_id, first_at, fetched_at) "
            f"SELECT {clue}, story_id, id, id, {micros}, feed_id, {micros}, {micros} FROM articles"
            for clue in ("'link f.example/' || id", "'term term' || (id % 5000)", "'term term' || (id % 777)")
        ),
        "INSERT INTO outbox (subscription_id, status, attempts, next_attempt_at, sent_at, message_id, "
        "created_at, article_id, story_id, urgent, matches) SELECT id % :chats + 1, 'sent', 1, fetched_at, "
        "fetched_at, 'm' || id, fetched_at, id, story_id, 0, '[]' FROM articles "
        "WHERE id > :alerted_from AND id % 10 = 0",
    ]
    with sqlite3.connect(path) as db:
        for statement in statements:
            db.execute(statement, {k: v for k, v in p.items() if f":{k}" in statement})
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the file as a running bot leaves it
    return total


def timed(store: Store, holds: list[float]) -> None:
    """Each write transaction the store runs, timed into `holds` (seconds)."""
    run = store._run

    async def timing(work: Any, *, write: bool = False) -> Any:
        began = time.perf_counter()
        try:
            return await run(work, write=write)
        finally:
            if write:
                holds.append(time.perf_counter() - began)

    store._run = timing  # type: ignore[method-assign]


NAIVE = [  # everything due, in one transaction
    "DELETE FROM outbox WHERE status != 'pending' AND coalesce(sent_at, created_at) < :outbox",
    "DELETE FROM story_clues WHERE fetched_at < :micros",
    "DELETE FROM articles WHERE fetched_at < :articles AND id NOT IN (SELECT article_id FROM outbox)",
    "DELETE FROM seen_entries WHERE last_seen_at < :articles AND NOT EXISTS (SELECT 1 FROM articles a "
    "WHERE a.feed_id = seen_entries.feed_id AND a.identity = seen_entries.identity)",
]


async def prune(path: Path, now: datetime, naive: bool) -> tuple[list[float], dict[str, int], float]:
    store = Store.open(f"sqlite:///{path}")
    await store.upgrade()
    holds: list[float] = []
    timed(store, holds)
    articles, outbox = now - timedelta(days=90), now - timedelta(days=30)
    began = time.perf_counter()
    if naive:
        params = {"outbox": outbox, "articles": articles, "micros": int(articles.timestamp() * 1_000_000)}
        params = {
            k: v.strftime("%Y-%m-%d %H:%M:%S") if isinstance(v, datetime) else v for k, v in params.items()
        }

        def everything(conn: Any) -> dict[str, int]:
            return {sql.split()[2]: conn.execute(text(sql), params).rowcount for sql in NAIVE}

        pruned = await store._run(everything, write=True)
    else:
        pruned = await store.prune(articles, outbox, now - timedelta(hours=48))
    took = time.perf_counter() - began
    await store.close()
    return holds, pruned, took


def size_mb(path: Path) -> float:
    wal = path.with_name(path.name + "-wal")
    return (path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)) / 2**20


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=90, help="days of history before the day due")
    parser.add_argument("--no-write", action="store_true", help="do not write bench/RESULTS.md")
    args = parser.parse_args()
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="retention-bench-") as where:
        ours, theirs = Path(where) / "ours.db", Path(where) / "naive.db"
        store = Store.open(f"sqlite:///{ours}")
        await store.upgrade()
        await store.close()
        made = time.perf_counter()
        articles = fill(ours, args.days)
        print(f"filled {articles:,} articles in {time.perf_counter() - made:.0f} s: {size_mb(ours):.0f} MB")
        shutil.copy(ours, theirs)
        grown = size_mb(ours)
        # a day after the history's first day passed out of the 90 days
        now = START + timedelta(days=91)
        naive_holds, naive_pruned, naive_took = await prune(theirs, now, naive=True)
        holds, pruned, took = await prune(ours, now, naive=False)
        shrunk = size_mb(ours)
    longest, naive_longest = max(holds) * 1000, max(naive_holds) * 1000
    print(f"ours: {pruned} in {took:.1f} s, {len(holds)} transactions, longest {longest:.0f} ms")
    print(f"naive: {naive_pruned} in {naive_took:.1f} s, longest {naive_longest:.0f} ms")
    median = sorted(holds)[len(holds) // 2] * 1000
    rows = [
        ("batched prune (ours)", len(holds), longest, median, took, pruned),
        ("one DELETE of everything due (naive)", 1, naive_longest, naive_longest, naive_took, naive_pruned),
    ]
    table = "\n".join(f"| {a} | {b} | {c:.0f} | {d:.0f} | {e:.1f} | {f} |" for a, b, c, d, e, f in rows)
    verdict = "met" if longest <= GOAL_MS else "MISSED"
    body = f"""
{__doc__.split(chr(10), 2)[2].split("    .venv")[0].strip()}

History: {args.days} days + the day due, {articles:,} articles, {grown:.0f} MB on disk before pruning.

| | write transactions | longest hold ms | median hold ms | total s | rows deleted |
| --- | --- | --- | --- | --- | --- |
{table}

Longest hold, naive / ours: {naive_longest / longest:.0f}x. Goal: at most {GOAL_MS:.0f} ms a hold: {verdict}.
The file after our prune (incremental vacuum, WAL checkpoint): {shrunk:.0f} MB, from {grown:.0f} MB.
"""
    print(body)
    if not args.no_write:
        command = ".venv/bin/python bench/retention_bench.py" + (
            f" --days {args.days}" if args.days != 90 else ""
        )
        load = ", load average {:.1f} {:.1f} {:.1f} at the end (other work shares the CPUs)".format(
            *os.getloadavg()
        )
        write_section("Retention benchmark", command, time.perf_counter() - began, body, load)


if __name__ == "__main__":
    asyncio.run(main())
