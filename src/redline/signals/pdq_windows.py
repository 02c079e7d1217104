# mypy: disable-error-code="misc"
# (numba's njit decorator is untyped, as in redline.index.kernels.)
"""PDQ of many windows of one picture at once: the query side of robust matching, ~15x cheaper.

Why: an upload's robust query hashes (``robust.query_hashes``) are PDQ of ~85 windows of two pictures (the
upload reduced to 512 px and its mirror; the turned and de-rotated windows are sampled from the first).
Hashing each window with the reference (``pdqhash``) costs about a millisecond, most of it the Jarosz filter
over the window's pixels, and the windows of one picture overlap almost entirely. Here the luminance and the
filter are computed once per picture and filter size, and each window only samples its 64x64 grid from the
filtered picture, then goes through the DCT (one batched matrix product for all windows) and the median
threshold.

The steps are PDQ's as ``web/static/pdq.js`` writes them out (Rec. 601 luminance; two passes of a box
filter along rows and columns, window ``ceil(side / 128)`` for the window's side; a 64x64 grid sampled at
``trunc((i + 0.5) * side / 64)``; quality from neighbour differences; the 16x16 low-frequency DCT block; bit
``k`` set where coefficient ``k`` is above the lower median). One difference: the filter of a window's
outermost samples reaches across the window's edge into the picture around it, where the reference stops at
the edge. The result is near the reference's hash of the cropped pixels, not equal to it (measured in
``tests/signals/test_pdq_windows.py``). That is fine on the query side only: what is *stored* (the survivor's
device, ``robust.entry_hashes``) stays the reference PDQ, bit for bit with the portal.

The compiled loops release the GIL (``nogil``): the server derives several uploads at once on its thread
pool, and with the GIL held they would take turns.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from numba import njit

from redline.signals.robust_geometry import Box, RgbArray

GRID = 64
BLOCK = 16
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
#: DCT-II basis rows 1..16 (row 0, the average, carries no structure), scaled by sqrt(2/64), as PDQ's.
_DCT = (
    np.sqrt(2 / GRID) * np.cos(np.pi / 2 / GRID * np.outer(np.arange(1, BLOCK + 1), 2 * np.arange(GRID) + 1))
).astype(np.float32)

FloatArray = npt.NDArray[np.float32]


@njit(nogil=True, cache=True)
def _box_rows(src: Any, dst: Any, window: int) -> None:  # pragma: no cover - compiled
    """One box-filter pass along each row: dst[y, k] = mean of src[y, k - (window - half) .. k + half - 1]
    clipped to the row, half = (window + 2) // 2 (PDQ's box1DFloat).

    Four rows at a time, each with its own running total: one row's total is a chain of dependent additions
    that kept the core waiting, four chains side by side run ~1.7x faster. Each row's sums are the same, in
    the same order, so the result is bit for bit the one-row loop's (the rows left over use it)."""
    height, width = src.shape
    half = (window + 2) // 2
    behind = window - half
    y = 0
    while y + 4 <= height:
        t0 = t1 = t2 = t3 = np.float32(0.0)
        size = add = drop = 0
        while add < half - 1 and add < width:
            t0 += src[y, add]
            t1 += src[y + 1, add]
            t2 += src[y + 2, add]
            t3 += src[y + 3, add]
            size += 1
            add += 1
        for k in range(width):
            if add < width:
                t0 += src[y, add]
                t1 += src[y + 1, add]
                t2 += src[y + 2, add]
                t3 += src[y + 3, add]
                size += 1
                add += 1
            if k - drop > behind:
                t0 -= src[y, drop]
                t1 -= src[y + 1, drop]
                t2 -= src[y + 2, drop]
                t3 -= src[y + 3, drop]
                size -= 1
                drop += 1
            dst[y, k] = t0 / size
            dst[y + 1, k] = t1 / size
            dst[y + 2, k] = t2 / size
            dst[y + 3, k] = t3 / size
        y += 4
    for row in range(y, height):
        total = np.float32(0.0)
        size = add = drop = 0
        while add < half - 1 and add < width:
            total += src[row, add]
            size += 1
            add += 1
        for k in range(width):
            if add < width:
                total += src[row, add]
                size += 1
                add += 1
            if k - drop > behind:
                total -= src[row, drop]
                size -= 1
                drop += 1
            dst[row, k] = total / size


