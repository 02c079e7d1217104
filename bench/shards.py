"""One matcher process vs the match index split into shard processes: same hits, time per upload, memory.

    nice -n 10 .venv/bin/python bench/shards.py --pictures 200000 --shards 4 --uploads 40

A SQLite bank of ``--pictures`` synthetic pictures, each stored as 1 ``pdq`` + 35 ``pdq_region`` entries of
random codes (what the portal stores per picture; random codes are a best case for the index's pruning), is
generated once into ``--workdir`` (reused by later runs with the same workdir and size). Then

* ``--shards`` real ``redline shard serve --shard K --of N`` processes on loopback load their parts from
  that database (started together; seconds until all are ready, resident memory of each after load, and
  of a shard process with an empty index for comparison);
* this process loads the whole index with an unsharded ``Matcher`` (what an API process without shards
  holds: seconds, index bytes, resident memory added), and shard 0's part (its index bytes);
* ``--uploads`` robust uploads are searched both ways, as ``Matcher.match`` groups them: 1 ``pdq`` at 31,
  2 ``pdq_region`` at 64 (whole-upload hashes) and 108 at 45 — 111 codes, a fifth of them near a stored
  picture's codes, the rest random. One process: ``Matcher.search`` in process. Shards: the API side's
  ``ShardClient.search`` (one HTTP request per shard, all at once, merged by distance then id). Every
  upload's hits must be identical, id for id and distance for distance. Then each shard is asked the same
  alone, one after another: the slowest one's time is what an upload would take with every shard on
  cores of its own (here the shards share the machine's, and the other processes on it).

The database re-check of candidates that follows in ``match()`` is the same code in both setups and is not
timed. Results: a Markdown table on stdout, with the load average before and after (the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import psutil

from redline.bank.db import Database
from redline.index import Hits, MihIndex
from redline.match.fanout import SEARCH_PATH, ShardClient
from redline.match.service import IndexSearch, Matcher
from redline.match.shards import ShardSpec

REDLINE = Path(sys.executable).parent / "redline"
REGIONS = 35
NEAR_SHARE = 5  # one query in five is near a stored code


def loadavg() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def generate(db_path: Path, pictures: int, seed: int = 11) -> None:
    """``pictures`` x (1 pdq + 35 pdq_region) entries straight into a fresh bank database, unless there."""
    marker = db_path.with_suffix(".ready")
    if marker.exists():
        return
    from api import fresh_bank  # bench/api.py

    for stale in db_path.parent.glob(db_path.name + "*"):
        stale.unlink()
    conn = fresh_bank(db_path)
    rng = np.random.default_rng(seed)
    now = "2025-01-01 00:00:00.000000"
    types = ["pdq"] + ["pdq_region"] * REGIONS
    chunk = 20_000  # pictures per transaction
    for start in range(0, pictures, chunk):
        count = min(chunk, pictures - start)
        codes = rng.integers(0, 256, size=(count * len(types), 32), dtype=np.uint8)
        rows = ((types[i % len(types)], row.tobytes().hex(), now, now) for i, row in enumerate(codes))
        conn.executemany(
            "INSERT INTO entries (bank_id, signal_type, value, quality, source, origin, tags, status, "
            "created_at, updated_at) VALUES (1, ?, ?, 90, 'import', 'bench', '[]', 'active', ?, ?)",
            rows,
        )
        conn.commit()
    conn.close()
    marker.write_text("ok\n")


def flip(value: str, bits: int, rng: np.random.Generator) -> str:
    positions = rng.choice(256, size=bits, replace=False)
    number = int(value, 16)
    for p in positions:
        number ^= 1 << int(p)
    return f"{number:064x}"


def uploads(db_path: Path, pictures: int, count: int, seed: int = 5) -> list[list[IndexSearch]]:
    """Each upload's searches, as ``Matcher.match`` groups them (see the module docstring)."""
    rng = np.random.default_rng(seed)
    conn = sqlite3.connect(db_path)
    out: list[list[IndexSearch]] = []
    for _ in range(count):
        picture = int(rng.integers(0, pictures))
        first = picture * (1 + REGIONS) + 1  # ids in insertion order: the pdq, then its regions
        stored = [
            v
            for (v,) in conn.execute(
                "SELECT value FROM entries WHERE id BETWEEN ? AND ? ORDER BY id", (first, first + REGIONS)
            )
        ]
        plain, regions = stored[0], stored[1:]
        whole = [flip(regions[0], 50, rng), flip(regions[1], 60, rng)]
        near = [
            flip(regions[int(rng.integers(REGIONS))], int(rng.integers(15, 44)), rng)
            for _ in range(108 // NEAR_SHARE)
        ]
        others = [secrets.token_hex(32) for _ in range(108 - len(near))]
        out.append(
            [
                IndexSearch("pdq", [flip(plain, 8, rng)], 31),
                IndexSearch("pdq_region", whole, 64),
                IndexSearch("pdq_region", near + others, 45),
            ]
        )
    conn.close()
    return out


def start_shards(
    db_path: Path, workdir: Path, count: int, secret: str, port_base: int = 19100
) -> list[tuple[subprocess.Popen[bytes], str]]:
    env = {
        **os.environ,
        "REDLINE_DATABASE_URL": f"sqlite:///{db_path}",
        "REDLINE_DATA_DIR": str(workdir / "data"),
        "REDLINE_INDEX_SNAPSHOTS": "false",  # measure the load from the database
        "REDLINE_SHARD_SECRET": secret,
    }
    (workdir / "data").mkdir(exist_ok=True)
    started = []
    for k in range(count):
        port = port_base + k
        log = open(workdir / f"shard-{port}.log", "wb")  # noqa: SIM115 - kept open for the child's life
        process = subprocess.Popen(
            [str(REDLINE), "shard", "serve", "--shard", str(k), "--of", str(count), "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append((process, f"http://127.0.0.1:{port}"))
    return started


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 3600) -> dict[str, int | str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"shard at {url} exited")
        try:
            response = httpx.get(url + "/readyz", timeout=5)
            if response.status_code == 200:
                ready: dict[str, int | str] = response.json()
                return ready
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"shard at {url} not ready")


def wire(searches: list[IndexSearch]) -> dict[str, object]:
    """The body ``ShardClient.search`` sends (redline.match.fanout)."""
    return {
        "searches": [
            {"signal_type": s.signal_type, "threshold": s.threshold, "values": list(s.values)}
            for s in searches
        ]
    }


def timed_post(client: httpx.Client, url: str, body: dict[str, object]) -> float:
    started = time.perf_counter()
    response = client.post(url, json=body)
    response.raise_for_status()
    return 1000 * (time.perf_counter() - started)


def idle_shard_rss(workdir: Path, secret: str) -> int:
    """Resident memory of a shard process with an empty index: the interpreter, numba, the web stack."""
    empty = workdir / "empty.db"
    empty.unlink(missing_ok=True)
    Database(f"sqlite:///{empty}").upgrade()
    [(process, url)] = start_shards(empty, workdir, 1, secret, port_base=19190)
    try:
        wait_ready(url, process)
        return int(psutil.Process(process.pid).memory_info().rss)
    finally:
        process.terminate()
        process.wait(timeout=30)


def p90(values: list[float]) -> float:
    return sorted(values)[int(0.9 * (len(values) - 1))]


def same(a: list[list[Hits]], b: list[list[Hits]]) -> bool:
    pairs = [(x, y) for hits_a, hits_b in zip(a, b, strict=True) for x, y in zip(hits_a, hits_b, strict=True)]
    return all(np.array_equal(x.ids, y.ids) and np.array_equal(x.distances, y.distances) for x, y in pairs)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pictures", type=int, default=200_000)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--uploads", type=int, default=40)
    parser.add_argument("--workdir", type=Path, default=Path("var/bench-shards"))
    args = parser.parse_args()

    print(f"# {' '.join(sys.argv)}")
    print(f"# load average before: {loadavg()}; {os.cpu_count()} cores")
    args.workdir.mkdir(parents=True, exist_ok=True)
    db_path = args.workdir / f"bank-{args.pictures}.db"
    started = time.perf_counter()
    generate(db_path, args.pictures)
    took = time.perf_counter() - started
    print(f"# bank: {args.pictures:,} pictures x (1 pdq + {REGIONS} pdq_region), ready in {took:.0f} s")

    secret = secrets.token_hex(16)
    idle_rss = idle_shard_rss(args.workdir, secret)
    shards = start_shards(db_path, args.workdir, args.shards, secret)
    try:
        started = time.perf_counter()
        statuses = [wait_ready(url, process) for process, url in shards]
        shard_load_s = time.perf_counter() - started
        shard_rss = [psutil.Process(process.pid).memory_info().rss for process, _ in shards]

        me = psutil.Process()
        rss_before = me.memory_info().rss
        database = Database(f"sqlite:///{db_path}")
        whole = Matcher(database, min_quality=50, poll_interval=0.25)
        started = time.perf_counter()
        whole.load()
        whole_load_s = time.perf_counter() - started
        whole_rss = me.memory_info().rss - rss_before
        index_bytes = sum(i.array_bytes for i in whole._indexes.values() if isinstance(i, MihIndex))
        assert whole.size == sum(int(s["entries"]) for s in statuses)
        part = Matcher(database, min_quality=50, poll_interval=0.25, shard=ShardSpec(0, args.shards))
        part.load()  # what shard 0 holds, measured the same way (its process's RSS includes the load's peak)
        part_bytes = sum(i.array_bytes for i in part._indexes.values() if isinstance(i, MihIndex))
        del part

        client = ShardClient([url for _, url in shards], secret, timeout_s=60)
        batches = uploads(db_path, args.pictures, args.uploads + 3)
        for warm in batches[:3]:  # JIT and connection set-up, both sides
            whole.search(warm)
            client.search(warm)
        alone = httpx.Client(headers={"Authorization": f"Bearer {secret}"}, timeout=60)
        one_ms, split_ms, alone_ms, hits, identical = [], [], [], 0, 0
        for batch in batches[3:]:
            t0 = time.perf_counter()
            a = whole.search(batch)
            t1 = time.perf_counter()
            b = client.search(batch)
            t2 = time.perf_counter()
            one_ms.append(1000 * (t1 - t0))
            split_ms.append(1000 * (t2 - t1))
            identical += same(a, b)
            hits += sum(len(h) for group in a for h in group)
            # Each shard asked alone, one after another: its search with the machine's cores to itself,
            # what one upload costs when every shard runs on a machine of its own (the slowest decides).
            alone_ms.append(max(timed_post(alone, url + SEARCH_PATH, wire(batch)) for _, url in shards))
        alone.close()
        client.close()
        database.dispose()
    finally:
        for process, _ in shards:
            process.terminate()
        for process, _ in shards:
            process.wait(timeout=30)

    mib = 2**20
    codes = sum(int(s["entries"]) for s in statuses)
    print(f"# load average after: {loadavg()}")
    print(
        f"# {codes:,} indexed codes; {args.uploads} uploads x 111 codes; {hits} hits in all; "
        f"identical hits for {identical} of {args.uploads} uploads"
    )
    print()
    print("| | load (s) | memory | per upload, median (ms) | mean (ms) | p90 (ms) |")
    print("|---|---|---|---|---|---|")

    def row(label: str, load: str, memory: str, times: list[float]) -> None:
        spread = f"{statistics.median(times):.1f} | {statistics.mean(times):.1f} | {p90(times):.1f}"
        print(f"| {label} | {load} | {memory} | {spread} |")

    memory = f"index {index_bytes / mib:,.0f} MiB, RSS +{whole_rss / mib:,.0f} MiB"
    row("1 process (in-process `Matcher.search`)", f"{whole_load_s:.1f}", memory, one_ms)
    per_shard = ", ".join(f"{r / mib:,.0f}" for r in shard_rss)
    memory = f"index {part_bytes / mib:,.0f} MiB (shard 0); RSS per shard {per_shard} MiB"
    memory += f" (idle shard: {idle_rss / mib:,.0f})"
    label = f"{args.shards} shard processes on loopback, all at once (`ShardClient.search`)"
    row(label, f"{shard_load_s:.1f} (all)", memory, split_ms)
    row("the same shards asked one at a time: slowest shard per upload", "", "", alone_ms)
    print()
    ratio = statistics.median(split_ms) / statistics.median(one_ms)
    print(f"# ratio shards / one process, median per upload: {ratio:.2f}")


if __name__ == "__main__":
    main()
