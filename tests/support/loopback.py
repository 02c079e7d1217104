"""Plain file servers on loopback: the portal's static modules with test media, and scripted downloads."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.support import REPO_ROOT

STATIC_DIR = REPO_ROOT / "src" / "redline" / "web" / "static"


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


@contextmanager
def file_server(files: dict[str, tuple[str, bytes]], redirects: dict[str, str]) -> Iterator[str]:
    """Serves ``files`` (path -> (content type, body)) and ``redirects`` (path -> Location) on loopback."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path in redirects:
                self.send_response(302)
                self.send_header("Location", redirects[self.path])
                self.end_headers()
                return
            if self.path not in files:
                self.send_error(404)
                return
            content_type, body = files[self.path]
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
