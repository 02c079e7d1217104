"""The audit log as a transparency log: every ``audit_log`` row becomes a Merkle leaf, in sequencing order.

*Sequencing* reads audit rows that have no leaf yet, hashes their canonical bytes
(:mod:`redline.evidence.rows`) and appends leaves and the perfect subtrees they complete, in one write
transaction that holds the log's lock (an advisory lock on PostgreSQL; SQLite's ``BEGIN IMMEDIATE``), so any
number of server processes can sequence and publish without two of them appending the same leaf.

Audit rows are written by the bank in its own transactions; on PostgreSQL a row with a lower id can commit
after a higher one. Leaves therefore follow the order rows were *sequenced* in (the row id is inside the
leaf), and each pass looks back ``LOOKBACK_IDS`` ids below the highest row sequenced for such late rows; a
full pass (``sequence(full=True)``, done when a server starts) looks at every row.

*Publishing* signs a C2SP checkpoint of the current tree (a new one only when the tree grew) and stores it;
witnesses are asked to cosign it by :mod:`redline.evidence.witness`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.orm import Session

from redline.bank.db import Database
from redline.bank.models import AuditEvent, utcnow
from redline.evidence.checkpoint import Checkpoint
from redline.evidence.merkle import (
    EMPTY_ROOT,
    Frontier,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
)
from redline.evidence.models import LogCheckpoint, LogCosignature, LogLeaf, LogNode
from redline.evidence.note import SignerKey, VerifierKey, sign
from redline.evidence.rows import AUDIT_COLUMNS, ROW_FORMAT, canonical_bytes, row_record

EXPORT_FORMAT = "redline-tlog-export/1"
LOOKBACK_IDS = 5000
_LOG_LOCK = 0x746C6F67  # "tlog": advisory lock key of log appends on PostgreSQL
_BATCH = 5000
_LEAVES: Table = LogLeaf.__table__  # type: ignore[assignment]
_NODES: Table = LogNode.__table__  # type: ignore[assignment]


def audit_record(row: AuditEvent) -> dict[str, Any]:
    return row_record(row.id, row.at, row.actor, row.action, row.subject, row.details)


@dataclass(frozen=True)
class LoggedRow:
    index: int
    leaf_hash: bytes
    #: None when the audit row the leaf was made from is gone from the database.
    record: dict[str, Any] | None


class NodeStore:
    """Reads stored leaves and perfect subtrees of one session, with a cache for one proof's worth."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._cache: dict[tuple[int, int], bytes] = {}

    def read(self, level: int, index: int) -> bytes:
        key = (level, index)
        if key not in self._cache:
            if level == 0:
                found = self.session.scalar(select(LogLeaf.leaf_hash).where(LogLeaf.idx == index))
            else:
                found = self.session.scalar(
                    select(LogNode.hash).where(LogNode.level == level, LogNode.idx == index)
                )
            if found is None:
                raise ProofError(f"the log has no subtree ({level}, {index}) yet")
            self._cache[key] = bytes(found)
        return self._cache[key]


