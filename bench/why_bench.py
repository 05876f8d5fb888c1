"""`/why URL` on a big database: how long the store takes to find the article at an address.

A SQLite file of N articles (100,000 by default: 200 feeds, bodies of about 2 KB as stored news has,
story clues as the bot keeps them) is made in a temporary directory. Then, round after round and
interleaved, three lookups are timed:
- `store.seen` of an article's address (its link as the alert shows it): story_clues' index first;
- the naive way, the same lookup by a scan of every article (no index serves link, guid or story_url),
  which is what `store.seen` falls back to;
- `store.seen` of an address the bot has not seen: the scan, then the counts it reports.
The median of the rounds is reported, and the ratio of the naive way to the first.

Run from the repo root:  .venv/bin/python bench/why_bench.py [--articles N] [--rounds N] [--quick]
The full run writes the "# /why lookup benchmark" section of bench/RESULTS.md; --quick only prints.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from sqlalchemy import insert, or_, select  # noqa: E402

from bench.results import write_section  # noqa: E402
from bot.store import Store  # noqa: E402
from bot.store.stories import fill_clues  # noqa: E402
from bot.store.tables import articles, feeds  # noqa: E402
from bot.why import lookup  # noqa: E402

FEEDS = 200
BODY = "The council met on Tuesday to discuss the budget for the coming year, officials said. " * 24


async def filled(path: Path, count: int) -> Store:
    store = Store.open(f"sqlite:///{path}")
    await store.upgrade()
    now = datetime.now(UTC)
    async with store.engine.begin() as conn:
        await conn.execute(
            insert(feeds),
            [
                dict(id=i, url=f"https://f{i}.example/rss", name=f"Feed {i}", interval_seconds=300,
                     source="config", active=True, next_check_at=now, created_at=now, error_count=0,
                     failure_noticed=False, fixed_interval=False)
                for i in range(1, FEEDS + 1)
            ],
        )  # fmt: skip
        for start in range(0, count, 10_000):
            await conn.execute(
                insert(articles),
                [
                    dict(feed_id=1 + i % FEEDS, identity=f"guid:{i}", guid=f"https://news.example/{i}",
                         link=f"https://news.example/{i}", content_hash=f"{i:064d}",
                         title=f"Story number {i}", body=BODY, summary=BODY[:300],
                         fetched_at=now - timedelta(minutes=count - i), story_id=i + 1,
                         story_url=f"news.example/{i}")
                    for i in range(start, min(start + 10_000, count))
                ],
            )  # fmt: skip
    await store._run(fill_clues, write=True)
    return store


async def scan(store: Store, url: str) -> object:
    """The naive lookup: every article's link, guid and story key compared."""
    links, keys = lookup(url)
    query = (
        select(articles.c.id)
        .where(or_(articles.c.link.in_(links), articles.c.guid.in_(links), articles.c.story_url.in_(keys)))
        .order_by(articles.c.id)
        .limit(1)
    )
    async with store.engine.connect() as conn:
        return (await conn.execute(query)).scalar()


async def main(count: int, rounds: int, quick: bool) -> None:
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "why.db"
        store = await filled(path, count)
        size = path.stat().st_size / 1e6
        known = f"https://news.example/{count * 2 // 3}"
        cases = {
            "store.seen, an address it has seen": lambda: store.seen(*lookup(known)),
            "naive: a scan of every article": lambda: scan(store, known),
            "store.seen, an address it has not seen": lambda: store.seen(
                *lookup("https://elsewhere.example/")
            ),
        }
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(rounds):
            for name, case in cases.items():
                start = time.perf_counter()
                await case()
                times[name].append(time.perf_counter() - start)
        await store.close()
    medians = {name: statistics.median(values) for name, values in times.items()}
    ratio = medians["naive: a scan of every article"] / medians["store.seen, an address it has seen"]
    load = os.getloadavg()[0]
    lines = [
        f"\n{count:,} articles from {FEEDS} feeds, {size:.0f} MB of SQLite; median of {rounds} rounds; "
        f"load average {load:.1f} at the end.\n",
        "| lookup | median |",
        "| --- | --- |",
        *(f"| {name} | {medians[name] * 1000:.1f} ms |" for name in cases),
        f"\nThe naive scan takes {ratio:.0f}x as long as the lookup through story_clues' index. An address "
        "found by neither its story key nor its link (a guid alone, a link with its feed's own "
        "parameters) and an unseen one still cost a scan: an index on articles.link would take a migration.",
    ]
    body = "\n".join(lines)
    print(body)
    if not quick:
        command = "python bench/why_bench.py" + (f" --articles {count}" if count != 100_000 else "")
        write_section("/why lookup benchmark", command, time.perf_counter() - began, body)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="10,000 articles, 3 rounds; print only")
    options = parser.parse_args()
    quick = options.quick
    asyncio.run(main(10_000 if quick else options.articles, 3 if quick else options.rounds, quick))
