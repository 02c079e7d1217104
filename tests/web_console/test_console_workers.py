"""The sign-in throttle under ``redline serve --workers 2``: failures on any worker count for all of them."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from redline.bank.db import Database
from redline.review import accounts
from tests.support import PASSWORD
from tests.support.server import Server

pytestmark = pytest.mark.slow
LIMIT = 4


def sign_in(url: str, password: str) -> int:
    """One sign-in on fresh connections (so the kernel may hand it to either worker); the status code."""
    with httpx.Client(base_url=url) as client:
        form = client.get("/console/login").text
        found = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert found, form
        return client.post(
            "/console/login", data={"username": "rita", "password": password, "csrf_token": found.group(1)}
        ).status_code


def test_failures_on_one_worker_block_every_worker(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database(database_url)
    with db.write() as s:
        accounts.create_user(s, username="rita", password=PASSWORD, role="reviewer", actor="test")
    db.dispose()
    monkeypatch.setenv("REDLINE_CONSOLE_LOGIN_ATTEMPTS", str(LIMIT))
    server = Server(database_url, tmp_path, workers=2)
    try:
        assert [sign_in(server.url, "x" * 12) for _ in range(LIMIT)] == [303] * LIMIT
        # Counted per process, the failures would be split between the workers and some of these would pass.
        assert [sign_in(server.url, PASSWORD) for _ in range(8)] == [429] * 8
    finally:
        server.stop()
