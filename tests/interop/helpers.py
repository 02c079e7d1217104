"""What the interop tests share: a loopback file server with neutral generated pictures, keys, a server."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
from PIL import Image

from redline.bank import service
from redline.bank.db import Database


def checkerboard(square: int, size: int = 128, fmt: str = "JPEG") -> bytes:
    """A black and white checkerboard (HMA's own hashing tests use 128x128 checkerboards too)."""
    cells = np.indices((size, size)).sum(axis=0) // square % 2 * 255
    out = io.BytesIO()
    Image.fromarray(cells.astype("uint8")).convert("RGB").save(out, fmt)
    return out.getvalue()


#: An MP4 header: enough for the magic-number check, and HMA's video signal is only the file's MD5.
FAKE_MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(range(256)) * 8


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


def new_key(database_url: str, *scopes: str, partner: str | None = None) -> str:
    db = Database(database_url)
    try:
        with db.write() as session:
            _, token = service.create_api_key(
                session,
                name=f"{partner or 'test'}-{'-'.join(scopes)}",
                scopes=scopes,
                actor="test",
                partner=partner,
            )
        return token
    finally:
        db.dispose()
