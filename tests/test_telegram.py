"""Telegram as a user meets it: commands in private chats, groups and topics, and the alerts that
arrive, against a fake Bot API on loopback that is as strict as Telegram about HTML and length."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import signal
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import ClientSession
from hypothesis import given
from hypothesis import strategies as st

from bot.admin import _span
from bot.app import App
from bot.channels.telegram import file_url, render_alert, units
from bot.domain import Alert, Match, Quote
from bot.errors import ConfigError
from bot.opml import parse_opml, write_opml
from bot.web import build_web_app, start_web
from tests.conftest import ROOT, SAMPLES, SEED_TITLE
from tests.fakes.hostile_client import DEEP, damaged, odd_bytes, odd_json, post_raw, replace_somewhere
from tests.fakes.telegram_api import TOKEN, FakeTelegram, parse_html
from tests.test_cli import clean_env, started

WORLD = (SAMPLES / "world-news.xml").read_bytes()
NEXT_POLL = timedelta(minutes=6)
NEW_ITEM = b"""    <item>
      <title>Ukraine asks again for a Membership Action Plan: 5 &amp;lt; 6 &amp; rising</title>
      <link>https://world.example.org/news/ukraine-map?a=1&amp;b=2</link>
      <guid>https://world.example.org/news/ukraine-map</guid>
      <pubDate>Wed, 03 Dec 2008 10:00:00 GMT</pubDate>
      <description>Kiev renewed its request for a Membership Action Plan on Wednesday,
      &lt;b&gt;again&lt;/b&gt;.
      Officials said the plan &amp; its timetable were "under review".</description>
    </item>
"""
GROUP = -100500
DATA = ROOT / "tests" / "data"
PUBLISHED = datetime(2008, 12, 3, 10, 0, tzinfo=UTC)  # NEW_ITEM's pubDate


@pytest.fixture
async def bot(feed_server, make_settings, start_app, telegram):
    """The app with Telegram on (the fake), the world sample feed, and no subscriptions yet."""
    feed_server.files["/world.xml"] = WORLD

    async def start(extra: str = "") -> App:
        settings = make_settings(
            f"telegram:\n  token: {TOKEN}\n  api_url: {telegram.api_url}\n{extra}"
            f"feeds:\n  - url: {feed_server.url('/world.xml')}\n    name: World Desk\n"
        )
        app, _out = await start_app(settings)
        return app

    return start


async def say(app: App, telegram: FakeTelegram, text: str, **where) -> dict:
    """A user types `text`; returns the bot's last message to that chat."""
    telegram.user_says(text, **where)
    await app.channels["telegram"].poll_updates()
    await app.channels["telegram"].settle()
    return telegram.last(where.get("chat", 1001))


async def press(app: App, telegram: FakeTelegram, message: dict, label: str, **who) -> None:
    telegram.user_presses(message, label, **who)
    await app.channels["telegram"].poll_updates()


async def publish_new_story(app: App, feed_server, clock) -> None:
    """The world feed was polled once already; now a matching story appears and is delivered."""
    feed_server.files["/world.xml"] = WORLD.replace(b"    <item>", NEW_ITEM + b"    <item>", 1)
    clock.advance(NEXT_POLL)
    await app.poll_due()
    await app.deliver_due()


async def test_the_command_menu_is_registered_and_long_polling_is_on(bot, telegram):
    await bot()
    names = [c["command"] for c in telegram.commands]
    assert names[:5] == ["start", "help", "watch", "unwatch", "rules"]
    assert {"test", "feeds", "addfeed", "removefeed", "mute", "stop", "digest", "quiet"} <= set(names)
    assert "deleteWebhook" in telegram.calls and telegram.webhook is None


async def test_a_new_user_starts_watches_backtests_lists_and_removes_rules(bot, telegram, clock):
    app = await bot()
    await app.poll_due()  # the feed's stories are stored: the backtest looks back over them
    reply = await say(app, telegram, "/start")
    assert "now gets an alert" in reply["text"] and reply["text"].count("\n") == 2

    reply = await say(app, telegram, '/watch "Membership Action Plan')
    assert (
        reply["text"]
        == 'I cannot use that rule: unclosed quote at character 1: \u25b6"Membership Action Plan'
    )

    reply = await say(app, telegram, "/test Membership Action Plan")
    assert "matched 1 of" in reply["text"] and "Nothing was saved" in reply["text"]

    reply = await say(app, telegram, "/watch Membership Action Plan")
    assert reply["text"].startswith("Watching rule 1: ")

    reply = await say(app, telegram, "/rules")
    assert reply["text"] == "1. Membership Action Plan"
    await press(app, telegram, reply, "Pause 1")
    assert telegram.answers[-1]["text"].startswith("Paused rule 1")
    assert telegram.edits[-1]["text"] == "1. Membership Action Plan (paused)", "the list is updated in place"

    reply = await say(app, telegram, "/unwatch 1")
    assert reply["text"] == "Deleted rule 1."
    reply = await say(app, telegram, "/rules")
    assert "watches nothing yet" in reply["text"]


