"""The one home of test helpers: shared constants, helper functions and classes, helper servers.

Where things go:

- ``tests/support/`` (this package): anything two test modules share, or a conftest needs. The package's
  ``__init__`` holds the suite-wide basics (``require``, ``wait_until``, ``serve_in_thread``, ``ATTESTATION``,
  ``PASSWORD``); the modules hold helpers by topic (``apps``, ``bank``, ``media``, ``portal``, ``loopback``)
  and the helper servers the tests run (``server``: ``redline serve`` as a process; ``receiver``: a webhook
  receiver).
- ``conftest.py`` files: fixtures only, built from these helpers.
- ``test_*.py`` modules: tests and their module-private helpers; a test module never imports another test
  module or a conftest. A helper a second module needs moves here.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

#: What a survivor attests to when she submits a case (the API's and the bank's ``attestation``).
ATTESTATION = {"subject": "self", "adult": True, "non_consensual": True}

#: The password of every console account the tests create.
PASSWORD = "correct horse battery staple"


def require(condition: bool, why: str) -> None:
    """Skip (developer machine) or fail (CI) when a resource a test needs is missing."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required in CI but unavailable: {why}", pytrace=False)
    pytest.skip(why)


def wait_until(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.02) -> float:
    """Poll ``predicate`` until true; fail the test after ``timeout`` s. Returns the seconds waited."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(interval)
    return time.monotonic() - start


@contextmanager
def serve_in_thread(app: Any, start_timeout: float = 20.0) -> Iterator[str]:
    """Serve an ASGI ``app`` with uvicorn on a free loopback port; yields its base URL."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
