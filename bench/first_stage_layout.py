"""The first stage's table entries, packed or plain: the same codes, the same queries, one process.

    .venv/bin/python bench/first_stage_layout.py                 # 20M region rows (a million pictures)
    .venv/bin/python bench/first_stage_layout.py --n 2000000 --rounds 3

An index of fixed tables (``MihIndex(tables=PdqRegionSignal.first_stage_tables)``, the ``pdq_region``
first stage) packs each table's entries to the bits a row number needs (``kernels.entry_at``); plain
indexes keep a ``uint32`` row per entry. ``bench/robustness_cost.py`` times the first stage inside a whole
upload, but from one process to the next this 2-core machine varies by more than the layout does; here both
layouts are built from the same random codes alternately in one process and searched with the same queries
(each near a stored code: 20 bits flipped), 45 verified, sure ``PdqRegionSignal.sure_radius``, as the
matcher searches. Reported: index memory (``MihIndex.array_bytes``), the median of 7 searches of all
queries, and the hits (equal in both).
"""

from __future__ import annotations

import argparse

import numpy as np

from first_stage_tables import median_first_stage  # bench/first_stage_tables.py
from redline.index import mih
from redline.index.mih import MihIndex
from redline.signals.types import PdqRegionSignal

TABLES = PdqRegionSignal.first_stage_tables
SURE = PdqRegionSignal.sure_radius
assert SURE is not None


def _plain_entries(parts: tuple[object, ...], n: int) -> tuple[int, ...]:
    return (0,) * len(parts)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=20_000_000, help="stored codes (20 a picture)")
    parser.add_argument("--queries", type=int, default=98, help="one upload's region queries")
    parser.add_argument("--rounds", type=int, default=2, help="builds of each layout, alternating")
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 256, (args.n, 32), dtype=np.uint8)
    ids = np.arange(args.n, dtype=np.int64)
    queries = codes[rng.integers(0, args.n, args.queries)].copy()
    for query in queries:
        for bit in rng.choice(256, 20, replace=False):
            query[bit // 8] ^= np.uint8(1 << (bit % 8))
    packed_bits = mih._entry_bits
    print("| layout | index MiB | first stage, median of 7 (ms) | hits |")
    print("|---|---|---|---|")
    for name in ("plain", "packed") * args.rounds:
        mih._entry_bits = packed_bits if name == "packed" else _plain_entries  # type: ignore[assignment]
        try:
            index = MihIndex.build(ids, codes.copy(), threads=2, tables=TABLES)
        finally:
            mih._entry_bits = packed_bits
        median, found = median_first_stage(index, queries, SURE)
        print(f"| {name} | {index.array_bytes >> 20:,} | {median:.1f} | {found} |", flush=True)
        del index


if __name__ == "__main__":
    main()
