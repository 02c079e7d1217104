"""The removal sweep for one request over 1M seen uploads: its wider whole-image reach vs retroactive
matching's, and vs brute force.

    PYTHONPATH=$PWD/src .venv/bin/python bench/sweep.py --n 1000000 --requests 5

The seen store is built synthetically and fast (uniformly random codes, the index's worst case: no
clusters), as ``bench/retro.py`` does: per seen upload its plain PDQ (also its ``full`` region hash) and its
``mirror`` hash, added straight to a :class:`~redline.retro.seen.SeenIndex` (no database). One request is
one reported picture as the requester's device hashes it: its PDQ and 34 ``pdq_region`` crops
(``robust.STORED_REGIONS``). The sweep's search is ``SeenIndex.candidates(..., whole_reach=64)``
(``removal.sweep.SWEEP_WHOLE_REACH`` = ``robust.WHOLE_THRESHOLD``), what ``find_seen`` does before it reads
the candidates' rows; measured beside retroactive matching's ``whole_reach=31`` and a NumPy brute force at
64 over the same codes (which must find exactly the same hits). Planted per request: a near-identical copy
(PDQ 20 bits away), a re-encoded, resized and cropped copy (its PDQ 50 bits from one crop: beyond 31, within
64) and a mirrored one (its mirror 40 bits from another crop): the sweep must find all three, retroactive
matching's reach only the first.

``--db``: also the whole ``removal.sweep.sweep`` through a real SQLite database (the seen store bulk-loaded
into ``seen_uploads`` / ``seen_hashes``, one request filed with ``file_request``): the live index's first
load, then one sweep (index refresh, the item's hashes, ``find_seen`` with its database reads, the copies
written), then a re-run that lists nothing new.

    PYTHONPATH=$PWD/src .venv/bin/python bench/sweep.py --n 1000000 --requests 5 --db
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from redline.removal.sweep import SWEEP_WHOLE_REACH
from redline.retro.seen import WHOLE_UPLOAD_REACH, SeenIndex, SeenQuery

CROPS = 34


def flipped(code: np.ndarray, bits: int, rng: np.random.Generator) -> np.ndarray:
    out = code.copy()
    for bit in rng.choice(256, bits, replace=False):
        out[bit // 8] ^= 1 << (bit % 8)
    return out


def brute_force(words: np.ndarray, query: np.ndarray, reach: int) -> set[int]:
    distances = np.bitwise_count(words ^ query).sum(axis=1, dtype=np.int32)
    return set(np.flatnonzero(distances <= reach).tolist())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1_000_000, help="seen uploads")
    parser.add_argument("--requests", type=int, default=5, help="requests timed")
    parser.add_argument("--db", action="store_true", help="also time sweep() through SQLite")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rng = np.random.default_rng(17)
    pdq = rng.integers(0, 256, (args.n, 32), dtype=np.uint8)
    mirror = rng.integers(0, 256, (args.n, 32), dtype=np.uint8)
    pictures = rng.integers(0, 256, (args.requests, 1 + CROPS, 32), dtype=np.uint8)
    planted: dict[int, dict[str, int]] = {}
    for p in range(args.requests):
        near, cropped, mirrored = (p * 3 + 1) * 997, (p * 3 + 2) * 997, (p * 3 + 3) * 997
        pdq[near] = flipped(pictures[p, 0], 20, rng)
        pdq[cropped] = flipped(pictures[p, 7], 50, rng)
        mirror[mirrored] = flipped(pictures[p, 5], 40, rng)
        planted[p] = {"near": 2 * near, "cropped": 2 * cropped, "mirrored": 2 * mirrored + 1}
    print(
        f"# {args.n:,} seen uploads (pdq + mirror), {args.requests} requests of 1 + {CROPS} hashes; "
        f"{platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start"
    )
    index = SeenIndex(None)  # type: ignore[arg-type]  # no database: codes are added directly
    ids = np.arange(args.n, dtype=np.int64) * 2
    started = time.perf_counter()
    index.add("pdq", None, ids, pdq)
    index.add("pdq_region", "mirror", ids + 1, mirror)
    build = time.perf_counter() - started

    def queries(p: int) -> list[SeenQuery]:
        hexes = [bytes(code).hex() for code in pictures[p]]
        return [SeenQuery("pdq", hexes[0]), *(SeenQuery("pdq_region", h) for h in hexes[1:])]

    index.candidates(queries(0), whole_reach=SWEEP_WHOLE_REACH)  # page in
    rows = []
    words_pdq, words_mirror = pdq.view(np.uint64), mirror.view(np.uint64)
    for reach in (SWEEP_WHOLE_REACH, WHOLE_UPLOAD_REACH):
        wall, cpu, found = [], [], []
        for p in range(args.requests):
            t, c = time.perf_counter(), time.process_time()
            hits = index.candidates(queries(p), whole_reach=reach)
            wall.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - c) * 1000)
            found.append(set().union(*hits))
        kinds_found = {k: sum(planted[p][k] in found[p] for p in range(args.requests)) for k in planted[0]}
        row: dict[str, object] = {
            "whole_reach": reach,
            "p50_ms": float(np.median(wall)),
            "max_ms": float(np.max(wall)),
            "cpu_p50_ms": float(np.median(cpu)),
            "planted_found": kinds_found,
        }
        if reach == SWEEP_WHOLE_REACH:
            q = pictures[0].view(np.uint64)
            t = time.perf_counter()
            expected = {2 * i for i in brute_force(words_pdq, q[0], 31)}
            for crop in q[1:]:
                expected |= {2 * i for i in brute_force(words_pdq, crop, reach)}
                expected |= {2 * i + 1 for i in brute_force(words_mirror, crop, reach)}
            row["brute_force_ms"] = (time.perf_counter() - t) * 1000
            row["same_hits_as_brute_force"] = expected == found[0]
        rows.append(row)
        print(json.dumps(row), flush=True)
    sweep_ms, retro_ms = float(rows[0]["p50_ms"]), float(rows[1]["p50_ms"])  # type: ignore[arg-type]
    brute_ms = float(rows[0]["brute_force_ms"])  # type: ignore[arg-type]
    print(
        f"build {build:.1f} s; sweep (reach {SWEEP_WHOLE_REACH}) p50 {sweep_ms:.0f} ms wall, "
        f"{rows[0]['cpu_p50_ms']:.0f} ms CPU; retro reach {WHOLE_UPLOAD_REACH}: {retro_ms:.0f} ms "
        f"(sweep {sweep_ms / retro_ms:.1f}x); brute force at 64: {brute_ms:.0f} ms "
        f"({brute_ms / sweep_ms:.1f}x the sweep); load average {os.getloadavg()[0]:.1f} at end"
    )
    through_db = database_sweep(pdq, mirror, pictures[0]) if args.db else None
    if args.json:
        out = {"n": args.n, "build_s": build, "rows": rows, "database": through_db}
        args.json.write_text(json.dumps(out, indent=1))


def database_sweep(pdq: np.ndarray, mirror: np.ndarray, picture: np.ndarray) -> dict[str, float]:
    """The whole sweep of one request through SQLite, over the same seen codes."""
    import sqlite3
    import tempfile

    from redline.bank.db import Database
    from redline.bank.hashes import normalize_hash
    from redline.bank.secrets import ContactCipher
    from redline.removal.requests import file_request
    from redline.removal.sweep import sweep
    from redline.removal.validation import RequestForm

    folder = Path(tempfile.mkdtemp(prefix="sweep-bench-"))
    url = f"sqlite:///{folder / 'bench.db'}"
    Database(url).upgrade()
    started = time.perf_counter()
    conn = sqlite3.connect(folder / "bench.db")
    n = len(pdq)
    conn.executemany(
        "INSERT INTO seen_uploads (id, api_key_id, partner_id, content_id, origin, seen_at) "
        "VALUES (?,?,?,?,?,?)",
        ((i + 1, "bench", None, f"post-{i}", "request", "2026-12-01 00:00:00") for i in range(n)),
    )
    conn.executemany(
        "INSERT INTO seen_hashes (upload_id, signal_type, value, label) VALUES (?,?,?,?)",
        (
            row
            for i in range(n)
            for row in (
                (i + 1, "pdq", pdq[i].tobytes().hex(), None),
                (i + 1, "pdq_region", mirror[i].tobytes().hex(), "mirror"),
            )
        ),
    )
    conn.commit()
    conn.close()
    load_s = time.perf_counter() - started
    db = Database(url)
    hexes = [bytes(code).hex() for code in picture]
    hashes = [normalize_hash("pdq", hexes[0], 90), *(normalize_hash("pdq_region", h, 90) for h in hexes[1:])]
    form = RequestForm(
        jurisdiction="uk",
        subject="self",
        name="Bench Person",
        email="bench@example.org",
        pictures=[hashes],
        statements=frozenset({"declaration_true"}),
    )
    with db.write() as session:
        number = file_request(session, form, ContactCipher(b"k" * 32)).number
    index = SeenIndex(db)
    t = time.perf_counter()
    index.refresh()
    refresh_s = time.perf_counter() - t
    t = time.perf_counter()
    first = sweep(db, number, actor="bench", index=index)
    first_s = time.perf_counter() - t
    t = time.perf_counter()
    again = sweep(db, number, actor="bench", index=index)
    again_s = time.perf_counter() - t
    db.dispose()
    result = {
        "db_load_s": load_s,
        "index_first_load_s": refresh_s,
        "sweep_s": first_s,
        "copies_listed": first.exact + first.perceptual,
        "sweep_again_s": again_s,
        "listed_again": again.exact + again.perceptual,
    }
    print(json.dumps(result), flush=True)
    print(
        f"through SQLite: bulk load {load_s:.0f} s, live index first load {refresh_s:.1f} s; one sweep "
        f"{first_s * 1000:.0f} ms ({result['copies_listed']} copies listed), re-run {again_s * 1000:.0f} ms "
        f"({result['listed_again']} new); load average {os.getloadavg()[0]:.1f}"
    )
    return result


if __name__ == "__main__":
    main()
