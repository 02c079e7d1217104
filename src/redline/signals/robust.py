"""Robust PDQ: region hashes stored with each entry, derived hashes tried for each query.

Plain PDQ compares one hash of the whole stored image with one hash of the whole query. It misses a photo
that was cropped, framed, rotated or screenshotted, because the hashed picture is no longer the same
rectangle. This module keeps PDQ (so the survivor's browser can compute everything the bank stores) and adds:

* **Stored side** (survivor's device): PDQ of crops of the upright photo, :data:`STORED_REGIONS`: a ladder of
  sizes (:data:`REGION_SCALES`), centred, and for the deeper rungs also shifted on a 3x3 grid. A query that
  is a crop of the photo is close to the stored crop of about the same size and place. Also its quadrants
  (a sticker leaves one alone) and strips along three edges (a repainted middle leaves them alone).
* **Query side** (platform or server): besides the plain hash, the hash of the mirrored query, of the photo
  found inside a uniform surround (borders, screenshot UI) or a blurred surround, and of the de-rotated
  query when black rotation corners are found (:mod:`redline.signals.robust_geometry`).

Match rule (docs/ROBUSTNESS.md): plain query hash vs stored full hash at the bank's PDQ threshold (31), as
today; *any other* pair of (query hash, stored hash) at the stricter :data:`ROBUST_THRESHOLD`, because each
extra pair is one more chance of a false match.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pdqhash
from PIL import Image

from redline.signals import pdq_windows
from redline.signals.pdq_windows import WindowHasher
from redline.signals.robust_geometry import (
    Box,
    RgbArray,
    background_box,
    canvas_rotation,
    fitted_rotation_angle,
    framed_box,
    inscribed_scale,
    rotation_angle,
    shaped_boxes,
    sharp_box,
    trim_frame,
    work_copy,
)
from redline.signals.types import PdqRegionSignal

#: The ladder of stored crop sizes, as a fraction of width and height (1.0, the whole image, is plain PDQ).
#: The upload itself, its 0.9 windows and its centred crops put a crop of up to 20% a side near one rung: one
#: keeping 0.8-1.0 of each side near ``full``, 0.9, 0.81 or 0.73, one keeping 0.6 near 0.53 (0.9 x 0.6).
#: The rungs 0.66 and 0.59 (each on a 3x3 grid) that the recipe of issue 7 also stored were dropped for
#: issue 15: in ``bench/robust_pairs.py`` no copy needed them once the whole-upload hashes and the 0.53 grid
#: were there (docs/ROBUSTNESS.md, "Why these 17"), and they were over half the stored codes.
REGION_SCALES: tuple[float, ...] = (0.9, 0.81, 0.73, 0.53)
#: For the deepest rung, the grid step of extra crops shifted off-centre (fraction of width and height).
#: A crop that keeps 60% of a photo can be anywhere: its centre moves up to ~10% of the photo, more than the
#: query's shifted windows reach (~4% of the photo), so the bank also stores that rung at -step, 0, +step in
#: each direction.
REGION_GRID_STEPS: dict[float, float] = {0.53: 0.07}


@dataclass(frozen=True)
class StoredRegion:
    """One crop the survivor's device hashes: ``scale`` of each side, centred, then moved by ``dx``/``dy``
    (fractions of width and height)."""

    scale: float
    dx: float = 0.0
    dy: float = 0.0

    @property
    def label(self) -> str:
        if self.dx == 0 and self.dy == 0:
            return f"crop_{self.scale:g}"
        return f"crop_{self.scale:g}_{self.dx:+.2f}_{self.dy:+.2f}"

    @property
    def box(self) -> Box:
        # Written so that dx = dy = 0 gives exactly the centred box (bit-identical to the first recipe's
        # crops, so hashes stored before the grid was added stay valid); the portal computes the same
        # expression in the same order (web/static/pdq.js, regionBox).
        margin = (1 - self.scale) / 2
        return (margin + self.dx, margin + self.dy, 1 - margin + self.dx, 1 - margin + self.dy)


#: The four quadrants (half of each side, in each corner), stored too: an opaque sticker, emoji or caption
#: moves the whole picture's hash (and every window's) 45-80 bits, as far as some distinct photos are,
#: but usually leaves at least one quadrant untouched. The query hashes its own quadrants (and its mirror's).
QUADRANT_SHIFTS: tuple[float, ...] = (-0.25, 0.25)


def _stored_regions() -> tuple[StoredRegion, ...]:
    regions = []
    for scale in REGION_SCALES:
        step = REGION_GRID_STEPS.get(scale)
        if step is None:
            regions.append(StoredRegion(scale))
            continue
        for dy in (0.0, -step, step):
            for dx in (0.0, -step, step):
                regions.append(StoredRegion(scale, dx, dy))
    regions += [StoredRegion(0.5, dx, dy) for dy in QUADRANT_SHIFTS for dx in QUADRANT_SHIFTS]
    return tuple(regions)


@dataclass(frozen=True)
class StoredBand:
    """A strip along one edge of the picture: ``depth`` of the width (``left``, ``right``) or of the height
    (``top``), the whole length of that edge."""

    side: Literal["left", "right", "top"]
    depth: float

    @property
    def label(self) -> str:
        return f"band_{self.side}_{self.depth:g}"

    @property
    def box(self) -> Box:
        # The portal computes the same expressions (web/static/pdq.js, regionBox).
        if self.side == "left":
            return (0.0, 0.0, self.depth, 1.0)
        if self.side == "right":
            return (1 - self.depth, 0.0, 1.0, 1.0)
        return (0.0, 0.0, 1.0, self.depth)


#: Strips along the left, right and top edges, stored too (issue 15): a tool that repaints part of a photo
#: (an "undress" tool repaints the body, in the middle and lower part of the picture) changes every crop and
#: quadrant, because each reaches into the middle, but usually leaves the edges and the top as they were.
#: The query hashes the same strips of itself (at :data:`STRIP_THRESHOLD`). A 50% repaint of the lower
#: middle reaches to within 9-14% of each side and 18-36% of the top, so wider strips are touched; with
#: these three, 98.0-99.4% of the full corpus's repainted copies match (53-89% at 30%, 9-35% at 50%
#: before; docs/BENCHMARKS.md, "Edge strips"). A repaint that reaches all three edges defeats them.
STORED_BANDS: tuple[StoredBand, ...] = (
    StoredBand("left", 0.1),
    StoredBand("right", 0.1),
    StoredBand("top", 0.2),
)
#: Every region stored per image, in the order the portal sends them (after ``full``): 3 centred rungs,
#: the 0.53 rung at 9 places (the centred one first), the 4 quadrants, then the 3 edge strips = 19 regions.
STORED_REGIONS: tuple[StoredRegion | StoredBand, ...] = (*_stored_regions(), *STORED_BANDS)
#: Query side: windows of this fraction of the query, on a grid of offsets from the centre. PDQ loses ~20
#: bits per 1% of misalignment, so a crop that is off-centre by a few percent needs a window shifted to match.
QUERY_WINDOW = 0.9
#: Offsets run to +-6%: an off-centre 10% crop moves the photo's centre by up to ~6% of the upload (windows
#: at the edge are clipped to the upload).
QUERY_SHIFTS: tuple[float, ...] = (-0.06, -0.04, -0.02, 0.0, 0.02, 0.04, 0.06)
#: Query side: centred crops of the upload at these sizes (0.95, 0.90, ... 0.66 of each side). A border of
#: any kind that is the same on opposite sides (a blurred fill, a mat, letterbox bars) leaves the photo as a
#: centred crop of the upload; with the stored ladder these sizes find it within ~3% whatever the border's
#: width, without relying on the border finders below (which a textured fill or a smooth photo edge fools).
QUERY_CENTRED: tuple[float, ...] = tuple(0.95**k for k in range(1, 9))
#: Query side: the upload turned back by these angles (degrees), then windowed (shifted like the windows
#: above) inside the turned picture. Catches a small rotation whose black corners were cropped away, so
#: :func:`rotation_angle` cannot see it; each angle covers about +-1.5 degrees around it.
QUERY_ANGLES: tuple[float, ...] = (-3.0, 3.0)
QUERY_ANGLE_SHIFTS: tuple[float, ...] = (-0.02, 0.0, 0.02)
#: Query side: a "straightened" copy (turned, then cropped to the largest centred box of its own shape and
#: scaled back up) is the original zoomed by 1 / s about its centre once turned back, ``s`` the inscribed
#: scale of the angle. So the upload is turned back by each of these angles and the centred window that
#: holds a stored rung (size ``rung / s``, for the largest rung ``<= s**2``, which keeps it clear of the
#: turned corners, and 0.53) is hashed: 8 hashes. Each angle covers about +-1 degree (the window's size
#: follows the angle too), so these and the +-3 degree windows above cover straightening by up to ~10.5
#: degrees either way.
STRAIGHTEN_ANGLES: tuple[float, ...] = (-9.5, -7.5, -5.5, 5.5, 7.5, 9.5)
#: Largest distance between a query hash and a stored ``pdq_region`` hash that counts as a match (measured in
#: docs/BENCHMARKS.md): the type's default threshold, declared with the type.
ROBUST_THRESHOLD = PdqRegionSignal.default_threshold
#: For the two hashes of the *whole* upload (plain and mirrored): a looser threshold. Every query hash is
#: one more chance of a false match, so the ~108 windows and crops stay at 45, but these two are few and
#: catch edits that change the whole picture a little everywhere (watermarks, heavy compression). In the
#: full-corpus benchmark's threshold sweep, no false match up to 73 bits here (and 54 for the windows).
WHOLE_THRESHOLD = 64
#: For the upload's own edge strips (:data:`STORED_BANDS`): a stricter threshold, against every stored hash.
#: A strip is stretched to PDQ's square, so two photos' strips can sit closer than two photos do: on the full
#: corpus one straightened copy's left strip was 42 bits from another photo's (the only false match of the
#: 20-hash recipe at 45, docs/BENCHMARKS.md), while a strip the repaint left alone is 0 bits from the stored
#: one, and 24-40 bits when the copy was also resized. At 32, 95.5-99.4% of the repainted copies still match.
STRIP_THRESHOLD = 32
#: Hashes of lower PDQ quality are too featureless to match on (as for plain PDQ).
MIN_QUALITY = PdqRegionSignal.min_quality
#: Side PDQ's C++ reference samples larger images to (nearest neighbour) before hashing.
_PDQ_SIDE = 512
#: Long side of the upload's pixels that :func:`query_hashes` is given by the server (``/v1/match/file``):
#: true aspect ratio, so the rotation finders measure true angles; the derived hashes work at 512 px anyway.
QUERY_SIDE = 1024
#: Below this many pixels on a side (after reduction) there is no photo to find inside a frame: only the
#: plain hash is derived (the finders need rows and columns to compare).
_MIN_QUERY_SIDE = 16


@dataclass(frozen=True)
class RegionHash:
    """One PDQ hash of part of an image. ``label`` says which part (``full``, ``crop_0.9``, ``mirror``...);
    ``threshold`` (query hashes only) is the largest distance to a stored hash that counts as a match."""

    label: str
    code: bytes
    quality: int
    threshold: int = ROBUST_THRESHOLD

    @property
    def hex(self) -> str:
        return self.code.hex()


def pdq_of(rgb: RgbArray) -> RegionHash:
    """PDQ of RGB pixels prepared as Meta's C++ tool does (sides over 512 -> 512x512 nearest neighbour)."""
    h, w = rgb.shape[:2]
    if h > _PDQ_SIDE or w > _PDQ_SIDE:
        rows = np.arange(_PDQ_SIDE) * h // _PDQ_SIDE
        cols = np.arange(_PDQ_SIDE) * w // _PDQ_SIDE
        # np.take along each axis: the same pixels as rgb[rows][:, cols], ~3x faster on a phone screenshot.
        rgb = np.take(np.take(rgb, rows, axis=0), cols, axis=1)
    bits, quality = pdqhash.compute(np.ascontiguousarray(rgb))
    return RegionHash("full", np.packbits(bits.astype(np.uint8)).tobytes(), int(quality))


