"""Tables of the tamper-evident log (migration m006_tlog). The audit log itself is read, never written here.

* ``tlog_leaves``: leaf ``idx`` of the Merkle tree is audit row ``audit_id``, with the leaf hash it had when
  sequenced. No foreign key on purpose: the log must *detect* a removed audit row, not be stopped by one.
* ``tlog_nodes``: every perfect subtree above the leaves (``level`` >= 1), so proofs cost O(log^2 n) reads.
* ``tlog_checkpoints``: every signed checkpoint published, one per tree size.
* ``tlog_cosignatures``: witnesses' cosignatures of those checkpoints.
These four are append-only (triggers refuse UPDATE and DELETE, as on ``audit_log``).
* ``tlog_witnesses``: the witnesses this log asks to cosign, and the size each has last cosigned.
* ``tlog_witnessed``: when this instance is itself a witness: the logs it trusts and the latest checkpoint
  of each that it verified and cosigned.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, LargeBinary, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from redline.bank.models import Base, BigId, utcnow

APPEND_ONLY_TABLES = ("tlog_leaves", "tlog_nodes", "tlog_checkpoints", "tlog_cosignatures")


class LogLeaf(Base):
    __tablename__ = "tlog_leaves"

    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    audit_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    sequenced_at: Mapped[datetime] = mapped_column(default=utcnow)


class LogNode(Base):
    __tablename__ = "tlog_nodes"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LogCheckpoint(Base):
    __tablename__ = "tlog_checkpoints"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    #: The signed note, exactly as published.
    note: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class LogCosignature(Base):
    __tablename__ = "tlog_cosignatures"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    size: Mapped[int] = mapped_column(BigInteger, index=True)
    witness: Mapped[str] = mapped_column(String(256))
    #: The ``— name base64`` signature line the witness returned.
    line: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class LogWitness(Base):
    __tablename__ = "tlog_witnesses"

    name: Mapped[str] = mapped_column(String(256), primary_key=True)
    #: Submission prefix: ``<url>/add-checkpoint`` is called.
    url: Mapped[str] = mapped_column(String(2048))
    vkey: Mapped[str] = mapped_column(Text)
    #: Size of the latest checkpoint this witness cosigned (0: never).
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class WitnessedLog(Base):
    __tablename__ = "tlog_witnessed"

    origin: Mapped[str] = mapped_column(String(256), primary_key=True)
    vkey: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    root: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    #: The latest checkpoint cosigned, as submitted: proof of what the log claimed.
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
