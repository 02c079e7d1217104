"""The requests staff work on, nearest deadline first, with what is still pending in each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from redline.removal.models import RemovalCopy, RemovalItem, RemovalRequest


@dataclass(frozen=True)
class Summary:
    number: str
    jurisdiction: str
    status: str
    received_at: datetime
    deadline_at: datetime
    seconds_left: float
    breached: bool
    flags: list[str]
    items: int
    pending_items: int
    pending_copies: int


def _counts(
    session: Session, column: InstrumentedAttribute[int], ids: list[int], *where: Any
) -> dict[int, int]:
    rows = session.execute(select(column, func.count()).where(column.in_(ids), *where).group_by(column)).all()
    return {int(r[0]): int(r[1]) for r in rows}


def requests_by_time_left(session: Session, status: str, now: datetime, limit: int = 500) -> list[Summary]:
    """``status``: ``open``, ``closed`` or ``all``."""
    query = select(RemovalRequest).order_by(RemovalRequest.deadline_at)
    if status != "all":
        query = query.where(RemovalRequest.status == status)
    rows = session.scalars(query.limit(limit)).all()
    ids = [r.id for r in rows]
    items = _counts(session, RemovalItem.request_id, ids)
    pending = _counts(session, RemovalItem.request_id, ids, RemovalItem.status == "pending")
    copies = _counts(session, RemovalCopy.request_id, ids, RemovalCopy.status == "pending")
    return [
        Summary(
            number=r.number,
            jurisdiction=r.jurisdiction,
            status=r.status,
            received_at=r.received_at,
            deadline_at=r.deadline_at,
            seconds_left=(r.deadline_at - now).total_seconds(),
            breached=r.breached_at is not None,
            flags=list(r.flags),
            items=items.get(r.id, 0),
            pending_items=pending.get(r.id, 0),
            pending_copies=copies.get(r.id, 0),
        )
        for r in rows
    ]
