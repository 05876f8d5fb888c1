"""story keys only on a story's first article, so looking a story up reads one row, not every outlet's

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE articles SET story_url = NULL, title_key = NULL WHERE story_id <> id")


def downgrade() -> None:
    pass  # the keys of later articles were never read: nothing to restore
