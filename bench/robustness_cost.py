"""What robust PDQ costs: hashing time per image and index search time, against plain PDQ in the same run.

    .venv/bin/python bench/robustness_cost.py --photos 64 --entries 250000

Hashing: plain PDQ of the whole image vs the stored set (35 pdq_region hashes) vs the query set (~110 hashes),
on corpus photos and on phone screenshots of them. Index: ``new_index(256)`` (the bank's index) filled with
``--entries`` stored images' worth of codes (1 per image for plain, 35 for robust; random codes, so search
times are a best case for the index's pruning), searched with 1 query at 31 (plain) vs the query set (2 hashes
of the whole upload at 64, the rest at 45), and the previous recipe (4 stored codes per image, 2 + 68 query
hashes) for comparison.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from redline.eval import harness
from redline.eval.transforms import apply_transform, transform_named
from redline.index import MihIndex, new_index
from redline.signals.robust import (
    ROBUST_THRESHOLD,
    STORED_REGIONS,
    WHOLE_THRESHOLD,
    entry_hashes,
    pdq_of,
    query_hashes,
)

DEFAULT_PHOTOS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "photos"


def per_call_ms(fn: object, items: list[np.ndarray]) -> float:
    times = []
    for item in items:
        started = time.perf_counter()
        fn(item)  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photos", type=int, default=64)
    parser.add_argument("--entries", type=int, default=250_000, help="stored images in the index")
    args = parser.parse_args()
    photos = harness.load_photos(DEFAULT_PHOTOS)[:: max(1, 512 // args.photos)][: args.photos]
    originals = [np.asarray(p.image) for p in photos]
    shots = [np.asarray(apply_transform(transform_named("screenshot"), p.id, p.image)) for p in photos[:16]]
    print(f"# {len(photos)} photos, {len(shots)} screenshots; median ms per image (ratio to plain PDQ)")
    for label, items in (("photo", originals), ("screenshot", shots)):
        plain = per_call_ms(pdq_of, items)
        stored = per_call_ms(entry_hashes, items)
        query = per_call_ms(query_hashes, items)
        print(
            f"| {label} | plain {plain:.1f} | stored set {stored:.1f} ({stored / plain:.1f}x) | "
            f"query set {query:.1f} ({query / plain:.1f}x) |"
        )
    derived = [query_hashes(a) for a in originals[:16]]
    n_whole = round(statistics.mean(sum(h.threshold == WHOLE_THRESHOLD for h in q) for q in derived))
    n_other = round(statistics.mean(sum(h.threshold != WHOLE_THRESHOLD for h in q) for q in derived))
    print(
        f"# query hashes per photo: {n_whole} at {WHOLE_THRESHOLD} (whole upload) + {n_other} at "
        f"{ROBUST_THRESHOLD}"
    )

    rng = np.random.default_rng(7)
    per_image = 1 + len(STORED_REGIONS)
    # (label, stored codes, [(query count, threshold)], the threshold the index's tables are split for);
    # "before" is the previous recipe (4 stored hashes per image; 2 query hashes at 64 and 68 at 45), and
    # "split for 31" the current one on an index tuned for plain PDQ, both searched in the same run.
    setups = (
        ("plain pdq", args.entries, [(1, 31)], 31),
        (
            "pdq_region, before (4 stored, 2 + 68 queries)",
            args.entries * 4,
            [(2, WHOLE_THRESHOLD), (68, ROBUST_THRESHOLD)],
            31,
        ),
        (
            "pdq_region, now, tables split for 31",
            args.entries * per_image,
            [(n_whole, WHOLE_THRESHOLD), (n_other, ROBUST_THRESHOLD)],
            31,
        ),
        (
            "pdq_region, now (tables split for 45, as the matcher does)",
            args.entries * per_image,
            [(n_whole, WHOLE_THRESHOLD), (n_other, ROBUST_THRESHOLD)],
            ROBUST_THRESHOLD,
        ),
    )
    for label, rows, searches, tuned_for in setups:
        index = new_index(256, tuned_for=tuned_for)
        codes = rng.integers(0, 256, size=(rows, 32), dtype=np.uint8)
        index.add(np.arange(rows, dtype=np.int64), codes)
        probes = [(codes[rng.integers(0, rows, size=n)], t) for n, t in searches]
        for probe, threshold in probes:
            index.search(probe, threshold)  # warm up (JIT)
        started = time.perf_counter()
        repeats = 5
        for _ in range(repeats):
            for probe, threshold in probes:
                index.search(probe, threshold)
        ms = 1000 * (time.perf_counter() - started) / repeats
        what = " + ".join(f"{n} at {t}" for n, t in searches)
        held = index.array_bytes if isinstance(index, MihIndex) else 0
        print(
            f"| {label} | {rows:,} codes ({rows * 32 / 2**20:.0f} MiB of codes, "
            f"index {held / 2**20:.0f} MiB) | {what} | {ms:.1f} ms per upload |"
        )
        del index, codes


if __name__ == "__main__":
    main()
