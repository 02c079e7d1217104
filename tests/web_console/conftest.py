"""The whole app on a fresh database, with webhooks to loopback allowed and a fast delivery worker."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from redline.api.app import create_app
from redline.bank import service
from redline.bank.db import Database
from redline.config import Settings
from redline.review import accounts
from tests.support import serve_in_thread, wait_until

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


@dataclass
class Live:
    url: str
    db: Database
    settings: Settings


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[Live]:
    """The real app served by uvicorn on a free loopback port."""
    settings = settings_for(database_url, tmp_path / "data")
    app = create_app(settings)
    with serve_in_thread(app) as url:
        # Matching answers 503 until the index is loaded; tests start once the server says it is ready.
        wait_until(lambda: httpx.get(url + "/readyz").status_code == 200)
        yield Live(url, app.state.services.db, settings)
