"""Retention: old articles, alerts and notices go, waiting alerts never; an entry still in its feed
never alerts again after its article went; stories of the articles left still join; the SQLite file
shrinks."""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, func, select

from bot.dedupe import story_key
from bot.domain import Article, Feed, FeedUpdate, Match, NewStory, Quote, StoryAlert, Subscription
from bot.store import MIGRATIONS, Store
from bot.store.retention import BATCH, FEWEST, HOLD, next_batch
from bot.store.tables import articles, notices, outbox, seen_entries, story_clues
from bot.stories import Stories
from tests.conftest import SAMPLES, SEED_TITLE

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
WINDOW = timedelta(hours=48)
WORLD = (SAMPLES / "world-news.xml").read_bytes()
NEW_ITEM = b"""    <item>
      <title>Ukraine asks again for a Membership Action Plan</title>
      <link>https://world.example.org/news/ukraine-map</link>
      <guid>https://world.example.org/news/ukraine-map</guid>
      <pubDate>Wed, 03 Dec 2008 10:00:00 GMT</pubDate>
      <description>Kiev renewed its request for a Membership Action Plan on Wednesday.</description>
    </item>
"""
CONFIG = """
feeds:
  - url: {world}
    name: World Desk
    backfill: all
subscriptions:
  - channel: console
    rules: [Membership Action Plan]
"""


async def count(store: Store, table, *where) -> int:
    async with store.engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(table).where(*where))).scalar()


async def titles(store: Store) -> list[str]:
    async with store.engine.connect() as conn:
        return sorted((await conn.execute(select(articles.c.title))).scalars())


async def prune(store: Store, now: datetime, kept: timedelta = 90 * DAY, alerts: timedelta = 30 * DAY):
    """What was pruned, but the story_clues rows (as many as the articles' words make)."""
    pruned = await store.prune(now - kept, now - alerts, now - WINDOW)
    return {table: rows for table, rows in pruned.items() if table != "story_clues"}


async def one_feed_one_chat(store: Store) -> Feed:
    await store.sync_config_feeds([Feed(0, "https://wire.example/f.xml", "Wire", DAY, None)], NOW)
    await store.sync_config_subscriptions([(Subscription(0, "console", "stdout", "C"), ["NATO"])], NOW)
    [feed] = await store.claim_due_feeds(NOW, 10, DAY)
    return feed


def story(feed: Feed, n: int, title: str, link: str, alert: bool = True, more: str = "") -> NewStory:
    body = f"{title}. The ministers met in Brussels on the {n}th and agreed on the plan. {more}"
    match = Match(1, "NATO", Quote("NATO", ((0, 4),)))
    article = Article(title, link, f"{feed.name}-{n}", body, None, f"{feed.name}-{n}")
    alerts = (StoryAlert(1, (match,)),) if alert else ()
    return NewStory(article, body, body[:80], alerts, story_key(link, title, body, feed.name), link)


async def save(store: Store, feed: Feed, stories: list[NewStory], now: datetime) -> None:
    await store.save_poll(feed, stories, FeedUpdate(None, None, None, now, feed.name), now, Stories())


async def test_a_waiting_alert_keeps_its_article_and_a_sent_one_goes_after_the_outbox_retention(store):
    feed = await one_feed_one_chat(store)
    await save(store, feed, [story(feed, 1, "NATO ministers meet", "https://wire.example/1")], NOW)
    await save(store, feed, [story(feed, 2, "Tram line approved", "https://wire.example/2", False)], NOW)

    later = NOW + 100 * DAY
    assert await prune(store, later) == {"articles": 1}
    assert await titles(store) == ["NATO ministers meet"], "the alert not yet sent keeps its article"
    assert await store.count_outbox() == {"pending": 1}

    [alert] = await store.claim_due_deliveries(later, ["console"], 10, timedelta(minutes=1))
    await store.mark_sent("outbox", [alert.id], "m-1", later)
    assert await prune(store, later + 29 * DAY) == {}, "sent 29 days ago: kept"
    assert await prune(store, later + 31 * DAY) == {"outbox": 1, "articles": 1}
    assert await titles(store) == [] and await store.count_outbox() == {}


