"""The dispatcher: claim due alerts and notices, send each through its channel, record what happened."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from bot.channels.base import Channel
from bot.domain import Alert, Clock, Delivery, Receipt, Subscription
from bot.errors import AddressMovedError, PermanentDeliveryError, TransientDeliveryError
from bot.metrics import Metrics
from bot.pacing import Bursts, Pacer, release_at
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

    @classmethod
    def of(cls, outcomes: list[str]) -> DeliveryReport:
        return cls(outcomes.count("sent"), outcomes.count("retry"), outcomes.count("gone"))

    def __add__(self, other: DeliveryReport) -> DeliveryReport:
        return DeliveryReport(self.sent + other.sent, self.retried + other.retried, self.gone + other.gone)


MAX_PACE_WAIT = 0.25  # seconds a round waits for the chat app's pace before moving on
ROLLING_MAX = 15  # stories a rolling message lists (the latest)
MAX_ROUNDS = 1000  # one call sends at most this many messages per chat-queue before returning
DIGEST_MAX = 50  # alerts in one digest; more make another


@dataclass
class Dispatcher:
    """Sends what is due, as fast as each chat app allows and each chat asked for."""

    store: Store
    channels: Mapping[str, Channel]
    clock: Clock
    pacer: Pacer = field(default_factory=Pacer)
    lease: timedelta = LEASE  # a crashed process's claims come free after this
    limit: int = 100  # chat-queues looked at per round
    bursts: Bursts = field(default_factory=Bursts)
    metrics: Metrics = field(default_factory=Metrics)
    # (chat, rule) -> its rolling message, the latest stories, how many in all
    rolling: dict[tuple[int, int], tuple[str, list[Alert], int]] = field(default_factory=dict)
    # messages sent whose rows the database did not take "sent" for (a full disk, a lost connection):
    # recorded before anything more is claimed; meanwhile their claims keep other replicas off them
    unrecorded: list[tuple[str, list[int], str | None, datetime]] = field(default_factory=list)

    async def deliver_due(self, only: Collection[str] | None = None) -> DeliveryReport:
        """The next alert of each chat, round after round while the pace allows (a digest when the
        chat asked for one), then notices about the service; for every channel, or `only` these.

        A database error goes up, and stops the round where it is: what was sent but not recorded is
        recorded on the next call, before anything else, so nothing is sent twice."""
        await self.record_sent()
        channels = {name: c for name, c in self.channels.items() if only is None or name in only}
        await self.store.drop_muted(self.clock.now())  # once a call, not once a round
        report = DeliveryReport()
        for _ in range(MAX_ROUNDS):
            done = await self._round(channels)
            report += done
            if not done.claimed:
                break
        outcomes = []
        for notice in await self.store.claim_due_notices(
            self.clock.now(), channels.keys(), self.limit, self.lease
        ):
            channel = channels[notice.subscription.channel]
            send = partial(channel.send_notice, notice.subscription.address, notice.text)
            outcomes.append(
                await self._attempt("notices", [notice.id], notice.attempts, notice.subscription, send)
            )
        return report + DeliveryReport.of(outcomes)

    async def record_sent(self) -> None:
        """Record the messages sent whose rows the database did not take "sent" for then."""
        while self.unrecorded:
            await self.store.mark_sent(*self.unrecorded[0])
            self.unrecorded.pop(0)

    async def _round(self, channels: Mapping[str, Channel]) -> DeliveryReport:
        now = self.clock.now()
        heads = await self.store.claim_due_deliveries(now, channels.keys(), self.limit, self.lease)
        later, outcomes = [], []
        # One message in flight at a time: after a crash, at most that one can be sent twice.
        unreached = list(heads)
        try:
            while unreached:
                head = unreached.pop(0)
                sub, channel = head.subscription, channels[head.subscription.channel]
                waits = not head.urgent and not head.message_id
                release = release_at(head.created_at or now, sub.digest, sub.quiet) if waits else now
                if release > now:
                    await self.store.hold(head.id, release)
                    continue
                limits = (
                    channel.name,
                    sub.address,
                    self.clock.now(),
                    channel.per_chat(sub.address),
                    channel.overall,
                )
                delay = self.pacer.delay(*limits)
                # this chat's turn is later, or the round has run long enough that its claims would
                # soon be free for another process: the next round takes it
                if delay > MAX_PACE_WAIT or self.clock.now() - now > self.lease / 2:
                    later.append(head.id)
                    continue
                if delay:  # the chat app's overall pace: a moment
                    await self.clock.sleep(delay)
                taken = self.pacer.take(channel.name, sub.address, self.clock.now(), *limits[3:])
                assert taken, "a token after waiting for it"
                outcomes.append(await self._deliver(channel, head, release))
        except Exception:  # the database failed: the heads not reached are free for the next try
            with contextlib.suppress(Exception):  # unless it refuses this too: then their lease ends
                await self.store.release(later + [h.id for h in unreached])
            raise
        await self.store.release(later)
        return DeliveryReport.of(outcomes)

    async def _deliver(self, channel: Channel, head: Delivery, release: datetime) -> str:
        """One message: the alert, an edit of it (another outlet), or the digest of what waited."""
        address = head.subscription.address
        batch = [head]
        if head.message_id:
            send = partial(channel.edit, address, head.message_id, head.alert)
        elif head.urgent or release == head.created_at:
            send = self._single_or_rolling(channel, head)
        else:  # held for a digest or quiet hours: everything that waited goes in one message
            now = self.clock.now()
            batch = await self.store.claim_batch(head.subscription.id, release, now, self.lease, DIGEST_MAX)
            batch = batch or [head]
            alerts = [d.alert for d in batch]
            if len(alerts) > 1:
                send = partial(channel.send_digest, address, alerts)
            else:
                send = partial(channel.send, address, alerts[0])
        ids = [d.id for d in batch]
        outcome = await self._attempt("outbox", ids, head.attempts, head.subscription, send)
        if outcome == "gone":  # the chat cannot say it; the bot's admins hear it
            text = f"Alerts to {head.subscription.name} stopped: {channel.name} says that chat is gone."
            await self.store.notify(channel.name, channel.admin_addresses(), text, self.clock.now())
        counter = {"sent": "delivered", "retry": "retried", "gone": "failed"}[outcome]
        self.metrics.add(f"newsalert_alerts_{counter}_total", channel=channel.name)
        if outcome == "sent" and not head.message_id:
            for delivery in batch:
                waited = (self.clock.now() - delivery.alert.published_at).total_seconds()
                self.metrics.observe(
                    "newsalert_delivery_latency_seconds", max(waited, 0), channel=channel.name
                )
        return outcome

    def _single_or_rolling(self, channel: Channel, head: Delivery) -> Callable[[], Awaitable[Receipt]]:
        """The alert as a message of its own; or, while its rule is bursting, one more story in the
        rule's rolling message, edited in place."""
        address, now = head.subscription.address, self.clock.now()
        rule = head.alert.matches[0] if head.alert.matches else None
        key = (head.subscription.id, rule.rule_id if rule else 0)
        if not rule or not self.bursts.bursting(key, now):
            self.rolling.pop(key, None)  # the rule went quiet: a later burst starts a new message

            async def single() -> Receipt:
                receipt = await channel.send(address, head.alert)
                self.bursts.sent(key, now)
                return receipt

            return single
        message_id, before, count = self.rolling.get(key, ("", [], 0))
        stories = [*before, head.alert][-ROLLING_MAX:]
        heading = f"Breaking: {count + 1} more stories match {rule.rule}"

        async def rolling() -> Receipt:
            nonlocal message_id
            if message_id:
                await channel.edit_digest(address, message_id, stories, heading)
            else:
                message_id = (await channel.send_digest(address, stories, heading)).message_id
            self.rolling[key] = (message_id, stories, count + 1)
            self.bursts.sent(key, now)
            return Receipt("")  # the row keeps no message id: a story's edit must not replace the list

        return rolling

    async def _attempt(
        self,
        kind: str,
        row_ids: list[int],
        attempts: int,
        subscription: Subscription,
        send: Callable[[], Awaitable[Receipt]],
    ) -> str:
        """One try at one message (of one row, or of a digest's rows); the rows record the outcome.
        Returns sent, retry or gone."""
        store, clock = self.store, self.clock
        rows = ",".join(map(str, row_ids))
        try:
            receipt = await send()
        except TransientDeliveryError as error:
            at = retry_at(clock.now(), attempts, error.retry_after)
            log.warning("%s %s to %s delayed until %s: %s", kind, rows, subscription.name, at, error)
            await store.mark_retry(kind, row_ids, at, str(error))
            return "retry"
        except AddressMovedError as error:  # same chat, new id: follow it and send again at once
            log.info("%s moved to %s", subscription.name, error.new_address)
            await store.move_subscription(subscription.id, error.new_address)
            await store.mark_retry(kind, row_ids, clock.now(), str(error))
            return "retry"
        except PermanentDeliveryError as error:
            log.warning("%s %s: %s is gone (%s); subscription paused", kind, rows, subscription.name, error)
            await store.mark_gone(kind, row_ids, subscription.id, error.reason)
            return "gone"
        except Exception as error:  # a bug or an untranslated error must not lose the message
            log.exception("%s %s to %s failed unexpectedly; will retry", kind, rows, subscription.name)
            await store.mark_retry(kind, row_ids, retry_at(clock.now(), attempts, None), repr(error))
            return "retry"
        # a digest's rows keep no message id: an edit for one story must not replace the whole digest
        single = len(row_ids) == 1 and receipt.message_id
        sent = (kind, row_ids, receipt.message_id if single else None, clock.now())
        try:
            await store.mark_sent(*sent)
        except Exception:
            self.unrecorded.append(sent)
            raise
        return "sent"
