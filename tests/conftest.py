"""Fixtures shared by the whole suite.

Tests that need outside resources (``../shared`` media, PostgreSQL, Chromium) skip with a clear message on a
developer's fresh clone, but *fail* in CI (``CI=true``), where those resources are always provided.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("REDLINE_SHARED_DIR", REPO_ROOT.parent / "shared"))
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(condition: bool, why: str) -> None:
    """Skip (developer machine) or fail (CI) when a resource a test needs is missing."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required in CI but unavailable: {why}", pytrace=False)
    pytest.skip(why)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    require((SHARED / "corpus").is_dir(), f"../shared test media not found at {SHARED}")
    return SHARED


@pytest.fixture(scope="session")
def corpus(shared_dir: Path) -> Path:
    return shared_dir / "corpus"
