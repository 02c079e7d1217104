"""A request's record, as a compliance lead or a lawyer needs it: JSON, CSV and the statements of reasons
for the DSA Transparency Database.

The record (:func:`record`) holds everything about the request: received, validated, items, removals
with times, copies found and decided, who acted, messages sent. The requester's personal details are in
it only when asked for (``personal=True``: staff who must answer her); :func:`dsa_statements` never has
them, nor anything else about a person: they are what the platform sends to the Commission.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from redline.bank.secrets import ContactCipher
from redline.removal.jurisdictions import jurisdiction
from redline.removal.models import RemovalComplaint, RemovalRequest
from redline.removal.requests import copies_of, items_of, outcome_of, personal_details, record_of

#: The Transparency Database's category and keyword for intimate images shared without consent; kept in
#: one place because the Commission revises its taxonomy (check against the API's current schema).
DSA_CATEGORY = "STATEMENT_CATEGORY_NON_CONSENSUAL_BEHAVIOUR"
DSA_KEYWORD = "KEYWORD_NON_CONSENSUAL_IMAGE_SHARING"
_EXPLANATION = "Intimate image shared without the consent of the person shown, reported in a removal request"
_VISIBILITY = {
    "removed": "DECISION_VISIBILITY_CONTENT_REMOVED",
    "disabled": "DECISION_VISIBILITY_CONTENT_DISABLED",
}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _hours(start: datetime, end: datetime | None) -> float | None:
    return round((end - start).total_seconds() / 3600, 3) if end else None


def record(
    session: Session, request: RemovalRequest, *, cipher: ContactCipher | None = None, personal: bool = False
) -> dict[str, Any]:
    """The whole record of ``request`` (``personal``: with the requester's details, needs ``cipher``)."""
    rules = jurisdiction(request.jurisdiction)
    items = items_of(session, request.id)
    copies = copies_of(session, request.id)
    by_request = RemovalComplaint.request_id == request.id
    complaints = session.scalars(
        select(RemovalComplaint).where(by_request).order_by(RemovalComplaint.id)
    ).all()
    removed_at = [i.decided_at for i in items if i.status == "removed" and i.decided_at]
    out: dict[str, Any] = {
        "request": request.number,
        "jurisdiction": {
            "code": rules.code,
            "law": rules.law,
            "period_hours": rules.period.total_seconds() / 3600,
            "period_is_policy": rules.period_is_policy,
        },
        "subject": request.subject,
        "source_type": request.source_type,
        "statements": request.statements,
        "linked_case": request.case_id is not None,
        "status": request.status,
        "outcome": outcome_of(items),
        "received_at": _iso(request.received_at),
        "deadline_at": _iso(request.deadline_at),
        "closed_at": _iso(request.closed_at),
        "breached_at": _iso(request.breached_at),
        "escalations": list(request.escalations),
        "flags": list(request.flags),
        "hours_to_removal": _hours(request.received_at, max(removed_at)) if removed_at else None,
        "within_deadline": all(d <= request.deadline_at for d in removed_at) and request.breached_at is None
        if removed_at
        else None,
        "items": [
            {
                "id": i.id,
                "position": i.position,
                "location": i.location,
                "hashed_on_device": bool(i.hashes),
                "content_id": i.content_id,
                "status": i.status,
                "reason": i.reason,
                "method": i.method,
                "decided_by": i.decided_by,
                "decided_at": _iso(i.decided_at),
                "hours_after_receipt": _hours(request.received_at, i.decided_at),
                "bank_entries": len(i.entry_ids),
            }
            for i in items
        ],
        "copies": [
            {
                "id": c.id,
                "content_id": c.content_id,
                "platform_key": c.api_key_id,
                "kind": "exact" if c.exact else "perceptual",
                "signal_type": c.signal_type,
                "distance": c.distance,
                "found_in": c.found_in,
                "found_at": _iso(c.found_at),
                "status": c.status,
                "reason": c.reason,
                "decided_by": c.decided_by,
                "decided_at": _iso(c.decided_at),
            }
            for c in copies
        ],
        "complaints": [
            {
                "id": c.id,
                "content_id": c.content_id,
                "received_at": _iso(c.received_at),
                "status": c.status,
                "decision_reason": c.decision_reason,
                "decided_by": c.decided_by,
                "decided_at": _iso(c.decided_at),
            }
            for c in complaints
        ],
        "people": sorted({r.actor for r in record_of(session, request.id)}),
        "log": [
            {"at": _iso(r.at), "actor": r.actor, "kind": r.kind, "details": r.details}
            for r in record_of(session, request.id)
        ],
    }
    if personal:
        if cipher is None:
            raise ValueError("the requester's details need the contact cipher")
        out["requester"] = personal_details(request, cipher)
    return out


CSV_COLUMNS = ("request", "at", "actor", "kind", "details")


def record_csv(data: dict[str, Any]) -> str:
    """The record's log as CSV (one line per fact, in order), after a header line per item and copy."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for line in data["log"]:
        details = "; ".join(f"{k}={v}" for k, v in sorted(line["details"].items()))
        writer.writerow([data["request"], line["at"], line["actor"], line["kind"], _safe(details)])
    return buffer.getvalue()


def _safe(cell: str) -> str:
    """Spreadsheets run a cell that starts with = + - @ as a formula: such a cell is quoted as text."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@") else cell


def dsa_statements(
    session: Session, request: RemovalRequest, *, platform_id: str = ""
) -> list[dict[str, Any]]:
    """One statement of reasons per removed item or copy, in the Transparency Database API's fields.

    No personal data: no requester, no uploader, no location text; ``puid`` is the platform's content id
    (prefix ``platform_id``), the only identifier the API asks for."""
    rules = jurisdiction(request.jurisdiction)
    out: list[dict[str, Any]] = []
    removed: list[tuple[str, str, datetime, bool]] = [
        (i.content_id, i.method or "removed", i.decided_at, False)
        for i in items_of(session, request.id)
        if i.status == "removed" and i.content_id and i.decided_at
    ]
    removed += [
        (c.content_id, c.reason or "removed", c.decided_at, True)
        for c in copies_of(session, request.id)
        if c.status == "removed" and c.decided_at
    ]
    for content_id, method, at, found_by_sweep in removed:
        out.append(
            {
                "decision_visibility": [_VISIBILITY.get(method, _VISIBILITY["removed"])],
                "decision_ground": "DECISION_GROUND_ILLEGAL_CONTENT",
                "illegal_content_legal_ground": rules.legal_ground,
                "illegal_content_explanation": _EXPLANATION
                + (" and found as a copy by hash matching." if found_by_sweep else "."),
                "category": DSA_CATEGORY,
                "category_specification": [DSA_KEYWORD],
                "content_type": ["CONTENT_TYPE_IMAGE"],
                "application_date": at.date().isoformat(),
                "decision_facts": "Removed after a notice; the uploader may complain through the internal "
                "complaint-handling system.",
                "source_type": "SOURCE_VOLUNTARY" if found_by_sweep else f"SOURCE_{request.source_type}",
                "automated_detection": "Yes" if found_by_sweep else "No",
                "automated_decision": "AUTOMATED_DECISION_NOT_AUTOMATED",
                "puid": f"{platform_id}{content_id}"[:500],
            }
        )
    return out
