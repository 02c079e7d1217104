"""HMA (OpenMediaMatch) banks on top of Redline banks: names, ownership, ratio, content, lookup.

Why a mapping and not Redline banks renamed: HMA clients (ROOST's Coop) name banks ``COOP_<ORG>_<NAME>`` —
upper case, up to 255 characters — and compare the names they get back case-sensitively, while a Redline bank
name is short lower case. So each HMA name is a row of ``hma_banks`` pointing at a Redline bank. Each row has
an owner (the partner of the key that made it): a hub serving several platforms keeps their HMA namespaces
apart, and one platform's ``DELETE /c/bank/X`` can never touch another's bank or the survivors' bank.

Nothing an HMA client does deletes a hash. Deleting an HMA bank removes the name and disables the Redline bank
it created (its entries stay, audited); deleting content expires the entry.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from redline.bank import service
from redline.bank.models import ApiKey, Bank, Entry, Partner
from redline.bank.service import BankError, HashInput, audit
from redline.interop.models import HmaBank

#: HMA's rule for bank names (``Bank names must be UPPER_WITH_UNDERSCORE``), with its 255-character column.
HMA_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,254}")
#: HMA signal type names -> Redline's. HMA calls the MD5 of a video file ``video_md5``.
TO_REDLINE = {"pdq": "pdq", "video_md5": "md5", "sha256": "sha256"}
TO_HMA = {v: k for k, v in TO_REDLINE.items()}
_REDLINE_BANK_CHARS = re.compile(r"[^a-z0-9_-]+")


class HmaForbidden(BankError):
    """HMA answers 403 here (an existing bank name, or content of a bank the caller only has linked)."""

    code = "forbidden"


@dataclass(frozen=True)
class HmaBankView:
    name: str
    ratio: float

    def as_json(self) -> dict[str, object]:
        return {"name": self.name, "matching_enabled_ratio": self.ratio}


def owner_for_key(session: Session, key_id: str) -> str:
    """The namespace of a key's HMA banks: its partner (all of a platform's keys share it), else the key."""
    partner = session.scalar(
        select(Partner.name).join(ApiKey, ApiKey.partner_id == Partner.id).where(ApiKey.id == key_id)
    )
    return f"partner:{partner}" if partner else f"key:{key_id}"


def check_name(name: str) -> None:
    if not HMA_NAME.fullmatch(name):
        raise BankError(
            "Bank names must be UPPER_WITH_UNDERSCORE (A-Z, 0-9, _; not starting with a digit; "
            "at most 255 characters)"
        )


def check_ratio(ratio: float) -> float:
    if not 0.0 <= ratio <= 1.0:
        raise BankError("enabled_ratio must be between 0 and 1")
    return float(ratio)


def _row(session: Session, owner: str, name: str) -> HmaBank:
    row = session.scalar(select(HmaBank).where(HmaBank.owner == owner, HmaBank.name == name))
    if row is None:
        raise service.NotFound(f"bank '{name}' not found")
    return row


def list_banks(session: Session, owner: str) -> list[HmaBankView]:
    rows = session.scalars(select(HmaBank).where(HmaBank.owner == owner).order_by(HmaBank.name)).all()
    return [HmaBankView(r.name, r.ratio) for r in rows]


def get_bank(session: Session, owner: str, name: str) -> HmaBankView:
    row = _row(session, owner, name)
    return HmaBankView(row.name, row.ratio)


def _new_redline_name(session: Session, name: str) -> str:
    """A free Redline bank name derived from the HMA name (``COOP_AB12_NCII`` -> ``hma-coop_ab12_ncii``)."""
    base = "hma-" + _REDLINE_BANK_CHARS.sub("_", name.lower()).strip("_")[:52]
    candidate, n = base, 1
    while session.scalar(select(Bank.id).where(Bank.name == candidate)) is not None:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def create_bank(session: Session, owner: str, name: str, ratio: float, *, actor: str) -> HmaBankView:
    check_name(name)
    ratio = check_ratio(ratio)
    if session.scalar(select(HmaBank.id).where(HmaBank.owner == owner, HmaBank.name == name)) is not None:
        raise HmaForbidden("Bank already exists")
    bank = service.create_bank(
        session, name=_new_redline_name(session, name), actor=actor, description=f"HMA bank {name} ({owner})"
    )
    if ratio == 0.0:
        service.update_bank(session, bank.name, actor=actor, enabled=False)
    session.add(HmaBank(name=name, owner=owner, bank_id=bank.id, ratio=ratio, created_bank=True))
    session.flush()
    audit(session, actor, "hma.bank.created", f"bank:{bank.name}", hma_name=name, owner=owner, ratio=ratio)
    return HmaBankView(name, ratio)


def link_bank(session: Session, owner: str, name: str, bank_name: str, *, actor: str) -> HmaBankView:
    """Operator: make an existing Redline bank (e.g. ``survivors``) visible to ``owner`` under an HMA name;
    an existing mapping of that name is re-pointed (the bank it created stays, disabled by nobody)."""
    check_name(name)
    bank = service.get_bank(session, bank_name)
    row = session.scalar(select(HmaBank).where(HmaBank.owner == owner, HmaBank.name == name))
    if row is None:
        row = HmaBank(name=name, owner=owner, bank_id=bank.id, ratio=1.0, created_bank=False)
        session.add(row)
    else:
        row.bank_id, row.created_bank = bank.id, False
    session.flush()
    audit(session, actor, "hma.bank.linked", f"bank:{bank.name}", hma_name=name, owner=owner)
    return HmaBankView(row.name, row.ratio)


def update_bank(
    session: Session,
    owner: str,
    name: str,
    *,
    actor: str,
    ratio: float | None = None,
    rename: str | None = None,
) -> HmaBankView:
    row = _row(session, owner, name)
    changed: dict[str, object] = {}
    if rename is not None and rename != row.name:
        check_name(rename)
        if session.scalar(select(HmaBank.id).where(HmaBank.owner == owner, HmaBank.name == rename)):
            raise HmaForbidden("Bank name already exists")
        row.name = changed["name"] = rename
    if ratio is not None and check_ratio(ratio) != row.ratio:
        row.ratio = changed["ratio"] = ratio
        if row.created_bank:
            # Redline's own matching follows the ratio's on/off; a linked bank is shared and stays as it is.
            bank_name = session.get(Bank, row.bank_id)
            if bank_name is not None:
                service.update_bank(session, bank_name.name, actor=actor, enabled=ratio > 0)
    if changed:
        audit(session, actor, "hma.bank.changed", f"hma:{name}", owner=owner, **changed)
    return HmaBankView(row.name, row.ratio)


def delete_bank(session: Session, owner: str, name: str, *, actor: str) -> bool:
    """Remove the name (HMA: 200 even when absent). A bank the client created is disabled, never emptied."""
    row = session.scalar(select(HmaBank).where(HmaBank.owner == owner, HmaBank.name == name))
    if row is None:
        return False
    bank = session.get(Bank, row.bank_id)
    if row.created_bank and bank is not None:
        service.update_bank(session, bank.name, actor=actor, enabled=False)
    session.delete(row)
    audit(session, actor, "hma.bank.deleted", f"hma:{name}", owner=owner, bank=bank.name if bank else None)
    return True


# --- content -----------------------------------------------------------------------------------------------


def to_redline_signal(hma_type: str, value: str) -> HashInput:
    """An HMA ``(signal_type, signal)`` as a validated Redline hash; ``BankError`` names what is wrong."""
    redline_type = TO_REDLINE.get(hma_type)
    if redline_type is None:
        raise BankError(f"No such SignalType '{hma_type}'; known: {', '.join(sorted(TO_REDLINE))}")
    try:
        return service.normalize_hash(redline_type, value)
    except service.Invalid as exc:
        raise BankError(f"invalid signal: {exc.detail}") from None


def _writable(session: Session, owner: str, name: str) -> Bank:
    row = _row(session, owner, name)
    if not row.created_bank:
        raise HmaForbidden(f"bank '{name}' is linked by the operator; add hashes to it through Redline")
    bank = session.get(Bank, row.bank_id)
    assert bank is not None  # the foreign key holds
    return bank


def add_content(
    session: Session, owner: str, name: str, signals: dict[str, str], *, actor: str, note: str = ""
) -> tuple[int, dict[str, str]]:
    """One piece of content (its signals) into the bank: HMA's ``{"id", "signals"}``; the id is the first
    entry's (Redline stores one hash per entry)."""
    if not signals:
        raise BankError("No signals given")
    hashes = [to_redline_signal(t, v) for t, v in signals.items()]
    bank = _writable(session, owner, name)
    tags = ["hma"] + ([f"note:{note}"] if note else [])
    ids = service.add_entries(
        session, bank.name, hashes, source="partner", origin=actor, actor=actor, tags=tags
    )
    return ids[0], {TO_HMA[h.signal_type]: h.value for h in hashes}


