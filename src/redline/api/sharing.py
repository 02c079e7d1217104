"""Industry hash sharing routes: a platform pushes hashes it verified, with provenance, to a hub bank it is
granted (``submit``); the operator (``admin``) sets each bank's policy and approves or refuses what waits.
``redline.bank.sharing``; docs/MIRRORS.md, "Sharing hashes with the hub"."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from redline.api.deps import Caller, partner_of, require_scope, services
from redline.api.problems import Problem
from redline.api.schemas import HashIn, Strict
from redline.bank import grants, service, sharing

router = APIRouter(prefix="/v1", tags=["sharing"])
Submitter = Annotated[Caller, Depends(require_scope("submit"))]
Admin = Annotated[Caller, Depends(require_scope("admin"))]
SharedId = Annotated[int, Path(ge=1, le=2**63 - 1)]


class ProvenanceIn(Strict):
    kind: Literal["removal_request", "moderator_report", "hotline_referral", "other"]
    reference: str = Field(default="", max_length=128, description="your own reference, e.g. a ticket number")
    verified_at: datetime | None = None


class SharedIn(Strict):
    hashes: list[HashIn] = Field(min_length=1, max_length=1000)
    provenance: ProvenanceIn


class SharedOut(BaseModel):
    bank: str
    mode: str
    live: int
    pending: int
    already: int
    refused: int
    shared_ids: list[int]


class PolicyIn(Strict):
    mode: Literal["live", "confirmations", "approval"]
    confirmations: int = Field(default=2, ge=2, le=100)


class PolicyOut(BaseModel):
    bank: str
    mode: str
    confirmations: int


class SharedHashOut(BaseModel):
    id: int
    type: str
    value: str
    status: str
    submitted_by: str
    provenance: dict[str, Any]
    vouched: list[dict[str, Any]]
    entry_id: int | None
    created_at: datetime
    decided_at: datetime | None
    decided_by: str


class RefuseIn(Strict):
    reason: str = Field(default="", max_length=500)


def _out(row: sharing.SharedHash) -> SharedHashOut:
    return SharedHashOut(
        id=row.id,
        type=row.signal_type,
        value=row.value,
        status=row.status,
        submitted_by=row.submitted_by,
        provenance=row.provenance,
        vouched=row.vouched,
        entry_id=row.entry_id,
        created_at=row.created_at,
        decided_at=row.decided_at,
        decided_by=row.decided_by,
    )


@router.post("/banks/{bank}/shared", response_model=SharedOut)
def push_shared(bank: str, body: SharedIn, request: Request, caller: Submitter) -> SharedOut:
    """Push hashes of intimate-image abuse you verified. The bank's policy decides when they go live: at
    once, once enough distinct partners pushed the same hash, or after the operator's approval."""
    found = services(request)
    hashes = [service.normalize_hash(h.type, h.value, h.quality) for h in body.hashes]
    provenance = body.provenance.model_dump(mode="json", exclude_none=True)
    partner = partner_of(request, caller)
    with found.db.write() as session:
        if not grants.may_submit(session, caller.key_id, bank, found.settings.survivor_bank):
            raise Problem("forbidden", f"this API key is not granted the bank {bank!r}")
        result = sharing.share(
            session, bank, hashes, provenance=provenance, partner=partner, actor=caller.actor
        )
        mode = sharing.policy_of(session, service.get_bank(session, bank)).mode
    return SharedOut(
        bank=bank,
        mode=mode,
        live=result.live,
        pending=result.pending,
        already=result.already,
        refused=result.refused,
        shared_ids=result.ids or [],
    )


@router.put("/banks/{bank}/sharing", response_model=PolicyOut)
def put_policy(bank: str, body: PolicyIn, request: Request, caller: Admin) -> PolicyOut:
    """Set how hashes pushed to this bank go live (a bank without a policy waits for approval)."""
    with services(request).db.write() as session:
        policy = sharing.set_policy(
            session, bank, body.mode, confirmations=body.confirmations, actor=caller.actor
        )
    return PolicyOut(bank=bank, mode=policy.mode, confirmations=policy.confirmations)


@router.get("/banks/{bank}/shared", response_model=list[SharedHashOut])
def list_shared(
    bank: str,
    request: Request,
    caller: Admin,
    status: Annotated[Literal["pending", "live", "refused"], Query()] = "pending",
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[SharedHashOut]:
    """Pushed hashes by status, oldest first, with their provenance and who vouched for them."""
    with services(request).db.read() as session:
        return [_out(r) for r in sharing.listed(session, bank, status, limit)]


@router.post("/shared/{shared_id}/approve", response_model=SharedHashOut)
def approve_shared(shared_id: SharedId, request: Request, caller: Admin) -> SharedHashOut:
    with services(request).db.write() as session:
        return _out(sharing.approve(session, shared_id, actor=caller.actor))


@router.post("/shared/{shared_id}/refuse", response_model=SharedHashOut)
def refuse_shared(shared_id: SharedId, body: RefuseIn, request: Request, caller: Admin) -> SharedHashOut:
    with services(request).db.write() as session:
        return _out(sharing.refuse(session, shared_id, actor=caller.actor, reason=body.reason))
