"""`newsalert db copy`: every row of one database into another, empty one (SQLite to PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, insert, select, text

from bot.errors import StoreError
from bot.store import Store
from bot.store.tables import feeds, metadata, subscriptions

BATCH = 1000


async def copy_database(
    source: Store, target: Store, progress: Callable[[str, int], None] | None = None
) -> dict[str, int]:
    """Both brought to the newest schema, then each table copied in foreign-key order, in batches.
    Returns the rows copied per table. The target must be empty; the source is only read."""
    await source.upgrade()
    await target.upgrade()
    async with target.engine.connect() as conn:
        for table in (feeds, subscriptions):
            if (await conn.execute(select(func.count()).select_from(table))).scalar():
                raise StoreError("the target database is not empty: copy into a new one")
    counts: dict[str, int] = {}
    async with source.engine.connect() as read, target._write() as write:
        for table in metadata.sorted_tables:
            counts[table.name] = 0
            result = await read.stream(select(table))
            async for rows in result.partitions(BATCH):
                await write.execute(insert(table), [dict(row._mapping) for row in rows])
                counts[table.name] += len(rows)
                if progress:
                    progress(table.name, counts[table.name])
        if write.dialect.name == "postgresql":  # ids go on from the copied ones
            for table in metadata.sorted_tables:
                if "id" in table.c and table.c.id.primary_key:
                    await write.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                            f"COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) FROM {table.name}"
                        )
                    )
    return counts
