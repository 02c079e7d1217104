"""The finders' compiled loops (``signals/finder_kernels.py``) against the numpy expressions they replaced.

Each kernel must give exactly what its expression gave (the same types, the same rounding): the query hashes
the finders lead to were measured on the full corpus (docs/BENCHMARKS.md), and a kernel that moved a box by a
pixel would change them without anyone noticing until recall moved. Arrays here are random, with values
placed at the tolerance's edges (where a float rounding or a ``<`` for a ``<=`` would show).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redline.signals import finder_kernels, robust_geometry


def _picture(seed: int, height: int, width: int) -> np.ndarray:
    """Random uint8 RGB with large flat patches (as frames and borders have) and noise."""
    rng = np.random.default_rng(seed)
    flat = rng.integers(0, 256, size=(max(1, height // 7), max(1, width // 7), 3), dtype=np.uint8)
    patches = np.repeat(np.repeat(flat, 7, axis=0), 7, axis=1)[:height, :width]
    patches = np.pad(patches, ((0, height - patches.shape[0]), (0, width - patches.shape[1]), (0, 0)))
    noise = rng.integers(-10, 11, size=(height, width, 3))
    speckled = rng.random((height, width, 1)) < 0.5
    picture: np.ndarray = np.clip(patches.astype(np.int16) + noise * speckled, 0, 255)
    return picture.astype(np.uint8)


shapes = st.tuples(st.integers(1, 90), st.integers(1, 90), st.integers(0, 2**31))


def _numpy_work_copy(rgb: np.ndarray, step: int) -> np.ndarray:
    """``robust_geometry.work_copy`` before the kernel: strided block sums, float mean, rint."""
    h, w = rgb.shape[:2]
    hh, ww = h // step * step, w // step * step
    sums = np.zeros((hh // step, ww // step, 3), dtype=np.int32)
    for dy in range(step):
        for dx in range(step):
            sums += rgb[dy:hh:step, dx:ww:step]
    means: np.ndarray = np.rint(sums / (step * step)).astype(np.int16)
    return means


@settings(max_examples=60, deadline=None)
@given(shape=shapes, step=st.integers(2, 7))
def test_block_means_is_the_rounded_mean_of_each_block(shape: tuple[int, int, int], step: int) -> None:
    height, width, seed = shape
    rgb = _picture(seed, height * step // 2 + 1, width * step // 2 + 1)
    got = finder_kernels.block_means(rgb, step)
    assert got.dtype == np.int16
    np.testing.assert_array_equal(got, _numpy_work_copy(rgb, step))


def test_work_copy_of_a_crop_is_the_block_means_of_its_pixels() -> None:
    """The frame finder passes crops of the upload (views whose rows are not one run in memory): the working
    copy is made from their pixels as from a contiguous copy."""
    rgb = _picture(11, 1003, 817)
    crop = rgb[37:950, 101:790]
    step = math.ceil(max(crop.shape[:2]) / robust_geometry._WORK_SIDE)
    assert step > 1 and not crop.flags.c_contiguous
    np.testing.assert_array_equal(robust_geometry.work_copy(crop), _numpy_work_copy(crop, step))


def test_block_means_rounds_halves_to_even_as_rint_does() -> None:
    """Blocks of 2x2 whose sums end in .5 after the division: rint takes them to the even neighbour."""
    rgb = np.zeros((2, 4, 3), dtype=np.uint8)
    rgb[:, :2] = [[[1, 3, 5], [2, 3, 5]], [[1, 3, 5], [2, 3, 5]]]  # means 1.5, 3, 5
    rgb[0, 2:] = [[2, 2, 2], [3, 3, 3]]  # with the row below: mean 2.5 in every channel
    rgb[1, 2:] = [[2, 2, 2], [3, 3, 3]]
    got = finder_kernels.block_means(rgb, 2)
    np.testing.assert_array_equal(got, [[[2, 3, 5], [2, 2, 2]]])
    np.testing.assert_array_equal(got, _numpy_work_copy(rgb, 2))


@settings(max_examples=60, deadline=None)
@given(shape=shapes, tolerance=st.sampled_from([8, 16, 24]), as_int16=st.booleans())
def test_unlike_colour_is_any_channel_beyond_the_tolerance(
    shape: tuple[int, int, int], tolerance: int, as_int16: bool
) -> None:
    height, width, seed = shape
    rgb = _picture(seed, height, width)
    pixels = rgb.astype(np.int16) if as_int16 else rgb
    rng = np.random.default_rng(seed)
    # A colour taken from the picture, moved by exactly the tolerance (or half a level) in some channels.
    colour = pixels[rng.integers(height), rng.integers(width)].astype(np.float64)
    colour += rng.choice([0.0, tolerance, -tolerance, 0.5, tolerance + 0.5], size=3)
    expected = np.abs(pixels - colour).max(axis=2) > tolerance
    np.testing.assert_array_equal(finder_kernels.unlike_colour(pixels, colour, tolerance), expected)


def _numpy_near(pixels: np.ndarray, colours: np.ndarray, tolerance: int) -> np.ndarray:
    """``_common_colours``' comparison before the kernel: float32 planes against each colour in float32."""
    planes = [np.ascontiguousarray(pixels[:, c], dtype=np.float32) for c in range(3)]
    near = np.ones((len(pixels), len(colours)), dtype=bool)
    for j, colour in enumerate(colours):
        column = near[:, j]
        for plane, level in zip(planes, colour.astype(np.float32), strict=True):
            column &= np.abs(plane - level) <= tolerance
    return near


