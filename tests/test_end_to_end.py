"""The whole pipeline on a real loopback feed server and a real SQLite file, as a user sees it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from bot.app import App
from bot.channels.console import ConsoleChannel
from bot.domain import Alert, Receipt
from bot.errors import PermanentDeliveryError, TransientDeliveryError
from tests.conftest import SAMPLES, SEED_TITLE

WORLD = (SAMPLES / "world-news.xml").read_bytes()
SCIENCE = (SAMPLES / "science-tech.xml").read_bytes()
ORDINARY_TITLES = [
    "EU ministers agree new climate action plan for 2030",
    "Russia and Ukraine resume gas talks as winter nears",
    "City council approves new tram line after decade of debate",
    "Golf club membership fees frozen as recession bites",
    "Astronomers find water vapour on distant planet",
]
NEXT_POLL = timedelta(minutes=6)  # the 5-minute interval plus at most 10% jitter
CONFIG = """
feeds:
  - url: {world}
    name: World Desk
    backfill: all
  - url: {science}
    backfill: all
subscriptions:
  - channel: console
    rules: [NATO-Russia Council, Membership Action Plan]
"""
NEW_ITEM = b"""    <item>
      <title>Ukraine asks again for a Membership Action Plan</title>
      <link>https://world.example.org/news/ukraine-map</link>
      <guid>https://world.example.org/news/ukraine-map</guid>
      <pubDate>Wed, 03 Dec 2008 10:00:00 GMT</pubDate>
      <description>Kiev renewed its request for a Membership Action Plan on Wednesday.</description>
    </item>
