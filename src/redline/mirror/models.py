"""Tables of mirrors (docs/MIRRORS.md).

* ``mirrors``: one hub feed mirrored into one local bank: where it is (``position``: the hub change-log
  row after which the next page starts; ``head``: the highest hub position a signed page has shown, so a
  hub rolled back to an older state is noticed), the hub keys pinned for its signatures, and its health.
* ``mirror_entries``: which local entry stands for which hub entry. The primary key makes re-applying a
  page harmless (nothing is stored twice), and tombstones, which carry only the hub's entry id, find the
  local entry through it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from redline.bank.models import Base, BigId, utcnow


class Mirror(Base):
    __tablename__ = "mirrors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"), unique=True)
    #: Hub banks to mirror (empty: every bank the feed key may read).
    from_banks: Mapped[list[str]] = mapped_column(default=list)
    #: The hub's ``feed`` API key, AES-GCM encrypted with the instance's contact key (never shown again).
    key_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    #: Verifier keys (C2SP ``name+hash+base64``) whose signature a page must carry.
    pinned_keys: Mapped[list[str]] = mapped_column(default=list)
    position: Mapped[int] = mapped_column(BigId, default=0)
    head: Mapped[int] = mapped_column(BigId, default=0)
    #: SHA-256 of the last accepted signed page (its note), for the operator to compare with the hub's log.
    page_hash: Mapped[str] = mapped_column(String(64), default="")
    #: Last review decision (``review_decisions.id``) whose verdict was sent back to the hub.
    feedback_position: Mapped[int] = mapped_column(BigId, default=0)
    applied: Mapped[int] = mapped_column(BigId, default=0)
    #: Pages refused for integrity (unsigned, altered, replayed, rolled back): an alert when it grows.
    refused: Mapped[int] = mapped_column(BigId, default=0)
    last_error: Mapped[str] = mapped_column(String(512), default="")
    last_error_at: Mapped[datetime | None] = mapped_column(nullable=True)
    #: When the mirror last read the hub's feed to its end.
    synced_at: Mapped[datetime | None] = mapped_column(nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Which server process syncs it now (several processes run the worker; one syncs each mirror).
    lease_owner: Mapped[str] = mapped_column(String(64), default="")
    lease_until: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MirrorEntry(Base):
    __tablename__ = "mirror_entries"

    mirror: Mapped[str] = mapped_column(ForeignKey("mirrors.name"), primary_key=True)
    remote_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id"), index=True, unique=True)
