"""Slack as a workspace meets it: signed slash commands and button presses to our /slack/events,
and Block Kit alerts in the channel, against a fake Web API on loopback."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from bot.app import App
from bot.channels.slack import EVENTS_PATH, MAX_AGE, SlackSettings, render_blocks, signature_problem
from bot.domain import Alert, Match, Quote
from bot.errors import ConfigError
from bot.web import build_web_app, start_web
from tests.conftest import ROOT, SAMPLES
from tests.fakes.hostile_client import (
    DEEP,
    damaged,
    odd_bytes,
    odd_json,
    odd_text,
    post_raw,
    replace_somewhere,
)
from tests.fakes.slack_api import (
    APP_TOKEN,
    BOT_TOKEN,
    SIGNING_SECRET,
    FakeSlack,
    SlackUser,
    block_problem,
    seen,
    signed,
)

WORLD = (SAMPLES / "world-news.xml").read_bytes()
NEXT_POLL = timedelta(minutes=6)
NEW_ITEM = b"""    <item>
      <title>NATO-Russia Council meets &amp;lt;again&amp;gt; as talks resume</title>
      <link>https://world.example.org/news/nrc?a=1&amp;b=2</link>
      <guid>https://world.example.org/news/nrc</guid>
      <pubDate>Wed, 03 Dec 2008 10:00:00 GMT</pubDate>
      <description>The NATO-Russia Council met in Brussels on Wednesday for the first time since August.
      Diplomats said the talks &amp; the agenda were "frank".</description>
    </item>
