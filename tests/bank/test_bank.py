"""The bank's domain operations, on SQLite and PostgreSQL (``database_url`` is parametrised)."""

from __future__ import annotations

import secrets

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

import redline.actions.models
import redline.evidence.models
import redline.interop.models
import redline.removal.models
import redline.retro.models
import redline.review.models  # noqa: F401 - their tables are in the migrations too (m001)
from redline.bank import service
from redline.bank.db import Database
from redline.bank.importing import parse_hashes
from redline.bank.models import AuditEvent, Base, Case, Change, Entry
from redline.bank.secrets import ContactCipher
from tests.support import ATTESTATION

PDQ = "f" * 64


def pdq(seed: int) -> str:
    return secrets.token_hex(32) if seed < 0 else f"{seed:064x}"


def _submit(
    db: Database, cipher: ContactCipher, hashes: list[service.HashInput], **kw: object
) -> service.NewCase:
    with db.write() as s:
        return service.submit_case(
            s,
            bank_name="survivors",
            hashes=hashes,
            attestation=ATTESTATION,
            cipher=cipher,
            **kw,  # type: ignore[arg-type]
        )


def test_migrations_match_models(db: Database) -> None:
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_case_lifecycle_is_logged_and_audited(db: Database, cipher: ContactCipher) -> None:
    hashes = [service.normalize_hash("pdq", PDQ.upper(), 90), service.normalize_hash("md5", "a" * 32)]
    new = _submit(db, cipher, hashes, contact="me@example.org")
    assert len(new.entry_ids) == 2
    with db.read() as s:
        case = s.get(Case, new.case_id)
        assert case is not None and case.secret_hash != new.secret and new.secret not in case.secret_hash
        assert case.contact_encrypted is not None and b"example" not in case.contact_encrypted
        assert cipher.decrypt(case.contact_encrypted, case.id) == "me@example.org"
        assert s.scalar(select(Entry.value).where(Entry.id == new.entry_ids[0])) == PDQ  # normalised
        assert [c.status for c in s.scalars(select(Change).order_by(Change.seq))] == ["active", "active"]

    with db.write() as s:
        case = service.authenticate_case(s, new.case_id, new.secret)
        assert service.withdraw_case(s, case) == 2
    with db.write() as s:  # repeating a withdrawal changes nothing
        assert service.withdraw_case(s, service.authenticate_case(s, new.case_id, new.secret)) == 0

    with db.read() as s:
        status = service.case_status(s, service.authenticate_case(s, new.case_id, new.secret))
        assert status.status == "withdrawn"
        assert [h.status for h in status.hashes] == ["withdrawn", "withdrawn"]
        changes = s.scalars(select(Change).order_by(Change.seq)).all()
        assert [c.status for c in changes] == ["active", "active", "withdrawn", "withdrawn"]
        assert all(c.value is None for c in changes), "the log must not keep hashes of withdrawn entries"
        actions = s.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
        assert actions == ["bank.created", "case.created", "case.withdrawn"]


def test_wrong_secret_and_unknown_case_look_alike(db: Database, cipher: ContactCipher) -> None:
    new = _submit(db, cipher, [service.normalize_hash("sha256", "b" * 64)])
    with db.read() as s:
        with pytest.raises(service.WrongSecret) as wrong:
            service.authenticate_case(s, new.case_id, new.secret + "x")
        with pytest.raises(service.WrongSecret) as unknown:
            service.authenticate_case(s, "RL-AAAA-AAAA-AAAA-AAAA", new.secret)
    assert str(wrong.value) == str(unknown.value)


@pytest.mark.parametrize(
    ("kind", "value", "quality"),
    [
        ("pdq", "0" * 63, None),
        ("pdq", "g" * 64, None),
        ("md5", "a" * 32, 50),
        ("vpdq", "a", None),
        ("pdq", PDQ, 101),
    ],
)
def test_bad_hashes_are_refused(kind: str, value: str, quality: int | None) -> None:
    with pytest.raises(service.Invalid):
        service.normalize_hash(kind, value, quality)


