from __future__ import annotations

from collections.abc import Iterator

import pytest

import redline.actions.models
import redline.review.models  # noqa: F401 - the moderation tables belong to the same metadata
from redline.bank.db import Database


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()
