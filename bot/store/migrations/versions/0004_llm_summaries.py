"""llm summaries: a cache by content hash, and the tokens spent

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "llm_summaries",
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("content_hash", name="pk_llm_summaries"),
    )
    op.create_index("ix_llm_summaries_created", "llm_summaries", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_llm_summaries_created", "llm_summaries")
    op.drop_table("llm_summaries")