@settings(max_examples=60, deadline=None)
@given(shape=shapes, tolerance=st.sampled_from([8, 16]), kinds=st.integers(1, 9))
def test_near_none_compares_as_the_float32_planes_did(
    shape: tuple[int, int, int], tolerance: int, kinds: int
) -> None:
    height, width, seed = shape
    rgb = _picture(seed, height, width).astype(np.int16)
    rng = np.random.default_rng(seed + 1)
    picked = rgb.reshape(-1, 3)[rng.integers(0, height * width, size=kinds)].astype(np.float64)
    # Mean colours (as _common_colours makes) are fractions; some sit exactly a tolerance away.
    colours = picked + rng.choice([0.0, 1 / 3, tolerance, -tolerance, tolerance + 0.25], size=(kinds, 3))
    expected = _numpy_near(rgb.reshape(-1, 3), colours, tolerance)
    colours32 = colours.astype(np.float32)
    np.testing.assert_array_equal(
        finder_kernels.near_none(rgb, colours32, tolerance), ~expected.any(axis=1).reshape(height, width)
    )


@pytest.mark.parametrize("level", [16, 24])
def test_channel_max_at_most_matches_max_over_channels_on_strided_views(level: int) -> None:
    rgb = _picture(5, 120, 90)
    rgb[::3, ::5] = level  # exactly at the level: dark
    rgb[1::7, ::4, 1] = level + 1  # one channel just above: not dark
    view = rgb[::2, ::3]  # the fitted finder passes a strided view
    np.testing.assert_array_equal(finder_kernels.channel_max_at_most(view, level), view.max(axis=2) <= level)


@settings(max_examples=40, deadline=None)
@given(
    shape=shapes,
    step=st.integers(1, 4),
    degrees=st.floats(-15, 15, allow_nan=False),
)
def test_turned_corner_score_counts_as_the_numpy_planes_did(
    shape: tuple[int, int, int], step: int, degrees: float
) -> None:
    """The fitted rotation finder's score, against its numpy form (``outside`` over the whole grid)."""
    height, width, seed = shape
    height, width = height * step, width * step
    rng = np.random.default_rng(seed)
    dark = rng.random((len(range(0, height, step)), len(range(0, width, step)))) < 0.4
    rows, cols = np.mgrid[0 : dark.shape[0], 0 : dark.shape[1]]
    x = (cols + 0.5) * step - width / 2
    y = (rows + 0.5) * step - height / 2
    t = math.radians(degrees)
    u = math.cos(t) * x - math.sin(t) * y
    v = math.sin(t) * x + math.cos(t) * y
    corners = np.maximum(np.abs(u) - width / 2, np.abs(v) - height / 2) > 0
    expected = 2 * int(dark[corners].sum()) - int(corners.sum())
    got = finder_kernels.turned_corner_score(dark, step, width, height, math.cos(t), math.sin(t))
    assert got == expected


def _numpy_frequent_bin_colours(pixels: np.ndarray, candidates: int) -> np.ndarray:
    """``_common_colours``' candidates before the kernel: bincount over the 32**3 bins, a stable argsort of
    the counts of the bins present, and the weighted bincounts over the counts."""
    quantised = pixels // 8
    keys = (quantised[:, 0] * 1024 + quantised[:, 1] * 32 + quantised[:, 2]).astype(np.intp)
    counts = np.bincount(keys, minlength=32**3)
    present = np.flatnonzero(counts)
    frequent = present[np.argsort(-counts[present], kind="stable")[:candidates]]
    sums = np.stack([np.bincount(keys, weights=pixels[:, c], minlength=32**3)[frequent] for c in range(3)], 1)
    means: np.ndarray = sums / counts[frequent, None]
    return means


