"""The first two flagged cases at once (two server processes, PostgreSQL) make one flagged bank with one
rule, and neither request fails: the one that finds the bank made meanwhile takes it."""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import func, select

from redline.actions.models import ActionRule
from redline.bank.models import AuditEvent, Bank
from redline.intake.cases import ensure_flagged_bank


def test_two_first_flagged_cases_at_once_make_one_bank_and_one_rule(db: Any) -> None:
    made: dict[str, int] = {}
    errors: list[BaseException] = []
    first_inserted = threading.Event()

    def first() -> None:
        try:
            with db.write() as session:
                made["first"] = ensure_flagged_bank(session, "flagged", "review").id
                first_inserted.set()
                time.sleep(1.0)  # the second request finds no committed bank and inserts meanwhile
        except BaseException as exc:
            errors.append(exc)
            first_inserted.set()

    def second() -> None:
        first_inserted.wait(10)
        try:
            with db.write() as session:
                made["second"] = ensure_flagged_bank(session, "flagged", "review").id
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert made["first"] == made["second"]
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Bank).where(Bank.name == "flagged")) == 1
        assert session.scalar(select(func.count()).select_from(ActionRule)) == 1
        created = session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "bank.created")
        )
        assert created == 1  # the loser's audit row went with its savepoint
