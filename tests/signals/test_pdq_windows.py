"""The query side's batched window PDQ (``signals/pdq_windows.py``) against the reference (``pdqhash``).

A whole-picture window is the reference PDQ bit for bit (same steps, same arithmetic); an inner window differs
only where the filter reaches across the window's edge, which costs a few bits: these tests pin how few, on
generated pictures and on the corpus photos, so a change that moves the derived hashes away from what is
stored shows here before it shows as lost recall in bench/robustness.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from redline.signals import pdq_windows, robust

#: Windows like the ones the query side uses: the whole, a centred crop, a shifted 0.9 window, a quadrant,
#: a small off-centre box.
BOXES = [
    (0.0, 0.0, 1.0, 1.0),
    (0.05, 0.05, 0.95, 0.95),
    (0.1, 0.04, 1.0, 0.94),
    (0.5, 0.5, 1.0, 1.0),
    (0.21, 0.13, 0.74, 0.81),
]
#: Most bits an inner window may differ from the reference hash of the cropped pixels (measured: 0-4 on the
#: corpus photos; the robust rule's thresholds are 45 and 64 bits).
INNER_SLACK = 8


def _distance(a: bytes, b: bytes) -> int:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()


def _pictures(rng: np.random.Generator) -> list[np.ndarray]:
    """Smooth random pictures (low-frequency waves plus a little noise) of assorted shapes."""
    out = []
    for height, width in ((321, 481), (512, 341), (200, 200), (97, 333)):
        y, x = np.mgrid[0:height, 0:width] / max(height, width)
        channels = []
        for _ in range(3):
            f = rng.uniform(1, 6, size=(4, 2))
            phase = rng.uniform(0, 2 * np.pi, size=4)
            wave = sum(np.sin(2 * np.pi * (f[k, 0] * x + f[k, 1] * y) + phase[k]) for k in range(4))
            channels.append(wave)
        pixels = (np.stack(channels, -1) / 4 + 1) * 120 + rng.normal(0, 4, size=(height, width, 3))
        out.append(pixels.clip(0, 255).astype(np.uint8))
    return out


def _check(pictures: list[np.ndarray]) -> list[int]:
    inner = []
    for rgb in pictures:
        blocks, qualities = pdq_windows.WindowHasher(rgb).blocks(BOXES)
        codes = pdq_windows.codes(blocks)
        for box, code, quality in zip(BOXES, codes, qualities.tolist(), strict=True):
            reference = robust.pdq_of(robust.crop_box(rgb, box))
            if box == (0.0, 0.0, 1.0, 1.0):
                assert code == reference.code and quality == reference.quality
            else:
                inner.append(_distance(code, reference.code))
                assert abs(quality - reference.quality) <= 2, box
    assert max(inner) <= INNER_SLACK, inner
    return inner


def test_window_hashes_are_the_reference_pdq_on_the_whole_and_near_it_inside() -> None:
    _check(_pictures(np.random.default_rng(15)))


def test_window_hashes_on_corpus_photos(corpus: Path) -> None:
    from redline.eval import harness

    photos = harness.load_photos(corpus / "photos")[::64]
    inner = _check([robust._reduced(np.asarray(p.image)) for p in photos])
    assert np.mean(inner) <= 2.5, inner  # most inner windows within a bit or two


def test_query_hashes_come_from_the_windows(corpus: Path) -> None:
    """The derived hashes are the windows' (the plain one the reference's): the mirrored whole upload equals
    the reference PDQ of the mirrored pixels."""
    from PIL import Image

    rgb = np.asarray(Image.open(sorted((corpus / "photos").rglob("*.jpg"))[0]).convert("RGB"))
    derived = {h.label: h for h in robust.query_hashes(rgb)}
    work = robust._reduced(rgb)
    assert derived["full"].code == robust.pdq_of(rgb).code
    assert derived["mirror"].code == robust.pdq_of(np.ascontiguousarray(work[:, ::-1])).code


@pytest.mark.parametrize("side", [12, 17, 20, 63, 64, 65, 130])
def test_small_pictures_agree_on_the_whole(side: int) -> None:
    """Bit for bit down to small sides. (Not at 8 or 16 rows: each grid row is then repeated exactly, many
    DCT coefficients tie at zero, and the order of float rounding flips a few of them; a query window that
    small has too little detail to match on anyway.)"""
    rgb = _pictures(np.random.default_rng(side))[0][:side, : side + 3]
    blocks, qualities = pdq_windows.WindowHasher(rgb).blocks([(0.0, 0.0, 1.0, 1.0)])
    reference = robust.pdq_of(rgb)
    assert pdq_windows.codes(blocks)[0] == reference.code and int(qualities[0]) == reference.quality


def test_windows_reaching_past_the_picture_are_clipped_like_crops() -> None:
    """A box partly outside the picture is hashed as the crop of what is inside (as slicing clips it),
    never an error."""
    rgb = _pictures(np.random.default_rng(3))[0]
    boxes = [(-0.05, 0.1, 1.04, 0.9), (0.2, -0.2, 0.8, 1.3), (0.99, 0.99, 1.2, 1.2)]
    blocks, _ = pdq_windows.WindowHasher(rgb).blocks(boxes)
    clipped = [(0.0, 0.1, 1.0, 0.9), (0.2, 0.0, 0.8, 1.0)]
    for code, box in zip(pdq_windows.codes(blocks)[:2], clipped, strict=True):
        assert _distance(code, robust.pdq_of(robust.crop_box(rgb, box)).code) <= INNER_SLACK


def test_turned_windows_are_near_the_reference_of_the_turned_pixels(corpus: Path) -> None:
    """The turned query windows are sampled at turned places from the upright picture's filtered plane,
    not hashed from turned pixels: within a few bits of the reference PDQ of the same window of the picture
    turned by PIL (bicubic, as the query side did before; measured on 64 corpus photos: median 2 bits,
    99th percentile 4, most 8). The query side's turned windows lie inside the turned picture: a window
    reaching its black corners would differ more (the reference's filter blurs black into the edge)."""
    from PIL import Image

    from redline.eval import harness
    from redline.signals.robust_geometry import inscribed_scale

    distances = []
    for photo in harness.load_photos(corpus / "photos")[::64]:
        work = robust._reduced(np.asarray(photo.image))
        height, width = work.shape[:2]
        upright = pdq_windows.WindowHasher(work)
        for turn in robust.QUERY_ANGLES:
            turned = np.asarray(Image.fromarray(work).rotate(turn, resample=Image.Resampling.BICUBIC))
            inside = min(robust.QUERY_WINDOW, inscribed_scale(turn, width, height))
            boxes = [window for _, _, window in robust._windows(inside, robust.QUERY_ANGLE_SHIFTS)]
            codes = pdq_windows.codes(upright.blocks(boxes, turn)[0])
            for box, code in zip(boxes, codes, strict=True):
                distances.append(_distance(code, robust.pdq_of(robust.crop_box(turned, box)).code))
    assert max(distances) <= INNER_SLACK and np.mean(distances) <= 2.5, distances
    # Turning the wrong way is far: the sampling does turn.
    work = robust._reduced(np.asarray(harness.load_photos(corpus / "photos")[0].image))
    turned = np.asarray(Image.fromarray(work).rotate(10.0, resample=Image.Resampling.BICUBIC))
    box = (0.2, 0.2, 0.8, 0.8)
    wrong = pdq_windows.codes(pdq_windows.WindowHasher(work).blocks([box], -10.0)[0])[0]
    right = pdq_windows.codes(pdq_windows.WindowHasher(work).blocks([box], 10.0)[0])[0]
    reference = robust.pdq_of(robust.crop_box(turned, box)).code
    assert _distance(right, reference) <= INNER_SLACK < 40 <= _distance(wrong, reference)


@pytest.mark.parametrize("height", [1, 3, 4, 7, 9, 64])
@pytest.mark.parametrize("window", [1, 2, 3, 4, 9])
def test_row_filter_in_groups_of_rows_is_the_one_row_filter(height: int, window: int) -> None:
    # The row pass filters four rows side by side (one running total each) and the rows left over one at
    # a time; every row must come out bit for bit as it does alone, or the whole-window hash would no
    # longer be the reference PDQ.
    rng = np.random.default_rng(height * 10 + window)
    src = (rng.random((height, 37), dtype=np.float32) * 255).astype(np.float32)
    together = np.empty_like(src)
    pdq_windows._box_rows(src, together, window)
    for y in range(height):
        alone = np.empty((1, 37), dtype=np.float32)
        pdq_windows._box_rows(np.ascontiguousarray(src[y : y + 1]), alone, window)
        assert together[y].view(np.uint32).tolist() == alone[0].view(np.uint32).tolist()


def test_windows_sharing_a_plane_are_sampled_at_each_windows_own_grid() -> None:
    # Windows of an unturned picture are sampled together per filtered plane (a compiled loop); each grid
    # must be the plane at that window's own 64x64 places, as numpy indexing of the plane gives them, and
    # windows of different sizes in one call must not take each other's plane.
    rng = np.random.default_rng(11)
    picture = rng.integers(0, 256, size=(333, 517, 3), dtype=np.uint8)
    boxes = [*BOXES, (0.0, 0.0, 0.31, 0.5), (0.33, 0.1, 0.9, 0.3)]
    hasher = pdq_windows.WindowHasher(picture)
    blocks, qualities = hasher.blocks(boxes)
    steps = np.arange(pdq_windows.GRID) + 0.5
    for n, box in enumerate(boxes):
        left, top, right, bottom = pdq_windows.pixel_box(picture.shape, box)
        width, height = right - left, bottom - top
        rows = top + np.trunc(steps * height / pdq_windows.GRID).astype(np.int64)
        cols = left + np.trunc(steps * width / pdq_windows.GRID).astype(np.int64)
        grid = hasher._plane(width, height)[np.ix_(rows, cols)][None]
        assert np.array_equal(blocks[n], pdq_windows._dct(grid)[0])
        assert qualities[n] == pdq_windows._quality(grid)[0]


def _numpy_quality(grids: np.ndarray) -> np.ndarray:
    """``pdq_windows._quality`` before it was compiled: float32 temporaries over all grids."""
    down = np.abs(np.trunc((grids[:, :-1, :] - grids[:, 1:, :]) * 100 / 255)).sum(axis=(1, 2))
    across = np.abs(np.trunc((grids[:, :, :-1] - grids[:, :, 1:]) * 100 / 255)).sum(axis=(1, 2))
    quality: np.ndarray = np.minimum(100, np.trunc((down + across) / 90)).astype(np.int64)
    return quality


def test_the_compiled_quality_is_the_numpy_forms() -> None:
    """Random grids from flat to noisy (qualities 0 to 100), steps placed where ``* 100 / 255`` lands on a
    whole number (2.55, 5.1), and grids of the corpus's filtered planes: the same quality every time."""
    rng = np.random.default_rng(3)
    spread = rng.choice([0.0, 0.5, 2.0, 8.0, 40.0], size=(200, 1, 1)).astype(np.float32)
    grids = (128 + spread * rng.standard_normal((200, pdq_windows.GRID, pdq_windows.GRID))).astype(np.float32)
    # Rows alternating 0 and float32(2.55 * k): steps whose float32 ``* 100 / 255`` is k and float64's k - 1.
    levels = np.float32(2.55) * rng.integers(1, 4, size=(40, 1, 1)).astype(np.float32)
    rows = (np.arange(pdq_windows.GRID) % 2).astype(np.float32)[None, :, None]
    stripes = np.repeat(rows * levels, pdq_windows.GRID, axis=2)
    grids = np.concatenate([grids, stripes])
    got = pdq_windows._quality(grids)
    np.testing.assert_array_equal(got, _numpy_quality(grids))
    assert got.min() < 20 and got.max() == 100
