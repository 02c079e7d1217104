"""The hub's side of mirroring: signed feed pages, what each partner pulled, and mirrors' review verdicts.

A page holds only what a mirror needs to match: the hub's entry id (so a tombstone finds its copy), the
bank, the signal type, the value (absent for tombstones), quality, tags and status. Hashes stay sensitive:
the route serves ``feed`` keys only, and every page that carried anything is audited as ``feed.pulled`` with
positions and counts, never hash values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from redline.bank.audit import audit
from redline.bank.errors import BankError
from redline.bank.feed import change_log_head, feed_page
from redline.bank.models import Bank, Entry, utcnow
from redline.evidence.note import SignerKey
from redline.interop.models import PartnerFeedback
from redline.mirror.signing import sign_page
from redline.review.queue import BLOCKED, NOT_BLOCKED, partner_verdict

#: Largest page a mirror may ask for.
MAX_PAGE = 5_000
VERDICTS = ("confirm", "reject")


@dataclass(frozen=True)
class ServedPage:
    items: list[dict[str, Any]]
    after: int
    position: int
    head: int
    more: bool


def read_page(session: Session, after: int, limit: int, banks: Sequence[str]) -> ServedPage:
    """Rows after ``after`` up to the change log's head. When the page is not full its position is the
    head itself, so a mirror moves past rows it is not shown (other banks, scrubbed additions)."""
    if banks:
        known = set(session.scalars(select(Bank.name).where(Bank.name.in_(list(banks)))))
        missing = sorted(set(banks) - known)
        if missing:
            raise BankError(f"no bank named {missing[0]!r} on this hub")
    head = change_log_head(session)
    rows = feed_page(session, after, limit + 1, up_to=head, bank_names=banks)
    more = len(rows) > limit
    rows = rows[:limit]
    items = [
        {
            "seq": c.seq,
            "entry_id": c.entry_id,
            "bank": bank,
            "type": c.signal_type,
            "value": c.value if c.status == "active" else None,
            "quality": c.quality,
            "tags": list(c.tags or []),
            "status": c.status,
        }
        for c, bank in rows
    ]
    # A mirror ahead of this head (the hub was restored from an older backup) gets a page saying so: its
    # head below the mirror's position, which the mirror refuses as rolled back.
    position = rows[-1][0].seq if more else max(head, after)
    return ServedPage(items, after, position, head, more)


def signed_body(
    page: ServedPage, *, banks: Sequence[str], nonce: str, signers: Sequence[SignerKey]
) -> dict[str, Any]:
    note = sign_page(
        page.items,
        after=page.after,
        position=page.position,
        head=page.head,
        banks=banks,
        nonce=nonce,
        signers=signers,
    )
    return {"note": note, "items": page.items, "more": page.more}


def record_pull(session: Session, actor: str, who: str, page: ServedPage, banks: Sequence[str]) -> None:
    """``feed.pulled``: which partner read which positions, how many items of each kind. No hashes."""
    if not page.items:
        return
    tombstones = sum(1 for i in page.items if i["status"] != "active")
    audit(
        session,
        actor,
        "feed.pulled",
        who,
        after=page.after,
        position=page.position,
        entries=len(page.items) - tombstones,
        tombstones=tombstones,
        banks=list(banks) or "*",
    )


def _feedback_row(session: Session, entry_id: int, source: str, value: str) -> None:
    row = session.scalar(
        select(PartnerFeedback).where(PartnerFeedback.entry_id == entry_id, PartnerFeedback.source == source)
    )
    if row is None:
        session.add(PartnerFeedback(entry_id=entry_id, source=source, value=value, tags=["mirror"]))
    elif row.value != value:
        row.value, row.at = value, utcnow()


def record_verdicts(
    session: Session,
    verdicts: Sequence[tuple[int, str]],
    *,
    partner: str,
    reviewer: str,
    actor: str,
    reject_quarantine: int,
    banks: Sequence[str] = (),
) -> dict[str, int]:
    """A mirror's reviewers' verdicts on hub entries. Each partner counts as one independent reviewer
    (``reviewer``: the same voice as its reviewers deciding through this hub's own API; its latest
    verdict per entry), so K partners rejecting an entry quarantine it as K reviewers would. Each is also
    the partner's feedback on the entry in StopNCII's words (``partner_feedback``: served back in
    ``CSPFeedbacks`` and counted on the survivor's case page). Idempotent: sending it again changes
    nothing."""
    applied = unknown = quarantined = 0
    for entry_id, verdict in verdicts:
        if verdict not in VERDICTS:
            raise BankError(f"verdict must be one of {', '.join(VERDICTS)}")
        entry = session.get(Entry, entry_id)
        if entry is None:
            unknown += 1
            continue
        if banks:
            bank = session.get(Bank, entry.bank_id)
            if bank is None or bank.name not in banks:
                unknown += 1
                continue
        outcome = partner_verdict(
            session, entry_id, reviewer=reviewer, verdict=verdict, reject_quarantine=reject_quarantine
        )
        _feedback_row(session, entry_id, partner, BLOCKED if verdict == "confirm" else NOT_BLOCKED)
        applied += 1
        quarantined += outcome
    audit(
        session,
        actor,
        "mirror.verdicts",
        f"partner:{partner}",
        verdicts=len(verdicts),
        applied=applied,
        unknown=unknown,
        quarantined=quarantined,
    )
    return {"verdicts": len(verdicts), "applied": applied, "unknown": unknown, "quarantined": quarantined}
