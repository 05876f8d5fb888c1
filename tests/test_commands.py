"""Chat commands as every channel runs them (commands.py), on a real SQLite file: the parts that
Telegram's tests cannot reach, such as adding a feed from a site address on loopback."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import timedelta
from functools import partial

import pytest

from bot.app import App
from bot.commands import Chat, Commands, parse_digest, parse_quiet, split_command
from bot.config import LimitsSettings
from bot.feeds.discover import find_feed
from bot.feeds.fetch import Fetcher, open_session
from bot.feeds.parsers import Parsers
from bot.store import Store
from tests.conftest import SAMPLES

ADMIN = Chat("telegram", "7", "Admin", "7", is_admin=True)
PAGE = b'<html><head><link rel="alternate" type="application/rss+xml" href="/rss/world.xml"></head></html>'
WORLD = (SAMPLES / "world-news.xml").read_bytes()
NEW_ITEM = b"""    <item>
      <title>Ukraine asks again for a Membership Action Plan</title>
      <link>https://world.example.org/news/ukraine-map</link>
      <pubDate>Wed, 03 Dec 2008 10:00:00 GMT</pubDate>
      <description>Kiev renewed its request for a Membership Action Plan on Wednesday.</description>
    </item>
"""


@pytest.fixture
async def commands(tmp_path, clock):
    store = Store.open(f"sqlite:///{tmp_path}/newsalert.db")
    await store.upgrade()
    async with open_session() as session:  # unguarded here: the SSRF guard has its own tests
        yield Commands(
            store,
            clock,
            find_feed=partial(find_feed, Fetcher(session), Parsers()),
            chat_feed_interval=timedelta(minutes=30),
        )
    await store.close()


@pytest.fixture
async def unguarded(make_settings, start_app):
    """Start an app whose feeds from chats are fetched without the SSRF guard, which refuses the feed
    server on loopback (the guard has tests of its own); the rest is as `newsalert run` has it."""

    async def start(yaml_text: str = "") -> tuple[App, io.StringIO]:
        app, out = await start_app(make_settings(yaml_text))
        assert app.poller and app.commands
        await app.poller.guarded.session.close()
        app.poller = replace(app.poller, guarded=app.poller.fetcher)
        app.commands.find_feed = partial(find_feed, app.poller.fetcher, app.poller.parsers)
        return app, out

    return start


async def test_an_admin_adds_a_feed_by_its_site_address_and_removes_it(unguarded, feed_server):
    app, _out = await unguarded()
    commands = app.commands
    feed_server.files["/"] = PAGE
    feed_server.files["/rss/world.xml"] = WORLD
    reply = await commands.run(ADMIN, "addfeed", feed_server.url("/"))
    assert reply.text == (
        f"Added feed 1: {feed_server.url('/rss/world.xml')}. It has 7 item(s) now: that backlog does not "
        "alert. New stories from it are matched from now on."
    )
    assert "1. " in (await commands.run(ADMIN, "feeds")).text
    assert (await commands.run(ADMIN, "removefeed", "#1")).text == "Removed feed 1."
    assert (await commands.run(ADMIN, "feeds")).text.startswith("No feeds yet.")
    assert (await commands.run(ADMIN, "removefeed", "1")).text == "Cannot remove feed 1: no such feed."


async def test_a_feed_added_from_a_chat_is_polled_at_once_and_its_backlog_does_not_alert(
    unguarded, feed_server, clock
):
    app, out = await unguarded("subscriptions:\n  - channel: console\n    rules: [Membership Action Plan]\n")
    feed_server.files["/world.xml"] = WORLD
    url = feed_server.url("/world.xml")
    assert (await app.commands.run(ADMIN, "addfeed", url)).text.startswith(f"Added feed 1: {url}. It has 7")
    await app.deliver_due()
    assert out.getvalue() == "", "the backlog holds a story about a Membership Action Plan: no alert"
    assert (await app.commands.run(ADMIN, "addfeed", url)).text == (
        f"Feed 1 is watched already: {url}. /feeds lists them."
    )
    feed_server.files["/world.xml"] = WORLD.replace(b"    <item>", NEW_ITEM + b"    <item>", 1)
    clock.advance(timedelta(hours=1))
    await app.poll_due()
    await app.deliver_due()
    assert "== Ukraine asks again for a Membership Action Plan" in out.getvalue()


async def test_a_page_without_a_feed_gets_a_sentence_not_a_traceback(commands, feed_server):
    feed_server.files["/"] = b"<html><body>No feed here</body></html>"
    reply = await commands.run(ADMIN, "addfeed", feed_server.url("/"))
    assert reply.text == "I could not add that feed: 127.0.0.1 has no feed that newsalert can find"


async def test_config_rules_are_listed_but_only_paused_from_a_chat(commands, clock):
    chat = Chat("telegram", "1001", "Ann", "1001")
    subscription = await commands.store.subscribe("telegram", "1001", "Ann", clock.now())
    await commands.store.sync_config_subscriptions([(subscription, ["NATO-Russia Council"])], clock.now())
    assert (await commands.run(chat, "rules")).text == "1. NATO-Russia Council (config file)"
    assert "comes from the config file" in (await commands.run(chat, "unwatch", "1")).text
    assert (await commands.run(chat, "pause", "1")).text.startswith("Paused rule 1")
    assert (await commands.run(chat, "rules")).text == "1. NATO-Russia Council (paused, config file)"


async def test_unknown_commands_and_missing_arguments_get_help(commands):
    chat = Chat("slack", "C1", "#news", "U1", prefix="/newsalert ")
    assert (
        await commands.run(chat, "wach", "x")
    ).text == "I do not know /newsalert wach. /newsalert help lists what I can do."
    assert (await commands.run(chat, "watch")).text.startswith("Usage: /newsalert watch RULE, for example")


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("instant", "instant"), ("hourly", "hourly"), ("daily 7:05", "daily 07:05 UTC"),
     ("daily 18:30 America/New_York", "daily 18:30 America/New_York")],
)  # fmt: skip
def test_digest_modes(typed, stored):
    assert parse_digest(typed) == stored


@pytest.mark.parametrize(
    "typed", ["", "weekly", "daily", "daily 25:00", "daily 8:00 Nowhere/Town", "daily 8:00 a b"]
)
def test_bad_digest_modes_say_what_is_expected(typed):
    with pytest.raises(ValueError, match="instant, hourly, or daily|not a time zone"):
        parse_digest(typed)


def test_quiet_hours():
    assert parse_quiet("22:00-7:00 Europe/Berlin") == "22:00-07:00 Europe/Berlin"
    assert parse_quiet("off") is None
    for bad in ("", "22-7", "22:00-22:00", "22:00 07:00"):
        with pytest.raises(ValueError):
            parse_quiet(bad)


def test_commands_are_split_the_same_from_every_channel():
    assert split_command("/watch@newsalert_bot  NATO  Russia ") == ("watch", "NATO  Russia")
    assert split_command("WATCH x") == ("watch", "x")
    assert split_command("/rules") == ("rules", "")


@pytest.mark.parametrize(
    ("rule", "why"),
    [
        ("nato NEAR/\u00b2 russia", "NEAR needs a number of words from 1 to 50, like NEAR/5 at character 6"),
        ("(" * 240 + "NATO" + ")" * 240, "parentheses nest at most 32 deep at character 33"),
        ("NATO /\ud800/", "a rule cannot hold U+D800 (a control code or broken text) at character 7"),
    ],
)
async def test_a_hostile_rule_is_answered_with_its_reason_and_nothing_is_saved(commands, rule, why):
    chat = Chat("telegram", "1001", "Ann", "1001")
    for command in ("watch", "test"):
        reply = await commands.run(chat, command, rule)
        assert reply.text.startswith(f"I cannot use that rule: {why}: ")
        reply.text.encode("utf-8")  # a chat app can be sent it: a lone surrogate shows as U+FFFD
    assert (await commands.run(chat, "rules")).text.startswith("This chat watches nothing yet.")


@pytest.fixture
def limited(commands):
    """The same commands, with room for 4 rules a chat, 2 of them with a regex."""
    limits = LimitsSettings(rules_per_chat=4, regex_rules_per_chat=2)
    return Commands(commands.store, commands.clock, find_feed=commands.find_feed,
                    chat_feed_interval=commands.chat_feed_interval, limits=limits)  # fmt: skip


async def test_a_chat_at_its_rule_limits_is_told_the_limit_and_how_to_make_room(limited, clock):
    chat = Chat("telegram", "1001", "Ann", "1001")
    subscription = await limited.store.subscribe("telegram", "1001", "Ann", clock.now())
    config_rules = ["NATO-Russia Council", "Membership Action Plan", "/Art(icle)? 5/"]
    await limited.store.sync_config_subscriptions([(subscription, config_rules)], clock.now())
    room = "/unwatch ID deletes one to make room (/rules lists them)."

    assert (await limited.run(chat, "watch", "/Art(icle)? 6/")).text.startswith("Watching rule 4")
    assert (await limited.run(chat, "watch", "/\\bNATO\\b/")).text.startswith("Watching rule 5")
    reply = await limited.run(chat, "watch", "Ukraine /[A-Z]{3}/")
    assert reply.text == (
        f"I cannot add that rule: this chat has 2 /regex/ rules, the most it may have. {room}"
    )

    assert (await limited.run(chat, "watch", "Ukraine")).text.startswith("Watching rule 6")
    assert (await limited.run(chat, "watch", "Georgia")).text.startswith("Watching rule 7")
    reply = await limited.run(chat, "watch", "Moldova")
    assert reply.text == f"I cannot add that rule: this chat has 4 rules, the most it may have. {room}"
    assert (await limited.run(chat, "watch", "Georgia")).text.startswith("Already watching rule 7")

    assert (await limited.run(chat, "unwatch", "6")).text == "Deleted rule 6."
    assert (await limited.run(chat, "watch", "Moldova")).text.startswith("Watching rule 8")
    assert len((await limited.run(chat, "rules")).text.splitlines()) == 3 + 4, "config rules are not capped"


async def test_a_bot_may_take_no_regex_rules_from_chats(commands):
    no_regex = Commands(commands.store, commands.clock, find_feed=commands.find_feed,
                        chat_feed_interval=commands.chat_feed_interval,
                        limits=LimitsSettings(regex_rules_per_chat=0))  # fmt: skip
    chat = Chat("slack", "C1", "#news", "U1", prefix="/newsalert ")
    reply = await no_regex.run(chat, "watch", "NATO OR /Art(icle)? 5/")
    assert reply.text == (
        "I cannot add that rule: this bot takes no /regex/ rules from chats. Say it without one."
    )
    assert (await no_regex.run(chat, "watch", "NATO OR Article 5")).text.startswith("Watching rule 1")


async def test_the_limits_in_the_settings_are_the_ones_a_chat_meets(make_settings, start_app):
    app, _ = await start_app(make_settings("limits:\n  rules_per_chat: 1\n"))
    chat = Chat("telegram", "1001", "Ann", "1001")
    assert (await app.commands.run(chat, "watch", "NATO")).text.startswith("Watching rule 1")
    assert (await app.commands.run(chat, "watch", "Ukraine")).text.startswith(
        "I cannot add that rule: this chat has 1 rule, the most it may have."
    )


@pytest.mark.parametrize("prefix", ["/", "/newsalert "])
async def test_every_command_a_reply_names_is_written_as_this_chat_types_it(commands, prefix):
    """Slack users type "/newsalert watch", Telegram users "/watch": help and every hint say it their way."""
    chat = replace(ADMIN, channel="slack" if prefix != "/" else "telegram", prefix=prefix)
    replies = [
        (await commands.run(chat, "help")).text,
        (await commands.run(chat, "digest", "hourly")).text,
        (await commands.run(chat, "unwatch", "")).text,
        (await commands.run(chat, "removefeed", "")).text,
    ]
    assert f"{prefix}watch ! RULE" in replies[1]
    assert f"{prefix}rules" in replies[2] and f"{prefix}feeds" in replies[3]
    if prefix == "/":
        assert not any("/newsalert" in text for text in replies)
    else:  # no command as Telegram writes it: a slash, then the command's name
        assert not [text for text in replies if re.search(r"(?<![\w/])/(?!newsalert|regex/)[a-z]+", text)]
