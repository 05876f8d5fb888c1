"""chat settings: stop, mute, digest, quiet hours

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("stopped_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("muted_until", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("digest", sa.Text(), nullable=False, server_default="instant"))
        batch.add_column(sa.Column("quiet", sa.Text(), nullable=True))
    with op.batch_alter_table("subscriptions") as batch:
        batch.alter_column("digest", server_default=None)
    # a plain ADD COLUMN: a batch copy of rules would lose its AUTOINCREMENT (ids must never be reused)
    op.add_column("rules", sa.Column("urgent", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("rules") as batch:
        batch.drop_column("urgent")
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("quiet")
        batch.drop_column("digest")
        batch.drop_column("muted_until")
        batch.drop_column("stopped_at")
