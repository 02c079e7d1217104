"""Which banks a ``submit`` key may add hashes to.

A partner (an NGO, a hotline) verifies hashes for its own bank; without grants any ``submit`` key could
write into every bank, the survivors' bank included, where a partner's hashes would sit among survivors'
cases with none of a case's consent or withdrawal. So each key is granted banks one by one (``redline keys
grant``, or ``banks`` when the key is made through the API), every grant is audited, and the survivors'
bank can never be granted: only survivors' own submissions go there.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from redline.bank.audit import audit
from redline.bank.banks import get_bank
from redline.bank.errors import BankError, NotFound
from redline.bank.models import ApiKey, Bank, Base, UtcDateTime, utcnow


class BankGrant(Base):
    __tablename__ = "bank_grants"
    __table_args__ = (UniqueConstraint("key_id", "bank_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_id: Mapped[str] = mapped_column(String(24), ForeignKey("api_keys.id"), index=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class GrantRefused(BankError):
    """A grant the policy never allows (an operator's request, so 400 rather than 403)."""


def grant(session: Session, key_id: str, bank_name: str, *, actor: str, survivor_bank: str) -> None:
    """Let key ``key_id`` add hashes to ``bank_name`` (idempotent)."""
    if bank_name == survivor_bank:
        raise GrantRefused("the survivors' bank takes survivors' own submissions only; it cannot be granted")
    key = session.get(ApiKey, key_id)
    if key is None or key.revoked_at is not None:
        raise NotFound(f"no active key {key_id!r}")
    if "submit" not in key.scopes:
        raise BankError("only keys with the submit scope are granted banks")
    bank = get_bank(session, bank_name)
    if bank.mirror is not None:
        raise GrantRefused(f"bank {bank_name!r} is a read-only mirror; partners submit to its hub")
    exists = session.scalar(
        select(BankGrant.id).where(BankGrant.key_id == key_id, BankGrant.bank_id == bank.id)
    )
    if exists is None:
        session.add(BankGrant(key_id=key_id, bank_id=bank.id, created_at=utcnow()))
        audit(session, actor, "key.granted", f"key:{key_id}", bank=bank_name)


def revoke(session: Session, key_id: str, bank_name: str, *, actor: str) -> None:
    bank = get_bank(session, bank_name)
    grant_id = session.scalar(
        select(BankGrant.id).where(BankGrant.key_id == key_id, BankGrant.bank_id == bank.id)
    )
    if grant_id is not None:
        session.execute(delete(BankGrant).where(BankGrant.id == grant_id))
        audit(session, actor, "key.grant_revoked", f"key:{key_id}", bank=bank_name)


def granted_banks(session: Session, key_id: str) -> list[str]:
    return list(
        session.scalars(
            select(Bank.name).join(BankGrant, BankGrant.bank_id == Bank.id).where(BankGrant.key_id == key_id)
        )
    )


def may_submit(session: Session, key_id: str, bank_name: str, survivor_bank: str) -> bool:
    if bank_name == survivor_bank:
        return False
    return bank_name in granted_banks(session, key_id)
