"""The one owner of entry status and of the change log.

Every status change of an entry (a survivor's withdrawal, an operator's quarantine or release, review
feedback, and later mirrors and removal requests) goes through :func:`change_status`, which writes, in the
caller's transaction: the new status, a change-log row per entry (so every process's live index and every
partner's feed follow), one audit row, and the documented ``entry.*`` event (``redline.events``). Nothing
else writes ``changes`` rows: new entries and re-announcements come through :func:`append_changes`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from redline.bank.audit import audit
from redline.bank.db import lock_change_log
from redline.bank.errors import BankError
from redline.bank.models import ENTRY_STATUSES, Change, Entry, utcnow
from redline.events import emit_entry_event

#: The event each status announces to platforms (they should stop acting on such entries).
STATUS_EVENTS = {"withdrawn": "entry.withdrawn", "quarantined": "entry.quarantined"}
_CHUNK = 5_000


def append_changes(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Append change-log rows (``changes`` columns but ``seq``). ``seq`` must grow in commit order, so the
    log is locked for the rest of the transaction first (``lock_change_log``)."""
    if not rows:
        return
    lock_change_log(session)
    for start in range(0, len(rows), _CHUNK):
        session.execute(insert(Change), list(rows[start : start + _CHUNK]))


def change_row(entry: Entry, status: str, at: Any) -> dict[str, Any]:
    """The change-log row saying ``entry`` is now ``status``; a row leaving ``active`` carries no hash."""
    return {
        "entry_id": entry.id,
        "bank_id": entry.bank_id,
        "signal_type": entry.signal_type,
        "value": entry.value if status == "active" else None,
        "quality": entry.quality,
        "tags": entry.tags,
        "status": status,
        "at": at,
    }


def change_status(
    session: Session,
    entries: Sequence[Entry],
    status: str,
    *,
    actor: str,
    reason: str = "",
    subject: str | None = None,
    details: dict[str, Any] | None = None,
) -> list[Entry]:
    """Move ``entries`` to ``status``; returns those that changed (the others already had it).

    For the changed ones, in the caller's transaction: the entries' rows, one change-log row each (leaving
    ``active`` also scrubs the hash from their earlier rows: a tombstone), one audit row
    ``<subject kind>.<status>`` on ``subject`` (by default ``entry:<id>`` of the first entry, so
    ``entry.quarantined``; ``case:<id>`` gives ``case.withdrawn``), and for a status in
    :data:`STATUS_EVENTS` one bank-wide event listing them as ``entry_ids`` with ``status``, ``reason``
    and ``details``."""
    if status not in ENTRY_STATUSES:
        raise BankError(f"status must be one of {', '.join(ENTRY_STATUSES)}")
    changed = [e for e in entries if e.status != status]
    if not changed:
        return []
    now = utcnow()
    extra = dict(details or {})
    ids = [e.id for e in changed]
    previous = Counter(e.status for e in changed)
    lock_change_log(session)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        session.execute(update(Entry).where(Entry.id.in_(chunk)).values(status=status, updated_at=now))
        if status != "active":
            # A tombstone: the feed and the change log stop carrying the hash of an entry that left the bank.
            session.execute(update(Change).where(Change.entry_id.in_(chunk)).values(value=None))
    append_changes(session, [change_row(e, status, now) for e in changed])
    for e in changed:
        e.status = status
        e.updated_at = now
    about = subject or f"entry:{ids[0]}"
    audit(
        session,
        actor,
        f"{about.split(':', 1)[0]}.{status}",
        about,
        previous=next(iter(previous)) if len(previous) == 1 else dict(previous),
        reason=reason,
        entries=len(ids),
        **({"entry_ids": ids} if len(ids) > 1 else {}),
        **extra,
    )
    event_type = STATUS_EVENTS.get(status)
    if event_type is not None:
        emit_entry_event(session, event_type, ids, status=status, reason=reason, **extra)
    return changed


def announce(session: Session, entry: Entry) -> None:
    """Repeat an (unchanged, active) entry in the change log so partners mirroring the feed see its new
    review state; for the match index the row is a harmless re-add of the same hash."""
    if entry.status == "active":
        append_changes(session, [change_row(entry, "active", utcnow())])
