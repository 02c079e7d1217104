"""The partner feed: the change log read in order, hashes of entries that left the bank scrubbed."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from redline.bank.models import Bank, Change


def feed_page(
    session: Session,
    after_seq: int,
    limit: int,
    *,
    up_to: int | None = None,
    bank_names: Sequence[str] = (),
) -> list[tuple[Change, str]]:
    """Change-log rows after ``after_seq`` (up to ``up_to``) in order, with their bank's name; only the
    banks ``bank_names`` when given."""
    query = (
        select(Change, Bank.name)
        .join(Bank, Bank.id == Change.bank_id)
        .where(Change.seq > after_seq)
        # An "added" row whose entry has since left the bank was scrubbed; its tombstone follows later.
        .where(or_(Change.value.is_not(None), Change.status != "active"))
    )
    if up_to is not None:
        query = query.where(Change.seq <= up_to)
    if bank_names:
        query = query.where(Bank.name.in_(list(bank_names)))
    rows = session.execute(query.order_by(Change.seq).limit(limit)).all()
    return [(c, name) for c, name in rows]


def change_log_head(session: Session) -> int:
    """The last change-log row: everything up to it is committed and visible (``seq`` grows in commit
    order)."""
    return int(session.scalar(select(func.max(Change.seq))) or 0)
