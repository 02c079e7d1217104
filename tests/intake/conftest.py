"""A real Redline server on loopback for the intake CLI, and a flag key for it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import serve_in_thread
from tests.support.bank import new_key


@dataclass(frozen=True)
class Hub:
    url: str
    database_url: str
    flag_key: str


@pytest.fixture
def hub(database_url: str, tmp_path: Path) -> Iterator[Hub]:
    from redline.api.app import create_app
    from redline.config import Settings

    settings = Settings(data_dir=tmp_path / "server", database_url=database_url, change_poll_interval=0.1)
    with serve_in_thread(create_app(settings)) as url:
        yield Hub(url, database_url, new_key(database_url, "flag", partner="equality-office"))
