"""Tables of the hash bank (SQLAlchemy 2). Alembic migrations in ``migrations/`` create exactly these.

Why these tables:

* ``entries`` hold one hash each; a hash is never deleted, only its ``status`` changes, so a survivor's
  submission is never lost and a withdrawal is a recorded fact.
* ``changes`` is the ordered change log of entries (one row per entry state change, ``seq`` monotonic in
  commit order). It is at once the partner feed and the way every server process keeps its in-memory match
  index live. Rows whose entry left the ``active`` state carry no hash value (a tombstone).
* ``audit_log`` is append-only (database triggers refuse UPDATE and DELETE): who changed what, when.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: SQLite only auto-increments an ``INTEGER PRIMARY KEY``; PostgreSQL gets a 64-bit identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")

ENTRY_STATUSES = ("active", "withdrawn", "quarantined", "expired")
ENTRY_SOURCES = ("case", "partner", "import")
CASE_STATUSES = ("active", "withdrawn")
SCOPES = ("submit", "match", "feed", "review", "admin", "audit", "flag")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both databases (SQLite stores no zone: we add it back on read)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime(),
        dict[str, Any]: JSON(),
        list[str]: JSON(),
    }


class Bank(Base):
    __tablename__ = "banks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    #: Largest distance counted as a match, per signal type name (``{"pdq": 31}``); absent: type default.
    thresholds: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: What a match in this bank asks the platform to do until a moderation policy decides otherwise.
    default_action: Mapped[str] = mapped_column(String(32), default="review")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The mirror (``redline.mirror``) that fills this bank from a hub's feed; such a bank is read-only:
    #: nothing but its mirror adds entries or changes their status (the hub owns them).
    mirror: Mapped[str | None] = mapped_column(String(64), nullable=True, default=None)


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (CheckConstraint(_in("status", CASE_STATUSES), name="status"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"), index=True)
    #: SHA-256 (``sha256$...``; argon2id for secrets issued before 2026-12) of the case secret, which is
    #: shown once and never stored (bank/secrets.py).
    secret_hash: Mapped[str] = mapped_column(String(255))
    #: What the submitter attested to, and the version of the attestation text they were shown.
    attestation: Mapped[dict[str, Any]] = mapped_column()
    #: Optional contact details, AES-GCM encrypted (nonce + ciphertext); never returned by the API.
    contact_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(nullable=True)
    #: Third-party cases (``redline intake``, docs/INTAKE.md): the ``flag`` key that filed the case for the
    #: person depicted; None for a case the person (or her helper) submitted herself.
    flagged_by: Mapped[str | None] = mapped_column(String(24), nullable=True, index=True)
    #: When the person depicted claimed a third-party case (set her own secret); None until then.
    claimed_at: Mapped[datetime | None] = mapped_column(nullable=True)


class CaseManifest(Base):
    """The intake manifest of a third-party case: a signed note made on the flagger's machine (hashes, sizes,
    media types, times; never names), kept for the case's evidence bundle. Its SHA-256 is in the log."""

    __tablename__ = "case_manifests"

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    #: The flagger's Ed25519 verifier key (C2SP vkey) that signed ``note``.
    signer: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class Entry(Base):
    __tablename__ = "entries"
    __table_args__ = (
        CheckConstraint(_in("status", ENTRY_STATUSES), name="status"),
        CheckConstraint(_in("source", ENTRY_SOURCES), name="source"),
        Index("ix_entries_signal_type_value", "signal_type", "value"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"), index=True)
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id"), index=True, nullable=True)
    #: Which picture or video of its submission the hash came from (0, 1, ...), when the submitter said so.
    #: A picture is stored as many entries (pdq, its pdq_region hashes, md5, sha256); review feedback that
    #: quarantines one of them quarantines the item's other entries with it (``redline.review.queue``).
    item: Mapped[int | None] = mapped_column(Integer, nullable=True)
    signal_type: Mapped[str] = mapped_column(String(16))
    #: Canonical text of the type's value format (``SignalType.normalize``: hex for bit and byte hashes,
    #: base64 for float vectors). Text, so a PhotoDNA or TMK value fits without a migration (m004).
    value: Mapped[str] = mapped_column(Text)
    quality: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    #: Video frame hashes (``vpdq``): where in the survivor's video the frame is (ms), for the matched time
    #: ranges a reviewer sees; None for every other hash.
    frame_ms: Mapped[int | None] = mapped_column(Integer, nullable=True, default=None)
    source: Mapped[str] = mapped_column(String(16))
    #: Who added it outside a case: API key id for partners, ``import:<name>`` for operator imports.
    origin: Mapped[str] = mapped_column(String(128), default="")
    tags: Mapped[list[str]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Change(Base):
    """One entry state change, in commit order. ``value`` is NULL once the entry is no longer active."""

    __tablename__ = "changes"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    entry_id: Mapped[int] = mapped_column(BigInteger, index=True)
    bank_id: Mapped[int] = mapped_column(Integer)
    signal_type: Mapped[str] = mapped_column(String(16))
    value: Mapped[str | None] = mapped_column(Text, nullable=True)
    quality: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    tags: Mapped[list[str]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Partner(Base):
    __tablename__ = "partners"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"

    #: Public part of the key (``rk_<id>_<secret>``): finds the row without a search over hashes.
    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"), nullable=True)
    name: Mapped[str] = mapped_column(String(128))
    #: SHA-256 (hex) of the 256-bit secret part. See ``redline.bank.secrets`` for why not argon2.
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)


class MatchEvent(Base):
    """A platform's query matched an entry: counted for the survivor's case page, never shows content."""

    __tablename__ = "match_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id"), index=True)
    api_key_id: Mapped[str] = mapped_column(String(24))
    distance: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEvent(Base):
    """Append-only: the migrations install triggers that refuse UPDATE and DELETE on this table."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    #: ``case:<id>``, ``key:<id>``, ``cli``, ``system``.
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(128))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
