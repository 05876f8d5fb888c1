"""The apprise channel as its reader and its operator see it: an e-mail alert in HTML from a local mail
server, an ntfy alert in Markdown from an ntfy-like server on loopback, alerts delivered and retried by
the app, addresses checked when the config is loaded, and their secrets never shown."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.channels.apprise import read_address, render_markdown
from bot.domain import Alert, Match, Quote
from bot.errors import ConfigError, TransientDeliveryError
from tests.conftest import SAMPLES
from tests.fakes.ntfy_server import FakeNtfy
from tests.fakes.smtp_server import FakeSmtp

ALERT = Alert(
    title="NATO Agrees to Re-engage Russia",
    link="https://news.example/nato-russia",
    feed_name="World Desk",
    published_at=datetime(2008, 12, 2, 14, 0, tzinfo=UTC),
    summary="NATO on Tuesday agreed to gradually resume contacts with Russia.",
    matches=(Match(1, "Membership Action Plan", Quote("known as Membership Action Plans", ((9, 32),))),),
)
TOKEN = "tk_never-show-this-token-anywhere"
PASSWORD = "never-show-this-password"


def subscribed(*addresses: str, rules: str = "[Membership Action Plan]") -> str:
    return "subscriptions:\n" + "".join(
        f"  - channel: apprise\n    address: '{address}'\n    rules: {rules}\n" for address in addresses
    )


@pytest.fixture
async def ntfy():
    fake = await FakeNtfy().start()
    yield fake
    await fake.stop()


@pytest.fixture
async def smtp():
    fake = await FakeSmtp().start()
    yield fake
    await fake.stop()


async def test_an_email_alert_is_html_with_the_story_linked_and_the_matched_words_in_bold(
    smtp, make_settings, start_app
):
    app, _ = await start_app(make_settings(subscribed(smtp.address())))
    await app.channels["apprise"].send(smtp.address(), ALERT)
    [mail] = smtp.received
    assert mail["Subject"] == "NATO Agrees to Re-engage Russia"
    assert mail["To"] == "reader@example.org"
    body = smtp.html(mail)
    assert '<a href="https://news.example/nato-russia">NATO Agrees to Re-engage Russia</a>' in body
    assert "World Desk \u00b7 02 Dec 2008 14:00 UTC" in body
    assert "\u201cknown as <b>Membership Action Plans</b>\u201d" in body


async def test_an_ntfy_alert_is_markdown_with_the_matched_words_in_bold(ntfy, make_settings, start_app):
    app, _ = await start_app(make_settings(subscribed(ntfy.address())))
    await app.channels["apprise"].send(ntfy.address(), ALERT)
    [message] = ntfy.published
    assert (message.topic, message.title, message.markdown) == ("news", ALERT.title, True)
    assert "World Desk \u00b7 02 Dec 2008 14:00 UTC" in message.message
    assert "<https://news.example/nato-russia>" in message.message
    assert (
        "*Rule 1: Membership Action Plan*\n> \u201cknown as **Membership Action Plans**\u201d"
        in message.message
    )


def test_feed_text_cannot_make_markup_of_its_own():
    alert = Alert(
        "Shares *soar* [sic]", "https://x.example/a", "Desk_1 <b> | Site", ALERT.published_at,
        "1. Not a list, # nor a heading", (),
    )  # fmt: skip
    title, body = render_markdown(alert)
    assert title == "Shares *soar* [sic]", "the title is plain text to Apprise"
    assert "Desk\\_1 \\<b\\> | Site" in body, "a pipe is no markup on its own: no backslash shown"
    assert "\n1\\. Not a list, \\# nor a heading\n" in body


async def test_matched_stories_reach_ntfy_and_a_refusal_is_tried_again(
    ntfy, feed_server, make_settings, start_app, clock
):
    feed_server.files["/world.xml"] = (SAMPLES / "world-news.xml").read_bytes()
    feeds = f"feeds:\n  - url: {feed_server.url('/world.xml')}\n    backfill: all\n"
    app, _ = await start_app(make_settings(feeds + subscribed(ntfy.address())))
    ntfy.too_many = 1
    await app.poll_due()
    assert (await app.deliver_due()).retried == 1
    assert ntfy.published == []
    clock.advance(timedelta(seconds=10))
    assert (await app.deliver_due()).sent == 1
    [message] = ntfy.published
    assert message.title == "NATO Agrees to Re-engage Russia"


async def test_each_address_is_paced_as_apprise_paces_its_service(
    ntfy, feed_server, make_settings, start_app, clock
):
    """ntfy takes a message every 5.5 s, as Apprise says: two stories at once go 5.5 s apart."""
    feed_server.files["/world.xml"] = (SAMPLES / "world-news.xml").read_bytes()
    feeds = f"feeds:\n  - url: {feed_server.url('/world.xml')}\n    backfill: all\n"
    app, _ = await start_app(make_settings(feeds + subscribed(ntfy.address(), rules="[Russia]")))
    await app.poll_due()
    assert (await app.deliver_due()).sent == 1
    clock.advance(timedelta(seconds=5))
    assert (await app.deliver_due()).sent == 0
    clock.advance(timedelta(seconds=1))
    assert (await app.deliver_due()).sent == 1
    assert len(ntfy.published) == 2


async def test_a_service_that_refuses_for_a_moment_says_what_apprise_said(ntfy, make_settings, start_app):
    app, _ = await start_app(make_settings(subscribed(ntfy.address())))
    ntfy.too_many = 1
    with pytest.raises(TransientDeliveryError, match="limit reached"):
        await app.channels["apprise"].send(ntfy.address(), ALERT)


@pytest.mark.parametrize(
    ("address", "said"),
    [
        ("foo://example.org/x", "Apprise knows no service foo://"),
        ("example.org/hook", "not an Apprise URL"),
        (f"gotify://{TOKEN}", "not a gotify:// URL Apprise can use"),
    ],
)
def test_an_address_apprise_cannot_use_is_refused_when_the_config_is_loaded(make_settings, address, said):
    with pytest.raises(ConfigError) as refused:
        make_settings(subscribed(address))
    assert refused.value.key == "subscriptions[0].address"
    assert said in str(refused.value)
    assert TOKEN not in str(refused.value)


async def test_the_apprise_channel_runs_only_when_a_subscription_uses_it(ntfy, make_settings, start_app):
    app, _ = await start_app(make_settings())
    assert "apprise" not in app.channels
    app, _ = await start_app(make_settings(subscribed(ntfy.address())))
    assert "apprise" in app.channels


@pytest.mark.parametrize(
    ("address", "shown"),
    [
        ("discord://1234567890/WebhookToken_abc", "discord://****/****"),
        (
            "mailtos://alerts:p%40ss-word@mail.example.org?to=a@example.org",
            "mailtos://alerts:****@mail.example.org?to=a@example.org",
        ),
        (
            "ntfys://ntfy.sh/news?token=tk_abcdef&format=markdown",
            "ntfys://ntfy.sh/news?token=****&format=markdown",
        ),
        ("ntfy://reader:hunter22@127.0.0.1:9/news", "ntfy://reader:****@127.0.0.1:9/news"),
        ("tgram://123456789:AAbbCCddEEff/-100200300", "tgram://****/-100200300"),
        ("gotify://gotify.example.org/AbCdEfGhIjKl", "gotify://gotify.example.org/****"),
        ("json://hook:s3cret-pass@127.0.0.1:9/in", "json://hook:****@127.0.0.1:9/in"),
    ],
)
def test_what_apprise_marks_private_in_a_url_is_masked(address, shown):
    assert read_address(address).shown == shown


def test_secrets_in_apprise_urls_are_masked_in_config_show_and_names(make_settings):
    settings = make_settings(
        subscribed(
            f"ntfy://127.0.0.1:9/news?token={TOKEN}",
            f"mailtos://alerts:{PASSWORD}@mail.example.org?to=reader@example.org",
            f"discord://1234567890/{TOKEN}",
        )
    )
    shown = str(settings.redacted())
    assert TOKEN not in shown and PASSWORD not in shown and "1234567890" not in shown
    assert "ntfy://127.0.0.1:9/news?token=****" in shown
    assert "mailtos://alerts:****@mail.example.org" in shown
    assert {TOKEN, PASSWORD, "1234567890"} <= set(settings.secret_values())
    from bot.app import config_subscriptions

    names = [sub.name for sub, _rules in config_subscriptions(settings)]
    assert names[0] == "apprise:ntfy://127.0.0.1:9/news?token=****"
    assert not any(TOKEN in name or PASSWORD in name for name in names)


async def newsalert(*args: str, cwd: Path) -> tuple[int, str, str]:
    """The command line in a process of its own, while this test's loop serves the fakes."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("NEWSALERT_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, cwd=cwd, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode or 0, out.decode(), err.decode()


async def test_a_secret_never_shows_in_config_show_or_the_log_when_a_service_refuses(ntfy, tmp_path):
    """The ntfy server wants another token: the address is refused for good, and the log says so
    without the token."""
    ntfy.token = "tk_the-right-one"
    config = tmp_path / "newsalert.yaml"
    address = ntfy.address(query=f"token={TOKEN}")
    config.write_text(
        f"database_url: sqlite:///{tmp_path}/newsalert.db\nfeeds:\n  - url: {SAMPLES / 'world-news.xml'}\n"
        f"    backfill: all\n{subscribed(address)}",
        encoding="utf-8",
    )
    code, out, err = await newsalert("config", "show", "--config", str(config), cwd=tmp_path)
    assert code == 0, err
    assert "token=****" in out and TOKEN not in out + err
    code, out, err = await newsalert("--debug", "run", "--once", "--config", str(config), cwd=tmp_path)
    assert code == 0, err
    assert "is gone" in err and "unauthorized" in err, err
    assert TOKEN not in out + err
    assert ntfy.published == []
