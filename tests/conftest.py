"""Fixtures shared by the whole suite.

Tests that need outside resources (``../shared`` media, PostgreSQL, Chromium) skip with a clear message on a
developer's fresh clone, but *fail* in CI (``CI=true``), where those resources are always provided.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.support import CHROMIUM_ARGS, REPO_ROOT, require, wait_until

if TYPE_CHECKING:
    from tests.support.apps import Api

SHARED = Path(os.environ.get("REDLINE_SHARED_DIR", REPO_ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    require((SHARED / "corpus").is_dir(), f"../shared test media not found at {SHARED}")
    return SHARED


@pytest.fixture(scope="session")
def corpus(shared_dir: Path) -> Path:
    return shared_dir / "corpus"


# --- databases: every bank/API test runs on SQLite and on PostgreSQL ---------------------------------------

POSTGRES_URL = os.environ.get(
    "REDLINE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _postgres_conninfo(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """URL of a fresh, migrated PostgreSQL database of this test session's own (dropped at the end), so
    that test runs sharing the server never see each other's rows."""
    import secrets

    import psycopg

    try:
        admin = psycopg.connect(_postgres_conninfo(POSTGRES_URL), autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        require(False, f"PostgreSQL not reachable at {POSTGRES_URL}: {exc}")
        raise
    name = f"redline_test_{os.getpid()}_{secrets.token_hex(4)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        from redline.bank.db import Database

        db = Database(url)
        db.upgrade()
        db.dispose()
        yield url
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


#: The tables a test may have touched: those with rows, and those whose serial or identity sequence has
#: been used since it was last restarted (a row added and deleted again leaves the ids moved on).
_TOUCHED_TABLES = """
SELECT DISTINCT t.relname
FROM pg_class t
JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = 'public'
JOIN pg_depend d ON d.refobjid = t.oid AND d.deptype IN ('a', 'i')
JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
JOIN pg_sequences q ON q.schemaname = 'public' AND q.sequencename = s.relname
WHERE t.relkind = 'r' AND q.last_value IS NOT NULL
"""


def _empty_postgres(url: str) -> None:
    """Every table empty and every identity restarted, as TRUNCATE of all of them would leave it; only the
    tables the last test touched are truncated (TRUNCATE costs ~6 ms a table, and a test touches few of
    the 45)."""
    import psycopg

    with psycopg.connect(_postgres_conninfo(url), autocommit=True) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables "
                "WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
            )
        ]
        with_rows = " UNION ALL ".join(
            f"SELECT '{name}' WHERE EXISTS (SELECT 1 FROM {name})" for name in tables
        )
        touched = {row[0] for row in conn.execute(with_rows)}
        touched |= {row[0] for row in conn.execute(_TOUCHED_TABLES)}
        if touched:
            # TRUNCATE does not fire the audit log's row triggers: the append-only guard stays for the tests.
            conn.execute(f"TRUNCATE {', '.join(sorted(touched))} RESTART IDENTITY CASCADE")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def unmigrated_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database with no schema at all, for tests of a migration on the rows before it: a new
    SQLite file, or a PostgreSQL database of this test's own (dropped after it)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'unmigrated.db'}"
        return
    import secrets

    import psycopg

    request.getfixturevalue("postgres_database")  # fails the test, as that does, when PostgreSQL is away
    name = f"redline_migration_{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(_postgres_conninfo(POSTGRES_URL), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(_postgres_conninfo(POSTGRES_URL), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite database migrated to head, made once: each test's ``database_url`` is a copy of it
    (migrating a new file for each of the suite's several hundred SQLite tests took about a minute)."""
    from redline.bank.db import Database

    path = tmp_path_factory.mktemp("migrated") / "redline.db"
    db = Database(f"sqlite:///{path}")
    db.upgrade()
    db.dispose()
    # The last connection closed checkpoints the WAL: the whole database is in the one file copied.
    assert not path.with_name("redline.db-wal").exists()
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty, migrated database: a new SQLite file (a copy of ``migrated_sqlite``), or the session's
    PostgreSQL database emptied."""
    if request.param == "sqlite":
        path = tmp_path / "redline.db"
        shutil.copyfile(request.getfixturevalue("migrated_sqlite"), path)
        return f"sqlite:///{path}"
    pg_url: str = request.getfixturevalue("postgres_database")
    _empty_postgres(pg_url)
    return pg_url


@pytest.fixture
def db(database_url: str) -> Iterator[Any]:
    """A :class:`redline.bank.db.Database` on ``database_url`` (every table, moderation's included)."""
    import redline.actions.models
    import redline.bank.grants
    import redline.bank.sharing
    import redline.evidence.models
    import redline.mirror.models
    import redline.removal.models
    import redline.retro.models
    import redline.review.models  # noqa: F401 - the moderation and log tables belong to the same metadata
    from redline.bank.db import Database

    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def cipher(tmp_path: Path) -> Any:
    """The contact-details cipher with a fresh key under ``tmp_path``."""
    from redline.bank.secrets import ContactCipher

    return ContactCipher.from_settings("", tmp_path / "keys")


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (a ``Browser``): required in CI, skipped elsewhere."""
    import shutil

    executable = shutil.which("chromium") or "/usr/bin/chromium"
    require(Path(executable).exists(), "Debian Chromium not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "playwright Python package not installed")
        raise
    with sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        except Exception as exc:
            require(False, f"Chromium did not start: {exc}")
            raise
        yield browser
        browser.close()


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[Api]:
    """The app on ``database_url`` in a ``TestClient``, once it is ready (matching answers 503 before)."""
    from fastapi.testclient import TestClient

    from redline.api.app import create_app
    from tests.support.apps import Api, make_settings

    settings = make_settings(database_url, tmp_path / "data")
    app = create_app(settings)
    with TestClient(app) as client:
        wait_until(lambda: client.get("/readyz").status_code == 200)
        db = app.state.services.db
        yield Api(client, settings, db)
