"""What an operator with the database password can do to the logs: switch off the append-only guards."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import text

from redline.bank.db import Database


@contextmanager
def guards_off(db: Database) -> Iterator[None]:
    """Disable the audit log's triggers for the block (on the shared PostgreSQL database they come back)."""
    with db.engine.begin() as conn:
        if db.is_sqlite:
            conn.execute(text("DROP TRIGGER IF EXISTS audit_log_no_update"))
            conn.execute(text("DROP TRIGGER IF EXISTS audit_log_no_delete"))
        else:
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
    try:
        yield
    finally:
        if not db.is_sqlite:
            with db.engine.begin() as conn:
                conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))


def rewrite_history(db: Database, statements: Sequence[str]) -> None:
    """Change audit rows, then throw the log's own tables away so it can be rebuilt over the changed rows."""
    with guards_off(db), db.engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
        for table in ("tlog_leaves", "tlog_nodes", "tlog_checkpoints", "tlog_cosignatures"):
            if db.is_sqlite:
                conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_delete"))
                conn.execute(text(f"DELETE FROM {table}"))
            else:
                conn.execute(text(f"TRUNCATE {table}"))
