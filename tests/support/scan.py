"""For the ``redline scan`` tests: the hub a scan talks to, neutral pictures, the scan command."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from redline.bank.db import Database
from redline.match.service import Query
from tests.support import ATTESTATION, wait_until
from tests.support.apps import subscribe
from tests.support.bank import key_with_reads
from tests.support.media import picture_hashes

REDLINE = Path(sys.executable).parent / "redline"


@dataclass
class Hub:
    url: str
    db: Database
    app: Any

    def key(self, *scopes: str) -> str:
        with self.db.write() as session:
            _, token = key_with_reads(session, *scopes)
        return token

    def protect(self, *images: bytes) -> None:
        """A survivor case of these pictures (as the portal stores them), live in the index."""
        import httpx

        hashes = [h for item, image in enumerate(images) for h in picture_hashes(image, item)]
        body = {"hashes": hashes, "attestation": ATTESTATION}
        response = httpx.post(self.url + "/v1/cases", json=body, timeout=30)
        assert response.status_code == 201, response.text
        matcher = self.app.state.services.matcher
        for h in hashes:
            if h["type"] == "pdq":
                wait_until(lambda v=h["value"]: bool(matcher.match([Query("pdq", v)])[0]), timeout=5)

    def subscribe(self) -> None:
        subscribe(self)  # type: ignore[arg-type]  # needs only .db


def pattern_png(seed: int, side: int = 256) -> bytes:
    """A smooth synthetic pattern (no people), different per seed."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:side, 0:side] / side
    a, b, c = rng.random(3) * 6
    image = np.stack([np.sin(x * 9 + a), np.cos(y * 7 + b), np.sin((x + y) * (4 + c))], -1)
    buffer = io.BytesIO()
    Image.fromarray(((image + 1) * 127).astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def scan_command(source: Path, hub: Hub, key: str, report: Path, *extra: str) -> list[str]:
    return [str(REDLINE), "scan", str(source), "--server", hub.url, "--report", str(report), *extra]


def scan_env(key: str) -> dict[str, str]:
    return {**os.environ, "REDLINE_SCAN_KEY": key}


def run_scan(source: Path, hub: Hub, key: str, report: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        scan_command(source, hub, key, report, *extra),
        env=scan_env(key),
        capture_output=True,
        text=True,
        timeout=300,
    )