def test_audit_log_is_append_only(db: Database) -> None:
    with db.write() as s:
        service.create_bank(s, name="partners", actor="cli", thresholds={"pdq": 20})
    for statement in ("UPDATE audit_log SET actor = 'someone'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), db.write() as s:
            s.execute(text(statement))
    with db.read() as s:
        assert s.scalar(select(AuditEvent.actor)) == "cli"


def test_banks_thresholds_are_validated(db: Database) -> None:
    with db.write() as s:
        service.create_bank(s, name="b", actor="cli")
        with pytest.raises(service.Conflict):
            service.create_bank(s, name="b", actor="cli")
        for bad in ({"pdq": 97}, {"md5": 1}, {"nope": 1}):
            with pytest.raises(service.BankError):
                service.update_bank(s, "b", actor="cli", thresholds=bad)
        bank = service.update_bank(s, "b", actor="cli", thresholds={"pdq": 40}, enabled=False)
        assert bank.thresholds == {"pdq": 40} and not bank.enabled
    with db.read() as s:
        assert s.scalar(select(func.count()).where(AuditEvent.action == "bank.changed")) == 1


def test_import_and_quarantine(db: Database) -> None:
    text_csv = f"type,value,quality\npdq,{PDQ},80\nmd5,{'c' * 32},\n"
    hashes = parse_hashes(text_csv, "csv")
    with db.write() as s:
        service.create_bank(s, name="ngo", actor="cli")
        ids = service.add_entries(s, "ngo", hashes, source="import", origin="import:list.csv", actor="cli")
    with db.write() as s:
        service.set_entry_status(s, ids[0], "quarantined", actor="cli", reason="benign image")
        with pytest.raises(service.BankError):
            service.set_entry_status(s, ids[1], "withdrawn", actor="cli")
    with db.write() as s:
        service.set_entry_status(s, ids[0], "active", actor="cli")
    with db.read() as s:
        rows = [
            (c.entry_id, c.status, c.value is not None)
            for c in s.scalars(select(Change).order_by(Change.seq))
        ]
        assert rows == [
            (ids[0], "active", False),
            (ids[1], "active", True),
            (ids[0], "quarantined", False),
            (ids[0], "active", True),
        ]
        feed = service.feed_page(s, 0, 10)
        assert [c.seq for c, _ in feed] == [2, 3, 4]  # the scrubbed "added" row is left out of the feed
        actions = s.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
        assert actions == ["bank.created", "import", "entry.quarantined", "entry.active"]


def test_import_reports_every_bad_line() -> None:
    with pytest.raises(service.BankError, match=r"line 2: .*line 4: not JSON"):
        parse_hashes(
            f'{{"type": "pdq", "value": "{PDQ}"}}\n{{"type": "pdq", "value": "zz"}}\n\nnope\n', "jsonl"
        )
    with pytest.raises(service.BankError, match="header"):
        parse_hashes("a,b\n1,2\n", "csv")
    # The csv module's own errors (here its field-size limit) are the sender's fault, not a server error.
    with pytest.raises(service.BankError, match="malformed CSV"):
        parse_hashes('type,value\npdq,"' + "a" * 200_000 + '"\n', "csv")


def test_api_keys(db: Database) -> None:
    with db.write() as s:
        key, token = service.create_api_key(
            s, name="platform", scopes=["match", "feed"], actor="cli", partner="P"
        )
        key_id = key.id
    with db.read() as s:
        stored = service.authenticate_key(s, token)
        assert stored is not None and stored.scopes == ["feed", "match"]
        assert token.split("_", 2)[2] not in stored.secret_hash  # the secret part (it may contain "_")
        assert service.authenticate_key(s, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
        assert service.authenticate_key(s, "garbage") is None
    with db.write() as s:
        service.revoke_api_key(s, key_id, actor="cli")
    with db.read() as s:
        assert service.authenticate_key(s, token) is None
        assert s.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all() == [
            "partner.created",
            "key.created",
            "key.revoked",
        ]
    with db.write() as s, pytest.raises(service.BankError):
        service.create_api_key(s, name="x", scopes=["root"], actor="cli")
