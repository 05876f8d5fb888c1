"""What every part of the Store shares: the engine, the write transaction, batch sizes, lock names."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")

CHUNK = 500  # values per IN (...) list: under every database's parameter limit


def lock_key(name: str) -> int:
    """A PostgreSQL advisory lock's number for a name."""
    return zlib.crc32(f"newsalert:{name}".encode())


_HOLD = text("SELECT pg_advisory_xact_lock(:key)")


def hold_lock(conn: Connection, name: str) -> None:
    """On PostgreSQL, wait for the named lock and hold it to the end of this transaction, so that
    replicas take turns; elsewhere nothing (a SQLite file has one process, its writers queue)."""
    if conn.dialect.name == "postgresql":
        conn.execute(_HOLD, {"key": lock_key(name)})


class Rows:
    engine: AsyncEngine

    def _write(self) -> AbstractAsyncContextManager[Any]:
        """A write transaction (the Store queues SQLite writers on one lock)."""
        raise NotImplementedError

    async def _run(self, work: Callable[[Connection], T], *, write: bool = False) -> T:
        """`work` with a plain connection, in one transaction (the Store says how)."""
        raise NotImplementedError
