"""A signed webhook: each alert POSTed as JSON to a URL of the operator's, signed as Standard Webhooks
says (https://www.standardwebhooks.com/: `webhook-id`, `webhook-timestamp`, `webhook-signature`).

Its settings (`webhook:`) and the checks of a subscription's URL and `whsec_` secret first, then a pure
render (the payload and its signature), then a thin adapter: one aiohttp POST a message, its answer
translated for delivery.py. Send-only: nobody types commands into a webhook.

The URLs come from the config file, which is the operator's: they are trusted as its feeds are (a
receiver on the operator's own network is what a webhook is for), so no SSRF guard stands in between.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from pydantic import Field

from bot.channels.base import Address, Parts, Section, SendOnly, Spec
from bot.domain import Alert, Clock, Receipt, alert_record
from bot.errors import PermanentDeliveryError, TransientDeliveryError
from bot.pacing import Rate

if TYPE_CHECKING:
    import aiohttp

PREFIX = "whsec_"
SHORTEST, LONGEST = 24, 64  # bytes of a secret: Standard Webhooks' 192 to 512 bits
USER_AGENT = "newsalert-webhook"


# --- settings: `webhook:` in the config file, and a subscription's address and secret -------------


class WebhookSettings(Section):
    # seconds a receiver has to answer (Standard Webhooks suggests 15 to 30); longer is a failed try
    timeout: float = Field(15, gt=0, le=30)
    per_second: float = Field(5, gt=0, le=1000)  # POSTs a second to one URL, at most


def check_address(address: str) -> Address:
    """A webhook subscription's address: the http(s) URL it POSTs to, shown without its password."""
    url = urlsplit(address)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ValueError("a webhook's address is the http:// or https:// URL that alerts are POSTed to")
    if url.password is None:
        return Address(address)
    shown = url._replace(netloc=url.netloc.replace(f":{url.password}@", ":**********@", 1)).geturl()
    return Address(shown, (url.password, unquote(url.password)))


def check_secret(secret: str | None) -> None:
    """A webhook subscription's secret, as Standard Webhooks writes it: whsec_, then base64 of 24 to 64
    random bytes."""
    make = "make one with: echo whsec_$(openssl rand -base64 32)"
    if not secret:
        raise ValueError(
            f"a webhook subscription needs a secret (secret or secret_file) to sign with; {make}"
        )
    if not secret.startswith(PREFIX):
        raise ValueError(f"not a Standard Webhooks secret, which starts with {PREFIX}; {make}")
    try:
        size = len(key_of(secret))
    except ValueError:
        raise ValueError(f"not a Standard Webhooks secret: after {PREFIX} comes base64; {make}") from None
    if not SHORTEST <= size <= LONGEST:
        raise ValueError(
            f"the secret holds {size} bytes; Standard Webhooks takes {SHORTEST} to {LONGEST}; {make}"
        )


def key_of(secret: str) -> bytes:
    """The signing key a whsec_ secret stands for; ValueError when it is not base64."""
    try:
        return base64.b64decode(secret.removeprefix(PREFIX), validate=True)
    except binascii.Error:
        raise ValueError("not base64") from None


def build(settings: WebhookSettings, parts: Parts) -> WebhookChannel | None:
    """Started when the config file subscribes a webhook (every one has its secret)."""
    return WebhookChannel(settings, parts.secrets, parts.clock) if parts.secrets else None


SPEC = Spec(
    "webhook",
    build,
    WebhookSettings,
    {"NEWSALERT_WEBHOOK_TIMEOUT": ("timeout",), "NEWSALERT_WEBHOOK_PER_SECOND": ("per_second",)},
    address=check_address,
    secret=check_secret,
)


# --- render: pure ------------------------------------------------------------------------------


def payload(kind: str, data: Mapping[str, Any], now: datetime, **more: str) -> bytes:
    """The body: Standard Webhooks' envelope (type, timestamp: when it was sent, data), minified."""
    envelope = {"type": kind, "timestamp": now.isoformat().replace("+00:00", "Z"), **more, "data": data}
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()


