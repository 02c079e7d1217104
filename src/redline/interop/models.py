"""Tables of the interop layer.

* ``hma_banks`` maps an HMA bank name (``COOP_<ORG>_<NAME>``: upper case, up to 255 characters, which a
  Redline bank name cannot be) to a Redline bank, per owner (the partner whose key made it), so two
  platforms' Coop deployments on one hub never see or delete each other's banks.
* ``partner_feedback`` keeps the latest StopNCII-style feedback (``Blocked``, ``NotBlocked`` ...) each
  partner gave on an entry; it is served back in ``CSPFeedbacks``.
* ``stopncii_pulls`` is the resumable position of a puller reading a StopNCII-shaped API into a local bank.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from redline.bank.models import Base, BigId, utcnow


class HmaBank(Base):
    __tablename__ = "hma_banks"
    __table_args__ = (UniqueConstraint("owner", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The name exactly as the HMA client spells it (lookup results echo it; Coop compares case-sensitively).
    name: Mapped[str] = mapped_column(String(255))
    #: ``partner:<name>`` or ``key:<id>``: who may see, change and delete this mapping.
    owner: Mapped[str] = mapped_column(String(160))
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"), index=True)
    #: HMA's ``matching_enabled_ratio``: the share of lookups in which this bank takes part.
    ratio: Mapped[float] = mapped_column(Float, default=1.0)
    #: True when the HMA client created the Redline bank; False for an operator's link to an existing bank
    #: (e.g. ``survivors``), which a client's delete or ratio change never disables for everyone else.
    created_bank: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PartnerFeedback(Base):
    __tablename__ = "partner_feedback"
    __table_args__ = (UniqueConstraint("entry_id", "source"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id"), index=True)
    #: The partner's name (or ``key:<id>`` for a key without a partner).
    source: Mapped[str] = mapped_column(String(160))
    value: Mapped[str] = mapped_column(String(32))
    tags: Mapped[list[str]] = mapped_column(default=list)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class StopnciiPull(Base):
    __tablename__ = "stopncii_pulls"

    #: The source's name (provenance of its entries: ``origin = stopncii:<name>``).
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"))
    #: ``nextSetTimestamp`` of the last complete run: where the next run starts.
    checkpoint: Mapped[int] = mapped_column(BigId, default=0)
    records: Mapped[int] = mapped_column(BigId, default=0)
    last_error: Mapped[str] = mapped_column(String(512), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
