"""The HTTP client that performs one webhook delivery attempt.

Short timeouts (a slow receiver must not stall the queue), no redirects, no proxies from the environment, and
the URL policy applied at connect time: the host is resolved and checked right before the request and the
connection is made to that checked address (the ``Host`` header and TLS server name stay the registered host,
so certificates are still verified against it). A DNS answer that changes after registration therefore cannot
point a delivery at an internal address.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from redline import __version__
from redline.actions.urlpolicy import UrlPolicy, UrlRefused

#: Error text stored for an attempt is truncated to this many characters.
_MAX_ERROR = 300


@dataclass(frozen=True)
class AttemptResult:
    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: int


class WebhookClient:
    def __init__(self, policy: UrlPolicy, *, timeout_s: float = 5.0, connect_timeout_s: float = 3.0) -> None:
        self.policy = policy
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
            follow_redirects=False,
            trust_env=False,
            headers={"user-agent": f"Redline-Webhooks/{__version__}"},
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> WebhookClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> AttemptResult:
        """POST ``body`` to ``url``; success means a 2xx answer. Never raises for network trouble."""
        started = time.monotonic()

        def result(ok: bool, status: int | None, error: str | None) -> AttemptResult:
            elapsed = int((time.monotonic() - started) * 1000)
            return AttemptResult(ok, status, error[:_MAX_ERROR] if error else None, elapsed)

        try:
            scheme, host, port = self.policy.check_url(url)
            address = self.policy.resolve(host, port)[0]
        except UrlRefused as exc:
            return result(False, None, f"refused by URL policy: {exc}")
        original = httpx.URL(url)
        target = original.copy_with(host=str(address))
        host_header = original.netloc.decode("ascii")
        send_headers = {**headers, "host": host_header, "content-type": "application/json"}
        extensions = {"sni_hostname": host} if scheme == "https" else {}
        try:
            with self._client.stream(
                "POST", target, content=body, headers=send_headers, extensions=extensions
            ) as response:
                status = response.status_code
        except httpx.HTTPError as exc:
            return result(False, None, f"{type(exc).__name__}: {exc}")
        if 200 <= status < 300:
            return result(True, status, None)
        if 300 <= status < 400:
            return result(False, status, "redirects are not followed")
        return result(False, status, f"HTTP {status}")
