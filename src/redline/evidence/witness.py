"""Witnessing (c2sp.org/tlog-witness): another party cosigns our checkpoints, and we can cosign others'.

A witness keeps, per log it trusts, the latest checkpoint it verified. It cosigns a new checkpoint only if a
consistency proof shows the new tree extends that one unchanged, so a log operator who rewrites history
(changes, removes or reorders a logged row and re-signs) can no longer get it cosigned: every checkpoint a
court sees with a witness's cosignature is on the one history the witness saw grow.

* Witness side: :func:`trust_log` (which logs, by verifier key) and :func:`add_checkpoint` (the protocol's
  ``add-checkpoint``: old size, proof lines, blank line, signed checkpoint; answers with a cosignature line,
  or a :class:`WitnessRefusal` carrying the protocol's HTTP status). Refusals of a trusted log's validly
  signed checkpoint are written to the audit log: they are evidence of that log's misbehaviour.
* Log side: :func:`add_witness` and :func:`request_cosignatures` (after each new checkpoint).
"""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from redline.bank.db import Database
from redline.bank.models import utcnow
from redline.bank.service import audit
from redline.evidence.checkpoint import Checkpoint
from redline.evidence.log import TransparencyLog, latest_checkpoint, prove_consistency
from redline.evidence.merkle import EMPTY_ROOT, ProofError, verify_consistency
from redline.evidence.models import LogCosignature, LogWitness, WitnessedLog
from redline.evidence.note import COSIGNATURE_V1, ED25519, NoteError, SignerKey, VerifierKey, open_note, split

log = logging.getLogger(__name__)
SIZE_MEDIA_TYPE = "text/x.tlog.size"
_MAX_PROOF_LINES = 63
_ACTOR = "system:witness"


@dataclass
class WitnessRefusal(Exception):
    status: int
    detail: str
    #: For 409: the size of the latest checkpoint this witness cosigned (the protocol's response body).
    size: int | None = None


# --- witness side ----------------------------------------------------------------------------------------


def trust_log(session: Session, vkey: str, actor: str) -> WitnessedLog:
    """Witness the log whose checkpoints ``vkey`` signs (its origin is the key's name)."""
    key = VerifierKey.parse(vkey)
    if key.alg != ED25519:
        raise NoteError("a log's verifier key is an Ed25519 (0x01) key")
    row = session.get(WitnessedLog, key.name)
    if row is None:
        row = WitnessedLog(origin=key.name, vkey=key.text(), size=0, updated_at=utcnow())
        session.add(row)
    elif row.vkey != key.text():
        raise NoteError(f"already witnessing {key.name} with another key")
    audit(session, actor, "witness.log.trusted", f"log:{key.name}", vkey=key.text())
    return row


def _parse_request(body: str) -> tuple[int, list[bytes], str]:
    head, sep, note = body.partition("\n\n")
    lines = head.split("\n")
    if not sep or not lines[0].startswith("old "):
        raise WitnessRefusal(400, "the body is: old <size>, proof lines, a blank line, the checkpoint")
    old_text = lines[0][4:]
    if not old_text.isdigit() or (old_text != "0" and old_text.startswith("0")):
        raise WitnessRefusal(400, "old size is not a decimal number")
    if len(lines) - 1 > _MAX_PROOF_LINES:
        raise WitnessRefusal(400, "too many consistency proof lines")
    try:
        proof = [base64.b64decode(line, validate=True) for line in lines[1:]]
    except (binascii.Error, ValueError):
        raise WitnessRefusal(400, "a consistency proof line is not base64") from None
    if any(len(p) != 32 for p in proof):
        raise WitnessRefusal(400, "a consistency proof line is not a 32-byte hash")
    return int(old_text), proof, note


