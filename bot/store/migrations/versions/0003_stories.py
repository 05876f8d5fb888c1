"""stories: one alert per story across outlets

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("story_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("story_url", sa.Text(), nullable=True))
        batch.add_column(sa.Column("title_key", sa.Text(), nullable=True))
        batch.add_column(sa.Column("sketch", sa.Text(), nullable=True))
        batch.create_index("ix_articles_story", ["story_id"])
        batch.create_index("ix_articles_story_url", ["story_url"])
        batch.create_index("ix_articles_title_key", ["title_key"])
    op.execute("UPDATE articles SET story_id = id")  # each article so far is a story of its own
    op.create_table(
        "story_marks",
        sa.Column("mark", sa.BigInteger(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"], ["articles.id"], name="fk_story_marks_article_id_articles", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_story_marks_mark", "story_marks", ["mark"])
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("story_id", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("urgent", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute("UPDATE outbox SET story_id = article_id")
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("story_id", server_default=None)
        batch.alter_column("urgent", server_default=None)
        batch.drop_constraint("uq_outbox_subscription_id_article_id", type_="unique")
        batch.create_unique_constraint("uq_outbox_subscription_id_story_id", ["subscription_id", "story_id"])


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint("uq_outbox_subscription_id_story_id", type_="unique")
        batch.create_unique_constraint(
            "uq_outbox_subscription_id_article_id", ["subscription_id", "article_id"]
        )
        batch.drop_column("story_id")
        batch.drop_column("urgent")
    op.drop_index("ix_story_marks_mark", "story_marks")
    op.drop_table("story_marks")
    with op.batch_alter_table("articles") as batch:
        batch.drop_index("ix_articles_title_key")
        batch.drop_index("ix_articles_story_url")
        batch.drop_index("ix_articles_story")
        for column in ("sketch", "title_key", "story_url", "story_id"):
            batch.drop_column(column)
