"""The bot starts with whatever it can reach: Telegram or Slack down at start stops neither the feeds
nor the other channels; that chat app's alerts wait in the outbox, it is tried again (backing off),
and /healthz says "degraded" until it answers. A token refused is fatal."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest
from aiohttp import ClientSession

from bot.errors import ConfigError
from bot.web import build_web_app, start_web
from tests.conftest import SAMPLES, SEED_TITLE
from tests.fakes.slack_api import BOT_TOKEN, SIGNING_SECRET, FakeSlack
from tests.fakes.telegram_api import TOKEN, FakeTelegram
from tests.test_cli import _listening_port, clean_env, started, write_config

WORLD = (SAMPLES / "world-news.xml").read_bytes()
RULE = "Membership Action Plan"


async def port_of_a_server_gone(fake: FakeTelegram | FakeSlack) -> int:
    """Start the fake to learn its address, then stop it: nothing answers there any more."""
    await fake.start()
    await fake.stop()
    return int(fake.base_url.rsplit(":", 1)[1])


def chat_config(feed_url: str, channel: str, address: str, settings: str) -> str:
    return (
        f"{settings}feeds:\n  - url: {feed_url}\n    name: World Desk\n    backfill: all\n"
        f"subscriptions:\n  - channel: {channel}\n    address: '{address}'\n    rules: [{RULE}]\n"
        f"  - channel: console\n    rules: [{RULE}]\n"
    )


async def healthz(app) -> tuple[int, dict]:
    runner, port = await start_web(build_web_app(app.health), "127.0.0.1", 0)
    try:
        async with ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz") as response:
            return response.status, await response.json()
    finally:
        await runner.cleanup()


async def test_telegram_down_at_start_then_up_sends_what_waited_and_health_recovers(
    feed_server, make_settings, start_app, clock
):
    telegram = FakeTelegram()
    port = await port_of_a_server_gone(telegram)
    feed_server.files["/world.xml"] = WORLD
    settings = make_settings(
        chat_config(
            feed_server.url("/world.xml"),
            "telegram",
            "1001",
            f"telegram:\n  token: {TOKEN}\n  api_url: {telegram.api_url}\n",
        )
    )
    app, out = await start_app(settings)  # no ConfigError: Telegram is not a setting that is wrong
    await app.poll_due()
    await app.deliver_due()
    assert f"== {SEED_TITLE}" in out.getvalue(), "the feeds are polled and the console alerts meanwhile"
    assert await app.store.count_outbox() == {"sent": 1, "pending": 1}, "Telegram's alert waits"
    status, body = await healthz(app)
    assert (status, body["status"]) == (200, "degraded")
    [problem] = body["problems"]
    assert problem.startswith(f"telegram: cannot reach Telegram at 127.0.0.1:{port} (")
    assert problem.endswith("; its alerts wait in the outbox (next try 12:00:05)")
    assert TOKEN not in problem

    clock.advance(timedelta(seconds=5))
    assert await app.connect_due() == [], "still down"
    assert (await app.health())[1]["problems"][0].endswith("(next try 12:00:15)"), "it backs off: 10 s"
    await telegram.start(port)  # Telegram is back
    try:
        clock.advance(timedelta(seconds=9))
        assert await app.connect_due() == [], "not before its time"
        clock.advance(timedelta(seconds=1))
        assert [channel.name for channel in await app.connect_due()] == ["telegram"]
        assert (await app.deliver_due()).sent == 1
        [alert] = telegram.to(1001)
        assert alert["text"].startswith(SEED_TITLE)
        assert await app.store.count_outbox() == {"sent": 2}
        assert await healthz(app) == (200, {"status": "ok", **(await app.health())[1]})
        assert "problems" not in (await app.health())[1]
    finally:
        await telegram.stop()


async def test_a_token_refused_when_telegram_comes_back_is_fatal(
    feed_server, make_settings, start_app, clock
):
    telegram = FakeTelegram()
    port = await port_of_a_server_gone(telegram)
    settings = make_settings(
        chat_config(
            feed_server.url("/world.xml"),
            "telegram",
            "1001",
            f"telegram:\n  token: {TOKEN}\n  api_url: {telegram.api_url}\n",
        )
    )
    app, _out = await start_app(settings)
    telegram.token = "654321:another-bot"  # the token was revoked meanwhile
    await telegram.start(port)
    try:
        clock.advance(timedelta(seconds=5))
        with pytest.raises(ConfigError, match=r"^telegram.token: Telegram refused this token \(401"):
            await app.connect_due()
    finally:
        await telegram.stop()


async def test_slack_down_at_start_then_up_sends_what_waited(feed_server, make_settings, start_app, clock):
    slack = FakeSlack()
    port = await port_of_a_server_gone(slack)
    feed_server.files["/world.xml"] = WORLD
    settings = make_settings(
        chat_config(
            feed_server.url("/world.xml"),
            "slack",
            "C1",
            f"slack:\n  bot_token: {BOT_TOKEN}\n  signing_secret: {SIGNING_SECRET}\n"
            f"  api_url: {slack.api_url}\n",
        )
    )
    app, out = await start_app(settings)
    await app.poll_due()
    await app.deliver_due()
    assert f"== {SEED_TITLE}" in out.getvalue()
    status, details = await app.health()
    assert status == "degraded"
    assert details["problems"][0].startswith(f"slack: cannot reach Slack at 127.0.0.1:{port} (Client")
    await slack.start(port)
    try:
        clock.advance(timedelta(seconds=5))
        assert [channel.name for channel in await app.connect_due()] == ["slack"]
        assert (await app.deliver_due()).sent == 1
        assert len(slack.to("C1")) == 1
        assert (await app.health())[0] == "ok"
    finally:
        await slack.stop()


async def test_health_is_503_only_when_the_core_fails(feed_server, make_settings, start_app, clock):
    telegram = FakeTelegram()
    await port_of_a_server_gone(telegram)
    settings = make_settings(
        chat_config(
            feed_server.url("/world.xml"),
            "telegram",
            "1001",
            f"telegram:\n  token: {TOKEN}\n  api_url: {telegram.api_url}\n",
        )
    )
    app, _out = await start_app(settings)
    status, body = await healthz(app)
    assert (status, body["status"]) == (503, "unhealthy"), "polling has not run: the core does not work"
    assert body["problems"][:2] == ["poll has not run yet", "deliver has not run yet"]
    assert body["problems"][2].startswith("telegram: cannot reach Telegram")


async def test_slack_starts_without_warning_about_its_token(
    make_settings, start_app, monkeypatch, caplog, tmp_path
):
    """SLACK_BOT_TOKEN is where the token comes from; bolt used to warn on every start that our client's
    token wins over it."""
    slack = await FakeSlack().start()
    try:
        monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
        settings = make_settings(
            f"slack:\n  signing_secret: {SIGNING_SECRET}\n  api_url: {slack.api_url}\n",
            {"SLACK_BOT_TOKEN": BOT_TOKEN},
        )
        with caplog.at_level(logging.INFO):
            app, _out = await start_app(settings)
        assert "slack" in app.channels and not app.waiting
        assert [r.getMessage() for r in caplog.records if r.name.startswith("slack_bolt")] == []
    finally:
        await slack.stop()


async def test_a_running_bot_stops_when_telegram_comes_back_refusing_its_token(tmp_path):
    """The real `newsalert run`: degraded while Telegram is down, and when Telegram answers again but
    refuses the token (revoked meanwhile), it stops with the reason and exit code 2: waiting longer
    cannot help."""
    telegram = FakeTelegram(token="654321:the-new-token")
    port = await port_of_a_server_gone(telegram)
    env = {**clean_env(), "TELEGRAM_BOT_TOKEN": TOKEN, "NEWSALERT_TELEGRAM_API_URL": telegram.api_url}
    process = await started("run", "--config", str(write_config(tmp_path)), cwd=tmp_path, env=env)
    try:
        web_port = await asyncio.wait_for(_listening_port(process), timeout=30)
        alert = await asyncio.wait_for(process.stdout.readline(), timeout=30)
        assert alert.decode().strip() == f"== {SEED_TITLE}", "polled and delivered to the console meanwhile"
        async with ClientSession() as http, http.get(f"http://127.0.0.1:{web_port}/healthz") as response:
            assert response.status == 200
            assert (await response.json())["status"] == "degraded"
        await telegram.start(port)
        assert await asyncio.wait_for(process.wait(), timeout=60) == 2
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await telegram.stop()
    stderr = (await process.stderr.read()).decode()
    assert "Traceback" not in stderr and TOKEN not in stderr
    assert stderr.splitlines()[-2:] == [
        "newsalert: configuration error: telegram.token: Telegram refused this token (401 Unauthorized)",
        "  Copy it again from @BotFather (/mybots, then API Token); a revoked token no longer works.",
    ]
