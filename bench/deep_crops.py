"""What catching crops deeper than 20% a side would cost with stored PDQ grids (issue #15).

    .venv/bin/python bench/deep_crops.py --step 8 --jobs 2

Why: crops of 25% and 33% a side (``crop_25`` keeps half of each side, its centre anywhere within 12.5% of
the photo's; ``crop_33`` keeps a third, within 16.5%) are missed today (0.4% / 0%), because the stored ladder
ends at 0.53. PDQ stays within 45 bits only while a window is within ~1% of the stored crop's place
(``bench/pdq_alignment.py``), and the query's shifted windows reach ~3% of the original either way, so a
deeper rung has to be stored on a grid fine enough that every crop's centre is within reach of a grid point.
This bench measures, for candidate rungs and grids, how many deep-cropped copies today's query hashes
(``robust.query_hashes``, unchanged) would find, and how close those copies come to *other* photos' rows
of the same grid (false matches), so the recall can be weighed against the rows (memory) it adds.

Each candidate stored row is the reference PDQ of the crop (``robust.pdq_of``), as the survivor's device
would compute it; only the query hashes matched at the regions' 45 bits are used (the whole-upload and
strip hashes have their own thresholds and stored partners). Nothing here changes what Redline stores.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import numpy.typing as npt

from redline.eval import harness
from redline.eval.transforms import apply_transform, transform_named
from redline.signals.robust import MIN_QUALITY, ROBUST_THRESHOLD, StoredRegion, crop_box, pdq_of, query_hashes

DEFAULT_PHOTOS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "photos"
EDITS = ("crop_25", "crop_33", "crop_25+jpeg_50", "crop_20")
#: (rung, points per axis, grid step): rung 0.45 is 0.9 x 0.5 (the query's 0.9 windows of a crop keeping
#: half), 0.31 is 0.9 x 0.34; 0.53 x 3 x 0.07 is today's deepest stored grid, for comparison.
GRIDS = (
    (0.53, 3, 0.07),
    (0.45, 3, 0.08),
    (0.45, 4, 0.065),
    (0.45, 4, 0.07),
    (0.45, 5, 0.06),
    (0.31, 5, 0.06),
    (0.31, 6, 0.055),
    (0.31, 7, 0.05),
)
#: Index memory a stored row per picture costs at a million pictures: the region index's 1,471 MiB for 20
#: rows a picture (docs/BENCHMARKS.md, "Packed first-stage entries"), per row.
MIB_PER_ROW_PER_MILLION = 1471 / 20
Codes = npt.NDArray[np.uint8]


def grid_offsets(points: int, step: float) -> list[float]:
    return [round((k - (points - 1) / 2) * step, 4) for k in range(points)]


def _rows(rung: float, points: int, step: float) -> list[StoredRegion]:
    return [
        StoredRegion(rung, dx, dy) for dy in grid_offsets(points, step) for dx in grid_offsets(points, step)
    ]


def _hash_photo(photo: harness.Photo) -> tuple[list[tuple[Codes, npt.NDArray[np.bool_]]], dict[str, Codes]]:
    pixels = np.asarray(photo.image)
    stored = []
    for grid in GRIDS:
        found = [pdq_of(crop_box(pixels, region.box)) for region in _rows(*grid)]
        codes = np.stack([np.frombuffer(h.code, np.uint8) for h in found])
        stored.append((codes, np.array([h.quality >= MIN_QUALITY for h in found])))
    queries = {}
    for edit in EDITS:
        copy = apply_transform(transform_named(edit), photo.id, photo.image)
        wanted = [h for h in query_hashes(np.asarray(copy)) if h.quality >= MIN_QUALITY]
        wanted = [h for h in wanted if h.threshold == ROBUST_THRESHOLD]
        # (a featureless photo can leave none usable)
        queries[edit] = np.array([np.frombuffer(h.code, np.uint8) for h in wanted], np.uint8).reshape(-1, 32)
    return stored, queries


def nearest(queries: Codes, stored: Codes, usable: npt.NDArray[np.bool_]) -> int:
    """Smallest distance between any query hash and any usable stored row (257 when none is usable)."""
    if not usable.any() or not len(queries):
        return 257
    return int(_distances(queries, stored[usable]).min())


def _distances(queries: Codes, stored: Codes) -> npt.NDArray[np.int64]:
    """(queries, rows) Hamming distances, 64 bits at a time."""
    a, b = queries.view(np.uint64), stored.view(np.uint64)
    return np.bitwise_count(a[:, None, :] ^ b[None, :, :]).sum(axis=2, dtype=np.int64)


def nearest_other(hashed: list, grid: int, edit: str) -> tuple[int, int, int, int]:
    """Over every (copy, other photo) pair: the smallest distance, pairs within 45 and within 54, pairs."""
    rows = np.concatenate([stored[grid][0][stored[grid][1]] for stored, _ in hashed])
    owners = np.concatenate([np.full(int(stored[grid][1].sum()), n) for n, (stored, _) in enumerate(hashed)])
    starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
    closest, within, near, pairs = 257, 0, 0, 0
    for n, (_, queries) in enumerate(hashed):
        if not len(queries[edit]):
            continue
        per_row = _distances(queries[edit], rows).min(axis=0)
        per_photo = np.minimum.reduceat(per_row, starts)
        per_photo = per_photo[owners[starts] != n]
        closest = min(closest, int(per_photo.min()))
        within += int((per_photo <= ROBUST_THRESHOLD).sum())
        near += int((per_photo <= 54).sum())
        pairs += len(per_photo)  # other photos with a usable row of this grid
    return closest, within, near, pairs


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--step", type=int, default=8, help="every n-th corpus photo")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    photos = harness.load_photos(args.photos)[:: args.step]
    started = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        hashed = list(pool.map(_hash_photo, photos))
    print(f"# {len(photos)} photos (every {args.step}th), hashed in {time.perf_counter() - started:.0f} s")
    print(f"# copies found by today's query hashes (regions at {ROBUST_THRESHOLD} bits), one grid alone;")
    print("# other photos: the smallest distance from any copy's hashes to any other photo's rows of")
    print("# the grid, and the (copy, other photo) pairs within 45 and 54 bits")
    print()
    header = " | ".join(EDITS)
    print(f"| stored grid | rows | + MiB per million | {header} | other photos: nearest / <=45 / <=54 |")
    print("|---" * (4 + len(EDITS)) + "|")
    for g, (rung, points, step) in enumerate(GRIDS):
        cells = []
        closest, within, near, pairs = 257, 0, 0, 0
        for edit in EDITS:
            found = sum(nearest(queries[edit], *stored[g]) <= ROBUST_THRESHOLD for stored, queries in hashed)
            c, w, n, k = nearest_other(hashed, g, edit)
            closest, within, near, pairs = min(closest, c), within + w, near + n, pairs + k
            cells.append(f"{100 * found / len(hashed):.0f}%")
        rows = points * points
        print(
            f"| {rung:g}, {points}x{points} at {step:g} | {rows} | {rows * MIB_PER_ROW_PER_MILLION:,.0f} | "
            f"{' | '.join(cells)} | {closest} / {within} / {near} of {pairs:,} |"
        )


if __name__ == "__main__":
    main()
