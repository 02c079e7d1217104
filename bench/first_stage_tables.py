"""How many fixed tables the region first stage should have: time and memory of each split, one process.

    .venv/bin/python bench/first_stage_tables.py --split 11:31,10:29,9:26
    .venv/bin/python bench/first_stage_tables.py --n 2000000 --split 11:31,9:26 --rounds 3

The ``pdq_region`` index keeps ``PdqRegionSignal.first_stage_tables`` fixed tables, and the matcher probes
them for a sure radius (``MihIndex.search(..., sure=)``): each table within ``r`` bits, every candidate
verified at 45. Fewer, wider tables mean more probes per table but far fewer candidates per probe (a bucket
of a 23-bit table at 20M rows holds ~2.4 codes, one of a 28-bit table ~0.07 after its residual bits), and
each candidate is a random read of a 32-byte code. Which pairs a split reaches, and so which copies it
still matches, is ``bench/robust_first_stage.py --tables T --sure S`` on the corpus.

Each ``T:S`` (tables, sure radius) is built from the same random codes, alternately in one process, and
searched with the same queries: one upload's region queries, a few near a stored code (20 bits flipped) and
the rest unrelated, as an upload's are. Reported: index memory (``MihIndex.array_bytes``), the median of 7
searches of all queries, and the hits.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from redline.index.layout import first_stage_tables
from redline.index.mih import MihIndex


def median_first_stage(index: MihIndex, queries: np.ndarray, sure: int) -> tuple[float, int]:
    """The median of 7 first-stage searches of all ``queries`` (45 verified) in ms, after a warm-up, and
    the hits (also bench/first_stage_layout.py's measure)."""
    index.search(queries[:4], 45, sure=sure)  # compiled and warm
    times = []
    for _ in range(7):
        started = time.perf_counter()
        hits = index.search(queries, 45, sure=sure)
        times.append(time.perf_counter() - started)
    return 1000 * sorted(times)[3], sum(len(h.ids) for h in hits)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=20_000_000, help="stored codes (20 a picture)")
    parser.add_argument("--queries", type=int, default=98, help="one upload's region queries")
    parser.add_argument("--near", type=int, default=8, help="of them, near a stored code")
    parser.add_argument("--split", default="11:31,10:29,9:26", help="TABLES:SURE pairs to compare")
    parser.add_argument("--rounds", type=int, default=2, help="builds of each split, alternating")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    splits = [tuple(int(v) for v in pair.split(":")) for pair in args.split.split(",") if pair]
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 256, (args.n, 32), dtype=np.uint8)
    ids = np.arange(args.n, dtype=np.int64)
    queries = rng.integers(0, 256, (args.queries, 32), dtype=np.uint8)
    queries[: args.near] = codes[rng.integers(0, args.n, args.near)]
    for query in queries[: args.near]:
        for bit in rng.choice(256, 20, replace=False):
            query[bit // 8] ^= np.uint8(1 << (bit % 8))
    print(f"# {args.n:,} codes, {args.queries} queries ({args.near} near a stored code), verified at 45")
    print("| tables:sure | widths / radii | index MiB | first stage, median of 7 (ms) | hits |")
    print("|---|---|---|---|---|")
    for tables, sure in splits * args.rounds:
        shape = first_stage_tables(256, tables, sure)
        widths = sorted({p.width for p, _ in shape})
        radii = sorted({r for _, r in shape})
        index = MihIndex.build(ids, codes, threads=args.threads, tables=tables)
        median, found = median_first_stage(index, queries, sure)
        print(
            f"| {tables}:{sure} | {widths} / {radii} | {index.array_bytes >> 20:,} | {median:.1f} "
            f"| {found} |",
            flush=True,
        )
        del index


if __name__ == "__main__":
    main()
