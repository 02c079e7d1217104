"""Initial sync of a mirror from a hub with N entries: time and memory, against reading the same feed raw.

    .venv/bin/python bench/mirror.py --entries 200000

A hub database of N random PDQ entries (with their change-log rows) is generated straight into SQLite, and
``redline serve`` runs it. Then, each in a fresh child process (peak RSS from ``getrusage`` of the child):

* baseline: read the hub's whole ``/v1/feed`` (pages of ``--page`` items), parse the JSON, keep nothing;
* mirror: ``redline mirror sync`` of a new mirror of that hub (signed pages of ``--page`` items, each
  verified and applied in one transaction: entries, their change-log rows, ``mirror_entries``).

Reported: seconds, entries/s, peak RSS of each, the ratio mirror / baseline, and the linear projection to
10M entries (the sync is page by page, so time grows linearly and memory stays flat; measuring two sizes
with ``--entries 100000 200000`` shows both). JSON lines on stdout; docs/BENCHMARKS.md quotes them.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REDLINE = Path(sys.executable).parent / "redline"
ROOT = Path(__file__).resolve().parent.parent

_RAW_READER = r"""
import sys, time, httpx
url, token, page = sys.argv[1], sys.argv[2], int(sys.argv[3])
items, cursor, started = 0, "", time.perf_counter()
with httpx.Client(timeout=120, headers={"Authorization": f"Bearer {token}"}) as client:
    while True:
        body = client.get(url + "/v1/feed", params={"cursor": cursor, "limit": page}).json()
        items += len(body["items"])
        cursor = body["cursor"]
        if not body["more"]:
            break
print(items, time.perf_counter() - started)
"""


def generate(db_path: Path, n: int, seed: int = 11) -> None:
    from redline.bank.db import Database

    database = Database(f"sqlite:///{db_path}")
    database.upgrade()
    database.dispose()
    rng = np.random.default_rng(seed)
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")  # generation only; the server runs with synchronous=FULL
    conn.execute(
        "INSERT INTO banks (name, description, thresholds, default_action, enabled, created_at) "
        "VALUES ('survivors', '', '{}', 'review', 1, '2025-01-01 00:00:00.000000')"
    )
    now = "2025-01-01 00:00:00.000000"
    chunk = 100_000
    for start in range(0, n, chunk):
        codes = rng.integers(0, 256, size=(min(chunk, n - start), 32), dtype=np.uint8)
        values = [row.tobytes().hex() for row in codes]
        first = start + 1
        conn.executemany(
            "INSERT INTO entries (id, bank_id, signal_type, value, quality, source, origin, tags, status, "
            "created_at, updated_at) VALUES (?, 1, 'pdq', ?, 90, 'import', 'bench', '[]', 'active', ?, ?)",
            ((first + i, v, now, now) for i, v in enumerate(values)),
        )
        conn.executemany(
            "INSERT INTO changes (entry_id, bank_id, signal_type, value, quality, tags, status, at) "
            "VALUES (?, 1, 'pdq', ?, 90, '[]', 'active', ?)",
            ((first + i, v, now) for i, v in enumerate(values)),
        )
        conn.commit()
    conn.close()


def _child(args: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Run a child; (wall seconds, its own peak RSS in MiB from ``wait4``, stdout)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        out.seek(0)
        text = out.read().decode()
    if process.returncode != 0:
        raise RuntimeError(f"{args[0]} failed:\n{text[-2000:]}")
    return seconds, usage.ru_maxrss // 1024, text


def run(n: int, page: int) -> dict[str, object]:
    sys.path.insert(0, str(ROOT))
    from tests.support.server import Server

    from redline.bank import grants, service
    from redline.bank.db import Database
    from redline.bank.secrets import ContactCipher
    from redline.mirror.signing import feed_signers, verifier_texts
    from redline.mirror.sync import add_mirror

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        hub_dir, platform_dir = root / "hub", root / "platform"
        hub_dir.mkdir()
        platform_dir.mkdir()
        started = time.perf_counter()
        generate(hub_dir / "hub.db", n)
        generated_s = time.perf_counter() - started
        hub_url = f"sqlite:///{hub_dir / 'hub.db'}"
        hub_db = Database(hub_url)
        with hub_db.write() as session:
            key, token = service.create_api_key(
                session, name="bench", scopes=["feed"], actor="bench", partner="p"
            )
            session.flush()
            for bank in service.list_banks(session):  # a feed key reads the banks it is granted
                grants.grant(session, key.id, bank.name, actor="bench", survivor_bank="", purpose="feed")
        hub_db.dispose()
        started = time.perf_counter()
        hub = Server(hub_url, hub_dir, ready_timeout=4 * 3600)  # 10M: the hub builds its index first
        hub_ready_s = time.perf_counter() - started
        try:
            env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}"}
            raw_s, raw_mib, out = _child([sys.executable, "-c", _RAW_READER, hub.url, token, str(page)], env)
            assert int(out.split()[0]) == n, out
            platform_url = f"sqlite:///{platform_dir / 'platform.db'}"
            platform_db = Database(platform_url)
            platform_db.upgrade()
            with platform_db.write() as session:
                add_mirror(
                    session,
                    name="hub",
                    url=hub.url,
                    key=token,
                    bank="hub",
                    pinned_keys=verifier_texts(feed_signers(hub_dir)),
                    from_banks=[],
                    cipher=ContactCipher.from_settings("", platform_dir),
                    actor="bench",
                )
            platform_db.dispose()
            sync_env = {
                **env,
                "REDLINE_DATABASE_URL": platform_url,
                "REDLINE_DATA_DIR": str(platform_dir),
                "REDLINE_MIRROR_PAGE_SIZE": str(page),
            }
            sync_s, sync_mib, out = _child([str(REDLINE), "mirror", "sync", "hub"], sync_env)
            assert f"{n} added" in out, out
        finally:
            hub.stop()
    return {
        "entries": n,
        "page": page,
        "generate_s": round(generated_s, 1),
        "hub_ready_s": round(hub_ready_s, 1),
        "baseline_raw_feed_s": round(raw_s, 1),
        "baseline_raw_feed_rss_mib": raw_mib,
        "mirror_sync_s": round(sync_s, 1),
        "mirror_sync_entries_per_s": round(n / sync_s),
        "mirror_sync_rss_mib": sync_mib,
        "ratio_sync_to_raw": round(sync_s / raw_s, 2),
        "projected_10m_sync_min": round(sync_s * 10_000_000 / n / 60, 1),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "cores": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, nargs="+", default=[200_000])
    parser.add_argument("--page", type=int, default=5000)
    args = parser.parse_args()
    for n in args.entries:
        print(json.dumps(run(n, args.page)), flush=True)


if __name__ == "__main__":
    main()