async def test_a_matching_story_arrives_once_as_clean_html(bot, telegram, feed_server, clock):
    app = await bot()
    await app.poll_due()
    await say(app, telegram, "/watch Membership Action Plan")
    before = len(telegram.sent)
    await publish_new_story(app, feed_server, clock)
    alerts = telegram.sent[before:]
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert["parse_mode"] == "HTML"
    assert alert["html"].startswith(
        '<b><a href="https://world.example.org/news/ukraine-map?a=1&amp;b=2">'
        "Ukraine asks again for a Membership Action Plan: 5 &lt; 6 &amp; rising</a></b>"
    )
    assert "World Desk \u00b7 03 Dec 2008 10:00 UTC" in alert["text"]
    assert "<b>Membership Action Plan</b>" in alert["html"], "the matched words are bold"
    assert "Rule 1: Membership Action Plan" in alert["text"]
    labels = [b["text"] for row in alert["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == ["Mute story", "Mute source 24 h", "Not about this", "Pause rule"]

    clock.advance(NEXT_POLL)
    await app.poll_due()
    await app.deliver_due()
    assert len(telegram.sent) == before + 1, "one alert per story"

    await press(app, telegram, alert, "Pause rule")
    assert telegram.last()["text"].startswith("Paused rule 1")


async def test_in_a_group_only_admins_change_rules(bot, telegram):
    app = await bot()
    telegram.admins.add((GROUP, 7))
    reply = await say(app, telegram, "/watch NATO-Russia Council", chat=GROUP, user=8, kind="supergroup")
    assert reply["text"] == "Sorry, only this chat's admins can change its alerts. Ask one of them."
    reply = await say(
        app, telegram, "/watch@newsalert_bot NATO-Russia Council", chat=GROUP, user=7, kind="supergroup"
    )
    assert reply["text"].startswith("Watching rule 1")
    reply = await say(app, telegram, "/rules", chat=GROUP, user=8, kind="supergroup")
    assert reply["text"] == "1. NATO-Russia Council", "anyone may look"
    sent = len(telegram.sent)
    await say(app, telegram, "/rules@some_other_bot", chat=GROUP, user=7, kind="supergroup")
    assert len(telegram.sent) == sent, "a command for another bot is not ours to answer"


async def test_a_subscription_made_in_a_forum_topic_alerts_that_topic(bot, telegram, feed_server, clock):
    app = await bot()
    await app.poll_due()
    telegram.admins.add((GROUP, 7))
    reply = await say(
        app, telegram, "/watch Membership Action Plan", chat=GROUP, user=7, kind="supergroup", topic=42
    )
    assert reply["message_thread_id"] == 42
    await publish_new_story(app, feed_server, clock)
    assert telegram.last(GROUP)["message_thread_id"] == 42
    assert telegram.last(GROUP)["parse_mode"] == "HTML"


async def test_a_429_storm_delays_alerts_exactly_as_asked_and_loses_none(bot, telegram, feed_server, clock):
    app = await bot()
    await app.poll_due()
    await say(app, telegram, "/watch Membership Action Plan")
    before = len(telegram.sent)
    telegram.too_many = 2
    await publish_new_story(app, feed_server, clock)
    assert len(telegram.sent) == before
    await app.deliver_due()
    assert len(telegram.sent) == before, "retry_after is 7 s: not yet"
    clock.advance(timedelta(seconds=7))
    await app.deliver_due()
    assert len(telegram.sent) == before, "the second try got a 429 too"
    clock.advance(timedelta(seconds=7))
    await app.deliver_due()
    assert len(telegram.sent) == before + 1
    assert await app.store.count_outbox() == {"sent": 1}


async def test_server_errors_are_retried_and_refused_html_goes_out_as_plain_text(
    bot, telegram, feed_server, clock
):
    app = await bot()
    await app.poll_due()
    await say(app, telegram, "/watch Membership Action Plan")
    before = len(telegram.sent)
    telegram.broken, telegram.refuse_html = 1, True
    await publish_new_story(app, feed_server, clock)
    assert len(telegram.sent) == before, "a 500: tried again later"
    clock.advance(timedelta(seconds=5))
    await app.deliver_due()
    alert = telegram.last()
    assert alert["parse_mode"] is None and alert["html"] == alert["text"]
    assert alert["text"].startswith(
        "Ukraine asks again for a Membership Action Plan: 5 < 6 & rising\nWorld Desk"
    )
    assert [b["text"] for b in alert["reply_markup"]["inline_keyboard"][0]] == [
        "Mute story",
        "Mute source 24 h",
    ]
    assert await app.store.count_outbox() == {"sent": 1}


async def test_a_chat_that_blocked_the_bot_is_unsubscribed(bot, telegram, feed_server, clock):
    app = await bot("  admins: [7]\n")
    await say(app, telegram, "/start", chat=7, user=7)  # an admin, subscribed in a private chat
    await app.poll_due()
    await say(app, telegram, "/watch Membership Action Plan")
    telegram.blocked.add(1001)
    await publish_new_story(app, feed_server, clock)
    assert await app.store.count_outbox() == {"gone": 1}
    subscription = await app.store.subscription("telegram", "1001")
    assert subscription and not subscription.active
    await app.deliver_due()
    assert telegram.last(7)["text"] == "newsalert: Alerts to Ann stopped: telegram says that chat is gone."
    telegram.blocked.clear()
    reply = await say(app, telegram, "/start")
    assert "now gets an alert" in reply["text"], "coming back is one command"


async def test_a_group_that_became_a_supergroup_is_followed(bot, telegram, feed_server, clock):
    app = await bot()
    await app.poll_due()
    old, new = -500, -100600
    telegram.admins.add((old, 7))
    await say(app, telegram, "/watch Membership Action Plan", chat=old, user=7, kind="group")
    telegram.migrated[old] = new
    await publish_new_story(app, feed_server, clock)
    await app.deliver_due()
    assert len(telegram.to(new)) == 1 and "Membership Action Plan" in telegram.last(new)["text"]
    assert await app.store.subscription("telegram", str(new))


async def test_mute_holds_alerts_back_until_it_ends(bot, telegram, feed_server, clock):
    app = await bot()
    await app.poll_due()
    await say(app, telegram, "/watch Membership Action Plan")
    reply = await say(app, telegram, "/mute 2h")
    assert reply["text"].startswith("Muted until")
    before = len(telegram.sent)
    await publish_new_story(app, feed_server, clock)
    assert len(telegram.sent) == before
    assert await app.store.count_outbox() == {"muted": 1}
    assert (await say(app, telegram, "/mute soon"))["text"].startswith("Usage: /mute DURATION")


async def test_stop_sends_nothing_more(bot, telegram, feed_server, clock):
    app = await bot()
    await app.poll_due()
    await say(app, telegram, "/watch Membership Action Plan")
    reply = await say(app, telegram, "/stop")
    assert reply["text"].startswith("Unsubscribed")
    before = len(telegram.sent)
    await publish_new_story(app, feed_server, clock)
    assert len(telegram.sent) == before


async def test_digest_and_quiet_are_checked_and_stored(bot, telegram):
    app = await bot()
    reply = await say(app, telegram, "/digest daily 8:00 Europe/Paris")
    assert reply["text"].startswith("Saved: daily 08:00 Europe/Paris.")
    reply = await say(app, telegram, "/quiet 22:00-07:00 Mars/Olympus")
    assert "'Mars/Olympus' is not a time zone" in reply["text"]
    await say(app, telegram, "/quiet 22:00-07:00")
    subscription = await app.store.subscription("telegram", "1001")
    assert subscription and (subscription.digest, subscription.quiet) == (
        "daily 08:00 Europe/Paris",
        "22:00-07:00 UTC",
    )


async def test_feeds_are_for_admins_and_chat_urls_go_through_the_ssrf_guard(bot, telegram, feed_server):
    app = await bot("  admins: [7]\n")
    reply = await say(app, telegram, f"/addfeed {feed_server.url('/world.xml')}", user=8)
    assert reply["text"].startswith("Sorry, only the bot's admins can change its feeds.")
    reply = await say(app, telegram, f"/addfeed {feed_server.url('/world.xml')}", chat=7, user=7)
    assert reply["text"].startswith("I could not add that feed:") and "loopback" in reply["text"]
    reply = await say(app, telegram, "/feeds")
    assert reply["text"].startswith("1. World Desk - http://127.0.0.1:")


async def test_an_allowlist_closes_the_bot_politely(bot, telegram):
    app = await bot("  allowed_users: [1001]\n")
    assert "now gets an alert" in (await say(app, telegram, "/start"))["text"]
    reply = await say(app, telegram, "/start", chat=2002, user=2002)
    assert reply["text"].startswith("Sorry, this newsalert bot is private.") and "(2002)" in reply["text"]


async def test_webhook_mode_checks_telegrams_secret(bot, telegram):
    app = await bot("  webhook_url: https://bot.example.org\n")
    assert telegram.webhook == "https://bot.example.org/telegram/webhook"
    secret = app.settings.telegram.webhook_secret_value()
    assert TOKEN not in secret
    runner, port = await start_web(
        build_web_app(app.health, app.channels["telegram"].routes()), "127.0.0.1", 0
    )
    update = {
        "update_id": 1,
        "message": {
            "message_id": 5, "date": 1_700_000_000, "text": "/start",
            "chat": {"id": 1001, "type": "private"}, "from": {"id": 1001, "is_bot": False, "first_name": "A"},
        },
    }  # fmt: skip
    url = f"http://127.0.0.1:{port}/telegram/webhook"
    try:
        async with ClientSession() as http:
            async with http.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "guess"}) as r:
                assert r.status == 401
            assert telegram.sent == []
            async with http.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": secret}) as r:
                assert r.status == 200
    finally:
        await runner.cleanup()
    assert "now gets an alert" in telegram.last()["text"]


