"""Video frames for matching: FFmpeg decodes, Redline hashes each sampled frame's picture, not its borders.

Why not Meta's ``vpdq`` here (it stays available, ``SignalLimits.video_hasher = "vpdq"``, and is what the
reference-conformance tests check): re-shares change the frame around the picture. A letterboxed copy, a
screen recording inside an app's dark frame with a status bar, a copy with black bars added: the PDQ of the
whole frame is then far from the original's. So each sampled frame is hashed whole and *inside its content
box* (``robust_geometry.background_box``: the picture inside a uniform surround), on both sides (the
survivor's stored frames and the upload's); the upload's frames are also hashed mirrored (a flipped copy).
Measured in docs/BENCHMARKS.md (Video recall).

How: the ``ffmpeg`` command (Debian's ``ffmpeg``; the same FFmpeg libraries vpdq uses) decodes the first
video stream, resamples it to ``video_sample_fps`` frames a second (constant, whatever the file's frame
timing: variable frame rate is handled by FFmpeg's ``fps`` filter) at ``FRAME_SIDE`` x ``FRAME_SIDE`` (PDQ
works on a 64x64 reduction, so this loses nothing it sees) and pipes raw RGB here, one frame at a time.

Bounds (docs/SIGNALS.md, Video limits): the child has a memory ceiling (``video_max_memory_bytes``) and a
wall-clock limit (``video_timeout_s``); at most ``video_max_seconds`` of the video is read (a longer one gives
a partial result, ``truncated``); this process holds one frame (300 KB) at a time. A file FFmpeg cannot
decode, or one with no video stream, is a ``CorruptFile``; a damaged file whose first frames decode gives
those frames (a partial result).
"""

from __future__ import annotations

import os
import resource
import select
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pdqhash

from redline.signals.errors import CorruptFile, TimedOut
from redline.signals.limits import SignalLimits
from redline.signals.robust import QUADRANT_SHIFTS, StoredRegion, crop_box
from redline.signals.robust_geometry import background_box

#: Frames are decoded at this size (stretched: PDQ reduces to 64x64 regardless of aspect).
FRAME_SIDE = 320
_FRAME_BYTES = FRAME_SIDE * FRAME_SIDE * 3

RgbArray = npt.NDArray[np.uint8]
#: The stored crop (the portal: pdq.js regionBox of {scale: 0.9}).
_CROP = StoredRegion(0.9)
#: The four quadrants of the picture, in ``robust.STORED_REGIONS`` order (top-left, top-right, bottom-left,
#: bottom-right; the portal: media.js QUADRANT_SHIFTS): an opaque watermark, logo or caption box moves the
#: whole frame's hash 40-80 bits but leaves at least one quadrant as it was (0-4 bits on the corpus clips).
QUADRANTS = tuple(StoredRegion(0.5, dx, dy) for dy in QUADRANT_SHIFTS for dx in QUADRANT_SHIFTS)
#: Looked up only, for frames with a content box: the box's centred 90% of its width (full height), and of
#: its height (full width). A copy cropped 5% a side of a frame with bars on one axis loses only bar there,
#: so its box is the picture cut on the other axis alone; one of these then meets the stored centred 90%
#: (6-14 bits on the corpus's pillarboxed and letterboxed clips, 60-90 for the box itself).
NARROWED = ((0.05, 0.0, 0.95, 1.0), (0.0, 0.05, 1.0, 0.95))
#: Looked up only (``frame_hashes(between=True)``: an upload's frames): the video is decoded this many times
#: denser than ``video_sample_fps``; every ``BETWEEN_STEPS``-th frame is hashed in full, the ones between by
#: their whole frame only. A stored frame is a moment of the original; a trimmed or sped-up copy's frames
#: fall anywhere between the upload's sampled moments, and in a fast pan a frame 1/16 s away is 50-90 bits
#: off (docs/BENCHMARKS.md, Video recall).
BETWEEN_STEPS = 4
#: ... for the first this many seconds of an upload (after that only the sampled frames): the dense decode
#: costs ~1.6x, and a long upload has enough sampled frames; this keeps a 3-hour one within its time limit.
BETWEEN_SECONDS = 900.0
#: A row or column of a bar: this flat (largest spread of its pixels' grey values, 0-255) ...
_BAR_SPREAD = 12
#: ... and dark (mean grey at most this) or of the grey of the frame's edge ...
_DARK_BAR = 48
#: ... and at least this share of the side thick, all bars together, to count.
_MIN_BARS = 0.02


