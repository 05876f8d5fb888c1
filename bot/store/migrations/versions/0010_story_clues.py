"""story clues: the stories a poll's articles may join are found per story, not per copy

Revision ID: 0010
Revises: 0009

story_clues replaces story_marks: for each link, headline and index term, per story and text, the latest
article having it (and the latest from another outlet), so a story carried by a hundred outlets is one
row, not a hundred. It is filled from the stored articles. Stories keep their face on their first
article (face_id); stories stored before this have none, and are loaded whole until their face changes.
"""

import sqlalchemy as sa
from alembic import op

from bot.store.stories import fill_clues

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "story_clues",
        sa.Column("clue", sa.Text(), nullable=False),
        sa.Column("story_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.BigInteger(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("feed_id", sa.Integer(), nullable=False),
        sa.Column("other_id", sa.Integer(), nullable=True),
        sa.Column("other_at", sa.BigInteger(), nullable=True),
        sa.Column("other_feed_id", sa.Integer(), nullable=True),
        sa.Column("first_at", sa.BigInteger(), nullable=False),
        sa.Column("fetched_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_story_clues_clue", "story_clues", ["clue", "story_id", "text"])
    op.create_index("ix_story_clues_story", "story_clues", ["story_id"])
    op.add_column("articles", sa.Column("face_id", sa.Integer(), nullable=True))
    op.create_index("ix_articles_story_feed", "articles", ["story_id", "feed_id"])
    op.drop_index("ix_articles_story", "articles")
    op.drop_index("ix_articles_story_url", "articles")
    op.drop_index("ix_articles_title_key", "articles")
    op.drop_index("ix_story_marks_mark", "story_marks")
    op.drop_table("story_marks")
    fill_clues(op.get_bind())


def downgrade() -> None:
    op.create_table(
        "story_marks",
        sa.Column("mark", sa.BigInteger(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"], ["articles.id"], name="fk_story_marks_article_id_articles", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_story_marks_mark", "story_marks", ["mark"])
    op.create_index("ix_articles_title_key", "articles", ["title_key"])
    op.create_index("ix_articles_story_url", "articles", ["story_url"])
    op.create_index("ix_articles_story", "articles", ["story_id"])
    op.drop_index("ix_articles_story_feed", "articles")
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("face_id")
    op.drop_index("ix_story_clues_story", "story_clues")
    op.drop_index("ix_story_clues_clue", "story_clues")
    op.drop_table("story_clues")
