"""Fetching a remote file for hashing (HMA's ``GET /h/hash?url=``) under Redline's SSRF policy.

The URL is an instruction to make the server open a connection, so it gets the same treatment as a webhook
(``redline.actions.urlpolicy``): http(s) only, no credentials, every resolved address checked (private and
loopback refused unless the operator allows them), the connection made to the checked address (no DNS
rebinding), a redirect followed only after its target passes the same checks (at most a few), a timeout, and
a size cap enforced while the body streams, so a huge or endless response costs nothing beyond the cap.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx

from redline import __version__
from redline.actions.urlpolicy import UrlPolicy, UrlRefused

_MAX_REDIRECTS = 3


class FetchError(ValueError):
    """The URL could not be fetched; ``status`` is the HTTP status to answer with (400 or 413)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Fetched:
    content_type: str
    size: int


def fetch_to_file(
    url: str, destination: Path, *, policy: UrlPolicy, max_bytes: int, timeout_s: float = 30.0
) -> Fetched:
    """Stream ``url`` into ``destination``; :class:`FetchError` for refused URLs, failures, large bodies."""
    with httpx.Client(
        timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0)),
        follow_redirects=False,
        trust_env=False,
        headers={"user-agent": f"Redline-Fetch/{__version__}"},
    ) as client:
        for _ in range(_MAX_REDIRECTS + 1):
            try:
                scheme, host, port = policy.check_url(url)
                address = policy.resolve(host, port)[0]
            except UrlRefused as exc:
                raise FetchError(f"Invalid or unsafe URL provided: {exc}") from None
            original = httpx.URL(url)
            target = original.copy_with(host=str(address))
            headers = {"host": original.netloc.decode("ascii")}
            extensions = {"sni_hostname": host} if scheme == "https" else {}
            try:
                with client.stream("GET", target, headers=headers, extensions=extensions) as response:
                    if response.is_redirect and "location" in response.headers:
                        url = str(original.join(response.headers["location"]))
                        continue
                    if response.status_code != 200:
                        raise FetchError(f"Failed to fetch URL: HTTP {response.status_code}")
                    declared = response.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > max_bytes:
                        raise FetchError("Content too large", 413)
                    size = 0
                    with destination.open("wb") as out:
                        for chunk in response.iter_bytes(1 << 16):
                            size += len(chunk)
                            if size > max_bytes:
                                raise FetchError("Content too large", 413)
                            out.write(chunk)
                    return Fetched(response.headers.get("content-type", ""), size)
            except httpx.HTTPError as exc:
                raise FetchError(f"Failed to fetch URL: {type(exc).__name__}") from None
    raise FetchError(f"Failed to fetch URL: more than {_MAX_REDIRECTS} redirects")
