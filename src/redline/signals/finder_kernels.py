# mypy: disable-error-code="misc"
# (numba's njit decorator is untyped, as in redline.signals.pdq_windows.)
"""Compiled per-pixel loops of the query-side finders (:mod:`redline.signals.robust_geometry`).

Why: the finders compare every pixel of a working copy with a colour or two, channel by channel. In numpy
that is a reduction over a last axis of 3 (``np.abs(a - colour).max(axis=2)``), which numpy runs slowly,
through float64 temporaries the size of the picture. On a phone screenshot these comparisons, and the block
means of the working copy, were about a third of deriving the upload's query hashes. Each kernel computes
exactly what the numpy expression it replaces computed (the same types, the same rounding), so the boxes and
angles the finders return, and the hashes derived from them, are unchanged bit for bit
(``tests/signals/test_finder_kernels.py`` compares each with its numpy expression). They release the GIL
(``nogil``), as ``pdq_windows``'s loops do, so that uploads derived on the server's threads run side by side.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def block_means(rgb: Any, step: int) -> Any:  # pragma: no cover - compiled
    """``(h // step, w // step, 3)`` int16: the rounded mean of each ``step`` x ``step`` block of ``rgb``
    (uint8, C-contiguous), rows and columns beyond the last whole block left out. The sum is exact
    (integers) and the division float64, rounded half to even: ``np.rint(sums / step**2)``.

    Each block row's ``step`` picture rows are first added value by value along the flattened row (memory
    read in order, a loop the compiler vectorises), then each block's ``step`` columns of that sum; integer
    sums, so the order changes nothing."""
    height, width = rgb.shape[0] // step, rgb.shape[1] // step
    out = np.empty((height, width, 3), dtype=np.int16)
    flat = rgb.reshape(rgb.shape[0], rgb.shape[1] * 3)
    values = width * step * 3
    rows = np.zeros(values, dtype=np.int32)
    area = step * step
    for y in range(height):
        rows[:] = 0
        for dy in range(step):
            line = flat[y * step + dy]
            for k in range(values):
                rows[k] += line[k]
        for x in range(width):
            for c in range(3):
                total = 0
                for dx in range(step):
                    total += rows[(x * step + dx) * 3 + c]
                out[y, x, c] = np.int16(np.rint(total / area))
    return out


@njit(nogil=True, cache=True)
def unlike_colour(pixels: Any, colour: Any, tolerance: float) -> Any:  # pragma: no cover - compiled
    """``(h, w)`` bool: some channel of the pixel is more than ``tolerance`` from ``colour`` (float64 per
    channel): ``np.abs(pixels - colour).max(axis=2) > tolerance``."""
    height, width = pixels.shape[0], pixels.shape[1]
    out = np.empty((height, width), dtype=np.bool_)
    for y in range(height):
        for x in range(width):
            far = False
            for c in range(3):
                if abs(pixels[y, x, c] - colour[c]) > tolerance:
                    far = True
                    break
            out[y, x] = far
    return out


@njit(inline="always", nogil=True, cache=True)
def _within(pixel: Any, colour: Any, limit: Any) -> bool:  # pragma: no cover - compiled
    """Every channel of ``pixel`` (3 values) within ``limit`` of ``colour`` (float32), in float32."""
    for c in range(3):  # noqa: SIM110 (numba compiles no generator expression for all())
        if abs(np.float32(pixel[c]) - colour[c]) > limit:
            return False
    return True


@njit(nogil=True, cache=True)
def near_none(pixels: Any, colours: Any, tolerance: float) -> Any:  # pragma: no cover - compiled
    """``(h, w)`` bool: the pixel (of ``pixels``, h x w x 3) is near none of ``colours`` (k x 3, float32),
    near meaning within ``tolerance`` in every channel, compared in float32 (:func:`_within`)."""
    out = np.ones((pixels.shape[0], pixels.shape[1]), dtype=np.bool_)
    limit = np.float32(tolerance)
    for y in range(pixels.shape[0]):
        for x in range(pixels.shape[1]):
            for j in range(colours.shape[0]):
                if _within(pixels[y, x], colours[j], limit):
                    out[y, x] = False
                    break
    return out


@njit(nogil=True, cache=True)
def channel_max_at_most(pixels: Any, level: int) -> Any:  # pragma: no cover - compiled
    """``(h, w)`` bool: every channel of the pixel is at most ``level``: ``pixels.max(axis=2) <= level``."""
    height, width = pixels.shape[0], pixels.shape[1]
    out = np.empty((height, width), dtype=np.bool_)
    for y in range(height):
        for x in range(width):
            out[y, x] = pixels[y, x, 0] <= level and pixels[y, x, 1] <= level and pixels[y, x, 2] <= level
    return out


@njit(nogil=True, cache=True)
def turned_corner_score(
    dark: Any, step: int, width: int, height: int, cos: float, sin: float
) -> int:  # pragma: no cover - compiled
    """``robust_geometry.fitted_rotation_angle``'s score of one angle (``cos``, ``sin`` of it): over the
    pixels of ``dark`` (a copy sampled every ``step`` pixels of a ``width`` x ``height`` picture) outside
    the picture turned by that angle, 2 x the dark ones minus all of them. Each pixel's place is computed
    as the numpy expressions there compute it (float64, the same operations in the same order)."""
    total = 0
    half_w, half_h = width / 2, height / 2
    for r in range(dark.shape[0]):
        y = (r + 0.5) * step - half_h
        for c in range(dark.shape[1]):
            x = (c + 0.5) * step - half_w
            u = cos * x - sin * y
            v = sin * x + cos * y
            if max(abs(u) - half_w, abs(v) - half_h) > 0:
                total += 2 if dark[r, c] else 0
                total -= 1
    return total


@njit(nogil=True, cache=True)
def frequent_bin_colours(pixels: Any, bins: int, candidates: int) -> Any:  # pragma: no cover - compiled
    """``(k, 3)`` float64: the mean colours of the ``candidates`` most frequent colour bins of ``pixels``
    (n x 3, levels 0-255; a bin is 8 levels a channel, key ``r // 8 * 1024 + g // 8 * 32 + b // 8``), most
    frequent first, ties in key order (what a stable sort of the counts of the bins present gives). The
    sums are exact (integers) and each mean one float64 division, as ``np.bincount(..., weights=)`` over
    the count."""
    counts = np.zeros(bins, dtype=np.int64)
    sums = np.zeros((bins, 3), dtype=np.int64)
    for i in range(pixels.shape[0]):
        key = (pixels[i, 0] // 8) * 1024 + (pixels[i, 1] // 8) * 32 + pixels[i, 2] // 8
        counts[key] += 1
        for c in range(3):
            sums[key, c] += pixels[i, c]
    # The top ``candidates`` by count, kept sorted (count descending, key ascending): a bin replaces a kept
    # one only with a strictly larger count, since it comes later in key order.
    top = np.full(candidates, -1, dtype=np.int64)
    kept = 0
    for key in range(bins):
        count = counts[key]
        if count == 0 or (kept == candidates and count <= counts[top[kept - 1]]):
            continue
        place = min(kept, candidates - 1)
        while place > 0 and counts[top[place - 1]] < count:
            top[place] = top[place - 1]
            place -= 1
        top[place] = key
        kept = min(kept + 1, candidates)
    out = np.empty((kept, 3), dtype=np.float64)
    for j in range(kept):
        for c in range(3):
            out[j, c] = np.float64(sums[top[j], c]) / np.float64(counts[top[j]])
    return out


@njit(nogil=True, cache=True)
def least_share_near(pixels: Any, ends: Any, colours: Any, tolerance: float) -> Any:  # pragma: no cover
    """``(k,)`` float64: for each of ``colours`` (k x 3, float32), the smallest, over the groups of
    ``pixels`` (n x 3; group ``g`` is rows ``ends[g - 1]`` to ``ends[g]``), of the share of the group's
    pixels near it (every channel within ``tolerance``, in float32: :func:`_within`): the per-pixel test
    split at ``ends``, each part's mean over its rows, then the minimum over parts
    (``robust_geometry._common_colours`` keeps a colour common in every band along a frame's edges)."""
    limit = np.float32(tolerance)
    least = np.full(colours.shape[0], np.inf)
    start = 0
    for g in range(ends.shape[0]):
        stop = ends[g]
        for j in range(colours.shape[0]):
            near = 0
            for i in range(start, stop):
                if _within(pixels[i], colours[j], limit):
                    near += 1
            least[j] = min(least[j], near / np.float64(stop - start))
        start = stop
    return least


@njit(nogil=True, cache=True)
def line_shares_at_least(mask: Any, axis: int, share: float) -> Any:  # pragma: no cover - compiled
    """``(lines,)`` bool: the share of True in each row (``axis`` 1) or column (``axis`` 0) of ``mask`` is at
    least ``share``: ``mask.mean(axis=axis) >= share`` (the count over the length in float64)."""
    height, width = mask.shape
    lines, length = (height, width) if axis == 1 else (width, height)
    counts = np.zeros(lines, dtype=np.int64)
    for y in range(height):
        for x in range(width):
            if mask[y, x]:
                counts[y if axis == 1 else x] += 1
    out = np.empty(lines, dtype=np.bool_)
    for n in range(lines):
        out[n] = counts[n] / np.float64(length) >= share
    return out


@njit(nogil=True, cache=True)
def longest_run(mask: Any, max_gap: int) -> Any:  # pragma: no cover - compiled
    """``(start, stop)`` of the longest stretch of True in ``mask`` (1-d), bridging gaps of at most
    ``max_gap`` False values; the first such stretch where two are as long; ``(-1, -1)`` when all False."""
    best_start, best_stop = -1, -1
    start = last = -1
    for i in range(mask.shape[0]):
        if not mask[i]:
            continue
        if start < 0 or i - last - 1 > max_gap:
            start = i
        last = i
        if best_start < 0 or last + 1 - start > best_stop - best_start:
            best_start, best_stop = start, last + 1
    return best_start, best_stop
