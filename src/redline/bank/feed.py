"""The partner feed: the change log read in order, hashes of entries that left the bank scrubbed."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from redline.bank.models import Bank, Change


def feed_page(session: Session, after_seq: int, limit: int) -> list[tuple[Change, str]]:
    """Change-log rows after ``after_seq`` in order, with their bank's name."""
    rows = session.execute(
        select(Change, Bank.name)
        .join(Bank, Bank.id == Change.bank_id)
        .where(Change.seq > after_seq)
        # An "added" row whose entry has since left the bank was scrubbed; its tombstone follows later.
        .where(or_(Change.value.is_not(None), Change.status != "active"))
        .order_by(Change.seq)
        .limit(limit)
    ).all()
    return [(c, name) for c, name in rows]
