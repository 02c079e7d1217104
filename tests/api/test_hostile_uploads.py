"""Uploads against a real ``redline serve``: concurrent large images stay within the decoding budget (issue
#11 item 1), and nothing uploaded outlives the request, not even a ``kill -9`` (item 2)."""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import psutil
import pytest
from PIL import Image

from redline.bank import service
from redline.bank.db import Database
from tests.support.server import Server

pytestmark = pytest.mark.slow
MiB = 1024 * 1024


def _key(url: str) -> str:
    db = Database(url)
    db.upgrade()
    with db.write() as session:
        _, token = service.create_api_key(session, name="platform", scopes=["match"], actor="test")
    db.dispose()
    return token


def large_image(side: int, fmt: str) -> bytes:
    """A neutral gradient, ``side`` x ``side``, RGBA for PNG: small file, large image."""
    ramp = np.linspace(0, 255, side, dtype=np.float32)
    layers = [np.broadcast_to(ramp[None, :], (side, side)), np.broadcast_to(ramp[:, None], (side, side))]
    rgb = np.dstack([*layers, np.full((side, side), 128, np.float32)]).astype(np.uint8)
    image = Image.fromarray(rgb)
    if fmt == "PNG":
        image.putalpha(Image.fromarray(layers[0].astype(np.uint8)))
    out = io.BytesIO()
    image.save(out, fmt, **({"quality": 20, "method": 0} if fmt == "WEBP" else {"compress_level": 1}))
    return out.getvalue()


def _tree_rss(pid: int) -> int:
    root = psutil.Process(pid)
    total = 0
    for proc in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += proc.memory_info().rss
    return total


def test_concurrent_large_uploads_are_answered_within_the_memory_budget(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'redline.db'}"
    token = _key(url)
    webp = large_image(4000, "WEBP")  # 4 decoder copies of 64 MB: ~260 MB reserved
    png = large_image(3000, "PNG")  # 36 MB
    budget = 300 * MiB
    server = Server(
        url, tmp_path, env={"REDLINE_DECODE_BUDGET_BYTES": str(budget), "REDLINE_DECODE_WAIT_S": "0.3"}
    )
    try:
        idle = _tree_rss(server.process.pid)
        peak, stop = [idle], threading.Event()

        def sample() -> None:
            while not stop.is_set():
                peak.append(_tree_rss(server.process.pid))
                time.sleep(0.02)

        sampler = threading.Thread(target=sample)
        sampler.start()
        answers: list[httpx.Response] = []

        def upload(data: bytes) -> None:
            answers.append(
                httpx.post(
                    server.url + "/v1/match/file",
                    headers={"Authorization": f"Bearer {token}"},
                    files={"file": ("upload", data)},
                    timeout=120,
                )
            )

        uploads = [threading.Thread(target=upload, args=(d,)) for d in [webp, png] * 3]
        for t in uploads:
            t.start()
        for t in uploads:
            t.join()
        stop.set()
        sampler.join()
        assert httpx.get(server.url + "/healthz").status_code == 200 and server.process.poll() is None
    finally:
        server.stop()
    statuses = sorted(r.status_code for r in answers)
    assert set(statuses) <= {200, 503} and 200 in statuses and 503 in statuses, statuses
    for busy in (r for r in answers if r.status_code == 503):
        assert busy.headers["content-type"] == "application/problem+json"
        assert busy.json()["type"] == "https://redline.dev/problems/busy"
        assert int(busy.headers["retry-after"]) > 0
    for done in (r for r in answers if r.status_code == 200):
        assert done.json()["signals"]["width"] in (3000, 4000)
    # Six uploads decoded at once would hold ~1.2 GB; the budget keeps the server near idle + budget.
    assert max(peak) - idle < budget + 120 * MiB, (max(peak) - idle) // MiB


def _files_holding(folder: Path, marker: bytes) -> list[Path]:
    found = []
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            try:
                if marker in path.read_bytes():
                    found.append(path)
            except OSError:
                pass
    return found


def test_an_upload_leaves_nothing_on_disk_even_when_the_server_is_killed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'redline.db'}"
    token = _key(url)
    data_dir, spool = tmp_path / "data", tmp_path / "tmp"
    data_dir.mkdir()
    spool.mkdir()
    marker = secrets.token_bytes(32)
    upload = large_image(4000, "PNG") + marker  # bytes after IEND: decoders ignore them
    env = {"TMPDIR": str(spool)}  # where the multipart parser spools: checked too
    server = Server(url, data_dir, env=env)
    try:
        sent = threading.Thread(target=lambda: _post_quietly(server.url, token, upload), daemon=True)
        sent.start()
        # Killed while the upload is being decoded (a 4000x4000 RGBA PNG takes a while): the moment the
        # old code had the file under DATA_DIR/uploads/, byte for byte.
        deadline = time.monotonic() + 20
        folders = (data_dir / "uploads", spool)
        while time.monotonic() < deadline and not _decoding(server.process.pid, folders[0], len(upload)):
            time.sleep(0.01)
        held = _open_files_in(server.process.pid, folders)
        server.kill_hard()
        assert held, "the server never held the upload open"
        assert all(target.endswith("(deleted)") for target in held), held  # no name on disk, ever
        assert _files_holding(data_dir, marker) == [] and _files_holding(spool, marker) == []

        # A crash with a named upload file (systems without O_TMPFILE) leaves it in DATA_DIR/uploads/;
        # the next start removes it, and stray key files half-written by a crash.
        (data_dir / "uploads").mkdir(exist_ok=True)
        (data_dir / "uploads" / "upload-left-by-a-crash").write_bytes(upload)
        (data_dir / ".contact.key.1234.abcd").write_bytes(b"half")
        server = Server(url, data_dir, env=env)
        assert list((data_dir / "uploads").iterdir()) == []
        assert not (data_dir / ".contact.key.1234.abcd").exists()
        answered = httpx.post(
            server.url + "/v1/match/file",
            headers={"Authorization": f"Bearer {token}"},
            files={"file": ("upload.png", upload)},
            timeout=60,
        )
        assert answered.status_code == 200
        assert _files_holding(data_dir, marker) == [] and _files_holding(spool, marker) == []
    finally:
        server.stop()


def _post_quietly(url: str, token: str, data: bytes) -> None:
    with contextlib.suppress(httpx.HTTPError):  # the server is killed mid-request
        httpx.post(
            url + "/v1/match/file",
            headers={"Authorization": f"Bearer {token}"},
            files={"file": ("upload.png", data)},
            timeout=60,
        )


def _open_files_in(pid: int, folders: tuple[Path, ...]) -> list[str]:
    """Targets of the server's descriptors for files in ``folders``."""
    targets = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if any(target.startswith(f"{folder}/") for folder in folders):
            targets.append(target)
    return targets


def _decoding(pid: int, uploads: Path, size: int) -> bool:
    """The whole upload is in the server's upload file: it is being hashed now."""
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if os.readlink(fd).startswith(f"{uploads}/") and fd.stat().st_size >= size:
                return True
        except OSError:
            continue
    return False