def crop_box(rgb: RgbArray, box: Box) -> RgbArray:
    """The pixels of ``box`` (fractions of width and height), at least one pixel each way, clipped to the
    picture; rounded as ``pdq_windows.pixel_box`` says (the one rounding both sides use)."""
    left, top, right, bottom = pdq_windows.pixel_box(rgb.shape, box)
    return rgb[top:bottom, left:right]


def entry_hashes(rgb: RgbArray) -> list[RegionHash]:
    """What the bank stores for one image: the plain hash, then one hash per :data:`STORED_REGIONS` crop."""
    hashes = [pdq_of(rgb)]
    for region in STORED_REGIONS:
        found = pdq_of(crop_box(rgb, region.box))
        hashes.append(RegionHash(region.label, found.code, found.quality))
    return hashes


#: Re-cut boxes whose edges round to the same 1/400th of the picture are hashed once.
_SHAPE_GRID = 400
#: How many layers of frame :func:`query_hashes` peels off a picture at most (a screen, a bubble, a margin).
_FRAME_LAYERS = 3
#: The colour tolerances the inner layers are peeled at, with their labels' suffixes: the finders' usual 8,
#: and 16 for JPEG's ringing along a margin a few pixels wide.
_FRAME_TOLERANCES = ((8, ""), (16, "_loose"))


