"""``redline scan --ray``: the same scan on a real Ray cluster (a head and one worker node started here with
``ray start``), the same report and the same server-side results as a local scan."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.support import require, wait_until
from tests.support.scan import Hub, pattern_png, run_scan
from tests.support.server import free_port

RAY = Path(sys.executable).parent / "ray"


def noise_png(seed: int) -> bytes:
    """Coarse random blocks: nothing like the protected pattern, in any hash."""
    blocks = np.random.default_rng(seed).integers(0, 255, (10, 10, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(blocks).resize((160, 160), Image.Resampling.NEAREST).save(buffer, format="PNG")
    return buffer.getvalue()


def _node(args: list[str], tmp_path: Path, name: str) -> subprocess.Popen[bytes]:
    # --block keeps the node's daemons in this process's group, so the test stops exactly what it started.
    log = (tmp_path / f"ray-{name}.log").open("wb")
    return subprocess.Popen(
        [str(RAY), "start", "--block", "--num-cpus", "1", "--disable-usage-stats", *args],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"},
    )


def _up(address: str, nodes: int) -> bool:
    probe = (
        f"import ray; ray.init(address={address!r}, logging_level='error'); "
        "print(len([n for n in ray.nodes() if n['Alive']]))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    return done.returncode == 0 and done.stdout.strip().endswith(str(nodes))


@pytest.fixture
def ray_cluster(tmp_path: Path) -> Iterator[str]:
    require(importlib.util.find_spec("ray") is not None, "ray is not installed (the scale extra)")
    port = free_port()
    address = f"127.0.0.1:{port}"
    temp = Path("/tmp") / f"ray-{port}"  # Ray's socket paths must stay short
    head_args = ["--head", "--port", str(port), "--include-dashboard", "false", "--temp-dir", str(temp)]
    head = _node(head_args, tmp_path, "head")
    nodes = [head]
    try:
        wait_until(lambda: _up(address, 1), timeout=120, interval=1)
        nodes.append(_node(["--address", address], tmp_path, "worker"))
        wait_until(lambda: _up(address, 2), timeout=120, interval=1)
        yield address
    finally:
        for node in reversed(nodes):
            if node.poll() is None:
                os.killpg(node.pid, signal.SIGTERM)
        for node in nodes:
            try:
                node.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(node.pid, signal.SIGKILL)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_scan_on_a_ray_cluster_reports_what_a_local_scan_does(
    hub: Hub, ray_cluster: str, tmp_path: Path
) -> None:
    picture = pattern_png(8, side=160)
    hub.protect(picture)
    key = hub.key("match")
    root = tmp_path / "hosted"
    root.mkdir()
    for n in range(6):
        (root / f"post-{n}.png").write_bytes(picture if n % 2 == 0 else noise_png(n))
    (root / "broken.png").write_bytes(picture[:100])
    on_ray = run_scan(root, hub, key, tmp_path / "ray.jsonl", "--ray", ray_cluster, "--batch-size", "2")
    assert on_ray.returncode == 0, on_ray.stderr
    rows = [json.loads(line) for line in (tmp_path / "ray.jsonl").read_text().splitlines()]
    matched = sorted({r["content_id"] for r in rows if r["kind"] == "match"})
    assert matched == ["post-0.png", "post-2.png", "post-4.png"]
    errors = [(r["content_id"], r["error"]) for r in rows if r["kind"] == "error"]
    assert errors == [("broken.png", "truncated")]
    assert sum(r["kind"] == "match" for r in rows) == 9  # md5, sha256 and pdq of each copy
