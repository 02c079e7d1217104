"""The match log is looked up by review item (every hash of an upload behind one item, per picture).

Revision ID: m003_review_item_matches
Revises: m002
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "m003_review_item_matches"
down_revision = "m002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("match_log") as batch_op:
        batch_op.create_index(batch_op.f("ix_match_log_review_item_id"), ["review_item_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("match_log") as batch_op:
        batch_op.drop_index(batch_op.f("ix_match_log_review_item_id"))
