"""What can be done to the bank: every state change goes through here, writes its audit row and its change-log
rows in the caller's transaction, and raises a :class:`BankError` subclass for the caller to report.

Functions take an open write session (``Database.write()``) so that a request's changes commit or fail as one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.orm import Session

from redline.bank.db import lock_change_log
from redline.bank.models import (
    ENTRY_STATUSES,
    SCOPES,
    ApiKey,
    AuditEvent,
    Bank,
    Case,
    Change,
    Entry,
    MatchEvent,
    Partner,
    utcnow,
)
from redline.bank.secrets import (
    ContactCipher,
    api_key_matches,
    hash_case_secret,
    new_api_key,
    new_case_id,
    new_case_secret,
    split_api_key,
    verify_case_secret,
)
from redline.signals.types import SIGNAL_TYPES, signal_type

#: Version of the attestation wording survivors are shown; recorded with every case.
ATTESTATION_TEXT_VERSION = "2025-1"
ATTESTATION_TEXT = (
    "I confirm that the images these hashes come from show me (or the person I am helping, with their "
    "consent), that the person shown was an adult, and that the images were shared or made without consent."
)
_INSERT_CHUNK = 5_000


class BankError(Exception):
    """A refused operation. ``code`` is stable and becomes the problem type in the API."""

    code = "invalid-request"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(BankError):
    code = "not-found"


class Conflict(BankError):
    code = "conflict"


class Invalid(BankError):
    code = "invalid-hash"


class WrongSecret(BankError):
    code = "wrong-case-secret"


@dataclass(frozen=True)
class HashInput:
    """A validated, normalised hash."""

    signal_type: str
    value: str
    quality: int | None = None
    #: The picture or video of the submission it came from (see ``Entry.item``), if the submitter said.
    item: int | None = None


def normalize_hash(
    type_name: str, value: str, quality: int | None = None, item: int | None = None
) -> HashInput:
    """Validate one hash; :class:`Invalid` says what is wrong."""
    try:
        kind = signal_type(type_name)
        canonical = kind.normalize(value)
    except (KeyError, ValueError) as exc:
        raise Invalid(str(exc).strip("'\"")) from None
    if quality is not None and not (kind.has_quality and 0 <= quality <= 100):
        raise Invalid(f"quality is only for perceptual hashes, 0 to 100 (got {quality} for {kind.name})")
    return HashInput(kind.name, canonical, quality, item)


def audit(session: Session, actor: str, action: str, subject: str, **details: Any) -> None:
    session.add(AuditEvent(actor=actor, action=action, subject=subject, details=details))


# --- banks -------------------------------------------------------------------------------------------------


def validate_thresholds(thresholds: dict[str, int]) -> dict[str, int]:
    for name, value in thresholds.items():
        kind = SIGNAL_TYPES.get(name)
        if kind is None:
            raise BankError(f"unknown signal type {name!r}")
        if not 0 <= value <= kind.max_threshold:
            raise BankError(f"{name} threshold must be between 0 and {kind.max_threshold}")
    return dict(thresholds)


def threshold_for(bank_thresholds: dict[str, Any], type_name: str) -> int:
    value = bank_thresholds.get(type_name)
    return int(value) if value is not None else signal_type(type_name).default_threshold


def get_bank(session: Session, name: str) -> Bank:
    bank = session.scalar(select(Bank).where(Bank.name == name))
    if bank is None:
        raise NotFound(f"no bank named {name!r}")
    return bank


def list_banks(session: Session) -> Sequence[Bank]:
    return session.scalars(select(Bank).order_by(Bank.name)).all()


def create_bank(
    session: Session,
    *,
    name: str,
    actor: str,
    description: str = "",
    thresholds: dict[str, int] | None = None,
    default_action: str = "review",
) -> Bank:
    if session.scalar(select(Bank.id).where(Bank.name == name)) is not None:
        raise Conflict(f"a bank named {name!r} exists")
    bank = Bank(
        name=name,
        description=description,
        thresholds=validate_thresholds(thresholds or {}),
        default_action=default_action,
        enabled=True,
        created_at=utcnow(),
    )
    session.add(bank)
    session.flush()
    details = {"thresholds": bank.thresholds, "default_action": default_action}
    audit(session, actor, "bank.created", f"bank:{name}", **details)
    return bank


def ensure_bank(session: Session, name: str, actor: str) -> Bank:
    """The bank called ``name``, created (and audited) if missing."""
    bank = session.scalar(select(Bank).where(Bank.name == name))
    return bank if bank is not None else create_bank(session, name=name, actor=actor)


def update_bank(
    session: Session,
    name: str,
    *,
    actor: str,
    description: str | None = None,
    thresholds: dict[str, int] | None = None,
    default_action: str | None = None,
    enabled: bool | None = None,
) -> Bank:
    bank = get_bank(session, name)
    changed: dict[str, Any] = {}
    if description is not None and description != bank.description:
        bank.description = changed["description"] = description
    if thresholds is not None:
        merged = {**bank.thresholds, **validate_thresholds(thresholds)}
        if merged != bank.thresholds:
            bank.thresholds = changed["thresholds"] = merged
    if default_action is not None and default_action != bank.default_action:
        bank.default_action = changed["default_action"] = default_action
    if enabled is not None and enabled != bank.enabled:
        bank.enabled = changed["enabled"] = enabled
    if changed:
        audit(session, actor, "bank.changed", f"bank:{name}", **changed)
    return bank


# --- entries -----------------------------------------------------------------------------------------------


def _add_entries(
    session: Session,
    bank: Bank,
    hashes: Sequence[HashInput],
    *,
    source: str,
    origin: str = "",
    case_id: str | None = None,
    tags: Sequence[str] = (),
) -> list[int]:
    lock_change_log(session)
    now = utcnow()
    ids: list[int] = []
    for start in range(0, len(hashes), _INSERT_CHUNK):
        chunk = hashes[start : start + _INSERT_CHUNK]
        rows = [
            {
                "bank_id": bank.id,
                "case_id": case_id,
                "item": h.item,
                "signal_type": h.signal_type,
                "value": h.value,
                "quality": h.quality,
                "source": source,
                "origin": origin,
                "tags": list(tags),
                "status": "active",
                "created_at": now,
                "updated_at": now,
            }
            for h in chunk
        ]
        chunk_ids = list(
            session.scalars(insert(Entry).returning(Entry.id, sort_by_parameter_order=True), rows)
        )
        session.execute(
            insert(Change),
            [
                {
                    "entry_id": entry_id,
                    "bank_id": bank.id,
                    "signal_type": h.signal_type,
                    "value": h.value,
                    "quality": h.quality,
                    "tags": list(tags),
                    "status": "active",
                    "at": now,
                }
                for entry_id, h in zip(chunk_ids, chunk, strict=True)
            ],
        )
        ids.extend(chunk_ids)
    return ids


def _set_status(session: Session, entries: Sequence[Entry], status: str) -> None:
    """Move ``entries`` to ``status`` and log the change; leaving ``active`` scrubs the hash from the log."""
    if status not in ENTRY_STATUSES:
        raise BankError(f"status must be one of {', '.join(ENTRY_STATUSES)}")
    entries = [e for e in entries if e.status != status]
    if not entries:
        return
    lock_change_log(session)
    now = utcnow()
    ids = [e.id for e in entries]
    for start in range(0, len(ids), _INSERT_CHUNK):
        chunk = ids[start : start + _INSERT_CHUNK]
        session.execute(update(Entry).where(Entry.id.in_(chunk)).values(status=status, updated_at=now))
        if status != "active":
            # A tombstone: the feed and the change log stop carrying the hash of an entry that left the bank.
            session.execute(update(Change).where(Change.entry_id.in_(chunk)).values(value=None))
    session.execute(
        insert(Change),
        [
            {
                "entry_id": e.id,
                "bank_id": e.bank_id,
                "signal_type": e.signal_type,
                "value": e.value if status == "active" else None,
                "quality": e.quality,
                "tags": e.tags,
                "status": status,
                "at": now,
            }
            for e in entries
        ],
    )
    for e in entries:
        e.status = status
        e.updated_at = now


def get_entry(session: Session, entry_id: int) -> Entry:
    entry = session.get(Entry, entry_id)
    if entry is None:
        raise NotFound(f"no entry {entry_id}")
    return entry


def set_entry_status(session: Session, entry_id: int, status: str, *, actor: str, reason: str = "") -> Entry:
    """Operator action on one entry (quarantine, release, expire). A survivor's withdrawal is final."""
    entry = get_entry(session, entry_id)
    if entry.status == "withdrawn":
        raise Conflict("a withdrawn entry stays withdrawn")
    if status == "withdrawn":
        raise BankError("only the survivor withdraws; operators quarantine or expire")
    previous = entry.status
    _set_status(session, [entry], status)
    if previous != status:
        audit(session, actor, f"entry.{status}", f"entry:{entry_id}", previous=previous, reason=reason)
    return entry


