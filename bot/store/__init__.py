"""The database: every feed, article, rule, subscription and pending alert is a row here.

SQLite by default (WAL), PostgreSQL for scale; schema changes only through Alembic migrations.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, nullcontext
from functools import partial
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.errors import StoreError
from bot.store.admins import AdminRows
from bot.store.feedback import FeedbackRows
from bot.store.feeds import FeedRows
from bot.store.problems import uncreatable
from bot.store.queues import QueueRows
from bot.store.retention import RetentionRows
from bot.store.rows import T, hold_lock, lock_key
from bot.store.rules import RuleRows
from bot.store.signatures import SignatureRows
from bot.store.stories import EmbeddingRows
from bot.store.websub import PushRows
from bot.store.why import WhyRows

MIGRATIONS = Path(__file__).parent / "migrations"
_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


def async_url(database_url: str) -> str:
    """`sqlite:///x.db` -> `sqlite+aiosqlite:///x.db`; a URL naming its driver is kept."""
    url = make_url(database_url)
    driver = _ASYNC_DRIVERS.get(url.drivername)
    return url.set(drivername=driver).render_as_string(hide_password=False) if driver else database_url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # A new file gives the pages pruning frees back to the disk (store/retention.py); this only takes
    # effect before its first table is made (migration 0012 converts an older file).
    cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _upgrade(connection: Connection) -> None:
    hold_lock(connection, "upgrade")  # replicas upgrading at once: one migrates, the others wait
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


class Store(
    FeedRows,
    RuleRows,
    QueueRows,
    SignatureRows,
    AdminRows,
    EmbeddingRows,
    PushRows,
    RetentionRows,
    WhyRows,
    FeedbackRows,
):
    """The one way in: opening, migrating and writing here; the queries of each kind of row in
    feeds.py, rules.py, queues.py, signatures.py, admins.py, stories.py, websub.py and feedback.py;
    retention.py deletes what is no longer kept; why.py reads for /why."""

    def __init__(self, engine: AsyncEngine, sync_engine: Engine | None = None):
        self.engine = engine
        self._sync_engine = sync_engine  # a SQLite file: see _run
        # its own threads: a write holding the SQLite lock never waits behind DNS lookups or parsing
        self._threads = ThreadPoolExecutor(4, "newsalert-sqlite") if sync_engine else None
        # SQLite has one writer at a time: writers here queue for it instead of timing out on its lock.
        self._one_writer = asyncio.Lock() if engine.dialect.name == "sqlite" else None

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    @asynccontextmanager
    async def exclusive(self, name: str, *, wait: bool = False) -> AsyncIterator[bool]:
        """Whether this process is the one that holds `name` while inside (with `wait`, it waits its
        turn): a PostgreSQL advisory lock, freed when the block ends or the process dies. With
        SQLite (one process), always."""
        if self.engine.dialect.name != "postgresql":
            yield True
            return
        take = "SELECT pg_advisory_lock(:k), true" if wait else "SELECT true, pg_try_advisory_lock(:k)"
        async with self.engine.connect() as conn:
            held = bool((await conn.execute(text(take), {"k": lock_key(name)})).one()[1])
            await conn.commit()
            try:
                yield held
            finally:
                if held:
                    await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key(name)})
                    await conn.commit()

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[Any]:
        """A write transaction (committed on success, rolled back on error)."""
        async with self._one_writer or nullcontext(), self.engine.begin() as conn:
            yield conn

    async def _run(self, work: Callable[[Connection], T], *, write: bool = False) -> T:
        """`work` given a plain (not async) connection, in one transaction: for the busiest paths.

        A SQLite file: the whole transaction in one trip to a worker thread, where aiosqlite would take
        four trips a statement (each costs more CPU than the statement). PostgreSQL: on the async engine.
        """
        if self._sync_engine is None:
            async with self._write() if write else self.engine.connect() as conn:
                return await conn.run_sync(work)
        async with (self._one_writer if write else None) or nullcontext():
            return await asyncio.get_running_loop().run_in_executor(
                self._threads, partial(self._in_thread, work, write)
            )

    def _in_thread(self, work: Callable[[Connection], T], write: bool) -> T:
        assert self._sync_engine
        with self._sync_engine.begin() if write else self._sync_engine.connect() as conn:
            return work(conn)

    @classmethod
    def open(cls, database_url: str, *, existing: bool = False) -> Store:
        """The store at database_url; a new SQLite file is made there unless `existing` asks for one
        that is already there."""
        try:
            url = make_url(async_url(database_url))
        except ArgumentError:
            raise StoreError("not a database URL like sqlite:///data/newsalert.db") from None
        on_disk = url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
        if on_disk and existing and not Path(url.database).is_file():
            raise StoreError(f"no SQLite database at {url.database}")
        if on_disk:
            try:
                Path(url.database).parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise StoreError(
                    f"cannot create the data directory {Path(url.database).parent}: {error.strerror}",
                    f"Create it, writable by the user that runs newsalert (uid {os.geteuid()}), "
                    "or set database_url (NEWSALERT_DATABASE_URL) to a writable place.",
                ) from error
            if problem := uncreatable(Path(url.database)):
                raise problem
        try:
            # PostgreSQL restarted: a pooled connection is tried before use, and opened again if dead
            engine = create_async_engine(url, pool_pre_ping=url.get_backend_name() == "postgresql")
            sync_engine = create_engine(url.set(drivername="sqlite")) if on_disk else None
        except (SQLAlchemyError, ImportError) as error:
            raise StoreError(f"cannot open database {url.render_as_string()}: {error}") from None
        if url.get_backend_name() == "sqlite":
            for each in filter(None, (engine.sync_engine, sync_engine)):
                event.listen(each, "connect", _sqlite_pragmas)
        return cls(engine, sync_engine)

    async def close(self) -> None:
        await self.engine.dispose()
        if self._sync_engine and self._threads:
            self._threads.shutdown()
            self._sync_engine.dispose()

    async def upgrade(self) -> None:
        """Bring the schema to the newest migration; safe to run on every start. Alembic owns the
        transactions on SQLite (one per migration), so a migration may run a step outside one (VACUUM)."""
        async with self._one_writer or nullcontext(), self.engine.connect() as conn:
            await conn.run_sync(_upgrade)
            await conn.commit()
