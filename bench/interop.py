"""Interop surfaces against their Redline baselines, in one process on one SQLite bank.

    .venv/bin/python bench/interop.py --pictures 2000 --lookups 300

The bank holds P survivor pictures stored as the portal stores them (one ``pdq``, 35 ``pdq_region``, ``md5``,
``sha256``: 38 entries each), added through ``redline.bank.service`` as one import. Then, in the same run:

* **reading the whole bank**: StopNCII ``FetchHashes`` pages of 800 (``redline.interop.stopncii.fetch_page``)
  vs the baseline ``/v1/feed`` pages of 1,000 (``redline.bank.service.feed_page``); seconds, pages, and
  records delivered (FetchHashes serves only the PDQ and MD5 of each picture);
* **one lookup over HTTP** (FastAPI's in-process test client, so the HTTP stack is the same and no network):
  ``GET /hma/m/lookup`` vs the baseline ``POST /v1/match`` for a stored PDQ (a match) and a random one (no
  match); p50 and p95 latency. ``/v1/match`` writes the match log, a review item and webhooks for a match;
  the HMA lookup writes nothing.

Results: JSON lines on stdout; docs/BENCHMARKS.md quotes them with the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))


def build(db_url: str, pictures: int) -> list[str]:
    """P pictures' entries, added as an operator import (a survivor case would also hash a secret with argon2,
    which measures nothing here)."""
    from redline.bank import service
    from redline.bank.db import Database

    db = Database(db_url)
    db.upgrade()
    stored = []
    with db.write() as session:
        service.ensure_bank(session, "survivors", "bench")
        hashes = []
        for picture in range(pictures):
            pdq = secrets.token_hex(32)
            stored.append(pdq)
            hashes += [service.HashInput("pdq", pdq, 90, picture)]
            hashes += [service.HashInput("pdq_region", secrets.token_hex(32), 90, picture) for _ in range(35)]
            hashes += [service.HashInput("md5", secrets.token_hex(16), None, picture)]
            hashes += [service.HashInput("sha256", secrets.token_hex(32), None, picture)]
        service.add_entries(session, "survivors", hashes, source="import", origin="bench", actor="bench")
    db.dispose()
    return stored


def read_all(db_url: str) -> list[dict[str, object]]:
    from redline.bank import service
    from redline.bank.db import Database
    from redline.interop import stopncii

    db = Database(db_url)
    out = []
    with db.read() as session:
        started, pages, records = time.perf_counter(), 0, 0
        cursor = stopncii.start_cursor(session, 0)
        while True:
            page = stopncii.fetch_page(session, cursor, stopncii.MAX_PAGE)
            pages, records, cursor = pages + 1, records + len(page.records), page.next_cursor
            if not page.more:
                break
        out.append(
            {
                "read": "FetchHashes",
                "s": round(time.perf_counter() - started, 3),
                "pages": pages,
                "records": records,
            }
        )
        started, pages, records, after = time.perf_counter(), 0, 0, 0
        while True:
            rows = service.feed_page(session, after, 1001)
            more, rows = len(rows) > 1000, rows[:1000]
            pages, records = pages + 1, records + len(rows)
            after = rows[-1][0].seq if rows else after
            if not more:
                break
        out.append(
            {
                "read": "/v1/feed (baseline)",
                "s": round(time.perf_counter() - started, 3),
                "pages": pages,
                "records": records,
            }
        )
    db.dispose()
    return out


def lookups(db_url: str, data_dir: Path, stored: list[str], n: int) -> list[dict[str, object]]:
    from fastapi.testclient import TestClient

    from redline.api.app import create_app
    from redline.bank import service
    from redline.config import Settings
    from redline.interop import hma

    app = create_app(Settings(data_dir=data_dir, database_url=db_url))
    out = []
    with TestClient(app) as client:
        while client.get("/readyz").status_code != 200:
            time.sleep(0.1)
        db = app.state.services.db
        with db.write() as session:
            _, token = service.create_api_key(
                session, name="bench", scopes=["match", "submit"], actor="bench", partner="bench"
            )
            hma.link_bank(session, "partner:bench", "BENCH_NCII", "survivors", actor="bench")
        auth = {"Authorization": f"Bearer {token}"}
        routes = ("/hma/m/lookup", "/v1/match (baseline)")
        for label, value in (("match", stored[0]), ("no match", secrets.token_hex(32))):
            times: dict[str, list[float]] = {route: [] for route in routes}
            for _ in range(n):  # the two routes alternate, so both see the same load on a shared machine
                started = time.perf_counter()
                r = client.get(f"/hma/{token}/m/lookup", params={"signal_type": "pdq", "signal": value})
                times[routes[0]].append((time.perf_counter() - started) * 1000)
                assert r.status_code == 200 and (("BENCH_NCII" in r.json()) == (label == "match"))
                started = time.perf_counter()
                r = client.post("/v1/match", json={"hashes": [{"type": "pdq", "value": value}]}, headers=auth)
                times[routes[1]].append((time.perf_counter() - started) * 1000)
                assert r.status_code == 200 and bool(r.json()["results"][0]["matches"]) == (label == "match")
            for route, spent in times.items():
                spent.sort()
                out.append(
                    {
                        "lookup": route,
                        "query": label,
                        "n": n,
                        "p50_ms": round(statistics.median(spent), 2),
                        "p95_ms": round(spent[int(0.95 * (n - 1))], 2),
                    }
                )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pictures", type=int, default=2000)
    parser.add_argument("--lookups", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="redline-bench-interop-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'bank.db'}"
        started = time.perf_counter()
        stored = build(url, args.pictures)
        print(
            json.dumps(
                {
                    "pictures": args.pictures,
                    "entries": args.pictures * 38,
                    "build_s": round(time.perf_counter() - started, 1),
                    "load": os.getloadavg()[0],
                }
            )
        )
        for row in read_all(url) + lookups(url, Path(tmp) / "data", stored, args.lookups):
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