@njit(nogil=True, cache=True)
def _box_cols(src: Any, dst: Any, window: int) -> None:  # pragma: no cover - compiled
    """:func:`_box_rows` along each column (the same sums in the same order, without transposing): the
    running totals of all columns advance together, row by row, so memory is read in order."""
    height, width = src.shape
    half = (window + 2) // 2
    behind = window - half
    total = np.zeros(width, dtype=np.float32)
    size = 0
    add = 0
    drop = 0
    while add < half - 1 and add < height:
        for x in range(width):
            total[x] += src[add, x]
        size += 1
        add += 1
    for k in range(height):
        if add < height:
            for x in range(width):
                total[x] += src[add, x]
            size += 1
            add += 1
        if k - drop > behind:
            for x in range(width):
                total[x] -= src[drop, x]
            size -= 1
            drop += 1
        for x in range(width):
            dst[k, x] = total[x] / size


def _jarosz(luma: FloatArray, row_window: int, col_window: int) -> FloatArray:
    """PDQ's Jarosz filter: two passes of the box filter along rows, then along columns."""
    out = np.ascontiguousarray(luma, dtype=np.float32).copy()
    tmp = np.empty_like(out)
    for _ in range(2):
        _box_rows(out, tmp, row_window)
        _box_cols(tmp, out, col_window)
    return out


def _filter_window(side: int) -> int:
    return (side + 2 * GRID - 1) // (2 * GRID)


def pixel_box(shape: tuple[int, ...], box: Box) -> tuple[int, int, int, int]:
    """``box`` (fractions) in pixels, clipped to the picture: (left, top, right, bottom), at least one pixel
    each way. The portal rounds stored crops the same way (``web/static/pdq.js``, regionBox); boxes inside
    the picture are not changed by the clipping."""
    h, w = shape[:2]
    left, top = min(max(0, round(box[0] * w)), w - 1), min(max(0, round(box[1] * h)), h - 1)
    right = min(w, max(left + 1, round(box[2] * w)))
    bottom = min(h, max(top + 1, round(box[3] * h)))
    return left, top, right, bottom


class WindowHasher:
    """One picture, hashed in many windows. ``blocks`` gives each window's DCT block and quality; ``hashes``
    the 32-byte codes (``numpy.packbits`` order, as ``robust.pdq_of``)."""

    def __init__(self, rgb: RgbArray) -> None:
        self._luma = (np.asarray(rgb, dtype=np.float32) @ _LUMA).astype(np.float32)
        self._filtered: dict[tuple[int, int], FloatArray] = {}

    def _plane(self, width: int, height: int) -> FloatArray:
        key = (_filter_window(width), _filter_window(height))
        plane = self._filtered.get(key)
        if plane is None:
            plane = self._filtered[key] = _jarosz(self._luma, *key)
        return plane

    def blocks(self, boxes: list[Box], turn: float = 0.0) -> tuple[FloatArray, npt.NDArray[np.int64]]:
        """(n, 16, 16) DCT blocks and (n,) qualities of the windows ``boxes`` (fractions of the picture).

        ``turn``: the windows are of the picture turned by that many degrees counter-clockwise about its
        centre on the same canvas (what ``PIL.Image.rotate(turn)`` makes), and their grids are sampled
        from this picture's filtered plane at the turned places (bilinear). Why: turning the pixels first
        (bicubic, then filtering the turned copy) was ~40% of deriving an upload's hashes; PDQ's filter is
        a wide blur, so filtering then turning gives nearly the same grid (within a few bits,
        ``tests/signals/test_pdq_windows.py``)."""
        grids = np.empty((len(boxes), GRID, GRID), dtype=np.float32)
        places = np.array([pixel_box(self._luma.shape, box) for box in boxes], dtype=np.int64).reshape(-1, 4)
        sizes = places[:, 2:] - places[:, :2]  # width, height
        if not turn:
            # The windows that share a filtered plane sampled together in one compiled loop (the per-window
            # numpy indexing was most of this method's time); the same grid places as the turned path's.
            by_filter: dict[tuple[int, int], list[int]] = {}
            for n, (width, height) in enumerate(sizes.tolist()):
                by_filter.setdefault((_filter_window(width), _filter_window(height)), []).append(n)
            for members in by_filter.values():
                width, height = sizes[members[0]].tolist()
                chosen = np.array(members, dtype=np.int64)
                _sample_grids(self._plane(width, height), places[chosen], chosen, grids)
            return _dct(grids), _quality(grids)
        steps = np.arange(GRID) + 0.5
        for n, (left, top, right, bottom) in enumerate(places.tolist()):
            width, height = right - left, bottom - top
            rows = top + np.trunc(steps * height / GRID).astype(np.int64)
            cols = left + np.trunc(steps * width / GRID).astype(np.int64)
            grids[n] = _turned_grid(self._plane(width, height), rows, cols, turn)
        return _dct(grids), _quality(grids)


