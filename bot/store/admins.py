"""Admin rows: the bot's admins who claimed it from a chat, and the one-time codes that let them.

A code is kept only as its SHA-256, so neither the database nor a copy of it holds one that works.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select

from bot.store.rows import Rows
from bot.store.tables import admins, claim_codes


class AdminRows(Rows):
    async def add_claim_code(self, code_hash: str, expires_at: datetime, now: datetime) -> None:
        """Keep a new code (its hash) until it expires; codes already expired go."""
        async with self._write() as conn:
            await conn.execute(delete(claim_codes).where(claim_codes.c.expires_at <= now))
            await conn.execute(insert(claim_codes).values(code_hash=code_hash, expires_at=expires_at))

    async def claim_admin(
        self, code_hash: str, channel: str, user_id: str, address: str, now: datetime
    ) -> bool:
        """Make this user an admin if the code is one not yet used or expired; every code is spent
        then (those of other replicas too): a code works once. False for a wrong code."""
        async with self._write() as conn:
            if not await self._spend(conn, code_hash, now):
                return False
            known = (admins.c.channel == channel) & (admins.c.user_id == user_id)
            if (await conn.execute(select(admins.c.user_id).where(known))).first() is None:
                await conn.execute(
                    insert(admins).values(channel=channel, user_id=user_id, address=address, added_at=now)
                )
            return True

    async def spend_claim_code(self, code_hash: str, now: datetime) -> bool:
        """Spend every code if this one is good, making nobody an admin (it was typed where others could
        read it); whether it was good."""
        async with self._write() as conn:
            return await self._spend(conn, code_hash, now)

    async def _spend(self, conn: Any, code_hash: str, now: datetime) -> bool:
        good = select(claim_codes.c.code_hash).where(
            claim_codes.c.code_hash == code_hash, claim_codes.c.expires_at > now
        )
        if (await conn.execute(good)).first() is None:
            return False
        await conn.execute(delete(claim_codes))
        return True

    async def is_admin(self, channel: str, user_id: str) -> bool:
        query = select(admins.c.user_id).where(admins.c.channel == channel, admins.c.user_id == user_id)
        async with self.engine.connect() as conn:
            return (await conn.execute(query)).first() is not None

    async def admin_count(self, channel: str) -> int:
        """How many users of this chat app claimed the bot."""
        query = select(func.count()).select_from(admins).where(admins.c.channel == channel)
        async with self.engine.connect() as conn:
            return int((await conn.execute(query)).scalar() or 0)