@settings(max_examples=60, deadline=None)
@given(shape=shapes, candidates=st.integers(1, 9), levels=st.sampled_from([2, 5, 256]))
def test_frequent_bin_colours_are_the_stable_top_bins_means(
    shape: tuple[int, int, int], candidates: int, levels: int
) -> None:
    """Few levels make many ties in count (which a stable sort keeps in key order) and fewer bins than
    candidates; 256 levels, the noisy pictures frames come from."""
    height, width, seed = shape
    rgb = _picture(seed, height, width).astype(np.int32)
    rgb = (rgb * (levels - 1) // 255) * (255 // (levels - 1))  # few distinct colours when levels is small
    pixels = rgb.astype(np.int16).reshape(-1, 3)
    got = finder_kernels.frequent_bin_colours(pixels, 32**3, candidates)
    np.testing.assert_array_equal(got, _numpy_frequent_bin_colours(pixels, candidates))


def test_frequent_bin_colours_breaks_ties_by_key_order() -> None:
    """Three bins of two pixels and one of three: the three-pixel bin first, then the others in key order,
    and only as many as asked."""
    pixels = np.array(
        [[200, 0, 0]] * 2 + [[8, 0, 0]] * 2 + [[0, 0, 16]] * 3 + [[0, 9, 0]] * 2, dtype=np.int16
    )
    got = finder_kernels.frequent_bin_colours(pixels, 32**3, 3)
    np.testing.assert_array_equal(got, [[0, 0, 16], [0, 9, 0], [8, 0, 0]])
    np.testing.assert_array_equal(got, _numpy_frequent_bin_colours(pixels, 3))


@settings(max_examples=60, deadline=None)
@given(shape=shapes, tolerance=st.sampled_from([8, 16]), groups=st.integers(1, 5))
def test_least_share_near_is_the_smallest_group_mean(
    shape: tuple[int, int, int], tolerance: int, groups: int
) -> None:
    height, width, seed = shape
    pixels = _picture(seed, height, width).astype(np.int16).reshape(-1, 3)
    rng = np.random.default_rng(seed + 2)
    if len(pixels) < groups:
        return
    cuts = np.sort(rng.choice(np.arange(1, len(pixels)), size=groups - 1, replace=False))
    ends = np.append(cuts, len(pixels)).astype(np.int64)
    colours = _numpy_frequent_bin_colours(pixels, 8) + rng.choice([0.0, 1 / 3, tolerance], size=(1, 3))
    colours32 = colours.astype(np.float32)
    near = _numpy_near(pixels, colours, tolerance)
    expected = np.array([part.mean(axis=0) for part in np.split(near, ends[:-1])]).min(axis=0)
    np.testing.assert_array_equal(
        finder_kernels.least_share_near(pixels, ends, colours32, tolerance), expected
    )


@settings(max_examples=60, deadline=None)
@given(
    shape=shapes,
    density=st.floats(0, 1),
    share=st.sampled_from([0.04, 0.1, 0.5, 1 / 3]),
    axis=st.sampled_from([0, 1]),
)
def test_line_shares_at_least_is_the_mean_along_an_axis(
    shape: tuple[int, int, int], density: float, share: float, axis: int
) -> None:
    height, width, seed = shape
    mask = np.random.default_rng(seed).random((height, width)) < density
    view = mask[:, ::2] if seed % 2 else mask  # the finders pass slices of a mask
    got = finder_kernels.line_shares_at_least(view, axis, share)
    np.testing.assert_array_equal(got, view.mean(axis=axis) >= share)


def _python_longest_run(mask: np.ndarray, max_gap: int) -> tuple[int, int] | None:
    """``robust_geometry._longest_run`` before the kernel."""
    best: tuple[int, int] | None = None
    start = last = -1
    for i in np.flatnonzero(mask).tolist():
        if start < 0 or i - last - 1 > max_gap:
            start = i
        last = i
        if best is None or last + 1 - start > best[1] - best[0]:
            best = (start, last + 1)
    return best


@settings(max_examples=100, deadline=None)
@given(bits=st.lists(st.booleans(), max_size=60), max_gap=st.integers(0, 4))
def test_longest_run_bridges_gaps_as_the_python_loop_did(bits: list[bool], max_gap: int) -> None:
    mask = np.array(bits, dtype=bool)
    start, stop = finder_kernels.longest_run(mask, max_gap)
    expected = _python_longest_run(mask, max_gap)
    assert (None if start < 0 else (start, stop)) == expected
