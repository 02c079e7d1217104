"""Bodies of the notice-and-removal routes (``api/removal.py``). Requests forbid unknown fields.

String limits here are generous on purpose: the jurisdiction's rules (``redline.removal.validation``) give
the specific message ("a name has at most 200 characters"), so the schema only stops absurd input."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from redline.api.schemas import SignalName, Strict
from redline.removal.requests import COMPLAINT_DECISIONS, DISMISS_REASONS, FLAGS, REFUSAL_REASONS
from redline.signals.types import MAX_VALUE_CHARS

#: Hashes one picture sends from the requester's device (pdq, its pdq_region crops, md5, sha256).
MAX_PICTURE_HASHES = 200
RefusalReason = Literal[REFUSAL_REASONS]  # type: ignore[valid-type]
DismissReason = Literal[DISMISS_REASONS]  # type: ignore[valid-type]
Flag = Literal[FLAGS]  # type: ignore[valid-type]
ComplaintDecision = Literal[COMPLAINT_DECISIONS]  # type: ignore[valid-type]


class JurisdictionOut(BaseModel):
    code: str
    title: str
    law: str
    period_hours: float
    period_is_policy: bool = Field(description="the law sets no period: this is the platform's own")
    required: list[str] = Field(description="fields a valid request fills")
    statements: list[str] = Field(description="declarations to tick (an agent adds `authorised`)")


class RemovalHashIn(Strict):
    type: SignalName
    value: str = Field(min_length=1, max_length=MAX_VALUE_CHARS)
    quality: int | None = Field(default=None, ge=0, le=100)


class PictureIn(Strict):
    hashes: list[RemovalHashIn] = Field(min_length=1, max_length=MAX_PICTURE_HASHES)


class RemovalRequestIn(Strict):
    jurisdiction: str = Field(max_length=16, description="us, uk, eu or au (GET /v1/removal/jurisdictions)")
    subject: str = Field(default="", max_length=8, description="self (the person shown) or agent")
    name: str = Field(default="", max_length=1000)
    email: str = Field(default="", max_length=1000)
    signature: str = Field(default="", max_length=1000, description="US: your full name, typed, as signature")
    phone: str = Field(default="", max_length=100)
    explanation: str = Field(default="", max_length=20_000)
    notice_reference: str = Field(default="", max_length=200, description="eSafety: the notice's reference")
    locations: list[str] = Field(default_factory=list, max_length=50, description="web addresses")
    pictures: list[PictureIn] = Field(
        default_factory=list, max_length=20, description="hashes made on the requester's device, per picture"
    )
    statements: list[str] = Field(default_factory=list, max_length=10)
    case_id: str = Field(default="", max_length=64, description="a survivor case to link")
    case_secret: str = Field(default="", max_length=256)


class RemovalCreated(BaseModel):
    number: str
    secret: str = Field(description="shown once; with the number it opens the request's status")
    received_at: datetime
    deadline_at: datetime
    jurisdiction: str
    follow: str = Field(description="where to follow the request")


class RequesterItemOut(BaseModel):
    position: int
    status: str
    reason: str | None = Field(description="why it was refused")
    decided_at: datetime | None


class RequesterView(BaseModel):
    number: str
    status: str
    outcome: str = Field(description="pending, removed, partly_removed or refused")
    received_at: datetime
    deadline_at: datetime
    closed_at: datetime | None
    items: list[RequesterItemOut]
    copies_removed: int = Field(description="copies the platform found and removed besides the items")


class RemovalSummary(BaseModel):
    number: str
    jurisdiction: str
    status: str
    received_at: datetime
    deadline_at: datetime
    seconds_left: float
    breached: bool
    flags: list[str]
    items: int
    pending_items: int
    pending_copies: int


class ResolveIn(Strict):
    content_id: str = Field(min_length=1, max_length=256)


class RemoveIn(Strict):
    method: Literal["removed", "disabled"] = "removed"


class RefuseIn(Strict):
    reason: RefusalReason
    note: str = Field(default="", max_length=4000)


class CopyDecisionIn(Strict):
    decision: Literal["removed", "dismissed"]
    reason: str = Field(
        max_length=32, description="removed: removed or disabled; dismissed: " + ", ".join(DISMISS_REASONS)
    )
    note: str = Field(default="", max_length=4000)


class FlagIn(Strict):
    flag: Flag
    note: str = Field(default="", max_length=4000)


class ComplaintIn(Strict):
    content_id: str = Field(min_length=1, max_length=256)
    text: str = Field(min_length=1, max_length=10_000)


class ComplaintDecisionIn(Strict):
    decision: ComplaintDecision
    reason: str = Field(min_length=1, max_length=4000)


class ComplaintOut(BaseModel):
    id: int
    status: str


class SweepOut(BaseModel):
    exact: int = Field(description="new identical copies listed")
    perceptual: int = Field(description="new near-duplicates listed (each for a person to confirm)")
    seconds: float


class Done(BaseModel):
    number: str
    status: str


class Removed(Done):
    sweep: SweepOut = Field(description="the sweep run after the removal: copies newly listed")


class ReportOut(BaseModel):
    since: datetime
    until: datetime
    requests: int
    by_jurisdiction: dict[str, int]
    closed: int
    open: int
    breached: int
    flagged: int
    median_hours_to_removal: float | None
    p95_hours_to_removal: float | None
    within_deadline_share: float | None
    copies_found_per_request: float | None
    copies_removed: int
    refusals_by_reason: dict[str, int]


RecordOut = dict[str, Any]