def signature(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """`webhook-signature`: v1, then base64 of HMAC-SHA256 over "{id}.{timestamp}.{body}"."""
    signed = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(signed).decode()


def webhook_id(key: bytes, *what: object) -> str:
    """`webhook-id`, the same for the same message on every try, so a receiver can drop a repeat: made
    from what names the message (its outbox row) under the subscription's key, so that two bots with
    their own secrets never give one id."""
    mac = hmac.new(key, "\n".join(map(str, ("newsalert", *what))).encode(), hashlib.sha256).digest()
    return "msg_" + base64.b32encode(mac[:20]).decode().lower()


def alert_id(key: bytes, alert: Alert) -> str:
    """An alert's webhook-id: its outbox row's; an alert from no row (a test), its content's."""
    if alert.outbox_id is not None:
        return webhook_id(key, "outbox", alert.outbox_id)
    return webhook_id(key, "alert", json.dumps(alert_record(alert), sort_keys=True))


# --- the adapter -------------------------------------------------------------------------------


class WebhookChannel(SendOnly):
    name = "webhook"

    def __init__(self, settings: WebhookSettings, secrets: Mapping[str, str], clock: Clock):
        self.settings = settings
        self.keys = {address: key_of(secret) for address, secret in secrets.items()}
        self.clock = clock
        self.session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        import aiohttp

        timeout = aiohttp.ClientTimeout(total=self.settings.timeout)
        self.session = aiohttp.ClientSession(timeout=timeout, headers={"User-Agent": USER_AGENT})

    async def close(self) -> None:
        if self.session:
            await self.session.close()

    async def send(self, address: str, alert: Alert) -> Receipt:
        key = self._key(address)
        sent = alert_id(key, alert)
        await self._post(address, sent, payload("alert.created", alert_record(alert), self.clock.now()))
        return Receipt(sent)

    async def edit(self, address: str, message_id: str, alert: Alert) -> Receipt:
        """A webhook cannot change what it sent: the alert again, as alert.updated naming the first."""
        data = alert_record(alert)
        again = webhook_id(self._key(address), "edit", message_id, json.dumps(data, sort_keys=True))
        await self._post(address, again, payload("alert.updated", data, self.clock.now(), updates=message_id))
        return Receipt(message_id)

    async def send_digest(self, address: str, alerts: list[Alert], heading: str | None = None) -> Receipt:
        """One POST an alert, each with its own id: a receiver gets one kind of message, and when one
        POST fails the next try sends them all again, under the same ids, for the receiver to drop."""
        receipts = [await self.send(address, alert) for alert in alerts]
        return receipts[0]

    async def edit_digest(self, address: str, message_id: str, alerts: list[Alert], heading: str) -> Receipt:
        """A burst's rolling message gets the newest story last: that one is POSTed."""
        await self.send(address, alerts[-1])
        return Receipt(message_id)

    def per_chat(self, address: str) -> Rate | None:
        return Rate(self.settings.per_second)

    async def send_notice(self, address: str, text: str) -> Receipt:
        sent = webhook_id(self._key(address), "notice", text)
        await self._post(address, sent, payload("notice", {"text": text}, self.clock.now()))
        return Receipt(sent)

    def _key(self, address: str) -> bytes:
        key = self.keys.get(address)
        if key is None:  # every webhook subscription is the config file's: this one left it
            raise PermanentDeliveryError("the config file no longer subscribes this webhook")
        return key

    async def _post(self, address: str, sent: str, body: bytes) -> None:
        """One signed POST; the answer as delivery.py reads it: 2xx sent, 410 gone, anything else later
        (Retry-After honoured). Standard Webhooks counts every other answer as a failed try, and so do
        we: a 404 or 401 is most often a receiver being deployed or a secret being changed, and the
        alert waits in the outbox, retried (5 s, doubling to an hour) until the operator fixes it."""
        import aiohttp

        from bot.feeds.fetch import retry_after

        assert self.session, "start() first"
        now = self.clock.now()
        timestamp = int(now.timestamp())
        headers = {
            "Content-Type": "application/json",
            "webhook-id": sent,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(self._key(address), sent, timestamp, body),
        }
        try:
            async with self.session.post(
                address, data=body, headers=headers, allow_redirects=False
            ) as response:
                status, wait = response.status, retry_after(response.headers.get("Retry-After"), now)
        except (aiohttp.ClientError, TimeoutError) as error:  # the URL may hold a secret: never its text
            raise TransientDeliveryError(f"webhook unreachable: {type(error).__name__}") from None
        if 200 <= status < 300:
            return
        if status == 410:
            raise PermanentDeliveryError("the webhook answered 410 Gone")
        if 300 <= status < 400:
            raise TransientDeliveryError(f"the webhook answered {status}, a redirect: give its new URL", wait)
        raise TransientDeliveryError(f"the webhook answered {status}", wait)