# the fields of an update the bot reads, and the kinds of chat
UPDATE_FIELDS = [
    "update_id", "message", "callback_query", "message_id", "date", "chat", "id", "type", "title", "from",
    "is_bot", "first_name", "username", "text", "caption", "document", "file_id", "file_unique_id",
    "file_size", "migrate_to_chat_id", "sender_chat", "message_thread_id", "is_topic_message", "data",
    "chat_instance", "entities", "offset", "length", "private", "group", "supergroup",
]  # fmt: skip


def an_update(rng: random.Random, update_id: int) -> dict:
    """A command in a private chat or a group, or a button press, as Telegram sends them."""
    user = {"id": 1001, "is_bot": False, "first_name": "A"}
    chat = rng.choice([{"id": 1001, "type": "private"}, {"id": GROUP, "type": "group", "title": "G"}])
    text = rng.choice(["/start", "/list", "/watch NATO", "/help@newsalert_bot"])
    message = {"message_id": 5, "date": 1_700_000_000, "text": text, "chat": chat, "from": user}
    if rng.random() < 0.3:
        query = {"id": "9", "from": user, "chat_instance": "1", "data": "rules>pause 1", "message": message}
        return {"update_id": update_id, "callback_query": query}
    return {"update_id": update_id, "message": message}


