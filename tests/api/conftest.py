"""An app per test on a fresh database (SQLite and PostgreSQL), with helpers to make keys and cases."""

from __future__ import annotations

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
from tests.support import wait_until

ATTESTATION = {"subject": "self", "adult": True, "non_consensual": True}


@dataclass
class Api:
    client: TestClient
    settings: Settings
    db: Database

    def key(self, *scopes: str) -> dict[str, str]:
        with self.db.write() as session:
            _, token = service.create_api_key(session, name="-".join(scopes), scopes=scopes, actor="test")
        return {"Authorization": f"Bearer {token}"}

    def submit(self, hashes: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        response = self.client.post("/v1/cases", json={"hashes": hashes, "attestation": ATTESTATION, **extra})
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body


def make_settings(database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    return Settings(data_dir=data_dir, database_url=database_url, change_poll_interval=0.05, **overrides)


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[Api]:
    settings = make_settings(database_url, tmp_path / "data")
    app = create_app(settings)
    with TestClient(app) as client:
        wait_until(lambda: client.get("/readyz").status_code == 200)
        db = app.state.services.db
        yield Api(client, settings, db)
