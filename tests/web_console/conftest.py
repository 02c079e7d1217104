"""The whole app on a fresh database, with webhooks to loopback allowed and a fast delivery worker."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from redline.api.app import create_app
from redline.bank import service
from redline.bank.db import Database
from redline.config import Settings
from redline.review import accounts

ATTESTATION = {"subject": "self", "adult": True, "non_consensual": True}
PASSWORD = "correct horse battery staple"


def settings_for(database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        change_poll_interval=0.05,
        webhook_allow_loopback=True,
        webhook_poll_interval=0.05,
        webhook_backoff_base_s=0.2,
        review_reject_quarantine=2,
        **overrides,
    )


def wait_until(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(0.02)


@dataclass
class App:
    client: TestClient
    db: Database
    settings: Settings

    def key(self, *scopes: str, partner: str | None = None) -> dict[str, str]:
        with self.db.write() as s:
            _, token = service.create_api_key(
                s, name="-".join(scopes), scopes=scopes, actor="test", partner=partner
            )
        return {"Authorization": f"Bearer {token}"}

    def user(self, name: str, role: str = "reviewer") -> None:
        with self.db.write() as s:
            accounts.create_user(s, username=name, password=PASSWORD, role=role, actor="test")


def make_app(database_url: str, data_dir: Path, base_url: str = "http://testserver") -> Iterator[App]:
    settings = settings_for(database_url, data_dir)
    app = create_app(settings)
    with TestClient(app, base_url=base_url, follow_redirects=False) as client:
        wait_until(lambda: client.get("/readyz").status_code == 200)
        yield App(client, app.state.services.db, settings)


@pytest.fixture
def web(database_url: str, tmp_path: Path) -> Iterator[App]:
    yield from make_app(database_url, tmp_path / "data")


def require(condition: bool, why: str) -> None:
    """``tests/conftest.py``'s rule (skip on a developer machine, fail in CI). Repeated here because
    ``from conftest import require`` resolves to whichever ``conftest`` module was imported first when
    several test folders without ``__init__.py`` are collected in one run."""
    if condition:
        return
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"required in CI but unavailable: {why}", pytrace=False)
    pytest.skip(why)


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright; required in CI, skipped on a machine without it."""
    import shutil

    require(CHROMIUM.exists() or shutil.which("chromium") is not None, "Debian Chromium not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "playwright Python package not installed")
        raise
    with sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        except Exception as exc:
            require(False, f"Chromium did not start: {exc}")
            raise
        yield browser
        browser.close()


@dataclass
class Live:
    url: str
    db: Database
    settings: Settings


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[Live]:
    """The real app served by uvicorn on a free loopback port."""
    import threading

    import uvicorn

    settings = settings_for(database_url, tmp_path / "data")
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started or not thread.is_alive(), timeout=20)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield Live(f"http://127.0.0.1:{port}", app.state.services.db, settings)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
