"""Perceptual video matching: where in its video a stored frame hash is, and the matched time ranges of a
review item (``redline.match.video``, docs/SIGNALS.md).

Revision ID: m016_video_frames
Revises: m015_removal_requests
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "m016_video_frames"
down_revision = "m015_removal_requests"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("entries") as batch:
        batch.add_column(sa.Column("frame_ms", sa.Integer(), nullable=True))
    with op.batch_alter_table("review_items") as batch:
        batch.add_column(sa.Column("video", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("review_items") as batch:
        batch.drop_column("video")
    with op.batch_alter_table("entries") as batch:
        batch.drop_column("frame_ms")
