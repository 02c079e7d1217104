"""Failed console sign-ins live in the database, so the sign-in throttle holds across worker processes.

Revision ID: m005_console_throttle
Revises: m004_signal_values
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "m005_console_throttle"
down_revision = "m004_signal_values"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_sign_in_failures",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_sign_in_failures")),
    )
    with op.batch_alter_table("console_sign_in_failures", schema=None) as batch_op:
        batch_op.create_index("ix_console_sign_in_failures_key_at", ["key", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_console_sign_in_failures_at"), ["at"], unique=False)


def downgrade() -> None:
    op.drop_table("console_sign_in_failures")
