"""One owner of entry status (``redline.bank.status.change_status``): the change-log rows, the audit row and
the ``entry.*`` event are written in the caller's transaction, always in the documented shape
(docs/MODERATION.md, Webhooks: ``entry_ids``), whoever changes the status."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlalchemy import func, select

from redline import events
from redline.actions import outbox
from redline.actions.models import WebhookEvent
from redline.actions.urlpolicy import UrlPolicy
from redline.bank import service
from redline.bank.db import Database
from redline.bank.models import AuditEvent, Case, Change, Entry
from redline.bank.secrets import ContactCipher
from redline.bank.status import change_status
from tests.support import ATTESTATION

SRC = Path(__file__).resolve().parents[2] / "src" / "redline"


def setup(db: Database, cipher: ContactCipher) -> list[int]:
    with db.write() as s:
        policy = UrlPolicy(allow_loopback=True)
        outbox.register_endpoint(s, url="http://127.0.0.1:9/h", policy=policy, actor="t")
        new = service.submit_case(
            s,
            bank_name="survivors",
            hashes=[service.normalize_hash("md5", "a" * 32), service.normalize_hash("md5", "b" * 32)],
            attestation=ATTESTATION,
            cipher=cipher,
        )
    return new.entry_ids


def counts(db: Database) -> tuple[int, int, int]:
    with db.read() as s:
        return (
            int(s.scalar(select(func.count()).select_from(Change)) or 0),
            int(s.scalar(select(func.count()).select_from(AuditEvent)) or 0),
            int(s.scalar(select(func.count()).select_from(WebhookEvent)) or 0),
        )


def entry_events(db: Database) -> list[dict[str, object]]:
    with db.read() as s:
        query = select(WebhookEvent).where(WebhookEvent.type.like("entry.%"))
        rows = s.scalars(query.order_by(WebhookEvent.created_at, WebhookEvent.type))
        return [{"type": r.type, **r.payload["data"]} for r in rows]


def test_a_status_change_writes_log_audit_and_event_in_the_callers_transaction(
    db: Database, cipher: ContactCipher
) -> None:
    ids = setup(db, cipher)
    before = counts(db)
    with pytest.raises(RuntimeError), db.write() as s:
        change_status(s, list(s.scalars(select(Entry))), "quarantined", actor="operator", reason="x")
        raise RuntimeError("the caller's transaction fails")
    assert counts(db) == before  # nothing of it is left: no change row, audit row or event
    with db.read() as s:
        assert set(s.scalars(select(Entry.status))) == {"active"}

    with db.write() as s:
        everything = list(s.scalars(select(Entry).order_by(Entry.id)))
        changed = change_status(
            s, everything, "quarantined", actor="operator", reason="audit", subject=f"entry:{ids[0]}"
        )
        assert [e.id for e in changed] == ids
        assert change_status(s, changed, "quarantined", actor="operator") == []  # no change, nothing written
    assert counts(db) == (before[0] + 2, before[1] + 1, before[2] + 1)
    with db.read() as s:
        row = s.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).one()
        assert (row.actor, row.action, row.subject) == ("operator", "entry.quarantined", f"entry:{ids[0]}")
        assert row.details["entry_ids"] == ids and row.details["previous"] == "active"
        assert [c.value for c in s.scalars(select(Change))] == [None] * 4  # tombstones: hashes scrubbed
    assert entry_events(db) == [
        {"type": "entry.quarantined", "entry_ids": ids, "status": "quarantined", "reason": "audit"}
    ]


def test_every_entry_event_lists_entry_ids(db: Database, cipher: ContactCipher) -> None:
    """Operator, survivor and review paths all go through the one owner: one shape for receivers."""
    first, second = setup(db, cipher)
    with db.write() as s:
        service.set_entry_status(s, first, "quarantined", actor="operator", reason="audit")
        service.set_entry_status(s, first, "quarantined", actor="operator", reason="again")  # no change
    with db.write() as s:
        case = s.scalars(select(Case)).one()
        assert service.withdraw_case(s, case) == 2
        assert service.withdraw_case(s, case) == 0  # repeating is harmless: no second event
    assert entry_events(db) == [
        {"type": "entry.quarantined", "entry_ids": [first], "status": "quarantined", "reason": "audit"},
        {"type": "entry.withdrawn", "entry_ids": [first, second], "status": "withdrawn", "reason": ""},
    ]
    with db.read() as s:
        actions = list(s.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions[-2:] == ["entry.quarantined", "case.withdrawn"]
    with db.write() as s, pytest.raises(ValueError, match="entry_ids"):
        events.emit(s, "entry.quarantined", {"entry_id": first})  # the old, undocumented shape is refused


def _imports(folder: str, skip: str = "") -> set[str]:
    found: set[str] = set()
    for path in (SRC / folder).glob("*.py"):
        if path.name == skip:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
    return found


def test_events_sit_below_bank_and_review() -> None:
    """The bank announces its changes without importing review or the webhook machinery, and review
    announces its decisions without importing the bank's routes or the actions package."""
    allowed_actions = {"redline.actions.models"}  # the outbox tables
    for folder, forbidden in (
        ("events", ("redline.bank.service", "redline.review", "redline.api", "redline.web", "redline.match")),
        ("bank", ("redline.review", "redline.api", "redline.web", "redline.match", "redline.actions")),
        ("review", ("redline.api", "redline.web", "redline.match", "redline.actions")),
    ):
        bad = {m for m in _imports(folder) if m.startswith(forbidden) and m not in allowed_actions}
        assert not bad, f"redline.{folder} imports {sorted(bad)}"
    # The bank's modules use each other directly; ``service`` only names them for callers outside.
    assert "redline.bank.service" not in _imports("bank", skip="service.py")
