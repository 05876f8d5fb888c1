"""The signed webhook channel, end to end: a loopback feed, the app as `newsalert run` builds it, and a
loopback receiver that verifies what it gets as a receiver would, with Standard Webhooks' algorithm
written out here and with the standardwebhooks package."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from bot.check import check
from bot.config import load_settings
from bot.domain import alert_record
from bot.errors import ConfigError
from tests.conftest import ROOT, SAMPLES, SEED_TITLE
from tests.fakes.clock import FakeClock
from tests.fakes.webhook_receiver import SECRET, FakeReceiver, Post
from tests.test_channel_conformance import ALERT
from tests.test_end_to_end import NEW_ITEM, NEXT_POLL

WORLD = (SAMPLES / "world-news.xml").read_bytes()
CONFIG = """
feeds:
  - url: {feed}
    name: World Desk
    backfill: all
subscriptions:
  - channel: webhook
    address: {hook}
    secret: {secret}
    rules: [Membership Action Plan]
"""


@pytest.fixture
def clock() -> FakeClock:
    """Near the real time: a receiver refuses a webhook-timestamp more than five minutes off."""
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
async def receiver():
    fake = await FakeReceiver().start()
    yield fake
    await fake.stop()


@pytest.fixture
def settings(feed_server, receiver, make_settings):
    feed_server.files["/world.xml"] = WORLD
    return make_settings(CONFIG.format(feed=feed_server.url("/world.xml"), hook=receiver.url, secret=SECRET))


def reference_signature(secret: str, post: Post) -> str:
    """Standard Webhooks' scheme, written out: v1, then base64 of HMAC-SHA256, keyed by the secret's
    bytes after whsec_, over "{webhook-id}.{webhook-timestamp}.{body}"."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{post.headers['webhook-id']}.{post.headers['webhook-timestamp']}.".encode() + post.body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


async def test_an_alert_is_posted_as_json_signed_with_the_reference_algorithm(
    settings, start_app, receiver, clock
):
    app, _ = await start_app(settings)
    await app.poll_due()
    assert (await app.deliver_due()).sent == 1
    [post] = receiver.received()
    assert post.headers["content-type"] == "application/json"
    assert post.headers["webhook-id"].startswith("msg_")
    assert post.headers["webhook-timestamp"] == str(int(clock.now().timestamp()))
    assert hmac.compare_digest(post.headers["webhook-signature"], reference_signature(SECRET, post))
    other = "whsec_" + base64.b64encode(b"another receiver's secret").decode()
    assert post.headers["webhook-signature"] != reference_signature(other, post)
    assert post.json["type"] == "alert.created"
    assert post.json["data"]["title"] == SEED_TITLE


async def test_the_standardwebhooks_package_verifies_it_and_refuses_it_altered(settings, start_app, receiver):
    app, _ = await start_app(settings)
    await app.poll_due()
    await app.deliver_due()
    [post] = receiver.received()
    assert Webhook(SECRET).verify(post.body, post.headers)["data"]["title"] == SEED_TITLE
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(post.body.replace(b"NATO", b"OTAN"), post.headers)


async def test_the_payload_is_the_same_record_as_check_json(settings, start_app, receiver):
    app, _ = await start_app(settings)
    await app.poll_due()
    await app.deliver_due()
    [post] = receiver.received()
    report = await check(settings, [(settings.feeds[0].url, "World Desk")], ["Membership Action Plan"])
    [checked] = report.alerts
    expected = checked.record()
    del expected["story"]  # the check's own numbering of its stories
    assert post.json["data"] == expected
    assert set(post.json) == {"type", "timestamp", "data"}


async def test_a_retry_after_a_503_carries_the_same_webhook_id_when_the_receiver_asked(
    settings, start_app, receiver, clock
):
    receiver.answers.append((503, "120"))
    app, _ = await start_app(settings)
    await app.poll_due()
    assert (await app.deliver_due()).retried == 1
    clock.advance(timedelta(seconds=60))
    assert (await app.deliver_due()).claimed == 0, "Retry-After: 120 is honoured"
    clock.advance(timedelta(seconds=61))
    assert (await app.deliver_due()).sent == 1
    first, second = receiver.posts
    assert (first.status, second.status) == (503, 200)
    assert first.headers["webhook-id"] == second.headers["webhook-id"], "the receiver can drop a repeat"
    assert int(second.headers["webhook-timestamp"]) - int(first.headers["webhook-timestamp"]) == 121
    assert second.headers["webhook-signature"] == reference_signature(SECRET, second)


