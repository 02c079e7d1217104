"""Interop: HMA bank names per owner, partners' StopNCII-style feedback, StopNCII pull positions.

Revision ID: m007_interop
Revises: m006_tlog
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from redline.bank.models import UtcDateTime

revision = "m007_interop"
down_revision = "m006_tlog"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "hma_banks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("owner", sa.String(160), nullable=False),
        sa.Column(
            "bank_id",
            sa.Integer(),
            sa.ForeignKey("banks.id", name="fk_hma_banks_bank_id_banks"),
            nullable=False,
        ),
        sa.Column("ratio", sa.Float(), nullable=False),
        sa.Column("created_bank", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_hma_banks"),
        sa.UniqueConstraint("owner", "name", name="uq_hma_banks_owner_name"),
    )
    op.create_index("ix_hma_banks_bank_id", "hma_banks", ["bank_id"])
    op.create_table(
        "partner_feedback",
        sa.Column("id", _BIG_ID, autoincrement=True),
        sa.Column(
            "entry_id",
            _BIG_ID,
            sa.ForeignKey("entries.id", name="fk_partner_feedback_entry_id_entries"),
            nullable=False,
        ),
        sa.Column("source", sa.String(160), nullable=False),
        sa.Column("value", sa.String(32), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_partner_feedback"),
        sa.UniqueConstraint("entry_id", "source", name="uq_partner_feedback_entry_id_source"),
    )
    op.create_index("ix_partner_feedback_entry_id", "partner_feedback", ["entry_id"])
    op.create_table(
        "stopncii_pulls",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column(
            "bank_id",
            sa.Integer(),
            sa.ForeignKey("banks.id", name="fk_stopncii_pulls_bank_id_banks"),
            nullable=False,
        ),
        sa.Column("checkpoint", _BIG_ID, nullable=False),
        sa.Column("records", _BIG_ID, nullable=False),
        sa.Column("last_error", sa.String(512), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_stopncii_pulls"),
    )


def downgrade() -> None:
    op.drop_table("stopncii_pulls")
    op.drop_index("ix_partner_feedback_entry_id", table_name="partner_feedback")
    op.drop_table("partner_feedback")
    op.drop_index("ix_hma_banks_bank_id", table_name="hma_banks")
    op.drop_table("hma_banks")
