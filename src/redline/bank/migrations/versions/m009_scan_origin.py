"""Matches say where they came from: a platform's request or a back-catalogue scan (``redline scan``).

``scan_id`` with ``content_id`` is what makes a re-run scan report nothing twice: the server skips a file
whose matches that scan already logged and returns the logged ones.

Revision ID: m009_scan_origin
Revises: m008_bank_grants
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "m009_scan_origin"
down_revision = "m008_bank_grants"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("match_log", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("origin", sa.String(length=16), nullable=False, server_default="request")
        )
        batch_op.add_column(sa.Column("scan_id", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_match_log_scan_id_content_id", ["scan_id", "content_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("match_log", schema=None) as batch_op:
        batch_op.drop_index("ix_match_log_scan_id_content_id")
        batch_op.drop_column("scan_id")
        batch_op.drop_column("origin")
