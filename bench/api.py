"""HTTP lookup throughput and latency of the bank with N entries, over loopback, client in another process.

    .venv/bin/python bench/api.py --sizes 1000000 10000000

For each size: a SQLite bank of N random PDQ hashes is generated straight into the database (bulk insert,
no ORM); the index rebuild time is measured in-process (what each server process pays at start); then
``redline serve --workers W`` is started and a client process measures

* baseline: ``GET /healthz`` requests/s with the same client (the HTTP stack's ceiling on this machine),
* single-hash ``POST /v1/match`` at a fixed request rate: p50/p99 latency measured from each request's
  scheduled send time (so a stall is not hidden by the client waiting for it),
* batched ``POST /v1/match`` with 1,000 hashes per request from C concurrent connections: hashes/s.

Queries are random hashes plus, one in ten, a stored hash with 8 bits flipped (a real near-match).
Results go to stdout as JSON lines; docs/BENCHMARKS.md quotes them with the machine.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import secrets
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
REDLINE = Path(sys.executable).parent / "redline"


def fresh_bank(db_path: Path) -> sqlite3.Connection:
    """A migrated SQLite database with one bank, ``bench``, opened for fast bulk inserts of generated rows
    (benches that need a large bank; ``bench/shards.py`` too)."""
    from redline.bank.db import Database
    from redline.bank.service import create_bank

    database = Database(f"sqlite:///{db_path}")
    database.upgrade()
    with database.write() as session:
        create_bank(session, name="bench", actor="bench")
    database.dispose()
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")  # generation only; the server runs with synchronous=FULL
    return conn


def generate(db_path: Path, n: int, seed: int = 7) -> list[str]:
    """N random PDQ entries in a fresh bank database; returns a sample of stored hashes for near-matches."""
    conn = fresh_bank(db_path)
    rng = np.random.default_rng(seed)
    sample: list[str] = []
    now = "2025-01-01 00:00:00.000000"
    chunk = 200_000
    for start in range(0, n, chunk):
        codes = rng.integers(0, 256, size=(min(chunk, n - start), 32), dtype=np.uint8)
        values = [row.tobytes().hex() for row in codes]
        sample.extend(values[:100])
        conn.executemany(
            "INSERT INTO entries (bank_id, signal_type, value, quality, source, origin, tags, status, "
            "created_at, updated_at) VALUES (1, 'pdq', ?, 90, 'import', 'bench', '[]', 'active', ?, ?)",
            ((v, now, now) for v in values),
        )
        conn.commit()
    conn.close()
    return sample


def time_index_load(db_path: Path) -> dict[str, float]:
    from redline.bank.db import Database
    from redline.match.service import Matcher

    database = Database(f"sqlite:///{db_path}")
    matcher = Matcher(database, min_quality=50, poll_interval=0.25)
    started = time.perf_counter()
    matcher.load()
    seconds = time.perf_counter() - started
    size = matcher.size
    database.dispose()
    index_name = type(matcher._indexes["pdq"]).__name__
    return {"index_load_s": round(seconds, 2), "entries": size, "index": index_name}  # type: ignore[dict-item]


def flip8(value: str) -> str:
    return f"{int(value, 16) ^ 0xFF:064x}"


def queries(sample: list[str], count: int) -> list[dict[str, str]]:
    out = []
    for i in range(count):
        value = flip8(sample[i % len(sample)]) if i % 10 == 0 else secrets.token_hex(32)
        out.append({"type": "pdq", "value": value})
    return out


def client_main(
    url: str, token: str, sample: list[str], rate: float, seconds: float, conns: int, result_queue: mp.Queue
) -> None:  # type: ignore[type-arg]
    headers = {"Authorization": f"Bearer {token}"}
    report: dict[str, float] = {}

    # Baseline: the HTTP stack alone.
    with httpx.Client(base_url=url) as client:
        count, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds / 2:
            client.get("/healthz")
            count += 1
        report["baseline_healthz_rps_1conn"] = round(count / (time.perf_counter() - started), 1)

    # Fixed-rate single-hash lookups, latency from the scheduled send time.
    latencies: list[float] = []
    lock = threading.Lock()
    total = int(rate * seconds)
    start_at = time.perf_counter() + 0.2
    next_index = iter(range(total))
    single = queries(sample, total)

    def sender() -> None:
        with httpx.Client(base_url=url, headers=headers) as client:
            for i in next_index:
                scheduled = start_at + i / rate
                delay = scheduled - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                response = client.post("/v1/match", json={"hashes": [single[i]]})
                assert response.status_code == 200, response.text
                with lock:
                    latencies.append(time.perf_counter() - scheduled)

    threads = [threading.Thread(target=sender) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies.sort()
    report["single_rate_rps"] = rate
    report["single_p50_ms"] = round(1000 * statistics.median(latencies), 2)
    report["single_p99_ms"] = round(1000 * latencies[int(len(latencies) * 0.99) - 1], 2)

    # Batched throughput.
    batch = [queries(sample, 1000) for _ in range(8)]
    done = [0] * conns
    stop_at = time.perf_counter() + seconds

    def batcher(slot: int) -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
            i = 0
            while time.perf_counter() < stop_at:
                response = client.post("/v1/match", json={"hashes": batch[i % len(batch)]})
                assert response.status_code == 200, response.text
                done[slot] += 1000
                i += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=batcher, args=(s,)) for s in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report["batched_lookups_per_s"] = round(sum(done) / (time.perf_counter() - started), 1)
    report["batched_connections"] = conns
    result_queue.put(report)


def run_size(n: int, args: argparse.Namespace, workdir: Path) -> dict[str, object]:
    db_path = workdir / f"bank-{n}.db"
    for stale in workdir.glob(f"bank-{n}.db*"):
        stale.unlink()
    started = time.perf_counter()
    sample = generate(db_path, n)
    result: dict[str, object] = {"entries": n, "generate_s": round(time.perf_counter() - started, 1)}
    result.update(time_index_load(db_path))

    from redline.bank.db import Database
    from redline.bank.service import create_api_key

    database = Database(f"sqlite:///{db_path}")
    with database.write() as session:
        _, token = create_api_key(session, name="bench", scopes=["match"], actor="bench")
    database.dispose()

    port = 18000 + (os.getpid() % 1000)
    env = {**os.environ, "REDLINE_DATABASE_URL": f"sqlite:///{db_path}", "REDLINE_DATA_DIR": str(workdir)}
    started = time.perf_counter()
    server = subprocess.Popen(
        [str(REDLINE), "serve", "--port", str(port), "--workers", str(args.workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        ready = 0
        while ready < args.workers * 4:
            try:
                ready = ready + 1 if httpx.get(url + "/readyz", timeout=2).status_code == 200 else 0
            except httpx.HTTPError:
                ready = 0
            if ready == 0:
                time.sleep(0.2)
            if time.perf_counter() - started > 600:
                raise RuntimeError("server never became ready")
        result["server_ready_s"] = round(time.perf_counter() - started, 1)
        context = mp.get_context("spawn")
        queue: mp.Queue = context.Queue()  # type: ignore[type-arg]
        client = context.Process(
            target=client_main, args=(url, token, sample, args.rate, args.seconds, args.connections, queue)
        )
        client.start()
        result.update(queue.get(timeout=args.seconds * 6 + 120))
        client.join()
    finally:
        server.terminate()
        server.wait(timeout=30)
    result["workers"] = args.workers
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=float, default=200.0, help="single-hash requests per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=4, help="concurrent batched clients")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="redline-bench-api-"))
    workdir.mkdir(parents=True, exist_ok=True)
    for n in args.sizes:
        print(json.dumps(run_size(n, args, workdir)), flush=True)


if __name__ == "__main__":
    main()
