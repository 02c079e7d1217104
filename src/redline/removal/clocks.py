"""The deadline clock: escalation events at hours-left marks, and a breach recorded when the period ran
out with items still pending. A breach is a fact: written once (``breached_at``), never cleared, shown in
the record and counted in reports, even after the items are removed late."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from redline.events import emit
from redline.removal.models import RemovalItem, RemovalRequest
from redline.removal.requests import log

#: Hours before the deadline at which an open request is escalated (``removal.escalated``).
DEFAULT_MARKS_H: tuple[float, ...] = (24.0, 12.0, 4.0, 1.0)


def parse_marks(text: str) -> tuple[float, ...]:
    """``"24,12,4,1"`` -> (24.0, 12.0, 4.0, 1.0); ValueError for anything else."""
    marks = tuple(sorted({float(part) for part in text.split(",") if part.strip()}, reverse=True))
    if any(m <= 0 or m > 24 * 30 for m in marks):
        raise ValueError("escalation marks are hours before the deadline, more than 0")
    return marks


def _label(mark: float) -> str:
    return f"{mark:g}h"


@dataclass(frozen=True)
class Tick:
    escalated: int
    breached: int


def tick(session: Session, now: datetime, marks_h: Sequence[float] = DEFAULT_MARKS_H) -> Tick:
    """Escalate and breach what is due at ``now`` (each mark once per request; idempotent)."""
    escalated = breached = 0
    open_requests = session.scalars(
        select(RemovalRequest).where(RemovalRequest.status == "open").with_for_update(skip_locked=True)
    ).all()
    for request in open_requests:
        pending = session.scalars(
            select(RemovalItem.position).where(
                RemovalItem.request_id == request.id, RemovalItem.status == "pending"
            )
        ).all()
        if not pending:
            continue
        left = request.deadline_at - now
        done = set(request.escalations)
        period = request.deadline_at - request.received_at
        # A mark as long as the period itself (24 h of eSafety's 24) would fire on receipt: only shorter ones.
        due = [
            m
            for m in marks_h
            if timedelta(hours=m) < period and left <= timedelta(hours=m) and _label(m) not in done
        ]
        # Marks passed while no clock was ticking (a stopped service) are still escalated, before the breach.
        if due:
            mark = min(due)  # the nearest mark passed; the earlier ones are recorded as reached with it
            request.escalations = [*request.escalations, *(_label(m) for m in due)]
            hours_left = round(left.total_seconds() / 3600, 2)
            log(
                session,
                request,
                "system",
                "escalated",
                mark=_label(mark),
                hours_left=hours_left,
                pending_items=len(pending),
            )
            emit(
                session,
                "removal.escalated",
                {
                    "request": request.number,
                    "mark": _label(mark),
                    "deadline_at": request.deadline_at.isoformat(),
                    "pending_items": len(pending),
                },
            )
            escalated += 1
        if left <= timedelta(0) and request.breached_at is None:
            request.breached_at = now
            log(
                session,
                request,
                "system",
                "breached",
                deadline_at=request.deadline_at.isoformat(),
                pending_items=len(pending),
            )
            emit(
                session,
                "removal.breached",
                {
                    "request": request.number,
                    "deadline_at": request.deadline_at.isoformat(),
                    "pending_items": len(pending),
                },
            )
            breached += 1
    return Tick(escalated, breached)
