"""The audit log as a tamper-evident log, on SQLite and PostgreSQL: what the offline verifier catches.

The tampering is done the way a hostile operator with database access would: switch off the append-only
triggers and edit ``audit_log`` directly."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from redline.bank import service
from redline.bank.db import Database
from redline.bank.models import AuditEvent
from redline.evidence.log import TransparencyLog, audit_record, latest_checkpoint
from redline.evidence.merkle import MemoryTree, leaf_hash
from redline.evidence.note import SignerKey
from redline.evidence.rows import AUDIT_COLUMNS, canonical_bytes
from redline.evidence.verify import verify_export
from tests.support.bank import guards_off, rewrite_history

ROWS = 12


@pytest.fixture
def log(db: Database) -> TransparencyLog:
    with db.write() as session:
        service.ensure_bank(session, "survivors", "test")
        for i in range(ROWS - 1):
            service.audit(session, "cli", "test.event", f"thing:{i}", n=i, note="naïve 中文")
    return TransparencyLog(db, SignerKey.generate("test.example/log"))


def test_the_row_bytes_cover_every_audit_column() -> None:
    assert tuple(c.name for c in AuditEvent.__table__.columns) == AUDIT_COLUMNS


def test_an_untouched_log_verifies_offline(log: TransparencyLog, tmp_path: Path) -> None:
    checkpoint = log.export_file(tmp_path / "log.jsonl")
    assert checkpoint.size == ROWS
    report = verify_export(tmp_path / "log.jsonl", log.verifier)
    assert report.ok, report.problems
    assert report.rows == ROWS
    # Sequencing is idempotent and publishing again without new rows gives the same checkpoint.
    assert log.sequence(full=True) == 0
    assert log.publish().note == checkpoint.note


def test_the_wrong_key_is_refused(log: TransparencyLog, tmp_path: Path) -> None:
    log.export_file(tmp_path / "log.jsonl")
    other = SignerKey.generate("test.example/log").verifier()
    assert not verify_export(tmp_path / "log.jsonl", other).ok


TAMPERING = {
    "changed": ["UPDATE audit_log SET subject = 'thing:forged' WHERE id = 5"],
    "removed": ["DELETE FROM audit_log WHERE id = 5"],
    "reordered": [
        "UPDATE audit_log SET id = 1000 WHERE id = 5",
        "UPDATE audit_log SET id = 5 WHERE id = 6",
        "UPDATE audit_log SET id = 6 WHERE id = 1000",
    ],
}


@pytest.mark.parametrize("how", sorted(TAMPERING))
def test_changing_removing_or_reordering_a_row_is_detected(
    log: TransparencyLog, db: Database, tmp_path: Path, how: str
) -> None:
    log.publish()
    with guards_off(db), db.engine.begin() as conn:
        for statement in TAMPERING[how]:
            conn.execute(text(statement))
    log.export_file(tmp_path / "log.jsonl")
    report = verify_export(tmp_path / "log.jsonl", log.verifier)
    assert not report.ok
    assert "the log was changed after it was signed" in report.problems[0]
    # The stored leaf hashes still give the signed root, so the verifier names the rows that differ.
    if how == "reordered":
        assert any("audit row 5 differs" in p for p in report.problems)
        assert any("audit row 6 differs" in p for p in report.problems)
    elif how == "removed":
        assert any("leaf 4: its audit row is gone" in p for p in report.problems)
    else:
        assert any("leaf 4: audit row 5 differs" in p for p in report.problems)


def test_rebuilding_the_log_over_a_changed_row_is_caught_by_an_earlier_checkpoint(
    log: TransparencyLog, db: Database, tmp_path: Path
) -> None:
    """The operator changes a row, drops the log tables' contents and signs a fresh tree: the result is
    self-consistent, but anyone holding an older checkpoint sees that history was rewritten."""
    held = log.publish().note
    rewrite_history(db, ["UPDATE audit_log SET subject = 'thing:forged' WHERE id = 3"])
    with db.write() as session:
        service.audit(session, "cli", "test.event", "thing:new")
    log.export_file(tmp_path / "log.jsonl")
    assert verify_export(tmp_path / "log.jsonl", log.verifier).ok  # consistent on its own
    report = verify_export(tmp_path / "log.jsonl", log.verifier, previous=[held])
    assert not report.ok
    assert "the log was rewritten" in report.problems[0]


def test_a_row_that_commits_late_with_a_lower_id_still_gets_a_leaf(
    log: TransparencyLog, db: Database
) -> None:
    with db.write() as session:
        service.audit(session, "cli", "test.event", "thing:a")
    log.sequence()
    with db.write() as session:
        highest = session.query(AuditEvent).order_by(AuditEvent.id.desc()).first()
        assert highest is not None
        session.add(AuditEvent(id=highest.id + 2, actor="cli", action="test.event", subject="b", details={}))
    log.sequence()
    with db.write() as session:
        session.add(AuditEvent(id=highest.id + 1, actor="cli", action="test.event", subject="c", details={}))
    assert log.sequence() == 1
    with db.read() as session:
        checkpoint = latest_checkpoint(session)
    assert checkpoint is None or checkpoint.size < ROWS + 3
    assert log.publish().size == ROWS + 3


def test_sequencing_in_small_batches_builds_the_same_tree(
    log: TransparencyLog, db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import redline.evidence.log as tlog_module

    monkeypatch.setattr(tlog_module, "_BATCH", 5)
    assert log.sequence(full=True) == ROWS
    with db.read() as session:
        rows = session.query(AuditEvent).order_by(AuditEvent.id).all()
        expected = MemoryTree(leaf_hash(canonical_bytes(audit_record(r))) for r in rows).root()
    assert log.publish().root == expected
