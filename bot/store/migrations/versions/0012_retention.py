"""retention: what each feed has had outlives its articles; alerts' articles found by index

Revision ID: 0012
Revises: 0011

seen_entries is filled from the stored articles (each as of its fetch), so pruning an article never
makes its entry new again. feeds.entries_read_at is set at a feed's next read; until then none of its
entries is taken for gone. A SQLite file is made auto_vacuum = INCREMENTAL (a VACUUM: it rewrites
the file), so that pruning shrinks it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "seen_entries",
        sa.Column("feed_id", sa.Integer(), nullable=False),
        sa.Column("identity", sa.Text(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["feed_id"], ["feeds.id"], name="fk_seen_entries_feed_id_feeds", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("feed_id", "identity", name="pk_seen_entries"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_seen_entries_last_seen", "seen_entries", ["last_seen_at"])
    op.execute(
        "INSERT INTO seen_entries (feed_id, identity, last_seen_at) "
        "SELECT feed_id, identity, fetched_at FROM articles"
    )
    op.add_column("feeds", sa.Column("entries_read_at", sa.DateTime(), nullable=True))
    op.create_index("ix_outbox_article", "outbox", ["article_id"])
    if (
        op.get_bind().dialect.name == "sqlite"
        and op.get_bind().exec_driver_sql("PRAGMA auto_vacuum").scalar() != 2
    ):
        # The file gives pages back to the disk after pruning (PRAGMA incremental_vacuum) once it is
        # INCREMENTAL, which only a VACUUM makes it: it rewrites the whole file (README, Storage: how long;
        # as much free disk as the file takes), outside any transaction.
        with op.get_context().autocommit_block():
            op.execute("PRAGMA auto_vacuum = INCREMENTAL")
            op.execute("VACUUM")


def downgrade() -> None:
    op.drop_index("ix_outbox_article", "outbox")
    with op.batch_alter_table("feeds") as batch:
        batch.drop_column("entries_read_at")
    op.drop_index("ix_seen_entries_last_seen", "seen_entries")
    op.drop_table("seen_entries")
