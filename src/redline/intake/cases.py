"""Third-party cases: filed by a ``flag`` key for a person who never held the pictures, then claimed by her.

Who may withdraw a third-party case (docs/INTAKE.md, "Who may withdraw"):

* **before it is claimed**: whoever holds the hand-over sheet's secret (the person, or the flagger until
  she hands the sheet over); the ``flag`` key that filed it (the flagger changes her mind, a folder was
  the wrong person's); the operator on the person's request (``redline intake withdraw CASE --reason``,
  when the sheet never reached her), recorded with the reason;
* **once claimed**: only the person, with the secret she set. The sheet's secret stops working at the
  claim, and neither the flagger's key nor the operator can withdraw it for her any more.

Entries of a third-party case carry ``origin = "flag:<key id>"``, so reviewers and the operator see that a
flagger, not the person depicted, filed them, and rejections are counted per flagger.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case as sql_case
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from redline.actions.rules import add_rule
from redline.bank.audit import audit
from redline.bank.banks import ensure_bank
from redline.bank.cases import withdraw_case
from redline.bank.entries import insert_entries
from redline.bank.errors import BankError, Conflict, Invalid, NotFound
from redline.bank.hashes import HashInput
from redline.bank.models import Bank, Case, CaseManifest, Entry, utcnow
from redline.bank.secrets import hash_case_secret, new_case_id, new_case_secret
from redline.intake.manifest import (
    COLLECTION_HEADER,
    ManifestError,
    manifest_sha256s,
    open_manifest,
)
from redline.review.models import EntryReviewState

#: Recorded with every third-party case: what the flagger's key stands for (the operator issued it).
FLAGGED_ATTESTATION = {
    "subject": "third_party", "adult": True, "non_consensual": True, "text_version": "flag-1",
}  # fmt: skip
#: The exact-valued types whose equality says "this picture is already in the bank".
_EXACT_TYPES = ("sha256", "md5", "pdq")
_ALL_DISTANCES = 1 << 20


class NotYours(BankError):
    code = "forbidden"


def flagger_origin(key_id: str) -> str:
    return f"flag:{key_id}"


def ensure_flagged_bank(session: Session, name: str, action: str) -> Bank:
    """The bank third-party cases go into, made with the first such case (an installation that never takes
    an intake has no empty bank), with one action rule giving every match in it ``action`` (default
    ``review``: a human looks first, nothing is blocked automatically). The operator changes it with
    ``/v1/rules`` (a rule of lower priority number wins), or with ``REDLINE_FLAGGED_ACTION`` before the
    first third-party case."""

    def first_rule(bank: Bank) -> None:
        rule = add_rule(session, action=action, max_distance=_ALL_DISTANCES, bank_id=bank.id, priority=10)
        audit(session, "system", "rule.created", f"rule:{rule.id}", bank=name, rule_action=action)

    return ensure_bank(session, name, "system", on_create=first_rule)


@dataclass(frozen=True)
class FlaggedCase:
    case_id: str
    secret: str
    entry_ids: list[int]
    #: Pictures of this case with an exact hash already in the bank (whose is never said).
    known_items: int


def known_items(session: Session, hashes: Sequence[HashInput]) -> int:
    """How many of the submission's items have an exact hash that an active entry already holds."""
    items: set[int | None] = set()
    for kind in _EXACT_TYPES:
        values = {h.value: h.item for h in hashes if h.signal_type == kind}
        if not values:
            continue
        found = session.scalars(
            select(Entry.value)
            .where(Entry.signal_type == kind, Entry.value.in_(list(values)), Entry.status == "active")
            .distinct()
        )
        items.update(values[v] for v in found)
    return len(items)


def submit_flagged_case(
    session: Session,
    *,
    bank_name: str,
    key_id: str,
    hashes: Sequence[HashInput],
    manifest: str | None = None,
    bank_action: str = "review",
) -> FlaggedCase:
    """A third-party case with its own secret (for the hand-over sheet), its entries marked as the
    flagger's, and its signed manifest (whose SHA-256 goes into the log with the ``case.flagged`` row)."""
    if not hashes:
        raise Invalid("a case needs at least one hash")
    opened = None
    if manifest is not None:
        try:
            opened = open_manifest(manifest)
            listed = manifest_sha256s(opened)
        except ManifestError as exc:
            raise BankError(str(exc)) from None
        sent = {h.value for h in hashes if h.signal_type == "sha256"}
        if listed != sent:
            raise BankError("the manifest does not list the files whose hashes were sent")
    known = known_items(session, hashes)
    bank = ensure_flagged_bank(session, bank_name, bank_action)
    case_id, secret = new_case_id(), new_case_secret()
    session.add(
        Case(
            id=case_id,
            bank_id=bank.id,
            secret_hash=hash_case_secret(secret),
            attestation={**FLAGGED_ATTESTATION, "flagger": key_id},
            status="active",
            created_at=utcnow(),
            flagged_by=key_id,
        )
    )
    session.flush()
    ids = insert_entries(session, bank, hashes, source="case", origin=flagger_origin(key_id), case_id=case_id)
    details: dict[str, object] = {"entries": len(ids), "bank": bank_name, "flagger": key_id}
    if opened is not None:
        session.add(
            CaseManifest(
                case_id=case_id,
                sha256=opened.sha256,
                signer=opened.signer.text(),
                note=manifest,
                received_at=utcnow(),
            )
        )
        details.update(manifest_sha256=opened.sha256, manifest_signer=opened.signer.text())
    audit(session, f"key:{key_id}", "case.flagged", f"case:{case_id}", **details)
    return FlaggedCase(case_id, secret, ids, known)