def add_checkpoint(db: Database, signer: SignerKey, body: str) -> str:
    """The witness's ``add-checkpoint``: a cosignature line, or :class:`WitnessRefusal`."""
    old, proof, note = _parse_request(body)
    try:
        text, _ = split(note)
        checkpoint = Checkpoint.parse(text)
    except NoteError as exc:
        raise WitnessRefusal(400, f"not a signed checkpoint: {exc}") from None
    if old > checkpoint.size:
        raise WitnessRefusal(400, "old size is larger than the checkpoint's")
    refusal: WitnessRefusal | None = None
    with db.write() as session:
        row = session.scalars(
            select(WitnessedLog).where(WitnessedLog.origin == checkpoint.origin).with_for_update()
        ).first()
        if row is None:
            raise WitnessRefusal(404, f"this witness does not witness {checkpoint.origin}")
        try:
            open_note(note, [VerifierKey.parse(row.vkey)])
        except NoteError as exc:
            raise WitnessRefusal(403, f"the checkpoint is not signed by the log's key: {exc}") from None
        known_root = row.root if row.root is not None else EMPTY_ROOT
        if old != row.size:
            raise WitnessRefusal(409, f"the latest checkpoint cosigned has size {row.size}", size=row.size)
        try:
            verify_consistency(old, checkpoint.size, known_root, checkpoint.root, proof)
        except ProofError as exc:
            status = 409 if old == checkpoint.size else 422
            refusal = WitnessRefusal(status, f"not consistent with the checkpoint cosigned before: {exc}")
            refusal.size = row.size if status == 409 else None
        else:
            row.size, row.root, row.note, row.updated_at = checkpoint.size, checkpoint.root, note, utcnow()
            return signer.signature_line(text)
    # Outside the (rolled-back) transaction above: a validly signed, inconsistent checkpoint is evidence.
    with db.write() as session:
        audit(
            session,
            _ACTOR,
            "witness.inconsistent_checkpoint",
            f"log:{checkpoint.origin}",
            old=old,
            size=checkpoint.size,
            root=base64.b64encode(checkpoint.root).decode(),
            note=note,
        )
    raise refusal


# --- log side --------------------------------------------------------------------------------------------


def add_witness(session: Session, url: str, vkey: str, actor: str) -> LogWitness:
    key = VerifierKey.parse(vkey)
    if key.alg != COSIGNATURE_V1:
        raise NoteError("a witness's verifier key is a cosignature/v1 (0x04) key")
    if not url.startswith(("https://", "http://")):
        raise NoteError("the witness URL must be http(s)://...")
    if session.get(LogWitness, key.name) is not None:
        raise NoteError(f"witness {key.name} is already configured")
    row = LogWitness(name=key.name, url=url.rstrip("/"), vkey=key.text(), size=0, added_at=utcnow())
    session.add(row)
    audit(session, actor, "tlog.witness.added", f"witness:{key.name}", url=row.url, vkey=key.text())
    return row


@dataclass(frozen=True)
class CosignResult:
    witness: str
    ok: bool
    detail: str


def _ask(
    client: httpx.Client, tlog: TransparencyLog, witness: LogWitness, old: int, size: int, note: str
) -> httpx.Response:
    with tlog.db.read() as session:
        proof = prove_consistency(session, old, size) if old < size else []
    lines = "".join(base64.b64encode(p).decode() + "\n" for p in proof)
    return client.post(witness.url + "/add-checkpoint", content=f"old {old}\n{lines}\n{note}".encode())


def request_cosignatures(tlog: TransparencyLog, *, timeout: float = 10.0) -> list[CosignResult]:
    """Ask every configured witness to cosign the latest checkpoint; store what they return."""
    with tlog.db.read() as session:
        checkpoint = latest_checkpoint(session)
        witnesses = list(session.scalars(select(LogWitness).order_by(LogWitness.name)))
    if checkpoint is None:
        return []
    results = []
    with httpx.Client(timeout=timeout) as client:
        for witness in witnesses:
            if witness.size == checkpoint.size:
                continue  # already cosigned this one: asking again would only add a newer timestamp
            try:
                results.append(_cosign(client, tlog, witness, checkpoint.size, checkpoint.note))
            except (httpx.HTTPError, NoteError, ProofError) as exc:
                results.append(CosignResult(witness.name, False, f"{type(exc).__name__}: {exc}"))
            if not results[-1].ok:
                log.warning("witness did not cosign size %d: %s", checkpoint.size, results[-1])
    return results


def _cosign(
    client: httpx.Client, tlog: TransparencyLog, witness: LogWitness, size: int, note: str
) -> CosignResult:
    old = witness.size if witness.size <= size else 0
    response = _ask(client, tlog, witness, old, size, note)
    if response.status_code == 409 and response.headers.get("content-type", "").startswith(SIZE_MEDIA_TYPE):
        known = int(response.text.strip() or "-1")
        if not 0 <= known <= size:
            return CosignResult(witness.name, False, f"the witness has seen size {known}, larger than ours")
        response = _ask(client, tlog, witness, known, size, note)
    if response.status_code != 200:
        return CosignResult(witness.name, False, f"HTTP {response.status_code}: {response.text[:300]}")
    key = VerifierKey.parse(witness.vkey)
    lines = [line + "\n" for line in response.text.splitlines() if line]
    opened = open_note(note + "".join(lines), [key])
    cosignature = opened.signed_by(key)
    if cosignature is None:
        return CosignResult(witness.name, False, "the answer has no cosignature of the witness's key")
    with tlog.db.write() as session:
        session.add(LogCosignature(size=size, witness=witness.name, line=cosignature.line, at=utcnow()))
        row = session.get(LogWitness, witness.name)
        if row is not None and row.size < size:
            row.size = size
    return CosignResult(witness.name, True, f"cosigned size {size}")