async def test_an_alert_stays_while_its_story_is_still_joined_so_the_chat_is_not_alerted_twice(store):
    feed = await one_feed_one_chat(store)
    await save(store, feed, [story(feed, 1, "NATO ministers meet", "https://wire.example/live")], NOW)
    [alert] = await store.claim_due_deliveries(NOW, ["console"], 10, timedelta(minutes=1))
    await store.mark_sent("outbox", [alert.id], "m-1", NOW)

    later = NOW + 40 * DAY  # the same page again, in the story's window: the story goes on
    await save(store, feed, [story(feed, 2, "NATO ministers meet again", "https://wire.example/live")], later)
    await prune(store, later + DAY)
    assert await count(store, outbox) == 1, "the alert row of a story still going on stays"
    assert await store.count_outbox() == {"pending": 1}, "it is edited, not sent again"


async def test_done_notices_go_after_the_outbox_retention_and_waiting_ones_stay(store):
    await one_feed_one_chat(store)
    await store.notify("console", ["stdout"], "The feed Wire has been failing", NOW)
    await store.notify("console", ["stdout"], "The feed Wire is gone", NOW)
    [first, _] = await store.claim_due_notices(NOW, ["console"], 10, timedelta(minutes=1))
    await store.mark_sent("notices", [first.id], "m-1", NOW)
    assert await prune(store, NOW + 31 * DAY) == {"notices": 1}
    assert await count(store, notices, notices.c.status == "pending") == 1


async def test_a_later_copy_of_a_story_whose_first_article_was_pruned_joins_what_is_left(store):
    feed = await one_feed_one_chat(store)
    link = "https://wire.example/page"
    await save(store, feed, [story(feed, 1, "NATO ministers meet", link, False)], NOW)
    second = NOW + timedelta(hours=20)
    await save(store, feed, [story(feed, 2, "NATO ministers meet in Brussels", link, False)], second)
    # one day kept: the story's first article (which held its face) goes, the second stays
    assert await prune(store, NOW + timedelta(hours=25), kept=DAY) == {"articles": 1}
    third = NOW + timedelta(hours=26)
    await save(store, feed, [story(feed, 3, "NATO ministers meet, day two", link, True)], third)
    async with store.engine.connect() as conn:
        stories = (await conn.execute(select(articles.c.title, articles.c.story_id))).all()
    assert len(stories) == 2 and len({story_id for _, story_id in stories}) == 1, stories
    [alert] = await store.claim_due_deliveries(third, ["console"], 10, timedelta(minutes=1))
    assert alert.alert.title in [title for title, _ in stories], "the story's face is one of its articles"
    await store.mark_sent("outbox", [alert.id], "m-1", third)

    # everything of the story gone: a copy starts it afresh
    much_later = third + 10 * DAY
    await prune(store, much_later, kept=DAY, alerts=DAY)
    assert await count(store, story_clues) == 0, "no story rows are left without articles"
    await save(store, feed, [story(feed, 4, "NATO ministers meet once more", link, True)], much_later)
    assert await store.count_outbox() == {"pending": 1}


