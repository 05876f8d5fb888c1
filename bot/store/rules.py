"""Subscription and rule rows: config sync, chat commands, the active rules and their fingerprint."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, func, insert, select, update

from bot.domain import Rule, Subscription, WatchRule
from bot.store.rows import Rows
from bot.store.tables import notices, outbox, rules, subscriptions


class RuleRows(Rows):
    async def sync_config_subscriptions(
        self, specs: Sequence[tuple[Subscription, Sequence[str]]], now: datetime
    ) -> None:
        """Subscriptions from the config file, each with exactly its listed rules."""
        async with self._write() as conn:
            kept = []
            for spec, queries in specs:
                sub_id = await self._upsert_subscription(conn, spec, now)
                kept.append(sub_id)
                await self._replace_config_rules(conn, sub_id, queries, now)
            await conn.execute(
                update(subscriptions)
                .where(subscriptions.c.source == "config", subscriptions.c.id.not_in(kept))
                .values(active=False)
            )

    async def _upsert_subscription(self, conn: Any, spec: Subscription, now: datetime) -> int:
        key = (subscriptions.c.channel == spec.channel) & (subscriptions.c.address == spec.address)
        found = (await conn.execute(select(subscriptions.c.id).where(key))).scalar()
        if found is not None:  # back on, unless the chat itself said /stop
            active = subscriptions.c.stopped_at.is_(None)
            await conn.execute(update(subscriptions).where(key).values(name=spec.name, active=active))
            return found
        result = await conn.execute(
            insert(subscriptions).values(
                channel=spec.channel,
                address=spec.address,
                name=spec.name,
                source="config",
                active=True,
                created_at=now,
            )
        )
        return result.inserted_primary_key[0]

    async def _replace_config_rules(
        self, conn: Any, sub_id: int, queries: Sequence[str], now: datetime
    ) -> None:
        mine = (rules.c.subscription_id == sub_id) & (rules.c.source == "config")
        have = set((await conn.execute(select(rules.c.query).where(mine))).scalars())
        await conn.execute(rules.delete().where(mine, rules.c.query.not_in(list(queries))))
        for query in dict.fromkeys(queries):
            if query not in have:
                await conn.execute(
                    insert(rules).values(
                        subscription_id=sub_id, query=query, source="config", active=True, created_at=now
                    )
                )

    async def rules_fingerprint(self) -> tuple[int, ...]:
        """Changes whenever the set of active rules changes; cheap to ask every tick."""
        return await self._run(lambda conn: tuple(conn.execute(_FINGERPRINT).one()))

    async def active_rules(self) -> list[Rule]:
        query = (
            select(rules.c.id, rules.c.subscription_id, rules.c.query, rules.c.urgent)
            .join(subscriptions)
            .where(rules.c.active, subscriptions.c.active)
            .order_by(rules.c.id)
        )
        async with self.engine.connect() as conn:
            return [Rule(*row) for row in (await conn.execute(query)).all()]

    # What chat commands change. A chat is a subscription with source "chat" (or "config" when the
    # config file names it; then its config rules stay the config file's to change).

    async def subscription(self, channel: str, address: str) -> Subscription | None:
        key = (subscriptions.c.channel == channel) & (subscriptions.c.address == address)
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(subscriptions).where(key))).one_or_none()
        return subscription_from_row(row._mapping) if row else None

    async def subscribe(self, channel: str, address: str, name: str, now: datetime) -> Subscription:
        """This chat receives alerts again (or for the first time); its rules and settings are kept."""
        key = (subscriptions.c.channel == channel) & (subscriptions.c.address == address)
        async with self._write() as conn:
            found = (await conn.execute(select(subscriptions.c.id).where(key))).scalar()
            if found is None:
                await conn.execute(
                    insert(subscriptions).values(
                        channel=channel, address=address, name=name, source="chat", active=True,
                        created_at=now, digest="instant",
                    )
                )  # fmt: skip
            else:
                await conn.execute(update(subscriptions).where(key).values(active=True, stopped_at=None))
        found = await self.subscription(channel, address)
        assert found
        return found

    async def update_subscription(self, sub_id: int, **values: Any) -> None:
        """Set chat settings: active, address, muted_until, digest, quiet."""
        async with self._write() as conn:
            await conn.execute(update(subscriptions).where(subscriptions.c.id == sub_id).values(**values))

    async def unsubscribe(self, sub_id: int, now: datetime) -> None:
        """/stop: nothing more is sent to this chat, not even what was waiting (status "stopped"),
        until it subscribes again; a restart does not undo it, even for a chat in the config file."""
        async with self._write() as conn:
            await conn.execute(
                update(subscriptions).where(subscriptions.c.id == sub_id).values(active=False, stopped_at=now)
            )
            for table in (outbox, notices):
                await conn.execute(
                    update(table)
                    .where(table.c.subscription_id == sub_id, table.c.status == "pending")
                    .values(status="stopped")
                )

    async def move_subscription(self, sub_id: int, address: str) -> None:
        """The chat has a new address (a Telegram group became a supergroup). When the new address has
        a subscription already (used there first), this one's rules and waiting alerts join it."""
        async with self._write() as conn:
            old = (await conn.execute(select(subscriptions).where(subscriptions.c.id == sub_id))).one()
            key = (subscriptions.c.channel == old.channel) & (subscriptions.c.address == address)
            target = (await conn.execute(select(subscriptions.c.id).where(key))).scalar()
            if target is None:
                await conn.execute(
                    update(subscriptions).where(subscriptions.c.id == sub_id).values(address=address)
                )
                return
            have = select(rules.c.query).where(rules.c.subscription_id == target)
            await conn.execute(
                update(rules)
                .where(rules.c.subscription_id == sub_id, rules.c.query.not_in(have))
                .values(subscription_id=target)
            )
            taken = select(outbox.c.story_id).where(outbox.c.subscription_id == target)
            await conn.execute(
                update(outbox)
                .where(
                    outbox.c.subscription_id == sub_id,
                    outbox.c.status == "pending",
                    outbox.c.story_id.not_in(taken),
                )
                .values(subscription_id=target)
            )
            await conn.execute(
                update(notices)
                .where(notices.c.subscription_id == sub_id, notices.c.status == "pending")
                .values(subscription_id=target)
            )
            await conn.execute(update(subscriptions).where(subscriptions.c.id == sub_id).values(active=False))

    async def add_rule(
        self, sub_id: int, query: str, now: datetime, urgent: bool = False
    ) -> tuple[int, bool]:
        """(rule id, whether it is new); a rule the chat already has is switched back on."""
        key = (rules.c.subscription_id == sub_id) & (rules.c.query == query)
        async with self._write() as conn:
            found = (await conn.execute(select(rules.c.id).where(key))).scalar()
            if found is not None:
                await conn.execute(update(rules).where(key).values(active=True, urgent=urgent))
                return found, False
            result = await conn.execute(
                insert(rules).values(
                    subscription_id=sub_id,
                    query=query,
                    source="chat",
                    active=True,
                    created_at=now,
                    urgent=urgent,
                )
            )
            return result.inserted_primary_key[0], True

    async def chat_rules(self, sub_id: int) -> list[WatchRule]:
        query = (
            select(rules.c.id, rules.c.query, rules.c.active, rules.c.source, rules.c.urgent)
            .where(rules.c.subscription_id == sub_id)
            .order_by(rules.c.id)
        )
        async with self.engine.connect() as conn:
            return [WatchRule(*row) for row in (await conn.execute(query)).all()]

    async def set_rule_active(self, sub_id: int, rule_id: int, active: bool) -> bool:
        """Pause or resume one of this chat's rules; False when it has no such rule."""
        mine = (rules.c.id == rule_id) & (rules.c.subscription_id == sub_id)
        async with self._write() as conn:
            return (await conn.execute(update(rules).where(mine).values(active=active))).rowcount > 0

    async def delete_rule(self, sub_id: int, rule_id: int) -> bool:
        """Delete one of this chat's own rules (config rules stay); False when there is none."""
        mine = (rules.c.id == rule_id) & (rules.c.subscription_id == sub_id) & (rules.c.source == "chat")
        async with self._write() as conn:
            return (await conn.execute(delete(rules).where(mine))).rowcount > 0


def subscription_from_row(row: Any) -> Subscription:
    return Subscription(
        row[subscriptions.c.id],
        row[subscriptions.c.channel],
        row[subscriptions.c.address],
        row[subscriptions.c.name],
        row[subscriptions.c.active],
        row[subscriptions.c.muted_until],
        row[subscriptions.c.digest],
        row[subscriptions.c.quiet],
    )


_FINGERPRINT = (
    select(
        func.count(),
        func.coalesce(func.sum(rules.c.id), 0),
        func.coalesce(func.sum(rules.c.id * rules.c.id), 0),
        func.coalesce(func.max(rules.c.id), 0),
        func.coalesce(func.sum(case((rules.c.urgent, rules.c.id), else_=0)), 0),
    )
    .select_from(rules.join(subscriptions))
    .where(rules.c.active, subscriptions.c.active)
)
