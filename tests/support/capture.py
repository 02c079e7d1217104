"""A recording HTTP proxy on loopback: every byte a client sends (request line, headers, body) is kept, then
forwarded to the real server. Tests read ``Recorder.sent`` to show what left the machine."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx


class Recorder:
    def __init__(self) -> None:
        self.requests: list[bytes] = []
        self._lock = threading.Lock()

    def add(self, raw: bytes) -> None:
        with self._lock:
            self.requests.append(raw)

    @property
    def sent(self) -> bytes:
        with self._lock:
            return b"\n".join(self.requests)


@contextmanager
def recording_proxy(upstream: str) -> Iterator[tuple[str, Recorder]]:
    """(proxy base URL, recorder): point a client at the URL instead of ``upstream``."""
    recorder = Recorder()
    client = httpx.Client(base_url=upstream, timeout=60)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            head = f"{self.requestline}\r\n{self.headers}".encode("utf-8", "surrogateescape")
            recorder.add(head + body)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
            reply = client.request(self.command, self.path, content=body, headers=headers)
            self.send_response(reply.status_code)
            hop = ("content-length", "transfer-encoding", "connection", "content-encoding")
            for name, value in reply.headers.items():
                if name.lower() not in hop:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.content)))
            self.end_headers()
            self.wfile.write(reply.content)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _forward

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", recorder
    finally:
        server.shutdown()
        server.server_close()
        client.close()
