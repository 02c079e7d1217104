"""StopNCII's partner API shape over Redline's bank: records, pages, submissions, feedback (docs/INTEROP.md).

The shape is the one python-threatexchange's StopNCII client speaks (no public specification exists): pages
of at most 800 ``hashRecords`` (``lastModtimestamp``, ``signalType``, ``hashValue``, ``hashStatus``,
``caseNumbers``, ``CSPFeedbacks``), each a snapshot that replaces any earlier record of the same
(signalType, hashValue).

Records come from the change log. A withdrawn entry's hash is scrubbed from its earlier change rows, so a
``Withdrawn`` record must take the value from the entry itself — which would hand a withdrawn hash to a
partner that never had it. It is sent only to a partner that could hold it: one whose pull started after the
entry was added (``origin``), or one that was sent the entry earlier in this same pull (added before this
page's start, withdrawn after the pull began). So every partner that follows the page tokens drops what it
holds, and a new partner never learns hashes withdrawn before it arrived (``fetch_page``'s ``not_before``
holds even against forged page tokens).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from redline.bank import service
from redline.bank.models import Bank, Case, Change, Entry
from redline.bank.service import BankError, HashInput
from redline.interop.models import PartnerFeedback

MAX_PAGE = 800
#: Redline signal type <-> StopNCII ``signalType``. StopNCII exchanges PDQ for images and MD5 for videos; the
#: other Redline types (sha256, the robust pdq_region crops) have no StopNCII name and are not served.
TO_STOPNCII = {"pdq": "ImagePDQ", "md5": "VideoMD5"}
FROM_STOPNCII = {v: k for k, v in TO_STOPNCII.items()}
#: Entry status -> ``hashStatus``. A quarantine or expiry is "delete it"; a later ``Active`` record undoes it.
HASH_STATUS = {"active": "Active", "withdrawn": "Withdrawn", "quarantined": "Deleted", "expired": "Deleted"}
CASE_STATUS = {"active": "Active", "withdrawn": "Withdrawn"}
FEEDBACK_VALUES = (
    "None",
    "QualityUnknown",
    "PendingReview",
    "Blocked",
    "NotBlocked",
    "Withdrawn",
    "Deleted",
    "Unknown",
)
_TOKEN_PREFIX = "sn1:"  # noqa: S105 - a format marker, not a secret


@dataclass(frozen=True)
class Cursor:
    """Where a page starts (``after``), where the pull started (``origin``), and the change log's end when it
    started (``horizon``): what the withdrawal rule in the module docstring needs."""

    after: int
    origin: int
    horizon: int

    def token(self) -> str:
        raw = f"{_TOKEN_PREFIX}{self.after}:{self.origin}:{self.horizon}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def parse(cls, token: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
            if not raw.startswith(_TOKEN_PREFIX):
                raise ValueError
            after, origin, horizon = (int(p) for p in raw[len(_TOKEN_PREFIX) :].split(":"))
            if min(after, origin, horizon) < 0:
                raise ValueError
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise BankError(
                "nextPageToken is not valid: pass back one from a previous page, or none"
            ) from None
        return cls(after, origin, horizon)


def start_cursor(session: Session, start_timestamp: int) -> Cursor:
    """A pull from ``startTimestamp`` (unix seconds): every change at or after it. Entries added within that
    second count as held by the partner (``nextSetTimestamp`` is whole seconds: the previous pull may have
    sent them), so their withdrawal is sent rather than missed."""
    since = datetime.fromtimestamp(max(start_timestamp, 0), UTC)
    origin = session.scalar(select(func.max(Change.seq)).where(Change.at < since + timedelta(seconds=1))) or 0
    first = session.scalar(select(func.max(Change.seq)).where(Change.at < since)) or 0
    horizon = session.scalar(select(func.max(Change.seq))) or 0
    return Cursor(first, origin, horizon)


def case_number(case_id: str) -> str:
    """A stable pseudonym of a case: groups a case's hashes for partners without revealing the case id, which
    (with its secret) opens the survivor's case page."""
    return "RL-" + hashlib.sha256(f"redline-case:{case_id}".encode()).hexdigest()[:20]


@dataclass
class Page:
    records: list[dict[str, Any]]
    next_cursor: Cursor
    next_set_timestamp: int
    more: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "count": len(self.records),
            "nextPageToken": self.next_cursor.token() if self.more else None,
            "nextSetTimestamp": self.next_set_timestamp,
            "hasMoreRecords": self.more,
            "hashRecords": self.records,
        }


