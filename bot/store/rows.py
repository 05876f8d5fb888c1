"""What every part of the Store shares: the engine, the write transaction, batch sizes."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

CHUNK = 500  # values per IN (...) list: under every database's parameter limit


class Rows:
    engine: AsyncEngine

    def _write(self) -> AbstractAsyncContextManager[Any]:
        """A write transaction (the Store queues SQLite writers on one lock)."""
        raise NotImplementedError
