"""Moderation routes: platforms supply previews and decide their own review items; operators manage webhook
endpoints (registration, secret rotation, replay, delivery log) and action rules.

Ownership: a platform sees and acts on review items from its own matches only (same API key, or a key of the
same partner organisation).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, Field
from sqlalchemy import select

from redline.actions import outbox
from redline.actions.matchlog import matches_of_items
from redline.actions.models import ACTIONS, ActionRule, WebhookDelivery
from redline.actions.rules import RuleError, add_rule
from redline.actions.worker import WorkerConfig
from redline.api.deps import Caller, require_scope, services
from redline.api.problems import Problem
from redline.api.schemas import Strict
from redline.bank.models import ApiKey, Partner
from redline.bank.service import audit, get_bank
from redline.events import EVENT_TYPES
from redline.review import queue
from redline.review.models import ReviewItem

router = APIRouter(prefix="/v1", tags=["moderation"])
Admin = Annotated[Caller, Depends(require_scope("admin"))]
Matcher = Annotated[Caller, Depends(require_scope("match"))]
Reviewer = Annotated[Caller, Depends(require_scope("review"))]
#: Ids fit the databases' 64-bit integers (a larger number would be a driver error, not a 404).
RowId = Annotated[int, PathParam(ge=1, le=2**62)]


class PreviewUrlIn(Strict):
    url: str = Field(min_length=9, max_length=2048, description="https URL the reviewer's browser loads")


class PreviewOut(BaseModel):
    review_item_id: int
    expires_at: datetime


class DecisionIn(Strict):
    decision: Literal["confirm", "reject", "escalate"]
    note: str = Field(default="", max_length=4000)


class DecisionOut(BaseModel):
    review_item_id: int
    decision: str
    state: Literal["PendingReview", "Blocked", "NotBlocked"]
    entry_confirmed: int
    entry_rejected: int
    entry_quarantined: bool


class ItemMatchOut(BaseModel):
    """One matched hash behind a review item (one row of the match log)."""

    match_id: int
    entry_id: int
    type: str
    distance: int
    action: str


class ReviewItemOut(BaseModel):
    id: int
    entry_id: int
    signal_type: str
    distance: int
    action: str
    severity: int
    status: str
    content_id: str | None
    created_at: datetime
    decided_at: datetime | None
    #: Every hash of the platform's content that matched this picture; one decision covers them all.
    matches: list[ItemMatchOut] = Field(default_factory=list)
    video: dict[str, Any] | None = Field(
        default=None,
        description="a video match (redline.match.video): upload_pct, stored_pct, matched_frames, and the "
        "matched time ranges of the upload and of the stored video ([start_s, end_s] pairs)",
    )


class EndpointIn(Strict):
    url: str = Field(min_length=8, max_length=2048)
    event_types: list[str] = Field(default_factory=lambda: ["*"], max_length=len(EVENT_TYPES) + 1)
    partner: str | None = Field(default=None, max_length=128)
    description: str = Field(default="", max_length=1000)


class EndpointOut(BaseModel):
    id: int
    url: str
    event_types: list[str]
    partner_id: int | None
    description: str
    enabled: bool
    created_at: datetime


class EndpointCreated(EndpointOut):
    secret: str = Field(description="the signing secret (whsec_...); shown once")


class SecretOut(BaseModel):
    secret: str


class ReplayIn(Strict):
    dead_only: bool = True


class ReplayOut(BaseModel):
    requeued: int


class DeliveryOut(BaseModel):
    id: int
    event_id: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    finished_at: datetime | None


class RuleIn(Strict):
    action: Literal["block_and_review", "block", "review", "log"]
    max_distance: int = Field(ge=0, le=256)
    min_distance: int = Field(default=0, ge=0, le=256)
    bank: str | None = Field(default=None, max_length=64)
    signal_type: str | None = Field(default=None, max_length=16)
    priority: int = Field(default=100, ge=0, le=10_000)


class RuleOut(BaseModel):
    id: int
    action: str
    min_distance: int
    max_distance: int
    bank_id: int | None
    signal_type: str | None
    priority: int


assert set(ACTIONS) == {"block_and_review", "block", "review", "log"}  # RuleIn's Literal mirrors ACTIONS


# --- platforms: previews and their own review decisions ---------------------------------------------------


def _owned_item(request: Request, caller: Caller, item_id: int) -> ReviewItem:
    with services(request).db.read() as session:
        item = session.get(ReviewItem, item_id)
        partner_id = session.scalar(select(ApiKey.partner_id).where(ApiKey.id == caller.key_id))
    owns = item is not None and (
        item.api_key_id == caller.key_id or (partner_id is not None and item.partner_id == partner_id)
    )
    if item is None or not owns:
        raise Problem("not-found", "no review item of yours with this id")
    return item


def reviewer_of(request: Request, caller: Caller) -> str:
    """One independent voice per organisation: the key's partner, else the key."""
    with services(request).db.read() as session:
        partner_id = session.scalar(select(ApiKey.partner_id).where(ApiKey.id == caller.key_id))
    return f"partner:{partner_id}" if partner_id is not None else caller.actor