async def test_an_entry_still_in_its_feed_never_alerts_again_after_its_article_was_pruned(
    feed_server, make_settings, start_app, clock, caplog
):
    feed_server.files["/world.xml"] = WORLD
    app, out = await start_app(make_settings(CONFIG.format(world=feed_server.url("/world.xml"))))
    await app.poll_due()
    await app.deliver_due()
    assert out.getvalue().count("== ") == 1 and f"== {SEED_TITLE}" in out.getvalue()
    stored = await count(app.store, articles)

    clock.advance(91 * DAY)
    with caplog.at_level(logging.INFO, logger="bot.app"):
        pruned = await app.prune_due()
    assert pruned["articles"] == stored and pruned["outbox"] == 1
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith("pruned")] == [
        f"pruned 1 outbox, {pruned['story_clues']} story_clues, {stored} articles"
    ]
    assert f'newsalert_rows_pruned_total{{table="articles"}} {stored}.0' in await app.metrics_text()

    feed_server.files["/world.xml"] = WORLD.replace(b"    <item>", NEW_ITEM + b"    <item>", 1)
    await app.poll_due()
    await app.deliver_due()
    text = out.getvalue()
    assert text.count("== ") == 2 and "== Ukraine asks again for a Membership Action Plan" in text
    assert await titles(app.store) == ["Ukraine asks again for a Membership Action Plan"]

    # The seed story leaves the feed: 91 days later, the feed having been read since, it is forgotten.
    feed_server.files["/world.xml"] = NEW_ITEM.join(
        WORLD.split(b"    <item>", 1)[:1] + [b"  </channel>\n</rss>\n"]
    )
    clock.advance(timedelta(minutes=6))
    await app.poll_due()
    had = await count(app.store, seen_entries)
    clock.advance(91 * DAY)
    assert (await app.prune_due())["seen_entries"] == had - 1, "the one still in the feed stays"
    assert await app.prune_due() == {}, "nothing more to prune"


def on_disk(path) -> int:
    """The bytes the database takes: the file and its write-ahead log."""
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


async def test_pruning_shrinks_the_sqlite_file_on_disk(tmp_path):
    path = tmp_path / "newsalert.db"
    store = Store.open(f"sqlite:///{path}")
    await store.upgrade()
    feed = await one_feed_one_chat(store)
    words = " ".join(f"word{i}" for i in range(600))  # about 5 KB an article
    for poll in range(8):
        stories = [
            story(feed, poll * 100 + n, f"Story {poll}-{n}", f"https://wire.example/{poll}/{n}", False, words)
            for n in range(100)
        ]
        await save(store, feed, stories, NOW)
    grown = on_disk(path)
    assert (await prune(store, NOW + 91 * DAY))["articles"] == 800
    await store.close()
    assert on_disk(path) < grown / 3, (grown, on_disk(path))


async def test_an_older_sqlite_file_is_converted_so_that_pruning_can_shrink_it(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as old:  # as files were made before 0012: auto_vacuum NONE
        old.execute("CREATE TABLE filler (x BLOB)")
        old.execute("INSERT INTO filler VALUES (x'00')")
    engine = create_engine(f"sqlite:///{path}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0011")
        conn.commit()
        assert conn.exec_driver_sql("PRAGMA auto_vacuum").scalar() == 0
    engine.dispose()
    store = Store.open(f"sqlite:///{path}")
    await store.upgrade()
    async with store.engine.connect() as conn:
        assert (await conn.exec_driver_sql("PRAGMA auto_vacuum")).scalar() == 2, "INCREMENTAL"
        assert (await conn.exec_driver_sql("SELECT count(*) FROM filler")).scalar() == 1, "its rows kept"
    await store.close()


@pytest.mark.parametrize(
    ("size", "took", "then"),
    [
        (FEWEST, HOLD / 10, 2 * FEWEST),  # quick: twice as many next
        (BATCH, HOLD / 10, BATCH),  # never more than a batch
        (100, HOLD / 2, 100),  # about right: as many
        (100, HOLD * 3, 50),  # held the lock too long: half as many
        (FEWEST, HOLD * 30, FEWEST),  # however slow, some rows go each time
    ],
)
def test_batches_shrink_when_they_hold_the_lock_too_long_and_grow_when_quick(size, took, then):
    assert next_batch(size, took) == then


async def test_run_once_from_cron_prunes_too(feed_server, make_settings, start_app, clock):
    feed_server.files["/world.xml"] = WORLD
    app, out = await start_app(make_settings(CONFIG.format(world=feed_server.url("/world.xml"))))
    await app.run_once()
    assert out.getvalue().count("== ") == 1 and await titles(app.store)
    clock.advance(91 * DAY)
    await app.run_once()
    assert await titles(app.store) == [] and out.getvalue().count("== ") == 1
