"""feedback: the stories and sources a chat muted from an alert's buttons, and the rules it narrowed

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mutes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("feed_id", sa.Integer(), nullable=True),
        sa.Column("until", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name="fk_mutes_subscription_id_subscriptions",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["article_id"], ["articles.id"], name="fk_mutes_article_id_articles", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["feed_id"], ["feeds.id"], name="fk_mutes_feed_id_feeds", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_mutes"),
    )
    op.create_index("ix_mutes_subscription_id", "mutes", ["subscription_id"])
    op.create_table(
        "rule_edits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("before", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name="fk_rule_edits_subscription_id_subscriptions",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"], ["rules.id"], name="fk_rule_edits_rule_id_rules", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_rule_edits"),
    )
    op.create_index("ix_rule_edits_subscription_id", "rule_edits", ["subscription_id"])


def downgrade() -> None:
    op.drop_index("ix_rule_edits_subscription_id", "rule_edits")
    op.drop_table("rule_edits")
    op.drop_index("ix_mutes_subscription_id", "mutes")
    op.drop_table("mutes")
