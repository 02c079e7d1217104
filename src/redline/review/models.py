"""Tables of the review queue, reviewer feedback into the bank, and console accounts.

Why feedback is per reviewer: an entry is quarantined when *K independent* reviewers reject it. One row per
(entry, reviewer) — a reviewer changing their mind replaces their verdict — so one person clicking "not
abuse" K times counts once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from redline.bank.models import Base, BigId, utcnow

ITEM_STATUSES = ("pending", "escalated", "decided")
#: ``confirm``: intimate-image abuse; ``reject``: not intimate-image abuse; ``escalate``: needs a senior look.
DECISIONS = ("confirm", "reject", "escalate")
VERDICTS = ("confirm", "reject")
ROLES = ("reviewer", "admin")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class ReviewItem(Base):
    """A match waiting for (or past) human review. The preview is the *platform's* content, kept only until
    the item is decided or ``preview_expires_at``; the survivor's image is never here (the bank has none)."""

    __tablename__ = "review_items"
    __table_args__ = (
        CheckConstraint(_in("status", ITEM_STATUSES), name="status"),
        Index("ix_review_items_queue", "status", "severity", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id"), index=True)
    bank_id: Mapped[int] = mapped_column(Integer)
    signal_type: Mapped[str] = mapped_column(String(16))
    distance: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(32))
    #: Higher is more urgent (exact or near-exact matches that were blocked first).
    severity: Mapped[int] = mapped_column(Integer, default=1)
    api_key_id: Mapped[str] = mapped_column(String(24))
    partner_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    content_id: Mapped[str | None] = mapped_column(String(256), nullable=True)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(nullable=True)
    preview_data: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    preview_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    preview_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    preview_expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    #: A video match (``redline.match.video.VideoOverlap.to_dict``): shares of each side found in the
    #: other and the matched time ranges of the upload and of the stored video. None for pictures.
    video: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True, default=None)


class ReviewDecision(Base):
    __tablename__ = "review_decisions"
    __table_args__ = (CheckConstraint(_in("decision", DECISIONS), name="decision"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("review_items.id"), index=True)
    #: ``user:<console user id>`` or ``key:<API key id>`` (a platform deciding in its own tools).
    reviewer: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)


class EntryFeedback(Base):
    """The latest verdict of one independent reviewer on one entry."""

    __tablename__ = "entry_feedback"
    __table_args__ = (
        UniqueConstraint("entry_id", "reviewer"),
        CheckConstraint(_in("verdict", VERDICTS), name="verdict"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id"), index=True)
    reviewer: Mapped[str] = mapped_column(String(64))
    verdict: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class EntryReviewState(Base):
    """Summary of the feedback on an entry, kept in step with ``entry_feedback``."""

    __tablename__ = "entry_review_state"

    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id"), primary_key=True)
    confirmed: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Quarantined because of rejections: the operator should audit the submission.
    flagged_for_audit: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConsoleUser(Base):
    __tablename__ = "console_users"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    #: argon2id hash; the password itself is never stored.
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(nullable=True)


class ConsoleSession(Base):
    """A signed-in browser. ``id`` is the SHA-256 of the cookie token, so a database leak reveals no
    usable session."""

    __tablename__ = "console_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("console_users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column(nullable=True)


class ConsoleSignInFailure(Base):
    """One failed console sign-in, kept for the throttle's window only.

    Why in the database: every worker process (``redline serve --workers N``) and every server behind one
    load balancer sees the same failures, so the limit holds per deployment rather than per process.
    ``key`` is the SHA-256 of the lower-cased username and the client address: neither is stored in clear.
    """

    __tablename__ = "console_sign_in_failures"
    __table_args__ = (Index("ix_console_sign_in_failures_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(index=True)


__all__ = [
    "DECISIONS",
    "ITEM_STATUSES",
    "ROLES",
    "ConsoleSession",
    "ConsoleSignInFailure",
    "ConsoleUser",
    "EntryFeedback",
    "EntryReviewState",
    "ReviewDecision",
    "ReviewItem",
]