def a_hostile_update(rng: random.Random, update_id: int) -> bytes:
    good = json.dumps(an_update(rng, update_id)).encode()
    return [
        lambda: odd_bytes(rng, 300),
        lambda: damaged(rng, good),
        lambda: json.dumps(replace_somewhere(rng, an_update(rng, update_id), UPDATE_FIELDS)).encode(),
        lambda: json.dumps(odd_json(rng, UPDATE_FIELDS)).encode(),
    ][rng.randrange(4)]()


async def test_hostile_webhook_calls_get_400_or_401_never_500_and_updates_still_work(bot, telegram):
    app = await bot("  webhook_url: https://bot.example.org\n")
    secret = app.settings.telegram.webhook_secret_value().encode()
    runner, port = await start_web(
        build_web_app(app.health, app.channels["telegram"].routes()), "127.0.0.1", 0
    )
    url = f"http://127.0.0.1:{port}/telegram/webhook"
    name = b"X-Telegram-Bot-Api-Secret-Token"
    as_json = (b"Content-Type", b"application/json")
    start = json.dumps(an_update(random.Random(1), 1)).encode()
    table = [  # what Telegram never sends, and what we answer, from our handler (not aiohttp's)
        ([(name, b"\xff")], start, 401, b"wrong secret token"),
        ([(name, secret + b"\xff")], start, 401, b"wrong secret token"),
        ([(name, "\u00e9".encode())], start, 401, b"wrong secret token"),
        *(([(name, secret), as_json], body, 400, b"not an update") for body in [
            b"[1,2]", b"null", b"{}", b'"x"', b"1", b"\xff", b"", DEEP, b'{"update_id": "1"}',
            b'{"update_id": true}', b'{"update_id": 1, "message": 5}', b'{"update_id": 1, "message": [1]}',
        ]),
        ([(name, secret), (b"Content-Type", b"application/json; charset=nonesuch")], start, 200, b"ok"),
    ]  # fmt: skip
    rng = random.Random(18)
    failures = []
    try:
        for headers, body, status, text in table:
            assert await post_raw(url, headers, body) == (status, text), (headers, body[:80])
        for update_id in range(2, 300):
            headers = [(name, secret if rng.random() < 0.9 else odd_bytes(rng)), as_json]
            body = a_hostile_update(rng, update_id)
            status, _text = await post_raw(url, headers, body)
            if status >= 500:
                failures.append((status, headers, body[:200]))
        assert failures == []
        await app.channels["telegram"].settle()
        telegram.sent.clear()
        update = {"update_id": 300, "message": {
            "message_id": 6, "date": 1_700_000_000, "text": "/watch Membership Action Plan",
            "chat": {"id": 1001, "type": "private"}, "from": {"id": 1001, "is_bot": False, "first_name": "A"},
        }}  # fmt: skip
        assert await post_raw(url, [(name, secret), as_json], json.dumps(update).encode()) == (200, b"ok")
    finally:
        await runner.cleanup()
    assert telegram.last()["text"].startswith("Watching rule")


# --- the alert as Telegram will parse it: pure ------------------------------------------------

feed_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=300)


def an_alert(title: str, summary: str, quote: str, rule: str, matches: int = 1) -> Alert:
    spans = ((0, min(len(quote), 5)),) if quote else ()
    return Alert(
        title=title,
        link="https://example.org/a?x=1&y=<2>",
        feed_name="Feed & <Co>",
        published_at=datetime(2026, 11, 28, 9, 30, tzinfo=UTC),
        summary=summary,
        matches=tuple(Match(i + 1, rule, Quote(quote, spans)) for i in range(matches)),
    )


