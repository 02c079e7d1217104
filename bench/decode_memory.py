"""Server memory and liveness under concurrent hostile image uploads (issue #11, item 1).

    .venv/bin/python bench/decode_memory.py --uploads 16 --baseline-ref b5144fc --baseline-uploads 4

Starts a real ``redline serve`` (one worker, SQLite, loopback) and sends ``--uploads`` concurrent
``POST /v1/match/file`` requests, cycling through three neutral images that are small files but large
images (generated once into ``bench/out/``): a ``--side`` x ``--side`` lossy WebP, an RGBA PNG and a
progressive JPEG. Meanwhile it samples the RSS of the server's process tree (every 20 ms) and the latency
of ``GET /healthz`` (every 50 ms). Reports, as JSON lines: idle and peak RSS, /healthz p50/p99/max, each
upload's status (200, or 503 with Retry-After), whether the server was still alive.

``--baseline-ref REF`` first runs the same load against the code of an older commit (``git archive`` of
its ``src/`` into a temporary folder; nothing in the repository changes), with ``--baseline-uploads``
uploads (the old code takes ~1.6 GiB per WebP: keep it small enough for the machine).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import psutil
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
REDLINE = Path(sys.executable).parent / "redline"
OUT = ROOT / "bench" / "out"


def hostile_images(side: int, folder: Path) -> dict[str, bytes]:
    """Neutral, smooth pictures (gradients and circles): tiny files, ``side`` x ``side`` pixels."""
    folder.mkdir(parents=True, exist_ok=True)
    names = {"webp": f"grad-{side}.webp", "png": f"grad-rgba-{side}.png", "jpeg": f"grad-prog-{side}.jpg"}
    if not all((folder / n).exists() for n in names.values()):
        ramp = np.linspace(0, 255, side, dtype=np.float32)
        red = np.broadcast_to(ramp[None, :], (side, side)).astype(np.uint8)
        green = np.broadcast_to(ramp[:, None], (side, side)).astype(np.uint8)
        blue = ((np.add.outer(ramp, ramp) // 2) // 64 * 64).astype(np.uint8)
        rgb = Image.fromarray(np.dstack([red, green, blue]))
        del red, green, blue
        rgb.save(folder / names["webp"], "WEBP", quality=10, method=0)
        rgb.save(folder / names["jpeg"], "JPEG", quality=30, progressive=True)
        alpha = Image.fromarray(np.broadcast_to(ramp[None, :], (side, side)).astype(np.uint8))
        rgba = rgb.convert("RGBA")
        rgba.putalpha(alpha)
        rgba.save(folder / names["png"], "PNG", compress_level=1)
    return {kind: (folder / name).read_bytes() for kind, name in names.items()}


class Sampler(threading.Thread):
    def __init__(self, pid: int, url: str) -> None:
        super().__init__(daemon=True)
        self.pid, self.url = pid, url
        self.rss: list[int] = []
        self.healthz: list[float] = []
        self.stop = threading.Event()

    def tree_rss(self) -> int:
        try:
            root = psutil.Process(self.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return 0
        total = 0
        for proc in procs:
            with contextlib.suppress(psutil.NoSuchProcess):
                total += proc.memory_info().rss
        return total

    def run(self) -> None:
        health = threading.Thread(target=self._health, daemon=True)
        health.start()
        while not self.stop.is_set():
            self.rss.append(self.tree_rss())
            time.sleep(0.02)
        health.join()

    def _health(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self.stop.is_set():
                started = time.perf_counter()
                try:
                    client.get(self.url + "/healthz")
                    self.healthz.append(time.perf_counter() - started)
                except httpx.HTTPError:
                    self.healthz.append(float("inf"))
                time.sleep(0.05)


def run_load(label: str, pythonpath: str, uploads: int, images: dict[str, bytes]) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="redline-decode-bench-") as tmp:
        env = {**os.environ, "PYTHONPATH": pythonpath, "REDLINE_DATA_DIR": tmp}
        subprocess.run([str(REDLINE), "db", "upgrade"], env=env, capture_output=True, check=True)
        token = (
            subprocess.run(
                [str(REDLINE), "keys", "create", "--name", "bench", "--scope", "match"],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        with open(Path(tmp) / "server.log", "wb") as log:
            server = subprocess.Popen(
                [str(REDLINE), "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            _wait_ready(url, server)
            sampler = Sampler(server.pid, url)
            idle = sampler.tree_rss()
            sampler.start()
            time.sleep(0.5)
            kinds = list(images)
            results: list[dict[str, object]] = [{} for _ in range(uploads)]

            def upload(i: int) -> None:
                kind = kinds[i % len(kinds)]
                started = time.perf_counter()
                try:
                    r = httpx.post(
                        url + "/v1/match/file",
                        headers={"Authorization": f"Bearer {token}"},
                        files={"file": (f"upload.{kind}", images[kind])},
                        timeout=600,
                    )
                    results[i] = {
                        "kind": kind,
                        "status": r.status_code,
                        "retry_after": r.headers.get("retry-after"),
                        "seconds": round(time.perf_counter() - started, 2),
                    }
                except httpx.HTTPError as exc:
                    results[i] = {"kind": kind, "status": None, "error": type(exc).__name__}

            threads = [threading.Thread(target=upload, args=(i,)) for i in range(uploads)]
            started = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - started
            time.sleep(0.5)
            sampler.stop.set()
            sampler.join()
            alive = server.poll() is None and httpx.get(url + "/healthz", timeout=10).status_code == 200
        finally:
            server.terminate()
            server.wait(timeout=30)
    lat = sorted(sampler.healthz)
    statuses: dict[str, int] = {}
    for r in results:
        statuses[str(r.get("status"))] = statuses.get(str(r.get("status")), 0) + 1
    return {
        "run": label,
        "uploads": uploads,
        "seconds": round(elapsed, 1),
        "idle_rss_mib": round(idle / 2**20),
        "peak_rss_mib": round(max(sampler.rss) / 2**20),
        "healthz_p50_ms": round(statistics.median(lat) * 1000, 1),
        "healthz_p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, 1),
        "healthz_max_ms": round(lat[-1] * 1000, 1),
        "statuses": statuses,
        "all_503_have_retry_after": all(r.get("retry_after") for r in results if r.get("status") == 503),
        "server_alive": alive,
        "uploads_detail": results,
    }


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_ready(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("server exited during start")
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("server did not become ready")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--uploads", type=int, default=16)
    parser.add_argument("--side", type=int, default=10_000)
    parser.add_argument("--baseline-ref", default="", help="git commit to run first, as the baseline")
    parser.add_argument("--baseline-uploads", type=int, default=4)
    args = parser.parse_args()
    images = hostile_images(args.side, OUT / "decode_memory")
    print(json.dumps({"images": {k: len(v) for k, v in images.items()}, "side": args.side}), flush=True)
    if args.baseline_ref:
        with tempfile.TemporaryDirectory(prefix="redline-baseline-") as old:
            archive = subprocess.run(
                ["git", "-C", str(ROOT), "archive", args.baseline_ref, "src"], capture_output=True, check=True
            ).stdout
            subprocess.run(["tar", "-x", "-C", old], input=archive, check=True)
            result = run_load(f"baseline {args.baseline_ref}", f"{old}/src", args.baseline_uploads, images)
            print(json.dumps(result), flush=True)
    print(json.dumps(run_load("this tree", str(ROOT / "src"), args.uploads, images)), flush=True)


if __name__ == "__main__":
    main()
