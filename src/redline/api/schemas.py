"""Request and response bodies. Requests forbid unknown fields: a survivor submission carries hashes and an
attestation, and anything else (an image, a file name, a stray field) is refused, not silently dropped."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from redline.actions.models import ACTIONS
from redline.bank.names import BANK_NAME_PATTERN, MAX_LABEL, check_label
from redline.bank.service import ATTESTATION_TEXT_VERSION
from redline.signals.types import MAX_VALUE_CHARS, SIGNAL_TYPES


def _registered(name: str) -> str:
    if name not in SIGNAL_TYPES:
        raise ValueError(f"unknown signal type; known: {', '.join(SIGNAL_TYPES)}")
    return name


class _RegisteredSignal:
    """A signal type name, checked against ``SIGNAL_TYPES`` when a request is validated and listed as the
    schema's ``enum`` when ``/openapi.json`` is made: both read the registry then, not at import, so a type
    registered before the app starts is accepted and documented with no edit here."""

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(_registered, core_schema.str_schema())

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "enum": list(SIGNAL_TYPES)}


#: One of the registered signal types (``redline.signals.types``; ``pdq_region`` is robust PDQ,
#: docs/ROBUSTNESS.md).
SignalName = Annotated[str, _RegisteredSignal]
Scope = Literal["submit", "match", "feed", "review", "admin"]
BankName = Field(pattern=BANK_NAME_PATTERN)
#: What a bank does with its matches unless a rule says otherwise (``actions.models.ACTIONS``).
BankAction = Literal["block_and_review", "block", "review", "log"]
assert set(BankAction.__args__) == set(ACTIONS)  # type: ignore[attr-defined]
#: A key's or partner's name, for people: no markup, no invisible or direction-changing characters.
Label = Annotated[str, Field(min_length=1, max_length=MAX_LABEL), AfterValidator(check_label)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


#: Hashes in one survivor submission: an image sends pdq, md5, sha256 and its pdq_region hashes (how many:
#: docs/ROBUSTNESS.md), so this is a few hundred images per case, ~1.2 MB of JSON (under
#: ``max_request_bytes``).
MAX_CASE_HASHES = 10_000


#: Longest video position a frame hash may give (24 hours, in milliseconds).
MAX_VIDEO_MS = 24 * 3600 * 1000


class HashIn(Strict):
    type: SignalName
    value: str = Field(
        min_length=1,
        max_length=MAX_VALUE_CHARS,
        description="hex (lowercase or uppercase) for bit and byte hashes, base64 for float vectors",
    )
    quality: int | None = Field(default=None, ge=0, le=100, description="PDQ quality, 0-100")
    item: int | None = Field(
        default=None,
        ge=0,
        le=MAX_CASE_HASHES,
        description="which picture or video of this submission the hash comes from (0, 1, ...). In a "
        "survivor case, review verdicts are counted per item and quarantine all its hashes together; "
        "elsewhere it is only stored",
    )
    at_ms: int | None = Field(
        default=None,
        ge=0,
        le=MAX_VIDEO_MS,
        description="vpdq frame hashes only: where in the video the frame is, in milliseconds (shown to "
        "reviewers as the matched time ranges)",
    )


class Attestation(Strict):
    subject: Literal["self", "on_behalf"]
    adult: Literal[True]
    non_consensual: Literal[True]
    text_version: str = Field(default=ATTESTATION_TEXT_VERSION, max_length=32)


class CaseIn(Strict):
    hashes: list[HashIn] = Field(min_length=1, max_length=MAX_CASE_HASHES)
    attestation: Attestation
    contact: str | None = Field(default=None, max_length=500, description="optional; stored encrypted")
    tags: list[Literal["synthetic"]] = Field(default_factory=list, max_length=1)


class CaseCreated(BaseModel):
    case_id: str
    secret: str = Field(description="shown once; cannot be recovered")
    hashes: int


class CaseHashOut(BaseModel):
    position: int = Field(description="index of the hash in the submission")
    type: str
    status: str
    matches: int


class CaseItemOut(BaseModel):
    """One picture or video of the case, as the survivor's case page shows it."""

    item: int | None = Field(description="position in the submission; null for a hash sent without one")
    kind: Literal["picture", "video", "file"] = Field(description="file: exact copies only")
    status: str
    copies_found: int = Field(description="platform uploads that matched it (one upload counts once)")
    reported: dict[str, int] = Field(
        description="of those, how many were Blocked, PendingReview, NotBlocked or Recorded (logged only)"
    )


