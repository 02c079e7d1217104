"""Banks: thresholds per signal type, default action, enabled; every change audited."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from redline.bank.audit import audit
from redline.bank.errors import BankError, Conflict, NotFound
from redline.bank.models import Bank, utcnow
from redline.signals.types import SIGNAL_TYPES, signal_type


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


def ensure_bank(
    session: Session, name: str, actor: str, *, on_create: Callable[[Bank], None] | None = None
) -> Bank:
    """The bank called ``name``, created (and audited) if missing; ``on_create`` runs on a bank just made
    (its first rules), in the same savepoint.

    Two requests may find it missing at once (two server processes starting, the first two survivors'
    cases or flagged cases on PostgreSQL): the second one's insert waits for the first to commit and then
    hits the unique name. Its savepoint is rolled back (its audit row too: nothing half-made stays) and
    it takes the bank the first one made, instead of answering 500."""
    bank = session.scalar(select(Bank).where(Bank.name == name))
    if bank is not None:
        return bank
    try:
        with session.begin_nested():
            bank = create_bank(session, name=name, actor=actor)
            if on_create is not None:
                on_create(bank)
            return bank
    except IntegrityError:
        made = session.scalar(select(Bank).where(Bank.name == name))
        if made is None:
            raise
        return made


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
