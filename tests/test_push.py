"""WebSub push ingest against a fake hub on loopback: subscribe, verify, push (signed or not), the
safety-net polling, renewal, fallback, the SSRF guard on hubs, unsubscribing. The fake clock, no sleeps."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.domain import Feed, FeedUpdate, PushSubscription
from bot.errors import ConfigError
from bot.feeds.websub import LEASE, RETRY_HUB, SILENT_AFTER, VERIFY_WAIT, HubLinks, fallen_back, verified
from bot.web import build_web_app, start_web
from tests.fakes.websub_hub import FakeHub

PUBLIC = "https://bot.example.org"
CONFIG = """
http:
  public_url: {public}/
feeds:
  - url: {feed}
    name: World Desk
subscriptions:
  - channel: console
    rules: [Membership Action Plan]
"""
ORDINARY = """<item><title>City council approves new tram line</title><guid>tram</guid><link>https://world.example.org/news/tram</link>
  <description>After a decade of debate.</description></item>"""
MATCHING = """<item><title>Ukraine asks again for a Membership Action Plan</title><guid>map</guid>
  <link>https://world.example.org/news/ukraine-map</link>
  <description>Kiev renewed its request for a Membership Action Plan on Wednesday.</description></item>"""
NEXT_POLL = timedelta(minutes=6)  # the 5-minute interval and its jitter
SAFETY_POLL = timedelta(hours=1, minutes=7)  # an hour and its jitter


def rss(hub: str, *items: str) -> bytes:
    return f"""<?xml version="1.0"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>
  <title>World</title><atom:link rel="hub" href="{hub}"/>
  <atom:link rel="self" href="https://world.example.org/rss"/>
  {"".join(items)}</channel></rss>""".encode()


@pytest.fixture
async def hub() -> AsyncIterator[FakeHub]:
    server = await FakeHub(public=PUBLIC).start()
    yield server
    await server.stop()


@pytest.fixture
async def bot(feed_server, hub, make_settings, start_app):
    """The app on the sample feed naming the fake hub, its routes on loopback behind PUBLIC."""
    feed_server.files["/world.xml"] = rss(hub.url, ORDINARY)
    settings = make_settings(CONFIG.format(public=PUBLIC, feed=feed_server.url("/world.xml")))
    app, out = await start_app(settings)
    runner, port = await start_web(build_web_app(app.health, app.pushes.routes()), "127.0.0.1", 0)
    hub.reaches = f"http://127.0.0.1:{port}"
    yield app, out
    await runner.cleanup()


async def subscription(app):
    return await app.store.push_subscription(1)


async def test_a_feed_naming_a_hub_is_pushed_and_its_story_alerts_without_a_poll(bot, hub, feed_server):
    app, out = bot
    await app.poll_due()
    asked = hub.last
    assert asked["hub.mode"] == "subscribe"
    assert asked["hub.topic"] == "https://world.example.org/rss"  # the feed's self link
    assert asked["hub.callback"].startswith(f"{PUBLIC}/websub/")
    assert len(asked["hub.callback"].rsplit("/", 1)[1]) >= 32  # unguessable
    assert len(asked["hub.secret"]) == 64 and asked["hub.lease_seconds"] == str(10 * 86400)
    assert await hub.verify() == (200, "ch-42")
    assert (await subscription(app)).state == "subscribed"

    assert await hub.publish(rss(hub.url, MATCHING, ORDINARY)) == 204
    await app.deliver_due()
    assert "== Ukraine asks again for a Membership Action Plan" in out.getvalue()
    assert feed_server.hits("/world.xml") == 1  # the push brought it, no poll


async def test_a_hub_named_in_the_link_header_is_used_first(bot, hub, feed_server):
    app, _ = bot
    feed_server.files["/world.xml"] = rss("https://hub-in-the-body.example/", ORDINARY)
    feed_server.headers["Link"] = f'<{hub.url}>; rel="hub", <https://world.example.org/atom>; rel="self"'
    await app.poll_due()
    assert hub.last["hub.topic"] == "https://world.example.org/atom"
    assert (await subscription(app)).hub == hub.url


async def test_a_push_during_a_poll_of_its_feed_is_refused_for_now_and_taken_when_sent_again(bot, hub, clock):
    app, out = bot
    await app.poll_due()
    await hub.verify()
    assert await app.store.claim_due_feeds(clock.now(), 1, timedelta(minutes=5), only=[1])  # a poll in flight
    assert await hub.publish(rss(hub.url, MATCHING)) == 503  # the hub sends it again later
    clock.advance(timedelta(minutes=5))  # that poll's lease is over
    assert await hub.publish(rss(hub.url, MATCHING)) == 204
    await app.deliver_due()
    assert out.getvalue().count("== Ukraine asks again") == 1


@pytest.mark.parametrize(
    "forgery",
    [
        {"secret": "not our secret"},
        {"signature": ""},
        {"signature": "sha256=" + "0" * 64},
        {"signature": "md5=0123456789abcdef0123456789abcdef"},
    ],
)
async def test_a_push_not_signed_with_our_secret_is_ignored(bot, hub, caplog, forgery):
    app, out = bot
    await app.poll_due()
    await hub.verify()
    caplog.set_level(logging.DEBUG, logger="bot")
    assert await hub.publish(rss(hub.url, MATCHING), **forgery) == 202  # as if taken: a forger learns nothing
    await app.deliver_due()
    assert "Membership Action Plan" not in out.getvalue()
    assert "a push without a valid X-Hub-Signature was ignored" in caplog.text
    assert hub.last["hub.secret"] not in caplog.text

    assert await hub.publish(rss(hub.url, MATCHING)) == 204  # the real one still counts
    await app.deliver_due()
    assert out.getvalue().count("== Ukraine asks again") == 1


async def test_every_signature_method_of_the_spec_is_taken(bot, hub):
    app, out = bot
    await app.poll_due()
    await hub.verify()
    assert await hub.publish(rss(hub.url, MATCHING), method="sha512") == 204
    assert await hub.publish(rss(hub.url, MATCHING), method="sha1") == 204  # the same story: kept once
    await app.deliver_due()
    assert out.getvalue().count("== Ukraine asks again") == 1


async def test_the_callback_confirms_only_what_we_asked_for(bot, hub):
    app, _ = bot
    await app.poll_due()
    assert (await hub.verify(hub_topic="https://world.example.org/other"))[0] == 404
    assert (await hub.verify(hub_mode="unsubscribe"))[0] == 404
    assert (await subscription(app)).state == "requested"
    elsewhere = {**hub.last, "hub.callback": f"{PUBLIC}/websub/guessed"}
    assert (await hub.verify(elsewhere))[0] == 404
    assert await hub.publish(rss(hub.url, MATCHING), elsewhere, secret="x") == 410


async def test_a_pushed_feed_is_polled_only_hourly_as_a_safety_net(bot, hub, feed_server, clock):
    app, _ = bot
    await app.poll_due()
    await hub.verify()
    clock.advance(NEXT_POLL)
    await app.poll_due()  # due before the hub confirmed
    assert feed_server.hits("/world.xml") == 2
    clock.advance(timedelta(minutes=50))
    await app.poll_due()
    assert feed_server.hits("/world.xml") == 2
    clock.advance(SAFETY_POLL - timedelta(minutes=50))
    await app.poll_due()
    assert feed_server.hits("/world.xml") == 3


async def test_a_lease_is_renewed_before_it_ends_and_pushes_go_on(bot, hub, clock):
    app, out = bot
    await app.poll_due()
    await hub.verify(lease=3600)
    first = hub.last
    clock.advance(timedelta(minutes=47))
    await app.pushes.renew_due()
    assert len(hub.requests) == 1
    clock.advance(timedelta(minutes=2))  # 80% of the hour gone
    await app.pushes.renew_due()
    assert len(hub.requests) == 2
    assert {k: hub.last[k] for k in first} == first  # the same callback, topic and secret
    assert await hub.verify(lease=3600) == (200, "ch-42")
    clock.advance(timedelta(minutes=30))  # past the first lease
    await app.pushes.renew_due()
    assert (await subscription(app)).state == "subscribed"
    assert await hub.publish(rss(hub.url, MATCHING)) == 204
    await app.deliver_due()
    assert "== Ukraine asks again" in out.getvalue()


async def test_a_lease_that_runs_out_unrenewed_sends_the_feed_back_to_polling(bot, hub, feed_server, clock):
    app, _ = bot
    await app.poll_due()
    await hub.verify(lease=3600)
    clock.advance(timedelta(minutes=49))
    await app.pushes.renew_due()  # asked; the hub never checks
    clock.advance(timedelta(minutes=11))
    await app.pushes.renew_due()
    sub = await subscription(app)
    assert (sub.state, sub.reason) == ("fallback", "the lease ran out")


@pytest.mark.parametrize("how", ["refuses", "denies", "never confirms"])
async def test_a_hub_that_refuses_leaves_the_feed_polled_as_usual(bot, hub, feed_server, clock, caplog, how):
    app, out = bot
    hub.answer = 400 if how == "refuses" else 202
    await app.poll_due()
    if how == "denies":
        assert await hub.deny() == 200
    if how == "never confirms":
        clock.advance(VERIFY_WAIT)
        await app.pushes.renew_due()
    sub = await subscription(app)
    assert sub.state == "fallback"
    assert {
        "refuses": "the hub answered HTTP 400: topic not allowed here",
        "denies": "the hub refused: not on this hub",
        "never confirms": "the hub did not confirm the subscription",
    }[how] == sub.reason
    assert "polling it as usual" in caplog.text
    feed_server.files["/world.xml"] = rss(hub.url, MATCHING, ORDINARY)
    clock.advance(NEXT_POLL)
    await app.poll_due()
    await app.deliver_due()
    assert "== Ukraine asks again" in out.getvalue()  # the poll found it
    assert len(hub.requests) == 1
    clock.advance(RETRY_HUB)
    await app.pushes.renew_due()
    assert len(hub.requests) == 2  # asked again a day later
    assert (await subscription(app)).state == ("fallback" if how == "refuses" else "requested")


async def test_a_hub_gone_silent_sends_the_feed_back_to_polling(bot, hub, feed_server, clock):
    app, out = bot
    await app.poll_due()
    await hub.verify()
    feed_server.files["/world.xml"] = rss(hub.url, MATCHING, ORDINARY)  # never pushed
    clock.advance(SILENT_AFTER)
    await app.poll_due()  # the safety net finds it
    await app.deliver_due()
    assert "== Ukraine asks again" in out.getvalue()
    assert (await subscription(app)).reason == "the hub went silent: polls found entries it never pushed"
    feed_server.files["/world.xml"] = rss(hub.url, ORDINARY)
    clock.advance(NEXT_POLL)
    await app.poll_due()
    assert feed_server.hits("/world.xml") == 3  # every 5 minutes again


async def test_a_hub_named_by_a_chat_feed_goes_through_the_ssrf_guard(bot, hub):
    app, _ = bot
    await app.poll_due()
    (feed, _), *_ = await app.store.feed_list()
    hub.requests.clear()
    await app.pushes.subscribe(feed.id, False, HubLinks(hub.url, feed.url))
    assert hub.requests == []
    sub = await subscription(app)
    assert sub.state == "fallback" and "loopback" in sub.reason


async def test_a_push_that_is_not_a_feed_is_ignored_and_the_feed_is_not_failing(bot, hub):
    app, _ = bot
    await app.poll_due()
    await hub.verify()
    assert await hub.publish(b"<html>oops</html>") == 202
    (_, error), *_ = await app.store.feed_list()
    assert error is None
    assert await hub.publish(rss(hub.url, MATCHING)) == 204  # the feed was released


async def test_a_feed_no_longer_polled_is_unsubscribed(bot, hub, make_settings, start_app, feed_server):
    app, _ = bot
    await app.poll_due()
    await hub.verify()
    subscribed = hub.last
    other = make_settings(CONFIG.format(public=PUBLIC, feed=feed_server.url("/other.xml")))
    restarted, _ = await start_app(other)  # the feed left the config file
    runner, port = await start_web(build_web_app(app.health, restarted.pushes.routes()), "127.0.0.1", 0)
    hub.reaches = f"http://127.0.0.1:{port}"
    try:
        await restarted.pushes.renew_due()
        assert hub.last["hub.mode"] == "unsubscribe"
        assert hub.last["hub.callback"] == subscribed["hub.callback"]
        assert await hub.publish(rss(hub.url, MATCHING), subscribed) == 410  # no more pushes, please
        assert await hub.verify() == (200, "ch-42")
        assert await subscription(restarted) is None
    finally:
        await runner.cleanup()


async def test_without_public_url_no_hub_is_asked(feed_server, hub, make_settings, start_app):
    feed_server.files["/world.xml"] = rss(hub.url, ORDINARY)
    app, _ = await start_app(make_settings(CONFIG.replace("http:\n  public_url: {public}/\n", "").format(
        feed=feed_server.url("/world.xml"))))  # fmt: skip
    await app.poll_due()
    assert app.pushes is None and hub.requests == []


@pytest.mark.parametrize("bad", ["ftp://bot.example.org", "bot.example.org", "https://bot.example.org/?x=1"])
def test_public_url_must_be_an_address_hubs_can_call(make_settings, bad):
    with pytest.raises(ConfigError, match="http.public_url"):
        make_settings(f"http:\n  public_url: {bad}\n")


async def test_run_once_asks_no_hub_since_nothing_would_answer_its_call(bot, hub):
    app, out = bot
    await app.run_once()
    assert hub.requests == [] and await subscription(app) is None


async def test_subscriptions_are_kept_found_and_fall_back_on_either_database(store, clock):
    now = clock.now()
    await store.sync_config_feeds([Feed(0, "https://a.example/feed", "A", timedelta(minutes=5), 0)], now)
    await store.save_polls_without_news(
        [(1, FeedUpdate(None, None, None, now + timedelta(hours=1), "A"))], now
    )
    hub, topic = "https://hub.example/", "https://a.example/feed"
    asked = PushSubscription(
        1, hub, topic, "tok", "s3cret", "requested", now + VERIFY_WAIT, LEASE, requested_at=now
    )
    await store.save_push(asked)
    assert await store.push_by_token("tok") == (asked, True)
    assert await store.push_by_token("other") is None
    assert await store.pushed_feeds([1]) == {}
    live = verified(asked, LEASE, now)
    await store.save_push(live)
    assert await store.pushed_feeds([1, 2]) == {1: live}
    assert await store.due_pushes(now) == []
    assert await store.due_pushes(live.due_at) == [(live, True, True)]
    await store.record_push(1, now + timedelta(minutes=1))
    assert (await store.push_subscription(1)).last_push_at == now + timedelta(minutes=1)
    later = now + timedelta(minutes=2)
    await store.fall_back(fallen_back(live, "the hub went silent", later), later)
    assert [feed.id for feed in await store.claim_due_feeds(later, 10, timedelta(minutes=5))] == [
        1
    ]  # due now
    assert (await store.push_subscription(1)).state == "fallback"
    await store.forget_push(1)
    assert await store.push_subscription(1) is None
