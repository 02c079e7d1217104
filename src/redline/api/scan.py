"""``POST /v1/scans/{scan_id}/files``: the results of ``redline scan`` (content a platform already hosts).

The scanner hashes the files on the platform's machines and sends only their hashes: the plain ones and the
robust region hashes with their labels, exactly what ``/v1/match/file`` derives from an upload
(``redline.match.derive``). Each file then goes through ``/v1/match/file``'s own matching and moderation
path (``platform.match_upload``): one review item per matched picture, the match log, the action rules and
``match.created`` webhooks, marked ``origin: scan``. The allowance of each region hash is decided here from
its label, never taken from the caller.

Idempotent per ``(scan_id, content_id)``: a file whose matches this scan already logged is not matched
again; its logged matches come back with ``already: true`` (only to the key that logged them). So a
scanner killed after the server committed but before it recorded the batch can send the batch again and
report each match once.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from redline.actions.matchlog import Origin
from redline.actions.models import MatchLogEntry
from redline.api.deps import Caller, require_scope, services
from redline.api.file_match import RegionQuery
from redline.api.platform import check_fields, checked_content, match_upload, remember
from redline.api.problems import Problem
from redline.api.schemas import MAX_VIDEO_MS, FileHash, SignalName, Strict
from redline.bank import service
from redline.bank.models import Bank
from redline.match.derive import region_allowance
from redline.signals.types import MAX_VALUE_CHARS, signal_type
from redline.signals.video import MAX_BETWEEN_QUERIES, MAX_QUERY_FRAMES, MAX_STORED_FRAMES

router = APIRouter(prefix="/v1", tags=["platforms"])

#: Files per request: a batch of the scanner's (each file has ~85 robust region hashes).
MAX_FILES = 64
#: Hashes per file: the plain ones plus every robust query hash of one image (a few hundred), or a video's
#: frame hashes (``signals.video.query_frame_codes``: up to ``MAX_QUERY_FRAMES`` frames, each by its whole,
#: box, bars and mirror hashes as pdq and by those and its two narrowed crops as vpdq, plus 4 quadrants at up
#: to ``MAX_STORED_FRAMES`` moments, plus up to ``MAX_BETWEEN_QUERIES`` whole frames between the sampled ones
#: as pdq and as vpdq), with its two digests.
MAX_HASHES = (4 + 6) * MAX_QUERY_FRAMES + 4 * MAX_STORED_FRAMES + 2 * MAX_BETWEEN_QUERIES + 2
ScanId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{8,64}$")]


class ScanHash(Strict):
    type: SignalName
    value: str = Field(min_length=1, max_length=MAX_VALUE_CHARS)
    quality: int | None = Field(default=None, ge=0, le=100)
    label: str | None = Field(
        default=None, max_length=64, description="pdq_region only: the part of the file the hash is of"
    )
    at_ms: int | None = Field(
        default=None, ge=0, le=MAX_VIDEO_MS, description="vpdq only: where in the video the frame is (ms)"
    )


class ScanFile(Strict):
    content_id: str = Field(min_length=1, max_length=256, description="your id for the hosted content")
    metadata: dict[str, Any] | None = None
    hashes: list[ScanHash] = Field(min_length=1, max_length=MAX_HASHES)


class ScanFilesIn(Strict):
    files: list[ScanFile] = Field(min_length=1, max_length=MAX_FILES)


class ScanMatch(BaseModel):
    match_id: int
    entry_id: int
    bank: str
    type: str
    distance: int
    action: str
    review_item_id: int | None


class ScanFileResult(BaseModel):
    content_id: str
    already: bool = Field(description="this scan had already sent the file; its logged matches are shown")
    matches: list[ScanMatch]


class ScanFilesOut(BaseModel):
    files: list[ScanFileResult]


def _split(file: ScanFile, position: int) -> tuple[list[FileHash], list[RegionQuery]]:
    plain: list[FileHash] = []
    regions: list[RegionQuery] = []
    for at, h in enumerate(file.hashes):
        where = f"files[{position}].hashes[{at}]"
        try:
            normal = service.normalize_hash(h.type, h.value)
        except service.Invalid as exc:
            raise Problem("invalid-hash", f"{where}: {exc.detail}") from None
        kind = signal_type(normal.signal_type)
        if not kind.matchable():
            raise Problem("invalid-hash", f"{where}: {kind.name} hashes are stored and fed, not matched yet")
        if h.at_ms is not None and kind.name != "vpdq":
            raise Problem("invalid-hash", f"{where}: at_ms is only for vpdq frame hashes")
        found = FileHash(type=kind.name, value=normal.value, quality=h.quality, label=h.label, at_ms=h.at_ms)
        if kind.once_per_case:
            regions.append(RegionQuery(found, region_allowance(h.label)))
        else:
            plain.append(found)
    return plain, regions


def _logged(request: Request, caller: Caller, scan_id: str, content_id: str) -> list[ScanMatch] | None:
    """This key's logged matches of the file in this scan (scan ids are the caller's to choose: another
    key's are none of its business)."""
    with services(request).db.read() as session:
        rows = session.execute(
            select(MatchLogEntry, Bank.name)
            .join(Bank, Bank.id == MatchLogEntry.bank_id)
            .where(
                MatchLogEntry.api_key_id == caller.key_id,
                MatchLogEntry.scan_id == scan_id,
                MatchLogEntry.content_id == content_id,
            )
            .order_by(MatchLogEntry.id)
        ).all()
    if not rows:
        return None
    return [
        ScanMatch(
            match_id=row.id,
            entry_id=row.entry_id,
            bank=bank,
            type=row.query_type,
            distance=row.distance,
            action=row.action,
            review_item_id=row.review_item_id,
        )
        for row, bank in rows
    ]


