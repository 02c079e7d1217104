"""``kill -9`` of a scan's worker and then of its driver: the re-run continues from the state file, redoes
at most the batches in flight, and neither the report nor the server reports anything twice."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from redline.actions.models import MatchLogEntry
from tests.support import wait_until
from tests.support.scan import Hub, pattern_png, run_scan, scan_command, scan_env

FILES = 24
BATCH = 2


def finished_batches(state: Path) -> int:
    if not state.exists():
        return 0
    with sqlite3.connect(state) as db:
        try:
            return int(db.execute("SELECT COUNT(*) FROM batches").fetchone()[0])
        except sqlite3.OperationalError:  # the driver has not made its tables yet
            return 0


def driver_alive(driver: subprocess.Popen[bytes], tmp_path: Path) -> bool:
    """True while the driver runs; a driver that stopped before it was killed fails the test with its log."""
    if driver.poll() is not None:
        log = (tmp_path / "driver.log").read_text(errors="replace")[-3000:]
        raise AssertionError(f"the scan stopped by itself (exit {driver.returncode}):\n{log}")
    return True


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def hashing_workers(driver: int) -> list[int]:
    """The pool's worker processes (the spawn start method also runs one resource tracker)."""
    return [c for c in children(driver) if "resource_tracker" not in Path(f"/proc/{c}/cmdline").read_text()]


def test_kill_9_of_a_worker_and_of_the_driver_then_a_rerun_reports_everything_once(
    hub: Hub, tmp_path: Path
) -> None:
    picture = pattern_png(7, side=160)
    hub.protect(picture)
    key = hub.key("match")
    root = tmp_path / "hosted"
    root.mkdir()
    for n in range(FILES):
        (root / f"post-{n:02d}.png").write_bytes(picture)
    report, state = tmp_path / "report.jsonl", tmp_path / "report.jsonl.scan-state"
    args = scan_command(root, hub, key, report, "--batch-size", str(BATCH), "--jobs", "1")
    # Its progress goes to a file: an unread pipe would fill up and stall the driver mid-scan.
    driver_log = (tmp_path / "driver.log").open("wb")
    driver = subprocess.Popen(args, env=scan_env(key), start_new_session=True, stderr=driver_log)
    try:
        wait_until(lambda: finished_batches(state) >= 1, timeout=120, interval=0.05)
        [worker] = hashing_workers(driver.pid)
        os.kill(worker, signal.SIGKILL)  # the pool breaks; the driver rebuilds it and goes on
        wait_until(lambda: driver_alive(driver, tmp_path) and finished_batches(state) >= 4, timeout=120)
        os.killpg(driver.pid, signal.SIGKILL)
        driver.wait(timeout=10)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
        driver_log.close()
    interrupted = finished_batches(state)
    assert 4 <= interrupted < FILES // BATCH
    assert not report.exists()  # the report is written when the scan finishes

    done = run_scan(root, hub, key, report, "--batch-size", str(BATCH), "--jobs", "1")
    assert done.returncode == 0, done.stderr
    assert f"scanned {FILES} file(s) ({interrupted * BATCH} from before the restart)" in done.stderr
    rows = [json.loads(line) for line in report.read_text().splitlines()]
    assert Counter(r["content_id"] for r in rows) == {f"post-{n:02d}.png": 3 for n in range(FILES)}
    assert {r["kind"] for r in rows} == {"match"}
    assert len({r["match_id"] for r in rows}) == len(rows)
    with hub.db.read() as s:
        logged = s.scalars(select(MatchLogEntry).where(MatchLogEntry.origin == "scan")).all()
    # The server logged each file's three matches once, although some batches were sent twice.
    assert Counter(m.content_id for m in logged) == {f"post-{n:02d}.png": 3 for n in range(FILES)}
    assert sorted(m.id for m in logged) == sorted(int(r["match_id"]) for r in rows)