def record_collection(session: Session, *, key_id: str, note: str) -> tuple[str, list[str]]:
    """Enter a signed collection manifest's SHA-256 in the log; its cases must be this key's."""
    try:
        opened = open_manifest(note, header=COLLECTION_HEADER)
        persons = opened.body["persons"]
        case_ids = sorted({str(p["case_id"]) for p in persons})
    except (ManifestError, KeyError, TypeError) as exc:
        raise BankError(f"not a collection manifest: {exc}") from None
    mine = set(session.scalars(select(Case.id).where(Case.id.in_(case_ids), Case.flagged_by == key_id)))
    if mine != set(case_ids):
        raise NotYours("the collection lists cases this key did not file")
    audit(
        session, f"key:{key_id}", "intake.collection", f"key:{key_id}",
        manifest_sha256=opened.sha256, manifest_signer=opened.signer.text(), cases=case_ids,
    )  # fmt: skip
    return opened.sha256, case_ids


def claim_case(session: Session, case: Case) -> str:
    """The person takes her case over: a new secret (returned to her only), the sheet's stops working, and
    from now on she alone may withdraw it."""
    if case.flagged_by is None:
        raise Conflict("this case was submitted by the person herself; there is nothing to claim")
    if case.claimed_at is not None:
        raise Conflict("this case is already claimed")
    secret = new_case_secret()
    case.secret_hash = hash_case_secret(secret)
    case.claimed_at = utcnow()
    audit(session, f"case:{case.id}", "case.claimed", f"case:{case.id}")
    return secret


def _unclaimed(session: Session, case_id: str) -> Case:
    case = session.get(Case, case_id, with_for_update=True) if len(case_id) <= 32 else None
    if case is None or case.flagged_by is None:
        raise NotFound(f"no third-party case {case_id}")
    if case.claimed_at is not None and case.status != "withdrawn":
        raise Conflict("the person has claimed this case: only she can withdraw it now")
    return case


def withdraw_by_flagger(session: Session, case_id: str, key_id: str) -> int:
    case = _unclaimed(session, case_id)
    if case.flagged_by != key_id:
        raise NotFound(f"no third-party case {case_id}")  # another flagger's case: not even its existence
    return withdraw_case(session, case, actor=f"key:{key_id}", reason="withdrawn by the flagger before claim")


def withdraw_on_request(session: Session, case_id: str, *, actor: str, reason: str) -> int:
    """The operator, on the person's request, for a case she could not claim (the sheet never reached her)."""
    if not reason.strip():
        raise BankError("say why (whose request, how it was checked): it is recorded")
    case = _unclaimed(session, case_id)
    return withdraw_case(session, case, actor=actor, reason=f"on request: {reason.strip()}")


@dataclass(frozen=True)
class FlaggerRecord:
    """What one flag key filed and what reviewers made of it: the abuse signal the operator watches (a
    flagger who files someone's ordinary photos sees them rejected, then quarantined, by the review loop)."""

    key_id: str
    cases: int
    pictures: int
    #: Pictures at least one reviewer judged "not intimate-image abuse".
    rejected: int
    #: Pictures quarantined (by rejections or by the operator).
    quarantined: int


def flagger_records(session: Session, key_id: str | None = None) -> list[FlaggerRecord]:
    query = (
        select(
            Entry.origin,
            Entry.case_id,
            Entry.item,
            func.max(EntryReviewState.rejected),
            func.max(sql_case((Entry.status == "quarantined", 1), else_=0)),
        )
        .outerjoin(EntryReviewState, EntryReviewState.entry_id == Entry.id)
        .where(Entry.origin.like("flag:%") if key_id is None else Entry.origin == flagger_origin(key_id))
        .group_by(Entry.origin, Entry.case_id, Entry.item)
    )
    counts: dict[str, list[Any]] = {}
    for origin, case_id, _item, rejected, quarantined in session.execute(query):
        row = counts.setdefault(origin.split(":", 1)[1], [set(), 0, 0, 0])
        row[0].add(case_id)
        row[1] += 1
        row[2] += int((rejected or 0) > 0)
        row[3] += int(quarantined or 0)
    return [FlaggerRecord(k, len(v[0]), v[1], v[2], v[3]) for k, v in sorted(counts.items())]
