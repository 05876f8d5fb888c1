"""`/why URL`: what happened to an article, for a matched one, an unmatched one (with the nearest missing
term) and a muted one; through the fake Bot API, the fake Slack and the command line, and the rules'
nearest miss on its own."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.commands import Chat
from bot.rules.index import Document, RuleIndex
from bot.rules.miss import Excluded, Missing, TooFar, nearest_miss
from bot.rules.query import parse_rule
from bot.web import build_web_app, start_web
from tests.conftest import SAMPLES
from tests.fakes.slack_api import BOT_TOKEN, SIGNING_SECRET, FakeSlack, SlackUser
from tests.fakes.telegram_api import TOKEN
from tests.test_cli import newsalert, write_config
from tests.test_slack import publish_new_story as publish_in_slack
from tests.test_telegram import NEW_ITEM, NEXT_POLL, WORLD, publish_new_story, say

NEW_LINK = "https://world.example.org/news/ukraine-map"  # NEW_ITEM's, without its ?a=1&b=2
NATO = "https://world.example.org/news/nato-agrees-to-re-engage-russia"  # in the sample's backlog
FLOODS = "https://world.example.org/news/floods-north"
WORLD_FILE = SAMPLES / "world-news.xml"
ANN = Chat("telegram", "1001", "Ann", "1001", private=True)

UK = Document(
    "Prime Minister visits Paris",
    "The British Prime Minister met the French president in Paris on Monday. "
    + "They spoke about trade and the weather for a long time. " * 3
    + "A summit follows in Tokyo next year.",
)


@pytest.fixture
async def telegram_app(feed_server, make_settings, start_app, telegram):
    """The app with Telegram on (the fake), the world sample feed as World Desk, no subscriptions yet."""
    feed_server.files["/world.xml"] = WORLD
    settings = make_settings(
        f"telegram:\n  token: {TOKEN}\n  api_url: {telegram.api_url}\n"
        f"feeds:\n  - url: {feed_server.url('/world.xml')}\n    name: World Desk\n"
    )
    return (await start_app(settings))[0]


@pytest.fixture
async def slack_app(feed_server, make_settings, start_app, clock):
    """The app with Slack on (HTTP mode, the fake API, its events served) and a user in channel C1."""
    feed_server.files["/world.xml"] = WORLD
    slack = await FakeSlack().start()
    settings = make_settings(
        f"slack:\n  bot_token: {BOT_TOKEN}\n  signing_secret: {SIGNING_SECRET}\n  api_url: {slack.api_url}\n"
        f"feeds:\n  - url: {feed_server.url('/world.xml')}\n    name: World Desk\n"
    )
    app, _out = await start_app(settings)
    routes = [route for channel in app.channels.values() for route in channel.routes()]
    runner, port = await start_web(build_web_app(app.health, routes), "127.0.0.1", 0)
    yield app, SlackUser(slack, f"http://127.0.0.1:{port}/slack/events", lambda: clock.now().timestamp())
    await runner.cleanup()
    await slack.stop()


# -- the nearest missing term: pure --------------------------------------------------------------


def test_a_rule_that_matches_misses_nothing():
    assert nearest_miss(parse_rule('"Prime Minister" Paris'), UK) == ()


def test_either_alternative_would_do_so_both_are_named_as_one_term():
    assert nearest_miss(parse_rule('"Prime Minister" (Japan OR India)'), UK) == (
        Missing('"Japan" OR "India"'),
    )


def test_an_alternative_missing_one_term_is_nearer_than_one_missing_two():
    assert nearest_miss(parse_rule("(Japan China) OR (Paris Berlin)"), UK) == (Missing('"Berlin"'),)


def test_near_terms_that_are_there_are_told_how_far_apart_as_near_counts():
    tree = parse_rule("Paris NEAR/10 summit")
    [reason] = nearest_miss(tree, UK)
    assert reason == TooFar('"Paris"', '"summit"', 10, reason.apart)
    assert reason.apart == 37
    # the matcher agrees: at that distance the rule matches, one less and it does not
    assert RuleIndex([(1, parse_rule("Paris NEAR/37 summit"))]).match(UK)
    assert not RuleIndex([(1, parse_rule("Paris NEAR/36 summit"))]).match(UK)


def test_a_near_side_that_is_missing_is_the_missing_term():
    assert nearest_miss(parse_rule("Paris NEAR/10 Rome"), UK) == (Missing('"Rome"'),)


def test_a_phrase_whose_words_are_there_but_not_together_says_which_are():
    assert nearest_miss(parse_rule('"French Prime Minister"'), UK) == (
        Missing('"French Prime Minister"', "its words are there, but not together"),
    )
    assert nearest_miss(parse_rule("Prime Minister May"), UK) == (
        Missing('"Prime Minister May"', 'only "Prime", "Minister" are there'),
    )


def test_an_excluded_word_that_is_there_is_named():
    assert nearest_miss(parse_rule("Paris -weather"), UK) == (Excluded('"weather"'),)


def test_a_term_there_but_not_where_or_how_the_rule_asks_says_so():
    assert nearest_miss(parse_rule("title:Tokyo"), UK) == (
        Missing('title:"Tokyo"', "it is there, but not in the title"),
    )
    assert nearest_miss(parse_rule("case:PARIS"), UK) == (
        Missing('case:"PARIS"', "it is there, but not in that case"),
    )


# -- in a chat -------------------------------------------------------------------------------------


async def test_why_a_matched_article_alerted_quotes_the_rule_and_says_when_it_was_sent(
    telegram_app, telegram, feed_server, clock
):
    app = telegram_app
    await app.poll_due()
    await say(app, telegram, "/watch Membership Action Plan")
    await say(app, telegram, '/watch "Prime Minister" (Japan OR India)')
    await publish_new_story(app, feed_server, clock)
    sent_at = clock.now()
    clock.advance(timedelta(hours=1))

    reply = await say(app, telegram, f"/why {NEW_LINK}?a=1&b=2")
    assert reply["text"].splitlines() == [
        "Ukraine asks again for a Membership Action Plan: 5 < 6 & rising",
        f"Feed: World Desk, found by the poll of {sent_at:%d %b %Y %H:%M} UTC, "
        "published 03 Dec 2008 10:00 UTC.",
        "Story: Ukraine asks again for a Membership Action Plan: 5 < 6 & rising "
        f"(1 outlet: World Desk; first seen {sent_at:%d %b %Y %H:%M} UTC).",
        "Rules:",
        "  1. Membership Action Plan: matched: \u201cKiev renewed its request for a Membership Action Plan "
        "on Wednesday, again.\u201d",
        '  2. "Prime Minister" (Japan OR India): no match: missing "Prime Minister"; '
        'missing "Japan" OR "India".',
        f"Delivery: sent {sent_at:%d %b %Y %H:%M} UTC.",
    ]
    alert = next(m for m in telegram.to(1001) if m["text"].startswith("Ukraine asks"))
    assert "Kiev renewed its request for a Membership Action Plan on Wednesday, again." in alert["text"], (
        "the quote /why shows is the alert's"
    )


async def test_why_an_unmatched_article_did_not_alert_names_the_nearest_missing_term(
    telegram_app, telegram, clock
):
    app = telegram_app
    await app.poll_due()
    clock.advance(timedelta(minutes=1))
    await say(app, telegram, "/watch Membership Action Plan")
    await say(app, telegram, "/watch title:Russia -Georgia")
    await say(app, telegram, "/watch Georgia NEAR/2 Bucharest")
    reply = await say(app, telegram, f"/why {NATO}")
    lines = reply["text"].splitlines()
    assert lines[4:] == [
        "  1. Membership Action Plan: matched: \u201c\u2026formal routes to join the alliance known as "
        "Membership Action Plans, or MAPs.\u201d",
        '  2. title:Russia -Georgia: no match: it has "Georgia", which the rule excludes.',
        '  3. Georgia NEAR/2 Bucharest: no match: "Georgia" and "Bucharest" are there, but 5 words apart '
        "(NEAR/2).",
        "Delivery: no alert: the rule came after the article (rules alert on stories arriving later).",
    ]
    reply = await say(app, telegram, "/why http://www.world.example.org/news/floods-north/?utm_source=rss")
    assert reply["text"].startswith("Floods close mountain roads")
    assert reply["text"].endswith("Delivery: none of this chat's rules matches it, so no alert.")
    assert '1. Membership Action Plan: no match: missing "Membership Action Plan".' in reply["text"]


async def test_why_a_muted_chats_article_says_muted_then_dropped(telegram_app, telegram, feed_server, clock):
    app = telegram_app
    await app.poll_due()
    await say(app, telegram, "/watch Membership Action Plan")
    await say(app, telegram, "/mute 2h")
    until = clock.now() + timedelta(hours=2)
    feed_server.files["/world.xml"] = WORLD.replace(b"    <item>", NEW_ITEM + b"    <item>", 1)
    clock.advance(NEXT_POLL)
    await app.poll_due()

    reply = await say(app, telegram, f"/why {NEW_LINK}")
    assert reply["text"].endswith(
        f"Delivery: muted until {until:%d %b %Y %H:%M} UTC: it will be dropped, not sent."
    )
    await app.deliver_due()
    reply = await say(app, telegram, f"/why {NEW_LINK}")
    assert reply["text"].endswith("Delivery: dropped: this chat was muted when it was due.")
    assert "1. Membership Action Plan: matched" in reply["text"]


async def test_why_tells_a_digest_and_quiet_hours_from_when_they_let_it_go(
    telegram_app, telegram, feed_server, clock
):
    app = telegram_app
    await app.poll_due()
    await say(app, telegram, "/watch Membership Action Plan")
    await say(app, telegram, "/digest daily 08:00 UTC")
    await publish_new_story(app, feed_server, clock)  # 12:06: the digest goes tomorrow at 08:00
    reply = await say(app, telegram, f"/why {NEW_LINK}")
    assert reply["text"].endswith(
        "Delivery: waiting for the daily 08:00 UTC digest, which goes 02 Mar 2026 08:00 UTC."
    )
    await say(app, telegram, "/quiet 07:00-09:30")
    reply = await say(app, telegram, f"/why {NEW_LINK}")
    assert reply["text"].endswith(
        "Delivery: held by quiet hours (07:00-09:30 UTC) until 02 Mar 2026 09:30 UTC."
    )


async def test_why_an_unknown_address_says_what_the_bot_has_seen(telegram_app, telegram, clock):
    app = telegram_app
    reply = await say(app, telegram, "/why https://elsewhere.example/story")
    assert reply["text"] == "I have not seen that URL; I have not stored any article yet."
    await app.poll_due()
    reply = await say(app, telegram, "/why https://elsewhere.example/story")
    assert reply["text"] == (
        "I have not seen that URL; I have seen 7 articles from 1 feed "
        f"since {clock.now():%d %b %Y %H:%M} UTC."
    )
    reply = await say(app, telegram, "/why")
    assert reply["text"].startswith("Usage: /why URL, for example /why https://")


async def test_a_long_answer_fits_one_message(telegram_app, telegram, clock):
    app = telegram_app
    await app.poll_due()
    for n in range(14):
        await app.commands.run(ANN, "watch", f"{'Ukraine ' * 40}NEAR/3 word{n}")
    reply = await say(app, telegram, f"/why {NATO}")
    assert len(reply["text"]) < 2900, "one message in Slack too"
    lines = reply["text"].splitlines()
    assert lines[-2:] == [
        "  ... and 6 more (/rules lists them).",
        "Delivery: none of this chat's rules matches it, so no alert.",
    ]
    assert max(map(len, lines)) <= 220 and lines[4].endswith("\u2026")


async def test_why_in_slack_through_the_slash_command(slack_app, feed_server, clock):
    app, user = slack_app
    await app.poll_due()
    await user.types("watch NATO-Russia Council")
    await user.types("watch Brussels NEAR/3 frank")
    await publish_in_slack(app, feed_server, clock)
    status, answer = await user.types("why <https://world.example.org/news/nrc?a=1&b=2>")
    assert status == 200
    text = answer["text"]
    assert text.startswith("NATO-Russia Council meets <again> as talks resume\n")
    assert "1. NATO-Russia Council: matched: \u201cThe NATO-Russia Council met in Brussels" in text
    assert '2. Brussels NEAR/3 frank: no match: "Brussels" and "frank" are there, but 16 words apart' in text
    assert "Delivery: sent " in text


# -- on the command line ---------------------------------------------------------------------------


def test_newsalert_why_explains_for_every_subscription_or_one(tmp_path):
    config = write_config(tmp_path)
    assert newsalert("run", "--once", "--config", str(config), cwd=tmp_path).returncode == 0
    result = newsalert("why", NATO, "--config", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "NATO Agrees to Re-engage Russia"
    assert "Chat console:stdout (console stdout):" in lines
    assert any(line.startswith("  1. NATO-Russia Council: matched: \u201c") for line in lines)
    assert any(line.startswith("Delivery: sent ") for line in lines)

    result = newsalert("why", FLOODS, "--config", str(config), "--chat", "nobody", cwd=tmp_path)
    assert result.returncode == 2
    assert "no subscription is named 'nobody'" in result.stderr
    result = newsalert("why", "https://elsewhere.example/x", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("newsalert: I have not seen that URL; I have seen ")


async def test_why_reads_the_same_from_sqlite_and_postgresql(database_url, make_settings, start_app):
    settings = make_settings(
        f"feeds:\n  - url: {WORLD_FILE}\n    name: World Desk\n    backfill: all\n"
        "subscriptions:\n  - channel: console\n"
        "    rules: [Membership Action Plan, Georgia NEAR/2 Bucharest]\n",
        {"NEWSALERT_DATABASE_URL": database_url},
    )
    app, out = await start_app(settings)
    await app.poll_due()
    await app.deliver_due()
    assert "== NATO Agrees to Re-engage Russia" in out.getvalue()
    console = Chat("console", "stdout", "console", "operator")
    text = (await app.commands.run(console, "why", NATO)).text
    assert "Story: NATO Agrees to Re-engage Russia (1 outlet: World Desk; first seen " in text
    assert "1. Membership Action Plan: matched: \u201c\u2026formal routes" in text
    assert (
        '2. Georgia NEAR/2 Bucharest: no match: "Georgia" and "Bucharest" are there, but 5 words apart'
        in text
    )
    assert "\nDelivery: sent " in text
    text = (await app.commands.run(console, "why", "https://elsewhere.example/")).text
    assert text.startswith("I have not seen that URL; I have seen 7 articles from 1 feed since ")


async def test_why_names_a_paused_rule_that_matches_and_a_chat_that_watches_nothing(telegram_app, clock):
    app = telegram_app
    await app.poll_due()
    reply = await app.commands.run(ANN, "why", NATO)
    assert reply.text.endswith("\nThis chat watches nothing: /watch RULE to start.")
    await app.commands.run(ANN, "watch", "Membership Action Plan")
    await app.commands.run(ANN, "pause", "1")
    lines = (await app.commands.run(ANN, "why", NATO)).text.splitlines()
    assert lines[4].startswith("  1. Membership Action Plan (paused): matched: \u201c\u2026formal routes")
    assert lines[5] == "Delivery: no alert: the rules that match it are paused."


async def test_why_an_alert_telegram_asked_to_wait_for_is_pending_its_retry(
    telegram_app, telegram, feed_server, clock
):
    app = telegram_app
    await app.poll_due()
    await say(app, telegram, "/watch Membership Action Plan")
    telegram.too_many = 1  # the alert gets a 429 with retry_after 7
    await publish_new_story(app, feed_server, clock)
    retry = clock.now() + timedelta(seconds=7)
    reply = await say(app, telegram, f"/why {NEW_LINK}")
    assert reply["text"].endswith(
        f"Delivery: pending retry at {retry:%d %b %Y %H:%M} UTC after 1 failed try."
    )
    clock.advance(timedelta(seconds=7))
    await app.deliver_due()
    reply = await say(app, telegram, f"/why {NEW_LINK}")
    assert reply["text"].endswith(f"Delivery: sent {clock.now():%d %b %Y %H:%M} UTC.")


async def test_why_an_alert_waiting_for_a_digest_when_the_chat_stopped_was_dropped(
    telegram_app, telegram, feed_server, clock
):
    app = telegram_app
    await app.poll_due()
    await say(app, telegram, "/watch Membership Action Plan")
    await say(app, telegram, "/digest hourly")
    await publish_new_story(app, feed_server, clock)
    await say(app, telegram, "/stop")
    reply = await say(app, telegram, f"/why {NEW_LINK}")
    assert reply["text"].endswith("Delivery: dropped: this chat said stop before it went out.")
