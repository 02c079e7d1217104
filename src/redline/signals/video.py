"""Video signals: vPDQ (a PDQ hash per sampled frame, via Meta's ``vpdq``), MD5 and SHA-256; comparison.

Comparison follows Meta's vPDQ matching: frames below a quality floor are dropped, duplicate frame hashes
collapse to one, and each frame of one video counts as found when some frame of the other is within the PDQ
distance threshold. Both directions are reported because they answer different questions:

* ``query_match_pct``: how much of the query is in the stored video (a clip cut from a stored video: high);
* ``stored_match_pct``: how much of the stored video is in the query (a long upload containing a stored
  clip: high).

Default verdict: a match when either share reaches ``match_pct`` (80%), so both cases above match.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
import numpy.typing as npt

from redline.signals.budget import DecodeBudget
from redline.signals.errors import CorruptFile, TimedOut, UnsupportedFormat
from redline.signals.files import checked_size, exact_digests_of_file, read_head
from redline.signals.limits import SignalLimits
from redline.signals.sniff import HEAD_BYTES, sniff
from redline.signals.types import PdqSignal
from redline.signals.video_frames import ffmpeg_command, frame_hashes

_WORKER = Path(__file__).with_name("vpdq_worker.py")

#: PDQ distance up to which two frames are the same picture (Meta's vPDQ default: PDQ's own).
FRAME_DISTANCE_THRESHOLD = PdqSignal.default_threshold
#: Frames below this PDQ quality (black, flat, blurred frames) are ignored when comparing.
FRAME_MIN_QUALITY = PdqSignal.min_quality
#: Share (percent) of frames found, in either direction, from which two videos match.
MATCH_PCT = 80.0


@dataclass(frozen=True)
class VideoFrame:
    #: Position of the frame in the video's decoded frame sequence.
    index: int
    timestamp_s: float
    pdq: str
    quality: int
    #: The frame mirrored left to right (``redline`` hasher only; "" from vpdq): an upload is looked up by it
    #: too, so a flipped re-upload still matches.
    mirror: str = ""
    #: PDQ of the picture inside the frame's uniform surround (letterbox bars, an app's frame) and its
    #: quality; "" when there is none (``signals.video_frames``). Stored and looked up beside ``pdq``.
    box: str = ""
    box_quality: int = 0
    #: PDQ of the centred 90% of the box (else of the frame): stored, for copies cropped a little.
    crop: str = ""
    crop_quality: int = 0
    #: (PDQ, quality) of each quadrant of the box (else of the frame), top-left, top-right, bottom-left,
    #: bottom-right (``redline`` hasher only): stored and looked up, so a copy with a watermark or a logo
    #: over part of the picture still matches by the quadrants it left alone.
    quadrants: tuple[tuple[str, int], ...] = ()
    #: (PDQ, quality) of the box's centred 90% of its width, then of its height (``redline`` hasher, frames
    #: with a box only): looked up, never stored (``signals.video_frames.NARROWED``).
    narrowed: tuple[tuple[str, int], ...] = ()
    #: PDQ of the picture inside flat bars, when that differs from ``box`` (``redline`` hasher): stored and
    #: looked up (``signals.video_frames.bars_box``); and its quality.
    bars: str = ""
    bars_quality: int = 0
    #: (timestamp_s, PDQ, quality) of the whole frames decoded between this one and the next (``redline``
    #: hasher, an upload's frames only: ``hash_video(between=True)``): looked up, never stored.
    between: tuple[tuple[float, str, int], ...] = ()

    @property
    def at_ms(self) -> int:
        return round(self.timestamp_s * 1000)


@dataclass(frozen=True)
class VideoSignals:
    """Everything Redline derives from one video file. ``to_dict()`` is the JSON form."""

    size: int
    md5: str
    sha256: str
    container: str
    #: Time of the last sampled frame: the true duration is at most one sampling interval longer.
    duration_s: float
    #: Frames sampled per second.
    fps: float
    frames: list[VideoFrame]
    #: Frames whose quality reaches ``SignalLimits.pdq_min_quality`` (only those are used for matching).
    usable_frames: int
    #: Distinct frame hashes among the usable frames.
    distinct_frames: int
    media_type: Literal["video"] = field(default="video")
    #: Which hasher made the frames (``SignalLimits.video_hasher``).
    hasher: str = "vpdq"
    #: The video was longer than ``SignalLimits.video_max_seconds``: only its start is hashed.
    truncated: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, without the frames' ``between`` hashes: they are what an upload is looked up by
        (listed with the other query hashes), not a description of the file, and they are 3x its frames."""
        out = asdict(self)
        for frame in out["frames"]:
            del frame["between"]
        return out


