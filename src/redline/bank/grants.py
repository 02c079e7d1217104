"""Which banks a key may add hashes to (``submit``) and which it may read in a feed (``feed``).

A partner (an NGO, a hotline) verifies hashes for its own bank; without grants any ``submit`` key could
write into every bank, the survivors' bank included, where a partner's hashes would sit among survivors'
cases with none of a case's consent or withdrawal. So each key is granted banks one by one (``redline keys
grant``, or ``banks`` when the key is made through the API), every grant is audited, and the survivors'
bank can never be granted: only survivors' own submissions go there.

Reading is scoped the same way. Hashes are sensitive (PDQ can be partly inverted), and a hub holds banks
with different owners and rules: the survivors' bank, a hotline's verified bank, a platform's own. A
``feed`` key reads exactly the banks it is granted for ``feed`` — in ``/v1/feed``, the signed mirror feed
and StopNCII's ``FetchHashes`` alike — and a key granted none reads nothing (a clear 403, not an empty
feed). Keys made before feed grants existed were granted every bank there was then (m014_feed_grants), so
nothing that worked stopped; their operator can narrow them with ``redline keys ungrant --feed-bank``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from redline.bank.audit import audit
from redline.bank.banks import get_bank
from redline.bank.errors import BankError, NotFound
from redline.bank.models import ApiKey, Bank, Base, UtcDateTime, utcnow

#: What a grant lets its key do with the bank: add hashes to it, or read it in a feed.
Purpose = Literal["submit", "feed"]
PURPOSES: tuple[Purpose, ...] = ("submit", "feed")


class BankGrant(Base):
    __tablename__ = "bank_grants"
    __table_args__ = (UniqueConstraint("key_id", "bank_id", "purpose"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_id: Mapped[str] = mapped_column(String(24), ForeignKey("api_keys.id"), index=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"))
    purpose: Mapped[str] = mapped_column(String(8), default="submit")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class GrantRefused(BankError):
    """A grant the policy never allows (an operator's request, so 400 rather than 403)."""


def grant(
    session: Session,
    key_id: str,
    bank_name: str,
    *,
    actor: str,
    survivor_bank: str,
    purpose: Purpose = "submit",
) -> None:
    """Let key ``key_id`` add hashes to ``bank_name`` (``submit``) or read it in a feed (``feed``);
    idempotent."""
    if purpose not in PURPOSES:
        raise BankError(f"a grant is for one of {', '.join(PURPOSES)}")
    if purpose == "submit" and bank_name == survivor_bank:
        raise GrantRefused("the survivors' bank takes survivors' own submissions only; it cannot be granted")
    key = session.get(ApiKey, key_id)
    if key is None or key.revoked_at is not None:
        raise NotFound(f"no active key {key_id!r}")
    if purpose not in key.scopes:
        raise BankError(f"only keys with the {purpose} scope are granted banks to {_VERB[purpose]}")
    bank = get_bank(session, bank_name)
    if purpose == "submit" and bank.mirror is not None:
        raise GrantRefused(f"bank {bank_name!r} is a read-only mirror; partners submit to its hub")
    exists = session.scalar(select(BankGrant.id).where(*_same(key_id, bank.id, purpose)))
    if exists is None:
        session.add(BankGrant(key_id=key_id, bank_id=bank.id, purpose=purpose, created_at=utcnow()))
        audit(session, actor, "key.granted", f"key:{key_id}", bank=bank_name, purpose=purpose)


def revoke(session: Session, key_id: str, bank_name: str, *, actor: str, purpose: Purpose = "submit") -> None:
    bank = get_bank(session, bank_name)
    grant_id = session.scalar(select(BankGrant.id).where(*_same(key_id, bank.id, purpose)))
    if grant_id is not None:
        session.execute(delete(BankGrant).where(BankGrant.id == grant_id))
        audit(session, actor, "key.grant_revoked", f"key:{key_id}", bank=bank_name, purpose=purpose)


_VERB = {"submit": "add hashes to", "feed": "read"}


def _same(key_id: str, bank_id: int, purpose: str) -> tuple[Any, ...]:
    return (BankGrant.key_id == key_id, BankGrant.bank_id == bank_id, BankGrant.purpose == purpose)


def granted_banks(session: Session, key_id: str, purpose: Purpose = "submit") -> list[str]:
    return sorted(
        session.scalars(
            select(Bank.name)
            .join(BankGrant, BankGrant.bank_id == Bank.id)
            .where(BankGrant.key_id == key_id, BankGrant.purpose == purpose)
        )
    )


class NothingToRead(BankError):
    """A ``feed`` key that is granted no bank, or asks for one it is not granted (403)."""

    code = "forbidden"


def readable_banks(session: Session, key_id: str, asked: Sequence[str] = ()) -> list[str]:
    """The banks a feed key reads: those it asked for (each must be granted) or else all it is granted."""
    granted = granted_banks(session, key_id, "feed")
    if not granted:
        raise NothingToRead(
            "this key is granted no bank to read; the hub's operator grants them "
            "(redline keys grant KEY --feed-bank BANK)"
        )
    refused = sorted(set(asked) - set(granted))
    if refused:
        raise NothingToRead(f"this key is not granted bank {refused[0]!r} to read")
    return sorted(set(asked)) if asked else granted


def may_submit(session: Session, key_id: str, bank_name: str, survivor_bank: str) -> bool:
    if bank_name == survivor_bank:
        return False
    return bank_name in granted_banks(session, key_id)