def query_hashes(rgb: RgbArray, plain: RegionHash | None = None) -> list[RegionHash]:
    """What a platform compares for one upload: the plain hash first, then the derived ones.

    The plain hash is the reference PDQ (``pdq_of``); the derived ones are computed together per picture
    (:class:`redline.signals.pdq_windows.WindowHasher`: one filter pass for all windows of a picture, each
    within a few bits of the reference PDQ of the cropped pixels), which made deriving them ~15x cheaper.

    ``plain``: the upload's reference PDQ where the caller has it already. The server passes the one its
    decode made for plain matching (``ImageSignals.pdq``, from the file's own pixels): the same hash the
    ``pdq`` lookup uses and the survivor's device stores as ``full``, not a second one of the reduced
    ``rgb``, and one 512x512 PDQ fewer per upload (~4-6 ms for a photo or screenshot larger than 512 px)."""
    plain = pdq_of(rgb) if plain is None else plain
    hashes = [RegionHash(plain.label, plain.code, plain.quality, WHOLE_THRESHOLD)]
    work = _reduced(rgb)
    if min(work.shape[:2]) < _MIN_QUERY_SIDE:
        return hashes
    wanted: list[tuple[str, WindowHasher, Box, int, float]] = []

    def add(
        label: str, picture: WindowHasher, box: Box, threshold: int = ROBUST_THRESHOLD, turn: float = 0.0
    ) -> None:
        wanted.append((label, picture, box, threshold, turn))

    found_boxes: list[tuple[str, Box]] = []  # the finders' boxes, re-cut to common shapes at the end

    def add_found(label: str, box: Box) -> None:
        add(label, upright, box)
        found_boxes.append((label, box))

    upright = WindowHasher(work)
    mirrored = WindowHasher(np.ascontiguousarray(work[:, ::-1]))
    add("mirror", mirrored, (0.0, 0.0, 1.0, 1.0), WHOLE_THRESHOLD)
    for prefix, picture in (("quadrant", upright), ("mirror_quadrant", mirrored)):
        for dy in QUADRANT_SHIFTS:
            for dx in QUADRANT_SHIFTS:
                add(f"{prefix}_{dx:+.2f}_{dy:+.2f}", picture, StoredRegion(0.5, dx, dy).box)
    for dx, dy, window in _windows(QUERY_WINDOW, QUERY_SHIFTS):
        add(f"window_{QUERY_WINDOW:g}_{dx:+.2f}_{dy:+.2f}", upright, window)
    for size in QUERY_CENTRED:
        add(f"centred_{size:.2f}", upright, StoredRegion(size).box)
    for band in STORED_BANDS:  # the upload's own edge strips: a copy with its middle repainted
        add(band.label, upright, band.box, STRIP_THRESHOLD)
    height, width = work.shape[:2]
    for turn in QUERY_ANGLES:  # sampled turned from the upright picture's filtered plane (pdq_windows)
        inside = min(QUERY_WINDOW, inscribed_scale(turn, width, height))
        for dx, dy, window in _windows(inside, QUERY_ANGLE_SHIFTS):
            add(f"turned_{turn:+.0f}_{dx:+.2f}_{dy:+.2f}", upright, window, turn=turn)
    for angle in STRAIGHTEN_ANGLES:
        inside = inscribed_scale(angle, width, height)
        fitting = [r for r in REGION_SCALES if r <= inside * inside]
        for rung in dict.fromkeys([*fitting[:1], min(REGION_SCALES)]):
            box = StoredRegion(rung / inside).box
            add(f"straighten_{angle:+.1f}_{rung:g}", upright, box, turn=-angle)
    small = work_copy(work)  # the finders' reduced copy, made once
    found = background_box(work, small)
    if found is not None:
        add_found("background_box", found)
        # A picture inside an app's own frame (a chat bubble: a uniform margin, a timestamp strip) inside the
        # uniform surround: the surround's box holds the frame, and the sharp picture is found inside it,
        # looked for in the upload's own pixels (the frame's margins are a few pixels there).
        inner = sharp_box(crop_box(rgb, found))
        if inner is not None:
            framed = _within(found, inner)
            add_found("background_box_sharp", framed)
            add_found("background_box_sharp_trimmed", _within(framed, trim_frame(crop_box(rgb, framed))))
    # A picture in an app's frame inside the app's screen (a chat bubble among messages): each pass takes
    # the block of rows and columns unlike the colours along the box's edges, peeling one layer (the
    # screen's background, then the bubble); every layer is hashed, since a picture with a uniform edge of
    # its own can be peeled into. Unlike background_box, a row counts with a tenth of it unlike those
    # colours, so a dark picture on a dark theme is not cut in two.
    # The outer layer is found on the finders' reduced copy (the next one reads the upload's pixels).
    # Both tolerances start from the same layers: each box's reduced copy is made once, and a box the
    # stricter pass already hashed is not hashed again.
    outer = framed_box(work, small)
    copies: dict[Box, npt.NDArray[np.int16]] = {}
    hashed: set[Box] = set()
    for tolerance, suffix in _FRAME_TOLERANCES:
        frame = outer
        for layer in range(1, _FRAME_LAYERS + 1):
            if frame is None:
                break
            if frame not in hashed:
                hashed.add(frame)
                add_found(f"framed_{layer}{suffix}", frame)
            if layer == _FRAME_LAYERS:
                break
            pixels = crop_box(rgb, frame)
            if frame not in copies:
                copies[frame] = work_copy(pixels)
            inner = framed_box(pixels, copies[frame], tolerance)
            frame = None if inner is None else _within(frame, inner)
    found = sharp_box(work, small)
    if found is not None:
        add_found("sharp_box", found)
        # Blurred fills are centred, but a smooth sky at one edge of the photo can look like fill and a
        # textured fill beside the photo like photo: also try the box made symmetric with either margin.
        for label, box in _centred_variants(found):
            add(label, upright, box)
    # Both rotation finders, not one or the other: a dark photo edge next to a black corner pulls the fit
    # a few degrees too far (10 read as 12.5-15), while the corner-by-corner legs can be thrown off by the
    # same edge the other way. One extra hash when they disagree costs less than a missed match.
    angles: list[float] = []
    for found_angle in (fitted_rotation_angle(work), rotation_angle(work, small)):
        if found_angle is not None and all(abs(found_angle - a) > 0.5 for a in angles):
            angles.append(found_angle)
    # Turned back as items 6-7 are: sampled at the turned places from the upright picture's filtered plane,
    # not a PIL-turned copy filtered again (that turn and filter pass cost ~5-7 ms an upload).
    for angle in angles:
        fits = inscribed_scale(angle, width, height)
        scale = max((s for s in REGION_SCALES if s <= fits), default=min(REGION_SCALES))
        add(f"derotate_{angle:.1f}", upright, StoredRegion(scale).box, turn=-angle)
    # Rotated with the canvas enlarged to fit (corners filled black, white or transparent): turned back,
    # the whole picture sits upright in the middle of the canvas, so its box is hashed, compared with the
    # stored whole picture like any region.
    canvas = canvas_rotation(work)
    if canvas is not None:
        angle, box = canvas
        add(f"canvas_{angle:.1f}", upright, box, turn=-angle)

    # Every finder's box cut to the shapes pictures usually have, from its top and from its bottom
    # (robust_geometry.shaped_boxes: the edge a finder loses is the top or the bottom). Boxes that come out
    # the same to a pixel or so (finders often agree on three edges) are hashed once.
    shaped: set[tuple[int, ...]] = set()
    for label, box in found_boxes:
        for shape, recut in shaped_boxes(box, width, height):
            key = tuple(round(v * _SHAPE_GRID) for v in recut)
            if key not in shaped:
                shaped.add(key)
                add(f"{label}_as_{shape}", upright, recut)

    # Each picture's windows in one batch (one filter pass per picture and window size), then in order.
    found_codes: dict[int, tuple[bytes, int]] = {}
    by_picture: dict[tuple[int, float], list[int]] = {}
    for n, (_, picture, _, _, turn) in enumerate(wanted):
        by_picture.setdefault((id(picture), turn), []).append(n)
    for (_, turn), positions in by_picture.items():
        blocks, qualities = wanted[positions[0]][1].blocks([wanted[n][2] for n in positions], turn)
        for n, code, quality in zip(positions, pdq_windows.codes(blocks), qualities.tolist(), strict=True):
            found_codes[n] = (code, int(quality))
    kept = {h.code for h in hashes}
    for n, (label, _, _, threshold, _) in enumerate(wanted):
        code, quality = found_codes[n]
        if code not in kept:  # a hash already derived under an earlier label is kept once, as that one
            kept.add(code)
            hashes.append(RegionHash(label, code, quality, threshold))
    return hashes


