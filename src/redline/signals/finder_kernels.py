# mypy: disable-error-code="misc"
# (numba's njit decorator is untyped, as in redline.signals.pdq_windows.)
"""Compiled per-pixel loops of the query-side finders (:mod:`redline.signals.robust_geometry`).

Why: the finders compare every pixel of a working copy with a colour or two, channel by channel. In numpy
that is a reduction over a last axis of 3 (``np.abs(a - colour).max(axis=2)``), which numpy runs slowly,
through float64 temporaries the size of the picture. On a phone screenshot these comparisons, and the block
means of the working copy, were about a third of deriving the upload's query hashes. Each kernel computes
exactly what the numpy expression it replaces computed (the same types, the same rounding), so the boxes and
angles the finders return, and the hashes derived from them, are unchanged bit for bit
(``tests/signals/test_finder_kernels.py`` compares each with its numpy expression).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit


@njit(cache=True)
def block_means(rgb: Any, step: int) -> Any:  # pragma: no cover - compiled
    """``(h // step, w // step, 3)`` int16: the rounded mean of each ``step`` x ``step`` block of ``rgb``
    (uint8), rows and columns beyond the last whole block left out. The sum is exact (integers) and the
    division float64, rounded half to even: ``np.rint(sums / step**2)``."""
    height, width = rgb.shape[0] // step, rgb.shape[1] // step
    out = np.empty((height, width, 3), dtype=np.int16)
    sums = np.zeros((width, 3), dtype=np.int64)
    area = step * step
    for y in range(height):
        sums[:] = 0
        for dy in range(step):
            row = y * step + dy
            for x in range(width):
                base = x * step
                for dx in range(step):
                    for c in range(3):
                        sums[x, c] += rgb[row, base + dx, c]
        for x in range(width):
            for c in range(3):
                out[y, x, c] = np.int16(np.rint(sums[x, c] / area))
    return out


@njit(cache=True)
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


@njit(inline="always", cache=True)
def _within(pixel: Any, colour: Any, limit: Any) -> bool:  # pragma: no cover - compiled
    """Every channel of ``pixel`` (3 values) within ``limit`` of ``colour`` (float32), in float32."""
    for c in range(3):  # noqa: SIM110 (numba compiles no generator expression for all())
        if abs(np.float32(pixel[c]) - colour[c]) > limit:
            return False
    return True


@njit(cache=True)
def near_colours(pixels: Any, colours: Any, tolerance: float) -> Any:  # pragma: no cover - compiled
    """``(n, k)`` bool: pixel ``i`` (of ``pixels``, n x 3) is within ``tolerance`` of colour ``j`` (of
    ``colours``, k x 3, float32) in every channel, compared in float32 (``robust_geometry._common_colours``
    asks which pixels are near each candidate colour)."""
    out = np.empty((pixels.shape[0], colours.shape[0]), dtype=np.bool_)
    limit = np.float32(tolerance)
    for i in range(pixels.shape[0]):
        for j in range(colours.shape[0]):
            out[i, j] = _within(pixels[i], colours[j], limit)
    return out


@njit(cache=True)
def near_none(pixels: Any, colours: Any, tolerance: float) -> Any:  # pragma: no cover - compiled
    """``(h, w)`` bool: the pixel (of ``pixels``, h x w x 3) is near none of ``colours`` (k x 3, float32),
    as :func:`near_colours` compares: ``~near_colours(pixels.reshape(-1, 3), ...).any(axis=1)``."""
    out = np.ones((pixels.shape[0], pixels.shape[1]), dtype=np.bool_)
    limit = np.float32(tolerance)
    for y in range(pixels.shape[0]):
        for x in range(pixels.shape[1]):
            for j in range(colours.shape[0]):
                if _within(pixels[y, x], colours[j], limit):
                    out[y, x] = False
                    break
    return out


@njit(cache=True)
def channel_max_at_most(pixels: Any, level: int) -> Any:  # pragma: no cover - compiled
    """``(h, w)`` bool: every channel of the pixel is at most ``level``: ``pixels.max(axis=2) <= level``."""
    height, width = pixels.shape[0], pixels.shape[1]
    out = np.empty((height, width), dtype=np.bool_)
    for y in range(height):
        for x in range(width):
            out[y, x] = pixels[y, x, 0] <= level and pixels[y, x, 1] <= level and pixels[y, x, 2] <= level
    return out


@njit(cache=True)
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
