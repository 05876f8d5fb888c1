"""Subscription and rule rows: config sync, the active rules and their fingerprint."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update

from bot.domain import (
    Rule,
    Subscription,
)
from bot.store.rows import Rows
from bot.store.tables import rules, subscriptions


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
        if found is not None:
            await conn.execute(update(subscriptions).where(key).values(name=spec.name, active=True))
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
        query = (
            select(
                func.count(),
                func.coalesce(func.sum(rules.c.id), 0),
                func.coalesce(func.sum(rules.c.id * rules.c.id), 0),
                func.coalesce(func.max(rules.c.id), 0),
            )
            .select_from(rules.join(subscriptions))
            .where(rules.c.active, subscriptions.c.active)
        )
        async with self.engine.connect() as conn:
            return tuple((await conn.execute(query)).one())

    async def active_rules(self) -> list[Rule]:
        query = (
            select(rules.c.id, rules.c.subscription_id, rules.c.query)
            .join(subscriptions)
            .where(rules.c.active, subscriptions.c.active)
            .order_by(rules.c.id)
        )
        async with self.engine.connect() as conn:
            return [Rule(*row) for row in (await conn.execute(query)).all()]
