"""The review queue: items, platform previews, decisions, and the feedback they send into the bank.

Feedback rules (why): a survivor's submission cannot be checked by anyone but the survivor, so a hash bank
can be fed false or malicious hashes (a company logo, a political meme) to get lawful content taken down.
Human review of matches is where that shows: every decision counts once per independent reviewer against the
matched entry. ``review_reject_quarantine`` (K) independent "not intimate-image abuse" verdicts quarantine the
entry — it stops matching at once (through the bank's change log, like any status change) and is flagged for
the operator to audit. A confirmation marks the entry verified.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from redline.bank.audit import audit
from redline.bank.errors import BankError, Conflict, NotFound
from redline.bank.models import Bank, Entry, utcnow
from redline.bank.status import announce, change_status
from redline.events import emit, emit_entry_event
from redline.review.models import (
    DECISIONS,
    EntryFeedback,
    EntryReviewState,
    ReviewDecision,
    ReviewItem,
)

#: StopNCII's feedback vocabulary, used in webhooks and the partner feed.
PENDING_REVIEW, BLOCKED, NOT_BLOCKED = "PendingReview", "Blocked", "NotBlocked"
_STATE_OF_DECISION = {"confirm": BLOCKED, "reject": NOT_BLOCKED, "escalate": PENDING_REVIEW}
#: Largest preview accepted from a platform (bytes).
MAX_PREVIEW_BYTES = 4 * 1024 * 1024  # within the API's default request size limit
PREVIEW_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif")


class ReviewError(BankError):
    code = "review-refused"


class NeedsAdmin(ReviewError):
    """The item is escalated: only an admin decides it."""


@dataclass(frozen=True)
class Outcome:
    decision: ReviewDecision
    state: str
    confirmed: int
    rejected: int
    quarantined: bool
    verified: bool


def open_item(
    session: Session,
    *,
    entry_id: int,
    bank_id: int,
    signal_type: str,
    distance: int,
    action: str,
    severity: int,
    api_key_id: str,
    partner_id: int | None,
    content_id: str | None,
    meta: dict[str, Any],
    picture: tuple[str, int | None] | None = None,
) -> ReviewItem:
    """Queue a match for review. The same content (``content_id``) matching the same entry again, or the
    same ``picture`` (case and item) through any of its entries, reuses the open item."""
    if content_id is not None:
        query = select(ReviewItem).where(
            ReviewItem.api_key_id == api_key_id,
            ReviewItem.content_id == content_id,
            ReviewItem.status.in_(("pending", "escalated")),
        )
        if picture is None:
            query = query.where(ReviewItem.entry_id == entry_id)
        else:
            case_id, item_number = picture
            same_item = Entry.item.is_(None) if item_number is None else Entry.item == item_number
            query = query.join(Entry, Entry.id == ReviewItem.entry_id)
            query = query.where(Entry.case_id == case_id, same_item)
        existing = session.scalars(query.order_by(ReviewItem.id).limit(1)).first()
        if existing is not None:
            if distance < existing.distance:  # the closest match stands for the item (same picture)
                existing.entry_id, existing.signal_type, existing.distance = entry_id, signal_type, distance
            if severity > existing.severity:  # e.g. an exact copy of what was queued as a near one
                existing.severity, existing.action = severity, action
            return existing
    item = ReviewItem(
        entry_id=entry_id,
        bank_id=bank_id,
        signal_type=signal_type,
        distance=distance,
        action=action,
        severity=severity,
        api_key_id=api_key_id,
        partner_id=partner_id,
        content_id=content_id,
        meta=meta,
        status="pending",
        created_at=utcnow(),
    )
    session.add(item)
    session.flush()
    return item


def get_item(session: Session, item_id: int) -> ReviewItem:
    item = session.get(ReviewItem, item_id)
    if item is None:
        raise NotFound(f"no review item {item_id}")
    return item


def queue(
    session: Session, *, statuses: Sequence[str] = ("pending", "escalated"), limit: int = 100
) -> list[ReviewItem]:
    """Open items, most severe first, then oldest first (time in queue is what the console shows)."""
    return list(
        session.scalars(
            select(ReviewItem)
            .where(ReviewItem.status.in_(list(statuses)))
            .order_by(ReviewItem.severity.desc(), ReviewItem.created_at, ReviewItem.id)
            .limit(limit)
        )
    )


def bank_names(session: Session) -> dict[int, str]:
    return {bank_id: name for bank_id, name in session.execute(select(Bank.id, Bank.name))}


# --- previews ----------------------------------------------------------------------------------------------


def attach_preview(
    session: Session,
    item_id: int,
    *,
    ttl: timedelta,
    actor: str,
    data: bytes | None = None,
    content_type: str | None = None,
    url: str | None = None,
) -> ReviewItem:
    """The platform's copy of its content, for the reviewer: uploaded bytes or an ``https`` URL the
    reviewer's browser loads directly (Redline never fetches it). Kept until decided or ``ttl``."""
    item = get_item(session, item_id)
    if item.status == "decided":
        raise Conflict("the item is decided; its preview is no longer kept")
    if (data is None) == (url is None):
        raise ReviewError("give either the preview bytes or a preview URL")
    if data is not None:
        if content_type not in PREVIEW_TYPES:
            raise ReviewError(f"preview must be one of {', '.join(PREVIEW_TYPES)}")
        if len(data) > MAX_PREVIEW_BYTES:
            raise ReviewError(f"preview larger than {MAX_PREVIEW_BYTES} bytes")
        item.preview_data, item.preview_type, item.preview_url = data, content_type, None
    else:
        assert url is not None
        if not url.startswith("https://") or len(url) > 2048:
            raise ReviewError("a preview URL must be https and at most 2048 characters")
        item.preview_data, item.preview_type, item.preview_url = None, None, url
    item.preview_expires_at = utcnow() + ttl
    audit(
        session,
        actor,
        "review.preview.attached",
        f"review:{item.id}",
        kind="upload" if data is not None else "url",
        expires_at=item.preview_expires_at.isoformat(),
    )
    return item


