"""Platform routes: match hashes or a file, mirror the bank through the feed, submit hashes as a partner."""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.exc import DBAPIError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as StarletteUploadFile
from starlette.formparsers import MultiPartException

from redline.actions.matchlog import (
    REQUEST,
    Decided,
    MetadataError,
    Origin,
    act_on_results,
    check_caller_fields,
)
from redline.api.deps import Caller, Services, partner_of, require_scope, services
from redline.api.file_match import (
    RegionQuery,
    best_per_case,
    file_queries,
    hash_upload,
    regions_once_per_case,
)
from redline.api.problems import PROBLEMS, Problem
from redline.api.schemas import (
    EntriesAdded,
    EntriesIn,
    FeedItem,
    FeedPage,
    FileHash,
    FileMatchResponse,
    MatchIn,
    MatchOut,
    MatchResponse,
    MatchResult,
    VideoMatchOut,
    VideoRange,
)
from redline.api.uploads import UploadFile
from redline.bank import grants, service
from redline.match.derive import region_allowance
from redline.match.service import Match
from redline.match.service import Query as MatchQuery
from redline.match.video import VideoOverlap, group_of, judge_videos
from redline.mirror.hub import ServedPage, record_pull
from redline.retro.seen import Checked, SeenHashIn, remember_checked
from redline.review.models import ReviewItem
from redline.review.queue import review_states
from redline.signals import SignalError
from redline.signals.types import signal_type

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["platforms"])
_CURSOR_PREFIX = b"seq:"


def _result(matches: list[Match], decided: list[Decided]) -> MatchResult:
    return MatchResult(
        matches=[
            MatchOut(
                entry_id=m.entry_id,
                bank=m.bank,
                type=m.signal_type,
                distance=m.distance,
                quality=m.quality,
                status=m.status,
                action=d.action,
                match_id=d.match_id,
                review_item_id=d.review_item_id,
            )
            for m, d in zip(matches, decided, strict=True)
        ]
    )


def check_fields(content_id: str | None, metadata: dict[str, Any] | None) -> None:
    try:
        check_caller_fields(content_id, metadata)
    except MetadataError as exc:
        raise Problem("validation-error", str(exc)) from None


def find_matches(found: Services, queries: list[MatchQuery]) -> list[list[Match]]:
    if not found.matcher.ready.is_set():
        raise Problem("not-ready", "the match index is still loading", headers={"Retry-After": "5"})
    results = found.matcher.match(queries)
    for query, matches in zip(queries, results, strict=True):
        found.metrics.queries.labels(query.signal_type).inc()
        if matches:
            found.metrics.matches.labels(query.signal_type).inc(len(matches))
    return results


def act(
    found: Services,
    query_values: list[str],
    results: list[list[Match]],
    caller: Caller,
    content_id: str | None,
    metadata: dict[str, Any] | None,
    one_content: bool,
    origin: Origin = REQUEST,
    videos: Sequence[VideoOverlap] = (),
) -> list[MatchResult]:
    """The moderation path for matches already found: action rules, match log, review queue, webhooks.
    ``one_content``: the queries are of one piece of content, so each matched picture is one review item
    and one ``match.created`` event (``redline.actions.matchlog``). ``videos``: the video matches among
    them (``redline.match.video``), whose overlap and time ranges go on their review items."""
    # Action rules, match log, review queue and match.created webhooks: one transaction (none without matches,
    # so the common no-match lookup never takes the database's write lock).
    decided: list[list[Decided]] = [[] for _ in results]
    if any(results):
        try:
            decided = _log_and_act(
                found, query_values, results, caller, content_id, metadata, one_content, origin, videos
            )
        except DBAPIError:
            if content_id is None and metadata is None:
                raise
            # The database refused the caller's own fields (whatever check_caller_fields did not foresee):
            # the match must still be logged, reviewed and reported, without them.
            log.warning("the database refused a match's content_id/metadata; logged without them")
            decided = _log_and_act(
                found, query_values, results, caller, None, None, one_content, origin, videos
            )
    return [_result(m, d) for m, d in zip(results, decided, strict=True)]


def _log_and_act(
    found: Services,
    query_values: list[str],
    results: list[list[Match]],
    caller: Caller,
    content_id: str | None,
    metadata: dict[str, Any] | None,
    one_content: bool,
    origin: Origin,
    videos: Sequence[VideoOverlap] = (),
) -> list[list[Decided]]:
    with found.db.write() as session:
        decided = act_on_results(
            session,
            query_values,
            results,
            api_key_id=caller.key_id,
            content_id=content_id,
            metadata=metadata,
            one_content=one_content,
            origin=origin,
        )
        _note_videos(session, results, decided, videos)
        return decided