@router.put("/review/items/{item_id}/preview", response_model=PreviewOut)
async def upload_preview(item_id: RowId, request: Request, caller: Matcher) -> PreviewOut:
    """Your copy of the matched content (JPEG, PNG, WebP or GIF body) for the reviewer. Kept until the item
    is decided or the preview time-to-live passes, then deleted."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in queue.PREVIEW_TYPES:
        raise Problem("unsupported-media-type", f"send one of {', '.join(queue.PREVIEW_TYPES)}")
    data = await request.body()
    if len(data) > queue.MAX_PREVIEW_BYTES:
        raise Problem("payload-too-large", f"previews are at most {queue.MAX_PREVIEW_BYTES} bytes")
    return _attach(request, caller, item_id, data=data, content_type=content_type)


@router.put("/review/items/{item_id}/preview-url", response_model=PreviewOut)
def preview_url(item_id: RowId, body: PreviewUrlIn, request: Request, caller: Matcher) -> PreviewOut:
    """An https URL of your copy of the content, loaded by the reviewer's browser (never by Redline)."""
    return _attach(request, caller, item_id, url=body.url)


def _attach(request: Request, caller: Caller, item_id: RowId, **preview: Any) -> PreviewOut:
    _owned_item(request, caller, item_id)
    found = services(request)
    ttl = timedelta(seconds=found.settings.review_preview_ttl_s)
    with found.db.write() as session:
        item = queue.attach_preview(session, item_id, ttl=ttl, actor=caller.actor, **preview)
        assert item.preview_expires_at is not None
        return PreviewOut(review_item_id=item.id, expires_at=item.preview_expires_at)


