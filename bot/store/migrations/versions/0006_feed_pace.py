"""adaptive polling: a feed's pace, and whether the config file fixes its interval

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    fixed = sa.Column("fixed_interval", sa.Boolean(), nullable=False, server_default=sa.false())
    op.add_column("feeds", fixed)
    op.add_column("feeds", sa.Column("pace_since", sa.DateTime(), nullable=True))
    op.add_column("feeds", sa.Column("pace_recent", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feeds") as batch:
        batch.drop_column("pace_recent")
        batch.drop_column("pace_since")
        batch.drop_column("fixed_interval")
