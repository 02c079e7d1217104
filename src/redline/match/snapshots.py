"""Snapshots of the live match index, so a server process starts in seconds instead of re-reading every hash.

Files: ``<data_dir>/index/<signal type>-<position>.snap``, one per perceptual signal type, where ``position``
is the change-log sequence number the index reflects (``redline.index.snapshot`` describes the format; it is
written to a temporary name and renamed, so a crash never leaves half a file under a real name). A shard
process (``redline.match.shards``) keeps its own in ``<data_dir>/index/shard-K-of-N/``.

Why a snapshot may be refused: its header records what the index was built from, and a process uses it only
when all of it still holds — the same database (the first change-log row's id, entry and time: a restored
or different database has another), the same change at ``position`` (a database restored to an earlier point
and written to since would reuse sequence numbers for other changes), the same minimum PDQ quality and bit
length, the same shard, and intact checksums. Anything else is logged and the process falls back to the next
older snapshot, then to a full rebuild from the database. A snapshot is only ever a cache: deleting the
folder is safe.

Only one process writes: the one holding ``writer.lock`` (``flock``, released by the kernel when the holder
exits, so a crashed writer never blocks the next one).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from redline.bank.models import Change
from redline.config import Settings
from redline.index import MihIndex
from redline.index.snapshot import SnapshotError, read_header

#: Version of the facts this module stores in a snapshot header (``meta``); bump when their meaning changes.
FORMAT = 1
_NAME = re.compile(r"^(?P<type>[a-z0-9_]+)-(?P<position>\d+)\.snap$")
_STALE_TEMP_S = 3600.0


@dataclass(frozen=True)
class SnapshotPolicy:
    """Where snapshots live and when the writing process makes a new one."""

    directory: Path
    every_changes: int = 100_000
    interval_s: float = 1800.0
    keep: int = 2
    on_shutdown: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> SnapshotPolicy | None:
        if not settings.index_snapshots:
            return None
        return cls(
            directory=settings.data_dir / "index",
            every_changes=max(1, settings.index_snapshot_every_changes),
            interval_s=settings.index_snapshot_interval_s,
            keep=max(1, settings.index_snapshots_kept),
        )


def database_identity(conn: Connection) -> str:
    """A fingerprint of the first change-log row: differs between databases, survives dump and restore."""
    first = conn.execute(
        select(Change.seq, Change.entry_id, Change.at).order_by(Change.seq).limit(1)
    ).one_or_none()
    return _digest(first)


def change_fingerprint(conn: Connection, position: int) -> str:
    """A fingerprint of the change at ``position`` ('' when there is none)."""
    row = conn.execute(
        select(Change.seq, Change.entry_id, Change.status, Change.at).where(Change.seq == position)
    ).one_or_none()
    return _digest(row)


def _digest(row: Any) -> str:
    if row is None:
        return ""
    text = "|".join(v.isoformat() if hasattr(v, "isoformat") else str(v) for v in row)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def snapshot_meta(
    conn: Connection, type_name: str, position: int, min_quality: int, shard: str | None = None
) -> dict[str, Any]:
    """What a snapshot at ``position`` records about its origin (checked by :func:`mismatch`). ``shard``: the
    part of the index it holds (``ShardSpec.label``), None for the whole; older snapshots have no such key,
    which reads as the whole."""
    return {
        "format": FORMAT,
        "signal_type": type_name,
        "database": database_identity(conn),
        "change": change_fingerprint(conn, position),
        "min_quality": min_quality,
        "shard": shard,
        "written_at": time.time(),
    }


def mismatch(header: dict[str, Any], expected: dict[str, Any], bits: int) -> str | None:
    """Why a snapshot's header does not fit this database and these settings, or ``None`` when it does."""
    meta = header.get("meta") or {}
    if header.get("kind") != "mih" or header.get("bits") != bits:
        return f"built for {header.get('bits')}-bit codes of kind {header.get('kind')}, not {bits}-bit mih"
    for key in ("format", "signal_type", "database", "change", "min_quality", "shard"):
        if meta.get(key) != expected[key]:
            reason = {
                "database": "it was made from another database",
                "change": "the change log at its position differs (database restored or replaced?)",
                "min_quality": "pdq_min_quality changed since it was made",
                "shard": "it holds another part of the index (shard)",
            }.get(key, f"its {key} differs")
            return reason
    return None


class SnapshotStore:
    """The snapshot folder: naming, listing, writing and pruning."""

    def __init__(self, directory: Path, keep: int = 2) -> None:
        self.directory = directory
        self.keep = keep

    def file(self, type_name: str, position: int) -> Path:
        return self.directory / f"{type_name}-{position}.snap"

    def positions(self, type_names: list[str]) -> list[int]:
        """Positions at which every one of ``type_names`` has a snapshot, newest first."""
        found: dict[int, set[str]] = {}
        with contextlib.suppress(FileNotFoundError):
            for path in self.directory.iterdir():
                named = _NAME.match(path.name)
                if named:
                    found.setdefault(int(named["position"]), set()).add(named["type"])
        return sorted((p for p, types in found.items() if types >= set(type_names)), reverse=True)

    def header(self, type_name: str, position: int) -> dict[str, Any]:
        return read_header(self.file(type_name, position))

    def write(self, indexes: dict[str, MihIndex], position: int, metas: dict[str, dict[str, Any]]) -> None:
        """Write one snapshot per index at ``position`` (each index a :meth:`MihIndex.frozen` copy), then
        delete all but the newest ``keep`` positions."""
        self.directory.mkdir(parents=True, exist_ok=True)
        for name, index in indexes.items():
            index.save(self.file(name, position), position=position, meta=metas[name])
        self.prune(list(indexes))

    def prune(self, type_names: list[str]) -> None:
        """Keep the newest ``keep`` positions; remove older ones and temporary files of crashed writers.

        A process that mapped a removed file keeps reading it: the name goes, the data stays till unmapped."""
        for position in self.positions(type_names)[self.keep :]:
            for name in type_names:
                self.file(name, position).unlink(missing_ok=True)
        now = time.time()
        with contextlib.suppress(FileNotFoundError):
            for path in self.directory.glob(".*.tmp"):
                with contextlib.suppress(FileNotFoundError):
                    if now - path.stat().st_mtime > _STALE_TEMP_S:
                        path.unlink()


class WriterLock:
    """Which process of those sharing ``data_dir`` writes snapshots: whoever holds this ``flock``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] | None = None

    @property
    def held(self) -> bool:
        return self._file is not None

    def try_acquire(self) -> bool:
        if self._file is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "ab")  # noqa: SIM115 - held open for the life of the process
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n".encode())
        handle.flush()
        self._file = handle
        return True

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None


__all__ = [
    "FORMAT",
    "SnapshotError",
    "SnapshotPolicy",
    "SnapshotStore",
    "WriterLock",
    "change_fingerprint",
    "database_identity",
    "mismatch",
    "snapshot_meta",
]
