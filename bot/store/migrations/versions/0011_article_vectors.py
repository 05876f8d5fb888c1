"""article vectors: each article's embedding, when summary.llm.embeddings_model is set

Revision ID: 0011
Revises: 0010

Stored articles have none: they are compared by their words, as before. A row goes with its article (the
foreign key cascades).
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "article_vectors",
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("text_hash", sa.String(length=64), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"], ["articles.id"], name="fk_article_vectors_article_id_articles", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("article_id", name="pk_article_vectors"),
    )
    op.create_index("ix_article_vectors_text_hash", "article_vectors", ["text_hash"])


def downgrade() -> None:
    op.drop_index("ix_article_vectors_text_hash", "article_vectors")
    op.drop_table("article_vectors")