class TransparencyLog:
    def __init__(self, db: Database, signer: SignerKey) -> None:
        self.db = db
        self.signer = signer

    @property
    def origin(self) -> str:
        return self.signer.name

    @property
    def verifier(self) -> VerifierKey:
        return self.signer.verifier()

    # --- appending ---------------------------------------------------------------------------------------

    def _lock(self, session: Session) -> None:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOG_LOCK})

    def sequence(self, *, full: bool = False, limit: int = 100_000) -> int:
        """Append leaves for audit rows not in the log yet (at most ``limit``); returns how many."""
        total = 0
        after: int | None = 0 if full else None
        while total < limit:
            with self.db.write() as session:
                self._lock(session)
                added, after = self._sequence_batch(session, after, batch=min(_BATCH, limit - total))
            total += added
            if added == 0:
                break
        return total

    def _sequence_batch(self, session: Session, after: int | None, *, batch: int) -> tuple[int, int]:
        """One batch of rows with ids above ``after`` (None: the look-back window); returns how many were
        appended and the id to continue after (rows are taken in id order, so nothing below it is left)."""
        size = tree_size(session)
        if after is None:
            highest = session.scalar(select(func.max(LogLeaf.audit_id))) or 0
            after = max(0, highest - LOOKBACK_IDS)
        floor = after
        logged = select(LogLeaf.idx).where(LogLeaf.audit_id == AuditEvent.id).exists()
        # Core rows and inserts, not ORM objects: sequencing touches every audit row (the ORM doubled it).
        columns = [AuditEvent.__table__.c[name] for name in AUDIT_COLUMNS]
        rows = session.execute(
            select(*columns).where(AuditEvent.id > floor, ~logged).order_by(AuditEvent.id).limit(batch)
        ).all()
        if not rows:
            return 0, floor
        store = NodeStore(session)
        frontier = Frontier(size, [store.read(lv, i) for lv, i in Frontier.positions(size)])
        appended: list[tuple[int, int, bytes]] = []
        leaves = []
        now = utcnow()
        for row in rows:
            leaf = leaf_hash(canonical_bytes(row_record(*row)))
            leaves.append({"idx": frontier.size, "audit_id": row.id, "leaf_hash": leaf, "sequenced_at": now})
            frontier.append(leaf, appended)
        session.execute(insert(_LEAVES), leaves)
        nodes = [{"level": lv, "idx": i, "hash": h} for lv, i, h in appended if lv > 0]
        if nodes:
            session.execute(insert(_NODES), nodes)
        return len(rows), rows[-1][0]

    def publish(self) -> LogCheckpoint:
        """Sequence, then sign and store a checkpoint of the tree if it grew since the last one."""
        self.sequence()
        with self.db.write() as session:
            self._lock(session)
            size = tree_size(session)
            latest = latest_checkpoint(session)
            if latest is not None and latest.size == size:
                return latest
            checkpoint = Checkpoint(self.origin, size, tree_root(session, size))
            row = LogCheckpoint(
                size=size, root=checkpoint.root, note=sign(checkpoint.text(), self.signer), at=utcnow()
            )
            session.add(row)
            return row

    # --- reading -----------------------------------------------------------------------------------------

    def export(self, out: TextIO, checkpoint: LogCheckpoint) -> int:
        """Write the log up to ``checkpoint`` as JSON Lines: a header with the signed checkpoint, then one
        line per leaf with the audit row it was made from (what the offline verifier checks)."""
        with self.db.read() as session:
            note = cosigned_note(session, checkpoint)
        header = {
            "format": EXPORT_FORMAT,
            "row_format": ROW_FORMAT,
            "origin": self.origin,
            "size": checkpoint.size,
            "checkpoint": note,
        }
        out.write(json.dumps(header, ensure_ascii=False) + "\n")
        written = 0
        for start in range(0, checkpoint.size, _BATCH):
            with self.db.read() as session:
                page = logged_rows(session, start, min(_BATCH, checkpoint.size - start))
            for row in page:
                line: dict[str, Any] = {"index": row.index, "leaf_hash": row.leaf_hash.hex()}
                if row.record is not None:
                    line["row"] = row.record
                out.write(json.dumps(line, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n")
                written += 1
        return written

    def export_file(self, path: Path) -> LogCheckpoint:
        checkpoint = self.publish()
        tmp = path.with_name(path.name + ".part")
        with open(tmp, "w", encoding="utf-8") as out:
            self.export(out, checkpoint)
        tmp.replace(path)
        return checkpoint


def tree_size(session: Session) -> int:
    found = session.scalar(select(func.max(LogLeaf.idx)))
    return 0 if found is None else found + 1


def tree_root(session: Session, size: int) -> bytes:
    if size == 0:
        return EMPTY_ROOT
    store = NodeStore(session)
    return Frontier(size, [store.read(lv, i) for lv, i in Frontier.positions(size)]).root()


def latest_checkpoint(session: Session) -> LogCheckpoint | None:
    return session.scalars(select(LogCheckpoint).order_by(LogCheckpoint.size.desc()).limit(1)).first()


def checkpoint_at(session: Session, size: int) -> LogCheckpoint | None:
    return session.get(LogCheckpoint, size)


def cosigned_note(session: Session, checkpoint: LogCheckpoint) -> str:
    """The checkpoint's signed note with every cosignature witnesses returned for it."""
    lines = session.scalars(
        select(LogCosignature.line).where(LogCosignature.size == checkpoint.size).order_by(LogCosignature.id)
    ).all()
    seen: list[str] = []
    for line in lines:
        if line not in seen:
            seen.append(line)
    return checkpoint.note + "".join(seen)


def prove_inclusion(session: Session, index: int, size: int) -> list[bytes]:
    if size > tree_size(session):
        raise ProofError(f"the log has fewer than {size} leaves")
    return inclusion_proof(NodeStore(session).read, index, size)


def prove_consistency(session: Session, old: int, new: int) -> list[bytes]:
    if new > tree_size(session):
        raise ProofError(f"the log has fewer than {new} leaves")
    return consistency_proof(NodeStore(session).read, old, new)


def logged_rows(session: Session, start: int, limit: int) -> list[LoggedRow]:
    """Leaves ``start`` .. ``start + limit - 1`` with the audit rows they were made from (as now stored)."""
    found = session.execute(
        select(LogLeaf, AuditEvent)
        .outerjoin(AuditEvent, AuditEvent.id == LogLeaf.audit_id)
        .where(LogLeaf.idx >= start, LogLeaf.idx < start + limit)
        .order_by(LogLeaf.idx)
    ).all()
    return [
        LoggedRow(leaf.idx, bytes(leaf.leaf_hash), audit_record(row) if row is not None else None)
        for leaf, row in found
    ]


def leaves_of_rows(session: Session, audit_ids: Sequence[int]) -> Iterator[LoggedRow]:
    """The logged rows of these audit ids (those sequenced so far), in log order."""
    for chunk in range(0, len(audit_ids), 500):
        ids = list(audit_ids[chunk : chunk + 500])
        found = session.execute(
            select(LogLeaf, AuditEvent)
            .join(AuditEvent, AuditEvent.id == LogLeaf.audit_id)
            .where(LogLeaf.audit_id.in_(ids))
            .order_by(LogLeaf.idx)
        ).all()
        for leaf, row in found:
            yield LoggedRow(leaf.idx, bytes(leaf.leaf_hash), audit_record(row))