@dataclass(frozen=True)
class FrameHash:
    index: int
    timestamp_s: float
    #: PDQ of the whole frame.
    pdq: str
    quality: int
    #: PDQ of the frame's content box and its quality; "" and 0 when the frame has no uniform surround.
    box: str
    box_quality: int
    #: PDQ of the content box (else the whole frame) mirrored left to right.
    mirror: str
    #: PDQ of the centred 90% of the content box (else of the whole frame): stored, so a copy cropped by
    #: up to ~5% a side (zoomed in, cut to another aspect) still matches; and its quality.
    crop: str = ""
    crop_quality: int = 0
    #: (PDQ, quality) of each of :data:`QUADRANTS` of the content box (else of the whole frame).
    quadrants: tuple[tuple[str, int], ...] = ()
    #: (PDQ, quality) of each of :data:`NARROWED` of the content box; none without a box.
    narrowed: tuple[tuple[str, int], ...] = ()
    #: PDQ of the picture inside flat bars (:func:`bars_box`) and its quality, when that box differs from
    #: the content box; "" and 0 otherwise. Stored and looked up.
    bars: str = ""
    bars_quality: int = 0
    #: (timestamp_s, PDQ, quality) of the whole frames decoded after this one and before the next sampled
    #: frame (``between=True`` only; see :data:`BETWEEN_STEPS`).
    between: tuple[tuple[float, str, int], ...] = ()


def ffmpeg_command() -> str | None:
    return shutil.which("ffmpeg")


