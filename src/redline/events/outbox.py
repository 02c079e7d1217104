"""Writing events: one ``webhook_events`` row and one pending delivery per subscribed endpoint.

Event types (``type`` in the payload, and what endpoints subscribe to; docs/MODERATION.md, Webhooks):

* ``match.created`` — a platform's upload (or query) matched a picture or entry (that platform's endpoints);
* ``review.decided`` — a reviewer decided a review item (that platform's endpoints);
* ``entry.quarantined`` / ``entry.withdrawn`` — entries stopped matching (bank-wide);
* ``entry.verified`` — review confirmed an entry (bank-wide);
* ``removal.*`` — notice-and-removal (docs/REMOVAL.md): a request was received, an escalation mark or the
  deadline passed, content was removed (with the uploader's statement of reasons), a request was closed
  (the outcome told), an uploader complained. Request numbers only, never the requester's details.

Every ``entry.*`` event lists the entries it is about as ``entry_ids`` (:func:`emit_entry_event` is the only
way to write one), so a receiver handles one shape whoever caused the change.
"""

from __future__ import annotations

import secrets as random_tokens
from collections.abc import Sequence
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from redline.actions.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from redline.bank.models import utcnow

EVENT_TYPES = (
    "match.created",
    "review.decided",
    "entry.quarantined",
    "entry.verified",
    "entry.withdrawn",
    "removal.received",
    "removal.escalated",
    "removal.breached",
    "removal.content_removed",
    "removal.closed",
    "removal.complaint",
)
ENTRY_EVENT_TYPES = tuple(t for t in EVENT_TYPES if t.startswith("entry."))


def new_event_id() -> str:
    return "msg_" + random_tokens.token_urlsafe(18)


def emit(session: Session, event_type: str, data: dict[str, Any], *, partner_id: int | None = None) -> str:
    """Write an event and one pending delivery per subscribed endpoint, in the caller's transaction.

    ``partner_id``: the platform the event concerns (its match, its content's review); endpoints bound to
    another partner do not get it. ``None``: a bank-wide event every subscribed endpoint gets.
    Nothing is stored when no endpoint subscribes. Returns the event id (the ``webhook-id``).
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    if event_type in ENTRY_EVENT_TYPES and not isinstance(data.get("entry_ids"), list):
        raise ValueError(f"{event_type} lists its entries as entry_ids (use emit_entry_event)")
    now = utcnow()
    event_id = new_event_id()
    query = select(WebhookEndpoint).where(WebhookEndpoint.enabled.is_(True))
    if partner_id is not None:
        query = query.where(
            or_(WebhookEndpoint.partner_id.is_(None), WebhookEndpoint.partner_id == partner_id)
        )
    subscribers = [e for e in session.scalars(query) if "*" in e.event_types or event_type in e.event_types]
    if not subscribers:  # nobody to tell: the audit log and match log already keep the record
        return event_id
    payload = {"type": event_type, "timestamp": now.isoformat(), "data": data}
    session.add(
        WebhookEvent(id=event_id, type=event_type, partner_id=partner_id, payload=payload, created_at=now)
    )
    session.flush()
    session.add_all(
        WebhookDelivery(
            event_id=event_id,
            endpoint_id=endpoint.id,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        for endpoint in subscribers
    )
    return event_id


def emit_entry_event(
    session: Session, event_type: str, entry_ids: Sequence[int], **fields: Any
) -> str | None:
    """A bank-wide ``entry.*`` event about ``entry_ids`` (none is written for no entries). Carries entry ids
    and the caller's ``fields`` only: never the case, never who submitted."""
    if event_type not in ENTRY_EVENT_TYPES:
        raise ValueError(f"{event_type!r} is not an entry event")
    if not entry_ids:
        return None
    return emit(session, event_type, {"entry_ids": list(entry_ids), **fields})