@given(feed_text, feed_text, feed_text, feed_text)
def test_anything_a_feed_says_renders_as_html_telegram_accepts(title, summary, quote, rule):
    text, _buttons = render_alert(an_alert(title, summary, quote, rule))
    visible = parse_html(text)  # raises as Telegram would refuse
    assert units(visible) <= 4096
    assert "Feed & <Co>" in visible


def test_a_huge_story_is_shortened_in_its_summary_never_mid_tag():
    alert = an_alert("T" * 5000, "word " * 5000, "q" * 5000, "r" * 5000, matches=8)
    text, buttons = render_alert(alert)
    visible = parse_html(text)
    assert units(visible) <= 4096
    assert visible.count("Rule ") == 5 and "(and 3 more of your rules)" in visible
    assert "word word" in visible and visible.count("\u2026") >= 3
    assert [b.label for b in buttons[0]] == ["Mute rule 1", "Unwatch 1"] and len(buttons) == 3


def test_a_long_title_of_flags_is_clipped_between_flags():
    flags = "\U0001f1fa\U0001f1e6\U0001f1f5\U0001f1f1"  # Ukraine, Poland: two code points a flag
    text, _ = render_alert(an_alert("AB" + flags * 100, "s", "q", "r"))
    title = parse_html(text).split("\n")[0]
    assert title.endswith("\u2026") and units(title) <= 251
    kept = title.removesuffix("\u2026")
    assert ("AB" + flags * 100).startswith(kept) and len(kept) % 2 == 0, "whole flags, never half of one"


def test_emoji_count_twice_against_the_limit():
    text, _ = render_alert(an_alert("News", "\U0001f4f0" * 3000, "q", "r"))
    assert units(parse_html(text)) <= 4096 < len(parse_html(text)) * 2


async def test_the_token_never_reaches_the_logs_even_at_debug(telegram, tmp_path):
    """`newsalert run --once` with a Telegram subscription in the config file, logging everything."""
    config = tmp_path / "newsalert.yaml"
    config.write_text(
        f"database_url: sqlite:///{tmp_path}/newsalert.db\n"
        f"feeds:\n  - url: {SAMPLES / 'world-news.xml'}\n    backfill: all\n"
        "subscriptions:\n  - channel: telegram\n    address: '1001'\n    rules: [Membership Action Plan]\n",
        encoding="utf-8",
    )
    env = {
        **clean_env(),
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "NEWSALERT_TELEGRAM_API_URL": telegram.api_url,
        "NEWSALERT_LOG_LEVEL": "DEBUG",
    }
    process = await started("run", "--once", "--config", str(config), cwd=tmp_path, env=env)
    _out, err = await asyncio.wait_for(process.communicate(), 60)
    log = err.decode()
    assert process.returncode == 0, log
    assert len(telegram.to(1001)) == 1 and SEED_TITLE in telegram.last()["text"]
    assert TOKEN not in log and TOKEN.split(":")[1] not in log
    assert "**********" in log, "the library did log its URL: redacted"


async def test_the_running_bot_long_polls_answers_and_stops_cleanly(telegram, tmp_path):
    config = tmp_path / "newsalert.yaml"
    config.write_text(
        f"database_url: sqlite:///{tmp_path}/newsalert.db\nhttp:\n  host: 127.0.0.1\n  port: 0\nfeeds: []\n",
        encoding="utf-8",
    )
    env = {**clean_env(), "TELEGRAM_BOT_TOKEN": TOKEN, "NEWSALERT_TELEGRAM_API_URL": telegram.api_url}
    process = await started("run", "--config", str(config), cwd=tmp_path, env=env)
    try:
        telegram.user_says("/start")
        reply = await asyncio.wait_for(telegram.message_number(1), 30)
        assert "now gets an alert" in reply["text"]
        telegram.user_says("/watch NATO-Russia Council")
        reply = await asyncio.wait_for(telegram.message_number(2), 30)
        assert reply["text"].startswith("Watching rule 1")
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 15) == 0, "a pending long poll does not delay the stop"
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    log = (await process.stderr.read()).decode()
    assert "Traceback" not in log, log


async def test_a_wrong_token_stops_start_up_with_a_sentence(make_settings, telegram, start_app):
    settings = make_settings(f"telegram:\n  token: '999:wrong'\n  api_url: {telegram.api_url}\n")
    with pytest.raises(ConfigError, match="telegram.token: Telegram refused this token") as raised:
        await start_app(settings)
    assert "999:wrong" not in str(raised.value)


