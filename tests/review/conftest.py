from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import redline.actions.models
import redline.review.models  # noqa: F401 - the moderation tables belong to the same metadata
from redline.bank.db import Database
from redline.bank.secrets import ContactCipher


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def cipher(tmp_path: Path) -> ContactCipher:
    return ContactCipher.from_settings("", tmp_path / "keys")
