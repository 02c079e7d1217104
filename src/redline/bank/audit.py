"""The audit log: one append-only row per state change, written in the change's own transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from redline.bank.models import AuditEvent


def audit(session: Session, actor: str, action: str, subject: str, **details: Any) -> None:
    session.add(AuditEvent(actor=actor, action=action, subject=subject, details=details))


def audit_page(
    session: Session, after_id: int, limit: int, *, before_id: int | None = None
) -> Sequence[AuditEvent]:
    """Audit rows in id order: the first ``limit`` after ``after_id``, or with ``before_id`` the last
    ``limit`` between the two (the console reads the log newest first, page by page)."""
    query = select(AuditEvent).where(AuditEvent.id > after_id)
    if before_id is None:
        return session.scalars(query.order_by(AuditEvent.id).limit(limit)).all()
    newest = session.scalars(
        query.where(AuditEvent.id < before_id).order_by(AuditEvent.id.desc()).limit(limit)
    ).all()
    return newest[::-1]
