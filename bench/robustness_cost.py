"""What robust PDQ costs per upload at a bank's size: deriving the query hashes plus the index search, for the
current recipe against the previous one (issue 7's: 35 stored, ~110 queries) in the same run.

    .venv/bin/python bench/robustness_cost.py --photos 16 --entries 1000000
    .venv/bin/python bench/robustness_cost.py --entries 1000000 --sure 29 --no-previous --throughput 96

Hashing: plain PDQ of the whole image vs the stored set vs the query set, on corpus photos, the same photos
scaled to a 1024-px long side (what the server derives from for a phone photo: ``robust.QUERY_SIDE``) and
phone screenshots of them; the previous query set is reproduced by adding the windows it also hashed (0.95
of the upload on a 5x5 grid) and hashing every window with the reference PDQ, as it ran
(:func:`previous_query_hashes`). The query set is also timed as the server derives it, with the plain PDQ its
decode made for plain matching passed in (``query_hashes(rgb, plain)``). Index: ``new_index(256)`` (the bank's
index, tables split as the matcher splits them) filled with ``--entries`` stored pictures' worth of random
codes (so search times are a best case for the index's pruning) and searched with one upload's queries:

* previous recipe: 35 ``pdq_region`` rows per picture; 2 whole-upload queries at 64 and 108 at 45, all
  against every stored region;
* current recipe: ``1 + len(STORED_REGIONS)`` rows per picture (20); the whole-upload queries at 64
  against the stored whole pictures (the ``pdq`` index, 1 row per picture) and at 45 against the regions,
  every other query at 45 against the regions (``robust.allowance_applies``; the 3 edge strips, searched at
  32 by the matcher, are timed at 45: a slight overestimate).

Memory is ``MihIndex.array_bytes`` (codes, ids and tables) of the indexes each recipe needs. The current
recipe's region index has the matcher's fixed split (``PdqRegionSignal.first_stage_tables``); it is timed
searched exactly and, with ``--sure``, with the first stage the matcher uses (``MihIndex.search(...,
sure=)``: regions sure within that radius, the whole pictures exact; bench/robust_first_stage.py measures
what each radius costs in recall).
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from redline.eval import harness
from redline.eval.transforms import apply_transform, transform_named
from redline.index import MihIndex, new_index
from redline.signals.robust import (
    QUADRANT_SHIFTS,
    QUERY_ANGLE_SHIFTS,
    QUERY_ANGLES,
    QUERY_CENTRED,
    QUERY_SHIFTS,
    QUERY_SIDE,
    QUERY_WINDOW,
    ROBUST_THRESHOLD,
    STORED_REGIONS,
    WHOLE_THRESHOLD,
    RgbArray,
    StoredRegion,
    _centred_variants,
    _reduced,
    _windows,
    crop_box,
    entry_hashes,
    pdq_of,
    query_hashes,
)
from redline.signals.robust_geometry import (
    background_box,
    fitted_rotation_angle,
    inscribed_scale,
    rotation_angle,
    sharp_box,
)
from redline.signals.types import PdqRegionSignal, PdqSignal

DEFAULT_PHOTOS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "photos"
#: The previous recipe (issue 7, docs/BENCHMARKS.md): stored rows per picture, query hashes per upload.
PREVIOUS_STORED = 35
PREVIOUS_WHOLE, PREVIOUS_OTHER = 2, 108
PLAIN = PdqSignal.default_threshold


def previous_query_hashes(rgb: RgbArray) -> int:
    """The previous recipe's query derivation, as it ran (commit bfbedb2): every derived hash the reference
    PDQ of its own cropped pixels, and also the 25 windows at 0.95. Returns how many hashes it derived."""
    hashes = [pdq_of(rgb)]
    work = _reduced(rgb)
    mirrored = np.ascontiguousarray(work[:, ::-1])
    hashes.append(pdq_of(mirrored))
    for pixels in (work, mirrored):
        for dy in QUADRANT_SHIFTS:
            for dx in QUADRANT_SHIFTS:
                hashes.append(pdq_of(crop_box(pixels, StoredRegion(0.5, dx, dy).box)))
    for size, shifts in ((QUERY_WINDOW, QUERY_SHIFTS), (0.95, (-0.04, -0.02, 0.0, 0.02, 0.04))):
        hashes += [pdq_of(crop_box(work, window)) for _, _, window in _windows(size, shifts)]
    hashes += [pdq_of(crop_box(work, StoredRegion(size).box)) for size in QUERY_CENTRED]
    height, width = work.shape[:2]
    for turn in QUERY_ANGLES:
        turned = np.asarray(Image.fromarray(work).rotate(turn, resample=Image.Resampling.BICUBIC))
        inside = min(QUERY_WINDOW, inscribed_scale(turn, width, height))
        hashes += [pdq_of(crop_box(turned, w)) for _, _, w in _windows(inside, QUERY_ANGLE_SHIFTS)]
    for box in (background_box(work), sharp_box(work)):
        if box is not None:
            hashes.append(pdq_of(crop_box(work, box)))
    found = sharp_box(work)
    if found is not None:
        hashes += [pdq_of(crop_box(work, b)) for _, b in _centred_variants(found)]
    for angle in {a for a in (fitted_rotation_angle(work), rotation_angle(work)) if a is not None}:
        upright = np.asarray(Image.fromarray(work).rotate(-angle, resample=Image.Resampling.BICUBIC))
        hashes.append(pdq_of(crop_box(upright, StoredRegion(0.73).box)))
    return len(hashes)


def _scaled_to(image: Image.Image, side: int) -> Image.Image:
    scale = side / max(image.size)
    size = (round(image.width * scale), round(image.height * scale))
    return image.resize(size, Image.Resampling.LANCZOS)


def per_call_ms(fn: object, items: list[Any]) -> float:
    times = []
    for item in items:
        started = time.perf_counter()
        fn(item)  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def filled(
    rows: int, tuned_for: int, rng: np.random.Generator, tables: int | None = None
) -> tuple[MihIndex, np.ndarray]:
    index = new_index(256, tuned_for=tuned_for, tables=tables)
    codes = rng.integers(0, 256, size=(rows, 32), dtype=np.uint8)
    index.add(np.arange(rows, dtype=np.int64), codes)
    assert isinstance(index, MihIndex)
    index.compact()
    return index, codes


Search = tuple[MihIndex, np.ndarray, int] | tuple[MihIndex, np.ndarray, int, int | None]


def timed(searches: list[Search], repeats: int = 5) -> float:
    """Milliseconds for one upload's searches (the mean of ``repeats``, after a warm-up); a search's fourth
    item is its sure radius (``MihIndex.search(..., sure=)``: the first stage), None for exact."""

    def run() -> None:
        for index, probe, radius, *sure in searches:
            index.search(probe, radius, sure[0] if sure else None)

    run()
    started = time.perf_counter()
    for _ in range(repeats):
        run()
    return 1000 * (time.perf_counter() - started) / repeats


def throughput(
    uploads: list[tuple[RgbArray, Any]], searches: list[list[Search]], threads: int, count: int
) -> float:
    """Uploads a second when ``threads`` uploads are handled at once, as the server's thread pool does in one
    process: each derives its query hashes (the plain PDQ reused) and runs one set of ``searches`` (a
    different set each time, cycling, so that repeated queries do not find their buckets in cache; none:
    deriving alone)."""

    def one(i: int) -> None:
        query_hashes(*uploads[i % len(uploads)])
        for index, probe, radius, *sure in searches[i % len(searches)] if searches else ():
            index.search(probe, radius, sure[0] if sure else None)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(one, range(threads)))  # warm-up
        started = time.perf_counter()
        list(pool.map(one, range(count)))
        return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--photos", type=int, default=16)
    parser.add_argument("--entries", type=int, default=250_000, help="stored pictures in the index")
    parser.add_argument(
        "--no-previous",
        action="store_true",
        help="measure the current recipe only (a bank too large for the previous recipe's index in memory: "
        "growth beyond a million pictures)",
    )
    parser.add_argument(
        "--sure",
        default="",
        help="also time the current recipe with its region searches probed for these sure radii "
        "(comma-separated; bench/robust_first_stage.py measures what each costs in recall)",
    )
    parser.add_argument(
        "--throughput",
        type=int,
        default=0,
        metavar="UPLOADS",
        help="also measure uploads a second (deriving + the first-stage search at the first --sure radius) "
        "over this many uploads on 1 and on 2 threads",
    )
    args = parser.parse_args()
    sures = [int(v) for v in args.sure.split(",") if v]
    if args.throughput and not sures:
        parser.error("--throughput needs --sure (the first stage it times)")
    photos = harness.load_photos(DEFAULT_PHOTOS)[:: max(1, 512 // args.photos)][: args.photos]
    originals = [np.asarray(p.image) for p in photos]
    shots = [np.asarray(apply_transform(transform_named("screenshot"), p.id, p.image)) for p in photos[:16]]
    # The corpus photos are ~481x321; a phone photo reaches robust deriving with its long side at
    # QUERY_SIDE (1024 px, the decode's reduction), and a larger picture costs more to reduce and to search
    # for frames in: the same photos scaled up to that side.
    large = [np.asarray(_scaled_to(p.image, QUERY_SIDE)) for p in photos[:16]]
    print(
        f"# {len(photos)} photos, the same at {QUERY_SIDE} px, {len(shots)} screenshots; "
        "median ms per image (ratio to plain PDQ)"
    )
    derive_ms = {}
    image_sets = (("photo", originals), (f"photo at {QUERY_SIDE} px", large), ("screenshot", shots))
    for label, items in image_sets:
        plain = per_call_ms(pdq_of, items)
        stored = per_call_ms(entry_hashes, items)
        previous = per_call_ms(previous_query_hashes, items)
        query = per_call_ms(query_hashes, items)
        # The server passes the plain PDQ its decode made for plain matching (signals.types): robust
        # deriving without it. Timed on (pixels, hash) pairs made beforehand.
        reused = per_call_ms(lambda pair: query_hashes(*pair), [(a, pdq_of(a)) for a in items])
        derive_ms[label] = (previous, query, reused)
        print(
            f"| {label} | plain {plain:.1f} | stored set {stored:.1f} ({stored / plain:.1f}x) | "
            f"previous query set {previous:.1f} | query set {query:.1f} ({query / plain:.1f}x; "
            f"previous/current {previous / query:.2f}x) | plain PDQ reused (the server) {reused:.1f} |"
        )
    derived = [query_hashes(a) for a in originals]
    n_whole = round(statistics.mean(sum(h.threshold == WHOLE_THRESHOLD for h in q) for q in derived))
    n_other = round(statistics.mean(sum(h.threshold != WHOLE_THRESHOLD for h in q) for q in derived))
    per_picture = 1 + len(STORED_REGIONS)
    print(f"# current: {per_picture} stored per picture; per upload {n_whole} whole-upload + {n_other} other")

    rng = np.random.default_rng(7)
    n = args.entries

    def probes(codes: np.ndarray, count: int) -> np.ndarray:
        return codes[rng.integers(0, codes.shape[0], size=count)]

    previous_ms, previous_bytes = (
        (float("nan"), float("nan")) if args.no_previous else previous_search(n, probes, rng)
    )

    started = time.perf_counter()
    regions, region_codes = filled(n * per_picture, ROBUST_THRESHOLD, rng, PdqRegionSignal.first_stage_tables)
    wholes, whole_codes = filled(n, PLAIN, rng)
    built = time.perf_counter() - started
    whole_probe = probes(whole_codes, n_whole)
    current_ms = timed(
        [
            (wholes, whole_probe, WHOLE_THRESHOLD),
            (regions, np.concatenate([whole_probe, probes(region_codes, n_other)]), ROBUST_THRESHOLD),
        ]
    )
    current_bytes = regions.array_bytes + wholes.array_bytes
    whole_probe_ms = timed([(wholes, whole_probe, WHOLE_THRESHOLD)])
    region_probe = np.concatenate([whole_probe, probes(region_codes, n_other)])
    print(
        f"# exact: whole pictures at {WHOLE_THRESHOLD} {whole_probe_ms:.1f} ms, "
        f"regions at {ROBUST_THRESHOLD} "
        f"{timed([(regions, region_probe, ROBUST_THRESHOLD)]):.1f} ms"
    )
    for sure in sures:
        regions_ms = timed([(regions, region_probe, ROBUST_THRESHOLD, sure)])
        both_ms = timed(
            [(wholes, whole_probe, WHOLE_THRESHOLD, sure), (regions, region_probe, ROBUST_THRESHOLD, sure)]
        )
        print(
            f"| first stage, sure {sure} | regions {regions_ms:.1f} ms (+ exact whole pictures: "
            f"{whole_probe_ms + regions_ms:.1f} ms; exact search {current_ms:.1f} ms, "
            f"{current_ms / (whole_probe_ms + regions_ms):.1f}x) | whole pictures also at sure {sure}: "
            f"{both_ms:.1f} ms ({current_ms / both_ms:.1f}x) |"
        )
        # What the matcher runs per upload (issue #15's goal: <= 50 ms at a million pictures).
        totals = ", ".join(
            f"{label} {query + whole_probe_ms + regions_ms:.1f} ms "
            f"({reused + whole_probe_ms + regions_ms:.1f} ms with the plain PDQ reused, as the server does)"
            for label, (_, query, reused) in derive_ms.items()
        )
        print(f"# deriving + first-stage search (sure {sure}) per upload: {totals}")
    if args.throughput:
        sets: list[list[Search]] = []
        for _ in range(8):
            wp = probes(whole_codes, n_whole)
            rp = np.concatenate([wp, probes(region_codes, n_other)])
            sets.append([(wholes, wp, WHOLE_THRESHOLD), (regions, rp, ROBUST_THRESHOLD, sures[0])])
        for label, items in image_sets:
            pairs = [(a, pdq_of(a)) for a in items]
            rates = [throughput(pairs, sets, t, args.throughput) for t in (1, 2)]
            alone = [throughput(pairs, [], t, args.throughput) for t in (1, 2)]
            print(
                f"# throughput, {label} uploads (deriving + first-stage search, sure {sures[0]}): "
                f"{rates[0]:.1f} a second on 1 thread, {rates[1]:.1f} on 2; deriving alone "
                f"{alone[0]:.1f} / {alone[1]:.1f}"
            )
    print(
        f"| current recipe | {n * per_picture:,} region rows + {n:,} whole-picture rows "
        f"(built in {built:.0f} s) | {n_whole} at {WHOLE_THRESHOLD} (whole pictures) + "
        f"{n_whole + n_other} at {ROBUST_THRESHOLD} | "
        f"{current_ms:.1f} ms per upload | {current_bytes / 2**20:,.0f} MiB "
        f"(regions {regions.array_bytes / 2**20:,.0f}) |"
    )
    for label, (previous, query, _) in derive_ms.items():
        before, after = previous + previous_ms, query + current_ms
        print(
            f"# {label}: deriving + searching per upload: previous {before:.0f} ms, current {after:.0f} ms "
            f"({before / after:.1f}x)"
        )
    print(
        f"# search {previous_ms / current_ms:.1f}x faster; memory per million pictures: previous "
        f"{previous_bytes / 2**30 * 1e6 / n:.2f} GiB, current {current_bytes / 2**30 * 1e6 / n:.2f} GiB "
        "(the whole-picture rows are the plain pdq index, which exists anyway)"
    )


def previous_search(n: int, probes: Any, rng: np.random.Generator) -> tuple[float, float]:
    """The previous recipe's index at ``n`` pictures: milliseconds per upload's searches, bytes."""
    started = time.perf_counter()
    previous_index, previous_codes = filled(n * PREVIOUS_STORED, ROBUST_THRESHOLD, rng)
    built = time.perf_counter() - started
    previous_ms = timed(
        [
            (previous_index, probes(previous_codes, PREVIOUS_WHOLE), WHOLE_THRESHOLD),
            (previous_index, probes(previous_codes, PREVIOUS_OTHER), ROBUST_THRESHOLD),
        ]
    )
    previous_bytes = previous_index.array_bytes
    print(
        f"| previous recipe | {n * PREVIOUS_STORED:,} region rows (built in {built:.0f} s) | "
        f"{PREVIOUS_WHOLE} at {WHOLE_THRESHOLD} + {PREVIOUS_OTHER} at {ROBUST_THRESHOLD} | "
        f"{previous_ms:.1f} ms per upload | {previous_bytes / 2**20:,.0f} MiB |",
        flush=True,
    )
    return previous_ms, float(previous_bytes)


if __name__ == "__main__":
    main()
