"""A real HTTP webhook receiver for the tests: records every POST (headers + body) to a JSON Lines file.

Runs in a thread (``Receiver``) or as its own process (``python receiver.py PORT FILE``), so the at-least-once
test can kill it with SIGKILL mid-delivery. A message is appended (and flushed to disk) *before* the 2xx
answer, which is what a careful receiver does: a crash between the two produces a duplicate, never a loss.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def _handler(
    log_path: Path, status: list[int], extra_headers: dict[str, str], delay_s: float = 0.0
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            record = {
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body.decode("utf-8", "replace"),
            }
            with log_path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
                f.flush()
                os.fsync(f.fileno())
            if delay_s:  # recorded but not yet acknowledged: a kill now must cause a re-delivery
                time.sleep(delay_s)
            self.send_response(status[0])
            for k, v in extra_headers.items():
                self.send_header(k, v)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


class Receiver:
    """Threaded receiver on 127.0.0.1; ``status`` may be changed while it runs."""

    def __init__(
        self, log_path: Path, status: int = 200, extra_headers: dict[str, str] | None = None
    ) -> None:
        self.log_path = log_path
        self._status = [status]
        handler = _handler(log_path, self._status, extra_headers or {})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def set_status(self, status: int) -> None:
        self._status[0] = status

    def records(self) -> list[dict[str, object]]:
        if not self.log_path.exists():
            return []
        return [json.loads(line) for line in self.log_path.read_text().splitlines() if line.strip()]

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def read_records(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut short by SIGKILL
            continue
    return out


if __name__ == "__main__":
    port, path = int(sys.argv[1]), Path(sys.argv[2])
    delay = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    ThreadingHTTPServer.allow_reuse_address = True
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(path, [200], {}, delay))
    server.serve_forever()
