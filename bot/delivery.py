"""The dispatcher: claim due alerts, send each through its channel, record what happened."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.channels.base import Channel
from bot.domain import Clock, Delivery
from bot.errors import PermanentDeliveryError, TransientDeliveryError
from bot.store import Store

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)  # a crashed worker's claims come free after this
MAX_RETRY_DELAY = timedelta(hours=1)


def retry_at(now: datetime, attempts: int, retry_after: float | None) -> datetime:
    """When to try again: exactly when the chat API asked, else doubling from 5 s, capped."""
    if retry_after is not None:
        return now + timedelta(seconds=retry_after)
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
    deliveries = await store.claim_due_deliveries(clock.now(), channels.keys(), limit, LEASE)
    outcomes = [await _deliver(store, channels[d.subscription.channel], d, clock) for d in deliveries]
    return DeliveryReport(outcomes.count("sent"), outcomes.count("retry"), outcomes.count("gone"))


async def _deliver(store: Store, channel: Channel, delivery: Delivery, clock: Clock) -> str:
    subscription = delivery.subscription
    try:
        receipt = await channel.send(subscription.address, delivery.alert)
    except TransientDeliveryError as error:
        at = retry_at(clock.now(), delivery.attempts, error.retry_after)
        log.warning("alert %s to %s delayed until %s: %s", delivery.id, subscription.name, at, error)
        await store.mark_retry(delivery.id, at, str(error))
        return "retry"
    except PermanentDeliveryError as error:
        log.warning("alert %s: %s is gone (%s); subscription paused", delivery.id, subscription.name, error)
        await store.mark_gone(delivery, error.reason)
        return "gone"
    except Exception as error:  # a bug or an untranslated error must not lose the alert
        log.exception("alert %s to %s failed unexpectedly; will retry", delivery.id, subscription.name)
        await store.mark_retry(delivery.id, retry_at(clock.now(), delivery.attempts, None), repr(error))
        return "retry"
    await store.mark_sent(delivery.id, receipt.message_id, clock.now())
    return "sent"
