"""Start-up of a matcher process: rebuild from the database vs. a snapshot plus change-log catch-up.

    .venv/bin/python bench/startup.py --sizes 1000000 10000000 --changes 5000

For each size N, in one run, on a SQLite bank of N random PDQ entries (generated once into
``--workdir``/bank-N.db and reused by later runs with the same ``--workdir``; one change-log row per entry, as
an import makes):

* ``rebuild``: a fresh process builds its index from the database (``Matcher.load`` without snapshots, the
  baseline: what every worker paid before snapshots), then writes a snapshot (seconds, size);
* then ``--changes`` changes are committed (half new entries, half quarantines of existing ones);
* ``snapshot``: a fresh process starts from that snapshot (memory-mapped, checksums verified) and replays the
  changes: seconds to ready, and the first query's latency after ready;
* ``bare``: ``MihIndex.load`` of the snapshot in fresh processes: full read vs. ``mmap`` (no verification),
  with the first and second query's latency after the mmap load (pages come in on demand).

Every process starts cold (new interpreter; JIT kernels come from numba's on-disk cache). The snapshot file
is in the page cache (just written): cold-disk reads are not measured. Results are JSON lines on stdout,
with the load average before and after each size (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))


def loadavg() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def generate(db_path: Path, n: int) -> None:
    """N entries (``bench/api.py``'s generator) plus their change-log rows, unless already there."""
    marker = db_path.with_suffix(".ready")
    if marker.exists():
        return
    from api import generate as generate_entries  # bench/api.py

    for stale in db_path.parent.glob(db_path.name + "*"):
        stale.unlink()
    generate_entries(db_path, n)
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute(
        "INSERT INTO changes (entry_id, bank_id, signal_type, value, quality, tags, status, at) "
        "SELECT id, bank_id, signal_type, value, quality, tags, status, created_at FROM entries ORDER BY id"
    )
    conn.commit()
    conn.close()
    marker.touch()


def commit_changes(db_path: Path, n: int, count: int, seed: int) -> None:
    """``count`` changes through the bank service: half new entries (one import), half quarantines."""
    from redline.bank import service
    from redline.bank.db import Database

    db = Database(f"sqlite:///{db_path}")
    rng = np.random.default_rng(seed)
    adds = count // 2
    hashes = [service.normalize_hash("pdq", rng.bytes(32).hex(), 90) for _ in range(adds)]
    with db.write() as session:
        service.add_entries(session, "bench", hashes, source="import", origin="bench", actor="bench")
    with db.write() as session:
        for entry_id in rng.choice(np.arange(1, n + 1), size=count - adds, replace=False).tolist():
            service.set_entry_status(session, int(entry_id), "quarantined", actor="bench")
    db.dispose()


def first_queries(index: Any) -> dict[str, float]:
    """Latency of the first two lookups; the query is built as the service builds one (read-only bytes)."""
    query = np.frombuffer(os.urandom(32), dtype=np.uint8).reshape(1, 32)
    out = {}
    for label in ("first_query_ms", "second_query_ms"):
        started = time.perf_counter()
        index.search(query, 31)
        out[label] = round(1000 * (time.perf_counter() - started), 2)
    return out


# --- measurements, each in a fresh process -----------------------------------------------------------------


def child_rebuild(db_path: Path, snapdir: Path) -> dict[str, Any]:
    from redline.bank.db import Database
    from redline.match.service import Matcher
    from redline.match.snapshots import SnapshotPolicy

    db = Database(f"sqlite:///{db_path}")
    baseline = Matcher(db, min_quality=50, poll_interval=0.25)
    baseline.load()
    result: dict[str, Any] = {"rebuild_ready_s": round(baseline.load_seconds, 2), "entries": baseline.size}
    shutil.rmtree(snapdir, ignore_errors=True)
    writer = Matcher(db, min_quality=50, poll_interval=0.25, snapshots=SnapshotPolicy(snapdir))
    writer._indexes, writer.position = baseline._indexes, baseline.position  # the same index, no 2nd build
    started = time.perf_counter()
    path = writer.write_snapshot()
    result["snapshot_write_s"] = round(time.perf_counter() - started, 2)
    result["snapshot_mb"] = round(path.stat().st_size / 2**20, 1)
    result["rebuild_rss_mb"] = rss_mb()
    return result


def child_snapshot(db_path: Path, snapdir: Path) -> dict[str, Any]:
    from redline.bank.db import Database
    from redline.match.service import Matcher
    from redline.match.snapshots import SnapshotPolicy

    db = Database(f"sqlite:///{db_path}")
    m = Matcher(db, min_quality=50, poll_interval=0.25, snapshots=SnapshotPolicy(snapdir))
    m.load()
    assert m.loaded_from == "snapshot", "the snapshot was refused"
    return {
        "snapshot_ready_s": round(m.load_seconds, 2),
        "replayed_changes": m.caught_up,
        "entries": m.size,
        **{f"after_ready_{k}": v for k, v in first_queries(m._indexes["pdq"]).items()},
        "snapshot_rss_mb": rss_mb(),
    }


def child_bare(path: Path, mode: str) -> dict[str, Any]:
    from redline.index import MihIndex

    # Compile (or fetch from numba's cache) the kernels on a tiny mapped index first: the big index's first
    # query should measure paging, not the JIT.
    with tempfile.TemporaryDirectory() as tmp:
        codes = np.random.default_rng(1).integers(0, 256, (70_000, 32), np.uint8)
        tiny = MihIndex.build(np.arange(70_000), codes)
        tiny.save(Path(tmp) / "tiny.snap")
        first_queries(MihIndex.load(Path(tmp) / "tiny.snap", mmap=True))
    started = time.perf_counter()
    index = MihIndex.load(path, mmap=mode != "read", verify=mode == "mmap_verify")
    result: dict[str, Any] = {f"load_{mode}_s": round(time.perf_counter() - started, 3)}
    result.update({f"{mode}_{k}": v for k, v in first_queries(index).items()})
    return result


def measure(*args: str) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter; its last stdout line is the JSON result."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args], check=True, capture_output=True, text=True
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def run_size(n: int, changes: int, workdir: Path) -> dict[str, Any]:
    db_path = workdir / f"bank-{n}.db"
    snapdir = workdir / f"index-{n}"
    result: dict[str, Any] = {"n": n, "loadavg_before": loadavg()}
    started = time.perf_counter()
    generate(db_path, n)
    result["generate_s"] = round(time.perf_counter() - started, 1)
    result.update(measure("rebuild", str(db_path), str(snapdir)))
    commit_changes(db_path, n, changes, seed=n + int(time.time()))
    result.update(measure("snapshot", str(db_path), str(snapdir)))
    path = next(snapdir.glob("pdq-*.snap"))
    for mode in ("read", "mmap", "mmap_verify"):
        result.update(measure("bare", str(path), mode))
    result["loadavg_after"] = loadavg()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--changes", type=int, default=5000, help="changes committed after the snapshot")
    parser.add_argument("--workdir", type=Path, default=None, help="reuse generated banks across runs")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "rebuild":
            print(json.dumps(child_rebuild(Path(rest[0]), Path(rest[1]))))
        elif kind == "snapshot":
            print(json.dumps(child_snapshot(Path(rest[0]), Path(rest[1]))))
        else:
            print(json.dumps(child_bare(Path(rest[0]), rest[1])))
        return
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="redline-bench-startup-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        for n in args.sizes:
            print(json.dumps(run_size(n, args.changes, workdir)), flush=True)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