@router.get("/review/items", response_model=list[ReviewItemOut])
def list_review_items(
    request: Request,
    caller: Reviewer,
    status: Annotated[Literal["pending", "escalated", "decided"], Query()] = "pending",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[ReviewItemOut]:
    """Review items from your own matches, most severe and oldest first."""
    with services(request).db.read() as session:
        partner_id = session.scalar(select(ApiKey.partner_id).where(ApiKey.id == caller.key_id))
        owner = (
            ReviewItem.partner_id == partner_id
            if partner_id is not None
            else ReviewItem.api_key_id == caller.key_id
        )
        items = session.scalars(
            select(ReviewItem)
            .where(ReviewItem.status == status, owner)
            .order_by(ReviewItem.severity.desc(), ReviewItem.created_at)
            .limit(limit)
        ).all()
        behind = matches_of_items(session, [i.id for i in items])
        return [
            ReviewItemOut.model_validate(i, from_attributes=True).model_copy(
                update={
                    "matches": [
                        ItemMatchOut(
                            match_id=m.id,
                            entry_id=m.entry_id,
                            type=m.query_type,
                            distance=m.distance,
                            action=m.action,
                        )
                        for m in behind[i.id]
                    ]
                }
            )
            for i in items
        ]


@router.post("/review/items/{item_id}/decision", response_model=DecisionOut)
def decide_item(item_id: RowId, body: DecisionIn, request: Request, caller: Reviewer) -> DecisionOut:
    """Your own review's verdict on a match; counts as one independent reviewer (your organisation)."""
    _owned_item(request, caller, item_id)
    found = services(request)
    with found.db.write() as session:
        outcome = queue.decide(
            session,
            item_id,
            reviewer=reviewer_of(request, caller),
            decision=body.decision,
            note=body.note,
            reject_quarantine=found.settings.review_reject_quarantine,
        )
    return DecisionOut(
        review_item_id=item_id,
        decision=body.decision,
        state=outcome.state,
        entry_confirmed=outcome.confirmed,
        entry_rejected=outcome.rejected,
        entry_quarantined=outcome.quarantined,
    )


# --- operators: webhook endpoints and action rules --------------------------------------------------------


def _endpoint_out(e: Any) -> EndpointOut:
    return EndpointOut.model_validate(e, from_attributes=True)


@router.post("/webhooks", status_code=201, response_model=EndpointCreated)
def create_endpoint(body: EndpointIn, request: Request, caller: Admin) -> EndpointCreated:
    """Register a receiver; the URL must pass the outgoing-request policy (public addresses only unless the
    operator allowed private/loopback ones)."""
    found = services(request)
    with found.db.write() as session:
        partner_id = None
        if body.partner:
            partner_id = session.scalar(select(Partner.id).where(Partner.name == body.partner))
            if partner_id is None:
                raise Problem("not-found", f"no partner named {body.partner!r}")
        try:
            endpoint, secret = outbox.register_endpoint(
                session,
                url=body.url,
                policy=WorkerConfig.from_settings(found.settings).policy,
                actor=caller.actor,
                event_types=body.event_types,
                partner_id=partner_id,
                description=body.description,
            )
        except outbox.EndpointError as exc:
            raise Problem("invalid-request", str(exc)) from None
        return EndpointCreated(**_endpoint_out(endpoint).model_dump(), secret=secret)


@router.get("/webhooks", response_model=list[EndpointOut])
def list_endpoints(request: Request, caller: Admin) -> list[EndpointOut]:
    with services(request).db.read() as session:
        return [_endpoint_out(e) for e in outbox.list_endpoints(session)]


@router.post("/webhooks/{endpoint_id}/rotate", response_model=SecretOut)
def rotate(endpoint_id: RowId, request: Request, caller: Admin) -> SecretOut:
    """A new signing secret; the old one keeps signing for 24 hours so receivers can switch."""
    try:
        with services(request).db.write() as session:
            return SecretOut(secret=outbox.rotate_secret(session, endpoint_id, actor=caller.actor))
    except outbox.EndpointError as exc:
        raise Problem("not-found", str(exc)) from None


@router.post("/webhooks/{endpoint_id}/replay", response_model=ReplayOut)
def replay(endpoint_id: RowId, body: ReplayIn, request: Request, caller: Admin) -> ReplayOut:
    """Queue this endpoint's dead-lettered (or all) deliveries again, with their original ``webhook-id``."""
    with services(request).db.write() as session:
        try:
            outbox.get_endpoint(session, endpoint_id)
        except outbox.EndpointError as exc:
            raise Problem("not-found", str(exc)) from None
        count = outbox.replay(session, actor=caller.actor, endpoint_id=endpoint_id, dead_only=body.dead_only)
    return ReplayOut(requeued=count)


@router.get("/webhooks/{endpoint_id}/deliveries", response_model=list[DeliveryOut])
def deliveries(
    endpoint_id: RowId,
    request: Request,
    caller: Admin,
    status: Annotated[Literal["pending", "delivered", "dead"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeliveryOut]:
    query = (
        select(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    )
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    with services(request).db.read() as session:
        return [DeliveryOut.model_validate(d, from_attributes=True) for d in session.scalars(query)]


@router.post("/rules", status_code=201, response_model=RuleOut)
def create_rule(body: RuleIn, request: Request, caller: Admin) -> RuleOut:
    """Which action matches get, by bank, signal type and distance band (lowest ``priority`` wins)."""
    with services(request).db.write() as session:
        bank_id = get_bank(session, body.bank).id if body.bank else None
        try:
            rule = add_rule(
                session,
                action=body.action,
                max_distance=body.max_distance,
                min_distance=body.min_distance,
                bank_id=bank_id,
                signal_type=body.signal_type,
                priority=body.priority,
            )
        except RuleError as exc:
            raise Problem("invalid-request", str(exc)) from None
        audit(
            session, caller.actor, "rule.created", f"rule:{rule.id}", rule_action=body.action, bank=body.bank
        )
        return RuleOut.model_validate(rule, from_attributes=True)


@router.get("/rules", response_model=list[RuleOut])
def list_rules(request: Request, caller: Admin) -> list[RuleOut]:
    with services(request).db.read() as session:
        rules = session.scalars(select(ActionRule).order_by(ActionRule.priority, ActionRule.id))
        return [RuleOut.model_validate(r, from_attributes=True) for r in rules]
