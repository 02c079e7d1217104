"""The scan's state file (SQLite): its id, what it scans, and every finished batch with its report rows.

A batch is recorded in one transaction after the server answered for it, so a driver killed at any moment
leaves each batch either finished (with all its rows) or not started; a re-run redoes only the batches that
were in flight. The report is written from here, so nothing is reported twice. An exclusive lock on the
file keeps two drivers off one scan.
"""

from __future__ import annotations

import fcntl
import json
import secrets
import sqlite3
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
    batch INTEGER PRIMARY KEY, files INTEGER NOT NULL, skipped INTEGER NOT NULL, matches INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS rows (
    id INTEGER PRIMARY KEY, batch INTEGER NOT NULL, kind TEXT NOT NULL, code TEXT, record TEXT NOT NULL
);
"""

_TOTALS = "SELECT COALESCE(SUM(files), 0), COALESCE(SUM(skipped), 0), COALESCE(SUM(matches), 0) FROM batches"
_ERRORS = "SELECT code, COUNT(*) FROM rows WHERE kind = 'error' GROUP BY code"


class StateError(RuntimeError):
    """The state file belongs to another scan, or another driver holds it."""


class ScanState:
    def __init__(self, path: Path, source: str, batch_size: int) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = (path.parent / f"{path.name}.lock").open("w")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock.close()
            raise StateError(f"{path}: another redline scan is using this state file") from None
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a finished batch must survive a power cut, too
        self._db.executescript(_SCHEMA)
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        if not meta:
            meta = {"scan_id": secrets.token_urlsafe(12), "source": source, "batch_size": str(batch_size)}
            with self._transaction():
                self._db.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
        elif meta["source"] != source or int(meta["batch_size"]) != batch_size:
            self.close()
            raise StateError(
                f"{path} is the state of a scan of {meta['source']} in batches of {meta['batch_size']}; "
                "give another --state to start a new scan"
            )
        self.scan_id: str = meta["scan_id"]

    def close(self) -> None:
        self._db.close()
        self._lock.close()

    def _transaction(self) -> Any:
        return _Transaction(self._db)

    def finished(self) -> set[int]:
        return {int(b) for (b,) in self._db.execute("SELECT batch FROM batches")}

    def record(self, batch: int, files: int, skipped: int, rows: list[dict[str, Any]]) -> None:
        """One finished batch and its report rows (a match or an error each), atomically."""
        matches = sum(r["kind"] == "match" for r in rows)
        with self._transaction():
            self._db.executemany(
                "INSERT INTO rows (batch, kind, code, record) VALUES (?, ?, ?, ?)",
                [(batch, r["kind"], r.get("error"), json.dumps(r, separators=(",", ":"))) for r in rows],
            )
            self._db.execute("INSERT INTO batches VALUES (?, ?, ?, ?)", (batch, files, skipped, matches))

    def totals(self) -> tuple[int, int, int, Counter[str]]:
        """Files done, skipped, matches, and errors by code, over the finished batches."""
        files, skipped, matches = self._db.execute(_TOTALS).fetchone()
        errors = Counter({code: n for code, n in self._db.execute(_ERRORS)})
        return int(files), int(skipped), int(matches), errors

    def rows(self) -> Iterator[dict[str, Any]]:
        """The report rows in source order (batch, then position)."""
        for (record,) in self._db.execute("SELECT record FROM rows ORDER BY batch, id"):
            yield json.loads(record)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, *_: object) -> None:
        self._db.execute("COMMIT" if kind is None else "ROLLBACK")
