"""The whole app served by uvicorn, with webhooks to loopback allowed and a fast removal clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from redline.api.app import create_app
from tests.support import serve_in_thread, wait_until
from tests.support.apps import App, Live, make_app, settings_for


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[Live]:
    settings = settings_for(database_url, tmp_path / "data", removal_clock_interval_s=0.1)
    app = create_app(settings)
    with serve_in_thread(app) as url:
        wait_until(lambda: httpx.get(url + "/readyz").status_code == 200)
        yield Live(url, app.state.services.db, settings)


@pytest.fixture
def web(database_url: str, tmp_path: Path) -> Iterator[App]:
    """The app with the console, in a TestClient (no redirects followed)."""
    yield from make_app(database_url, tmp_path / "data")
