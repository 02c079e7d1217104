"""Tables of notice-and-removal (docs/REMOVAL.md): requests, the items they report, copies the sweep found,
the per-request record, and uploaders' complaints.

Why these tables:

* ``removal_requests``: one row per *valid* request (an invalid one is answered with what is missing and
  never stored). Its personal data (name, e-mail, signature, explanation, contact) is one AES-GCM blob
  (``bank.secrets.ContactCipher``, the request number bound in), never returned in exports meant for the
  Transparency Database; the secret that lets the requester follow it is stored hashed, like a case's.
  ``contact_digest`` (SHA-256 of the normalised e-mail) only counts requests per sender (Art. 23 flags).
* ``removal_items``: what the requester reported (a location, or the hashes her device made of a picture),
  and what the platform resolved it to (its ``content_id``) and did.
* ``removal_copies``: copies the sweep found among content already seen (exact and perceptual apart),
  each confirmed and removed, or dismissed with a reason, by a person.
* ``removal_log``: the request's own record, in order: received, validated, escalations, breach,
  removals, messages sent, complaints. Every row is also in the tamper-evident audit log.
* ``removal_complaints``: an uploader's internal complaint (DSA Art. 20) against a removal.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from redline.bank.models import Base, BigId, utcnow

REQUEST_STATUSES = ("open", "closed")
ITEM_STATUSES = ("pending", "removed", "refused")
COPY_STATUSES = ("pending", "removed", "dismissed")


class RemovalRequest(Base):
    __tablename__ = "removal_requests"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    #: The identifying number the requester is given (``TD-XXXX-XXXX-XXXX-XXXX``).
    number: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(255))
    #: ``redline.removal.jurisdictions`` code: which law's rules the request was validated under.
    jurisdiction: Mapped[str] = mapped_column(String(16))
    #: ``self`` (the person depicted) or ``agent`` (someone authorised to act for her).
    subject: Mapped[str] = mapped_column(String(8))
    #: DSA source type: ``ARTICLE_16`` (a notice) or ``TRUSTED_FLAGGER``.
    source_type: Mapped[str] = mapped_column(String(24), default="ARTICLE_16")
    #: Which declarations were made, and the version of their wording.
    statements: Mapped[dict[str, Any]] = mapped_column(default=dict)
    personal_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    contact_digest: Mapped[str] = mapped_column(String(64), index=True)
    #: A survivor case the requester linked (its secret was checked at filing).
    case_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    status: Mapped[str] = mapped_column(String(8), default="open")
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    deadline_at: Mapped[datetime] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    #: When the clock ran out with items still pending: recorded once, never cleared.
    breached_at: Mapped[datetime | None] = mapped_column(nullable=True)
    #: Hours-left marks whose escalation event was sent (``[24, 12, 4, 1]``).
    escalations: Mapped[list[str]] = mapped_column(default=list)
    #: Art. 23 flags (``bulk``, ``manifestly_unfounded``): shown to staff, never a reason to drop.
    flags: Mapped[list[str]] = mapped_column(default=list)


class RemovalItem(Base):
    __tablename__ = "removal_items"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("removal_requests.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    #: Where the requester saw it (a URL), if she said.
    location: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: The hashes her device made of the picture (``[{"type", "value", "quality"}]``), if she hashed one.
    hashes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    #: The platform's content it was resolved to.
    content_id: Mapped[str | None] = mapped_column(String(256), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    #: How it was removed (``removed``, ``disabled``), by whom and when.
    method: Mapped[str | None] = mapped_column(String(16), nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(nullable=True)
    #: The platform bank entries its hashes became (re-uploads are caught).
    entry_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)


class RemovalCopy(Base):
    __tablename__ = "removal_copies"
    __table_args__ = (
        Index("ix_removal_copies_request_id_api_key_id_content_id", "request_id", "api_key_id", "content_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("removal_requests.id"))
    content_id: Mapped[str] = mapped_column(String(256))
    api_key_id: Mapped[str] = mapped_column(String(24))
    partner_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: Same bytes (MD5 / SHA-256): an identical copy; else a perceptual near-duplicate.
    exact: Mapped[bool] = mapped_column(Boolean)
    signal_type: Mapped[str] = mapped_column(String(16))
    distance: Mapped[int] = mapped_column(Integer)
    #: Where it was found: ``seen`` (uploads checked with a content id), ``scan`` (the back catalogue).
    found_in: Mapped[str] = mapped_column(String(16))
    found_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(nullable=True)


class RemovalLog(Base):
    __tablename__ = "removal_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("removal_requests.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(128))
    #: ``received``, ``validated``, ``escalated``, ``breached``, ``item.removed`` ... ``message``.
    kind: Mapped[str] = mapped_column(String(32))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class RemovalComplaint(Base):
    __tablename__ = "removal_complaints"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("removal_requests.id"), index=True)
    content_id: Mapped[str] = mapped_column(String(256))
    #: The uploader's words (personal data: encrypted like the request's).
    text_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="open")
    #: ``upheld`` (the removal was wrong: the platform restores it) or ``rejected``, with reasons.
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(nullable=True)
