"""The buttons under an alert, as a reader presses them in Telegram and Slack (fakes of their APIs on
loopback): mute the story, mute its source for a day, narrow the rule ("Not about this") after a confirm,
undo each from /rules; a reader who may not change the chat's alerts is refused as when typing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.app import App
from bot.domain import TermCounts
from bot.rules.exclusion import exclusion_words, with_exclusion
from bot.web import build_web_app, start_web
from tests.fakes.slack_api import BOT_TOKEN, SIGNING_SECRET, FakeSlack, SlackUser
from tests.fakes.telegram_api import TOKEN, FakeTelegram
from tests.test_telegram import GROUP, say

NEXT_POLL = timedelta(minutes=6)
RULE = "Membership Action Plan"


def item(slug: str, title: str, text: str) -> str:
    return (
        f"<item><title>{title}</title><link>https://news.example.org/{slug}</link>"
        f"<guid>https://news.example.org/{slug}</guid><pubDate>Wed, 03 Dec 2008 10:00:00 GMT</pubDate>"
        f"<description>{text}</description></item>"
    )


def rss(*items: str) -> bytes:
    head = "<rss version='2.0'><channel><title>Feed</title><link>https://news.example.org/</link>"
    return (head + "".join(items) + "</channel></rss>").encode()


OLD = item("old", "Budget talks go on", "Lawmakers met again on the budget.")
UKRAINE = item(
    "ukraine",
    "Ukraine asks again for a Membership Action Plan",
    "Kiev renewed its request for a Membership Action Plan on Wednesday, officials in Kiev said.",
)
GEORGIA = item(
    "georgia",
    "Georgia hopes for a Membership Action Plan",
    "Tbilisi's parliament speaker, visiting Warsaw with a delegation of farmers and engineers, praised "
    "Polish support and a Membership Action Plan while touring pipelines near the Black Sea coast.",
)
KIEV_AGAIN = item(
    "kiev-again",
    "Kiev presses allies over its Membership Action Plan",
    "Foreign ministers gathering in Brussels disagreed sharply about any timetable, diplomats told "
    "reporters after a long dinner; Germany and France want more time before a Membership Action Plan.",
)


class Feeds:
    """Two outlets, World Desk and Wire, each a feed file on the loopback feed server."""

    def __init__(self, feed_server):
        self.server = feed_server
        self.set("world", OLD)
        self.set("wire", OLD.replace("old", "old-wire"))

    def set(self, name: str, *items: str) -> None:
        self.server.files[f"/{name}.xml"] = rss(*items)

    def yaml(self) -> str:
        return (
            f"feeds:\n  - url: {self.server.url('/world.xml')}\n    name: World Desk\n"
            f"  - url: {self.server.url('/wire.xml')}\n    name: Wire\n"
        )


async def next_poll(app: App, clock) -> None:
    clock.advance(NEXT_POLL)
    await app.poll_due()
    await app.deliver_due()


@pytest.fixture
async def tg(feed_server, make_settings, start_app, telegram, clock):
    """The app with Telegram, the two outlets polled once (their backlog does not alert), and the chat
    watching RULE."""
    feeds = Feeds(feed_server)
    settings = make_settings(f"telegram:\n  token: {TOKEN}\n  api_url: {telegram.api_url}\n{feeds.yaml()}")
    app, _out = await start_app(settings)
    await app.poll_due()
    return app, feeds


async def press(app: App, telegram: FakeTelegram, message: dict, label: str, **who) -> dict:
    """Press a button; returns what the chat was answered (the message it got, or the answer shown)."""
    before = len(telegram.sent)
    telegram.user_presses(message, label, **who)
    await app.channels["telegram"].poll_updates()
    return telegram.sent[-1] if len(telegram.sent) > before else telegram.answers[-1]


def labels(message: dict) -> list[list[str]]:
    return [[b["text"] for b in row] for row in message["reply_markup"]["inline_keyboard"]]


async def test_an_alert_carries_the_buttons_and_mute_story_stops_its_edits(tg, telegram, clock):
    app, feeds = tg
    await say(app, telegram, f"/watch {RULE}")
    feeds.set("world", OLD, UKRAINE)
    await next_poll(app, clock)
    alert = telegram.last()
    assert labels(alert) == [["Mute story", "Mute source 24 h"], ["Not about this", "Pause rule"]]

    answer = await press(app, telegram, alert, "Mute story")
    assert answer["text"].startswith(
        "Muted the story \u201cUkraine asks again for a Membership Action Plan\u201d"
    )
    edits = len(telegram.edits)
    feeds.set("wire", OLD, UKRAINE)  # another outlet carries it: the alert would say "Also in: Wire"
    await next_poll(app, clock)
    assert len(telegram.edits) == edits, "a muted story's alert is not edited"
    assert (await app.store.count_outbox()).get("muted") == 1


async def test_mute_story_is_undone_from_rules_and_the_next_outlet_edits_the_alert(tg, telegram, clock):
    app, feeds = tg
    await say(app, telegram, f"/watch {RULE}")
    feeds.set("world", OLD, UKRAINE)
    await next_poll(app, clock)
    alert = telegram.last()
    await press(app, telegram, alert, "Mute story")

    listed = await say(app, telegram, "/rules")
    assert listed["text"] == (f"1. {RULE}\nMuted story: Ukraine asks again for a Membership Action Plan")
    await press(app, telegram, listed, "Unmute Ukraine asks again for a Memb\u2026")
    assert telegram.answers[-1]["text"].startswith("Unmuted")
    assert telegram.edits[-1]["text"] == f"1. {RULE}", "the list is updated in place"

    feeds.set("wire", OLD, UKRAINE)
    await next_poll(app, clock)
    assert "Also in: Wire" in telegram.edits[-1]["text"], "the alert is edited again"


async def test_mute_source_for_a_day_holds_back_that_outlet_only(tg, telegram, clock):
    app, feeds = tg
    await say(app, telegram, f"/watch {RULE}")
    feeds.set("world", OLD, UKRAINE)
    await next_poll(app, clock)
    answer = await press(app, telegram, telegram.last(), "Mute source 24 h")
    until = f"{clock.now() + timedelta(hours=24):%a %d %b %H:%M} UTC"
    assert answer["text"].startswith(f"No alerts from World Desk here until {until}")
    sent = len(telegram.sent)

    feeds.set("world", OLD, UKRAINE, GEORGIA)
    await next_poll(app, clock)
    assert len(telegram.sent) == sent, "World Desk's new story does not alert"
    feeds.set("wire", OLD, KIEV_AGAIN)
    await next_poll(app, clock)
    assert telegram.last()["text"].startswith("Kiev presses allies"), "Wire's does"

    listed = await say(app, telegram, "/rules")
    assert f"Muted source World Desk until {until}" in listed["text"]
    clock.advance(timedelta(hours=24))
    listed = await say(app, telegram, "/rules")
    assert listed["text"] == f"1. {RULE}", "the mute has ended"
    feeds.set("world", OLD, UKRAINE, GEORGIA, item("later", f"{RULE} talks resume", "Talks in Riga."))
    await next_poll(app, clock)
    assert telegram.last()["text"].startswith(f"{RULE} talks resume")


async def test_not_about_this_proposes_words_and_narrows_the_rule_once_confirmed(tg, telegram, clock):
    app, feeds = tg
    await say(app, telegram, f"/watch {RULE}")
    feeds.set("world", OLD, UKRAINE)
    await next_poll(app, clock)

    offer = await press(app, telegram, telegram.last(), "Not about this")
    assert offer["text"].startswith("Not about this? Choose a word to exclude, and the rule becomes:")
    narrowed = f'"{RULE}" -Kiev'
    assert f"Rule 1 becomes: {narrowed}" in offer["text"], "Kiev: twice in the story, a name"
    assert labels(offer)[0] == [narrowed] and len(labels(offer)) <= 3
    assert [r.query for r in await app.store.chat_rules(1)] == [RULE], "nothing changes before a press"

    done = await press(app, telegram, offer, narrowed)
    assert done["text"].startswith('Rule 1 is now rule 2: "Membership Action Plan" AND NOT "Kiev"')
    feeds.set("world", OLD, UKRAINE, KIEV_AGAIN)
    await next_poll(app, clock)
    assert telegram.last() == done, "a story with Kiev no longer alerts"
    feeds.set("world", OLD, UKRAINE, KIEV_AGAIN, GEORGIA)
    await next_poll(app, clock)
    assert telegram.last()["text"].startswith("Georgia hopes"), "the rule still alerts on the rest"

    reply = await say(app, telegram, "/exclude 2 Kiev Tbilisi")
    assert reply["text"] == "Say one word to exclude from rule 2, for example Kiev.", (
        "typed, it is checked too"
    )
    listed = await say(app, telegram, "/rules")
    assert listed["text"] == f"2. {narrowed}\nRule 2 was: {RULE}"
    await press(app, telegram, listed, "Undo rule 2")
    assert telegram.answers[-1]["text"] == f"Rule 3 is back as it was: {RULE}"
    assert telegram.edits[-1]["text"] == f"3. {RULE}"


async def test_a_reader_who_may_not_change_the_alerts_is_refused_and_nothing_changes(tg, telegram, clock):
    app, feeds = tg
    telegram.admins.add((GROUP, 7))
    await say(app, telegram, f"/watch {RULE}", chat=GROUP, user=7, kind="supergroup")
    feeds.set("world", OLD, UKRAINE)
    await next_poll(app, clock)
    alert = telegram.last(GROUP)
    sent = len(telegram.sent)
    for label in ("Mute story", "Mute source 24 h", "Not about this"):
        answer = await press(app, telegram, alert, label, user=8)
        assert answer["text"] == "Sorry, only this chat's admins can change its alerts. Ask one of them."
    assert len(telegram.sent) == sent, "only the presser is told"
    feeds.set("wire", OLD, UKRAINE)
    await next_poll(app, clock)
    assert "Also in: Wire" in telegram.edits[-1]["text"], "neither the story nor its source was muted"
    subscription = await app.store.subscription("telegram", str(GROUP))
    assert [r.query for r in await app.store.chat_rules(subscription.id)] == [RULE]


# --- Slack ------------------------------------------------------------------------------------------


@pytest.fixture
async def slack():
    server = await FakeSlack().start()
    yield server
    await server.stop()


@pytest.fixture
async def workspace(feed_server, make_settings, start_app, slack, clock, database_url):
    """Slack (HTTP mode) on SQLite and on PostgreSQL, the two outlets polled once, channel C1's user."""
    feeds = Feeds(feed_server)
    settings = make_settings(
        f"slack:\n  bot_token: {BOT_TOKEN}\n  signing_secret: {SIGNING_SECRET}\n  api_url: {slack.api_url}\n"
        + feeds.yaml(),
        {"NEWSALERT_DATABASE_URL": database_url},
    )
    app, _out = await start_app(settings)
    routes = [route for channel in app.channels.values() for route in channel.routes()]
    runner, port = await start_web(build_web_app(app.health, routes), "127.0.0.1", 0)
    await app.poll_due()
    yield (
        app,
        feeds,
        SlackUser(slack, f"http://127.0.0.1:{port}/slack/events", lambda: clock.now().timestamp()),
    )
    await runner.cleanup()


