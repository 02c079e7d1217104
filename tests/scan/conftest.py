"""A Redline server on a real port (SQLite and PostgreSQL) for ``redline scan`` to talk to."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from redline.api.app import create_app
from tests.support import serve_in_thread, wait_until
from tests.support.apps import make_settings
from tests.support.scan import Hub


@pytest.fixture
def hub(database_url: str, tmp_path: Path) -> Iterator[Hub]:
    app = create_app(make_settings(database_url, tmp_path / "data"))
    with serve_in_thread(app) as url:
        wait_until(lambda: app.state.services.matcher.ready.is_set(), timeout=30)
        yield Hub(url, app.state.services.db, app)
