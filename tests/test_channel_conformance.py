"""What every registered channel must do, the same test for each (bot/channels/__init__.py lists them):
send an alert a reader can read, edit it where the chat app can, refuse an address that is gone
(PermanentDeliveryError: delivery stops sending there) and pass on a rate limit
(TransientDeliveryError with the wait the chat app asked for).

Each channel is built by the app from its settings, as `newsalert run` builds it, and talks to its
fake on loopback. A new channel adds one entry to HARNESSES (docs/channels.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import pytest

from bot.channels import CHANNELS
from bot.channels.base import Channel
from bot.domain import Alert, Match, Quote
from bot.errors import PermanentDeliveryError, TransientDeliveryError
from tests.fakes.ntfy_server import FakeNtfy
from tests.fakes.slack_api import BOT_TOKEN, SIGNING_SECRET, FakeSlack, seen
from tests.fakes.telegram_api import TOKEN, FakeTelegram
from tests.fakes.webhook_receiver import SECRET, FakeReceiver

ALERT = Alert(
    title="NATO Agrees to Re-engage Russia",
    link="https://news.example/nato-russia",
    feed_name="World Desk",
    published_at=datetime(2008, 12, 2, 14, 0, tzinfo=UTC),
    summary="NATO on Tuesday agreed to gradually resume contacts with Russia.",
    matches=(Match(1, "Membership Action Plan", Quote("known as Membership Action Plans", ((9, 32),))),),
)


@dataclass
class Harness:
    """A started channel, an address it sends to, and its fake's side of things."""

    channel: Channel
    address: str
    shown: Callable[[], list[str]]  # what each message sent so far shows its reader, in order
    edited: Callable[[], list[str]] | None = None  # what each edit shows (None: the app cannot edit)
    gone: Callable[[str], None] | None = None  # make an address refuse for good (None: none can)
    slow_down: Callable[[int], None] | None = None  # the next send is refused: wait this many seconds


async def console_harness(make_settings, start_app, stack) -> Harness:
    app, out = await start_app(make_settings())
    return Harness(app.channels["console"], "stdout", lambda: [out.getvalue()])


async def telegram_harness(make_settings, start_app, stack) -> Harness:
    fake = await FakeTelegram().start()
    stack.append(fake.stop)
    app, _ = await start_app(make_settings(f"telegram:\n  token: '{TOKEN}'\n  api_url: {fake.api_url}\n"))

    def slow_down(seconds: int) -> None:
        fake.too_many, fake.retry_after = 1, seconds

    return Harness(
        app.channels["telegram"],
        "1001",
        lambda: [m["text"] for m in fake.sent],
        edited=lambda: [m["text"] for m in fake.edits],
        gone=lambda address: fake.blocked.add(int(address)),
        slow_down=slow_down,
    )


async def slack_harness(make_settings, start_app, stack) -> Harness:
    fake = await FakeSlack().start()
    stack.append(fake.stop)
    yaml = (
        f"slack:\n  bot_token: {BOT_TOKEN}\n  signing_secret: {SIGNING_SECRET}\n  api_url: {fake.api_url}\n"
    )
    app, _ = await start_app(make_settings(yaml))

    def slow_down(seconds: int) -> None:
        fake.too_many, fake.retry_after = 1, seconds

    return Harness(
        app.channels["slack"],
        "C1",
        lambda: ["\n".join(seen(block) for block in m["blocks"] or []) for m in fake.posted],
        edited=lambda: ["\n".join(seen(block) for block in u["blocks"]) for u in fake.updates],
        gone=lambda address: fake.errors.update({address: "channel_not_found"}),
        slow_down=slow_down,
    )


async def apprise_harness(make_settings, start_app, stack) -> Harness:
    """Through ntfy: Apprise says only whether a message went, never how long to wait (no slow_down)."""
    fake = await FakeNtfy().start()
    stack.append(fake.stop)
    address = fake.address()
    yaml = f"subscriptions:\n  - channel: apprise\n    address: '{address}'\n    rules: [NATO]\n"
    app, _ = await start_app(make_settings(yaml))
    return Harness(
        app.channels["apprise"],
        address,
        lambda: [f"{m.title}\n{m.message}" for m in fake.published],
        gone=lambda address: fake.forbidden.add(address.split("/")[-1].split("?")[0]),
    )


