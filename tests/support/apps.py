"""The Redline app under test: settings, handles on a running app, and the HTTP steps tests repeat."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from redline.actions import outbox
from redline.actions.urlpolicy import UrlPolicy
from redline.api.app import create_app
from redline.bank.db import Database
from redline.config import Settings
from redline.review import accounts
from tests.support import ATTESTATION, PASSWORD, wait_until
from tests.support.bank import key_with_reads


def make_settings(database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    return Settings(data_dir=data_dir, database_url=database_url, change_poll_interval=0.05, **overrides)


@dataclass
class Api:
    client: TestClient
    settings: Settings
    db: Database

    def key(self, *scopes: str) -> dict[str, str]:
        with self.db.write() as session:
            _, token = key_with_reads(session, *scopes)
        return {"Authorization": f"Bearer {token}"}

    def submit(self, hashes: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        response = self.client.post("/v1/cases", json={"hashes": hashes, "attestation": ATTESTATION, **extra})
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body


def match(api: Api, key: dict[str, str], *hashes: tuple[str, str]) -> list[list[dict[str, object]]]:
    response = api.client.post(
        "/v1/match", headers=key, json={"hashes": [{"type": t, "value": v} for t, v in hashes]}
    )
    assert response.status_code == 200, response.text
    return [r["matches"] for r in response.json()["results"]]


def uploads_left(api: Api) -> list[Path]:
    folder = api.settings.data_dir / "uploads"
    return list(folder.iterdir()) if folder.exists() else []


# --- the whole app with the console: webhooks to loopback allowed, a fast delivery worker ---


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
            _, token = key_with_reads(s, *scopes, partner=partner)
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


@dataclass
class Live:
    url: str
    db: Database
    settings: Settings


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Signs in; returns the CSRF token of the new session."""
    form = client.get("/console/login")
    response = client.post(
        "/console/login", data={"username": username, "password": password, "csrf_token": csrf(form.text)}
    )
    assert response.status_code == 303 and response.headers["location"] == "/console/", response.text
    return csrf(client.get("/console/").text)


def subscribe(api: Api) -> None:
    """An endpoint for every event, so that events are kept in the outbox (it is never reached)."""
    with api.db.write() as s:
        policy = UrlPolicy(allow_loopback=True)
        outbox.register_endpoint(s, url="http://127.0.0.1:9/h", policy=policy, actor="t")