def frame_hashes(path: Path, limits: SignalLimits, between: bool = False) -> tuple[list[FrameHash], bool]:
    """(hashes of the sampled frames, whether the video was longer than ``video_max_seconds``). With
    ``between``, the video is decoded :data:`BETWEEN_STEPS` times denser and the frames between the sampled
    ones are kept as whole-frame hashes (``FrameHash.between``)."""
    steps = BETWEEN_STEPS if between else 1
    sampled = _sampled_slot(steps)
    frames: list[FrameHash] = []
    extra: list[tuple[float, str, int]] = []
    truncated = False
    for slot, rgb in decode_frames(path, limits, steps):
        timestamp = slot / (limits.video_sample_fps * steps)
        if timestamp >= limits.video_max_seconds:
            truncated = True
            break
        if slot % steps != sampled:
            extra.append((round(timestamp, 3), *_pdq(rgb)))
            continue
        if extra and frames:
            frames[-1] = replace(frames[-1], between=tuple(extra))
            extra = []
        frames.append(hash_frame(slot // steps, (slot - sampled) / steps / limits.video_sample_fps, rgb))
    if extra and frames:
        frames[-1] = replace(frames[-1], between=tuple(extra))
    return frames, truncated


def _sampled_slot(steps: int) -> int:
    """Which of each ``steps`` slots of the dense decode is the sampled frame (see decode_frames)."""
    return steps // 2 - 1 if steps > 1 else 0


def hash_frame(index: int, timestamp_s: float, rgb: RgbArray) -> FrameHash:
    """PDQ of the whole frame, of its content box, of the latter mirrored, of its centred 90%, of its four
    quadrants and (with a box) of its two narrowed crops.

    Both the whole frame and the box: a box is only a guess (a door knob on a plain door is "a picture in a
    uniform surround" too, and the guess moves with the camera), so neither side relies on it alone."""
    whole, quality = pdqhash.compute(np.ascontiguousarray(rgb))
    found = background_box(rgb)
    inside, box_hex, box_quality = rgb, "", 0
    if found is not None:
        h, w = rgb.shape[:2]
        top, bottom = round(found[1] * h), max(round(found[3] * h), 1)
        left, right = round(found[0] * w), max(round(found[2] * w), 1)
        inside = rgb[top:bottom, left:right]
        bits, box_q = pdqhash.compute(np.ascontiguousarray(inside))
        box_hex, box_quality = _hex(bits), int(box_q)
    # Hashed from the flipped pixels: pdqhash's dihedral "flip" variants are tens of bits off that.
    mirrored, _ = pdqhash.compute(np.ascontiguousarray(inside[:, ::-1]))
    cropped, crop_quality = pdqhash.compute(np.ascontiguousarray(crop_box(inside, _CROP.box)))
    quadrants = [_pdq(crop_box(inside, region.box)) for region in QUADRANTS]
    narrowed = [_pdq(crop_box(inside, box)) for box in NARROWED] if found is not None else []
    bars, bars_quality = "", 0
    flat = bars_box(rgb)
    if flat is not None and (
        found is None or max(abs(a - b) for a, b in zip(flat, found, strict=True)) > 0.01
    ):
        bars, bars_quality = _pdq(crop_box(rgb, flat))
    return FrameHash(
        index,
        round(timestamp_s, 3),
        _hex(whole),
        int(quality),
        box_hex,
        box_quality,
        _hex(mirrored),
        _hex(cropped),
        int(crop_quality),
        tuple(quadrants),
        tuple(narrowed),
        bars,
        bars_quality,
    )


def bars_box(rgb: RgbArray) -> tuple[float, float, float, float] | None:
    """The picture inside flat bars: whole rows from the top and bottom, whole columns from the sides, each
    of one flat colour (bars may differ in colour: a phone's status bar above an app's dark frame), as
    (left, top, right, bottom) fractions; None without bars.

    Why beside ``background_box``: that one looks for the edge's most common colour and the block unlike
    it, which on a dark film also eats into dark picture, and on a copy with bars added finds a different
    box than on the original (docs/BENCHMARKS.md, Video recall: letterboxed copies of dark clips). A bar is
    simpler: a row or column with no detail at all. Stored too (a video with bars of its own, a 4:3 film in
    a 16:9 frame: a copy that adds bars loses both, and meets it here), so the portal has the same finder
    (``web/static/media.js`` barsBox)."""
    grey = rgb.astype(np.int32) @ np.array([299, 587, 114], dtype=np.int32) // 1000  # int16 overflows
    h, w = grey.shape
    top, bottom = _bars(grey), h - _bars(grey[::-1])
    if bottom - top < 0.2 * h:
        return None  # (nearly) all flat: a fade or a title card, not bars
    between = grey[top:bottom].T  # columns are bars between the top and bottom bars (a status bar spans all)
    left, right = _bars(between), w - _bars(between[::-1])
    if right - left < 0.2 * w:
        return None  # (nearly) all flat: a fade or a title card, not bars
    if (h - (bottom - top)) < _MIN_BARS * h and (w - (right - left)) < _MIN_BARS * w:
        return None
    return (left / w, top / h, right / w, bottom / h)


def _bars(lines: npt.NDArray[np.int32]) -> int:
    """How many leading lines (rows of ``lines``) are bar: flat, and dark or of the first line's grey.
    Flat alone is not enough: a picture whose own edge is a band of one colour (a test card's green column)
    would lose it. The first line's grey lets a bar of any colour count (a phone's grey status bar, grey
    bars), dark lets a second bar follow it (the app's dark frame under the status bar)."""
    flat = (lines.max(axis=1) - lines.min(axis=1)) <= _BAR_SPREAD
    means = lines.mean(axis=1)
    bar = flat & ((means <= _DARK_BAR) | (np.abs(means - means[0]) <= _BAR_SPREAD))
    return int(np.argmin(bar)) if not bar.all() else len(bar)


def _pdq(rgb: RgbArray) -> tuple[str, int]:
    bits, quality = pdqhash.compute(np.ascontiguousarray(rgb))
    return _hex(bits), int(quality)


def _hex(bits: npt.NDArray[np.int64]) -> str:
    return np.packbits(bits.astype(np.uint8)).tobytes().hex()


def decode_frames(path: Path, limits: SignalLimits, steps: int = 1) -> Iterator[tuple[int, RgbArray]]:
    """``(slot, FRAME_SIDE x FRAME_SIDE RGB)`` per decoded frame, under the limits above: ``slot`` is its
    place on the grid of ``steps`` frames per ``1 / video_sample_fps`` (its time is ``slot / (steps *
    video_sample_fps)``). Every slot for the first :data:`BETWEEN_SECONDS`, then only the sampled one of
    each ``steps``."""
    ffmpeg = ffmpeg_command()
    if ffmpeg is None:
        raise CorruptFile("this server cannot decode videos (the ffmpeg command is not installed)")
    fps = limits.video_sample_fps * steps
    sampled, dense_slots = _sampled_slot(steps), round(BETWEEN_SECONDS * fps / steps) * steps
    rate = f"fps={fps:g}"
    if steps > 1:
        # FFmpeg's fps filter gives output slot n the last frame before (n + 1/2) / fps ("near"). Rounding
        # down at ``steps`` times the rate, slot steps*k + steps/2 - 1 ends at the same instant, so it is
        # exactly sampled frame k (tests/signals/test_video_frames.py checks it). After the dense part only
        # those slots are kept (``select`` numbers the fps filter's output slots, before scaling).
        rate += f":round=down,select='lt(n,{dense_slots})+eq(mod(n,{steps}),{sampled})'"
    # -t bounds the output, so a very long video stops after video_max_seconds (+1 sampled frame: it is seen
    # there, and the result says truncated).
    until = limits.video_max_seconds + 1 / limits.video_sample_fps
    command = [
        ffmpeg, "-nostdin", "-v", "error", "-threads", "1", "-i", str(path),
        "-map", "0:v:0", "-an", "-sn", "-dn", "-t", f"{until:.3f}",
        "-vf", f"{rate},scale={FRAME_SIDE}:{FRAME_SIDE}:flags=area",
        # passthrough: the frames select dropped stay dropped (the default fills a constant rate again)
        *(["-fps_mode", "passthrough"] if steps > 1 else []),
        "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1",
    ]  # fmt: skip

    def slot(produced: int) -> int:
        if produced < dense_slots:
            return produced
        return dense_slots + (produced - dense_slots) * steps + sampled

    memory = limits.video_max_memory_bytes

    def limit_memory() -> None:  # runs in the child, before exec
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    deadline = time.monotonic() + limits.video_timeout_s
    child = subprocess.Popen(  # noqa: S603 - fixed command, the path is an argument, no shell
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=limit_memory,  # setrlimit only: safe between fork and exec
    )
    assert child.stdout is not None and child.stderr is not None
    produced = 0
    try:
        while True:
            raw = _read_exactly(child.stdout.fileno(), _FRAME_BYTES, deadline, limits.video_timeout_s)
            if len(raw) < _FRAME_BYTES:
                break
            frame = np.frombuffer(raw, dtype=np.uint8).reshape(FRAME_SIDE, FRAME_SIDE, 3)
            yield slot(produced), frame
            produced += 1
        child.wait(timeout=max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        raise TimedOut(f"decoding the video took longer than {limits.video_timeout_s:g} s") from None
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        errors = child.stderr.read(4096).decode("utf-8", "replace")
        child.stdout.close()
        child.stderr.close()
    if produced == 0:
        if "matches no streams" in errors:
            raise CorruptFile("the file has no video stream")
        raise CorruptFile("the video cannot be decoded (damaged, truncated, or a codec FFmpeg lacks)")


def _read_exactly(fd: int, size: int, deadline: float, limit_s: float) -> bytes:
    chunks: list[bytes] = []
    got = 0
    while got < size:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimedOut(f"decoding the video took longer than {limit_s:g} s")
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, min(size - got, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)