def key_floor(session: Session, created_at: datetime) -> int:
    """The change log's end when a partner's key was made: it was never sent what was gone by then."""
    return session.scalar(select(func.max(Change.seq)).where(Change.at < created_at)) or 0


def fetch_page(
    session: Session, cursor: Cursor, page_size: int, *, not_before: int = 0, bank_names: Sequence[str] = ()
) -> Page:
    """One page after ``cursor``. Withdrawals at or before ``not_before`` (``key_floor`` of the caller's key)
    are never sent: page tokens come from the client, and whatever one says, a partner learns no hash that was
    not active at some moment while its key existed. Only the banks ``bank_names`` (the key's feed grants)."""
    query = (
        select(Change, Entry.value, Entry.case_id)
        .join(Entry, Entry.id == Change.entry_id)
        .where(Change.seq > cursor.after, Change.signal_type.in_(tuple(TO_STOPNCII)))
        .where(or_(Change.value.is_not(None), Change.status != "active"))
    )
    if bank_names:
        query = query.where(Change.bank_id.in_(select(Bank.id).where(Bank.name.in_(list(bank_names)))))
    rows = session.execute(query.order_by(Change.seq).limit(page_size + 1)).all()
    more = len(rows) > page_size
    rows = rows[:page_size]
    gone = [c.entry_id for c, _, _ in rows if c.status != "active"]
    first_seen: dict[int, int] = {}
    if gone:
        first_seen = {
            int(e): int(s)
            for e, s in session.execute(
                select(Change.entry_id, func.min(Change.seq))
                .where(Change.entry_id.in_(gone))
                .group_by(Change.entry_id)
            )
        }
    cases = {c for _, _, c in rows if c}
    case_status: dict[str, str] = {}
    if cases:
        case_status = {
            cid: st for cid, st in session.execute(select(Case.id, Case.status).where(Case.id.in_(cases)))
        }
    feedback = feedback_of(session, [c.entry_id for c, _, _ in rows])
    records = []
    for change, value, case_id in rows:
        if change.status != "active":
            added = first_seen.get(change.entry_id, change.seq)
            sent_before = added <= cursor.origin or (change.seq > cursor.horizon and added <= cursor.after)
            if not sent_before or change.seq <= not_before:
                continue
        records.append(
            {
                "lastModtimestamp": int(change.at.timestamp()),
                "signalType": TO_STOPNCII[change.signal_type],
                "hashValue": change.value if change.status == "active" else value,
                "hashStatus": HASH_STATUS[change.status],
                "caseNumbers": (
                    {case_number(case_id): CASE_STATUS.get(case_status.get(case_id, ""), "Unknown")}
                    if case_id
                    else {}
                ),
                "CSPFeedbacks": feedback.get(change.entry_id, []),
            }
        )
    last = rows[-1][0] if rows else None
    after = last.seq if last is not None else cursor.after
    stamp = int(last.at.timestamp()) if last is not None else int(datetime.now(UTC).timestamp())
    return Page(records, Cursor(after, cursor.origin, cursor.horizon), stamp, more)


