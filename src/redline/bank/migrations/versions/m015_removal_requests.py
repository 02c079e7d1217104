"""Notice-and-removal: requests, items, copies found by the sweep, the record, complaints
(``redline.removal.models``).

Revision ID: m015_removal_requests
Revises: m014_feed_grants
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "m015_removal_requests"
down_revision = "m014_feed_grants"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "removal_requests",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("secret_hash", sa.String(length=255), nullable=False),
        sa.Column("jurisdiction", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=8), nullable=False),
        sa.Column("source_type", sa.String(length=24), nullable=False),
        sa.Column("statements", sa.JSON(), nullable=False),
        sa.Column("personal_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("contact_digest", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("received_at", WHEN, nullable=False),
        sa.Column("deadline_at", WHEN, nullable=False),
        sa.Column("closed_at", WHEN, nullable=True),
        sa.Column("breached_at", WHEN, nullable=True),
        sa.Column("escalations", sa.JSON(), nullable=False),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_removal_requests"),
        sa.UniqueConstraint("number", name="uq_removal_requests_number"),
    )
    op.create_index("ix_removal_requests_contact_digest", "removal_requests", ["contact_digest"])
    op.create_index("ix_removal_requests_received_at", "removal_requests", ["received_at"])
    op.create_table(
        "removal_items",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("request_id", BIG_ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("location", sa.Text(), nullable=True),
        sa.Column("hashes", sa.JSON(), nullable=False),
        sa.Column("content_id", sa.String(length=256), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=True),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("decided_at", WHEN, nullable=True),
        sa.Column("entry_ids", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"], ["removal_requests.id"], name="fk_removal_items_request_id_removal_requests"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_removal_items"),
    )
    op.create_index("ix_removal_items_request_id", "removal_items", ["request_id"])
    op.create_table(
        "removal_copies",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("request_id", BIG_ID, nullable=False),
        sa.Column("content_id", sa.String(length=256), nullable=False),
        sa.Column("api_key_id", sa.String(length=24), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=True),
        sa.Column("exact", sa.Boolean(), nullable=False),
        sa.Column("signal_type", sa.String(length=16), nullable=False),
        sa.Column("distance", sa.Integer(), nullable=False),
        sa.Column("found_in", sa.String(length=16), nullable=False),
        sa.Column("found_at", WHEN, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("decided_at", WHEN, nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"], ["removal_requests.id"], name="fk_removal_copies_request_id_removal_requests"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_removal_copies"),
    )
    op.create_index(
        "ix_removal_copies_request_id_api_key_id_content_id",
        "removal_copies",
        ["request_id", "api_key_id", "content_id"],
    )
    op.create_table(
        "removal_log",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("request_id", BIG_ID, nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"], ["removal_requests.id"], name="fk_removal_log_request_id_removal_requests"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_removal_log"),
    )
    op.create_index("ix_removal_log_request_id", "removal_log", ["request_id"])
    op.create_table(
        "removal_complaints",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("request_id", BIG_ID, nullable=False),
        sa.Column("content_id", sa.String(length=256), nullable=False),
        sa.Column("text_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", WHEN, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decision_reason", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("decided_at", WHEN, nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"], ["removal_requests.id"], name="fk_removal_complaints_request_id_removal_requests"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_removal_complaints"),
    )
    op.create_index("ix_removal_complaints_request_id", "removal_complaints", ["request_id"])


def downgrade() -> None:
    for table in ("removal_complaints", "removal_log", "removal_copies", "removal_items"):
        op.drop_table(table)
    op.drop_index("ix_removal_requests_received_at", table_name="removal_requests")
    op.drop_index("ix_removal_requests_contact_digest", table_name="removal_requests")
    op.drop_table("removal_requests")