async def test_a_supergroup_keeps_the_groups_rules_even_when_used_first(bot, telegram, feed_server, clock):
    app = await bot()
    await app.poll_due()
    old, new = -500, -100600
    telegram.admins |= {(old, 7), (new, 7)}
    await say(app, telegram, "/watch Membership Action Plan", chat=old, user=7, kind="group")
    telegram.group_migrates(old, new)
    await app.channels["telegram"].poll_updates()
    reply = await say(app, telegram, "/rules", chat=new, user=7, kind="supergroup")
    assert reply["text"] == "1. Membership Action Plan", "Telegram's notice moved the subscription"

    other = -501  # this one is used in its supergroup before any notice or alert reached us
    telegram.admins |= {(other, 7), (-100601, 7)}
    await say(app, telegram, "/watch Membership Action Plan", chat=other, user=7, kind="group")
    telegram.migrated[other] = -100601
    await say(app, telegram, "/watch NATO-Russia Council", chat=-100601, user=7, kind="supergroup")
    await publish_new_story(app, feed_server, clock)
    await app.deliver_due()
    assert len(telegram.to(-100601)) == 2, "the reply to /watch, then the alert: the two subscriptions merged"
    reply = await say(app, telegram, "/rules", chat=-100601, user=7, kind="supergroup")
    assert reply["text"] == "2. Membership Action Plan\n3. NATO-Russia Council"


async def test_a_refused_button_press_is_told_only_to_the_presser(bot, telegram):
    app = await bot()
    telegram.admins.add((GROUP, 7))
    await say(app, telegram, "/watch NATO-Russia Council", chat=GROUP, user=7, kind="supergroup")
    listed = await say(app, telegram, "/rules", chat=GROUP, user=8, kind="supergroup")
    sent = len(telegram.sent)
    await press(app, telegram, listed, "Pause 1", user=8)
    assert telegram.answers[-1]["text"].startswith("Sorry, only this chat's admins")
    assert telegram.edits == [] and len(telegram.sent) == sent, "the group sees nothing"
    await press(app, telegram, listed, "Pause 1", user=7)
    assert telegram.edits[-1]["text"] == "1. NATO-Russia Council (paused)"


async def test_another_bots_commands_in_a_group_are_left_alone(bot, telegram):
    app = await bot()
    telegram.user_says("/ban@otherbot someone", chat=GROUP, user=8, kind="supergroup")
    telegram.user_says("/ban someone", chat=GROUP, user=8, kind="supergroup")
    assert await app.channels["telegram"].poll_updates() == 2
    assert telegram.to(GROUP) == []
    reply = await say(app, telegram, "/ban someone")
    assert reply["text"] == "I do not know /ban. /help lists what I can do.", "in a private chat it is for us"


async def test_an_absurd_mute_gets_the_usage_not_silence(bot, telegram):
    app = await bot()
    reply = await say(app, telegram, "/mute 99999999999d")
    assert reply["text"].startswith("Usage: /mute DURATION")


async def test_stop_outlasts_a_restart_for_a_chat_in_the_config_file(make_settings, start_app, telegram):
    settings = make_settings(
        f"telegram:\n  token: {TOKEN}\n  api_url: {telegram.api_url}\n"
        "subscriptions:\n  - channel: telegram\n    address: '1001'\n    rules: [NATO-Russia Council]\n"
    )
    app, _ = await start_app(settings)
    await say(app, telegram, "/stop")
    again, _ = await start_app(settings)
    assert not (await again.store.subscription("telegram", "1001")).active
    reply = await say(again, telegram, "/digest hourly")
    assert not (await again.store.subscription("telegram", "1001")).active, "a setting does not undo /stop"
    reply = await say(again, telegram, "/watch Membership Action Plan")
    assert "This chat was unsubscribed; it gets alerts again." in reply["text"]


# --- admins: /import, /export, /status ------------------------------------------------------------


def test_files_are_fetched_beside_the_api_as_ptb_expects():
    assert file_url("https://api.telegram.org/bot") == "https://api.telegram.org/file/bot"
    assert file_url("http://127.0.0.1:8081/bot/") == "http://127.0.0.1:8081/file/bot"
    assert file_url("http://bots.internal/telegram") == "http://bots.internal/telegram/file/bot"


async def test_an_admin_imports_an_opml_document_and_exports_it_back(bot, telegram):
    app = await bot("  admins: [1001]\n")
    reply = await say(app, telegram, "/import")
    assert reply["text"] == "Send me the OPML file as a document, with /import as its caption."

    telegram.user_sends_document((DATA / "miniflux-export.opml").read_bytes(), "feeds.opml", "/import")
    await app.channels["telegram"].poll_updates()
    assert telegram.last()["text"] == (
        "Added 3 feed(s); 0 were already watched. New stories from them are matched from now on."
    )
    telegram.user_sends_document(b"<html>not a feed list</html>", "page.html", "/import")
    await app.channels["telegram"].poll_updates()
    assert telegram.last()["text"] == "I could not import that: this is not an OPML file (no <opml> element)."

    await say(app, telegram, "/export")
    document = telegram.documents[-1]
    assert document["chat"] == 1001 and document["filename"].endswith(".opml")
    assert document["caption"] == "The 4 feed(s) being watched, as OPML."
    exported = dict(parse_opml(document["data"]))
    assert exported.keys() == {u for u, _ in parse_opml((DATA / "miniflux-export.opml").read_bytes())} | {
        app.settings.feeds[0].url
    }


