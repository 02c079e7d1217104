"""Entries: one hash each, added by survivors' cases, partners and imports; never deleted.

Status changes are :mod:`redline.bank.status`'s; :func:`set_entry_status` is the operator's door to it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert
from sqlalchemy.orm import Session

from redline.bank.audit import audit
from redline.bank.banks import get_bank
from redline.bank.db import lock_change_log
from redline.bank.errors import BankError, Conflict, NotFound
from redline.bank.hashes import HashInput
from redline.bank.models import Bank, Entry, utcnow
from redline.bank.status import append_changes, change_status

_INSERT_CHUNK = 5_000


def insert_entries(
    session: Session,
    bank: Bank,
    hashes: Sequence[HashInput],
    *,
    source: str,
    origin: str = "",
    case_id: str | None = None,
    tags: Sequence[str] = (),
) -> list[int]:
    """Store ``hashes`` as active entries of ``bank`` with their change-log rows (the caller audits)."""
    lock_change_log(session)  # before the entries, as every writer of the log does
    now = utcnow()
    ids: list[int] = []
    for start in range(0, len(hashes), _INSERT_CHUNK):
        chunk = hashes[start : start + _INSERT_CHUNK]
        rows = [
            {
                "bank_id": bank.id,
                "case_id": case_id,
                "item": h.item,
                "signal_type": h.signal_type,
                "value": h.value,
                "quality": h.quality,
                "frame_ms": h.frame_ms,
                "source": source,
                "origin": origin,
                "tags": list(tags),
                "status": "active",
                "created_at": now,
                "updated_at": now,
            }
            for h in chunk
        ]
        chunk_ids = list(
            session.scalars(insert(Entry).returning(Entry.id, sort_by_parameter_order=True), rows)
        )
        append_changes(
            session,
            [
                {
                    "entry_id": entry_id,
                    "bank_id": bank.id,
                    "signal_type": h.signal_type,
                    "value": h.value,
                    "quality": h.quality,
                    "tags": list(tags),
                    "status": "active",
                    "at": now,
                }
                for entry_id, h in zip(chunk_ids, chunk, strict=True)
            ],
        )
        ids.extend(chunk_ids)
    return ids


def add_entries(
    session: Session,
    bank_name: str,
    hashes: Sequence[HashInput],
    *,
    source: str,
    origin: str,
    actor: str,
    tags: Sequence[str] = (),
) -> list[int]:
    """Partner submissions (``source="partner"``) and operator imports (``source="import"``)."""
    bank = get_bank(session, bank_name)
    refuse_if_mirrored(bank)
    ids = insert_entries(session, bank, hashes, source=source, origin=origin, tags=tags)
    action = "import" if source == "import" else "entries.added"
    audit(session, actor, action, f"bank:{bank_name}", count=len(ids), source=source, origin=origin)
    return ids


def refuse_if_mirrored(bank: Bank) -> None:
    """A mirrored bank is read-only: its hub owns its entries (``redline.mirror``)."""
    if bank.mirror is not None:
        raise Conflict(f"bank {bank.name!r} is a read-only mirror ({bank.mirror}); change it at its hub")


def get_entry(session: Session, entry_id: int) -> Entry:
    entry = session.get(Entry, entry_id)
    if entry is None:
        raise NotFound(f"no entry {entry_id}")
    return entry


def set_entry_status(session: Session, entry_id: int, status: str, *, actor: str, reason: str = "") -> Entry:
    """Operator action on one entry (quarantine, release, expire). A survivor's withdrawal is final."""
    entry = get_entry(session, entry_id)
    bank = session.get(Bank, entry.bank_id)
    if bank is not None:
        refuse_if_mirrored(bank)
    if entry.status == "withdrawn":
        raise Conflict("a withdrawn entry stays withdrawn")
    if status == "withdrawn":
        raise BankError("only the survivor withdraws; operators quarantine or expire")
    change_status(session, [entry], status, actor=actor, reason=reason)
    return entry