@pytest.mark.parametrize("status", [404, 401, 307])
async def test_another_refusal_or_a_redirect_is_tried_again_not_dropped(
    settings, start_app, receiver, clock, status
):
    receiver.answers.append((status, None))
    app, _ = await start_app(settings)
    await app.poll_due()
    assert (await app.deliver_due()).retried == 1
    clock.advance(timedelta(seconds=6))  # the outbox's first retry: 5 s
    assert (await app.deliver_due()).sent == 1
    assert [p.status for p in receiver.posts] == [status, 200], "a redirect is not followed"


async def test_a_410_stops_the_subscription(settings, start_app, receiver, feed_server, clock):
    receiver.gone = True
    app, _ = await start_app(settings)
    await app.poll_due()
    assert (await app.deliver_due()).gone == 1
    assert await app.store.count_outbox() == {"gone": 1}
    feed_server.files["/world.xml"] = WORLD.replace(b"<item>", NEW_ITEM + b"    <item>", 1)
    clock.advance(NEXT_POLL)
    await app.poll_due()
    await app.deliver_due()
    assert len(receiver.posts) == 1, "nothing more is posted to a receiver that said 410 Gone"


async def test_an_edit_is_posted_as_alert_updated_naming_the_first(settings, start_app, receiver):
    app, _ = await start_app(settings)
    channel = app.channels["webhook"]
    alert = replace(ALERT, outbox_id=7)
    first = await channel.send(receiver.url, alert)
    assert (await channel.send(receiver.url, alert)).message_id == first.message_id, "same row, same id"
    joined = replace(alert, also_in=("AP",))
    await channel.edit(receiver.url, first.message_id, joined)
    await channel.edit(receiver.url, first.message_id, joined)
    [update, again] = receiver.received("alert.updated")
    assert update.json["updates"] == first.message_id
    assert update.json["data"]["also_in"] == ["AP"]
    assert update.headers["webhook-id"] == again.headers["webhook-id"] != first.message_id


async def test_a_digest_is_one_post_an_alert_each_with_its_own_id(settings, start_app, receiver):
    app, _ = await start_app(settings)
    channel = app.channels["webhook"]
    alerts = [replace(ALERT, outbox_id=1), replace(ALERT, title="Russia Welcomes It", outbox_id=2)]
    await channel.send_digest(receiver.url, alerts, "2 new stories")
    await channel.send_digest(receiver.url, alerts, "2 new stories")  # a retry, after a failure
    ids = [p.headers["webhook-id"] for p in receiver.received("alert.created")]
    assert [p.json["data"]["title"] for p in receiver.received()][:2] == [ALERT.title, "Russia Welcomes It"]
    assert ids[:2] == ids[2:] and ids[0] != ids[1]


async def test_a_notice_is_posted_as_its_own_type(settings, start_app, receiver):
    app, _ = await start_app(settings)
    await app.channels["webhook"].send_notice(receiver.url, "World Desk has failed for a day")
    [post] = receiver.received()
    assert post.json["type"] == "notice"
    assert post.json["data"] == {"text": "World Desk has failed for a day"}
    assert post.headers["webhook-signature"] == reference_signature(SECRET, post)


# --- the config file ---------------------------------------------------------------------------


def load(tmp_path, subscription: str, environ: dict[str, str] | None = None):
    path = tmp_path / "newsalert.yaml"
    path.write_text(f"subscriptions:\n  - channel: webhook\n    rules: [MAP]\n{subscription}")
    return load_settings(path, environ or {})