def feedback_of(session: Session, entry_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = {}
    if not entry_ids:
        return found
    for row in session.scalars(
        select(PartnerFeedback)
        .where(PartnerFeedback.entry_id.in_(set(entry_ids)))
        .order_by(PartnerFeedback.id)
    ):
        found.setdefault(row.entry_id, []).append(
            {"feedbackValue": row.value, "tags": list(row.tags or []), "source": row.source}
        )
    return found


# --- what partners send ------------------------------------------------------------------------------------


def signal_of(signal_type: Any, value: Any) -> HashInput:
    """A StopNCII (signalType, hashValue) as a Redline hash. ``"StopNCIISignalType.ImagePDQ"`` is accepted
    too:
    python-threatexchange's ``submit_hashes`` sends ``str()`` of its enum."""
    if not isinstance(signal_type, str) or not isinstance(value, str):
        raise BankError("signalType and hashValue must be strings")
    name = signal_type.rsplit(".", 1)[-1]
    redline_type = FROM_STOPNCII.get(name)
    if redline_type is None:
        raise BankError(f"signalType must be one of {', '.join(FROM_STOPNCII)} (got {signal_type!r})")
    try:
        return service.normalize_hash(redline_type, value)
    except service.Invalid as exc:
        raise BankError(f"hashValue: {exc.detail}") from None


@dataclass(frozen=True)
class Feedback:
    value: str
    tags: list[str] = field(default_factory=list)


def feedback_from(raw: Any) -> Feedback:
    if not isinstance(raw, dict):
        raise BankError("a feedback must be an object with feedbackValue")
    value = raw.get("feedbackValue")
    if value not in FEEDBACK_VALUES:
        raise BankError(f"feedbackValue must be one of {', '.join(FEEDBACK_VALUES)}")
    tags = raw.get("tags") or []
    if (
        not isinstance(tags, list)
        or not all(isinstance(t, str) and len(t) <= 64 for t in tags)
        or len(tags) > 32
    ):
        raise BankError("tags must be a list of at most 32 strings of at most 64 characters")
    return Feedback(str(value), sorted(set(tags)))


def record_feedback(
    session: Session,
    source: str,
    items: Iterable[tuple[HashInput, Feedback]],
    *,
    actor: str,
    bank_names: Sequence[str] = (),
) -> tuple[int, int]:
    """Each partner's latest feedback per entry (a new one replaces its earlier one). Returns (hashes known,
    entries updated); an unknown hash is counted, not an error (the partner may have it from elsewhere)."""
    known = updated = 0
    for hashed, given in items:
        query = select(Entry.id).where(Entry.signal_type == hashed.signal_type, Entry.value == hashed.value)
        if bank_names:
            query = query.where(Entry.bank_id.in_(select(Bank.id).where(Bank.name.in_(list(bank_names)))))
        entries = session.scalars(query).all()
        known += bool(entries)
        for entry_id in entries:
            row = session.scalar(
                select(PartnerFeedback).where(
                    PartnerFeedback.entry_id == entry_id, PartnerFeedback.source == source
                )
            )
            if row is None:
                session.add(
                    PartnerFeedback(entry_id=entry_id, source=source, value=given.value, tags=given.tags)
                )
            else:
                row.value, row.tags, row.at = given.value, given.tags, datetime.now(UTC)
            updated += 1
    session.flush()
    service.audit(session, actor, "stopncii.feedback", f"partner:{source}", hashes=known, entries=updated)
    return known, updated


def parse_submission(body: Any) -> list[tuple[HashInput, list[Feedback]]]:
    """``{"count", "hashRecords": [{signalType, hashValue, CSPFeedbacks}]}``, every record checked first."""
    if not isinstance(body, dict) or not isinstance(body.get("hashRecords"), list):
        raise BankError('send {"count": N, "hashRecords": [...]}')
    records = body["hashRecords"]
    if not records or len(records) > 10_000:
        raise BankError("hashRecords must hold 1 to 10000 records")
    parsed = []
    for position, record in enumerate(records):
        try:
            if not isinstance(record, dict):
                raise BankError("not an object")
            feedbacks = record.get("CSPFeedbacks") or []
            if not isinstance(feedbacks, list):
                raise BankError("CSPFeedbacks must be a list")
            parsed.append(
                (
                    signal_of(record.get("signalType"), record.get("hashValue")),
                    [feedback_from(f) for f in feedbacks],
                )
            )
        except BankError as exc:
            raise BankError(f"hashRecords[{position}]: {exc.detail}") from None
    return parsed


def records_in_dump(text: str) -> list[dict[str, Any]]:
    """Records of a StopNCII dump: a FetchHashes page, a list of pages or records, or JSON Lines of either."""
    try:
        documents: list[Any] = [json.loads(text)]
    except json.JSONDecodeError:
        try:
            documents = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise BankError(f"line {exc.lineno}: not JSON (a StopNCII dump is JSON or JSON Lines)") from None
    records: list[dict[str, Any]] = []

    def take(doc: Any) -> None:
        if isinstance(doc, list):
            for item in doc:
                take(item)
        elif isinstance(doc, dict) and isinstance(doc.get("hashRecords"), list):
            take(doc["hashRecords"])
        elif isinstance(doc, dict) and "hashValue" in doc:
            records.append(doc)
        else:
            raise BankError("expected FetchHashes pages or hash records (objects with hashValue)")

    take(documents)
    return records
