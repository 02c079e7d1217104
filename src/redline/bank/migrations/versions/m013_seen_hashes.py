"""Retroactive matching: the hashes of content platforms checked (``redline.retro.models``).

Revision ID: m013_seen_hashes
Revises: m012_sharing
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "m013_seen_hashes"
down_revision = "m012_sharing"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "seen_uploads",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("api_key_id", sa.String(length=24), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=True),
        sa.Column("content_id", sa.String(length=256), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_seen_uploads"),
        sqlite_autoincrement=True,  # ids only grow: the seen index follows new rows by id
    )
    op.create_index("ix_seen_uploads_seen_at", "seen_uploads", ["seen_at"])
    op.create_index("ix_seen_uploads_api_key_id_content_id", "seen_uploads", ["api_key_id", "content_id"])
    op.create_table(
        "seen_hashes",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("upload_id", BIG_ID, nullable=False),
        sa.Column("signal_type", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["upload_id"],
            ["seen_uploads.id"],
            name="fk_seen_hashes_upload_id_seen_uploads",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_seen_hashes"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_seen_hashes_upload_id", "seen_hashes", ["upload_id"])
    op.create_index("ix_seen_hashes_signal_type_value", "seen_hashes", ["signal_type", "value"])
    op.create_table(
        "retro_cursor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_retro_cursor"),
    )


def downgrade() -> None:
    op.drop_table("retro_cursor")
    op.drop_index("ix_seen_hashes_signal_type_value", table_name="seen_hashes")
    op.drop_index("ix_seen_hashes_upload_id", table_name="seen_hashes")
    op.drop_table("seen_hashes")
    op.drop_index("ix_seen_uploads_api_key_id_content_id", table_name="seen_uploads")
    op.drop_index("ix_seen_uploads_seen_at", table_name="seen_uploads")
    op.drop_table("seen_uploads")
