"""Browser fixtures: Debian's Chromium driven by Playwright; a static file server for the portal's modules.

Chromium is required in CI (``require``): the portal's promise that images never leave the device is only
tested in a real browser.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import require, serve_in_thread

WEB_TESTS_DIR = Path(__file__).resolve().parent
AXE_SCRIPT = WEB_TESTS_DIR / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core's script, installed from the pinned package-lock.json with ``npm ci`` on first use."""
    if not AXE_SCRIPT.exists():
        npm = shutil.which("npm")
        require(npm is not None, "npm not installed (needed to install axe-core for the accessibility test)")
        assert npm is not None
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=WEB_TESTS_DIR, check=True, timeout=180)
    return AXE_SCRIPT.read_text("utf-8")


@pytest.fixture
def portal(database_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The real Redline app (API + portal) served by uvicorn on a free loopback port: (base URL, DB URL)."""
    from redline.api.app import create_app
    from redline.config import Settings

    settings = Settings(data_dir=tmp_path, database_url=database_url, change_poll_interval=0.1)
    with serve_in_thread(create_app(settings)) as url:
        yield url, database_url