async def test_only_admins_import_export_and_see_status_and_nobody_elses_file_is_downloaded(bot, telegram):
    app = await bot("  admins: [7]\n")
    telegram.user_sends_document((DATA / "rsstt-export.opml").read_bytes(), "feeds.opml", "/import")
    await app.channels["telegram"].poll_updates()
    assert telegram.last()["text"].startswith("Sorry, only the bot's admins can change its feeds.")
    assert "getFile" not in telegram.calls
    assert (await say(app, telegram, "/export"))["text"].startswith("Sorry, only the bot's admins can export")
    assert (await say(app, telegram, "/status"))["text"].startswith("Sorry, only the bot's admins can see")
    assert telegram.documents == []
    telegram.user_sends_document(b"<opml/>", "notes.opml", "just keeping this here")
    await app.channels["telegram"].poll_updates()
    assert len(telegram.sent) == 3, "a document without /import is not a command"


async def test_status_tells_an_admin_what_fails_the_last_poll_the_queue_and_delivery_time(
    bot, telegram, feed_server, clock
):
    app = await bot("  admins: [1001]\n")
    await app.poll_due()
    await say(app, telegram, "/watch Membership Action Plan")
    await publish_new_story(app, feed_server, clock)
    reply = await say(app, telegram, "/status")
    assert reply["text"].splitlines() == [
        "Feeds: 1 watched, 1 healthy, 0 failing.",
        f"Last successful poll: {clock.now():%d %b %H:%M} UTC (0s ago)",
        "Alerts waiting to be sent: 0",
        f"Publication to delivery today: {_span((clock.now() - PUBLISHED).total_seconds())} median, "
        "over 1 alert(s)",
        f"Stories stored (what /test sees): since {clock.now():%d %b %Y}",
    ]
    del feed_server.files["/world.xml"]
    clock.advance(timedelta(hours=1))
    await app.poll_due()
    lines = (await say(app, telegram, "/status"))["text"].splitlines()
    assert lines[:2] == [
        "Feeds: 1 watched, 0 healthy, 1 failing.",
        f"  1. World Desk: since {clock.now():%d %b %H:%M} UTC, 1 error(s): 127.0.0.1 answered HTTP 404",
    ]
    last = clock.now() - timedelta(hours=1)
    assert lines[2] == f"Last successful poll: {last:%d %b %H:%M} UTC (1h 00m ago)"


# --- the first admin: the code from the log, /claim in a private chat ---------------------------------

WRONG_CODE = "That is not a code that works"


def logged_code(caplog: pytest.LogCaptureFixture) -> str:
    """The claim code from the one log line that gives it."""
    lines = [record.getMessage() for record in caplog.records if "/claim " in record.getMessage()]
    assert len(lines) == 1, lines
    found = re.search(r"/claim (\S+) to the bot in a private chat", lines[0])
    assert found, lines[0]
    return found.group(1)


def said_anywhere(telegram: FakeTelegram) -> str:
    return "\n".join([m["text"] for m in telegram.sent] + [a.get("text", "") for a in telegram.answers])


async def test_the_operator_claims_the_bot_with_the_logged_code_once_and_wrong_codes_are_slowed(
    bot, telegram, caplog, clock, start_app
):
    app = await bot()
    caplog.set_level(logging.INFO)
    await app.commands.offer_claim(["telegram"])  # as `newsalert run` does when telegram.admins is empty
    code = logged_code(caplog)
    assert re.fullmatch(r"[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}", code)
    reply = await say(app, telegram, "/addfeed https://www.nato.int")
    assert reply["text"].startswith("Sorry, only the bot's admins can change its feeds.")

    for wrong in ("aaaa-bbbb-cccc", code[:-1] + ("3" if code[-1] == "2" else "2"), "1234"):
        assert (await say(app, telegram, f"/claim {wrong}"))["text"].startswith(WRONG_CODE)
    reply = await say(app, telegram, f"/claim {code}")
    assert reply["text"] == "Too many wrong codes: try again in 1 minute.", "even the right one waits"
    clock.advance(timedelta(minutes=1))
    reply = await say(app, telegram, f"/claim {code.upper().replace('-', ' ')}")
    assert reply["text"].startswith("You are an admin of this bot now: you may add feeds (/addfeed URL")
    reply = await say(app, telegram, "/addfeed http://169.254.169.254/latest")
    assert reply["text"].startswith("I could not add that feed: 169.254.169.254 is a cloud metadata address")

    reply = await say(app, telegram, f"/claim {code}", chat=2002, user=2002)
    assert reply["text"].startswith(WRONG_CODE), "a code works once"
    assert code not in said_anywhere(telegram)
    assert [r for r in caplog.records if code in r.getMessage()] == [caplog.records[0]], "one line only"

    again, _out = await start_app(app.settings)  # a restart: the admin is kept, and no code is needed
    assert await again.commands.offer_claim(["telegram"]) is None
    assert (await say(again, telegram, "/status", chat=1001))["text"].startswith("Feeds: 1 watched")


