"""Survivor cases: submitted hashes, the case secret, what the survivor sees, and withdrawal."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from redline.bank.audit import audit
from redline.bank.banks import ensure_bank
from redline.bank.entries import insert_entries, refuse_if_mirrored
from redline.bank.errors import Invalid, WrongSecret
from redline.bank.hashes import HashInput
from redline.bank.models import Case, Entry, MatchEvent, utcnow
from redline.bank.secrets import (
    ContactCipher,
    hash_case_secret,
    new_case_id,
    new_case_secret,
    verify_case_secret,
)
from redline.bank.status import change_status

#: Version of the attestation wording survivors are shown; recorded with every case.
ATTESTATION_TEXT_VERSION = "2025-1"
ATTESTATION_TEXT = (
    "I confirm that the images these hashes come from show me (or the person I am helping, with their "
    "consent), that the person shown was an adult, and that the images were shared or made without consent."
)


@dataclass(frozen=True)
class NewCase:
    case_id: str
    secret: str
    entry_ids: list[int]


def submit_case(
    session: Session,
    *,
    bank_name: str,
    hashes: Sequence[HashInput],
    attestation: dict[str, Any],
    cipher: ContactCipher,
    contact: str | None = None,
    tags: Sequence[str] = (),
) -> NewCase:
    if not hashes:
        raise Invalid("a case needs at least one hash")
    bank = ensure_bank(session, bank_name, "system")
    refuse_if_mirrored(bank)
    case_id, secret = new_case_id(), new_case_secret()
    case = Case(
        id=case_id,
        bank_id=bank.id,
        secret_hash=hash_case_secret(secret),
        attestation={
            **attestation,
            "text_version": attestation.get("text_version", ATTESTATION_TEXT_VERSION),
        },
        contact_encrypted=cipher.encrypt(contact, case_id) if contact else None,
        status="active",
        created_at=utcnow(),
    )
    session.add(case)
    session.flush()
    ids = insert_entries(session, bank, hashes, source="case", case_id=case_id, tags=tags)
    audit(session, f"case:{case_id}", "case.created", f"case:{case_id}", entries=len(ids), bank=bank_name)
    return NewCase(case_id, secret, ids)


def authenticate_case(session: Session, case_id: str, secret: str) -> Case:
    """The case, if ``secret`` is its secret. Unknown case and wrong secret look the same to the caller."""
    case = session.get(Case, case_id) if len(case_id) <= 32 else None
    if not verify_case_secret(case.secret_hash if case else None, secret) or case is None:
        raise WrongSecret("unknown case or wrong case secret")
    return case


@dataclass(frozen=True)
class CaseHashStatus:
    position: int
    signal_type: str
    status: str
    matches: int


@dataclass(frozen=True)
class CaseStatus:
    case_id: str
    status: str
    created_at: datetime
    withdrawn_at: datetime | None
    hashes: list[CaseHashStatus]
    actions: dict[str, int] = field(default_factory=dict)

    @property
    def matches(self) -> int:
        return sum(h.matches for h in self.hashes)


def case_status(session: Session, case: Case) -> CaseStatus:
    rows = session.execute(
        select(Entry.id, Entry.signal_type, Entry.status, func.count(MatchEvent.id))
        .outerjoin(MatchEvent, MatchEvent.entry_id == Entry.id)
        .where(Entry.case_id == case.id)
        .group_by(Entry.id, Entry.signal_type, Entry.status)
        .order_by(Entry.id)
    ).all()
    actions = session.execute(
        select(MatchEvent.action, func.count())
        .join(Entry, Entry.id == MatchEvent.entry_id)
        .where(Entry.case_id == case.id)
        .group_by(MatchEvent.action)
    ).all()
    return CaseStatus(
        case_id=case.id,
        status=case.status,
        created_at=case.created_at,
        withdrawn_at=case.withdrawn_at,
        hashes=[CaseHashStatus(i, t, s, int(n)) for i, (_, t, s, n) in enumerate(rows)],
        actions={a: int(n) for a, n in actions},
    )


def withdraw_case(session: Session, case: Case, *, actor: str | None = None, reason: str = "") -> int:
    """Withdraw every hash of the case (final), with its ``case.withdrawn`` audit row and its
    ``entry.withdrawn`` event. Returns how many entries changed; repeating is harmless. ``actor`` is the
    case itself (its secret) unless a third-party case is withdrawn before its claim
    (``redline.intake.cases``: the flagger's key, or the operator on the person's request)."""
    entries = session.scalars(
        select(Entry).where(Entry.case_id == case.id, Entry.status != "withdrawn").with_for_update()
    ).all()
    subject = f"case:{case.id}"
    changed = change_status(
        session, entries, "withdrawn", actor=actor or subject, subject=subject, reason=reason
    )
    if case.status != "withdrawn":
        case.status = "withdrawn"
        case.withdrawn_at = utcnow()
    return len(changed)


def record_matches(session: Session, api_key_id: str, hits: Sequence[tuple[int, int, str]]) -> None:
    """``hits``: (entry id, distance, action) of each match returned to a platform; counted on the
    survivor's case page (``match_events``)."""
    if hits:
        now = utcnow()
        session.execute(
            insert(MatchEvent),
            [
                {"entry_id": e, "api_key_id": api_key_id, "distance": d, "action": a, "at": now}
                for e, d, a in hits
            ],
        )