def block_labels(message: dict) -> list[list[str]]:
    return [[e["text"]["text"] for e in b["elements"]] for b in message["blocks"] if b["type"] == "actions"]


async def test_slack_buttons_mute_narrow_and_undo(workspace, slack, clock):
    app, feeds, user = workspace
    await user.types(f"watch {RULE}")
    feeds.set("world", OLD, UKRAINE)
    await next_poll(app, clock)
    alert = slack.posted[-1]
    assert block_labels(alert) == [["Mute story", "Mute source 24 h"], ["Not about this", "Pause rule"]]

    await user.presses(alert, "Mute story")
    assert slack.responses[-1]["text"].startswith("Muted the story")
    feeds.set("wire", OLD, UKRAINE)
    await next_poll(app, clock)
    assert not slack.updates, "a muted story's alert is not edited"

    await user.presses(alert, "Not about this")
    offer = slack.responses[-1]
    assert f'Rule 1 becomes: "{RULE}" -Kiev' in offer["text"]
    await user.presses(offer, f'"{RULE}" -Kiev')
    assert slack.responses[-1]["text"].startswith("Rule 1 is now rule 2")
    posted = len(slack.posted)
    feeds.set("world", OLD, UKRAINE, KIEV_AGAIN)
    await next_poll(app, clock)
    assert len(slack.posted) == posted, "a story with Kiev no longer alerts"

    await user.presses(alert, "Mute source 24 h")
    assert slack.responses[-1]["text"].startswith("No alerts from World Desk")
    _status, listed = await user.types("rules")
    assert listed["text"].splitlines()[1:] == [
        f"Muted source World Desk until {clock.now() + timedelta(hours=24):%a %d %b %H:%M} UTC",
        "Muted story: Ukraine asks again for a Membership Action Plan",
        f"Rule 2 was: {RULE}",
    ]
    await user.presses(listed, "Undo rule 2")
    assert slack.responses[-1]["text"].startswith(f"Rule 3 is back as it was: {RULE}")
    kiev = item(
        "kiev-wire",
        "Kiev hosts a conference of students",
        "Hundreds of students from Lviv, Odessa and Kharkiv debated a Membership Action Plan in Kiev's "
        "philharmonic hall, with musicians, poets and painters joining late into the night.",
    )
    feeds.set("wire", OLD, UKRAINE, kiev)
    await next_poll(app, clock)
    assert slack.posted[-1]["text"].startswith("Kiev hosts"), "Wire is not muted, the rule is back"


# --- the words proposed: pure -----------------------------------------------------------------------

NONE_COUNTED = TermCounts(0, {})


def test_the_word_proposed_is_a_telling_one_of_the_headline_and_lead_that_the_rule_lacks():
    title, body = "Ukraine asks again for a Membership Action Plan", "Kiev renewed its request, Kiev said."
    assert exclusion_words(title, body, RULE, NONE_COUNTED)[0] == "Kiev"
    assert "Plan" not in exclusion_words(title, body, RULE, NONE_COUNTED), "the rule's own words"
    assert "again" not in exclusion_words(title, body, RULE, NONE_COUNTED, size=10), "a stop word"
    common = TermCounts(1000, {"kiev": 400})
    assert exclusion_words(title, body, RULE, common)[0] == "Ukraine", "a word in many articles tells less"


def test_the_rule_with_a_word_excluded_reads_as_typed_where_it_can():
    assert with_exclusion(RULE, "Kiev") == f'"{RULE}" -Kiev', "a phrase stays a phrase"
    assert with_exclusion("NATO -summit", "Kiev") == "NATO -summit -Kiev"
    assert with_exclusion("NATO OR Ukraine", "Kiev") == "(NATO OR Ukraine) -Kiev"
