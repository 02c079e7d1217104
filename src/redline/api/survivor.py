"""Survivor routes: submit a case (hashes only), follow it, withdraw it. No API key; the case secret is the
credential, and submissions are rate-limited per client."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from redline.api.deps import case_with_secret, rate_limited, services
from redline.api.schemas import (
    AttestationText,
    CaseCreated,
    CaseHashOut,
    CaseIn,
    CaseItemOut,
    CaseOut,
    WithdrawOut,
)
from redline.bank import service
from redline.bank.models import Case
from redline.review.case_report import item_reports

router = APIRouter(prefix="/v1", tags=["survivors"])


@router.get("/attestation", response_model=AttestationText)
def attestation_text() -> AttestationText:
    """The attestation a survivor confirms when submitting, and its version (recorded with the case)."""
    return AttestationText(version=service.ATTESTATION_TEXT_VERSION, text=service.ATTESTATION_TEXT)


@router.post("/cases", status_code=201, response_model=CaseCreated)
def create_case(body: CaseIn, request: Request) -> CaseCreated:
    """Submit hashes of images. The response's secret is shown once: it is needed to follow or withdraw."""
    found = services(request)
    rate_limited(found.submissions, request)
    hashes = [service.normalize_hash(h.type, h.value, h.quality, h.item, h.at_ms) for h in body.hashes]
    with found.db.write() as session:
        new = service.submit_case(
            session,
            bank_name=found.settings.survivor_bank,
            hashes=hashes,
            attestation=body.attestation.model_dump(),
            cipher=found.cipher,
            contact=body.contact,
            tags=body.tags,
        )
    found.metrics.cases.inc()
    return CaseCreated(case_id=new.case_id, secret=new.secret, hashes=len(new.entry_ids))


@router.get("/cases/{case_id}", response_model=CaseOut)
def get_case(case: Annotated[Case, Depends(case_with_secret)], request: Request) -> CaseOut:
    """Status of the case, of each picture or video (copies found, what platforms reported) and of each hash,
    with counts of matches and actions (never who matched)."""
    with services(request).db.read() as session:
        status = service.case_status(session, case)
        items = item_reports(session, case.id)
    return CaseOut(
        case_id=status.case_id,
        status=status.status,
        created_at=status.created_at,
        withdrawn_at=status.withdrawn_at,
        items=[
            CaseItemOut(
                item=i.item, kind=i.kind, status=i.status, copies_found=i.copies_found, reported=i.reported
            )
            for i in items
        ],
        hashes=[
            CaseHashOut(position=h.position, type=h.signal_type, status=h.status, matches=h.matches)
            for h in status.hashes
        ],
        matches=status.matches,
        actions=status.actions,
        third_party=case.flagged_by is not None,
        claimed=case.claimed_at is not None,
    )


@router.post("/cases/{case_id}/withdraw", response_model=WithdrawOut)
def withdraw_case(case: Annotated[Case, Depends(case_with_secret)], request: Request) -> WithdrawOut:
    """Withdraw every hash of the case, everywhere, at once. Final; repeating it is harmless."""
    found = services(request)
    with found.db.write() as session:
        fresh = session.get(Case, case.id)
        assert fresh is not None
        count = service.withdraw_case(session, fresh)  # and its webhook to platforms, same transaction
    found.metrics.withdrawals.inc()
    return WithdrawOut(case_id=case.id, status="withdrawn", withdrawn=count)
