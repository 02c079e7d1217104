"""What ``POST /v1/match/file`` looks an upload up by, and how robust matches are merged.

An image upload is decoded once (``redline.match.derive``, shared with ``redline scan``); from that decode
each registered signal type derives what the upload is looked up by (``SignalType.upload_queries``): the
plain hashes (MD5, SHA-256, PDQ) and,
with robust matching on, the ``pdq_region`` hashes ``redline.signals.robust.query_hashes`` derives (mirrored,
shifted windows, quadrants, centred crops, the photo found inside borders or a screenshot, de-rotated),
searched against the region hashes stored per picture (how many of each: docs/ROBUSTNESS.md). Many derived
hashes can hit several entries of one picture: each survivor case is reported once, under the derived hash
closest to any of its entries (:func:`best_per_case`).
The pixels never leave :func:`hash_upload`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from redline.api.schemas import FileHash
from redline.config import Settings
from redline.match.derive import derive_queries, plain_queries
from redline.signals import ImageSignals, VideoSignals
from redline.signals.budget import DecodeBudget
from redline.signals.types import SIGNAL_TYPES


@dataclass(frozen=True)
class RegionQuery:
    """A derived hash of a type reported once per case (``pdq_region``) and how far beyond the bank's
    threshold for it it may match (its own measured threshold minus the default one: the whole-upload
    hashes get more)."""

    hash: FileHash
    allowance: int


def hash_upload(
    path: Path, settings: Settings, budget: DecodeBudget
) -> tuple[ImageSignals | VideoSignals, list[RegionQuery]]:
    """The upload's signals, and its query hashes of the types reported once per case (robust
    ``pdq_region`` hashes of usable quality: images only, when ``settings.robust_matching``). Raises
    ``SignalError`` for files that cannot be hashed, and ``DecoderBusy`` when the process's decoding
    ``budget`` stays full. The derivation is ``redline.match.derive``'s, shared with ``redline scan``."""
    derived = derive_queries(path, settings, budget)
    return derived.signals, [
        RegionQuery(FileHash(type=h.type, value=h.value, quality=h.quality, label=h.label), h.allowance)
        for h in derived.regions
    ]


def file_queries(signals: ImageSignals | VideoSignals, min_quality: int) -> list[FileHash]:
    """What a file is looked up by besides the hashes reported once per case: each type's upload queries
    (exact digests; PDQ hash(es) of usable quality), in registry order."""
    found = plain_queries(signals, min_quality)
    return [FileHash(type=h.type, value=h.value, quality=h.quality, at_ms=h.at_ms) for h in found]


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

    Why per case: the survivor's device stores a picture as many perceptual entries (its ``pdq`` and its
    ``pdq_region`` hashes: the whole picture and ``robust.STORED_REGIONS``), and an edited copy is
    typically near several neighbouring crops; one upload must make one review item for a
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
    grouped = {name for name, kind in SIGNAL_TYPES.items() if kind.once_per_case}
    region = [i for i, kind in enumerate(types) if kind in grouped]
    if not region:
        return [list(r) for r in results]
    others = [r for kind, r in zip(types, results, strict=True) if kind not in grouped]
    out = [list(r) if kind not in grouped else [] for kind, r in zip(types, results, strict=True)]
    for position, matches in best_per_case([results[i] for i in region], already=others):
        out[region[position]] = matches
    return out
