"""Mirror routes. A hub serves its feed as signed pages (``feed`` keys) and takes mirrors' review verdicts;
an operator (``admin``) adds and watches the mirrors this instance keeps. docs/MIRRORS.md."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from redline.api.deps import Caller, partner_of, require_scope, services
from redline.api.moderation import reviewer_of
from redline.api.problems import Problem
from redline.bank import service
from redline.bank.names import NameRefused
from redline.mirror import hub, sync
from redline.mirror.signing import feed_signers, verifier_texts

router = APIRouter(prefix="/v1", tags=["mirrors"])
Feed = Annotated[Caller, Depends(require_scope("feed"))]
Admin = Annotated[Caller, Depends(require_scope("admin"))]
MirrorName = Annotated[str, Path(min_length=1, max_length=64)]


class Strict(BaseModel):
    model_config = {"extra": "forbid"}


class HubKeys(BaseModel):
    keys: list[str] = Field(description="verifier keys (C2SP note format) the hub signs feed pages with now")


class VerdictIn(Strict):
    entry_id: int = Field(ge=1, le=2**63 - 1)
    verdict: Literal["confirm", "reject"]


class VerdictsIn(Strict):
    verdicts: list[VerdictIn] = Field(min_length=1, max_length=hub.MAX_PAGE)


class VerdictsOut(BaseModel):
    verdicts: int
    applied: int
    unknown: int
    quarantined: int


class MirrorIn(Strict):
    name: str = Field(min_length=1, max_length=64)
    url: str = Field(min_length=8, max_length=2048)
    key: str = Field(min_length=1, max_length=256, description="the hub's feed API key for this instance")
    bank: str = Field(min_length=1, max_length=64)
    hub_keys: list[str] = Field(min_length=1, max_length=8, description="the hub's verifier keys to pin")
    from_banks: list[str] = Field(default_factory=list, max_length=64)


class MirrorOut(BaseModel):
    name: str
    url: str
    bank: str
    from_banks: list[str]
    enabled: bool
    position: int
    head: int
    lag_changes: int
    lag_s: float | None
    entries: int
    refused: int
    last_error: str
    last_error_at: datetime | None
    synced_at: datetime | None
    pinned_keys: list[str]


class MirrorPatch(Strict):
    enabled: bool


def _banks(raw: str) -> list[str]:
    return sorted({b.strip() for b in raw.split(",") if b.strip()}) if raw else []


@router.get("/mirror/keys", response_model=HubKeys)
def hub_keys(request: Request) -> HubKeys:
    """Public: the keys to pin at ``redline mirror add`` (compare them with the hub operator's)."""
    return HubKeys(keys=verifier_texts(feed_signers(services(request).settings.data_dir)))


@router.get("/mirror/feed")
def mirror_feed(
    request: Request,
    caller: Feed,
    nonce: Annotated[str, Query(min_length=16, max_length=64, pattern="^[0-9a-f]+$")],
    after: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=hub.MAX_PAGE)] = 1000,
    banks: Annotated[str, Query(max_length=4096)] = "",
) -> dict[str, Any]:
    """One signed page of the change log after ``after`` (docs/MIRRORS.md, "What a page proves")."""
    found = services(request)
    names = _banks(banks)
    with found.db.read() as session:
        try:
            page = hub.read_page(session, after, limit, names)
        except service.NotFound as exc:
            raise Problem("not-found", exc.detail) from None
        except service.BankError as exc:
            raise Problem("invalid-request", exc.detail) from None
    body = hub.signed_body(page, banks=names, nonce=nonce, signers=feed_signers(found.settings.data_dir))
    if page.items:
        who = f"partner:{partner_of(request, caller)}"
        with found.db.write() as session:
            hub.record_pull(session, caller.actor, who, page, names)
    return body


@router.post("/mirror/verdicts", response_model=VerdictsOut)
def mirror_verdicts(request: Request, caller: Feed, body: VerdictsIn) -> VerdictsOut:
    """A mirror's reviewers' verdicts on this hub's entries; each partner counts as one independent
    reviewer toward quarantine. Sending the same verdicts again changes nothing."""
    found = services(request)
    with found.db.write() as session:
        counted = hub.record_verdicts(
            session,
            [(v.entry_id, v.verdict) for v in body.verdicts],
            partner=partner_of(request, caller),
            reviewer=reviewer_of(request, caller),
            actor=caller.actor,
            reject_quarantine=found.settings.review_reject_quarantine,
        )
    return VerdictsOut(**counted)


def _out(status: sync.Status) -> MirrorOut:
    return MirrorOut(**status.__dict__)


@router.get("/mirrors", response_model=list[MirrorOut])
def list_mirrors(request: Request, caller: Admin) -> list[MirrorOut]:
    """Every mirror this instance keeps, with its position, lag and last error."""
    with services(request).db.read() as session:
        return [_out(s) for s in sync.statuses(session)]


@router.post("/mirrors", response_model=MirrorOut, status_code=201)
def add_mirror(request: Request, caller: Admin, body: MirrorIn) -> MirrorOut:
    """Mirror a hub's feed into a new read-only bank; the background sync starts within one interval."""
    found = services(request)
    try:
        with found.db.write() as session:
            sync.add_mirror(
                session,
                name=body.name,
                url=body.url,
                key=body.key,
                bank=body.bank,
                pinned_keys=body.hub_keys,
                from_banks=body.from_banks,
                cipher=found.cipher,
                actor=caller.actor,
            )
    except NameRefused as exc:  # a bank name the bank refuses: the caller's input, not a server error
        raise Problem("validation-error", str(exc)) from None
    with found.db.read() as session:
        return next(_out(s) for s in sync.statuses(session) if s.name == body.name)


@router.patch("/mirrors/{name}", response_model=MirrorOut)
def patch_mirror(request: Request, caller: Admin, name: MirrorName, body: MirrorPatch) -> MirrorOut:
    """Pause or resume a mirror."""
    found = services(request)
    with found.db.write() as session:
        sync.set_enabled(session, name, body.enabled, actor=caller.actor)
    with found.db.read() as session:
        return next(_out(s) for s in sync.statuses(session) if s.name == name)