def content(session: Session, owner: str, name: str, content_id: int) -> Entry:
    row = _row(session, owner, name)
    entry = session.get(Entry, content_id)
    if entry is None or entry.bank_id != row.bank_id:
        raise service.NotFound(f"content {content_id} not found")
    return entry


def remove_content(session: Session, owner: str, name: str, content_id: int, *, actor: str) -> int:
    bank = _writable(session, owner, name)
    entry = session.get(Entry, content_id)
    if entry is None or entry.bank_id != bank.id:
        return 0
    if entry.status == "active":
        service.set_entry_status(session, entry.id, "expired", actor=actor, reason="HMA content deleted")
    return 1


# --- lookup ------------------------------------------------------------------------------------------------


def visible_banks(
    session: Session, owner: str, *, seed: str | None, only: Sequence[str] = ()
) -> dict[str, list[str]]:
    """Redline bank name -> its HMA names, for the banks taking part in this lookup. HMA's coin flip: a bank
    takes part when its ratio >= ``Random(seed).random()`` (ratio 1 always, 0 never)."""
    coinflip = random.Random(seed).random()
    rows = session.execute(
        select(HmaBank.name, HmaBank.ratio, Bank.name)
        .join(Bank, Bank.id == HmaBank.bank_id)
        .where(HmaBank.owner == owner)
    ).all()
    visible: dict[str, list[str]] = {}
    for hma_name, ratio, bank in rows:
        if ratio > 0 and ratio >= coinflip and (not only or hma_name in only):
            visible.setdefault(bank, []).append(hma_name)
    return visible
