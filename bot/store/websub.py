"""WebSub rows: each feed's subscription to its hub (domain.PushSubscription), found by feed, by its
callback's token, or by when it is due."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, or_, select, update

from bot.domain import PushSubscription
from bot.store.feeds import TRUSTED
from bot.store.rows import Rows
from bot.store.tables import feeds, websub_subscriptions

_SUBS = websub_subscriptions


class PushRows(Rows):
    async def push_subscription(self, feed_id: int) -> PushSubscription | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(_SUBS).where(_SUBS.c.feed_id == feed_id))).first()
        return _subscription(row) if row else None

    async def push_by_token(self, token: str) -> tuple[PushSubscription, bool] | None:
        """The subscription whose callback this is, and whether its feed is still polled."""
        query = select(_SUBS, feeds.c.active).join(feeds).where(_SUBS.c.token == token)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return (_subscription(row), bool(row.active)) if row else None

    async def pushed_feeds(self, feed_ids: Sequence[int]) -> dict[int, PushSubscription]:
        """Those of these feeds a hub pushes (state "subscribed"), by feed id."""
        if not feed_ids:
            return {}
        query = select(_SUBS).where(_SUBS.c.feed_id.in_(feed_ids), _SUBS.c.state == "subscribed")
        async with self.engine.connect() as conn:
            return {row.feed_id: _subscription(row) for row in (await conn.execute(query)).all()}

    async def due_pushes(self, now: datetime) -> list[tuple[PushSubscription, bool, bool]]:
        """Subscriptions the renewal check must look at (due, or their feed no longer polled), each with
        whether its feed is still polled, and whether it is trusted (not from a chat)."""
        query = (
            select(_SUBS, feeds.c.active, feeds.c.source.in_(TRUSTED).label("trusted"))
            .join(feeds)
            .where(or_(_SUBS.c.due_at <= now, ~feeds.c.active & (_SUBS.c.state != "fallback")))
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [(_subscription(row), bool(row.active), bool(row.trusted)) for row in rows]

    async def save_push(self, sub: PushSubscription) -> None:
        values = _values(sub)
        async with self._write() as conn:
            changed = await conn.execute(update(_SUBS).where(_SUBS.c.feed_id == sub.feed_id).values(values))
            if changed.rowcount == 0:
                await conn.execute(insert(_SUBS).values(feed_id=sub.feed_id, **values))

    async def record_push(self, feed_id: int, now: datetime) -> None:
        async with self._write() as conn:
            await conn.execute(update(_SUBS).where(_SUBS.c.feed_id == feed_id).values(last_push_at=now))

    async def fall_back(self, sub: PushSubscription, now: datetime) -> None:
        """Save a subscription fallen back to polling; its feed, polled only as a safety net while it was
        pushed, is due now, to be polled at its own interval from then on."""
        async with self._write() as conn:
            await conn.execute(update(_SUBS).where(_SUBS.c.feed_id == sub.feed_id).values(_values(sub)))
            due = (feeds.c.id == sub.feed_id) & (feeds.c.next_check_at > now)
            await conn.execute(update(feeds).where(due).values(next_check_at=now))

    async def forget_push(self, feed_id: int) -> None:
        async with self._write() as conn:
            await conn.execute(delete(_SUBS).where(_SUBS.c.feed_id == feed_id))


def _values(sub: PushSubscription) -> dict[str, Any]:
    return {
        "hub": sub.hub, "topic": sub.topic, "token": sub.token, "secret": sub.secret, "state": sub.state,
        "lease_seconds": int(sub.lease.total_seconds()), "due_at": sub.due_at,
        "requested_at": sub.requested_at, "verified_at": sub.verified_at, "expires_at": sub.expires_at,
        "last_push_at": sub.last_push_at, "reason": sub.reason,
    }  # fmt: skip


def _subscription(row: Any) -> PushSubscription:
    return PushSubscription(
        feed_id=row.feed_id, hub=row.hub, topic=row.topic, token=row.token, secret=row.secret,
        state=row.state, due_at=row.due_at, lease=timedelta(seconds=row.lease_seconds),
        requested_at=row.requested_at, verified_at=row.verified_at, expires_at=row.expires_at,
        last_push_at=row.last_push_at, reason=row.reason,
    )  # fmt: skip
