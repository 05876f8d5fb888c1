"""The dispatcher: claim due alerts and notices, send each through its channel, record what happened."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from bot.channels.base import Channel
from bot.domain import Clock, Receipt, Subscription
from bot.errors import AddressMovedError, PermanentDeliveryError, TransientDeliveryError
from bot.store import Store

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)  # a crashed worker's claims come free after this
MAX_RETRY_DELAY = timedelta(hours=1)
MAX_RETRY_AFTER = 7 * 86400  # seconds: a chat API asking for longer is read as a week


def retry_at(now: datetime, attempts: int, retry_after: float | None) -> datetime:
    """When to try again: exactly when the chat API asked, else doubling from 5 s, capped."""
    if retry_after is not None:
        return now + timedelta(seconds=min(max(retry_after, 0), MAX_RETRY_AFTER))
    return now + min(timedelta(seconds=5 * 2 ** min(attempts, 12)), MAX_RETRY_DELAY)


@dataclass(frozen=True)
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    gone: int = 0

    @property
    def claimed(self) -> int:
        return self.sent + self.retried + self.gone


async def deliver_due(
    store: Store, channels: Mapping[str, Channel], clock: Clock, limit: int = 100
) -> DeliveryReport:
    """Send what is due: alerts, then notices about the service, each through its channel."""
    outcomes = []
    for delivery in await store.claim_due_deliveries(clock.now(), channels.keys(), limit, LEASE):
        channel = channels[delivery.subscription.channel]
        if delivery.message_id:  # sent already; another outlet joined the story: update it in place
            send = partial(channel.edit, delivery.subscription.address, delivery.message_id, delivery.alert)
        else:
            send = partial(channel.send, delivery.subscription.address, delivery.alert)
        outcomes.append(
            await _attempt(
                store, "outbox", delivery.id, delivery.attempts, delivery.subscription, send, clock
            )
        )
    for notice in await store.claim_due_notices(clock.now(), channels.keys(), limit, LEASE):
        channel = channels[notice.subscription.channel]
        send = partial(channel.send_notice, notice.subscription.address, notice.text)
        outcomes.append(
            await _attempt(store, "notices", notice.id, notice.attempts, notice.subscription, send, clock)
        )
    return DeliveryReport(outcomes.count("sent"), outcomes.count("retry"), outcomes.count("gone"))


async def _attempt(
    store: Store,
    kind: str,
    row_id: int,
    attempts: int,
    subscription: Subscription,
    send: Callable[[], Awaitable[Receipt]],
    clock: Clock,
) -> str:
    """One try at one message; the row records the outcome. Returns sent, retry or gone."""
    try:
        receipt = await send()
    except TransientDeliveryError as error:
        at = retry_at(clock.now(), attempts, error.retry_after)
        log.warning("%s %s to %s delayed until %s: %s", kind, row_id, subscription.name, at, error)
        await store.mark_retry(kind, row_id, at, str(error))
        return "retry"
    except AddressMovedError as error:  # same chat, new id: follow it and send again at once
        log.info("%s moved to %s", subscription.name, error.new_address)
        await store.move_subscription(subscription.id, error.new_address)
        await store.mark_retry(kind, row_id, clock.now(), str(error))
        return "retry"
    except PermanentDeliveryError as error:
        log.warning("%s %s: %s is gone (%s); subscription paused", kind, row_id, subscription.name, error)
        await store.mark_gone(kind, row_id, subscription.id, error.reason)
        return "gone"
    except Exception as error:  # a bug or an untranslated error must not lose the message
        log.exception("%s %s to %s failed unexpectedly; will retry", kind, row_id, subscription.name)
        await store.mark_retry(kind, row_id, retry_at(clock.now(), attempts, None), repr(error))
        return "retry"
    await store.mark_sent(kind, row_id, receipt.message_id, clock.now())
    return "sent"