def _windows(size: float, shifts: tuple[float, ...]) -> list[tuple[float, float, Box]]:
    """Square-fraction windows of ``size``, centred then moved by each (dx, dy) in ``shifts``, clipped to the
    image (so a window at the edge is a little smaller)."""
    margin = (1 - size) / 2
    out = []
    for dy in shifts:
        for dx in shifts:
            left, top = max(0.0, margin + dx), max(0.0, margin + dy)
            right, bottom = min(1.0, margin + dx + size), min(1.0, margin + dy + size)
            out.append((dx, dy, (left, top, right, bottom)))
    return out


def _reduced(rgb: RgbArray) -> RgbArray:
    """The upload with its long side at most 512 px, aspect kept: PDQ looks at 64x64 anyway, and every
    derived hash then costs the same whatever the upload's size."""
    h, w = rgb.shape[:2]
    if max(h, w) <= _PDQ_SIDE:
        return rgb
    scale = _PDQ_SIDE / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0))


def _within(outer: Box, inner: Box) -> Box:
    """``inner`` (fractions of the ``outer`` box) as fractions of the whole picture."""
    width, height = outer[2] - outer[0], outer[3] - outer[1]
    return (
        outer[0] + inner[0] * width,
        outer[1] + inner[1] * height,
        outer[0] + inner[2] * width,
        outer[1] + inner[3] * height,
    )


