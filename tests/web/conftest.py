"""Browser fixtures: Debian's Chromium driven by Playwright; a static file server for the portal's modules.

Chromium is required in CI (``require``): the portal's promise that images never leave the device is only
tested in a real browser.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require
from tests.support import serve_in_thread

STATIC_DIR = Path(__file__).resolve().parents[2] / "src" / "redline" / "web" / "static"


class _Handler(SimpleHTTPRequestHandler):
    """Serves ``/static/*`` from the portal's static folder and ``/media/*`` from a test media folder."""

    roots: dict[str, Path]

    def translate_path(self, path: str) -> str:
        path = path.split("?", 1)[0]
        for prefix, root in self.roots.items():
            if path.startswith(prefix):
                target = (root / path[len(prefix) :]).resolve()
                if root.resolve() in target.parents or target == root.resolve():
                    return str(target)
        return str(STATIC_DIR / "__missing__")

    def do_GET(self) -> None:
        if self.path == "/":  # a blank same-origin page to run module code in
            body = b"<!doctype html><html lang=en><title>harness</title></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve_static(media_root: Path) -> tuple[ThreadingHTTPServer, str]:
    """Start a loopback server for the portal modules and ``media_root``; returns (server, base URL)."""
    handler = type("Handler", (_Handler,), {"roots": {"/static/": STATIC_DIR, "/media/": media_root}})
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


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
