"""Third-party cases (docs/INTAKE.md): a ``flag`` key files one case per person of a collection, the person
claims hers with the hand-over sheet's secret. Domain rules in :mod:`redline.intake.cases`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from redline.api.deps import Caller, case_with_secret, normal_case_id, require_scope, services
from redline.api.schemas import (
    ClaimOut,
    CollectionIn,
    CollectionLogged,
    FlaggedCaseCreated,
    FlaggedCaseIn,
    WithdrawOut,
)
from redline.bank import service
from redline.bank.models import Case
from redline.intake import cases as intake

router = APIRouter(prefix="/v1", tags=["intake"])
Flagger = Annotated[Caller, Depends(require_scope("flag"))]
CaseId = Annotated[str, Path(max_length=64)]


@router.post("/intake/cases", status_code=201, response_model=FlaggedCaseCreated)
def create_flagged_case(body: FlaggedCaseIn, request: Request, caller: Flagger) -> FlaggedCaseCreated:
    """File one person's case from a collection. The secret goes on her hand-over sheet."""
    found = services(request)
    hashes = [service.normalize_hash(h.type, h.value, h.quality, h.item, h.at_ms) for h in body.hashes]
    with found.db.write() as session:
        new = intake.submit_flagged_case(
            session,
            bank_name=found.settings.flagged_bank,
            key_id=caller.key_id,
            hashes=hashes,
            manifest=body.manifest,
            bank_action=found.settings.flagged_action,
        )
    found.metrics.cases.inc()
    return FlaggedCaseCreated(
        case_id=new.case_id, secret=new.secret, hashes=len(new.entry_ids), known_items=new.known_items
    )


@router.post("/intake/collections", status_code=201, response_model=CollectionLogged)
def log_collection(body: CollectionIn, request: Request, caller: Flagger) -> CollectionLogged:
    """Enter the SHA-256 of a signed collection manifest in the tamper-evident log."""
    with services(request).db.write() as session:
        digest, case_ids = intake.record_collection(session, key_id=caller.key_id, note=body.manifest)
    return CollectionLogged(manifest_sha256=digest, cases=len(case_ids))


@router.post("/intake/cases/{case_id}/withdraw", response_model=WithdrawOut)
def withdraw_flagged_case(case_id: CaseId, request: Request, caller: Flagger) -> WithdrawOut:
    """The flagger withdraws a case she filed, while the person has not claimed it."""
    found = services(request)
    number = normal_case_id(case_id)
    with found.db.write() as session:
        count = intake.withdraw_by_flagger(session, number, caller.key_id)
    found.metrics.withdrawals.inc()
    return WithdrawOut(case_id=number, status="withdrawn", withdrawn=count)


@router.post("/cases/{case_id}/claim", response_model=ClaimOut)
def claim_case(case: Annotated[Case, Depends(case_with_secret)], request: Request) -> ClaimOut:
    """The person depicted takes over a third-party case: she gets a new secret, the sheet's stops working,
    and from then on she alone can follow and withdraw it."""
    with services(request).db.write() as session:
        fresh = session.get(Case, case.id, with_for_update=True)
        assert fresh is not None
        secret = intake.claim_case(session, fresh)
    return ClaimOut(case_id=case.id, secret=secret)
