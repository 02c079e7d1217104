"""Hash values are text of any length: ``entries.value``, ``changes.value`` and ``match_log.query_value``.

Why: they were ``VARCHAR(128)``, sized for 256-bit hex; a signal type now declares its own value format
(``redline.signals.types``: hex of any bit or byte length, base64 of a float vector), so PhotoDNA's 144
bytes or a TMK vector fit without migrating these columns again. The longest value any type may declare is
``MAX_VALUE_CHARS``, under PostgreSQL's B-tree row limit for ``ix_entries_signal_type_value``.

On SQLite a column's type cannot be altered, and Alembic's batch mode would rebuild ``entries`` by dropping
a table other tables' foreign keys point at (refused with foreign keys on). So each column is replaced in
place instead (SQLite 3.35+): a new text column, the values copied, the old one dropped, the new renamed.

Revision ID: m004_signal_values
Revises: m003_review_item_matches
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "m004_signal_values"
down_revision = "m003_review_item_matches"
branch_labels = None
depends_on = None

_COLUMNS = (("entries", "value", False), ("changes", "value", True), ("match_log", "query_value", False))


def upgrade() -> None:
    _retype(sa.Text(), sa.String(128))


def downgrade() -> None:
    _retype(sa.String(128), sa.Text())


def _retype(new: sa.types.TypeEngine[str], old: sa.types.TypeEngine[str]) -> None:
    if op.get_bind().dialect.name != "sqlite":
        for table, column, nullable in _COLUMNS:
            op.alter_column(table, column, type_=new, existing_type=old, existing_nullable=nullable)
        return
    # The index on (signal_type, value) would keep the old column from being dropped.
    op.execute("DROP INDEX ix_entries_signal_type_value")
    for table, column, nullable in _COLUMNS:
        # SQLite adds a NOT NULL column only with a default; every insert names the value anyway.
        declared = new.compile(dialect=op.get_bind().dialect) + ("" if nullable else " NOT NULL DEFAULT ''")
        op.execute(f"ALTER TABLE {table} ADD COLUMN {column}_retyped {declared}")
        op.execute(f"UPDATE {table} SET {column}_retyped = {column}")  # noqa: S608 - our own names
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        op.execute(f"ALTER TABLE {table} RENAME COLUMN {column}_retyped TO {column}")
    op.execute("CREATE INDEX ix_entries_signal_type_value ON entries (signal_type, value)")
