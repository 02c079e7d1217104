"""Third-party cases (``redline intake``): who flagged a case, when the person claimed it, and the signed
intake manifest of each such case.

Revision ID: m010_intake
Revises: m009_scan_origin
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "m010_intake"
down_revision = "m009_scan_origin"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("flagged_by", sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_cases_flagged_by", ["flagged_by"], unique=False)
    op.create_table(
        "case_manifests",
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("signer", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_case_manifests_case_id_cases"),
        sa.PrimaryKeyConstraint("case_id", name="pk_case_manifests"),
    )


def downgrade() -> None:
    op.drop_table("case_manifests")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_flagged_by")
        batch_op.drop_column("claimed_at")
        batch_op.drop_column("flagged_by")