class CaseOut(BaseModel):
    case_id: str
    status: str
    created_at: datetime
    withdrawn_at: datetime | None
    items: list[CaseItemOut] = Field(description="one per picture or video, in submission order")
    hashes: list[CaseHashOut]
    matches: int = Field(description="hash matches (one exact upload can match several hashes)")
    actions: dict[str, int]
    third_party: bool = Field(default=False, description="filed by a flagger for the person depicted")
    claimed: bool = Field(default=False, description="a third-party case the person has claimed")


class FlaggedCaseIn(Strict):
    """A third-party case from a flagger's intake (docs/INTAKE.md): hashes only, and optionally the signed
    intake manifest (no names; its SHA-256 goes into the log)."""

    hashes: list[HashIn] = Field(min_length=1, max_length=MAX_CASE_HASHES)
    manifest: str | None = Field(default=None, max_length=4 * 1024 * 1024)


class FlaggedCaseCreated(BaseModel):
    case_id: str
    secret: str = Field(description="for the hand-over sheet; stops working when the person claims")
    hashes: int
    known_items: int = Field(description="pictures already in the bank (whose is never said)")


class CollectionIn(Strict):
    manifest: str = Field(max_length=4 * 1024 * 1024)


class CollectionLogged(BaseModel):
    manifest_sha256: str
    cases: int


class ClaimOut(BaseModel):
    case_id: str
    secret: str = Field(description="the person's own secret: shown once, the sheet's no longer works")


class WithdrawOut(BaseModel):
    case_id: str
    status: str
    withdrawn: int = Field(description="hashes withdrawn by this request")


class AttestationText(BaseModel):
    version: str
    text: str


class MatchQuery(Strict):
    type: SignalName
    value: str = Field(min_length=1, max_length=MAX_VALUE_CHARS)
    label: Label | None = Field(
        default=None,
        description="pdq_region only: which derived hash this is, as robust.query_hashes labels it (full, "
        "mirror, band_left_0.1, window_...). The server gives a label's measured threshold: full and mirror "
        "64 bits against stored whole pictures, the edge strips (band_*) a stricter 32, every other the "
        "bank's; without a label, the bank's",
    )
    at_ms: int | None = Field(
        default=None,
        ge=0,
        le=MAX_VIDEO_MS,
        description="vpdq frame hashes of one video (send a content_id): where in the upload the frame is, "
        "in milliseconds. Frame matches are then judged as one video (overlap both ways) and reported with "
        "the matched time ranges",
    )


class MatchIn(Strict):
    hashes: list[MatchQuery] = Field(min_length=1, max_length=1000)
    content_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        description="your id for the content; logged with each match and shown to reviewers. With it, the "
        "request's hashes are taken as one content: pdq_region matches are reported once per survivor case",
    )
    metadata: dict[str, Any] | None = Field(
        default=None, description="your small JSON object (at most 4 KiB) stored with each match"
    )


class MatchOut(BaseModel):
    entry_id: int
    bank: str
    type: str
    distance: int
    quality: int | None
    status: str
    action: str
    match_id: int | None = Field(default=None, description="this match in the match log")
    review_item_id: int | None = Field(
        default=None, description="the review item, when the action queues the match for human review"
    )


class VideoRange(BaseModel):
    start_s: float
    end_s: float


class VideoMatchOut(BaseModel):
    """Frame matches of one upload and one stored video (its case item), judged as one video match."""

    entry_id: int = Field(description="the closest matched frame entry, standing for the stored video")
    bank: str
    upload_match_pct: float = Field(description="share of the upload's seconds found in the stored video")
    stored_match_pct: float = Field(description="share of the stored video's frames found in the upload")
    matched_frames: int
    upload_ranges: list[VideoRange]
    stored_ranges: list[VideoRange]
    review_item_id: int | None = None


class MatchResult(BaseModel):
    matches: list[MatchOut]


class MatchResponse(BaseModel):
    results: list[MatchResult]
    videos: list[VideoMatchOut] = Field(
        default_factory=list, description="vpdq frame matches judged per stored video (with a content_id)"
    )


