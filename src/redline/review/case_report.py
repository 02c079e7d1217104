"""What the survivor's case page says about each picture or video: were copies found, what did platforms do.

A picture is stored as many entries (its PDQ hash, 35 region hashes, MD5, SHA-256: ``entries.item`` ties
them together), and one platform upload of an exact copy matches several of them at once (MD5, SHA-256 and
PDQ). A survivor asks "was my picture found, and was it stopped?", so the report counts *uploads*, not hash
matches: the match-log rows of one picture from one match request (same API key, same ``at``: every row of
a request carries the request's time) are one copy found.

What a platform reported for that copy, in StopNCII's words (``redline.review.queue``): ``Blocked`` (a
reviewer confirmed it, or the decided action blocks it), ``NotBlocked`` (a reviewer decided it is not this
kind of image), ``PendingReview`` (waiting for a person), or ``Recorded`` (the action only logs the match).
Platforms that match on their own side (mirrors of the bank, partners on the StopNCII API) send no
matches, only their feedback: each platform's latest feedback on a picture counts as one copy found with
that outcome. Nothing here names a platform, a hash value or an internal action code.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from redline.actions.models import REVIEW_ACTIONS, MatchLogEntry
from redline.bank.models import Entry
from redline.interop.models import PartnerFeedback
from redline.review.models import ReviewDecision, ReviewItem
from redline.review.queue import BLOCKED, NOT_BLOCKED, PENDING_REVIEW

#: The action logs the match and nothing else: nobody blocks or reviews it.
RECORDED = "Recorded"
OUTCOMES = (BLOCKED, PENDING_REVIEW, NOT_BLOCKED, RECORDED)
_BLOCKING_ACTIONS = ("block", "block_and_review")
_VIDEO_TYPES = {"vpdq"}
_PICTURE_TYPES = {"pdq", "pdq_region"}
ItemKind = Literal["picture", "video", "file"]


@dataclass(frozen=True)
class ItemReport:
    """One picture or video of a case (or one hash submitted without ``item``)."""

    #: Its position in the submission (0, 1, ...); None for a hash submitted without one.
    item: int | None
    #: ``picture`` (perceptual hashes: edited copies are found too), ``video``, or ``file`` (exact copies).
    kind: ItemKind
    status: str
    #: Distinct platform uploads that matched it.
    copies_found: int
    #: Of those, how many platforms reported as each of :data:`OUTCOMES` (only the ones that occur).
    reported: dict[str, int] = field(default_factory=dict)


def item_reports(session: Session, case_id: str) -> list[ItemReport]:
    """One report per picture or video of the case, in submission order."""
    groups: dict[tuple[str, int], list[tuple[str, str]]] = {}  # group -> [(signal type, status)]
    group_of: dict[int, tuple[str, int]] = {}
    for entry_id, item, signal_type, status in session.execute(
        select(Entry.id, Entry.item, Entry.signal_type, Entry.status)
        .where(Entry.case_id == case_id)
        .order_by(Entry.id)
    ):
        group = ("item", item) if item is not None else ("entry", entry_id)
        groups.setdefault(group, []).append((signal_type, status))
        group_of[entry_id] = group

    uploads: dict[tuple[tuple[str, int], str, object], list[tuple[str, int | None]]] = {}
    for entry_id, api_key_id, at, action, review_item_id in session.execute(
        select(
            MatchLogEntry.entry_id,
            MatchLogEntry.api_key_id,
            MatchLogEntry.at,
            MatchLogEntry.action,
            MatchLogEntry.review_item_id,
        )
        .join(Entry, Entry.id == MatchLogEntry.entry_id)
        .where(Entry.case_id == case_id)
    ):
        uploads.setdefault((group_of[entry_id], api_key_id, at), []).append((action, review_item_id))

    verdicts = _review_verdicts(session, {r for rows in uploads.values() for _, r in rows if r is not None})
    outcomes: dict[tuple[str, int], Counter[str]] = {group: Counter() for group in groups}
    for (group, _, _), rows in uploads.items():
        outcomes[group][_outcome(rows, verdicts)] += 1
    for (group, _), outcome in _elsewhere(session, case_id, group_of).items():
        outcomes[group][outcome] += 1

    return [
        ItemReport(
            item=key if kind == "item" else None,
            kind=_kind({t for t, _ in members}),
            status=_status({s for _, s in members}),
            copies_found=sum(outcomes[(kind, key)].values()),
            reported={o: outcomes[(kind, key)][o] for o in OUTCOMES if outcomes[(kind, key)][o]},
        )
        for (kind, key), members in groups.items()  # in order of each one's first entry: submission order
    ]


def _elsewhere(
    session: Session, case_id: str, group_of: dict[int, tuple[str, int]]
) -> dict[tuple[tuple[str, int], str], str]:
    """What platforms that match on their own side reported (mirrors of this bank, partners reading it
    through the StopNCII API): they send no match, only their feedback (``partner_feedback``), so each
    platform's latest word on a picture counts as one copy found. -> {(group, source): outcome}."""
    latest: dict[tuple[tuple[str, int], str], tuple[object, str]] = {}
    for entry_id, source, value, at in session.execute(
        select(PartnerFeedback.entry_id, PartnerFeedback.source, PartnerFeedback.value, PartnerFeedback.at)
        .join(Entry, Entry.id == PartnerFeedback.entry_id)
        .where(Entry.case_id == case_id, PartnerFeedback.value.in_(OUTCOMES))
    ):
        key = (group_of[entry_id], source)
        if key not in latest or at >= latest[key][0]:  # type: ignore[operator]
            latest[key] = (at, value)
    return {key: value for key, (_, value) in latest.items()}


def _review_verdicts(session: Session, item_ids: set[int]) -> dict[int, str]:
    """The standing human verdict of each decided review item: ``confirm`` or ``reject``."""
    if not item_ids:
        return {}
    decided = set(
        session.scalars(
            select(ReviewItem.id).where(ReviewItem.id.in_(item_ids), ReviewItem.status == "decided")
        )
    )
    verdicts: dict[int, str] = {}
    for item_id, decision in session.execute(
        select(ReviewDecision.item_id, ReviewDecision.decision)
        .where(ReviewDecision.item_id.in_(decided), ReviewDecision.decision.in_(("confirm", "reject")))
        .order_by(ReviewDecision.id)
    ):
        verdicts[item_id] = decision  # the latest decision stands
    return verdicts


def _outcome(rows: list[tuple[str, int | None]], verdicts: dict[int, str]) -> str:
    """One upload's outcome from its match rows (action, review item): a person's verdict first, then what
    the decided action does."""
    decided = {verdicts[r] for _, r in rows if r is not None and r in verdicts}
    if "confirm" in decided:
        return BLOCKED
    if "reject" in decided:
        return NOT_BLOCKED
    actions = {a for a, _ in rows}
    if actions & set(_BLOCKING_ACTIONS):
        return BLOCKED
    if actions & set(REVIEW_ACTIONS):
        return PENDING_REVIEW
    return RECORDED


def _kind(signal_types: set[str]) -> ItemKind:
    if signal_types & _VIDEO_TYPES:
        return "video"
    return "picture" if signal_types & _PICTURE_TYPES else "file"


def _status(statuses: set[str]) -> str:
    """A picture is active while any of its hashes is; otherwise the most telling of their statuses."""
    for status in ("active", "quarantined", "withdrawn"):
        if status in statuses:
            return status
    return "expired"
