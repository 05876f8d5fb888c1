"""admins: users who claimed the bot with its one-time code, and the codes themselves (hashed)

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "admins",
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("channel", "user_id", name="pk_admins"),
    )
    op.create_table(
        "claim_codes",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("code_hash", name="pk_claim_codes"),
    )


def downgrade() -> None:
    op.drop_table("claim_codes")
    op.drop_table("admins")
