"""Database engine and transactions for SQLite (embedded) and PostgreSQL (production).

Why the special handling:

* SQLite runs in WAL mode with ``synchronous=FULL``: an acknowledged write survives a crash or power cut,
  and readers (the match path) never wait for writers.
* Write transactions on SQLite start with ``BEGIN IMMEDIATE``, so two processes that both want to write
  queue on ``busy_timeout`` instead of failing with "database is locked" when a read lock is upgraded.
* On PostgreSQL, writers that append to the ``changes`` log take one transaction-scoped advisory lock first
  (see :func:`lock_change_log`): change sequence numbers then become visible in the order they were
  assigned, so a reader that has seen ``seq = n`` has seen every change below ``n``. Without it a slow
  transaction could commit ``seq = 10`` after a reader already moved its cursor past ``11``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_CHANGE_LOG_LOCK = 0x7265646C  # "redl": the advisory lock key guarding change-log appends on PostgreSQL


class Database:
    """One engine per process; sessions for reads and for writes."""

    def __init__(self, url: str, *, pool_size: int = 8) -> None:
        self.url = url
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        options: dict[str, Any] = {}
        if self.is_sqlite:
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            options["connect_args"] = {"timeout": 30, "check_same_thread": False}
        else:
            options.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
        # hide_parameters: a database error's message (logged) never carries the values of a statement:
        # case numbers, hashes, contact ciphertexts.
        self.engine: Engine = create_engine(url, hide_parameters=True, **options)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(self.engine.execution_options(redline_write=True), expire_on_commit=False)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading; rolled back at the end."""
        with self._read() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction, committed when the block ends without an exception."""
        with self._write() as session, session.begin():
            yield session

    def upgrade(self, revision: str = "head") -> None:
        """Bring the schema up to ``revision`` with the migrations shipped in the package."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)

    def dispose(self) -> None:
        self.engine.dispose()


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so that BEGIN IMMEDIATE can be issued below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "synchronous=FULL",
            "foreign_keys=ON",
            "busy_timeout=30000",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get("redline_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def lock_change_log(session: Session) -> None:
    """Serialise appends to the change log for the rest of this transaction (PostgreSQL; SQLite already
    serialises writers with BEGIN IMMEDIATE)."""
    if session.info.get("change_log_locked"):
        return
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHANGE_LOG_LOCK})
    session.info["change_log_locked"] = True