@dataclass(frozen=True)
class VideoComparison:
    query_match_pct: float
    stored_match_pct: float
    #: Frames (distinct, quality-filtered) considered on each side.
    query_frames: int
    stored_frames: int
    is_match: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def hash_video(
    path: Path, limits: SignalLimits | None = None, budget: DecodeBudget | None = None, between: bool = False
) -> VideoSignals:
    """Hash one video file. Raises ``SignalError`` and nothing else (and ``DecoderBusy`` when a server
    process's decoding ``budget`` cannot hold the decoder's memory ceiling in time). ``between``: an upload
    to look up, so also the whole-frame hashes between the sampled frames (``VideoFrame.between``)."""
    settings = limits or SignalLimits()
    size = checked_size(path, settings.max_file_bytes)
    sniffed = sniff(read_head(path, HEAD_BYTES))
    if sniffed is None:
        raise UnsupportedFormat("the file is not an image or video in a format Redline reads")
    if sniffed.media_type != "video":
        raise UnsupportedFormat(f"the file is an image ({sniffed.container}), not a video")
    if settings.video_fps <= 0:
        raise ValueError("video_fps must be positive")
    hasher = settings.video_hasher if ffmpeg_command() is not None else "vpdq"
    reserve = budget.reserve(settings.video_max_memory_bytes) if budget is not None else nullcontext()
    truncated = False
    with reserve:
        if hasher == "redline":
            found, truncated = frame_hashes(path, settings, between)
            frames = [
                VideoFrame(
                    f.index,
                    f.timestamp_s,
                    f.pdq,
                    f.quality,
                    f.mirror,
                    f.box,
                    f.box_quality,
                    f.crop,
                    f.crop_quality,
                    f.quadrants,
                    f.narrowed,
                    f.bars,
                    f.bars_quality,
                    f.between,
                )
                for f in found
            ]
        else:
            rows = _run_vpdq(path, settings, sniffed.container)
            frames = [VideoFrame(int(i), round(float(ts), 3), str(pdq), int(q)) for i, ts, q, pdq in rows]
    if not frames:
        raise CorruptFile(f"the {sniffed.container} file contains no video frames")
    usable = _usable_hashes(frames, settings.pdq_min_quality)
    md5, sha256 = exact_digests_of_file(path)
    return VideoSignals(
        size=size,
        md5=md5,
        sha256=sha256,
        container=sniffed.container,
        duration_s=frames[-1].timestamp_s,
        fps=settings.video_sample_fps if hasher == "redline" else settings.video_fps,
        frames=frames,
        usable_frames=sum(1 for f in frames if f.quality >= settings.pdq_min_quality),
        distinct_frames=len(usable),
        hasher=hasher,
        truncated=truncated,
    )