def _scan_files(request: Request, scan_id: str, body: ScanFilesIn, caller: Caller) -> ScanFilesOut:
    found = services(request)
    parsed = [_split(file, position) for position, file in enumerate(body.files)]
    for file in body.files:
        check_fields(file.content_id, file.metadata)
    out: list[ScanFileResult] = []
    origin = Origin("scan", scan_id)
    checked = []
    for file, (plain, regions) in zip(body.files, parsed, strict=True):
        logged = _logged(request, caller, scan_id, file.content_id)
        if logged is not None:
            out.append(ScanFileResult(content_id=file.content_id, already=True, matches=logged))
            continue
        _, results, _ = match_upload(
            found, plain, regions, caller, file.content_id, file.metadata, origin, keep=False
        )
        checked += checked_content(file.content_id, plain, [r.hash for r in regions])
        matches = [
            ScanMatch(
                match_id=m.match_id or 0,
                entry_id=m.entry_id,
                bank=m.bank,
                type=m.type,
                distance=m.distance,
                action=m.action,
                review_item_id=m.review_item_id,
            )
            for result in results
            for m in result.matches
        ]
        out.append(ScanFileResult(content_id=file.content_id, already=False, matches=matches))
    remember(found, caller, checked, origin)  # the batch's hashes for retroactive matching, in one go
    return ScanFilesOut(files=out)


@router.post("/scans/{scan_id}/files", response_model=ScanFilesOut)
async def scan_files(
    scan_id: ScanId,
    body: ScanFilesIn,
    request: Request,
    caller: Annotated[Caller, Depends(require_scope("match"))],
) -> ScanFilesOut:
    """Match a batch of up to 64 hosted files by their hashes (``redline scan`` sends them): each file as
    ``/v1/match/file`` matches an upload, logged with ``origin: scan``. Sending a file again in the same
    scan returns its logged matches (``already: true``) and acts on nothing twice."""
    return await run_in_threadpool(_scan_files, request, scan_id, body, caller)