def add_entries(
    session: Session,
    bank_name: str,
    hashes: Sequence[HashInput],
    *,
    source: str,
    origin: str,
    actor: str,
    tags: Sequence[str] = (),
) -> list[int]:
    """Partner submissions (``source="partner"``) and operator imports (``source="import"``)."""
    bank = get_bank(session, bank_name)
    ids = _add_entries(session, bank, hashes, source=source, origin=origin, tags=tags)
    action = "import" if source == "import" else "entries.added"
    audit(session, actor, action, f"bank:{bank_name}", count=len(ids), source=source, origin=origin)
    return ids


# --- survivor cases ----------------------------------------------------------------------------------------


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
    ids = _add_entries(session, bank, hashes, source="case", case_id=case_id, tags=tags)
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


def withdraw_case(session: Session, case: Case) -> int:
    """Withdraw every hash of the case (final). Returns how many entries changed; repeating is harmless."""
    entries = session.scalars(
        select(Entry).where(Entry.case_id == case.id, Entry.status != "withdrawn").with_for_update()
    ).all()
    _set_status(session, entries, "withdrawn")
    if case.status != "withdrawn":
        case.status = "withdrawn"
        case.withdrawn_at = utcnow()
        audit(session, f"case:{case.id}", "case.withdrawn", f"case:{case.id}", entries=len(entries))
    return len(entries)