def _run_vpdq(path: Path, settings: SignalLimits, container: str) -> list[list[Any]]:
    """vpdq in a child process (see vpdq_worker): crashes, hangs and runaway memory become SignalErrors."""
    memory = settings.video_max_memory_bytes

    def limit_memory() -> None:  # runs in the child, before exec
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    # Run by file path with -I (isolated): the child imports vpdq only, not this package and its decoders.
    command = [sys.executable, "-I", str(_WORKER), str(path), str(1.0 / settings.video_fps)]
    try:
        done = subprocess.run(  # noqa: S603 - fixed command, the path is an argument, no shell
            command,
            capture_output=True,
            timeout=settings.video_timeout_s,
            preexec_fn=limit_memory,  # setrlimit only: safe between fork and exec
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise TimedOut(f"hashing the video took longer than {settings.video_timeout_s:g} s") from None
    if done.returncode != 0:
        raise CorruptFile(
            f"the {container} video cannot be decoded (damaged, truncated, or a codec FFmpeg lacks)"
        )
    rows: list[list[Any]] = json.loads(done.stdout)
    return rows


def compare_videos(
    query: Sequence[VideoFrame],
    stored: Sequence[VideoFrame],
    *,
    distance_threshold: int = FRAME_DISTANCE_THRESHOLD,
    min_quality: int = FRAME_MIN_QUALITY,
    match_pct: float = MATCH_PCT,
) -> VideoComparison:
    """Share of each video's distinct, good-quality frames found in the other (see the module docstring)."""
    query_codes = _codes(_usable_hashes(query, min_quality))
    stored_codes = _codes(_usable_hashes(stored, min_quality))
    query_found, stored_found = _found_both_ways(query_codes, stored_codes, distance_threshold)
    query_pct = _pct(query_found, len(query_codes))
    stored_pct = _pct(stored_found, len(stored_codes))
    return VideoComparison(
        query_match_pct=query_pct,
        stored_match_pct=stored_pct,
        query_frames=len(query_codes),
        stored_frames=len(stored_codes),
        is_match=max(query_pct, stored_pct) >= match_pct,
    )


_T = TypeVar("_T")

#: Stored side (what a survivor's device sends, docs/PORTAL.md): candidate moments on this grid (the portal
#: seeks to them) ...
STORED_STEP_S = 0.25
#: ... at most one frame per this many seconds ...
STORED_INTERVAL_S = 1.0
#: ... except the first frames kept, one per candidate moment (``STORED_STEP_S``): a clip of a few seconds,
#: the common re-share, would otherwise be 2-4 frames, and a copy missing one of them (trimmed, a scene cut
#: off) falls under the match rule's two moments in common (docs/BENCHMARKS.md, Video recall: 87 -> 98 of 126
#: copies found, no false match). At most this many extra frames per video.
DENSE_STORED_FRAMES = 8
#: ... and only when it differs from the last kept frame by more than this (a still scene is one frame).
STORED_DEDUPE_DISTANCE = 16
#: Frames one video is stored as at most: longer videos are thinned evenly (15 minutes at one a second).
MAX_STORED_FRAMES = 900
#: Query side (an upload): denser than the stored side, so each stored frame has a query frame near it
#: (1/16 s at most: fast pans change PDQ within a tenth of a second, docs/BENCHMARKS.md "Video recall").
QUERY_INTERVAL_S = 0.125
QUERY_DEDUPE_DISTANCE = 8
#: Frames one upload is looked up by at most (each as its whole-frame, box and mirror hashes).
MAX_QUERY_FRAMES = 600
#: The whole frames decoded between the sampled ones (``VideoFrame.between``) are looked up only where the
#: picture moves fast: one more than this many bits from the last frame looked up by its whole hash. In
#: still and slow scenes the sampled frames are enough; a fast pan is then looked up at 32 frames a second
#: (docs/BENCHMARKS.md, Video recall: 32 bits kept the trimmed and sped-up copies found at +13 % queries).
BETWEEN_DEDUPE_DISTANCE = 32
#: Between-frame hashes one upload is looked up by at most (evenly thinned): bounds the worst case, a fast
#: pan throughout, to ~1,500 lookups for a 60 s upload (docs/BENCHMARKS.md, Video matching at scale).
MAX_BETWEEN_QUERIES = 300


def stored_frames(frames: Sequence[VideoFrame]) -> list[VideoFrame]:
    """The frames a video is stored as: featureless frames (quality 0) dropped, the first
    ``DENSE_STORED_FRAMES`` kept at any candidate moment, then one per ``STORED_INTERVAL_S`` at most,
    near-duplicates of the last kept frame dropped, at most ``MAX_STORED_FRAMES`` (evenly thinned). The
    portal's ``video-hashing.js`` applies the same rule."""
    on_grid = [
        f for f in frames if abs(f.timestamp_s / STORED_STEP_S - round(f.timestamp_s / STORED_STEP_S)) < 0.02
    ]
    kept = _thin(on_grid, 1, STORED_INTERVAL_S, STORED_DEDUPE_DISTANCE, dense=DENSE_STORED_FRAMES)
    return _evenly(kept, MAX_STORED_FRAMES)


def query_frames(frames: Sequence[VideoFrame], min_quality: int) -> list[VideoFrame]:
    """The frames an upload is looked up by: usable quality, one per ``QUERY_INTERVAL_S`` at most, distinct
    from the last kept one, at most ``MAX_QUERY_FRAMES`` (evenly thinned)."""
    kept = _thin(frames, min_quality, QUERY_INTERVAL_S, QUERY_DEDUPE_DISTANCE)
    return _evenly(kept, MAX_QUERY_FRAMES)


@dataclass(frozen=True)
class FrameCode:
    """One hash of one frame, as it is stored or looked up: ``label`` says which (``""``: the whole frame;
    ``box``: the picture inside bars or an app's frame; ``crop``: that picture's centred 90%, stored only;
    ``mirror``: the picture flipped left to right, looked up only; ``quadrant``: a quarter of the picture,
    both; ``narrowed``: the box's centred 90% on one axis, looked up only; ``bars``: the picture inside
    flat bars, both; ``between``: a whole frame decoded between two sampled ones, looked up
    only)."""

    at_ms: int
    value: str
    quality: int
    label: str = ""


def stored_frame_codes(frames: Sequence[VideoFrame]) -> list[FrameCode]:
    """Every hash a video is stored as (``redline protect``; the portal's ``signals.js`` sends the same):
    per kept frame (:func:`stored_frames`) its whole-frame hash, its content box's, the picture's inside
    flat bars (where that is not the box), its centred crop's and its four quadrants', each where it has
    features (quality > 0)."""
    codes: list[FrameCode] = []
    for f in stored_frames(frames):
        codes.append(FrameCode(f.at_ms, f.pdq, f.quality))
        if f.box and f.box_quality > 0:
            codes.append(FrameCode(f.at_ms, f.box, f.box_quality, "box"))
        if f.bars and f.bars_quality > 0:
            codes.append(FrameCode(f.at_ms, f.bars, f.bars_quality, "bars"))
        if f.crop and f.crop_quality > 0:
            codes.append(FrameCode(f.at_ms, f.crop, f.crop_quality, "crop"))
        codes += [FrameCode(f.at_ms, h, q, "quadrant") for h, q in f.quadrants if q > 0]
    return codes


def query_frame_codes(frames: Sequence[VideoFrame], min_quality: int, parts: bool = True) -> list[FrameCode]:
    """Every hash an upload's video is looked up by (``/v1/match/file``, ``redline scan``, ``redline
    compare``): per query frame (:func:`query_frames`) its whole-frame hash, its content box's and the
    picture's inside flat bars (a letterboxed copy, a screen recording), its mirror's (a flipped copy)
    and, with ``parts``, its quadrants' (a watermarked copy) and its narrowed crops' (a copy cropped a
    little, with bars), which only stored video frames have counterparts for; each of usable quality."""
    codes: list[FrameCode] = []
    for f in query_frames(frames, min_quality):
        codes.append(FrameCode(f.at_ms, f.pdq, f.quality))
        if f.box and f.box_quality >= min_quality:
            codes.append(FrameCode(f.at_ms, f.box, f.box_quality, "box"))
        if f.bars and f.bars_quality >= min_quality:
            codes.append(FrameCode(f.at_ms, f.bars, f.bars_quality, "bars"))
        if f.mirror:
            codes.append(FrameCode(f.at_ms, f.mirror, f.quality, "mirror"))
        if parts:
            codes += [FrameCode(f.at_ms, h, q, "narrowed") for h, q in f.narrowed if q >= min_quality]
    if parts:
        # Quadrants at the moments a stored copy of this video would keep (stored_frames), not at all 8 a
        # second: they are most of the stored hashes, so each quadrant query costs the most; a watermark
        # leaves the timing alone, so the same moments meet (docs/BENCHMARKS.md, Video matching at scale).
        for f in stored_frames(frames):
            codes += [FrameCode(f.at_ms, h, q, "quadrant") for h, q in f.quadrants if q >= min_quality]
    return codes + between_codes(frames, min_quality)


def between_codes(frames: Sequence[VideoFrame], min_quality: int) -> list[FrameCode]:
    """The whole-frame hashes between the sampled frames an upload is looked up by: each more than
    ``BETWEEN_DEDUPE_DISTANCE`` bits from the sampled frame before it and from the between frame last kept
    after that one, at most ``MAX_BETWEEN_QUERIES`` (evenly thinned)."""
    codes: list[FrameCode] = []
    for f in frames:
        last = int(f.pdq, 16)
        for timestamp_s, value, quality in f.between:
            code = int(value, 16)
            if quality >= min_quality and (code ^ last).bit_count() > BETWEEN_DEDUPE_DISTANCE:
                codes.append(FrameCode(round(timestamp_s * 1000), value, quality, "between"))
                last = code
    return _evenly(codes, MAX_BETWEEN_QUERIES)


def _thin(
    frames: Sequence[VideoFrame], min_quality: int, interval_s: float, dedupe: int, dense: int = 0
) -> list[VideoFrame]:
    """Frames at least ``interval_s`` apart (the first ``dense`` kept at any spacing) and each more than
    ``dedupe`` bits from the last kept one."""
    kept: list[VideoFrame] = []
    last: int | None = None
    for frame in frames:
        if frame.quality < min_quality or frame.quality <= 0:
            continue
        if len(kept) >= dense and kept and frame.timestamp_s - kept[-1].timestamp_s < interval_s - 1e-6:
            continue
        code = int(frame.pdq, 16)
        if last is not None and (code ^ last).bit_count() <= dedupe:
            continue
        kept.append(frame)
        last = code
    return kept


def _evenly(frames: list[_T], cap: int) -> list[_T]:
    if len(frames) <= cap:
        return frames
    step = len(frames) / cap
    return [frames[int(i * step)] for i in range(cap)]


def _usable_hashes(frames: Sequence[VideoFrame], min_quality: int) -> list[str]:
    """Distinct hashes of frames at or above ``min_quality``, in first-seen order."""
    return list(dict.fromkeys(f.pdq for f in frames if f.quality >= min_quality))


Codes = npt.NDArray[np.uint64]


def _codes(hashes: list[str]) -> Codes:
    """(n, 4) array of 64-bit words per 256-bit hash."""
    raw = b"".join(bytes.fromhex(h) for h in hashes)
    return np.frombuffer(raw, dtype=">u8").astype(np.uint64).reshape(len(hashes), 4)


def _found_both_ways(a: Codes, b: Codes, threshold: int) -> tuple[int, int]:
    """(rows of ``a`` with a neighbour in ``b``, rows of ``b`` with a neighbour in ``a``), in blocks."""
    if len(a) == 0 or len(b) == 0:
        return 0, 0
    a_found = np.zeros(len(a), dtype=bool)
    b_found = np.zeros(len(b), dtype=bool)
    block = 512  # 512 x len(b) x 4 words per step: bounded memory for hour-long videos
    for start in range(0, len(a), block):
        chunk = a[start : start + block]
        distances = np.bitwise_count(chunk[:, None, :] ^ b[None, :, :]).sum(axis=2)
        close = distances <= threshold
        a_found[start : start + block] = close.any(axis=1)
        b_found |= close.any(axis=0)
    return int(a_found.sum()), int(b_found.sum())


def _pct(found: int, total: int) -> float:
    return round(100.0 * found / total, 2) if total else 0.0
