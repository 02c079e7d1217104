"""What ``POST /v1/match/file`` looks an upload up by, and how robust matches are merged.

An image upload is decoded once (``redline.signals``); from that decode come its plain hashes (MD5, SHA-256,
PDQ) and, with robust matching on, the ~110 hashes ``redline.signals.robust.query_hashes`` derives (mirrored,
shifted windows, quadrants, centred crops, the photo found inside borders or a screenshot, de-rotated).
Those are searched as ``pdq_region`` queries against the 35 region hashes stored per picture
(docs/ROBUSTNESS.md). Many derived hashes can hit several entries of one picture: each survivor case is
reported once, under the derived hash closest to any of its entries (:func:`best_per_case`).
The pixels never leave :func:`hash_upload`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol, TypeVar

from redline.api.schemas import FileHash
from redline.config import Settings
from redline.signals import ImageSignals, VideoSignals, hash_file
from redline.signals.budget import DecodeBudget
from redline.signals.robust import QUERY_SIDE, ROBUST_THRESHOLD, RegionHash, query_hashes

log = logging.getLogger(__name__)

#: Distinct frame hashes of a video looked up at most (a long video repeats itself; the cap bounds the work).
MAX_VIDEO_QUERIES = 1000
REGION = "pdq_region"


@dataclass(frozen=True)
class RegionQuery:
    """A derived ``pdq_region`` hash and how far beyond the bank's ``pdq_region`` threshold it may match
    (its own measured threshold minus the default one: the whole-upload hashes get more)."""

    hash: FileHash
    allowance: int


def hash_upload(
    path: Path, settings: Settings, budget: DecodeBudget
) -> tuple[ImageSignals | VideoSignals, list[RegionQuery]]:
    """The upload's signals, and its robust ``pdq_region`` query hashes of usable quality (images only,
    when ``settings.robust_matching``). Raises ``SignalError`` for files that cannot be hashed, and
    ``DecoderBusy`` when the process's decoding ``budget`` stays full."""
    side = QUERY_SIDE if settings.robust_matching else None
    signals = hash_file(path, settings.signal_limits(), upright_side=side, budget=budget)
    if not isinstance(signals, ImageSignals) or signals.upright is None:
        return signals, []
    pixels, signals = signals.upright, replace(signals, upright=None)
    try:
        derived: list[RegionHash] = query_hashes(pixels)
    except Exception:  # robust matching adds to plain matching; a finder's bug must not cost the plain match
        log.exception("robust query hashes failed for a %dx%d upload", signals.width, signals.height)
        derived = []
    return signals, [
        RegionQuery(
            FileHash(type=REGION, value=h.hex, quality=h.quality, label=h.label),
            max(0, h.threshold - ROBUST_THRESHOLD),
        )
        for h in derived
        if h.quality >= settings.pdq_min_quality
    ]


def file_queries(signals: ImageSignals | VideoSignals, min_quality: int) -> list[FileHash]:
    """What a file is looked up by besides robust hashes: its exact digests, and its PDQ hash(es) of usable
    quality."""
    hashes = [FileHash(type="md5", value=signals.md5), FileHash(type="sha256", value=signals.sha256)]
    if isinstance(signals, ImageSignals):
        if not signals.pdq_low_quality:
            hashes.append(FileHash(type="pdq", value=signals.pdq, quality=signals.pdq_quality))
    else:
        seen: set[str] = set()
        for frame in signals.frames:
            if frame.quality >= min_quality and frame.pdq not in seen and len(seen) < MAX_VIDEO_QUERIES:
                seen.add(frame.pdq)
                hashes.append(FileHash(type="pdq", value=frame.pdq, quality=frame.quality))
    return hashes


class _Found(Protocol):
    @property
    def entry_id(self) -> int: ...
    @property
    def distance(self) -> int: ...
    @property
    def case_id(self) -> str | None: ...


M = TypeVar("M", bound=_Found)


def _group(match: _Found) -> str | int:
    """What one review item stands for: the survivor case (all crops of a picture are in it), or the entry
    itself when it came without a case (partner submissions, imports)."""
    return match.case_id if match.case_id is not None else match.entry_id


def best_per_case(results: Sequence[list[M]], already: Sequence[list[M]] = ()) -> list[tuple[int, list[M]]]:
    """``results[i]``: the matches of derived hash ``i``. Returns ``(i, matches)`` for each derived hash that
    is the closest one to at least one case (or case-less entry), each case once; on a tie the earlier
    hash (the plain one comes first) is kept. Cases that ``already`` matched (the upload's plain hashes)
    are left out: their match and review item exist.

    Why per case: the survivor's device stores a picture as 36 perceptual entries (its ``pdq`` and 35
    ``pdq_region`` hashes: the whole picture and 34 crops), and an
    edited copy is typically near several neighbouring crops; one upload must make one review item for a
    picture, not one per crop. A case's other pictures are the same survivor's: an upload matching two of
    them still needs one decision."""
    done = {_group(m) for matches in already for m in matches}
    best: dict[str | int, tuple[int, int, M]] = {}  # group -> (distance, query position, match)
    for position, matches in enumerate(results):
        for match in matches:
            group = _group(match)
            if group in done:
                continue
            known = best.get(group)
            if known is None or match.distance < known[0]:
                best[group] = (match.distance, position, match)
    by_query: dict[int, list[M]] = {}
    for _, position, match in sorted(best.values(), key=lambda b: (b[1], b[0], b[2].entry_id)):
        by_query.setdefault(position, []).append(match)
    return sorted(by_query.items())


def regions_once_per_case(types: Sequence[str], results: Sequence[list[M]]) -> list[list[M]]:
    """``POST /v1/match`` with a ``content_id`` (the request is about one piece of content): the same
    grouping as ``/v1/match/file`` for the ``pdq_region`` queries (a platform's derived hashes of one
    upload), keeping one result list per query in order. A region query keeps its matches only for the
    cases it is the closest hash to; every other query's results are untouched."""
    region = [i for i, kind in enumerate(types) if kind == "pdq_region"]
    if not region:
        return [list(r) for r in results]
    others = [r for kind, r in zip(types, results, strict=True) if kind != "pdq_region"]
    out = [list(r) if kind != "pdq_region" else [] for kind, r in zip(types, results, strict=True)]
    for position, matches in best_per_case([results[i] for i in region], already=others):
        out[region[position]] = matches
    return out
