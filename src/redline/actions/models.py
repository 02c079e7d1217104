"""Tables of the moderation loop's first half: action rules, the match log and the webhook outbox.

Why an outbox: an event (a match, a decision, a quarantine) is written in the *same* transaction as the state
change it reports, so there is never a committed change without its event or an event for a change that
rolled back. A separate worker delivers outbox rows; a delivery is only marked done after the receiver
answered 2xx, so a crash anywhere produces a retry (same ``webhook-id``), never a loss.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from redline.bank.models import Base, BigId, utcnow

#: What a match asks the platform to do. ``block_and_review``: take the content down now and queue it for a
#: human; ``review``: queue only; ``block``: take down, no review; ``log``: record only.
ACTIONS = ("block_and_review", "block", "review", "log")
#: The actions that put a match in the review queue.
REVIEW_ACTIONS = ("block_and_review", "review")
DELIVERY_STATUSES = ("pending", "delivered", "dead")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class ActionRule(Base):
    """Operator rule: matches in ``bank`` (any if NULL) of ``signal_type`` (any if NULL) whose distance is in
    ``[min_distance, max_distance]`` get ``action``. The lowest ``priority`` among matching rules wins."""

    __tablename__ = "action_rules"
    __table_args__ = (
        CheckConstraint(_in("action", ACTIONS), name="action"),
        CheckConstraint("min_distance >= 0 AND max_distance >= min_distance", name="band"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bank_id: Mapped[int | None] = mapped_column(ForeignKey("banks.id"), nullable=True)
    signal_type: Mapped[str | None] = mapped_column(String(16), nullable=True)
    min_distance: Mapped[int] = mapped_column(Integer, default=0)
    max_distance: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(32))
    priority: Mapped[int] = mapped_column(Integer, default=100)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MatchLogEntry(Base):
    """Every match returned to a platform: what was asked, what matched, what was decided."""

    __tablename__ = "match_log"
    __table_args__ = (Index("ix_match_log_scan_id_content_id", "scan_id", "content_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    api_key_id: Mapped[str] = mapped_column(String(24), index=True)
    partner_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    content_id: Mapped[str | None] = mapped_column(String(256), nullable=True, index=True)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    query_type: Mapped[str] = mapped_column(String(16))
    query_value: Mapped[str] = mapped_column(Text)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id"), index=True)
    bank_id: Mapped[int] = mapped_column(Integer)
    distance: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(32))
    review_item_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    #: ``request`` (a platform's match call), ``scan`` (``redline scan`` over content already hosted) or
    #: ``retroactive`` (content checked earlier, found when a new entry went live: ``redline.retro``).
    origin: Mapped[str] = mapped_column(String(16), default="request", server_default="request")
    #: The scan that found it (``redline scan`` keeps the id in its state file), so a re-run is idempotent.
    scan_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class WebhookEndpoint(Base):
    """An operator-registered receiver. ``secrets``: ``[{"secret": "whsec_...", "expires_at": iso|None}]``,
    newest first; every unexpired one signs (rotation without a gap)."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str] = mapped_column(Text, default="")
    #: Event types delivered here; ``["*"]`` for all.
    event_types: Mapped[list[str]] = mapped_column(default=list)
    #: Only events about this partner's content (plus bank-wide ones); NULL: all events.
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"), nullable=True)
    secrets: Mapped[list[Any]] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookEvent(Base):
    """One event; ``id`` is the ``webhook-id`` every delivery and retry of it carries."""

    __tablename__ = "webhook_events"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    type: Mapped[str] = mapped_column(String(64), index=True)
    partner_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    """One event to one endpoint: the unit the worker claims, retries and dead-letters."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint(_in("status", DELIVERY_STATUSES), name="status"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("webhook_events.id"), index=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: A worker that claimed the row owns it until then; after a crash the row is claimable again.
    lease_until: Mapped[datetime | None] = mapped_column(nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)


class WebhookAttempt(Base):
    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_deliveries.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
