"""Entries remember which picture or video of their submission they came from (``entries.item``).

Revision ID: m002
Revises: m001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "m002"
down_revision = "m001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable, no default: entries stored before this (and submissions that do not say) have no item.
    with op.batch_alter_table("entries") as batch:
        batch.add_column(sa.Column("item", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("entries") as batch:
        batch.drop_column("item")
