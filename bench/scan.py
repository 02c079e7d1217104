"""``redline scan`` throughput against ``redline hash`` on the same files, and 2 worker processes vs 1.

    .venv/bin/python bench/scan.py --files 120 --robust-files 12

In one run: neutral synthetic JPEGs (640x480, no people) are written to a temporary folder; a Redline server
(SQLite, empty bank: the matching cost is the index lookup, the same whatever the bank holds) is served on a
loopback port in this process. Each command then runs as a fresh process, twice: over the whole folder and
over a one-file folder; files/s is ``(N - 1) / (t_N - t_1)``, so interpreter start-up, worker spawn and the
JIT cache load cancel out. Measured:

* baseline: ``redline hash FOLDER --jobs 1`` (decode + PDQ + MD5/SHA-256, no robust query hashes);
* ``redline scan`` with robust matching off (``REDLINE_ROBUST_MATCHING=0``: the same hashes as ``redline
  hash``, plus the HTTP round trip and the state file), ``--jobs 1`` and ``--jobs 2``;
* ``redline scan`` with robust matching on (~110 region hashes per image, what ``/v1/match/file`` derives),
  ``--jobs 1`` and ``--jobs 2``, on ``--robust-files`` files;
* CPU milliseconds per file (user + system of the command and its workers, same subtraction): throughput
  per core, which the load of a shared machine disturbs much less than the wall-clock rate;
* the largest resident memory of any one process of each command (``RUSAGE_CHILDREN``'s ``ru_maxrss`` in a
  wrapper process: the driver or a worker, whichever is larger);
* with ``--ray``: ``redline scan --ray ADDRESS`` (robust off) on a real local Ray cluster, first a head node
  with one CPU (one worker), then with a second one-CPU worker node joined (two workers), on ``--ray-files``
  files. Ray's workers run outside the wrapper, so only wall-clock rates are reported for these rows; they
  need a machine with two free cores to mean anything.

JSON lines on stdout, with the load average (the development machine is shared).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

REDLINE = Path(sys.executable).parent / "redline"
ROOT = Path(__file__).resolve().parent.parent


def loadavg() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def neutral_jpeg(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:480, 0:640] / 480.0
    a, b, c = rng.random(3) * 6
    image = np.stack([np.sin(x * 9 + a), np.cos(y * 7 + b), np.sin((x + y) * (4 + c))], -1)
    image += rng.normal(0, 0.05, image.shape)
    buffer = io.BytesIO()
    Image.fromarray(((np.clip(image, -1, 1) + 1) * 127).astype(np.uint8)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def folder(root: Path, count: int) -> Path:
    root.mkdir(parents=True)
    for n in range(count):
        (root / f"{n:05d}.jpg").write_bytes(neutral_jpeg(n))
    return root


def serve(data_dir: Path) -> tuple[str, str]:
    import uvicorn

    from redline.api.app import create_app
    from redline.bank import service
    from redline.bank.db import Database
    from redline.config import Settings

    settings = Settings(data_dir=data_dir, database_url=f"sqlite:///{data_dir}/bench.db")
    Database(settings.database_url).upgrade()
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    while not app.state.services.matcher.ready.is_set():
        time.sleep(0.05)
    with app.state.services.db.write() as session:
        _, key = service.create_api_key(session, name="bench", scopes=["match"], actor="bench")
    port = server.servers[0].sockets[0].getsockname()[1]
    return f"http://127.0.0.1:{port}", key


#: Runs one command and prints its wall time, the CPU seconds of it and all its waited-for descendants (the
#: driver and its workers) and the largest resident memory of any one of them.
_WRAPPER = (
    "import json, resource, subprocess, sys, time; t = time.perf_counter(); "
    "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
    "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
    "print(json.dumps([time.perf_counter() - t, u.ru_utime + u.ru_stime, u.ru_maxrss / 1024]))"
)


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    out = subprocess.run([sys.executable, "-c", _WRAPPER, *command], env=env, check=True, capture_output=True)
    wall, cpu, rss = json.loads(out.stdout)
    return float(wall), float(cpu), float(rss)


def measure(name: str, many: Path, one: Path, make: Any, env: dict[str, str], count: int) -> dict[str, Any]:
    before = loadavg()
    wall_one, cpu_one, _ = timed(make(one), env)
    wall_many, cpu_many, rss = timed(make(many), env)
    return {
        "run": name,
        "files": count,
        "seconds": round(wall_many, 2),
        "startup_s": round(wall_one, 2),
        # Wall-clock rate: what the machine gave (shared, so noisy); CPU per file: the cost per core.
        "files_per_s": round((count - 1) / max(wall_many - wall_one, 1e-9), 2),
        "cpu_ms_per_file": round(1000 * (cpu_many - cpu_one) / (count - 1), 1),
        "max_rss_mb": round(rss, 1),
        "load": f"{before} -> {loadavg()}",
    }


def wait_nodes(address: str, count: int) -> None:
    from tests.support.ray_nodes import alive_nodes

    deadline = time.monotonic() + 180
    while alive_nodes(address) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the Ray cluster did not reach {count} nodes")
        time.sleep(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=120)
    parser.add_argument("--robust-files", type=int, default=12)
    parser.add_argument("--ray", action="store_true", help="also on a local Ray cluster, 1 then 2 workers")
    parser.add_argument("--ray-files", type=int, default=600)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="redline-bench-scan-") as tmp:
        work = Path(tmp)
        many, one = folder(work / "many", args.files), folder(work / "one", 1)
        robust_many = folder(work / "robust", args.robust_files)
        url, key = serve(work)
        env = {**os.environ, "REDLINE_SCAN_KEY": key}
        plain_env = {**env, "REDLINE_ROBUST_MATCHING": "0"}
        state = iter(range(1_000_000))

        def scan(jobs: int) -> Any:
            def make(source: Path) -> list[str]:
                report = work / f"report-{next(state)}.jsonl"
                return [str(REDLINE), "scan", str(source), "--server", url, "--report", str(report),
                        "--jobs", str(jobs), "--batch-size", "32"]  # fmt: skip

            return make

        def hash_make(source: Path) -> list[str]:
            return [str(REDLINE), "hash", str(source), "--jobs", "1"]

        rows = [measure("redline hash --jobs 1 (baseline)", many, one, hash_make, env, args.files)]
        for jobs in (1, 2):
            name = f"scan, robust off, --jobs {jobs}"
            rows.append(measure(name, many, one, scan(jobs), plain_env, args.files))
        for jobs in (1, 2):
            name = f"scan, robust on, --jobs {jobs}"
            rows.append(measure(name, robust_many, one, scan(jobs), env, args.robust_files))
        if args.ray:
            rows.extend(ray_rows(work, url, args.ray_files, one, plain_env, state))
        base, base_cpu = rows[0]["files_per_s"], rows[0]["cpu_ms_per_file"]
        for row in rows:
            row["rate_vs_baseline"] = round(row["files_per_s"] / base, 3)
            if row.get("cpu_ms_per_file"):
                row["per_core_vs_baseline"] = round(base_cpu / row["cpu_ms_per_file"], 3)
            print(json.dumps(row), flush=True)
        print(json.dumps({
            "scan_2_vs_1_robust_off": round(rows[2]["files_per_s"] / rows[1]["files_per_s"], 3),
            "scan_2_vs_1_robust_on": round(rows[4]["files_per_s"] / rows[3]["files_per_s"], 3),
            "cpus": os.cpu_count(),
        }))  # fmt: skip
        if args.ray:
            ratio = rows[-1]["files_per_s"] / rows[-2]["files_per_s"]
            print(json.dumps({"ray_2_vs_1_workers": round(ratio, 3)}))


def ray_rows(
    work: Path, url: str, count: int, one: Path, env: dict[str, str], state: Any
) -> list[dict[str, Any]]:
    """``redline scan --ray`` on a head node with one CPU, then with a second one-CPU worker node joined."""
    sys.path.insert(0, str(ROOT))
    from tests.support.ray_nodes import start_node, stop_nodes

    many = folder(work / "ray-many", count)
    port = 6000 + os.getpid() % 1000
    address = f"127.0.0.1:{port}"
    temp = Path("/tmp") / f"ray-bench-{port}"  # Ray's socket paths must stay short
    head = ["--head", "--port", str(port), "--include-dashboard", "false", "--temp-dir", str(temp)]
    nodes = [start_node(head, work / "ray-head.log")]

    def make(source: Path) -> list[str]:
        report = work / f"report-{next(state)}.jsonl"
        return [str(REDLINE), "scan", str(source), "--server", url, "--report", str(report),
                "--batch-size", "32", "--ray", address]  # fmt: skip

    rows = []
    try:
        wait_nodes(address, 1)
        rows.append(measure("scan --ray, robust off, 1 worker", many, one, make, env, count))
        nodes.append(start_node(["--address", address], work / "ray-worker.log"))
        wait_nodes(address, 2)
        rows.append(measure("scan --ray, robust off, 2 workers", many, one, make, env, count))
    finally:
        stop_nodes(nodes)
    for row in rows:
        row["cpu_ms_per_file"] = None  # Ray's workers are not the wrapper's children
        row["max_rss_mb"] = None
    return rows


if __name__ == "__main__":
    main()
