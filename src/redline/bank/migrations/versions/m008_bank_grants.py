"""Banks a ``submit`` key may write to (``bank_grants``; bank/grants.py).

Revision ID: m008_bank_grants
Revises: m007_interop
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "m008_bank_grants"
down_revision = "m007_interop"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # No grants to start with: a submit key made before this writes nowhere until the operator grants it
    # its banks (docs/OPERATING.md, "Keys"); that is the point.
    op.create_table(
        "bank_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=24), nullable=False),
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["key_id"], ["api_keys.id"], name=op.f("fk_bank_grants_key_id_api_keys")),
        sa.ForeignKeyConstraint(["bank_id"], ["banks.id"], name=op.f("fk_bank_grants_bank_id_banks")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_grants")),
        sa.UniqueConstraint("key_id", "bank_id", name=op.f("uq_bank_grants_key_id_bank_id")),
    )
    with op.batch_alter_table("bank_grants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bank_grants_key_id"), ["key_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("bank_grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bank_grants_key_id"))
    op.drop_table("bank_grants")