async def test_a_code_typed_in_a_group_is_spent_and_makes_nobody_an_admin(bot, telegram, caplog):
    app = await bot()
    caplog.set_level(logging.INFO)
    await app.commands.offer_claim(["telegram"])
    code = logged_code(caplog)
    telegram.admins.add((GROUP, 7))
    reply = await say(app, telegram, f"/claim {code}", chat=GROUP, user=7, kind="supergroup")
    assert reply["text"].startswith("That code was typed where others can read it, so it no longer works.")
    assert (await say(app, telegram, f"/claim {code}", chat=7, user=7))["text"].startswith(WRONG_CODE)
    assert (await say(app, telegram, "/status", chat=7, user=7))["text"].startswith("Sorry, only the bot's")
    assert code not in said_anywhere(telegram)


async def test_admins_from_the_settings_need_no_code_and_chat_feeds_meet_the_guard_with_its_reason(
    bot, telegram, caplog
):
    app = await bot("  admins: [1001]\n")
    assert "/claim" not in (await say(app, telegram, "/help"))["text"], "the code is the operator's"
    reply = await say(app, telegram, "/claim aaaa-bbbb-cccc")
    assert reply["text"] == "You are an admin of this bot already."
    reply = await say(app, telegram, "/addfeed http://127.0.0.1/feed")
    assert reply["text"] == (
        "I could not add that feed: 127.0.0.1 is a loopback address; feeds added from a chat must be on "
        "the public internet."
    )
    reply = await say(app, telegram, "/addfeed 169.254.169.254/latest")
    assert reply["text"].startswith("I could not add that feed: 169.254.169.254 is a cloud metadata address")

    listing = write_opml(
        [("http://127.0.0.1/feed", "Local"), ("http://169.254.169.254/latest", "Metadata"),
         ("file:///etc/passwd", "File"), ("https://world.example.org/rss.xml", "World")],
        PUBLISHED,
    )  # fmt: skip
    telegram.user_sends_document(listing, "feeds.opml", "/import")
    await app.channels["telegram"].poll_updates()
    assert telegram.last()["text"].splitlines() == [
        "Added 1 feed(s); 0 were already watched. New stories from them are matched from now on.",
        "Left out 3:",
        "  - http://127.0.0.1/feed: 127.0.0.1 is a loopback address; feeds added from a chat must be on "
        "the public internet.",
        "  - http://169.254.169.254/latest: 169.254.169.254 is a cloud metadata address; feeds added from "
        "a chat must be on the public internet.",
        "  - file:///etc/passwd: file: URLs are not allowed; feeds added from a chat must use http or https.",
    ]
    feeds = (await say(app, telegram, "/feeds"))["text"]
    assert "127.0.0.1/feed" not in feeds and "169.254" not in feeds and "world.example.org" in feeds


async def test_the_running_bot_logs_a_code_that_makes_its_first_admin_once(telegram, tmp_path):
    """`newsalert run` as the operator starts it, with no admin: the code is in the log, once."""
    config = tmp_path / "newsalert.yaml"
    config.write_text(
        f"database_url: sqlite:///{tmp_path}/newsalert.db\nhttp:\n  host: 127.0.0.1\n  port: 0\nfeeds: []\n",
        encoding="utf-8",
    )
    env = {**clean_env(), "TELEGRAM_BOT_TOKEN": TOKEN, "NEWSALERT_TELEGRAM_API_URL": telegram.api_url}
    process = await started("run", "--config", str(config), cwd=tmp_path, env=env)
    log = []
    try:
        while not re.search(r"/claim (\S+) ", "".join(log)):
            log.append((await asyncio.wait_for(process.stderr.readline(), 30)).decode())
        code = re.search(r"/claim (\S+) ", log[-1]).group(1)
        telegram.user_says("/claim wrong-code")
        assert (await asyncio.wait_for(telegram.message_number(1), 30))["text"].startswith(WRONG_CODE)
        telegram.user_says(f"/claim {code}")
        assert (await asyncio.wait_for(telegram.message_number(2), 30))["text"].startswith(
            "You are an admin of this bot now"
        )
        telegram.user_says(f"/claim {code}", chat=2002, user=2002)
        assert (await asyncio.wait_for(telegram.message_number(1, 2002), 30))["text"].startswith(WRONG_CODE)
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 15) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    log.append((await process.stderr.read()).decode())
    assert "".join(log).count(code) == 1, "the code is in the operator's line at start, and nowhere else"
    assert code not in said_anywhere(telegram)