"""


@pytest.fixture
async def slack():
    server = await FakeSlack().start()
    yield server
    await server.stop()


@pytest.fixture
async def workspace(feed_server, make_settings, start_app, slack, clock):
    """The app with Slack on (HTTP mode, the fake API), the world sample feed, its web app serving,
    and a user in channel C1."""
    feed_server.files["/world.xml"] = WORLD
    runners = []

    async def start(extra: str = "", user: str = "U1", database_url: str = "") -> tuple[App, SlackUser]:
        settings = make_settings(
            f"slack:\n  bot_token: {BOT_TOKEN}\n  signing_secret: {SIGNING_SECRET}\n"
            f"  api_url: {slack.api_url}\n{extra}"
            f"feeds:\n  - url: {feed_server.url('/world.xml')}\n    name: World Desk\n",
            {"NEWSALERT_DATABASE_URL": database_url} if database_url else None,
        )
        app, _out = await start_app(settings)
        routes = [route for channel in app.channels.values() for route in channel.routes()]
        runner, port = await start_web(build_web_app(app.health, routes), "127.0.0.1", 0)
        runners.append(runner)
        events = f"http://127.0.0.1:{port}/slack/events"
        return app, SlackUser(slack, events, lambda: clock.now().timestamp(), user=user)

    yield start
    for runner in runners:
        await runner.cleanup()


async def publish_new_story(app: App, feed_server, clock) -> None:
    feed_server.files["/world.xml"] = WORLD.replace(b"    <item>", NEW_ITEM + b"    <item>", 1)
    clock.advance(NEXT_POLL)
    await app.poll_due()
    await app.deliver_due()


def shown(blocks: list[dict]) -> str:
    return "\n".join(seen(b) for b in blocks if b["type"] in ("section", "rich_text"))


async def test_a_watch_from_c1_alerts_c1_once_with_blocks_and_fallback_text(
    workspace, slack, feed_server, clock
):
    app, user = await workspace()
    await app.poll_due()
    status, answer = await user.types("watch NATO-Russia Council")
    assert status == 200
    assert answer["text"].startswith("Watching rule 1: ")
    rules = await app.store.chat_rules((await app.store.subscription("slack", "C1")).id)
    assert [r.query for r in rules] == ["NATO-Russia Council"]

    await publish_new_story(app, feed_server, clock)
    assert len(slack.posted) == 1
    alert = slack.to("C1")[0]
    assert alert["text"] == "NATO-Russia Council meets &lt;again&gt; as talks resume (World Desk)", "escaped"
    assert not alert["marks"], "the notification's text shows a feed's * and _ as they are"
    text = shown(alert["blocks"])
    assert text.startswith(
        '<b><a href="https://world.example.org/news/nrc?a=1&b=2">'
        "NATO-Russia Council meets <again> as talks resume</a></b>"
    )
    assert "<i>Rule 1: NATO-Russia Council</i>\n> The <b>NATO-Russia Council</b> met in Brussels" in text
    context = seen(next(b for b in alert["blocks"] if b["type"] == "context"))
    assert context.startswith("World Desk \u00b7 <!date^1228298400^")

    clock.advance(NEXT_POLL)
    await app.poll_due()
    await app.deliver_due()
    assert len(slack.posted) == 1, "one alert per story"


async def test_an_alert_is_updated_in_place_when_another_outlet_carries_the_story(workspace, slack):
    app, _user = await workspace()
    channel = app.channels["slack"]
    alert = Alert("NATO meets", "https://a.example/1", "Reuters", datetime(2026, 11, 28, tzinfo=UTC), "", ())
    receipt = await channel.send("C1", alert)
    await channel.edit("C1", receipt.message_id, replace(alert, also_in=("AP", "Globe")))
    [update] = slack.updates
    assert update["ts"] == receipt.message_id
    assert "also in AP, Globe" in seen(update["blocks"][1])
    gone = await channel.edit("C1", "1.000", alert)
    assert gone.message_id == "1.000", "a message that cannot be found stays as it was, no error"


async def test_forged_stale_and_replayed_requests_get_401_and_change_nothing(workspace, clock):
    app, user = await workspace()
    body = user.command_body("watch NATO-Russia Council")
    now = int(clock.now().timestamp())
    assert (await user.post(body, signed(body, now, secret="guessed")))[0] == 401
    assert (await user.post(body, signed(body, now - 301)))[0] == 401
    assert (await user.post(body, {}))[0] == 401
    assert await app.store.subscription("slack", "C1") is None, "nothing was saved"
    headers = signed(body, now)
    assert (await user.post(body, headers))[0] == 200
    assert (await user.post(body, headers))[0] == 401, "the same signed request again is a replay"


async def test_a_request_replayed_after_a_restart_or_to_another_replica_is_refused(
    workspace, database_url, clock
):
    """Two processes on one database: the bot before and after a restart, or two replicas."""
    _app, first = await workspace(database_url=database_url)
    _other_app, second = await workspace(database_url=database_url)
    body = first.command_body("watch NATO-Russia Council")
    headers = signed(body, int(clock.now().timestamp()))
    assert (await first.post(body, headers))[0] == 200
    assert (await second.post(body, headers))[0] == 401, "a replay, though this process never saw it"
    clock.advance(timedelta(seconds=MAX_AGE - 1))
    assert (await second.post(body, headers))[0] == 401, "refused while its timestamp is still fresh"
    status, answer = await second.types("list")
    assert status == 200, "a fresh request is answered"
    assert answer["text"] == "1. NATO-Russia Council", "the replays changed nothing"


def test_signatures_are_checked_by_hmac_and_time():
    body = b"token=x&text=hello"
    headers = signed(body, 1_000_000)
    sig, ts = headers["X-Slack-Signature"], headers["X-Slack-Request-Timestamp"]
    assert signature_problem(SIGNING_SECRET, ts, sig, body, 1_000_299) is None
    assert signature_problem(SIGNING_SECRET, ts, sig, body + b"!", 1_000_000) == "signature does not match"
    assert "five minutes" in signature_problem(SIGNING_SECRET, ts, sig, body, 1_000_301)
    for odd in ("soon", "\u00b2", "\u0661" * 7, "1" * 5000, " 1000000", "+1000000", "1_000_000"):
        assert "five minutes" in signature_problem(SIGNING_SECRET, odd, sig, body, 1_000_000), odd
    unicode = sig[:-1] + "\u00e9"
    assert signature_problem(SIGNING_SECRET, ts, unicode, body, 1_000_000) == "signature does not match"
    undecodable = sig[:-1] + "\udcff"  # how aiohttp hands over a byte 0xFF
    assert signature_problem(SIGNING_SECRET, ts, undecodable, body, 1_000_000) == "signature does not match"


async def test_a_rule_that_says_payload_is_watched_like_any_other(workspace):
    _app, user = await workspace()
    status, answer = await user.types("watch payload")
    assert status == 200 and answer["text"].startswith('Watching rule 1: "payload"')


async def test_a_backtest_is_acknowledged_at_once_and_answered_through_response_url(workspace, slack):
    app, user = await workspace()
    await app.poll_due()
    status, answer = await user.types("test Membership Action Plan")
    assert status == 200 and answer["text"] == "Working on it\u2026"
    later = await slack.response_number(1)
    assert "matched 1 of" in later["text"] and later["response_type"] == "ephemeral"
    assert "/newsalert watch Membership Action Plan to keep it" in later["text"]


async def test_list_buttons_pause_a_rule_in_place(workspace, slack):
    app, user = await workspace()
    await user.types("watch NATO-Russia Council")
    _status, listed = await user.types("list")
    assert listed["text"] == "1. NATO-Russia Council"
    status, _ = await user.presses(listed, "Pause 1")
    assert status == 200
    updated = slack.responses[-1]
    assert updated["replace_original"] is True
    assert updated["text"].endswith("1. NATO-Russia Council (paused)")


async def test_alert_buttons_mute_the_rule_for_the_channel(workspace, slack, feed_server, clock):
    app, user = await workspace()
    await app.poll_due()
    await user.types("watch NATO-Russia Council")
    await publish_new_story(app, feed_server, clock)
    await user.presses(slack.posted[0], "Pause rule")
    answer = slack.responses[-1]
    assert answer["text"].startswith("Paused rule 1") and answer["replace_original"] is False
    assert answer["response_type"] == "ephemeral"


async def test_ratelimited_alerts_wait_exactly_retry_after(workspace, slack, feed_server, clock):
    app, user = await workspace()
    await app.poll_due()
    await user.types("watch NATO-Russia Council")
    slack.too_many = 1
    await publish_new_story(app, feed_server, clock)
    assert slack.posted == []
    clock.advance(timedelta(seconds=2))
    await app.deliver_due()
    assert slack.posted == []
    clock.advance(timedelta(seconds=1))
    await app.deliver_due()
    assert len(slack.posted) == 1


@pytest.mark.parametrize("error", ["channel_not_found", "not_in_channel", "is_archived"])
async def test_a_channel_we_cannot_post_to_is_unsubscribed(
    workspace, slack, feed_server, clock, error, caplog
):
    app, user = await workspace()
    await app.poll_due()
    await user.types("watch NATO-Russia Council")
    slack.errors["C1"] = error
    await publish_new_story(app, feed_server, clock)
    assert await app.store.count_outbox() == {"gone": 1}
    assert not (await app.store.subscription("slack", "C1")).active
    assert error in caplog.text and BOT_TOKEN not in caplog.text


async def test_a_refused_token_keeps_every_subscription_and_retries_hourly(
    workspace, slack, feed_server, clock
):
    app, user = await workspace()
    await app.poll_due()
    await user.types("watch NATO-Russia Council")
    slack.errors["C1"] = "invalid_auth"
    await publish_new_story(app, feed_server, clock)
    assert (await app.store.subscription("slack", "C1")).active
    del slack.errors["C1"]
    clock.advance(timedelta(minutes=59))
    await app.deliver_due()
    assert slack.posted == []
    clock.advance(timedelta(minutes=1))
    await app.deliver_due()
    assert len(slack.posted) == 1, "delivered once the token works again"


async def test_refused_blocks_still_reach_the_channel_as_text(workspace, slack, feed_server, clock):
    app, user = await workspace()
    await app.poll_due()
    await user.types("watch NATO-Russia Council")
    slack.refuse_blocks = True
    await publish_new_story(app, feed_server, clock)
    assert slack.posted[0]["blocks"] is None
    assert not slack.posted[0]["marks"]
    assert slack.posted[0]["text"].startswith(
        "NATO-Russia Council meets &lt;again&gt; as talks resume (World Desk)\n"
    )


async def test_editors_and_admins(workspace, slack):
    app, user = await workspace("  editors: [U2]\n  admins: [U9]\n")
    _status, answer = await user.types("watch NATO-Russia Council")
    assert answer["text"] == "Sorry, only this chat's admins can change its alerts. Ask one of them."
    _status, answer = await user.types("addfeed https://example.org")
    assert answer["text"] == "Working on it\u2026"
    later = await slack.response_number(1)
    assert later["text"].startswith("Sorry, only the bot's admins can change its feeds.")
    user.user = "U2"
    _status, answer = await user.types("watch NATO-Russia Council")
    assert answer["text"].startswith("Watching rule 1")
    _status, answer = await user.types("")
    assert "/newsalert watch RULE - alert on stories matching RULE" in answer["text"]


async def test_socket_mode_takes_commands_without_a_public_address(make_settings, slack, start_app):
    settings = make_settings(
        f"slack:\n  bot_token: {BOT_TOKEN}\n  app_token: {APP_TOKEN}\n  api_url: {slack.api_url}\n"
    )
    app, _out = await start_app(settings)
    channel = app.channels["slack"]
    assert channel.routes() == [], "no /slack/events in Socket Mode"
    stop = asyncio.Event()
    listening = asyncio.create_task(channel.listen(stop))
    try:
        answer = await asyncio.wait_for(slack.push_command("watch NATO-Russia Council"), 10)
        assert answer["text"].startswith("Watching rule 1")
        assert await app.store.subscription("slack", "C1")
    finally:
        stop.set()
        await asyncio.wait_for(listening, 10)


async def test_a_refused_bot_token_stops_start_up(make_settings, slack, start_app):
    settings = make_settings(
        f"slack:\n  bot_token: xoxb-wrong\n  signing_secret: s\n  api_url: {slack.api_url}\n"
    )
    with pytest.raises(ConfigError, match=r"slack.bot_token: Slack refused this token \(invalid_auth\)"):
        await start_app(settings)


feed_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=4000) | st.sampled_from(
    ["&" * 3000, "<" * 2000 + "<!channel>", "a & b " * 600, "*_~`" * 1000, "a *b* c " * 500]
)


@given(feed_text, feed_text, feed_text, st.integers(1, 9))
def test_any_alert_fits_block_kit(title, summary, quote, rules):
    alert = Alert(
        title, "https://example.org/a b|c>", "Feed & <Co>", datetime(2026, 11, 28, tzinfo=UTC), summary,
        tuple(Match(i, "rule " * 100, Quote(quote, ((0, min(5, len(quote))),))) for i in range(rules)),
    )  # fmt: skip
    text, blocks = render_blocks(alert)
    assert block_problem(blocks) is None and text
    assert seen(blocks[0]).startswith('<b><a href="https://example.org/a%20b%7Cc%3E">')
    mrkdwn = [b["text"]["text"] for b in blocks if b.get("text", {}).get("type") == "mrkdwn"]
    assert "<!channel>" not in text + "".join(mrkdwn), "nothing from a feed can ping a channel"


def test_marks_in_feed_text_stay_marks_and_only_the_matched_words_turn_bold():
    quote = "Leaders said *today* that NATO_2030 and ~the~ `plan` hold"
    nato = quote.index("NATO")
    match = Match(1, "NATO*", Quote(quote, ((nato, nato + 4),)))
    alert = Alert(
        "*Breaking*: _live_ ~updates~ on `NATO`", "https://example.org/a_b*c", "The *Daily* _Planet_",
        datetime(2026, 11, 28, tzinfo=UTC), "A *summary*.", (match,), also_in=("~Herald~",),
    )  # fmt: skip
    text, blocks = render_blocks(alert)
    assert block_problem(blocks) is None
    heading, context, summary, why, _buttons = map(seen, blocks)
    assert heading == '<b><a href="https://example.org/a_b*c">*Breaking*: _live_ ~updates~ on `NATO`</a></b>'
    assert context.startswith("The *Daily* _Planet_ \u00b7 <!date^") and context.endswith(
        " \u00b7 also in ~Herald~"
    )
    assert summary == "A *summary*."
    assert why == "<i>Rule 1: NATO*</i>\n> Leaders said *today* that <b>NATO</b>_2030 and ~the~ `plan` hold"
    mrkdwn = [
        e["text"]
        for b in blocks
        for e in [b.get("text", {}), *b.get("elements", [])]
        if e.get("type") == "mrkdwn"
    ]
    assert mrkdwn == ["\u00b7 <!date^1795824000^{date_short_pretty} {time}|28 Nov 2026 00:00 UTC>"], (
        "no feed text where Slack reads * _ ~ ` as marks"
    )
    assert text == "*Breaking*: _live_ ~updates~ on `NATO` (The *Daily* _Planet_)"


def test_a_long_title_of_flags_is_clipped_between_flags():
    flags = "\U0001f1fa\U0001f1e6\U0001f1f5\U0001f1f1"  # Ukraine, Poland: two code points a flag
    when = datetime(2026, 11, 28, tzinfo=UTC)
    _text, blocks = render_blocks(Alert("AB" + flags * 100, "https://example.org/a", "Feed", when, "", ()))
    title = blocks[0]["elements"][0]["elements"][0]["text"]
    assert title.endswith("\u2026") and len(title) <= 300
    kept = title.removesuffix("\u2026")
    assert ("AB" + flags * 100).startswith(kept) and len(kept) % 2 == 0, "whole flags, never half of one"


def test_the_app_manifest_matches_what_the_bot_serves():
    manifest = yaml.safe_load((ROOT / "config" / "slack-app-manifest.yml").read_text())
    command = manifest["features"]["slash_commands"][0]
    assert command["command"] == SlackSettings().command
    assert command["url"].endswith(EVENTS_PATH)
    assert manifest["settings"]["interactivity"]["request_url"].endswith(EVENTS_PATH)
    assert {"commands", "chat:write"} <= set(manifest["oauth_config"]["scopes"]["bot"])


async def test_status_is_for_admins_and_files_are_pointed_to_the_server(workspace):
    app, user = await workspace("  admins: [U9]\n")
    await app.poll_due()
    _status, answer = await user.types("status")
    assert answer["text"] == "Sorry, only the bot's admins can see its health. Ask whoever runs it."
    user.user = "U9"
    _status, answer = await user.types("status")
    assert answer["text"].startswith("Feeds: 1 watched, 1 healthy, 0 failing.\nLast successful poll: ")
    _status, answer = await user.types("export")
    assert answer["text"] == "Export the feeds on the server: newsalert opml export FILE."


# --- hostile requests: a 400 or 401, never a 500 -----------------------------------------------

# the fields Slack's payloads have, and bolt or our handler read
SLACK_FIELDS = [
    "command", "text", "channel_id", "channel_name", "user_id", "response_url", "payload", "type",
    "actions", "action_id", "value", "user", "id", "channel", "name", "team", "team_id", "enterprise",
    "authorizations", "response_urls", "is_enterprise_install", "ssl_check", "view", "event",
]  # fmt: skip


def raw_headers(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    form = [(b"Content-Type", b"application/x-www-form-urlencoded")]
    return form + [(name.encode(), value.encode()) for name, value in headers.items()]


def a_press(user: SlackUser, value: str) -> dict:
    return {
        "type": "block_actions", "user": {"id": user.user}, "channel": {"id": user.channel, "name": "news"},
        "response_url": f"{user.slack.base_url}/respond/0",
        "actions": [{"type": "button", "action_id": "newsalert-0-0", "value": value}],
    }  # fmt: skip


def as_form(fields: dict) -> bytes:
    return urlencode(fields, errors="surrogatepass").encode()


def a_hostile_body(rng: random.Random, user: SlackUser) -> bytes:
    """A slash command or button press with something wrong, or anything at all."""
    good = user.command_body(rng.choice(["list", "watch NATO", "help"]))
    press = a_press(user, rng.choice(["list", "pause 1", "rules>pause 1"]))
    return [
        lambda: odd_bytes(rng, 300),
        lambda: damaged(rng, good),
        lambda: user.command_body(odd_text(rng)),
        lambda: as_form({rng.choice(SLACK_FIELDS): odd_text(rng) for _ in range(rng.randrange(6))}),
        lambda: as_form({"payload": json.dumps(replace_somewhere(rng, press, SLACK_FIELDS))}),
        lambda: as_form({"payload": json.dumps(odd_json(rng, SLACK_FIELDS))}),
        lambda: as_form({"payload": json.dumps(press)})[: rng.randrange(400)],
    ][rng.randrange(7)]()


def hostile_headers(rng: random.Random, body: bytes, now: int) -> list[tuple[bytes, bytes]]:
    """Mostly a good signature (so the body is read), sometimes odd bytes in a header instead."""
    headers = raw_headers(signed(body, now - rng.randrange(MAX_AGE)) if rng.random() < 0.8 else {})
    for _ in range(rng.randrange(3) if rng.random() < 0.3 else 0):
        at = rng.randrange(len(headers))
        odd = odd_bytes(rng) if rng.random() < 0.5 else odd_text(rng).encode("utf-8", "surrogatepass")
        headers[at] = (headers[at][0], odd)
    return headers


async def test_hostile_requests_get_400_or_401_never_500_and_slack_still_works(
    workspace, slack, clock, database_url
):
    app, user = await workspace(database_url=database_url)
    now = int(clock.now().timestamp())
    timestamp, signature = (b"X-Slack-Request-Timestamp", b"X-Slack-Signature")

    def sign(body: bytes) -> list[tuple[bytes, bytes]]:
        return raw_headers(signed(body, now))

    body = user.command_body("watch NATO")
    no_command = as_form({"command": "/newsalert", "text": "list", "user_id": "U1"})
    bad_press = a_press(user, "list")
    bad_press["user"] = {"id": "\ud800"}  # JSON may say it; no UTF-8 text can
    table = [  # what Slack never sends, and what we answer, from our handler (not aiohttp's)
        ([(timestamp, "\u00b2".encode()), (signature, b"v0=00")], body, 401, b"refused"),
        ([(timestamp, b"1" * 5000), (signature, b"v0=00")], body, 401, b"refused"),
        ([(timestamp, str(now).encode()), (signature, b"v0=\xff")], body, 401, b"refused"),
        ([(timestamp, str(now).encode()), (signature, "v0=\u00e9".encode())], body, 401, b"refused"),
        (sign(b"\xff\xfe"), b"\xff\xfe", 400, b"not a slash command or button press"),
        *((sign(b), b, 400, b"not a slash command or button press") for b in [
            b"", b"{}", b"payload=null", b"payload=%5B1%2C2%5D", b"payload=notjson", b"payload=" + DEEP,
            no_command, as_form({"payload": json.dumps(bad_press)}),
        ]),
    ]  # fmt: skip
    for headers, body, status, text in table:
        assert await post_raw(user.events_url, headers, body) == (status, text), (headers, body[:80])

    rng = random.Random(18)
    failures = []
    for _ in range(300):
        body = a_hostile_body(rng, user)
        headers = hostile_headers(rng, body, now)
        status, _text = await post_raw(user.events_url, headers, body)
        if status >= 500:
            failures.append((status, headers, body[:200]))
    assert failures == []
    await app.channels["slack"].settle()

    status, answer = await user.types("watch Membership Action Plan")
    assert status == 200 and answer["text"].startswith("Watching rule")
    body = as_form({"payload": json.dumps(a_press(user, "list"))})
    assert (await user.post(body, signed(body, now)))[0] == 200
    assert "Membership Action Plan" in slack.responses[-1]["text"], "the button press was answered"


async def test_a_slack_user_claims_the_bot_with_the_logged_code(workspace, slack, caplog):
    """Slack shows a slash command and its answer only to whoever typed it: any channel will do."""
    app, user = await workspace()
    caplog.set_level(logging.INFO)
    await app.commands.offer_claim(["slack"])  # as `newsalert run` does when slack.admins is empty
    [line] = [r.getMessage() for r in caplog.records if "claim" in r.getMessage()]
    code = re.search(r"/newsalert claim (\S+)\)", line).group(1)
    _status, answer = await user.types("status")
    assert answer["text"].startswith("Sorry, only the bot's admins can see its health.")
    _status, answer = await user.types("claim aaaa-bbbb-cccc")
    assert answer["text"].startswith("That is not a code that works")
    _status, answer = await user.types(f"claim {code}")
    assert answer["text"].startswith(
        "You are an admin of this bot now: you may add feeds (/newsalert addfeed"
    )
    _status, answer = await user.types("status")
    assert answer["text"].startswith("Feeds: 1 watched")
    user.user = "U2"
    _status, answer = await user.types(f"claim {code}")
    assert answer["text"].startswith("That is not a code that works"), "a code works once"
