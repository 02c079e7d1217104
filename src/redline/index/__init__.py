"""Exact Hamming-distance search over binary codes (PDQ and any multiple-of-64-bit signal)."""

from __future__ import annotations

from redline.index.base import CodeArray, HammingIndex, Hits, IdArray, codes_from_hex, hex_from_code
from redline.index.flat import FlatIndex
from redline.index.layout import DEFAULT_THRESHOLD
from redline.index.mih import MihIndex

__all__ = [
    "CodeArray",
    "FlatIndex",
    "HammingIndex",
    "Hits",
    "IdArray",
    "MihIndex",
    "codes_from_hex",
    "hex_from_code",
    "new_index",
]


def new_index(bits: int = 256, tuned_for: int = DEFAULT_THRESHOLD, tables: int | None = None) -> HammingIndex:
    """The index the bank uses. One place to switch implementations.

    Multi-index hashing: exact, and at 10M PDQ hashes ~10x the throughput of faiss's MultiHash index in a
    fraction of its memory (docs/BENCHMARKS.md, "Index"). Bulk-load with ``add`` (one call builds the tables);
    snapshots via ``save``/``MihIndex.load``. ``tuned_for``: the threshold most searches will use (the
    signal type's default); the tables are split to make it cheapest, every threshold stays exact.
    ``tables``: a fixed split instead, for a type whose searches have a first stage (``search``'s ``sure``).
    """
    return MihIndex(bits, tuned_for=tuned_for, tables=tables)
