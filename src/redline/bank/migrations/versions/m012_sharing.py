"""Industry hash sharing: each bank's policy for hashes platforms push, and the pushed hashes with their
provenance until they go live (or are refused).

Revision ID: m012_sharing
Revises: m011_mirrors
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from redline.bank.models import UtcDateTime

revision = "m012_sharing"
down_revision = "m011_mirrors"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sharing_policies",
        sa.Column(
            "bank_id",
            sa.Integer(),
            sa.ForeignKey("banks.id", name="fk_sharing_policies_bank_id_banks"),
            nullable=False,
        ),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("confirmations", sa.Integer(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("bank_id", name="pk_sharing_policies"),
    )
    op.create_table(
        "shared_hashes",
        sa.Column("id", _BIG_ID, autoincrement=True),
        sa.Column(
            "bank_id",
            sa.Integer(),
            sa.ForeignKey("banks.id", name="fk_shared_hashes_bank_id_banks"),
            nullable=False,
        ),
        sa.Column("signal_type", sa.String(16), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("quality", sa.SmallInteger(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("submitted_by", sa.String(160), nullable=False),
        sa.Column("provenance", sa.JSON(), nullable=False),
        sa.Column("vouched", sa.JSON(), nullable=False),
        sa.Column("entry_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("decided_at", UtcDateTime(), nullable=True),
        sa.Column("decided_by", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_shared_hashes"),
        sa.UniqueConstraint(
            "bank_id", "signal_type", "value", name="uq_shared_hashes_bank_id_signal_type_value"
        ),
    )
    op.create_index("ix_shared_hashes_bank_id", "shared_hashes", ["bank_id"])


def downgrade() -> None:
    op.drop_index("ix_shared_hashes_bank_id", table_name="shared_hashes")
    op.drop_table("shared_hashes")
    op.drop_table("sharing_policies")
