"""The tamper-evident audit log: append cost per row, proof sizes, offline verifier time.

    .venv/bin/python bench/tlog.py --append-rows 20000 --verify-rows 1000000

In one run:

* ``append``: on a fresh, migrated SQLite database, ``--append-rows`` audit rows are written the way the
  bank writes them (``service.audit``, 100 rows per transaction; the baseline), then ``TransparencyLog
  .sequence()`` gives them leaves and nodes; the ratio is log time / audit-write time. Then one checkpoint
  is signed, and ``--proofs`` inclusion proofs at random leaves are read from the database (ms each).
* ``proof_sizes``: hashes in inclusion and consistency proofs for tree sizes up to 1M (a function of the
  sizes only, so counted without building the trees): 32 bytes each.
* ``verify``: an export of ``--verify-rows`` rows shaped like real ones (written once into ``--workdir``)
  is checked by ``verify_export``; the baseline reads the same file, parses each line's JSON and takes one
  SHA-256 of it, so the ratio shows the cost of canonical re-serialisation and the tree on top.

Results are JSON lines on stdout; the run's wall time is the last line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "src"))

from redline.bank import service  # noqa: E402
from redline.bank.db import Database  # noqa: E402
from redline.evidence.checkpoint import Checkpoint  # noqa: E402
from redline.evidence.log import EXPORT_FORMAT, TransparencyLog, prove_inclusion  # noqa: E402
from redline.evidence.merkle import Frontier, consistency_proof, inclusion_proof, leaf_hash  # noqa: E402
from redline.evidence.note import SignerKey, sign  # noqa: E402
from redline.evidence.rows import ROW_FORMAT, canonical_bytes  # noqa: E402
from redline.evidence.verify import verify_export  # noqa: E402


def emit(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


def bench_append(workdir: Path, rows: int, proofs: int) -> None:
    url = f"sqlite:///{workdir / 'append.db'}"
    (workdir / "append.db").unlink(missing_ok=True)
    db = Database(url)
    db.upgrade()
    started = time.perf_counter()
    for start in range(0, rows, 100):
        with db.write() as session:
            for i in range(start, min(rows, start + 100)):
                service.audit(session, f"case:RL-{i:016d}", "case.created", f"case:RL-{i:016d}", entries=36)
    audit_s = time.perf_counter() - started
    tlog = TransparencyLog(db, SignerKey.generate("bench.example/log"))
    started = time.perf_counter()
    added = tlog.sequence(limit=rows + 1)
    sequence_s = time.perf_counter() - started
    started = time.perf_counter()
    checkpoint = tlog.publish()
    publish_s = time.perf_counter() - started
    rng = random.Random(1)
    started = time.perf_counter()
    with db.read() as session:
        picks = [rng.randrange(added) for _ in range(proofs)]
        lengths = [len(prove_inclusion(session, i, checkpoint.size)) for i in picks]
    proof_ms = (time.perf_counter() - started) / proofs * 1000
    emit(
        bench="append",
        rows=added,
        audit_write_us_per_row=round(audit_s / rows * 1e6, 1),
        log_append_us_per_row=round(sequence_s / added * 1e6, 1),
        ratio_log_to_audit_write=round(sequence_s / audit_s, 3),
        checkpoint_sign_ms=round(publish_s * 1000, 2),
        inclusion_proof_from_db_ms=round(proof_ms, 2),
        inclusion_proof_hashes_max=max(lengths),
    )
    db.dispose()


def bench_proof_sizes() -> None:
    zero = b"\0" * 32

    def read(level: int, index: int) -> bytes:
        return zero

    for size in (1_000, 65_536, 1_000_000, 1_000_001):
        inclusion = [len(inclusion_proof(read, i, size)) for i in (0, size // 3, size - 1)]
        consistency = [len(consistency_proof(read, old, size)) for old in (1, size // 3, size - 1)]
        emit(
            bench="proof_sizes",
            tree_size=size,
            inclusion_hashes=inclusion,
            inclusion_bytes_max=max(inclusion) * 32,
            consistency_hashes=consistency,
            consistency_bytes_max=max(consistency) * 32,
        )


def write_export(path: Path, rows: int) -> SignerKey:
    key = SignerKey.generate("bench.example/log")
    frontier = Frontier()
    tmp = path.with_suffix(".part")
    with open(tmp, "w", encoding="utf-8") as body:
        for i in range(rows):
            record = {
                "id": i + 1,
                "at": f"2026-12-01T12:{i // 60000 % 60:02d}:{i // 1000 % 60:02d}.{i % 1000:03d}000Z",
                "actor": f"case:RL-{i:04X}-AAAA-BBBB-CCCC",
                "action": "entry.withdrawn" if i % 7 == 0 else "case.created",
                "subject": f"case:RL-{i:04X}-AAAA-BBBB-CCCC",
                "details": {"entries": 36, "bank": "survivors"},
            }
            leaf = leaf_hash(canonical_bytes(record))
            frontier.append(leaf)
            line = {"index": i, "leaf_hash": leaf.hex(), "row": record}
            body.write(json.dumps(line, sort_keys=True, separators=(",", ":")) + "\n")
    note = sign(Checkpoint("bench.example/log", rows, frontier.root()).text(), key)
    header = {"format": EXPORT_FORMAT, "row_format": ROW_FORMAT, "origin": key.name, "size": rows}
    with open(path, "w", encoding="utf-8") as out, open(tmp, encoding="utf-8") as body:
        out.write(json.dumps({**header, "checkpoint": note}) + "\n")
        for line in body:
            out.write(line)
    tmp.unlink()
    (path.with_suffix(".key")).write_text(key.text())
    return key


def bench_verify(workdir: Path, rows: int) -> None:
    path = workdir / f"export-{rows}.jsonl"
    if path.exists() and path.with_suffix(".key").exists():
        key = SignerKey.parse(path.with_suffix(".key").read_text())
    else:
        started = time.perf_counter()
        key = write_export(path, rows)
        emit(bench="verify", step="generated", rows=rows, seconds=round(time.perf_counter() - started, 1))
    started = time.perf_counter()
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            json.loads(line)
            hashlib.sha256(line.encode()).digest()
    baseline_s = time.perf_counter() - started
    started = time.perf_counter()
    report = verify_export(path, key.verifier())
    verify_s = time.perf_counter() - started
    assert report.ok, report.problems
    emit(
        bench="verify",
        rows=rows,
        file_mb=round(path.stat().st_size / 1e6, 1),
        baseline_parse_and_sha256_s=round(baseline_s, 2),
        verify_s=round(verify_s, 2),
        ratio_verify_to_baseline=round(verify_s / baseline_s, 2),
        verify_us_per_row=round(verify_s / rows * 1e6, 2),
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--append-rows", type=int, default=20_000)
    parser.add_argument("--proofs", type=int, default=200)
    parser.add_argument("--verify-rows", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    started = time.perf_counter()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="redline-tlog-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    emit(bench="machine", cpus=os.cpu_count(), load_average=os.getloadavg())
    bench_append(workdir, args.append_rows, args.proofs)
    bench_proof_sizes()
    bench_verify(workdir, args.verify_rows)
    emit(bench="run", wall_s=round(time.perf_counter() - started, 1), load_average=os.getloadavg())


if __name__ == "__main__":
    main()
