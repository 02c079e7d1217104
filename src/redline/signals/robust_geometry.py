"""Finding where the photo is inside a query image: borders, screenshot frames, rotation.

Only the *query* side (a platform checking an upload) runs these; the survivor's device stores plain crops of
the upright photo (see :mod:`redline.signals.robust`). Each finder returns a box or an angle when it is
confident and ``None`` otherwise; a wrong guess costs one extra query hash, never a missed plain-PDQ match,
because the untouched query hash is always compared too.

Boxes are ``(left, top, right, bottom)`` fractions of the image's width and height, so they can be applied to
the image at any resolution.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import numpy.typing as npt

from redline.signals import finder_kernels

Box = tuple[float, float, float, float]
RgbArray = npt.NDArray[np.uint8]

#: Work on a copy whose long side is at most this: enough for locating, cheap on a 12 MP photo.
_WORK_SIDE = 400
#: A colour channel may differ this much from the background and still count as background (JPEG noise).
_BG_TOLERANCE = 8
#: Share of a row/column that must differ from the background for it to belong to the photo.
_PHOTO_ROW_SHARE = 0.5
#: A box smaller than this share of the image is not believed to be "the photo".
_MIN_BOX_AREA = 0.12
#: A box within this fraction of the full frame on every side is the full frame: nothing to remove.
_SAME_BOX = 0.015


def work_copy(rgb: RgbArray) -> npt.NDArray[np.int16]:
    """``rgb`` reduced by an integer factor (block mean) until its long side is at most ``_WORK_SIDE``."""
    h, w = rgb.shape[:2]
    step = max(1, math.ceil(max(h, w) / _WORK_SIDE))
    if step == 1:
        return np.asarray(rgb, dtype=np.int16)
    # Rounded block means in one compiled pass (finder_kernels: exact sums, the mean rounded half to even).
    # (A crop of the upload is copied contiguous first: the kernel then reads each row as one flat run.)
    pixels = np.ascontiguousarray(rgb, dtype=np.uint8)
    means: npt.NDArray[np.int16] = finder_kernels.block_means(pixels, step)
    return means


def _longest_run(mask: npt.NDArray[np.bool_], max_gap: int) -> tuple[int, int] | None:
    """``(start, stop)`` of the longest stretch of True, bridging gaps of at most ``max_gap`` False values."""
    start, stop = finder_kernels.longest_run(mask, max_gap)
    return None if start < 0 else (int(start), int(stop))


def _box_from_mask(mask: npt.NDArray[np.bool_], share: float) -> Box | None:
    """The largest block of rows, then columns, then rows again, where ``mask`` covers ``share`` or more."""
    h, w = mask.shape
    shares_at_least = finder_kernels.line_shares_at_least  # mask.mean(axis=...) >= share, compiled
    rows = _longest_run(shares_at_least(mask, 1, share), max(2, h // 100))
    if rows is None:
        return None
    cols = _longest_run(shares_at_least(mask[rows[0] : rows[1]], 0, share), max(2, w // 100))
    if cols is None:
        return None
    rows = _longest_run(shares_at_least(mask[:, cols[0] : cols[1]], 1, share), max(2, h // 100))
    if rows is None:
        return None
    box = (cols[0] / w, rows[0] / h, cols[1] / w, rows[1] / h)
    if (box[2] - box[0]) * (box[3] - box[1]) < _MIN_BOX_AREA:
        return None
    if box[0] < _SAME_BOX and box[1] < _SAME_BOX and box[2] > 1 - _SAME_BOX and box[3] > 1 - _SAME_BOX:
        return None
    return box


def background_box(rgb: RgbArray, small: npt.NDArray[np.int16] | None = None) -> Box | None:
    """The photo inside a uniform surround: solid borders, letterbox bars, or an app screenshot's UI.

    The background is the most common colour on the image's outer edge; the photo is the largest block of
    rows and columns mostly unlike it (text and icons cover too little of a row to count). ``small``: its
    :func:`work_copy`, where the caller has it already.
    """
    small = work_copy(rgb) if small is None else small
    edge = np.concatenate([small[0], small[-1], small[:, 0], small[:, -1]])
    quantised = edge // 8
    keys, counts = np.unique(
        quantised[:, 0] * 1024 + quantised[:, 1] * 32 + quantised[:, 2], return_counts=True
    )
    key = int(keys[np.argmax(counts)])
    if counts.max() < 0.3 * len(edge):
        return None  # no dominant surround colour: not a bordered image
    members = edge[(quantised[:, 0] * 1024 + quantised[:, 1] * 32 + quantised[:, 2]) == key]
    background = members.mean(axis=0)
    differs = finder_kernels.unlike_colour(small, background, _BG_TOLERANCE)
    return _box_from_mask(differs, _PHOTO_ROW_SHARE)


#: The bands along a frame's box whose common colours are the frame's (fraction of each side): wider than a
#: bubble's margin, so each holds the margin and a strip of the picture.
_FRAME_BAND = 0.05
#: A colour near this share of a band's pixels (or of the box's outermost pixels) is common there; the
#: picture's own colours are spread out.
_FRAME_COLOUR_SHARE = 0.1
#: Share of a row or column unlike the frame's colours for it to belong to the picture: a margin or
#: timestamp row has almost none (a few digits), while a dark picture's row on a dark theme still has some
#: (half, as :func:`background_box` asks of a surround, cut such pictures in two).
_FRAMED_ROW_SHARE = 0.1


def framed_box(
    rgb: RgbArray, small: npt.NDArray[np.int16] | None = None, tolerance: int = _BG_TOLERANCE
) -> Box | None:
    """The picture inside a frame: the block of rows and columns unlike the colours along the edges.

    Made for an app's screen and the frames inside it (a chat app's bubble: a margin of a few pixels in the
    bubble's colour, a strip with the time below the picture, rounded corners showing the chat's
    background), one layer at a time: on a whole screenshot it finds the bubble, on the bubble's box the
    picture. The frame's colours are those common in all four bands along the box's edges (the bubble's:
    a picture's own dark top or sky runs along one to three), and those common among its outermost pixels
    (the surround's, at rounded corners or where the outer box took in a pixel too many). Inside a frame it
    should read the upload's own pixels, reduced only to the finders' working size: a margin is a few
    pixels, and a box 1% of the picture off costs PDQ 20-25 bits. ``small``: :func:`work_copy` of ``rgb``,
    where the caller has it already.
    """
    small = work_copy(rgb) if small is None else small
    h, w = small.shape[:2]
    by, bx = max(2, round(h * _FRAME_BAND)), max(2, round(w * _FRAME_BAND))
    if h <= 4 * by or w <= 4 * bx:
        return None
    bands = [b.reshape(-1, 3) for b in (small[:by], small[-by:], small[:, :bx], small[:, -bx:])]
    frame = _common_colours(bands, tolerance)
    ring = np.concatenate([small[0], small[-1], small[:, 0], small[:, -1]])
    frame += _common_colours([ring], tolerance, frame)
    if not frame:
        return None  # no colour is common along the edges: no frame
    differs = finder_kernels.near_none(small, np.array(frame, dtype=np.float32), tolerance)
    return _box_from_mask(differs, _FRAMED_ROW_SHARE)


#: How many of the most frequent colour bins along the edges are tried as frame colours.
_FRAME_CANDIDATES = 8
#: Colour bins: 32 levels a channel (8 values each).
_BINS = 32**3


def _common_colours(
    groups: list[npt.NDArray[np.int16]],
    tolerance: int,
    known: list[npt.NDArray[np.float64]] | tuple[()] = (),
) -> list[npt.NDArray[np.float64]]:
    """Colours near (within ``tolerance`` of) ``_FRAME_COLOUR_SHARE`` or more of the pixels of
    every group (each n x 3), other than those near a ``known`` one. Candidates are the mean colours of the
    most frequent colour bins (8 levels a channel); a tolerance decides, not the bin, since JPEG's noise
    spreads one flat colour over several bins."""
    # One compiled pass each (finder_kernels): the bins counted over all 32**3 keys, the most frequent first
    # (ties in key order), and each candidate's least share near it over the groups; the same numbers as
    # the numpy bincount, stable argsort and split means they replaced.
    pixels = np.concatenate(groups)
    candidates = finder_kernels.frequent_bin_colours(pixels, _BINS, _FRAME_CANDIDATES)
    ends = np.cumsum([len(group) for group in groups])
    least = finder_kernels.least_share_near(pixels, ends, candidates.astype(np.float32), tolerance)
    chosen = list(known)
    for colour, share in zip(candidates, least, strict=True):
        if share < _FRAME_COLOUR_SHARE:
            continue
        if not any(np.abs(colour - other).max() <= tolerance for other in chosen):
            chosen.append(colour)  # else the same colour, split over two bins
    return chosen[len(known) :]


def sharp_box(rgb: RgbArray, small: npt.NDArray[np.int16] | None = None) -> Box | None:
    """The sharp photo inside a blurred surround (the photo stretched and blurred behind itself).

    A blurred fill has almost no local contrast; the photo has some in nearly every row and column.
    """
    textured = _textured(work_copy(rgb) if small is None else small)
    if textured.mean() < 0.01:
        return None
    return _box_from_mask(textured, 0.04)


def _textured(small: npt.NDArray[np.int16]) -> npt.NDArray[np.bool_]:
    """Where the picture has local contrast (grey level steps above 6 to the right or below)."""
    grey = small.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    gradient = np.zeros_like(grey)
    gradient[:, :-1] += np.abs(np.diff(grey, axis=1))
    gradient[:-1, :] += np.abs(np.diff(grey, axis=0))
    textured: npt.NDArray[np.bool_] = gradient > 6.0
    return textured


#: A row or column at the edge of a found box with local contrast in less of it than this is a strip of the
#: frame around the picture (a chat bubble's timestamp strip, its margin), not the picture.
_FRAME_STRIP_SHARE = 0.35
#: Most of the box's height (width) that trimming may take away at each edge.
_MOST_TRIMMED = 0.15


def trim_frame(rgb: RgbArray) -> Box:
    """The box left once flat strips along the edges of ``rgb`` are trimmed (rows and columns with little
    local contrast: a frame's margin, a strip with a small timestamp), at most 15% of the box at each edge."""
    textured = _textured(work_copy(rgb))
    h, w = textured.shape
    if h < 2 or w < 2:
        return (0.0, 0.0, 1.0, 1.0)
    most_h, most_w = int(h * _MOST_TRIMMED), int(w * _MOST_TRIMMED)
    top, bottom, left, right = 0, h, 0, w

    def flat(strip: npt.NDArray[np.bool_]) -> bool:
        return bool(strip.mean() < _FRAME_STRIP_SHARE)

    while h - bottom < most_h and flat(textured[bottom - 1, left:right]):
        bottom -= 1
    while top < most_h and flat(textured[top, left:right]):
        top += 1
    while w - right < most_w and flat(textured[top:bottom, right - 1]):
        right -= 1
    while left < most_w and flat(textured[top:bottom, left]):
        left += 1
    return (left / w, top / h, right / w, bottom / h)


def rotation_angle(rgb: RgbArray, small: npt.NDArray[np.int16] | None = None) -> float | None:
    """Counter-clockwise angle in degrees of a photo rotated on its own canvas with black corners, or None.

    Rotating a W x H photo by t on a W x H canvas leaves a black right triangle in each corner whose legs
    along the canvas edges are in the ratio tan(t); the longer leg lies along the top edge at the top-left
    corner when the rotation was counter-clockwise. Two or more corners must agree.
    """
    small = work_copy(rgb) if small is None else small
    dark = finder_kernels.channel_max_at_most(small, 24)
    h, w = dark.shape
    estimates = []
    # (row, column) of each corner and the direction to walk along the horizontal and vertical edges.
    for row, col, sign in ((0, 0, 1.0), (0, w - 1, -1.0), (h - 1, 0, -1.0), (h - 1, w - 1, 1.0)):
        along_row = dark[row, :: 1 if col == 0 else -1]
        along_col = dark[:: 1 if row == 0 else -1, col]
        horizontal = int(np.argmin(along_row)) if not along_row.all() else w
        vertical = int(np.argmin(along_col)) if not along_col.all() else h
        if min(horizontal, vertical) < 2 or max(horizontal, vertical) >= max(w, h) // 2 + 1:
            continue
        degrees = math.degrees(math.atan(min(horizontal, vertical) / max(horizontal, vertical)))
        if not 0.5 <= degrees <= 30:
            continue
        estimates.append(sign * degrees if horizontal > vertical else -sign * degrees)
    if len(estimates) < 2:
        return None
    estimates.sort()
    for a, b in itertools.pairwise(estimates):
        if abs(a - b) <= 1.5 and (a > 0) == (b > 0):
            return float(np.median([e for e in estimates if abs(e - (a + b) / 2) <= 1.5]))
    return None


def inscribed_scale(degrees: float, width: int, height: int) -> float:
    """Largest s such that the centred s-scaled W x H box fits inside the W x H box rotated by ``degrees``."""
    t = math.radians(abs(degrees))
    c, s = math.cos(t), math.sin(t)
    return min(width / (width * c + height * s), height / (width * s + height * c))


#: The fitted finder looks at a copy whose long side is about this (angles to ~0.25 degrees are enough: the
#: de-rotated hash tolerates ~1.5 degrees).
_FIT_SIDE = 200


def fitted_rotation_angle(rgb: RgbArray, lowest: float = 2.0, highest: float = 15.0) -> float | None:
    """Like :func:`rotation_angle`, but by fitting the four black corners as a whole, so a dark photo edge
    that runs into a black corner (which throws the corner-by-corner leg measurement off) does not hide it.

    For each candidate angle the corners a W x H photo rotated on its own W x H canvas would leave black are
    predicted exactly; the angle whose predicted corners best separate black from non-black pixels (black
    inside count minus non-black inside) wins. It is believed only when its corners are at least 90% black
    and the band just inside the photo's edge is not nearly all black (a black-framed or dark-mode picture
    has black on both sides; a photo's own dark edge, e.g. a vignette, is rarely black all round).
    """
    height, width = rgb.shape[:2]
    step = max(1, math.ceil(max(height, width) / _FIT_SIDE))
    dark = finder_kernels.channel_max_at_most(rgb[::step, ::step], 16)
    rows, cols = np.mgrid[0 : dark.shape[0], 0 : dark.shape[1]]
    x = (cols + 0.5) * step - width / 2
    y = (rows + 0.5) * step - height / 2

    def outside(degrees: float) -> npt.NDArray[np.float64]:
        """How far each pixel lies outside the photo rotated by ``degrees`` (negative: inside it)."""
        t = math.radians(degrees)
        u = math.cos(t) * x - math.sin(t) * y
        v = math.sin(t) * x + math.cos(t) * y
        out: npt.NDArray[np.float64] = np.maximum(np.abs(u) - width / 2, np.abs(v) - height / 2)
        return out

    def score(degrees: float) -> int:  # 2 x the dark pixels outside the turned picture minus all of them
        t = math.radians(degrees)
        return int(finder_kernels.turned_corner_score(dark, step, width, height, math.cos(t), math.sin(t)))

    coarse = [sign * a for sign in (1.0, -1.0) for a in np.arange(lowest, highest + 1e-9, 1.0).tolist()]
    best = max(coarse, key=score)
    fine = [best + d for d in (-0.75, -0.5, -0.25, 0.25, 0.5, 0.75) if lowest <= abs(best + d) <= highest]
    best = max([best, *fine], key=score)
    distance = outside(best)
    corners = distance > 0
    band = (distance < -1.5 * step) & (distance > -4.0 * step)
    if corners.sum() < 8 or dark[corners].mean() < 0.9 or dark[band].mean() > 0.75:
        return None
    return float(best)


#: A pixel differs from a canvas fill by more than this (any channel) to count as picture: generous, because
#: a rotated picture's edge pixels are blended with the fill and JPEG blurs them further.
_CANVAS_TOLERANCE = 24


def canvas_rotation(rgb: RgbArray, lowest: float = 1.0, highest: float = 30.0) -> tuple[float, Box] | None:
    """A picture rotated with the canvas enlarged to hold it (what phone editors and most apps do): the four
    corners are one fill colour (black, white, or transparent flattened on white) and the picture's four
    corners touch the four edges. Returns the angle (degrees, PIL's sense: positive counterclockwise) and
    the box the picture fills once the canvas is turned back by it (the original picture), or None.

    Why a finder of its own: :func:`rotation_angle` and :func:`fitted_rotation_angle` look for black corner
    triangles inside the original frame, and the de-rotated crop they hash is a ladder crop of that frame;
    on an enlarged canvas the picture is smaller than the frame, so both are wrong there.
    """
    pixels = np.asarray(rgb, dtype=np.int16)
    h, w = pixels.shape[:2]
    if min(h, w) < 32:
        return None
    corners = np.stack([pixels[0, 0], pixels[0, -1], pixels[-1, 0], pixels[-1, -1]])
    fill = np.median(corners, axis=0)
    if np.abs(corners - fill).max() > _CANVAS_TOLERANCE:
        return None
    picture = finder_kernels.unlike_colour(pixels, fill, _CANVAS_TOLERANCE)
    rows, cols = np.flatnonzero(picture.any(axis=1)), np.flatnonzero(picture.any(axis=0))
    if rows.size < 0.5 * h or cols.size < 0.5 * w:
        return None
    # The top-left fill triangle's legs: along the top edge to where the picture touches it, and down the
    # left edge (measured one pixel inside the picture's extent: the touching vertex itself is blended
    # with the fill). Counterclockwise, the picture's top-right corner rises to the top edge far to the
    # right (long top leg); clockwise, its top-left corner does, near the left (long left leg).
    top = np.flatnonzero(picture[min(h - 1, rows[0] + 1)])
    left = np.flatnonzero(picture[:, min(w - 1, cols[0] + 1)])
    if top.size == 0 or left.size == 0:
        return None
    along_top, down_left = float(top[0]), float(left[0])
    if min(along_top, down_left) < 2:
        return None
    if along_top >= down_left:
        angle = math.degrees(math.atan2(down_left, along_top))
    else:
        angle = -math.degrees(math.atan2(along_top, down_left))
    if not lowest <= abs(angle) <= highest:
        return None
    a = math.radians(abs(angle))
    cos, sin, cos2 = math.cos(a), math.sin(a), math.cos(2 * a)
    width, height = (w * cos - h * sin) / cos2, (h * cos - w * sin) / cos2
    if not (0.3 * w < width <= w and 0.3 * h < height <= h):
        return None  # not a picture on a canvas enlarged to hold it
    mx, my = (1 - width / w) / 2, (1 - height / h) / 2
    return angle, (mx, my, 1 - mx, 1 - my)


#: The shapes (width:height) camera pictures and apps' crops usually come in: square, 5:4, 4:3, 3:2 and
#: 16:9, across and upright.
PICTURE_SHAPES: tuple[tuple[int, int], ...] = (
    (1, 1), (5, 4), (4, 3), (3, 2), (16, 9), (4, 5), (3, 4), (2, 3), (9, 16),
)  # fmt: skip
#: A box within this share of its height of one of the shapes has that shape already (PDQ's tolerance) and
#: is not re-cut; otherwise it is re-cut to each shape that moves its top or bottom by at most the largest.
_SHAPE_CHANGE = 0.01
_MOST_SHAPE_CHANGE = 0.4


def shaped_boxes(box: Box, width: int, height: int) -> list[tuple[str, Box]]:
    """``box`` (on a ``width`` x ``height`` image) with its top or its bottom moved so that it has one of the
    :data:`PICTURE_SHAPES`, each labelled ``{w}x{h}_top`` (the top kept) or ``{w}x{h}_bottom``.

    Why: an app lays a picture out by its width (a feed's full width, a chat bubble's), so a finder gets the
    left and right edges; the top or the bottom is what it loses. A photo whose own top is as plain as the
    page (a white sky on a white page, a dark one on a dark theme) leaves no edge to find there, and a
    bubble's strip with the time under the picture is taken in with it. A box that far off moves PDQ 45-150
    bits; cut to the picture's shape from the edge that was found, it is within a few. Only the shapes
    pictures usually have are tried, so a picture cropped to another shape whose edge blends with the page
    is still missed."""
    left, top, right, bottom = box
    box_w, box_h = (right - left) * width, (bottom - top) * height
    if box_w <= 0 or box_h <= 0:
        return []
    changes = [abs(box_w * h / w - box_h) / box_h for w, h in PICTURE_SHAPES]
    if min(changes) <= _SHAPE_CHANGE:
        return []  # the box has one of the shapes already: believed as found
    out: list[tuple[str, Box]] = []
    for (shape_w, shape_h), change in zip(PICTURE_SHAPES, changes, strict=True):
        if change > _MOST_SHAPE_CHANGE:
            continue
        wanted = box_w * shape_h / shape_w  # the height, in pixels, this shape would have
        if (lower := top + wanted / height) <= 1.0:
            out.append((f"{shape_w}x{shape_h}_top", (left, top, right, lower)))
        if (upper := bottom - wanted / height) >= 0.0:
            out.append((f"{shape_w}x{shape_h}_bottom", (left, upper, right, bottom)))
    return out
