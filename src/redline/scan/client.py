"""The scanner's connection to a Redline server: only hashes and content ids go out, with a ``match`` key.

Why over HTTP and not into the database directly: a platform usually runs its hub (the server, its index and
database) elsewhere than the storage it scans, and the scanner then needs no database credentials and no
index of its own (loading one takes minutes at millions of entries); the server's single matching and
moderation path (``/v1/match/file``'s) does the rest. Transient failures (connection errors, 429, 5xx, a
server still loading its index) are retried with backoff; anything else stops the scan with the server's
problem detail, since it would fail the same way for every batch (a wrong key, a wrong URL).
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from redline import __version__

_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


class ServerError(RuntimeError):
    """The server refused the scan (not a transient failure)."""


class ScanClient:
    def __init__(self, server: str, key: str, *, timeout_s: float = 60.0, attempts: int = 8) -> None:
        self._client = httpx.Client(
            base_url=server.rstrip("/"),
            timeout=httpx.Timeout(timeout_s, connect=10.0),
            headers={"authorization": f"Bearer {key}", "user-agent": f"Redline-Scan/{__version__}"},
            follow_redirects=False,
        )
        self._attempts = attempts

    def close(self) -> None:
        self._client.close()

    def send(self, scan_id: str, files: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Match one batch's hashed files; the server's result per file, in order."""
        delay = 0.5
        for attempt in range(1, self._attempts + 1):
            try:
                response = self._client.post(f"/v1/scans/{scan_id}/files", json={"files": files})
            except httpx.TransportError as exc:
                if attempt == self._attempts:
                    raise ServerError(f"cannot reach the server: {exc}") from None
            else:
                if response.status_code == 200:
                    results: list[dict[str, Any]] = response.json()["files"]
                    return results
                if response.status_code not in _RETRY_STATUS or attempt == self._attempts:
                    raise ServerError(_problem(response))
                retry_after = response.headers.get("retry-after", "")
                if retry_after.isdigit():
                    delay = max(delay, float(retry_after))
            time.sleep(delay)
            delay = min(delay * 2, 30.0)
        raise AssertionError("unreachable")


def _problem(response: httpx.Response) -> str:
    try:
        body = response.json()
        detail = body.get("detail") or body.get("title") or response.text
    except ValueError:
        detail = response.text[:300]
    return f"the server answered {response.status_code}: {detail}"
