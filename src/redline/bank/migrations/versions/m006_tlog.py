"""The tamper-evident audit log: Merkle leaves and nodes, signed checkpoints, witnesses and cosignatures.

Revision ID: m006_tlog
Revises: m005_console_throttle
Create Date: 2026-12-01
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "m006_tlog"
down_revision = "m005_console_throttle"
branch_labels = None
depends_on = None

_APPEND_ONLY = ("tlog_leaves", "tlog_nodes", "tlog_checkpoints", "tlog_cosignatures")


def _when() -> sa.Column[Any]:
    return sa.Column("at", sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "tlog_leaves",
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("audit_id", sa.BigInteger(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("sequenced_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("idx", name=op.f("pk_tlog_leaves")),
        sa.UniqueConstraint("audit_id", name=op.f("uq_tlog_leaves_audit_id")),
    )
    op.create_table(
        "tlog_nodes",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name=op.f("pk_tlog_nodes")),
    )
    op.create_table(
        "tlog_checkpoints",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        _when(),
        sa.PrimaryKeyConstraint("size", name=op.f("pk_tlog_checkpoints")),
    )
    op.create_table(
        "tlog_cosignatures",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("witness", sa.String(length=256), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        _when(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tlog_cosignatures")),
    )
    with op.batch_alter_table("tlog_cosignatures") as batch:
        batch.create_index(batch.f("ix_tlog_cosignatures_size"), ["size"], unique=False)
    op.create_table(
        "tlog_witnesses",
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("vkey", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_tlog_witnesses")),
    )
    op.create_table(
        "tlog_witnessed",
        sa.Column("origin", sa.String(length=256), nullable=False),
        sa.Column("vkey", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("origin", name=op.f("pk_tlog_witnessed")),
    )
    _install_append_only_guards()


def downgrade() -> None:
    _remove_append_only_guards()
    for table in ("tlog_witnessed", "tlog_witnesses", "tlog_cosignatures", "tlog_checkpoints"):
        op.drop_table(table)
    op.drop_table("tlog_nodes")
    op.drop_table("tlog_leaves")


# Like audit_log: the database refuses to change or delete what the log has committed to. The tree would
# expose such a change anyway; the guard keeps a bug or a stray statement from causing one.
def _install_append_only_guards() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute(
            "CREATE FUNCTION redline_tlog_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$"
        )
    for table in _APPEND_ONLY:
        if postgres:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION redline_tlog_append_only()"
            )
            continue
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )


def _remove_append_only_guards() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in _APPEND_ONLY:
        if postgres:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS redline_tlog_append_only()")
