"""Exact Hamming-distance search over binary codes (PDQ and any multiple-of-64-bit signal)."""

from __future__ import annotations

from redline.index.base import CodeArray, HammingIndex, Hits, IdArray, codes_from_hex, hex_from_code
from redline.index.flat import FlatIndex

__all__ = [
    "CodeArray",
    "FlatIndex",
    "HammingIndex",
    "Hits",
    "IdArray",
    "codes_from_hex",
    "hex_from_code",
    "new_index",
]


def new_index(bits: int = 256) -> HammingIndex:
    """The index the bank uses. One place to switch implementations."""
    return FlatIndex(bits)
