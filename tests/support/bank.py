"""Set-up steps on the bank's database: cases and API keys written directly, audit history rewritten."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.orm import Session

from redline.bank import grants, service
from redline.bank.db import Database
from redline.bank.secrets import ContactCipher
from tests.support import ATTESTATION


def submit(db: Database, cipher: ContactCipher, hashes: list[tuple[str, str]]) -> list[int]:
    with db.write() as s:
        new = service.submit_case(
            s,
            bank_name="survivors",
            hashes=[service.normalize_hash(t, v, 90 if t == "pdq" else None) for t, v in hashes],
            attestation=ATTESTATION,
            cipher=cipher,
        )
        return new.entry_ids


def api_key(db: Database, partner: str = "platform-a") -> str:
    with db.write() as s:
        key, _ = service.create_api_key(s, name=partner, scopes=["match"], actor="test", partner=partner)
        return key.id


def key_with_reads(
    session: Session, *scopes: str, name: str | None = None, partner: str | None = None
) -> tuple[str, str]:
    """A new key with ``scopes`` (id, token); a ``feed`` key is granted every bank there is now, as an
    operator setting up a partner would (a feed key granted none reads nothing)."""
    key, token = service.create_api_key(
        session, name=name or "-".join(scopes), scopes=scopes, actor="test", partner=partner
    )
    if "feed" in scopes:
        session.flush()
        for bank in service.list_banks(session):
            grants.grant(session, key.id, bank.name, actor="test", survivor_bank="", purpose="feed")
    return key.id, token


def new_key(database_url: str, *scopes: str, partner: str | None = None) -> str:
    db = Database(database_url)
    try:
        with db.write() as session:
            _, token = key_with_reads(
                session, *scopes, name=f"{partner or 'test'}-{'-'.join(scopes)}", partner=partner
            )
        return token
    finally:
        db.dispose()


# What an operator with the database password can do to the logs: switch off the append-only guards.


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
