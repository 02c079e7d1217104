"""Industry hash sharing: platforms push hashes of intimate-image abuse they verified (from a removal request,
a report their moderators confirmed, a hotline referral) to a hub bank, with provenance.

Why a policy per bank: a hash pushed by one platform is that platform's judgement, and a wrong one blocks
lawful content on every platform the hub feeds. So the hub's operator decides per bank
(:func:`set_policy`) whether a pushed hash goes ``live`` at once, after ``confirmations``: K distinct
partners have pushed the same hash (the first included), or after operator ``approval``. Until then it is
a *shared hash* (``shared_hashes``), kept with its provenance and who vouched for it, and matches nothing;
once live it becomes an ordinary entry (``source = partner``) through :mod:`redline.bank.entries`, so it is
in the change log, the index and every mirror's feed like any other, and ``shared_hashes.entry_id`` keeps
the link back to its provenance. Every step is audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from redline.bank.audit import audit
from redline.bank.banks import get_bank
from redline.bank.entries import add_entries, refuse_if_mirrored
from redline.bank.errors import BankError, Conflict, NotFound
from redline.bank.hashes import HashInput
from redline.bank.models import Bank, Base, BigId, Entry, UtcDateTime, utcnow

MODES = ("live", "confirmations", "approval")
PROVENANCE_KINDS = ("removal_request", "moderator_report", "hotline_referral", "other")
SHARED_STATUSES = ("pending", "live", "refused")


class SharingPolicy(Base):
    __tablename__ = "sharing_policies"

    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"), primary_key=True)
    mode: Mapped[str] = mapped_column(String(16))
    #: For ``confirmations``: distinct partners (the first included) that must push a hash.
    confirmations: Mapped[int] = mapped_column(Integer, default=2)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class SharedHash(Base):
    __tablename__ = "shared_hashes"
    __table_args__ = (UniqueConstraint("bank_id", "signal_type", "value"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"), index=True)
    signal_type: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(Text)
    quality: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    #: The partner that pushed it first, and what it said about where the hash comes from.
    submitted_by: Mapped[str] = mapped_column(String(160))
    provenance: Mapped[dict[str, Any]] = mapped_column(JSON(), default=dict)
    #: Distinct partners that pushed it (the first included), with each one's provenance reference.
    vouched: Mapped[list[dict[str, Any]]] = mapped_column(JSON(), default=list)
    entry_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    decided_by: Mapped[str] = mapped_column(String(128), default="")


@dataclass(frozen=True)
class Policy:
    mode: str
    confirmations: int


@dataclass
class Shared:
    """What happened to each pushed hash."""

    live: int = 0
    pending: int = 0
    already: int = 0
    refused: int = 0
    ids: list[int] | None = None


def policy_of(session: Session, bank: Bank) -> Policy:
    """A bank without a policy takes pushed hashes after operator approval: nothing a single platform
    says goes live on every platform unless the operator chose so."""
    row = session.get(SharingPolicy, bank.id)
    return Policy(row.mode, row.confirmations) if row is not None else Policy("approval", 0)


def set_policy(session: Session, bank_name: str, mode: str, *, confirmations: int = 2, actor: str) -> Policy:
    if mode not in MODES:
        raise BankError(f"mode must be one of {', '.join(MODES)}")
    if mode == "confirmations" and not 2 <= confirmations <= 100:
        raise BankError("confirmations must be between 2 and 100 distinct partners")
    bank = get_bank(session, bank_name)
    refuse_if_mirrored(bank)
    row = session.get(SharingPolicy, bank.id)
    if row is None:
        row = SharingPolicy(bank_id=bank.id, mode=mode, confirmations=confirmations, updated_at=utcnow())
        session.add(row)
    else:
        row.mode, row.confirmations, row.updated_at = mode, confirmations, utcnow()
    audit(session, actor, "sharing.policy", f"bank:{bank_name}", mode=mode, confirmations=confirmations)
    return Policy(mode, confirmations)


def check_provenance(raw: dict[str, Any]) -> dict[str, Any]:
    kind = raw.get("kind")
    if kind not in PROVENANCE_KINDS:
        raise BankError(f"provenance.kind must be one of {', '.join(PROVENANCE_KINDS)}")
    reference = raw.get("reference", "")
    if not isinstance(reference, str) or len(reference) > 128:
        raise BankError(
            "provenance.reference is your own reference (a ticket number), at most 128 characters"
        )
    verified_at = raw.get("verified_at")
    if verified_at is not None and not isinstance(verified_at, str):
        raise BankError("provenance.verified_at is an ISO 8601 time")
    return {"kind": kind, "reference": reference, **({"verified_at": verified_at} if verified_at else {})}


def share(
    session: Session,
    bank_name: str,
    hashes: Sequence[HashInput],
    *,
    provenance: dict[str, Any],
    partner: str,
    actor: str,
) -> Shared:
    """Push ``hashes`` to ``bank_name`` under its policy. A hash already an entry of the bank is counted
    ``already``; one the operator refused stays refused; another partner's push of a pending hash vouches
    for it (one voice per partner)."""
    bank = get_bank(session, bank_name)
    refuse_if_mirrored(bank)
    policy = policy_of(session, bank)
    given = check_provenance(provenance)
    result = Shared(ids=[])
    going_live: list[SharedHash] = []
    now = utcnow()
    for hashed in {(h.signal_type, h.value): h for h in hashes}.values():
        in_bank = session.scalar(
            select(Entry.id).where(
                Entry.bank_id == bank.id, Entry.signal_type == hashed.signal_type, Entry.value == hashed.value
            )
        )
        row = session.scalar(
            select(SharedHash).where(
                SharedHash.bank_id == bank.id,
                SharedHash.signal_type == hashed.signal_type,
                SharedHash.value == hashed.value,
            )
        )
        if row is None and in_bank is not None:
            result.already += 1
            continue
        if row is None:
            row = SharedHash(
                bank_id=bank.id,
                signal_type=hashed.signal_type,
                value=hashed.value,
                quality=hashed.quality,
                status="pending",
                submitted_by=partner,
                provenance=given,
                vouched=[],
                created_at=now,
                decided_by="",
            )
            session.add(row)
        assert result.ids is not None
        if row.status != "pending":
            result.already += row.status == "live"
            result.refused += row.status == "refused"
            if row.id is not None:
                result.ids.append(row.id)
            continue
        if all(v["partner"] != partner for v in row.vouched):
            row.vouched = [
                *row.vouched,
                {"partner": partner, "reference": given["reference"], "kind": given["kind"]},
            ]
        if policy.mode == "live" or (
            policy.mode == "confirmations" and len(row.vouched) >= policy.confirmations
        ):
            going_live.append(row)
        else:
            result.pending += 1
        session.flush()
        result.ids.append(row.id)
    if going_live:
        _go_live(session, bank, going_live, actor=actor, by=f"policy:{policy.mode}")
        result.live = len(going_live)
    audit(
        session,
        actor,
        "sharing.pushed",
        f"bank:{bank_name}",
        partner=partner,
        kind=given["kind"],
        live=result.live,
        pending=result.pending,
        already=result.already,
        refused=result.refused,
    )
    return result


def _go_live(session: Session, bank: Bank, rows: Sequence[SharedHash], *, actor: str, by: str) -> None:
    ids = add_entries(
        session,
        bank.name,
        [HashInput(r.signal_type, r.value, r.quality) for r in rows],
        source="partner",
        origin="shared",
        actor=actor,
    )
    now = utcnow()
    for row, entry_id in zip(rows, ids, strict=True):
        row.status, row.entry_id, row.decided_at, row.decided_by = "live", entry_id, now, by


def get_shared(session: Session, shared_id: int) -> SharedHash:
    row = session.get(SharedHash, shared_id)
    if row is None:
        raise NotFound(f"no shared hash {shared_id}")
    return row


def approve(session: Session, shared_id: int, *, actor: str) -> SharedHash:
    """The operator makes a pending shared hash live."""
    row = get_shared(session, shared_id)
    if row.status != "pending":
        raise Conflict(f"shared hash {shared_id} is {row.status}, not pending")
    bank = session.get_one(Bank, row.bank_id)
    _go_live(session, bank, [row], actor=actor, by=actor)
    audit(
        session,
        actor,
        "sharing.approved",
        f"shared:{shared_id}",
        entry=row.entry_id,
        partners=len(row.vouched),
    )
    return row


def refuse(session: Session, shared_id: int, *, actor: str, reason: str = "") -> SharedHash:
    """The operator turns a pending shared hash down; it stays refused when pushed again."""
    row = get_shared(session, shared_id)
    if row.status != "pending":
        raise Conflict(f"shared hash {shared_id} is {row.status}, not pending")
    row.status, row.decided_at, row.decided_by = "refused", utcnow(), actor
    audit(session, actor, "sharing.refused", f"shared:{shared_id}", reason=reason[:500])
    return row


def listed(session: Session, bank_name: str, status: str = "pending", limit: int = 200) -> list[SharedHash]:
    if status not in SHARED_STATUSES:
        raise BankError(f"status must be one of {', '.join(SHARED_STATUSES)}")
    bank = get_bank(session, bank_name)
    return list(
        session.scalars(
            select(SharedHash)
            .where(SharedHash.bank_id == bank.id, SharedHash.status == status)
            .order_by(SharedHash.id)
            .limit(limit)
        )
    )
