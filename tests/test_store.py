"""The database: migrations equal the schema, and the outbox is one row per (subscription, story)."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select

from bot.dedupe import story_key
from bot.domain import Article, Feed, FeedUpdate, Match, NewStory, Quote, StoryAlert, StoryKey, Subscription
from bot.store import Store, async_url
from bot.store.tables import metadata, seen_signatures
from bot.stories import Stories
from tests.data.wire_story import OUTLETS

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
STORIES = Stories()


async def test_migrations_produce_exactly_the_declared_schema(store, tmp_path, database_url):
    if database_url.startswith("sqlite"):
        assert (tmp_path / "data" / "store.db").exists(), "the data directory is created"

    def differences(connection):
        return compare_metadata(MigrationContext.configure(connection), metadata)

    async with store.engine.connect() as conn:
        assert await conn.run_sync(differences) == []
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        if database_url.startswith("sqlite"):
            assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
    assert {"feeds", "articles", "rules", "subscriptions", "outbox"} <= tables
    await store.upgrade()  # a second upgrade is a no-op


def test_urls_get_async_drivers():
    assert async_url("sqlite:///data/x.db") == "sqlite+aiosqlite:///data/x.db"
    assert async_url("postgresql://u:p@h/db") == "postgresql+asyncpg://u:p@h/db"
    assert async_url("sqlite+aiosqlite:///y.db") == "sqlite+aiosqlite:///y.db"


async def test_the_outbox_holds_one_row_per_subscription_and_story(store):
    await store.sync_config_feeds([Feed(0, "file:///f.xml", "F", NOW - NOW, None)], NOW)
    await store.sync_config_subscriptions([(Subscription(0, "console", "stdout", "Console"), ["x"])], NOW)
    [feed] = await store.claim_due_feeds(NOW, 10, NOW - NOW)
    article = Article("T", "https://x.test/1", "g1", "text", None, "h1")
    match = Match(1, "x", Quote("x", ((0, 1),)))
    twice = StoryAlert(1, (match,))
    state = FeedUpdate(None, None, None, NOW, "F")
    await store.save_poll(feed, [NewStory(article, "text", "sum", (twice, twice))], state, NOW, STORIES)
    assert await store.count_outbox() == {"pending": 1}
    assert await store.known_articles(feed.id, [article]) == {"guid:g1"}
    same_link = Article("T2", "https://x.test/1", "g2", "other", None, "h2")
    assert await store.known_articles(feed.id, [same_link]) == set(), "another guid is another entry"


async def test_config_sync_replaces_config_rules_and_retires_removed_feeds(store):
    console = Subscription(0, "console", "stdout", "Console")
    await store.sync_config_feeds([Feed(0, "file:///a.xml", "A", NOW - NOW, 0)], NOW)
    await store.sync_config_subscriptions([(console, ["one", "two"])], NOW)
    await store.sync_config_feeds([Feed(0, "file:///b.xml", "B", NOW - NOW, 0)], NOW)
    await store.sync_config_subscriptions([(console, ["two", "three"])], NOW)
    assert [r.query for r in await store.active_rules()] == ["two", "three"]
    feeds = await store.claim_due_feeds(NOW, 10, NOW - NOW, only=await store.active_feed_ids())
    assert [f.url for f in feeds] == ["file:///b.xml"]


async def test_many_entries_are_checked_in_chunks(store):
    await store.sync_config_feeds([Feed(0, "file:///f.xml", "F", NOW - NOW, None)], NOW)
    [feed] = await store.claim_due_feeds(NOW, 10, NOW - NOW)
    items = [Article(f"T{i}", f"https://x.test/{i}", None, "", None, f"h{i}") for i in range(40_000)]
    stories = [NewStory(item, "", "", ()) for item in items[:3]]
    await store.save_poll(feed, stories, FeedUpdate(None, None, None, NOW, "F"), NOW, STORIES)
    assert await store.known_articles(feed.id, items) == {f"link:https://x.test/{i}" for i in range(3)}


async def test_rule_ids_are_never_reused(store):
    console = Subscription(0, "console", "stdout", "Console")
    await store.sync_config_subscriptions([(console, ["NATO"])], NOW)
    first = await store.rules_fingerprint()
    await store.sync_config_subscriptions([(console, ["Ukraine"])], NOW)
    [rule] = await store.active_rules()
    assert rule.id == 2 and await store.rules_fingerprint() != first


async def test_two_processes_claiming_at_once_never_get_the_same_feed_or_alert(store, database_url):
    """What lets replicas share one database: claims are disjoint, and each is leased."""
    if database_url.startswith("sqlite"):
        pytest.skip("replicas share PostgreSQL; a SQLite file serves one newsalert process")
    specs = [Feed(0, f"https://example.org/{i}.xml", f"F{i}", NOW - NOW, None) for i in range(40)]
    await store.sync_config_feeds(specs, NOW)
    subs = [(Subscription(0, "console", f"c{i}", f"C{i}"), ["x"]) for i in range(20)]
    await store.sync_config_subscriptions(subs, NOW)
    [feed] = await store.claim_due_feeds(NOW, 1, NOW - NOW, only=[1])
    match = Match(1, "x", Quote("x", ((0, 1),)))
    stories = [
        NewStory(
            Article(f"T{i}", f"https://x.test/{i}", f"g{i}", "x", None, f"h{i}"), "x", "s",
            tuple(StoryAlert(sub, (match,)) for sub in range(1, 21)), StoryKey(f"x.test/{i}", f"t{i}"),
        )
        for i in range(3)
    ]  # fmt: skip
    await store.save_poll(feed, stories, FeedUpdate(None, None, None, NOW, "F"), NOW, STORIES)
    other = Store.open(database_url)
    try:
        lease = timedelta(minutes=1)
        mine, theirs = await asyncio.gather(
            store.claim_due_feeds(NOW, 30, lease), other.claim_due_feeds(NOW, 30, lease)
        )
        assert not {f.id for f in mine} & {f.id for f in theirs}
        assert len(mine) + len(theirs) == 40, "every due feed claimed by one of them"
        mine, theirs = await asyncio.gather(
            store.claim_due_deliveries(NOW, ["console"], 15, lease),
            other.claim_due_deliveries(NOW, ["console"], 15, lease),
        )
        assert not {d.id for d in mine} & {d.id for d in theirs}
        assert len(mine) + len(theirs) == 20, "the first alert of each of the 20 chats, once"
    finally:
        await other.close()


async def test_one_process_at_a_time_holds_a_named_lock(store, database_url):
    other = Store.open(database_url)
    try:
        async with store.exclusive("listen:telegram") as first, other.exclusive("listen:telegram") as second:
            assert first and (second is (not database_url.startswith("postgresql")))
        async with other.exclusive("listen:telegram") as after:
            assert after, "freed when the holder lets go (or dies: its session ends)"
    finally:
        await other.close()


async def test_two_processes_saving_one_story_at_once_make_one_story_and_one_alert(store, database_url):
    """Replicas polling two outlets of one wire story at the same moment: still one alert."""
    if database_url.startswith("sqlite"):
        pytest.skip("replicas share PostgreSQL; a SQLite file serves one newsalert process")
    pairs = 5
    specs = [Feed(0, f"https://outlet{i}.example/f.xml", f"F{i}", NOW - NOW, None) for i in range(2 * pairs)]
    await store.sync_config_feeds(specs, NOW)
    await store.sync_config_subscriptions([(Subscription(0, "console", "stdout", "Console"), ["x"])], NOW)
    feeds = await store.claim_due_feeds(NOW, 2 * pairs, NOW - NOW)
    match = Match(1, "x", Quote("x", ((0, 1),)))
    state = FeedUpdate(None, None, None, NOW, "F")

    def story(feed: Feed, n: int) -> NewStory:
        article = Article(f"Wire story {n}", f"{feed.url}/{n}", f"g{n}", "x", None, f"h{feed.id}-{n}")
        key = StoryKey(f"wire.example/{n}", f"wire story number {n} today")
        return NewStory(article, "x", "s", (StoryAlert(1, (match,)),), key)

    other = Store.open(database_url)
    try:
        for n in range(pairs):
            first, second = feeds[2 * n], feeds[2 * n + 1]
            await asyncio.gather(
                store.save_poll(first, [story(first, n)], state, NOW, STORIES),
                other.save_poll(second, [story(second, n)], state, NOW, STORIES),
            )
    finally:
        await other.close()
    assert await store.count_outbox() == {"pending": pairs}, "one alert per story, not one per outlet"


async def test_a_signature_is_seen_once_by_every_process_until_it_expires(store, database_url):
    """A signed request replayed to another replica, or after a restart, is known there; rows go
    when they expire, so the table stays as small as a few minutes of requests."""
    expires = NOW + timedelta(minutes=5)
    other = Store.open(database_url)
    try:
        assert await store.first_sight("v0=aa", expires, NOW)
        assert not await other.first_sight("v0=aa", expires, NOW + timedelta(minutes=4)), "a replay"
        assert not await store.first_sight("v0=aa", expires, expires), "kept to its last second"
        both = await asyncio.gather(*(s.first_sight("v0=bb", expires, NOW) for s in (store, other) * 3))
        assert sorted(both) == [False] * 5 + [True], "six at once: one is the first"
        later = expires + timedelta(seconds=1)
        assert await other.first_sight("v0=cc", later + timedelta(minutes=5), later)
    finally:
        await other.close()
    async with store.engine.connect() as conn:
        kept = (await conn.execute(select(seen_signatures.c.signature))).scalars().all()
    assert kept == ["v0=cc"], "the expired ones were deleted"


async def _two_feeds_and_two_chats(store: Store) -> list[Feed]:
    specs = [
        Feed(0, f"https://{name.lower()}.example/f.xml", name, NOW - NOW, None) for name in ("Wire", "Globe")
    ]
    await store.sync_config_feeds(specs, NOW)
    chats = [(Subscription(0, "console", address, address), ["NATO"]) for address in ("one", "two")]
    await store.sync_config_subscriptions(chats, NOW)
    return sorted(await store.claim_due_feeds(NOW, 10, NOW - NOW), key=lambda f: f.name, reverse=True)


def _story(feed: Feed, n: int, title: str, body: str, link: str, subscriptions: tuple[int, ...]) -> NewStory:
    match = Match(subscriptions[0] if subscriptions else 1, "NATO", Quote("NATO", ((0, 4),)))
    article = Article(title, link, f"{feed.name}-{n}", body, NOW, f"{feed.name}-{n}")
    alerts = tuple(StoryAlert(sub, (match,)) for sub in subscriptions)
    return NewStory(article, body, body[:80], alerts, story_key(link, title, body, feed.name), link)


async def test_a_full_text_joining_a_thin_items_story_becomes_its_face_and_the_alert_is_edited(store):
    wire, globe = await _two_feeds_and_two_chats(store)
    _, link, title, body = OUTLETS[0]
    thin = _story(wire, 1, title, body[:300], "https://wire.example/1", (1,))
    await store.save_poll(wire, [thin], FeedUpdate(None, None, None, NOW, "Wire"), NOW, STORIES)
    [sent] = await store.claim_due_deliveries(NOW, ["console"], 10, timedelta(minutes=1))
    assert sent.alert.link == "https://wire.example/1"
    await store.mark_sent("outbox", [sent.id], "m-1", NOW)

    full = _story(globe, 1, "Alliance to resume talks with Moscow", body, "https://globe.example/1", ())
    later = NOW + timedelta(minutes=5)
    await store.save_poll(globe, [full], FeedUpdate(None, None, None, later, "Globe"), later, STORIES)
    [edit] = await store.claim_due_deliveries(later, ["console"], 10, timedelta(minutes=1))
    assert edit.message_id == "m-1", "the message already sent is edited, not sent again"
    assert (edit.alert.title, edit.alert.link) == (
        "Alliance to resume talks with Moscow",
        "https://globe.example/1",
    )
    assert edit.alert.also_in == ("Wire",)
    assert edit.alert.matches == sent.alert.matches, "why it matched stays what matched"


async def test_an_article_linking_two_stories_merges_them_and_no_chat_gets_the_event_twice(store):
    wire, globe = await _two_feeds_and_two_chats(store)
    _, _, title, body = OUTLETS[0]
    page = _story(wire, 1, "NATO ministers meet", "A short item.", "https://wire.example/1", (1,))
    await store.save_poll(wire, [page], FeedUpdate(None, None, None, NOW, "Wire"), NOW, STORIES)
    [sent] = await store.claim_due_deliveries(NOW, ["console"], 10, timedelta(minutes=1))
    await store.mark_sent("outbox", [sent.id], "m-1", NOW)
    copy = _story(globe, 1, "Alliance to resume talks with Moscow", body, "https://globe.example/1", (1, 2))
    await store.save_poll(globe, [copy], FeedUpdate(None, None, None, NOW, "Globe"), NOW, STORIES)
    assert await store.count_outbox() == {"sent": 1, "pending": 2}, "two stories so far"

    later = NOW + timedelta(minutes=5)
    updated = _story(wire, 2, title, body, "https://wire.example/1", (1,))  # the page, now with the wire text
    await store.save_poll(wire, [updated], FeedUpdate(None, None, None, later, "Wire"), later, STORIES)
    assert await store.count_outbox() == {"pending": 2, "merged": 1}
    deliveries = await store.claim_due_deliveries(later, ["console"], 10, timedelta(minutes=1))
    by_chat = {d.subscription.address: d for d in deliveries}
    assert by_chat["one"].message_id == "m-1", "chat one's alert is edited to take the other outlet in"
    assert by_chat["one"].alert.also_in == ("Wire",) and by_chat["one"].alert.feed_name == "Globe"
    assert by_chat["two"].message_id is None and by_chat["two"].alert.feed_name == "Globe"


async def test_a_claim_code_works_once_until_it_expires_and_is_kept_only_as_its_hash(store):
    await store.add_claim_code("a" * 64, NOW + timedelta(hours=24), NOW)
    await store.add_claim_code("b" * 64, NOW + timedelta(hours=24), NOW)  # another replica's
    assert not await store.claim_admin("c" * 64, "telegram", "7", "7", NOW)
    assert await store.claim_admin("b" * 64, "telegram", "7", "7", NOW)
    assert not await store.claim_admin("a" * 64, "telegram", "8", "8", NOW), "a claim spends every code"
    assert await store.is_admin("telegram", "7") and not await store.is_admin("telegram", "8")
    assert not await store.is_admin("slack", "7") and await store.admin_count("telegram") == 1

    await store.add_claim_code("d" * 64, NOW + timedelta(hours=24), NOW)
    assert not await store.claim_admin("d" * 64, "slack", "U1", "D1", NOW + timedelta(hours=24))
    await store.add_claim_code("e" * 64, NOW + timedelta(hours=24), NOW)
    assert await store.spend_claim_code("e" * 64, NOW), "typed in a group: spent, nobody made admin"
    assert not await store.claim_admin("e" * 64, "slack", "U1", "D1", NOW)
    assert await store.admin_count("slack") == 0


async def test_the_admins_notices_reach_the_chats_they_claimed_the_bot_from(store):
    for address in ("7", "8"):
        await store.subscribe("telegram", address, address, NOW)
    await store.add_claim_code("a" * 64, NOW + timedelta(hours=24), NOW)
    assert await store.claim_admin("a" * 64, "telegram", "7", "7", NOW)
    await store.notify("telegram", [], "feed 3 is gone", NOW)
    await store.notify("slack", [], "not for telegram", NOW)
    due = await store.claim_due_notices(NOW, ["telegram", "slack"], 10, timedelta(minutes=1))
    assert [(n.subscription.address, n.text) for n in due] == [("7", "feed 3 is gone")]
