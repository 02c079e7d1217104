"""Frame matches of one upload become video matches: overlap both ways, matched time ranges.

A stored video is many ``vpdq`` entries (its kept frames, ``signals.video.stored_frames``) in one case item.
The matcher finds, for each frame the upload is looked up by, the stored frames within the threshold; a
single frame in common is weak evidence (two films share a black-to-title fade), so frame matches are
judged per stored video, as Meta's vPDQ and ``redline compare`` do:

* ``upload_pct``: share of the upload's seconds (``BIN_S`` bins of its query frames) with a frame found in
  the stored video: high for a clip cut from it, a re-encode, a re-upload;
* ``stored_pct``: share of the stored video's usable frames found in the upload: high for a long upload
  that contains the stored video (a compilation, a screen recording of it playing).

A video matches when either share reaches ``VIDEO_MATCH_PCT`` and at least ``MIN_MATCHED_FRAMES`` frames
(fewer when a side has fewer) are in common. An image upload is one query frame: it matches a video whose
frame it is (a frame grab posted as a picture) at 100 % of the upload. Stored frames without a case (partner
submissions, mirrors) have no known video around them: they are judged by ``upload_pct`` alone.

Every kept match is reported and acted on as before (one review item per upload and stored video, since a
video is one case item); the overlap, with the time ranges, is stored on that review item for the reviewer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import func, select

from redline.bank.db import Database
from redline.bank.models import Entry
from redline.match.service import Match
from redline.signals.video import VideoFrame, query_frame_codes, stored_frame_codes

VIDEO_TYPE = "vpdq"
#: Share (percent) of either side found in the other from which a video matches (docs/BENCHMARKS.md,
#: Video recall: chosen on the measured false-match rate between distinct videos).
VIDEO_MATCH_PCT = 50.0
#: Frames in common at least (or every frame of a side that has fewer).
MIN_MATCHED_FRAMES = 2
#: The upload's coverage is counted in bins of this many seconds: query frames are denser than stored
#: ones, so a bin counts when any of its frames was found.
BIN_S = 1.0
#: Matched moments closer than this (seconds) are one time range.
RANGE_GAP_S = 2.0

Group = tuple[str, str | int, int | None]


@dataclass(frozen=True)
class VideoOverlap:
    """One upload against one stored video (its case item; a case-less frame entry stands alone)."""

    group: Group = field(repr=False)
    entry_id: int
    bank: str
    upload_pct: float
    stored_pct: float | None
    matched_frames: int
    upload_ranges: list[tuple[float, float]]
    stored_ranges: list[tuple[float, float]]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        del out["group"]
        out["upload_ranges"] = [list(r) for r in self.upload_ranges]
        out["stored_ranges"] = [list(r) for r in self.stored_ranges]
        return out


def group_of(match: Match) -> Group:
    """What one stored video is: its case item, or the entry itself when it has no case."""
    if match.case_id is not None:
        return ("case", match.case_id, match.item)
    return ("entry", match.entry_id, None)


def judge_videos(
    db: Database,
    types: Sequence[str],
    at_ms: Sequence[int | None],
    results: Sequence[list[Match]],
    min_quality: int,
) -> tuple[list[list[Match]], list[VideoOverlap]]:
    """Keep the ``vpdq`` matches of stored videos the upload overlaps enough (see the module docstring);
    every other query's matches are untouched. ``types[i]``, ``at_ms[i]``: query ``i``'s type and position
    in the upload (None: the query is a unit of its own, e.g. an image upload's one hash)."""
    frames = [i for i, kind in enumerate(types) if kind == VIDEO_TYPE]
    out = [list(r) for r in results]
    if not frames or not any(results[i] for i in frames):
        return out, []
    unit = {i: _unit(i, at_ms[i]) for i in frames}
    units_total = len(set(unit.values()))
    found_units: dict[Group, set[object]] = {}
    found_stored: dict[Group, dict[object, int | None]] = {}  # stored moment -> its time
    query_times: dict[Group, list[int]] = {}
    best: dict[Group, Match] = {}
    for i in frames:
        for m in results[i]:
            g = group_of(m)
            found_units.setdefault(g, set()).add(unit[i])
            # A stored moment is one frame, whichever of its hashes (whole, box) matched.
            moment: object = ("t", m.frame_ms) if m.frame_ms is not None else ("e", m.entry_id)
            found_stored.setdefault(g, {})[moment] = m.frame_ms
            if at_ms[i] is not None:
                query_times.setdefault(g, []).append(int(at_ms[i] or 0))
            if g not in best or (m.distance, m.entry_id) < (best[g].distance, best[g].entry_id):
                best[g] = m
    totals = _stored_totals(db, [g for g in found_units if g[0] == "case"], min_quality)
    kept: list[VideoOverlap] = []
    for g, units in found_units.items():
        stored = found_stored[g]
        total = totals.get(g, 0) if g[0] == "case" else None
        matched, upload_pct, stored_pct = decide(len(units), units_total, len(stored), total)
        if not matched:
            continue
        kept.append(
            VideoOverlap(
                group=g,
                entry_id=best[g].entry_id,
                bank=best[g].bank,
                upload_pct=upload_pct,
                stored_pct=stored_pct,
                matched_frames=len(stored),
                upload_ranges=time_ranges(query_times.get(g, [])),
                stored_ranges=time_ranges([t for t in stored.values() if t is not None]),
            )
        )
    keep = {v.group for v in kept}
    for i in frames:
        out[i] = [m for m in results[i] if group_of(m) in keep]
    kept.sort(key=lambda v: (-max(v.upload_pct, v.stored_pct or 0.0), v.entry_id))
    return out, kept


def compare_as_server(
    upload: Sequence[VideoFrame], stored: Sequence[VideoFrame], threshold: int, min_quality: int
) -> tuple[bool, VideoOverlap]:
    """What the server decides for an upload's frames against one stored video, computed here from both
    files' frames (``redline compare``, bench/video_recall.py): the same hashes each side sends
    (``query_frame_codes``, ``stored_frame_codes``: what ``/v1/match/file`` looks up and what the bank
    stores), the same units, the same rule; brute force instead of the index."""
    import numpy as np

    queries = [(c.at_ms, c.value) for c in query_frame_codes(upload, min_quality)]
    kept = [(c.at_ms, c.value) for c in stored_frame_codes(stored) if c.quality >= min_quality]
    found_units: set[object] = set()
    found_stored: set[int] = set()
    times: list[int] = []
    if queries and kept:
        a = _words([h for _, h in queries])
        b = _words([h for _, h in kept])
        close = np.bitwise_count(a[:, None, :] ^ b[None, :, :]).sum(axis=2) <= threshold
        for (at, _), row in zip(queries, close, strict=True):
            if row.any():
                found_units.add(_unit(0, at))
                times.append(at)
                found_stored.update(kept[int(j)][0] for j in np.flatnonzero(row).tolist())
    units_total = len({_unit(0, at) for at, _ in queries})
    stored_total = len({at for at, _ in kept})
    matched, upload_pct, stored_pct = decide(len(found_units), units_total, len(found_stored), stored_total)
    overlap = VideoOverlap(
        group=("file", 0, None),
        entry_id=0,
        bank="",
        upload_pct=upload_pct,
        stored_pct=stored_pct,
        matched_frames=len(found_stored),
        upload_ranges=time_ranges(times),
        stored_ranges=time_ranges(sorted(found_stored)),
    )
    return matched, overlap


def _words(hashes: Sequence[str]) -> Any:
    import numpy as np

    raw = b"".join(bytes.fromhex(h) for h in hashes)
    return np.frombuffer(raw, dtype=">u8").astype(np.uint64).reshape(len(hashes), 4)


def decide(
    units_found: int, units_total: int, stored_found: int, stored_total: int | None
) -> tuple[bool, float, float | None]:
    """(match?, upload_pct, stored_pct) for an upload of ``units_total`` units (``BIN_S`` bins, or single
    hashes) of which ``units_found`` had a frame found, against a stored video of ``stored_total`` usable
    frames (None: unknown, a case-less entry) of which ``stored_found`` were found. bench/video_recall.py
    measures this same rule."""
    upload_pct = _pct(units_found, units_total)
    stored_pct = _pct(stored_found, max(stored_total, stored_found)) if stored_total is not None else None
    # The evidence is the stored side's: MIN_MATCHED_FRAMES distinct moments of the stored video (all of them
    # when it has fewer; one for an upload of one frame, a picture). A case-less entry is one moment, so the
    # upload's side must show it twice.
    if stored_total is None:
        need_query, need_stored = min(MIN_MATCHED_FRAMES, units_total), 1
    else:
        need_query, need_stored = 1, min(MIN_MATCHED_FRAMES, stored_total, units_total)
    share = max(upload_pct, stored_pct or 0.0)
    matched = share >= VIDEO_MATCH_PCT and units_found >= need_query and stored_found >= need_stored
    return matched, upload_pct, stored_pct


def time_ranges(times_ms: Sequence[int]) -> list[tuple[float, float]]:
    """Moments (ms) merged into ``(start_s, end_s)`` ranges where neighbours are under ``RANGE_GAP_S``."""
    ranges: list[list[float]] = []
    for t in sorted(set(times_ms)):
        s = t / 1000
        if ranges and s - ranges[-1][1] <= RANGE_GAP_S:
            ranges[-1][1] = s
        else:
            ranges.append([s, s])
    return [(round(a, 3), round(b, 3)) for a, b in ranges]


def _unit(position: int, at_ms: int | None) -> object:
    return ("t", at_ms // int(BIN_S * 1000)) if at_ms is not None else ("q", position)


def _pct(found: int, total: int) -> float:
    return round(100.0 * found / total, 2) if total else 0.0


def _stored_totals(db: Database, groups: Sequence[Group], min_quality: int) -> dict[Group, int]:
    """Usable stored moments (distinct ``frame_ms`` of active frame entries) of each stored video."""
    if not groups:
        return {}
    cases = sorted({str(g[1]) for g in groups})
    usable = (Entry.quality.is_(None)) | (Entry.quality >= min_quality)
    query = (
        select(Entry.case_id, Entry.item, func.count(func.distinct(func.coalesce(Entry.frame_ms, -Entry.id))))
        .where(Entry.signal_type == VIDEO_TYPE, Entry.status == "active", usable, Entry.case_id.in_(cases))
        .group_by(Entry.case_id, Entry.item)
    )
    with db.read() as session:
        counted: dict[Group, int] = {
            ("case", str(case_id), item): int(n) for case_id, item, n in session.execute(query)
        }
    return {g: counted.get(g, 0) for g in groups}
