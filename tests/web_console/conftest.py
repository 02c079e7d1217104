"""The whole app on a fresh database, with webhooks to loopback allowed and a fast delivery worker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from redline.api.app import create_app
from tests.support import serve_in_thread, wait_until
from tests.support.apps import App, Live, make_app, settings_for


@pytest.fixture
def web(database_url: str, tmp_path: Path) -> Iterator[App]:
    yield from make_app(database_url, tmp_path / "data")


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[Live]:
    """The real app served by uvicorn on a free loopback port."""
    settings = settings_for(database_url, tmp_path / "data")
    app = create_app(settings)
    with serve_in_thread(app) as url:
        # Matching answers 503 until the index is loaded; tests start once the server says it is ready.
        wait_until(lambda: httpx.get(url + "/readyz").status_code == 200)
        yield Live(url, app.state.services.db, settings)
