"""``redline scan --ray``: the same scan on a real Ray cluster (a head and one worker node started here with
``ray start``), the same report and the same server-side results as a local scan."""

from __future__ import annotations

import importlib.util
import io
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.support import require, wait_until
from tests.support.ray_nodes import alive_nodes, start_node, stop_nodes
from tests.support.scan import Hub, pattern_png, run_scan
from tests.support.server import free_port


def noise_png(seed: int) -> bytes:
    """Coarse random blocks: nothing like the protected pattern, in any hash."""
    blocks = np.random.default_rng(seed).integers(0, 255, (10, 10, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(blocks).resize((160, 160), Image.Resampling.NEAREST).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def ray_cluster(tmp_path: Path) -> Iterator[str]:
    require(importlib.util.find_spec("ray") is not None, "ray is not installed (the scale extra)")
    port = free_port()
    address = f"127.0.0.1:{port}"
    temp = Path("/tmp") / f"ray-{port}"  # Ray's socket paths must stay short
    head_args = ["--head", "--port", str(port), "--include-dashboard", "false", "--temp-dir", str(temp)]
    nodes = [start_node(head_args, tmp_path / "ray-head.log")]
    try:
        wait_until(lambda: alive_nodes(address) == 1, timeout=120, interval=1)
        nodes.append(start_node(["--address", address], tmp_path / "ray-worker.log"))
        wait_until(lambda: alive_nodes(address) == 2, timeout=120, interval=1)
        yield address
    finally:
        stop_nodes(nodes)


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
