"""Feed keys read only the banks they are granted (``bank_grants.purpose``; bank/grants.py).

Revision ID: m014_feed_grants
Revises: m013_seen_hashes
Create Date: 2026-12-02
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "m014_feed_grants"
down_revision = "m013_seen_hashes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bank_grants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("purpose", sa.String(length=8), nullable=False, server_default="submit")
        )
        batch_op.drop_constraint("uq_bank_grants_key_id_bank_id", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_bank_grants_key_id_bank_id_purpose"), ["key_id", "bank_id", "purpose"]
        )
    # Until now a feed key read every bank. Keep what works working: each active feed key is granted every
    # bank that exists now, explicitly, so its operator sees it (`redline keys list`) and can narrow it.
    # Banks made from now on are granted to nobody until the operator says so.
    conn = op.get_bind()
    keys = [
        key_id
        for key_id, scopes in conn.execute(
            sa.text("SELECT id, scopes FROM api_keys WHERE revoked_at IS NULL")
        )
        if "feed" in (json.loads(scopes) if isinstance(scopes, str) else scopes)
    ]
    banks = [bank_id for (bank_id,) in conn.execute(sa.text("SELECT id FROM banks"))]
    now = datetime.now(UTC)
    grants = sa.table(
        "bank_grants",
        sa.column("key_id", sa.String),
        sa.column("bank_id", sa.Integer),
        sa.column("purpose", sa.String),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    rows = [{"key_id": k, "bank_id": b, "purpose": "feed", "created_at": now} for k in keys for b in banks]
    if rows:
        op.bulk_insert(grants, rows)


def downgrade() -> None:
    op.execute("DELETE FROM bank_grants WHERE purpose <> 'submit'")
    with op.batch_alter_table("bank_grants", schema=None) as batch_op:
        batch_op.drop_constraint("uq_bank_grants_key_id_bank_id_purpose", type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_bank_grants_key_id_bank_id"), ["key_id", "bank_id"])
        batch_op.drop_column("purpose")