def _note_videos(
    session: Any, results: list[list[Match]], decided: list[list[Decided]], videos: Sequence[VideoOverlap]
) -> None:
    """Put each video match's overlap and time ranges on its review item (same transaction)."""
    by_group = {v.group: v for v in videos}
    if not by_group:
        return
    for matches, decisions in zip(results, decided, strict=True):
        for m, d in zip(matches, decisions, strict=True):
            overlap = by_group.get(group_of(m)) if m.signal_type == "vpdq" else None
            if overlap is not None and d.review_item_id is not None:
                item = session.get(ReviewItem, d.review_item_id)
                if item is not None:
                    item.video = overlap.to_dict()


def video_results(
    videos: Sequence[VideoOverlap], results: Sequence[list[Match]], answer: Sequence[MatchResult]
) -> list[VideoMatchOut]:
    """The response's view of each video match, with the review item its frame matches went to."""
    items: dict[object, int | None] = {}
    for matches, result in zip(results, answer, strict=True):
        for m, out in zip(matches, result.matches, strict=True):
            if m.signal_type == "vpdq" and out.review_item_id is not None:
                items.setdefault(group_of(m), out.review_item_id)
    return [
        VideoMatchOut(
            entry_id=v.entry_id,
            bank=v.bank,
            upload_match_pct=v.upload_pct,
            stored_match_pct=v.stored_pct if v.stored_pct is not None else 0.0,
            matched_frames=v.matched_frames,
            upload_ranges=[VideoRange(start_s=a, end_s=b) for a, b in v.upload_ranges],
            stored_ranges=[VideoRange(start_s=a, end_s=b) for a, b in v.stored_ranges],
            review_item_id=items.get(v.group),
        )
        for v in videos
    ]


def judged(
    found: Services,
    queries: Sequence[MatchQuery],
    at_ms: Sequence[int | None],
    results: list[list[Match]],
    one_video: bool,
) -> tuple[list[list[Match]], list[VideoOverlap]]:
    """Frame matches judged per stored video (``redline.match.video``): the queries as one video when they
    are one piece of content, else each frame hash on its own (a frame grab)."""
    types = [q.signal_type for q in queries]
    min_quality = found.settings.pdq_min_quality
    if one_video:
        return judge_videos(found.db, types, at_ms, results, min_quality)
    out, videos = [list(r) for r in results], []
    for i, kind in enumerate(types):
        if kind == "vpdq" and results[i]:
            alone, found_videos = judge_videos(found.db, [kind], [at_ms[i]], [results[i]], min_quality)
            out[i] = alone[0]
            videos += found_videos
    return out, videos


def remember(found: Services, caller: Caller, checked: Sequence[Checked], origin: Origin = REQUEST) -> None:
    """Keep the hashes of content checked with a ``content_id`` for retroactive matching
    (``redline.retro``), when the operator keeps them (``seen_retention_days``). After the response's
    matches are committed; a failure here is logged and never costs the caller its answer."""
    if not checked or found.settings.seen_retention_days <= 0:
        return
    try:
        remember_checked(found.db, api_key_id=caller.key_id, checked=checked, origin=origin.kind)
    except DBAPIError:
        log.exception("could not keep the hashes of checked content for retroactive matching")


def checked_content(
    content_id: str | None, plain: Sequence[FileHash | MatchQuery], regions: Sequence[FileHash] = ()
) -> list[Checked]:
    """What is remembered of one checked piece of content (nothing without a ``content_id``)."""
    if content_id is None:
        return []
    return [Checked(content_id, [_seen_hash(h) for h in plain], [_seen_hash(h) for h in regions])]


def _seen_hash(h: FileHash | MatchQuery) -> SeenHashIn:
    if isinstance(h, MatchQuery):
        return SeenHashIn(h.signal_type, h.value)
    return SeenHashIn(h.type, h.value, h.label)


