"""The intake's local state (SQLite, in the flagger's output folder): each file's outcome and each person's
case, so an interrupted intake resumes where it stopped. It names files and persons, so it stays on the
flagger's machine, readable by her alone (mode 0600), like the keys beside it.

A file is recorded when hashed; a person when the server has filed her case and her sheet is written. A
person whose case was filed is never sent again.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    label TEXT NOT NULL, rel TEXT NOT NULL, status TEXT NOT NULL, code TEXT, message TEXT,
    record TEXT, PRIMARY KEY (label, rel)
);
CREATE TABLE IF NOT EXISTS persons (
    number INTEGER PRIMARY KEY, label TEXT UNIQUE NOT NULL, case_id TEXT, manifest_sha256 TEXT,
    known_items INTEGER, files INTEGER
);
"""


class IntakeStateError(RuntimeError):
    """The state belongs to another collection, or another intake holds it."""


@dataclass(frozen=True)
class FileOutcome:
    rel: str
    status: str  # hashed | failed
    code: str | None
    message: str | None
    #: For a hashed file: sha256, md5, pdq, size, media_type, hashed_at, hashes, metadata.
    record: dict[str, Any] | None


@dataclass(frozen=True)
class SentPerson:
    number: int
    label: str
    case_id: str
    manifest_sha256: str | None
    known_items: int
    files: int


class IntakeState:
    def __init__(self, folder: Path, root: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = folder / "state.sqlite"
        self._lock = (folder / "state.lock").open("w")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock.close()
            raise IntakeStateError(f"{folder}: another redline intake is using this folder") from None
        fresh = not path.exists()
        self._db = sqlite3.connect(path, isolation_level=None)
        if fresh:
            os.chmod(path, 0o600)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        if not meta:
            self._db.execute("INSERT INTO meta VALUES ('root', ?)", (str(root),))
        elif meta["root"] != str(root):
            self.close()
            raise IntakeStateError(
                f"{folder} holds the intake of another collection ({meta['root']}); give another --out"
            )

    def close(self) -> None:
        self._db.close()
        self._lock.close()

    def outcomes(self, label: str) -> dict[str, FileOutcome]:
        rows = self._db.execute(
            "SELECT rel, status, code, message, record FROM files WHERE label = ?", (label,)
        ).fetchall()
        return {
            rel: FileOutcome(rel, status, code, message, json.loads(record) if record else None)
            for rel, status, code, message, record in rows
        }

    def record_file(self, label: str, outcome: FileOutcome) -> None:
        record = json.dumps(outcome.record, separators=(",", ":")) if outcome.record is not None else None
        self._db.execute(
            "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?)",
            (label, outcome.rel, outcome.status, outcome.code, outcome.message, record),
        )

    def number_of(self, label: str) -> int:
        """A person's number (1, 2, ...), fixed the first time she is seen: it names her sheet."""
        row = self._db.execute("SELECT number FROM persons WHERE label = ?", (label,)).fetchone()
        if row is not None:
            return int(row[0])
        cursor = self._db.execute("INSERT INTO persons (label) VALUES (?)", (label,))
        assert cursor.lastrowid is not None
        return int(cursor.lastrowid)

    def sent(self, label: str) -> SentPerson | None:
        row = self._db.execute(
            "SELECT number, label, case_id, manifest_sha256, known_items, files FROM persons "
            "WHERE label = ? AND case_id IS NOT NULL",
            (label,),
        ).fetchone()
        return SentPerson(*row) if row is not None else None

    def mark_sent(self, label: str, case_id: str, manifest_sha256: str, known_items: int, files: int) -> None:
        self._db.execute(
            "UPDATE persons SET case_id = ?, manifest_sha256 = ?, known_items = ?, files = ? WHERE label = ?",
            (case_id, manifest_sha256, known_items, files, label),
        )

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row is not None else None

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