class FileHash(BaseModel):
    type: str
    value: str
    quality: int | None = None
    at_ms: int | None = Field(default=None, description="vpdq only: where in the uploaded video the frame is")
    label: str | None = Field(
        default=None,
        description="pdq_region only: the part of the upload this hash is of (full, mirror, window_..., "
        "background_box, framed_1..., sharp_box..., derotate_...)",
    )


class FileMatchResponse(BaseModel):
    signals: dict[str, Any]
    hashes: list[FileHash] = Field(
        description="md5, sha256 and pdq of the upload, then each pdq_region query hash that gave an entry "
        "its best match"
    )
    results: list[MatchResult] = Field(description="one per entry of hashes, in order")
    videos: list[VideoMatchOut] = Field(
        default_factory=list,
        description="the stored videos this upload matched, by frame overlap both ways (redline.match.video)",
    )
    region_queries: int = Field(
        default=0,
        description="pdq_region hashes derived from the upload and searched (robust matching); 0 for "
        "videos, featureless images, or when the operator turned robust matching off",
    )


class FeedItem(BaseModel):
    seq: int
    kind: Literal["entry", "tombstone"]
    entry_id: int
    bank: str
    type: str
    value: str | None = Field(description="absent for tombstones")
    quality: int | None
    tags: list[str]
    status: str
    at: datetime
    review_state: Literal["PendingReview", "Blocked", "NotBlocked"] | None = Field(
        default=None, description="human review feedback on the entry (active entries only)"
    )


class FeedPage(BaseModel):
    items: list[FeedItem]
    cursor: str = Field(description="opaque; pass it back to resume after the last item")
    more: bool


class EntriesIn(Strict):
    hashes: list[HashIn] = Field(min_length=1, max_length=10_000)
    tags: list[Literal["synthetic"]] = Field(default_factory=list, max_length=1)


class EntriesAdded(BaseModel):
    bank: str
    added: int
    entry_ids: list[int]


class BankIn(Strict):
    name: str = BankName
    description: str = Field(default="", max_length=2000)
    thresholds: dict[SignalName, int] = Field(default_factory=dict)
    default_action: BankAction = "review"


class BankPatch(Strict):
    description: str | None = Field(default=None, max_length=2000)
    thresholds: dict[SignalName, int] | None = None
    default_action: BankAction | None = None
    enabled: bool | None = None


class BankOut(BaseModel):
    name: str
    description: str
    thresholds: dict[str, int] = Field(description="effective threshold per signal type")
    default_action: str
    enabled: bool
    created_at: datetime


class ImportOut(BaseModel):
    bank: str
    imported: int


class EntryOut(BaseModel):
    id: int
    bank: str
    type: str
    value: str | None = Field(description="only while the entry is active")
    quality: int | None
    source: str
    status: str
    tags: list[str]
    case_id: str | None
    created_at: datetime
    updated_at: datetime


class EntryPatch(Strict):
    status: Literal["active", "quarantined", "expired"]
    reason: str = Field(default="", max_length=500)


class KeyIn(Strict):
    name: Label
    scopes: list[Scope] = Field(min_length=1, max_length=5)
    partner: Label | None = None
    banks: list[Annotated[str, BankName]] = Field(
        default_factory=list,
        max_length=100,
        description="with the submit scope: the banks this key may add hashes to (never the survivors' bank)",
    )
    feed_banks: list[Annotated[str, BankName]] = Field(
        default_factory=list,
        max_length=100,
        description="with the feed scope: the banks this key reads in feeds (granted none, it reads nothing)",
    )


class KeyOut(BaseModel):
    id: str
    name: str
    scopes: list[str]
    created_at: datetime
    revoked_at: datetime | None


class KeyCreated(KeyOut):
    token: str = Field(description="shown once; store it in the platform's secret store")
    banks: list[str] = Field(default_factory=list, description="banks the key may add hashes to")
    feed_banks: list[str] = Field(default_factory=list, description="banks the key reads in feeds")


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    details: dict[str, Any]


class AuditPage(BaseModel):
    items: list[AuditOut]
    next_after: int


class Ready(BaseModel):
    status: str
    entries: int
    change_log_position: int