@router.post("/match", response_model=MatchResponse)
def match_hashes(
    body: MatchIn, request: Request, caller: Annotated[Caller, Depends(require_scope("match"))]
) -> MatchResponse:
    """Look up to 1,000 hashes; one result per query, in order. With a ``content_id`` the hashes are one
    piece of content: its ``pdq_region`` matches are reported once per survivor case, under the closest
    hash (as ``/v1/match/file`` does), so one edited upload makes one review item per picture."""
    queries = []
    at_ms: list[int | None] = []
    for position, h in enumerate(body.hashes):
        try:
            normal = service.normalize_hash(h.type, h.value)
        except service.Invalid as exc:
            raise Problem("invalid-hash", f"hashes[{position}]: {exc.detail}") from None
        if not signal_type(normal.signal_type).matchable():
            detail = f"hashes[{position}]: {normal.signal_type} hashes are stored and fed, not matched yet"
            raise Problem("invalid-hash", detail)
        if h.at_ms is not None and normal.signal_type != "vpdq":
            raise Problem("invalid-hash", f"hashes[{position}]: at_ms is only for vpdq frame hashes")
        if h.label is not None and not signal_type(normal.signal_type).once_per_case:
            raise Problem("invalid-hash", f"hashes[{position}]: label is only for pdq_region query hashes")
        queries.append(MatchQuery(normal.signal_type, normal.value, region_allowance(h.label)))
        at_ms.append(h.at_ms)
    found = services(request)
    check_fields(body.content_id, body.metadata)
    results = find_matches(found, queries)
    if body.content_id is not None:
        results = regions_once_per_case([q.signal_type for q in queries], results)
    results, videos = judged(found, queries, at_ms, results, one_video=body.content_id is not None)
    answer = act(
        found,
        [q.value for q in queries],
        results,
        caller,
        body.content_id,
        body.metadata,
        one_content=body.content_id is not None,
        videos=videos,
    )
    remember(found, caller, checked_content(body.content_id, queries))
    return MatchResponse(results=answer, videos=video_results(videos, results, answer))


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(_CURSOR_PREFIX + str(seq).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        if not raw.startswith(_CURSOR_PREFIX):
            raise ValueError
        seq = int(raw[len(_CURSOR_PREFIX) :].decode("ascii"))
        if seq < 0:
            raise ValueError
        return seq
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise Problem("invalid-cursor", "pass back a cursor from a previous page, or none") from None


@router.get("/feed", response_model=FeedPage)
def feed(
    request: Request,
    caller: Annotated[Caller, Depends(require_scope("feed"))],
    cursor: Annotated[str, Query(max_length=64)] = "",
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> FeedPage:
    """Entries and tombstones of the banks this key is granted to read, in change order. Store ``cursor``
    and pass it back to get what came after.

    An ``entry`` item with status ``active`` adds or replaces ``entry_id`` in your mirror; a ``tombstone``
    (withdrawn, quarantined, expired) means delete ``entry_id`` now."""
    after = decode_cursor(cursor) if cursor else 0
    with services(request).db.read() as session:
        try:
            readable = grants.readable_banks(session, caller.key_id)
        except grants.NothingToRead as exc:
            raise Problem("forbidden", exc.detail) from None
        rows = service.feed_page(session, after, limit + 1, bank_names=readable)
        more = len(rows) > limit
        rows = rows[:limit]
        reviewed = review_states(session, [c.entry_id for c, _ in rows if c.status == "active"])
    items = [
        FeedItem(
            seq=c.seq,
            kind="entry" if c.status == "active" else "tombstone",
            entry_id=c.entry_id,
            bank=bank,
            type=c.signal_type,
            value=c.value if c.status == "active" else None,
            quality=c.quality,
            tags=list(c.tags or []),
            status=c.status,
            at=c.at,
            review_state=reviewed.get(c.entry_id) if c.status == "active" else None,
        )
        for c, bank in rows
    ]
    if items:  # the audit log says what each partner pulled: positions and counts, no hashes
        position = rows[-1][0].seq
        served = ServedPage([i.model_dump() for i in items], after, position, position, more)
        with services(request).db.write() as session:
            record_pull(session, caller.actor, f"partner:{partner_of(request, caller)}", served, readable)
    return FeedPage(items=items, cursor=encode_cursor(rows[-1][0].seq if rows else after), more=more)


@router.post("/banks/{bank}/entries", status_code=201, response_model=EntriesAdded)
def submit_entries(
    bank: str, body: EntriesIn, request: Request, caller: Annotated[Caller, Depends(require_scope("submit"))]
) -> EntriesAdded:
    """A partner (an NGO, a hotline) adds hashes it has verified to a bank."""
    hashes = [service.normalize_hash(h.type, h.value, h.quality, h.item, h.at_ms) for h in body.hashes]
    found = services(request)
    with found.db.write() as session:
        if not grants.may_submit(session, caller.key_id, bank, found.settings.survivor_bank):
            raise Problem("forbidden", f"this API key is not granted the bank {bank!r}")
        ids = service.add_entries(
            session, bank, hashes, source="partner", origin=caller.actor, actor=caller.actor, tags=body.tags
        )
    return EntriesAdded(bank=bank, added=len(ids), entry_ids=ids)


def form_caller_fields(content_id: object, metadata: object) -> tuple[str | None, dict[str, Any] | None]:
    """The optional ``content_id`` and ``metadata`` (a JSON object, as text) fields of a multipart upload."""
    if content_id is not None and not isinstance(content_id, str):
        raise Problem("invalid-request", "content_id must be a text field")
    parsed: dict[str, Any] | None = None
    if metadata is not None:
        try:
            value = json.loads(metadata) if isinstance(metadata, str) else None
        except (ValueError, RecursionError):
            value = None
        if not isinstance(value, dict):
            raise Problem("invalid-request", "metadata must be a JSON object")
        parsed = value
    return content_id or None, parsed


def _signal_problem(code: str) -> str:
    problem = code.replace("_", "-")
    return problem if problem in PROBLEMS else "unreadable"


@router.post(
    "/match/file",
    response_model=FileMatchResponse,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "content_id": {"type": "string", "maxLength": 256},
                            "metadata": {"type": "string", "description": "a JSON object, at most 4 KiB"},
                        },
                    }
                }
            },
        }
    },
)
async def match_file(
    request: Request, caller: Annotated[Caller, Depends(require_scope("match"))]
) -> FileMatchResponse:
    """Upload an image or video (multipart field ``file``): it is hashed here, looked up, and deleted at once;
    the response gives the computed hashes and the matches. The key is checked before the upload is read."""
    found = services(request)
    with UploadFile(found.upload_dir) as stored:  # no name on disk where the system allows (api/uploads.py)
        try:
            try:
                form = await request.form(max_files=1, max_fields=4)
            except (MultiPartException, ValueError, KeyError):
                raise Problem(
                    "invalid-request", "send multipart/form-data with one file field named file"
                ) from None
            upload = form.get("file")
            if not isinstance(upload, StarletteUploadFile):
                await form.close()
                raise Problem("invalid-request", "send multipart/form-data with one file field named file")
            try:
                while chunk := await upload.read(1 << 20):
                    stored.file.write(chunk)
                stored.file.flush()
            finally:
                await form.close()
            content_id, metadata = form_caller_fields(form.get("content_id"), form.get("metadata"))
            check_fields(content_id, metadata)
            signals, derived = await run_in_threadpool(
                hash_upload, stored.path, found.settings, found.decode_budget
            )
        except SignalError as exc:
            raise Problem(_signal_problem(exc.code), exc.message) from None
    hashes = file_queries(signals, found.settings.pdq_min_quality)
    hashes, results, videos = await run_in_threadpool(
        match_upload, found, hashes, derived, caller, content_id, metadata
    )
    return FileMatchResponse(
        signals=signals.to_dict(),
        hashes=hashes,
        results=results,
        videos=videos,
        region_queries=len(derived),
    )