def drop_expired_previews(session: Session, now: datetime | None = None) -> int:
    """Delete previews past their time; returns how many."""
    result = session.execute(
        update(ReviewItem)
        .where(ReviewItem.preview_expires_at.is_not(None), ReviewItem.preview_expires_at <= (now or utcnow()))
        .values(preview_data=None, preview_type=None, preview_url=None, preview_expires_at=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def preview_of(item: ReviewItem, now: datetime | None = None) -> tuple[bytes | None, str | None, str | None]:
    """``(data, content_type, url)`` if the item still has a live preview, else Nones."""
    if item.preview_expires_at is None or item.preview_expires_at <= (now or utcnow()):
        return None, None, None
    return item.preview_data, item.preview_type, item.preview_url


# --- decisions and feedback --------------------------------------------------------------------------------


def decide(
    session: Session,
    item_id: int,
    *,
    reviewer: str,
    decision: str,
    note: str = "",
    reject_quarantine: int,
    may_decide_escalated: bool = True,
) -> Outcome:
    """Record a reviewer's decision and feed it back into the matched entry."""
    if decision not in DECISIONS:
        raise ReviewError(f"decision must be one of {', '.join(DECISIONS)}")
    if len(note) > 4000:
        raise ReviewError("note longer than 4000 characters")
    item = session.scalar(select(ReviewItem).where(ReviewItem.id == item_id).with_for_update())
    if item is None:
        raise NotFound(f"no review item {item_id}")
    if item.status == "decided":
        raise Conflict("this item is already decided")
    if item.status == "escalated" and not may_decide_escalated:
        raise NeedsAdmin("escalated items are decided by an admin")
    if decision == "escalate" and item.status == "escalated":
        raise Conflict("this item is already escalated")
    now = utcnow()
    record = ReviewDecision(item_id=item.id, reviewer=reviewer, decision=decision, note=note, at=now)
    session.add(record)
    if decision == "escalate":
        item.status = "escalated"
    else:
        item.status, item.decided_at = "decided", now
        # The platform's content is not kept once a human has decided.
        item.preview_data = item.preview_type = item.preview_url = None
        item.preview_expires_at = None
    state = _feedback(session, item.entry_id, reviewer, decision, reject_quarantine, now)
    session.flush()
    audit(
        session,
        reviewer,
        "review.decided",
        f"review:{item.id}",
        decision=decision,
        entry=item.entry_id,
        note=note,
    )
    emit(
        session,
        "review.decided",
        {
            "review_item_id": item.id,
            "entry_id": item.entry_id,
            "content_id": item.content_id,
            "decision": decision,
            "state": _STATE_OF_DECISION[decision],
            "note": note,
        },
        partner_id=item.partner_id,
    )
    return Outcome(record, _STATE_OF_DECISION[decision], *state)


def _new_review_state(session: Session, entry_id: int) -> EntryReviewState:
    state = EntryReviewState(
        entry_id=entry_id, confirmed=0, rejected=0, verified=False, flagged_for_audit=False
    )
    session.add(state)
    return state


def _picture_siblings(session: Session, entry: Entry) -> list[Entry]:
    """The other active entries of the same picture or video (same case, same ``item``) that a quarantine
    of ``entry`` by review takes along.

    Why: a picture is stored as many entries (pdq, its pdq_region hashes, md5, sha256), and an edited copy
    is reported under whichever crop is closest, so verdicts on one picture land on different entries. The
    verdict is about the picture, not one crop of it: without this, a falsely submitted picture (a meme, a
    logo) would keep matching through its other entries. Entries without an item (older submissions,
    partners, imports) are quarantined one by one. A sibling the operator has already audited (flagged,
    then released) is left alone: the operator has decided about it."""
    if entry.case_id is None or entry.item is None:
        return []
    siblings = session.scalars(
        select(Entry)
        .where(
            Entry.case_id == entry.case_id,
            Entry.item == entry.item,
            Entry.id != entry.id,
            Entry.status == "active",
        )
        .order_by(Entry.id)
    ).all()
    audited = set(
        session.scalars(
            select(EntryReviewState.entry_id).where(
                EntryReviewState.entry_id.in_([e.id for e in siblings]),
                EntryReviewState.flagged_for_audit.is_(True),
            )
        )
    )
    return [e for e in siblings if e.id not in audited]


def _verdicts(session: Session, entry_id: int, entry: Entry | None) -> tuple[int, int]:
    """(confirmed, rejected), each independent reviewer once by their latest verdict: on this entry, or on
    any entry of the same picture when the submitter said which picture it is (same case and ``item``).

    Why per picture: an edited copy is reported under whichever of the picture's perceptual entries is
    closest, so three reviewers rejecting three copies of one innocent picture may each have judged a
    different entry; they still judged the same picture."""
    query = select(EntryFeedback.reviewer, EntryFeedback.verdict, EntryFeedback.at)
    if entry is not None and entry.case_id is not None and entry.item is not None:
        query = query.join(Entry, Entry.id == EntryFeedback.entry_id).where(
            Entry.case_id == entry.case_id, Entry.item == entry.item
        )
    else:
        query = query.where(EntryFeedback.entry_id == entry_id)
    latest: dict[str, tuple[datetime, str]] = {}
    for reviewer, verdict, at in session.execute(query).all():
        if reviewer not in latest or at >= latest[reviewer][0]:
            latest[reviewer] = (at, verdict)
    verdicts = [verdict for _, verdict in latest.values()]
    return verdicts.count("confirm"), verdicts.count("reject")


def _feedback(
    session: Session, entry_id: int, reviewer: str, decision: str, reject_quarantine: int, now: datetime
) -> tuple[int, int, bool, bool]:
    """Update the entry's verdict counts; quarantine or verify it. Returns (confirmed, rejected,
    quarantined now, verified)."""
    if decision in ("confirm", "reject"):
        mine = session.scalar(
            select(EntryFeedback).where(
                EntryFeedback.entry_id == entry_id, EntryFeedback.reviewer == reviewer
            )
        )
        if mine is None:
            session.add(EntryFeedback(entry_id=entry_id, reviewer=reviewer, verdict=decision, at=now))
        else:
            mine.verdict, mine.at = decision, now
        session.flush()
    entry = session.get(Entry, entry_id)
    confirmed, rejected = _verdicts(session, entry_id, entry)
    state = session.get(EntryReviewState, entry_id) or _new_review_state(session, entry_id)
    state.confirmed, state.rejected, state.updated_at = confirmed, rejected, now
    quarantined = False
    # Once flagged, the operator owns the entry: if they audit it and release it, further rejections do not
    # quarantine it again behind their back.
    auto = entry is not None and entry.status == "active" and not state.flagged_for_audit
    if entry is not None and auto and rejected >= reject_quarantine:
        siblings = _picture_siblings(session, entry)
        # One change for the whole picture: one audit row, one entry.quarantined event listing its entries.
        changed = change_status(
            session,
            [entry, *siblings],
            "quarantined",
            actor="system:review",
            reason="review feedback",
            details={
                "rejected": rejected,
                "confirmed": confirmed,
                "threshold": reject_quarantine,
                **({"same_item_as": entry.id} if siblings else {}),
            },
        )
        for quarantined_entry in changed:  # all of it awaits the operator's audit
            flagged = state if quarantined_entry.id == entry_id else None
            flagged = flagged or session.get(EntryReviewState, quarantined_entry.id)
            flagged = flagged or _new_review_state(session, quarantined_entry.id)
            flagged.flagged_for_audit, flagged.verified, flagged.updated_at = True, False, now
        quarantined = True
    elif confirmed > 0 and not state.verified and not state.flagged_for_audit:
        state.verified = True
        audit(session, "system:review", "entry.verified", f"entry:{entry_id}", confirmed=confirmed)
        if entry is not None:
            announce(session, entry)  # mirrors of the feed learn the new review state
        emit_entry_event(session, "entry.verified", [entry_id], confirmed=confirmed)
    return confirmed, rejected, quarantined, state.verified


def partner_verdict(
    session: Session, entry_id: int, *, reviewer: str, verdict: str, reject_quarantine: int
) -> bool:
    """A verdict reached elsewhere (a mirror's reviewers, sent back to its hub) on ``entry_id``, counted
    like a reviewer's here: one independent voice per ``reviewer``, its latest verdict. Returns whether
    it quarantined the entry now."""
    if verdict not in ("confirm", "reject"):
        raise ReviewError("verdict must be confirm or reject")
    _, _, quarantined, _ = _feedback(session, entry_id, reviewer, verdict, reject_quarantine, utcnow())
    return quarantined


def decisions(session: Session, *, item_id: int | None = None, limit: int = 200) -> list[ReviewDecision]:
    query = select(ReviewDecision).order_by(ReviewDecision.id.desc()).limit(limit)
    if item_id is not None:
        query = query.where(ReviewDecision.item_id == item_id)
    return list(session.scalars(query))


def review_states(session: Session, entry_ids: Sequence[int]) -> dict[int, str]:
    """Feedback state of each entry in StopNCII's words: ``Blocked`` (confirmed by review),
    ``NotBlocked`` (more rejections than confirmations; a quarantined entry is a tombstone instead),
    ``PendingReview`` (no human verdict yet)."""
    out = dict.fromkeys(entry_ids, PENDING_REVIEW)
    if not entry_ids:
        return out
    for state in session.scalars(
        select(EntryReviewState).where(EntryReviewState.entry_id.in_(list(entry_ids)))
    ):
        if state.rejected > state.confirmed:
            out[state.entry_id] = NOT_BLOCKED
        elif state.verified:
            out[state.entry_id] = BLOCKED
    return out


def flagged_entries(session: Session, limit: int = 200) -> list[tuple[EntryReviewState, Entry]]:
    """Entries quarantined by review feedback, for the operator's audit, most recent first."""
    rows = session.execute(
        select(EntryReviewState, Entry)
        .join(Entry, Entry.id == EntryReviewState.entry_id)
        .where(EntryReviewState.flagged_for_audit.is_(True))
        .order_by(EntryReviewState.updated_at.desc())
        .limit(limit)
    ).all()
    return [(state, entry) for state, entry in rows]


def entry_state(session: Session, entry_id: int) -> EntryReviewState | None:
    return session.get(EntryReviewState, entry_id)
