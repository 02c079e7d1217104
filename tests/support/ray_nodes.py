"""Real Ray nodes started with ``ray start`` (one CPU each), for the Ray scan test and bench/scan.py --ray."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

RAY = Path(sys.executable).parent / "ray"


def start_node(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    """One node with one CPU. ``--block`` keeps its daemons in a process group of its own, so
    :func:`stop_nodes` stops exactly what was started."""
    return subprocess.Popen(
        [str(RAY), "start", "--block", "--num-cpus", "1", "--disable-usage-stats", *args],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        # No drain on SIGTERM: Ray's drain (for Serve replicas on Kubernetes) waits out its 30 s on a head
        # that ran a job, and nothing here needs one; stop_nodes' SIGTERM then stops a node in a second.
        env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0"},
    )


def alive_nodes(address: str) -> int:
    """How many nodes of the cluster at ``address`` are alive (0 when it cannot be reached)."""
    probe = (
        f"import ray; ray.init(address={address!r}, logging_level='error'); "
        "print(len([n for n in ray.nodes() if n['Alive']]))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    lines = done.stdout.strip().splitlines()
    return int(lines[-1]) if done.returncode == 0 and lines and lines[-1].isdigit() else 0


def stop_nodes(nodes: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM each node's process group (the last started first), SIGKILL what is still there after 30 s."""
    for node in reversed(nodes):
        if node.poll() is None:
            os.killpg(node.pid, signal.SIGTERM)
    for node in nodes:
        try:
            node.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(node.pid, signal.SIGKILL)
