"""Measures what the alerts' mute buttons cost delivery: the dispatcher's drop_muted, once a call.

A SQLite file holds 10,000 pending alerts (500 chats, 20 stories each, 10 feeds), and 100 of the chats
muted something from an alert: 50 a story, 50 a source for 24 hours. Store.drop_muted (chats muted with
/mute, stories and sources muted from alerts) is timed against the naive baseline in the same run: the
query before the buttons, chats muted with /mute only. Every alert is pending again before each timing.
Run from the repo root:  .venv/bin/python bench/mute_bench.py [--quick]
The full run adds a "# Mute buttons benchmark" section to bench/RESULTS.md; --quick only prints.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select, update

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.results import write_section  # noqa: E402
from bot.store import Store  # noqa: E402
from bot.store.tables import articles, feeds, mutes, outbox, subscriptions  # noqa: E402

NOW = datetime(2026, 1, 1, tzinfo=UTC)
CHATS, STORIES, FEEDS, MUTING = 500, 20, 10, 100


async def filled(path: Path, chats: int) -> Store:
    store = Store.open(f"sqlite:///{path}")
    await store.upgrade()
    feed_rows = [
        {"id": f, "url": f"https://f{f}.example.org/", "name": f"Feed {f}", "interval_seconds": 300,
         "source": "config", "active": True, "next_check_at": NOW, "created_at": NOW}
        for f in range(1, FEEDS + 1)
    ]  # fmt: skip
    article_rows = [
        {"id": a, "feed_id": a % FEEDS + 1, "identity": f"guid:{a}", "link": f"https://x/{a}",
         "content_hash": "h", "title": f"Story {a}", "body": "", "summary": "", "fetched_at": NOW,
         "story_id": a}
        for a in range(1, STORIES + 1)
    ]  # fmt: skip
    chat_rows = [
        {"id": s, "channel": "telegram", "address": str(s), "name": f"chat {s}", "source": "chat",
         "active": True, "created_at": NOW, "digest": "instant"}
        for s in range(1, chats + 1)
    ]  # fmt: skip
    alert_rows = [
        {"subscription_id": s, "status": "pending", "attempts": 0, "next_attempt_at": NOW, "created_at": NOW,
         "article_id": a, "story_id": a, "urgent": False, "matches": "[]"}
        for s in range(1, chats + 1) for a in range(1, STORIES + 1)
    ]  # fmt: skip
    mute_rows = [  # odd chats muted a story, even ones a source
        {"subscription_id": s, "article_id": s % STORIES + 1, "feed_id": None if s % 2 else 3,
         "until": None if s % 2 else NOW + timedelta(hours=24), "created_at": NOW}
        for s in range(1, min(MUTING, chats) + 1)
    ]  # fmt: skip
    async with store._write() as conn:
        for table, rows in ((feeds, feed_rows), (articles, article_rows), (subscriptions, chat_rows),
                            (outbox, alert_rows), (mutes, mute_rows)):  # fmt: skip
            await conn.execute(insert(table), rows)
    return store


async def bench(chats: int, rounds: int) -> tuple[float, float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        store = await filled(Path(tmp) / "bench.db", chats)
        muted_chats = select(subscriptions.c.id).where(subscriptions.c.muted_until > NOW)

        async def naive() -> None:
            async with store._write() as conn:
                await conn.execute(
                    update(outbox)
                    .where(outbox.c.status == "pending", outbox.c.subscription_id.in_(muted_chats))
                    .values(status="muted")
                )

        async def ours() -> None:
            await store.drop_muted(NOW)

        times: dict[str, list[float]] = {"naive": [], "ours": []}
        for _ in range(rounds):
            for name, work in (("naive", naive), ("ours", ours)):
                async with store._write() as conn:
                    await conn.execute(update(outbox).values(status="pending"))
                start = time.perf_counter()
                await work()
                times[name].append(time.perf_counter() - start)
        async with store.engine.connect() as conn:
            held = (await conn.execute(select(func.count()).where(outbox.c.status == "muted"))).scalar()
        await store.close()
    return statistics.median(times["naive"]) * 1000, statistics.median(times["ours"]) * 1000, held or 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 chats, no RESULTS.md")
    args = parser.parse_args()
    chats, rounds = (100, 5) if args.quick else (CHATS, 21)
    started = time.perf_counter()
    naive, ours, held = asyncio.run(bench(chats, rounds))
    body = (
        f"\n{chats * STORIES:,} pending alerts ({chats} chats, {STORIES} stories each), {min(MUTING, chats)} "
        f"chats muted a story or a source from an alert; median of {rounds} calls each.\n\n"
        "| drop_muted | ms a call |\n| --- | --- |\n"
        f"| naive: chats muted with /mute only | {naive:.1f} |\n"
        f"| ours: and the stories and sources muted from alerts | {ours:.1f} |\n\n"
        f"Ratio ours / naive: {ours / naive:.2f} (the price of the buttons, once a deliver_due call); "
        f"{held:,} alerts held back, as the mutes say.\n"
    )
    print(body)
    if not args.quick:
        write_section(
            "Mute buttons benchmark", "python bench/mute_bench.py", time.perf_counter() - started, body
        )


if __name__ == "__main__":
    main()
