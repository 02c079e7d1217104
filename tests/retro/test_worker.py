"""The retroactive worker's cursor: never past a row it did not search."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from redline.bank.db import Database
from redline.bank.models import utcnow
from redline.bank.status import append_changes
from redline.retro.models import RetroCursor
from redline.retro.worker import RetroConfig, RetroWorker


def change(entry_id: int, at: object) -> dict[str, object]:
    return {
        "entry_id": entry_id,
        "bank_id": 1,
        "signal_type": "pdq",
        "value": "0" * 64,
        "quality": 90,
        "tags": [],
        "status": "active",
        "at": at,
    }


def cursor(db: Database) -> int:
    with db.read() as s:
        return int(s.scalar(select(RetroCursor.position)) or 0)


def test_the_cursor_stops_before_a_row_that_has_not_settled_even_when_later_rows_have(db: Database) -> None:
    """``changes.at`` is taken before the log is locked: a later row may carry an earlier time."""
    config = RetroConfig(retention=timedelta(days=90), settle_s=60)
    worker = RetroWorker(db, config)
    assert worker.run_once() == 0 and cursor(db) == 0
    with db.write() as s:
        append_changes(s, [change(1, utcnow())])  # young: not searched yet
    with db.write() as s:
        append_changes(s, [change(2, utcnow() - timedelta(minutes=5))])  # settled, but after it
    worker.run_once()
    assert cursor(db) == 0
    RetroWorker(db, RetroConfig(retention=timedelta(days=90), settle_s=0)).run_once()
    assert cursor(db) == 2


def test_with_retention_0_nothing_is_searched_and_the_cursor_follows_the_log(db: Database) -> None:
    worker = RetroWorker(db, RetroConfig(retention=timedelta(0), settle_s=0))
    worker.run_once()
    with db.write() as s:
        append_changes(s, [change(1, utcnow()), change(2, utcnow())])
    assert worker.run_once() == 0 and cursor(db) == 2