def match_upload(
    found: Services,
    hashes: list[FileHash],
    derived: list[RegionQuery],
    caller: Caller,
    content_id: str | None,
    metadata: dict[str, Any] | None,
    origin: Origin = REQUEST,
    keep: bool = True,
) -> tuple[list[FileHash], list[MatchResult], list[VideoMatchOut]]:
    """Search the upload's plain and derived hashes in one go; keep each case's best derived match only
    (one log row, one review item per matched picture's case, none where a plain hash already matched the
    case; ``file_match.best_per_case``), judge its frame matches per stored video
    (``redline.match.video``), then act on everything through the usual path. ``redline scan``'s files come
    here too (``api/scan.py``), with their ``origin``."""
    queries = [MatchQuery(h.type, h.value) for h in hashes]
    queries += [MatchQuery(d.hash.type, d.hash.value, d.allowance) for d in derived]
    found_matches = find_matches(found, queries)
    plain, robust = found_matches[: len(hashes)], found_matches[len(hashes) :]
    plain, videos = judged(found, queries[: len(hashes)], [h.at_ms for h in hashes], plain, one_video=True)
    kept = best_per_case(robust, already=plain)
    checked = hashes
    hashes = [*hashes, *(derived[position].hash for position, _ in kept)]
    results = [*plain, *(matches for _, matches in kept)]
    values = [h.value for h in hashes]
    answer = act(
        found, values, results, caller, content_id, metadata, one_content=True, origin=origin, videos=videos
    )
    if keep:  # a scan keeps a whole batch's in one transaction (api/scan.py)
        remember(found, caller, checked_content(content_id, checked, [d.hash for d in derived]), origin)
    return hashes, answer, video_results(videos, results, answer)
