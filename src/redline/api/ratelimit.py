"""Per-client rate limits for unauthenticated endpoints (case submission, wrong case secrets).

A sliding window per client address, in this process's memory: with ``--workers N`` a client gets up to N
times the limit, which still stops floods and scripts. Behind a reverse proxy, start ``redline serve`` with
``--forwarded-allow-ips`` set to the proxy's address so the client address is the real one.
"""

from __future__ import annotations

import threading
import time
from collections import deque


class RateLimiter:
    def __init__(self, limit: int, window_seconds: float, max_clients: int = 100_000) -> None:
        self.limit = limit
        self.window = window_seconds
        self.max_clients = max_clients
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, client: str) -> float | None:
        """Count a request; None if allowed, else seconds until the client may try again."""
        now = time.monotonic()
        with self._lock:
            hits = self._hits.get(client)
            if hits is None:
                if len(self._hits) >= self.max_clients:
                    self._forget_idle(now)
                hits = self._hits[client] = deque()
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(hits[0] + self.window - now, 1.0)
            hits.append(now)
            return None

    def _forget_idle(self, now: float) -> None:
        for client in [c for c, h in self._hits.items() if not h or h[-1] <= now - self.window]:
            del self._hits[client]