"""


@pytest.fixture
def running(feed_server, make_settings, start_app):
    """Start apps on one database with the two sample feeds; each gets its own console."""
    feed_server.files["/world.xml"] = WORLD
    feed_server.files["/science.xml"] = SCIENCE
    settings = make_settings(
        CONFIG.format(world=feed_server.url("/world.xml"), science=feed_server.url("/science.xml"))
    )
    return lambda: start_app(settings)


async def cycle(app: App) -> None:
    await app.poll_due()
    await app.deliver_due()


async def test_seed_story_alerts_once_with_everything_a_reader_needs(running):
    app, out = await running()
    await cycle(app)
    text = out.getvalue()
    assert text.count("== ") == 1, text
    assert f"== {SEED_TITLE}" in text
    assert "World Desk \u00b7 2008-12-02 14:00 UTC" in text
    assert "https://world.example.org/news/nato-agrees-to-re-engage-russia" in text
    assert "\nNATO on Tuesday agreed to gradually resume contacts with Russia" in text
    assert (
        "  - NATO-Russia Council: \u201cDe Hoop Scheffer said operational meetings of the "
        "**NATO-Russia Council**" in text
    )
    assert (
        "  - Membership Action Plan: \u201c\u2026formal routes to join the alliance known as "
        "**Membership Action Plans**, or MAPs.\u201d"
    ) in text
    for boilerplate in ("Get the latest updates", "Last Updated", "APDe Hoop", "BRUSSELS"):
        assert boilerplate not in text
    for title in ORDINARY_TITLES:
        assert title not in text


async def test_nothing_alerts_twice_across_polls_edits_and_restarts(running, feed_server, clock):
    app, out = await running()
    await cycle(app)
    assert out.getvalue().count("== ") == 1

    clock.advance(NEXT_POLL)
    await cycle(app)
    assert feed_server.requests[-1].headers.get("If-None-Match"), "second poll must be conditional"
    # The seed story edited in place (same guid and link, new text) is not a new story.
    feed_server.files["/world.xml"] = WORLD.replace(b"resume informally", b"resume informally, he said")
    clock.advance(NEXT_POLL)
    await cycle(app)
    assert out.getvalue().count("== ") == 1

    again, again_out = await running()  # a restart on the same database
    clock.advance(NEXT_POLL)
    await cycle(again)
    assert again_out.getvalue() == ""


async def test_a_new_matching_story_alerts_on_the_next_poll(running, feed_server, clock):
    app, out = await running()
    await cycle(app)
    feed_server.files["/world.xml"] = WORLD.replace(b"    <item>", NEW_ITEM + b"    <item>", 1)
    clock.advance(timedelta(minutes=4))
    await cycle(app)
    assert out.getvalue().count("== ") == 1, "not due yet: the feed's interval is 5 minutes"
    clock.advance(timedelta(minutes=2))
    await cycle(app)
    text = out.getvalue()
    assert text.count("== ") == 2
    assert "== Ukraine asks again for a Membership Action Plan" in text
    assert "**Membership Action Plan**" in text


async def test_feed_added_later_does_not_flood_with_its_backlog(feed_server, make_settings, start_app, clock):
    feed_server.files["/world.xml"] = WORLD
    settings = make_settings(
        f"feeds:\n  - url: {feed_server.url('/world.xml')}\n"
        "subscriptions:\n  - channel: console\n    rules: [Membership Action Plan]\n"
    )
    app, out = await start_app(settings)
    await cycle(app)
    assert out.getvalue() == "", "backfill defaults to 0: the backlog is stored silently"
    feed_server.files["/world.xml"] = WORLD.replace(b"    <item>", NEW_ITEM + b"    <item>", 1)
    clock.advance(NEXT_POLL)
    await cycle(app)
    assert out.getvalue().count("== ") == 1
    assert "== Ukraine asks again for a Membership Action Plan" in out.getvalue()


async def test_a_dead_feed_backs_off_and_does_not_stop_the_others(running, feed_server, clock):
    del feed_server.files["/science.xml"]
    app, out = await running()
    reports = await app.poll_due()
    assert sorted(r.error or "" for r in reports) == ["", "127.0.0.1 answered HTTP 404"]
    await app.deliver_due()
    assert f"== {SEED_TITLE}" in out.getvalue()

    def science_requests() -> int:
        return sum(r.path == "/science.xml" for r in feed_server.requests)

    clock.advance(NEXT_POLL)
    await app.poll_due()
    assert science_requests() == 1, "after a failure the next try waits longer than the interval"
    clock.advance(timedelta(minutes=6))
    await app.poll_due()
    assert science_requests() == 2


class FlakyChannel(ConsoleChannel):
    """A channel whose chat API pushes back: first a rate limit, then it accepts."""

    def __init__(self, failures: list[Exception]):
        super().__init__()
        self.failures = failures
        self.sent: list[Alert] = []

    async def send(self, address: str, alert: Alert) -> Receipt:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(alert)
        return Receipt(str(len(self.sent)))


async def test_a_rate_limited_alert_is_sent_exactly_when_allowed(running, clock):
    app, _out = await running()
    flaky = FlakyChannel([TransientDeliveryError("Too Many Requests", retry_after=30)])
    app.channels["console"] = flaky
    await app.poll_due()
    assert (await app.deliver_due()).retried == 1
    clock.advance(timedelta(seconds=29))
    assert (await app.deliver_due()).sent == 0
    clock.advance(timedelta(seconds=1))
    assert (await app.deliver_due()).sent == 1
    assert [a.title for a in flaky.sent] == [SEED_TITLE]
    assert await app.store.count_outbox() == {"sent": 1}


async def test_an_unexpected_send_error_is_retried_not_lost(running, clock):
    app, _out = await running()
    flaky = FlakyChannel([ConnectionResetError("peer went away")])
    app.channels["console"] = flaky
    await app.poll_due()
    assert (await app.deliver_due()).retried == 1
    clock.advance(timedelta(seconds=10))
    assert (await app.deliver_due()).sent == 1


async def test_a_gone_chat_stops_its_subscription(running, clock):
    app, _out = await running()
    app.channels["console"] = FlakyChannel([PermanentDeliveryError("chat not found")])
    await app.poll_due()
    assert (await app.deliver_due()).gone == 1
    assert await app.store.active_rules() == []
    assert await app.store.count_outbox() == {"gone": 1}


async def test_health_turns_bad_when_the_ticks_stop(running, clock):
    app, _out = await running()
    status, details = await app.health()
    assert status == "unhealthy" and details["problems"] == [
        "poll has not run yet",
        "deliver has not run yet",
    ]
    await cycle(app)
    assert (await app.health())[0] == "ok"
    clock.advance(timedelta(minutes=10))
    status, details = await app.health()
    assert status == "unhealthy" and details["problems"] == [
        "poll has not run since 12:00:00",
        "deliver has not run since 12:00:00",
    ]
    await cycle(app)
    await app.store.close()  # the database gone
    app.store.engine = create_async_engine("sqlite+aiosqlite:////nonexistent/dir/x.db")
    status, details = await app.health()
    assert status == "unhealthy" and details["problems"] == [
        "the database does not answer (OperationalError)"
    ]


async def test_a_page_that_is_not_a_feed_backs_off_and_does_not_count_as_first_poll(
    running, feed_server, clock
):
    feed_server.files["/world.xml"] = b"<html><body>Maintenance <b>back soon</html>"
    app, out = await running()
    reports = await app.poll_due()
    assert any(r.error and r.error.startswith("not a feed") for r in reports)
    feed_server.files["/world.xml"] = WORLD
    clock.advance(timedelta(minutes=11))
    await cycle(app)
    assert f"== {SEED_TITLE}" in out.getvalue(), "the real first poll still honours backfill: all"


async def test_a_rule_replaced_in_the_config_takes_effect_on_the_next_tick(running, start_app):
    app, _out = await running()
    await app.poll_due()
    config = app.settings.model_copy(
        update={"subscriptions": [app.settings.subscriptions[0].model_copy(update={"rules": ["Bucharest"]})]}
    )
    await start_app(config)  # a restart rewrites the config rules while the first app keeps running
    assert [r.query for r in await app.store.active_rules()] == ["Bucharest"]
    await app.poll_due()
    assert [r.query for r in app.matcher.rules.values()] == ["Bucharest"]


async def test_an_absurd_retry_after_from_a_chat_api_is_capped(running, clock):
    app, _out = await running()
    app.channels["console"] = FlakyChannel([TransientDeliveryError("slow down", retry_after=1e15)])
    await app.poll_due()
    assert (await app.deliver_due()).retried == 1
    clock.advance(timedelta(days=7, seconds=1))
    assert (await app.deliver_due()).sent == 1
