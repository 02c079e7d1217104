"""Removal requests: filing (validated per jurisdiction, the clock started), what the requester sees, what
staff decide (items resolved and removed or refused, Art. 23 flags), and closing with the outcome.

Every change writes, in its own transaction, a ``removal_log`` row (the request's record), an audit row
(the tamper-evident log) and, where the platform's systems must act, a ``removal.*`` webhook event. No
FastAPI here.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from redline.bank.audit import audit
from redline.bank.banks import ensure_bank
from redline.bank.cases import authenticate_case
from redline.bank.entries import insert_entries
from redline.bank.errors import BankError, Conflict, Invalid, NotFound, WrongSecret
from redline.bank.hashes import HashInput, normalize_hash
from redline.bank.models import Entry, utcnow
from redline.bank.secrets import ContactCipher, hash_case_secret, new_case_secret, verify_case_secret
from redline.bank.status import change_status
from redline.events import emit
from redline.removal.jurisdictions import STATEMENTS_VERSION, jurisdiction
from redline.removal.models import RemovalComplaint, RemovalCopy, RemovalItem, RemovalLog, RemovalRequest
from redline.removal.validation import FieldProblem, RequestForm, validate
from redline.retro.models import SeenHash, SeenUpload

#: Why an item is refused; the requester is told the reason in words (form catalogs: ``outcome.reason.*``).
REFUSAL_REASONS = (
    "not_found",
    "not_intimate",
    "consent_shown",
    "not_the_requester",
    "insufficient_information",
    "manifestly_unfounded",
    "already_removed",
)
#: Why a copy the sweep found is dismissed.
DISMISS_REASONS = ("not_the_same_picture", "already_removed", "lawful_use", "other")
REMOVAL_METHODS = ("removed", "disabled")
FLAGS = ("bulk", "manifestly_unfounded")
#: More requests than this from one e-mail address within a day flags the newest ``bulk`` (Art. 23).
BULK_PER_DAY = 10


class Refused(BankError):
    """A staff action that does not fit the request (a reason not in the list, no content id yet)."""

    code = "invalid-request"


class InvalidRequest(Invalid):
    """A request that does not meet its jurisdiction's rules: every problem, each with its field."""

    code = "validation-error"

    def __init__(self, problems: Sequence[FieldProblem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = list(problems)


def new_request_number() -> str:
    """``TD-XXXX-XXXX-XXXX-XXXX``: 80 random bits, read aloud like a case number."""
    raw = base64.b32encode(secrets.token_bytes(10)).decode()
    return "TD-" + "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def normal_number(typed: str) -> str:
    return "".join(typed.split()).upper()[:32]


def contact_digest(email: str) -> str:
    """Counts requests per sender without keeping the address in clear (it is in the encrypted blob)."""
    return hashlib.sha256(f"redline-removal:{email.strip().casefold()}".encode()).hexdigest()


def log(session: Session, request: RemovalRequest, actor: str, kind: str, **details: Any) -> None:
    """One line of the request's record and the same fact in the audit log."""
    session.add(RemovalLog(request_id=request.id, at=utcnow(), actor=actor, kind=kind, details=details))
    audit(session, actor, f"removal.{kind}", f"removal:{request.number}", **details)


def told(session: Session, request: RemovalRequest, to: str, message: str, **details: Any) -> None:
    """A message sent (to the requester or, through the platform, the uploader), in the record."""
    log(session, request, "system", "message", to=to, message=message, **details)


@dataclass(frozen=True)
class NewRequest:
    request_id: int
    number: str
    secret: str
    received_at: datetime
    deadline_at: datetime
    jurisdiction: str
    flags: list[str]


def file_request(
    session: Session, form: RequestForm, cipher: ContactCipher, *, now: datetime | None = None
) -> NewRequest:
    """Validate ``form`` and, if valid, record it and start its clock. :class:`InvalidRequest` lists every
    problem; a linked case whose secret is wrong is one of them."""
    problems = validate(form)
    case_id: str | None = None
    if not problems and form.case_id.strip():
        try:
            case_id = authenticate_case(session, "".join(form.case_id.split()).upper(), form.case_secret).id
        except WrongSecret:
            problems = [FieldProblem("case_id", "case.wrong", "That case number and secret do not match.")]
    if problems:
        raise InvalidRequest(problems)
    rules = jurisdiction(form.jurisdiction)
    received = now or utcnow()
    number, secret = new_request_number(), new_case_secret()
    digest = contact_digest(form.email)
    recent = session.scalar(
        select(func.count())
        .select_from(RemovalRequest)
        .where(
            RemovalRequest.contact_digest == digest,
            RemovalRequest.received_at >= received - timedelta(days=1),
        )
    )
    flags = ["bulk"] if int(recent or 0) >= BULK_PER_DAY else []
    personal = {
        "name": form.name.strip(),
        "email": form.email.strip(),
        "signature": form.signature.strip(),
        "phone": form.phone.strip(),
        "explanation": form.explanation.strip(),
        "notice_reference": form.notice_reference.strip(),
    }
    request = RemovalRequest(
        number=number,
        secret_hash=hash_case_secret(secret),
        jurisdiction=rules.code,
        subject=form.subject,
        source_type="TRUSTED_FLAGGER" if form.trusted_flagger else "ARTICLE_16",
        statements={"made": sorted(form.statements), "version": STATEMENTS_VERSION},
        personal_encrypted=cipher.encrypt(json.dumps(personal), number),
        contact_digest=digest,
        case_id=case_id,
        status="open",
        received_at=received,
        deadline_at=received + rules.period,
        escalations=[],
        flags=flags,
    )
    session.add(request)
    session.flush()
    position = 0
    for location in form.locations:
        session.add(
            RemovalItem(request_id=request.id, position=position, location=location.strip(), hashes=[])
        )
        position += 1
    for picture in form.pictures:
        hashes = [{"type": h.signal_type, "value": h.value, "quality": h.quality} for h in picture]
        session.add(RemovalItem(request_id=request.id, position=position, hashes=hashes))
        position += 1
    session.flush()
    log(session, request, "requester", "received", jurisdiction=rules.code, items=position)
    log(
        session,
        request,
        "system",
        "validated",
        law=rules.law,
        deadline_at=request.deadline_at.isoformat(),
        flags=flags,
        linked_case=case_id is not None,
    )
    told(session, request, "requester", "acknowledgement", deadline_at=request.deadline_at.isoformat())
    emit(
        session,
        "removal.received",
        {
            "request": number,
            "jurisdiction": rules.code,
            "deadline_at": request.deadline_at.isoformat(),
            "items": position,
            "flags": flags,
        },
    )
    return NewRequest(request.id, number, secret, received, request.deadline_at, rules.code, flags)


def authenticate_request(session: Session, number: str, secret: str) -> RemovalRequest:
    """The request, if ``secret`` is its secret; unknown number and wrong secret look the same."""
    request = session.scalar(select(RemovalRequest).where(RemovalRequest.number == normal_number(number)))
    if not verify_case_secret(request.secret_hash if request else None, secret) or request is None:
        raise WrongSecret("unknown request number or wrong secret")
    return request


def get_request(session: Session, number: str, *, for_update: bool = False) -> RemovalRequest:
    query = select(RemovalRequest).where(RemovalRequest.number == normal_number(number))
    request = session.scalar(query.with_for_update() if for_update else query)
    if request is None:
        raise NotFound("no such removal request")
    return request


def personal_details(request: RemovalRequest, cipher: ContactCipher) -> dict[str, str]:
    """The requester's details, for staff who must contact her; never in exports for the database."""
    details: dict[str, str] = json.loads(cipher.decrypt(request.personal_encrypted, request.number))
    return details


def items_of(session: Session, request_id: int) -> list[RemovalItem]:
    return list(
        session.scalars(
            select(RemovalItem).where(RemovalItem.request_id == request_id).order_by(RemovalItem.position)
        )
    )


def copies_of(session: Session, request_id: int) -> list[RemovalCopy]:
    return list(
        session.scalars(
            select(RemovalCopy)
            .where(RemovalCopy.request_id == request_id)
            .order_by(RemovalCopy.exact.desc(), RemovalCopy.distance, RemovalCopy.id)
        )
    )


def record_of(session: Session, request_id: int) -> list[RemovalLog]:
    return list(
        session.scalars(select(RemovalLog).where(RemovalLog.request_id == request_id).order_by(RemovalLog.id))
    )


def _item(session: Session, request: RemovalRequest, item_id: int) -> RemovalItem:
    item = session.get(RemovalItem, item_id, with_for_update=True)
    if item is None or item.request_id != request.id:
        raise NotFound("no such item in this request")
    return item


def resolve_item(
    session: Session, request: RemovalRequest, item_id: int, content_id: str, *, actor: str
) -> None:
    """The platform says which of its content the reported item is."""
    item = _item(session, request, item_id)
    if item.status != "pending":
        raise Conflict("this item is already decided")
    content_id = content_id.strip()
    if not content_id or len(content_id) > 256:
        raise Refused("a content id has 1 to 256 characters")
    item.content_id = content_id
    log(session, request, actor, "item.resolved", item=item.position, content_id=content_id)


def item_hashes(session: Session, item: RemovalItem) -> list[HashInput]:
    """What the item is known by: the hashes the requester's device made, and those the platform's content
    was checked with (``seen_hashes``, when it was checked with its content id)."""
    found = [normalize_hash(h["type"], h["value"], h.get("quality")) for h in item.hashes]
    if item.content_id:
        rows = session.execute(
            select(SeenHash.signal_type, SeenHash.value, SeenHash.label)
            .join(SeenUpload, SeenUpload.id == SeenHash.upload_id)
            .where(SeenUpload.content_id == item.content_id)
        ).all()
        for kind, value, label in rows:
            if kind == "pdq_region" and label != "full":
                continue  # the mirror of an upload is not a picture anyone stored
            found.append(normalize_hash(kind, value))
    unique: dict[tuple[str, str], HashInput] = {(h.signal_type, h.value): h for h in found}
    return list(unique.values())


def remove_item(
    session: Session,
    request: RemovalRequest,
    item_id: int,
    *,
    method: str,
    actor: str,
    bank_name: str,
    now: datetime | None = None,
) -> RemovalItem:
    """Record the removal (who, when, how), put the item's hashes in the platform bank so re-uploads are
    caught, and tell the platform's systems (``removal.content_removed``, with the uploader's statement of
    reasons)."""
    if method not in REMOVAL_METHODS:
        raise Refused(f"method is one of {', '.join(REMOVAL_METHODS)}")
    item = _item(session, request, item_id)
    if item.status != "pending":
        raise Conflict("this item is already decided")
    if not item.content_id and not item.hashes:
        raise Refused("say which content this is (its content id) before removing it")
    at = now or utcnow()
    hashes = item_hashes(session, item)
    if hashes:
        bank = ensure_bank(session, bank_name, actor)
        item.entry_ids = insert_entries(
            session, bank, hashes, source="partner", origin=f"removal:{request.number}", tags=[]
        )
        audit(
            session,
            actor,
            "entries.added",
            f"bank:{bank_name}",
            count=len(hashes),
            origin=f"removal:{request.number}",
        )
    item.status, item.method, item.decided_by, item.decided_at = "removed", method, actor, at
    late = at > request.deadline_at
    log(
        session,
        request,
        actor,
        "item.removed",
        item=item.position,
        content_id=item.content_id,
        method=method,
        within_deadline=not late,
        bank_entries=len(item.entry_ids),
    )
    if item.content_id:
        tell_uploader(session, request, item.content_id, method)
    close_if_done(session, request, now=at)
    return item


def tell_uploader(session: Session, request: RemovalRequest, content_id: str, method: str) -> None:
    rules = jurisdiction(request.jurisdiction)
    statement = {
        "content_id": content_id,
        "decision": method,
        "ground": rules.legal_ground,
        "facts": "A removal request reported this content as an intimate image shared without consent.",
        "automated": False,
        "redress": "You can complain about this decision (internal complaint) and use out-of-court dispute "
        "settlement or the courts.",
    }
    emit(session, "removal.content_removed", {"request": request.number, "statement_of_reasons": statement})
    told(session, request, "uploader", "statement_of_reasons", content_id=content_id)


def refuse_item(
    session: Session, request: RemovalRequest, item_id: int, *, reason: str, note: str, actor: str
) -> RemovalItem:
    """Refuse one item, with a reason the requester is told."""
    if reason not in REFUSAL_REASONS:
        raise Refused(f"reason is one of {', '.join(REFUSAL_REASONS)}")
    item = _item(session, request, item_id)
    if item.status != "pending":
        raise Conflict("this item is already decided")
    item.status, item.reason, item.note = "refused", reason, note.strip()[:4000]
    item.decided_by, item.decided_at = actor, utcnow()
    log(session, request, actor, "item.refused", item=item.position, reason=reason)
    close_if_done(session, request)
    return item


def close_if_done(session: Session, request: RemovalRequest, *, now: datetime | None = None) -> bool:
    """Once every item is decided, the request is closed and the requester told the outcome (reasons for
    each refusal). Copies the sweep finds may still be decided afterwards."""
    items = items_of(session, request.id)
    if request.status != "open" or any(i.status == "pending" for i in items):
        return False
    at = now or utcnow()
    request.status, request.closed_at = "closed", at
    outcome = outcome_of(items)
    refusals = sorted({i.reason for i in items if i.status == "refused" and i.reason})
    log(session, request, "system", "closed", outcome=outcome, within_deadline=at <= request.deadline_at)
    told(session, request, "requester", "outcome", outcome=outcome, reasons=refusals)
    emit(session, "removal.closed", {"request": request.number, "outcome": outcome, "reasons": refusals})
    return True


def outcome_of(items: Sequence[RemovalItem]) -> str:
    removed = sum(1 for i in items if i.status == "removed")
    if any(i.status == "pending" for i in items):
        return "pending"
    if removed == len(items):
        return "removed"
    return "partly_removed" if removed else "refused"


def flag(session: Session, request: RemovalRequest, name: str, *, note: str, actor: str) -> None:
    """An Art. 23 flag (bulk or manifestly unfounded requests): shown and recorded, never a silent drop;
    the items still each get a decision and the requester an outcome."""
    if name not in FLAGS:
        raise Refused(f"flag is one of {', '.join(FLAGS)}")
    if name not in request.flags:
        request.flags = [*request.flags, name]
    log(session, request, actor, "flagged", flag=name, note=note.strip()[:4000])


# --- complaints (DSA Art. 20) ---------------------------------------------------------------------------

COMPLAINT_DECISIONS = ("upheld", "rejected")


def file_complaint(
    session: Session,
    request: RemovalRequest,
    *,
    content_id: str,
    text: str,
    cipher: ContactCipher,
    actor: str,
) -> RemovalComplaint:
    """An uploader's complaint against a removal, passed on by the platform."""
    removed = {i.content_id for i in items_of(session, request.id) if i.status == "removed"}
    removed |= {c.content_id for c in copies_of(session, request.id) if c.status == "removed"}
    if content_id not in removed:
        raise NotFound("nothing with this content id was removed under this request")
    complaint = RemovalComplaint(
        request_id=request.id,
        content_id=content_id,
        text_encrypted=cipher.encrypt(text, f"{request.number}:{content_id}"),
        received_at=utcnow(),
        status="open",
    )
    session.add(complaint)
    session.flush()
    log(session, request, actor, "complaint.received", complaint=complaint.id, content_id=content_id)
    emit(
        session, "removal.complaint", {"request": request.number, "complaint": complaint.id, "status": "open"}
    )
    return complaint


def decide_complaint(
    session: Session, request: RemovalRequest, complaint_id: int, *, decision: str, reason: str, actor: str
) -> RemovalComplaint:
    if decision not in COMPLAINT_DECISIONS:
        raise Refused(f"decision is one of {', '.join(COMPLAINT_DECISIONS)}")
    if not reason.strip():
        raise Refused("a complaint's decision gives its reasons")
    complaint = session.get(RemovalComplaint, complaint_id, with_for_update=True)
    if complaint is None or complaint.request_id != request.id:
        raise NotFound("no such complaint on this request")
    if complaint.status != "open":
        raise Conflict("this complaint is already decided")
    complaint.status, complaint.decision_reason = decision, reason.strip()[:4000]
    complaint.decided_by, complaint.decided_at = actor, utcnow()
    released = 0
    if decision == "upheld":
        # The removal was wrong: its hashes stop catching re-uploads (the platform restores the content).
        entry_ids = [
            e
            for i in items_of(session, request.id)
            if i.content_id == complaint.content_id
            for e in i.entry_ids
        ]
        if entry_ids:
            entries = session.scalars(select(Entry).where(Entry.id.in_(entry_ids)).with_for_update()).all()
            released = len(
                change_status(
                    session,
                    entries,
                    "withdrawn",
                    actor=actor,
                    reason="complaint upheld",
                    subject=f"removal:{request.number}",
                )
            )
    log(
        session,
        request,
        actor,
        "complaint.decided",
        complaint=complaint.id,
        decision=decision,
        released=released,
    )
    emit(
        session,
        "removal.complaint",
        {
            "request": request.number,
            "complaint": complaint.id,
            "status": decision,
            "content_id": complaint.content_id,
        },
    )
    told(session, request, "uploader", "complaint_decision", complaint=complaint.id, decision=decision)
    return complaint
