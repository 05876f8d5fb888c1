"""story terms: every article keeps what the story decider compares, and recent term counts are kept

Revision ID: 0008
Revises: 0007

Older articles keep their links and headlines (on a story's first article) and have no terms: they are
found by link or headline only, and leave the window within two days. Their marks (hashes of word pairs)
mean nothing to the new index, and go.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("story_terms", sa.Text(), nullable=True))
        batch.add_column(sa.Column("index_terms", sa.Text(), nullable=True))
    op.execute("UPDATE articles SET sketch = NULL WHERE sketch IS NOT NULL")
    op.execute("DELETE FROM story_marks")
    op.create_index("ix_outbox_story", "outbox", ["story_id"])
    op.create_table(
        "term_counts",
        sa.Column("term", sa.Text(), nullable=False),
        sa.Column("articles", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("term", name="pk_term_counts"),
    )
    op.create_table(
        "term_census",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("articles", sa.Integer(), nullable=False),
        sa.Column("last_article_id", sa.Integer(), nullable=False),
        sa.Column("counted_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_term_census"),
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_story", "outbox")
    op.drop_table("term_census")
    op.drop_table("term_counts")
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("index_terms")
        batch.drop_column("story_terms")