async def webhook_harness(make_settings, start_app, stack) -> Harness:
    fake = await FakeReceiver().start()
    stack.append(fake.stop)
    yaml = f"subscriptions:\n  - {{channel: webhook, address: '{fake.url}', secret: {SECRET}, rules: [X]}}\n"
    app, _ = await start_app(make_settings(yaml))

    def gone(address: str) -> None:
        fake.gone = True

    def slow_down(seconds: int) -> None:
        fake.answers.append((429, str(seconds)))

    return Harness(
        app.channels["webhook"],
        fake.url,
        lambda: [p.body.decode() for p in fake.received("alert.created")],
        edited=lambda: [p.body.decode() for p in fake.received("alert.updated")],
        gone=gone,
        slow_down=slow_down,
    )


# every registered channel, by name: how to start it against its fake
HARNESSES: dict[str, Callable[..., Awaitable[Harness]]] = {
    "console": console_harness,
    "telegram": telegram_harness,
    "slack": slack_harness,
    "apprise": apprise_harness,
    "webhook": webhook_harness,
}


def test_every_registered_channel_takes_this_test():
    assert sorted(HARNESSES) == sorted(spec.name for spec in CHANNELS)


@pytest.fixture(params=[spec.name for spec in CHANNELS])
async def harness(request, make_settings, start_app) -> AsyncIterator[Harness]:
    stack: list[Callable[[], Awaitable[None]]] = []
    try:
        yield await HARNESSES[request.param](make_settings, start_app, stack)
    finally:
        for stop in stack:
            await stop()


async def test_an_alert_sent_shows_its_title_source_and_the_rule_it_matched(harness):
    receipt = await harness.channel.send(harness.address, ALERT)
    assert receipt.message_id
    [message] = harness.shown()
    assert "NATO Agrees to Re-engage Russia" in message
    assert "World Desk" in message
    assert "Membership Action Plan" in message


async def test_an_edit_names_the_outlets_that_joined_the_story(harness):
    receipt = await harness.channel.send(harness.address, ALERT)
    again = await harness.channel.edit(harness.address, receipt.message_id, replace(ALERT, also_in=("AP",)))
    assert again.message_id == receipt.message_id, "the same message, edited"
    if harness.edited is None:
        pytest.skip(f"{harness.channel.name} cannot edit what it sent")
    [edit] = harness.edited()
    assert "AP" in edit and "NATO Agrees to Re-engage Russia" in edit
    assert len(harness.shown()) == 1, "no second message"


async def test_an_address_that_is_gone_is_refused_for_good(harness):
    if harness.gone is None:
        pytest.skip(f"{harness.channel.name} has no address that can go away")
    harness.gone(harness.address)
    with pytest.raises(PermanentDeliveryError):
        await harness.channel.send(harness.address, ALERT)
    assert harness.shown() == []


async def test_a_rate_limit_says_how_long_to_wait_and_the_next_try_is_sent(harness):
    if harness.slow_down is None:
        pytest.skip(f"{harness.channel.name} has no rate limit")
    harness.slow_down(7)
    with pytest.raises(TransientDeliveryError) as refused:
        await harness.channel.send(harness.address, ALERT)
    assert refused.value.retry_after == 7
    await harness.channel.send(harness.address, ALERT)
    assert len(harness.shown()) == 1


async def test_a_digest_lists_every_story_it_holds(harness):
    other = replace(ALERT, title="Russia Welcomes the Decision", link="https://news.example/russia")
    await harness.channel.send_digest(harness.address, [ALERT, other])
    shown = "\n".join(harness.shown())
    assert "NATO Agrees to Re-engage Russia" in shown and "Russia Welcomes the Decision" in shown
