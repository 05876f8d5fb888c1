"""Signature rows: signed requests accepted lately, so that the same one again is refused by any replica."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite

from bot.store.rows import Rows
from bot.store.tables import seen_signatures

_INSERT = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}  # each has INSERT ... ON CONFLICT


class SignatureRows(Rows):
    async def first_sight(self, signature: str, expires_at: datetime, now: datetime) -> bool:
        """Keep a request's signature until it expires; False when it is kept already: the request came
        before, to this process or another. Expired signatures go in the same transaction, so the table
        holds a few minutes of requests."""
        async with self._write() as conn:
            await conn.execute(delete(seen_signatures).where(seen_signatures.c.expires_at < now))
            insert = _INSERT[conn.dialect.name](seen_signatures).on_conflict_do_nothing()
            added = await conn.execute(insert.values(signature=signature, expires_at=expires_at))
            return added.rowcount == 1
