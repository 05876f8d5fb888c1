"""What every part of the Store shares: the engine, the write transaction, batch sizes, lock names."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")

CHUNK = 500  # values per IN (...) list: under every database's parameter limit


def lock_key(name: str) -> int:
    """A PostgreSQL advisory lock's number for a name."""
    return zlib.crc32(f"newsalert:{name}".encode())


class Rows:
    engine: AsyncEngine

    def _write(self) -> AbstractAsyncContextManager[Any]:
        """A write transaction (the Store queues SQLite writers on one lock)."""
        raise NotImplementedError

    async def _run(self, work: Callable[[Connection], T], *, write: bool = False) -> T:
        """`work` with a plain connection, in one transaction (the Store says how)."""
        raise NotImplementedError
