"""Mirrors: a bank filled from a hub's signed feed (``banks.mirror``), the mirror's position and pinned keys,
and which local entry stands for which hub entry.

Revision ID: m011_mirrors
Revises: m010_intake
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from redline.bank.models import UtcDateTime

revision = "m011_mirrors"
down_revision = "m010_intake"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("banks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mirror", sa.String(length=64), nullable=True))
    op.create_table(
        "mirrors",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column(
            "bank_id",
            sa.Integer(),
            sa.ForeignKey("banks.id", name="fk_mirrors_bank_id_banks"),
            nullable=False,
        ),
        sa.Column("from_banks", sa.JSON(), nullable=False),
        sa.Column("key_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("pinned_keys", sa.JSON(), nullable=False),
        sa.Column("position", _BIG_ID, nullable=False),
        sa.Column("head", _BIG_ID, nullable=False),
        sa.Column("page_hash", sa.String(64), nullable=False),
        sa.Column("feedback_position", _BIG_ID, nullable=False),
        sa.Column("applied", _BIG_ID, nullable=False),
        sa.Column("refused", _BIG_ID, nullable=False),
        sa.Column("last_error", sa.String(512), nullable=False),
        sa.Column("last_error_at", UtcDateTime(), nullable=True),
        sa.Column("synced_at", UtcDateTime(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("lease_owner", sa.String(64), nullable=False),
        sa.Column("lease_until", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_mirrors"),
        sa.UniqueConstraint("bank_id", name="uq_mirrors_bank_id"),
    )
    op.create_table(
        "mirror_entries",
        sa.Column(
            "mirror",
            sa.String(64),
            sa.ForeignKey("mirrors.name", name="fk_mirror_entries_mirror_mirrors"),
            nullable=False,
        ),
        sa.Column("remote_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "entry_id",
            _BIG_ID,
            sa.ForeignKey("entries.id", name="fk_mirror_entries_entry_id_entries"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("mirror", "remote_id", name="pk_mirror_entries"),
    )
    op.create_index("ix_mirror_entries_entry_id", "mirror_entries", ["entry_id"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_mirror_entries_entry_id", table_name="mirror_entries")
    op.drop_table("mirror_entries")
    op.drop_table("mirrors")
    with op.batch_alter_table("banks", schema=None) as batch_op:
        batch_op.drop_column("mirror")