@njit(nogil=True, cache=True)
def _sample_grids(plane: Any, places: Any, chosen: Any, grids: Any) -> None:  # pragma: no cover - compiled
    """``grids[chosen[m]]``: ``plane`` at the 64x64 grid of the window ``places[m]`` (left, top, right,
    bottom pixels): row ``top + trunc((i + 0.5) * height / 64)``, the same float64 arithmetic as numpy's
    ``np.trunc(steps * height / GRID)``, so the same places."""
    for m in range(chosen.shape[0]):
        left, top = places[m, 0], places[m, 1]
        width, height = places[m, 2] - left, places[m, 3] - top
        n = chosen[m]
        for i in range(GRID):
            row = top + int(np.trunc((i + 0.5) * height / GRID))
            for j in range(GRID):
                grids[n, i, j] = plane[row, left + int(np.trunc((j + 0.5) * width / GRID))]


def _turned_grid(
    plane: FloatArray, rows: npt.NDArray[np.int64], cols: npt.NDArray[np.int64], turn: float
) -> FloatArray:
    """``plane`` sampled where the pixel centres (rows x cols) of the picture turned by ``turn`` degrees
    come from: PIL's rotation matrix (``Image.rotate``), bilinear between pixel centres, edges clamped."""
    a = -np.radians(turn)
    out = np.empty((rows.shape[0], cols.shape[0]), dtype=np.float32)
    _sample_turned(plane, rows, cols, float(np.cos(a)), float(np.sin(a)), out)
    return out


@njit(nogil=True, cache=True)
def _sample_turned(
    plane: Any, rows: Any, cols: Any, cos: float, sin: float, out: Any
) -> None:  # pragma: no cover - compiled
    height, width = plane.shape
    cx, cy = width / 2.0, height / 2.0
    last_x, last_y = max(width - 2, 0), max(height - 2, 0)
    for i in range(rows.shape[0]):
        py = rows[i] + 0.5 - cy
        for j in range(cols.shape[0]):
            px = cols[j] + 0.5 - cx
            xs = min(max(cos * px + sin * py + cx - 0.5, 0.0), width - 1.0)
            ys = min(max(-sin * px + cos * py + cy - 0.5, 0.0), height - 1.0)
            x0 = min(int(np.floor(xs)), last_x)
            y0 = min(int(np.floor(ys)), last_y)
            x1, y1 = min(x0 + 1, width - 1), min(y0 + 1, height - 1)
            fx, fy = np.float32(xs - x0), np.float32(ys - y0)
            one = np.float32(1.0)
            top = plane[y0, x0] * (one - fx) + plane[y0, x1] * fx
            bottom = plane[y1, x0] * (one - fx) + plane[y1, x1] * fx
            out[i, j] = top * (one - fy) + bottom * fy


def _dct(grids: FloatArray) -> FloatArray:
    return np.asarray(np.matmul(np.matmul(_DCT, grids), _DCT.T), dtype=np.float32)


@njit(nogil=True, cache=True)
def _quality(grids: Any) -> Any:  # pragma: no cover - compiled
    """PDQ's quality of each 64x64 grid: the neighbour steps, each ``trunc(step * 100 / 255)`` in float32,
    summed as magnitudes, over 90, truncated, at most 100. The sums are of whole numbers far below 2**24,
    so exact in any order: the same as the numpy form (``tests/signals/test_pdq_windows.py``), in one pass
    instead of four float32 temporaries the size of all grids."""
    out = np.empty(grids.shape[0], dtype=np.int64)
    hundred, levels = np.float32(100.0), np.float32(255.0)
    for n in range(grids.shape[0]):
        total = 0
        for i in range(GRID):
            for j in range(GRID):
                here = grids[n, i, j]
                if i + 1 < GRID:
                    total += abs(int((here - grids[n, i + 1, j]) * hundred / levels))
                if j + 1 < GRID:
                    total += abs(int((here - grids[n, i, j + 1]) * hundred / levels))
        out[n] = min(100, int(np.float32(total) / np.float32(90.0)))
    return out


def codes(blocks: FloatArray) -> list[bytes]:
    """32-byte codes: bit ``k`` (coefficient ``k`` above the lower median) at PDQ's place, bit 255 first."""
    flat = blocks.reshape(len(blocks), BLOCK * BLOCK)
    median = np.sort(flat, axis=1)[:, 127:128]
    bits = (flat > median)[:, ::-1]
    packed = np.packbits(bits, axis=1)
    return [row.tobytes() for row in packed]
