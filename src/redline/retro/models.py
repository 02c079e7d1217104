"""Tables of retroactive matching: what a platform checked, as hashes only, for a limited time.

``seen_uploads`` is one row per checked piece of content (an upload to ``/v1/match/file``, hashes sent to
``/v1/match`` with a ``content_id``, a file of ``redline scan``): who checked it (the API key and its
partner), the platform's own ``content_id``, when, and how (``request`` or ``scan``). Its hashes are rows of
``seen_hashes`` (exact digests, PDQ, and the kept robust region hashes with their labels). Nothing else is
kept: no file, no pixels, no caller metadata. Rows older than the retention are deleted
(``redline.retro.seen.purge_expired``); deletion is real, not a flag.

``retro_cursor`` is the position in the change log up to which new entries were searched, moved in the
same transaction as the matches it produced, so a restarted worker neither misses nor repeats an entry.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from redline.bank.models import Base, BigId, utcnow

#: SQLite reuses the largest rowid once that row is deleted; the in-memory index follows new rows by id, so
#: ids here must only grow (AUTOINCREMENT; PostgreSQL's sequences never go back).
_GROWING_IDS = {"sqlite_autoincrement": True}


class SeenUpload(Base):
    __tablename__ = "seen_uploads"
    __table_args__ = (
        Index("ix_seen_uploads_api_key_id_content_id", "api_key_id", "content_id"),
        _GROWING_IDS,
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    api_key_id: Mapped[str] = mapped_column(String(24))
    partner_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    content_id: Mapped[str] = mapped_column(String(256))
    #: ``request`` (a match call) or ``scan`` (``redline scan``).
    origin: Mapped[str] = mapped_column(String(16), default="request")
    seen_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class SeenHash(Base):
    __tablename__ = "seen_hashes"
    __table_args__ = (Index("ix_seen_hashes_signal_type_value", "signal_type", "value"), _GROWING_IDS)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    upload_id: Mapped[int] = mapped_column(ForeignKey("seen_uploads.id", ondelete="CASCADE"), index=True)
    signal_type: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(Text)
    #: pdq_region only: the part of the upload the hash is of (``full``, ``mirror``...): it decides the
    #: threshold, as it does for the same hash in forward matching (``match.derive.region_allowance``).
    label: Mapped[str | None] = mapped_column(String(64), nullable=True)


class RetroCursor(Base):
    __tablename__ = "retro_cursor"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The change-log ``seq`` up to which new entries have been searched against the seen hashes.
    position: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
