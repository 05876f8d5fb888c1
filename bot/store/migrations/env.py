"""Alembic environment: migrations run on the connection the store hands over (sync or async)."""

from alembic import context

from bot.store.tables import metadata

connection = context.config.attributes["connection"]
# On PostgreSQL the caller's transaction holds them all (it took the upgrade lock first); on SQLite each
# migration is a transaction of its own, and may step outside it (op.get_context().autocommit_block()).
context.configure(
    connection=connection, target_metadata=metadata, render_as_batch=True, transaction_per_migration=True
)
with context.begin_transaction():
    context.run_migrations()