def _centred_variants(box: Box) -> list[tuple[str, Box]]:
    """``box`` made symmetric about the centre, with the left or right margin, and the top or bottom one."""
    variants = []
    for x_name, x in (("left", box[0]), ("right", 1 - box[2])):
        for y_name, y in (("top", box[1]), ("bottom", 1 - box[3])):
            variants.append((f"sharp_box_{x_name}_{y_name}", (x, y, 1 - x, 1 - y)))
    return variants


def usable(hashes: list[RegionHash]) -> list[RegionHash]:
    """The hashes good enough to match on (PDQ quality at least :data:`MIN_QUALITY`)."""
    return [h for h in hashes if h.quality >= MIN_QUALITY]


def codes(hashes: list[RegionHash]) -> npt.NDArray[np.uint8]:
    """``(n, 32)`` uint8 rows (numpy.packbits order, the order of a PDQ hex string)."""
    return np.frombuffer(b"".join(h.code for h in hashes), dtype=np.uint8).reshape(len(hashes), 32)


@dataclass(frozen=True)
class RegionMatch:
    """The closest pair of an upload's derived hash and a stored region hash that counts as a match."""

    query: RegionHash
    stored: RegionHash
    distance: int
    threshold: int


def closest_region_match(
    query: list[RegionHash],
    stored: list[RegionHash],
    region_threshold: int = ROBUST_THRESHOLD,
    sure: int | None = None,
) -> RegionMatch | None:
    """The robust rule applied to one upload (``query``: :func:`query_hashes`) and one stored picture
    (``stored``: :func:`entry_hashes`), as the server's ``pdq_region`` search applies it: each query hash may
    match any stored hash up to the bank's ``region_threshold``, and the whole-upload hashes (plain and
    mirrored) the stored *whole picture* up to :data:`WHOLE_THRESHOLD` (:func:`allowance_applies`); hashes
    below :data:`MIN_QUALITY` take no part. ``sure``: the region index's first stage (the server's
    ``robust_sure_radius``): a region pair beyond it counts only where the index's fixed tables reach it
    (``index.layout.first_stage_reaches``); the whole-upload hashes' search of the whole picture is exact.
    None when no pair is close."""
    from redline.index.layout import first_stage_reaches  # the index's own rule; imported only here

    tables = PdqRegionSignal.first_stage_tables
    best: RegionMatch | None = None
    for q in usable(query):
        for s in usable(stored):
            distance = (int.from_bytes(q.code, "big") ^ int.from_bytes(s.code, "big")).bit_count()
            limit = region_threshold
            if q.threshold < ROBUST_THRESHOLD:
                limit += q.threshold - ROBUST_THRESHOLD  # stricter (an edge strip), against every stored hash
            if allowance_applies(s.label) and q.threshold > ROBUST_THRESHOLD:
                limit += q.threshold - ROBUST_THRESHOLD  # searched exactly, in the whole pictures' index
            elif sure is not None and tables and sure < distance <= limit:
                xor = np.bitwise_xor(np.frombuffer(q.code, np.uint64), np.frombuffer(s.code, np.uint64))
                if not first_stage_reaches(xor, tables, sure)[0]:
                    continue
            if distance <= limit and (best is None or distance < best.distance):
                best = RegionMatch(q, s, distance, limit)
    return best


def allowance_applies(stored_label: str) -> bool:
    """Whether a query hash's allowance beyond the region threshold (the whole upload's, up to
    :data:`WHOLE_THRESHOLD`) counts against this stored hash: only against the whole picture. (A query's
    *stricter* threshold, the edge strips' :data:`STRIP_THRESHOLD`, counts against every stored hash.)

    Why: the whole-upload hashes at 64 bits are for edits that change the whole picture a little everywhere
    (watermarks, heavy compression), and such a copy is near the stored whole picture. Against the crops
    they found nothing the other query hashes do not (``bench/robust_pairs.py``), but searching every crop
    that far was most of the search time at a million pictures: the server now looks them up among the
    stored whole pictures (the ``pdq`` entries) only (docs/ROBUSTNESS.md, "Cost")."""
    return stored_label == "full"