# --- API keys ----------------------------------------------------------------------------------------------


def create_api_key(
    session: Session, *, name: str, scopes: Iterable[str], actor: str, partner: str | None = None
) -> tuple[ApiKey, str]:
    """A new key and its token (shown once)."""
    scopes = sorted(set(scopes))
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise BankError(f"scopes must be among {', '.join(SCOPES)}")
    partner_id = None
    if partner:
        row = session.scalar(select(Partner).where(Partner.name == partner))
        if row is None:
            row = Partner(name=partner, created_at=utcnow())
            session.add(row)
            session.flush()
            audit(session, actor, "partner.created", f"partner:{partner}")
        partner_id = row.id
    fresh = new_api_key()
    key = ApiKey(
        id=fresh.key_id,
        name=name,
        partner_id=partner_id,
        secret_hash=fresh.secret_hash,
        scopes=scopes,
        created_at=utcnow(),
    )
    session.add(key)
    audit(session, actor, "key.created", f"key:{key.id}", name=name, scopes=scopes, partner=partner)
    return key, fresh.token


def revoke_api_key(session: Session, key_id: str, *, actor: str) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"no API key {key_id!r}")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        audit(session, actor, "key.revoked", f"key:{key_id}", name=key.name)
    return key


def list_api_keys(session: Session) -> Sequence[ApiKey]:
    return session.scalars(select(ApiKey).order_by(ApiKey.created_at)).all()


def authenticate_key(session: Session, token: str) -> ApiKey | None:
    """The live key for ``token``, or None. The key itself is never logged or stored."""
    parts = split_api_key(token)
    if parts is None:
        return None
    key = session.get(ApiKey, parts[0]) if len(parts[0]) <= 24 else None
    if key is None or key.revoked_at is not None or not api_key_matches(key.secret_hash, parts[1]):
        return None
    return key


# --- match events, feed, audit -----------------------------------------------------------------------------


def record_matches(session: Session, api_key_id: str, hits: Sequence[tuple[int, int, str]]) -> None:
    """``hits``: (entry id, distance, action) of each match returned to a platform."""
    if hits:
        now = utcnow()
        session.execute(
            insert(MatchEvent),
            [
                {"entry_id": e, "api_key_id": api_key_id, "distance": d, "action": a, "at": now}
                for e, d, a in hits
            ],
        )


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