@pytest.mark.parametrize(
    "subscription, key, problem",
    [
        ("    address: https://hooks.example/a\n", "subscriptions[0].secret", "needs a secret"),
        (
            "    address: https://hooks.example/a\n    secret: MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n",
            "subscriptions[0].secret",
            "starts with whsec_",
        ),
        (
            "    address: https://hooks.example/a\n    secret: whsec_not base64!\n",
            "subscriptions[0].secret",
            "after whsec_ comes base64",
        ),
        (
            "    address: https://hooks.example/a\n    secret: whsec_c2hvcnQ=\n",
            "subscriptions[0].secret",
            "holds 5 bytes; Standard Webhooks takes 24 to 64",
        ),
        (
            f"    address: stdout\n    secret: {SECRET}\n",
            "subscriptions[0].address",
            "http:// or https:// URL",
        ),
    ],
)
def test_a_bad_secret_or_address_is_refused_at_load_without_echoing_it(tmp_path, subscription, key, problem):
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, subscription)
    assert caught.value.key == key
    assert problem in str(caught.value)
    assert "openssl rand" in str(caught.value) or key.endswith("address")
    for given in ("MfKQ9r8G", "not base64", "c2hvcnQ", "stdout"):
        assert given not in str(caught.value)


def test_a_secret_file_is_read_relative_to_the_config_file(tmp_path):
    (tmp_path / "hook.secret").write_text(SECRET + "\n")
    settings = load(tmp_path, "    address: https://hooks.example/a\n    secret_file: hook.secret\n")
    assert settings.secrets_of("webhook") == {"https://hooks.example/a": SECRET}
    assert settings.secrets_of("telegram") == {}


@pytest.mark.parametrize(
    "subscription, problem",
    [
        (f"    address: https://h.example/a\n    secret: {SECRET}\n    secret_file: x\n", "not both"),
        ("    address: https://h.example/a\n    secret_file: missing.secret\n", "no file at"),
    ],
)
def test_a_secret_file_that_cannot_be_used_is_refused(tmp_path, subscription, problem):
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, subscription)
    assert caught.value.key == "subscriptions[0].secret_file"
    assert problem in str(caught.value)


def test_a_channel_that_takes_no_secret_refuses_one(tmp_path):
    path = tmp_path / "newsalert.yaml"
    path.write_text(
        f"subscriptions:\n  - {{channel: telegram, address: '1', secret: {SECRET}, rules: [MAP]}}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path, {})
    assert caught.value.key == "subscriptions[0].secret"
    assert "telegram subscriptions take no secret" in str(caught.value)
    assert SECRET not in str(caught.value)


def test_config_show_blanks_the_secret_and_a_password_in_the_url(tmp_path):
    url = "https://newsalert:hunter2-password@hooks.example/a"
    shown = load(tmp_path, f"    address: {url}\n    secret: {SECRET}\n").redacted()
    [subscription] = shown["subscriptions"]
    assert subscription["secret"] == "**********"
    assert subscription["address"] == "https://newsalert:**********@hooks.example/a"
    assert SECRET not in str(shown) and "hunter2" not in str(shown)


# --- docs/webhook.md ---------------------------------------------------------------------------


def _python_block(marker: str) -> str:
    text = (ROOT / "docs" / "webhook.md").read_text(encoding="utf-8")
    return next(b for b in re.findall(r"^```python\n(.*?)^```", text, re.M | re.S) if marker in b)


async def test_the_docs_receiver_snippet_verifies_what_is_posted(settings, start_app, receiver):
    app, _ = await start_app(settings)
    await app.poll_due()
    await app.deliver_due()
    [post] = receiver.received()
    space: dict = {}
    exec(_python_block("def verify"), space)
    assert space["verify"](post.headers, post.body, SECRET)["data"]["title"] == SEED_TITLE
    with pytest.raises(ValueError, match="bad signature"):
        space["verify"](post.headers, post.body + b" ", SECRET)


def test_the_docs_sample_payload_has_the_keys_sent():
    text = (ROOT / "docs" / "webhook.md").read_text(encoding="utf-8")
    sample = json.loads(re.search(r"^```json\n(.*?)^```", text, re.M | re.S)[1])
    assert set(sample["data"]) == set(alert_record(ALERT))
