"""Brute-force exact index: the reference every faster index is tested against.

Scans every stored code with a popcount lookup table. Linear in the bank size, so it is the right choice for
small banks (tests, video frame sets, up to ~100k codes) and the ground truth for recall tests.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Self

import numpy as np
from numpy.typing import NDArray

from redline.index.base import CodeArray, HammingIndex, Hits, IdArray

_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def hamming_distances(codes: CodeArray, query: CodeArray) -> NDArray[np.int32]:
    """Distances from one packed ``query`` row to every row of ``codes``."""
    dist: NDArray[np.int32] = _POPCOUNT[np.bitwise_xor(codes, query)].sum(axis=1, dtype=np.int32)
    return dist


class FlatIndex(HammingIndex):
    def __init__(self, bits: int = 256) -> None:
        if bits <= 0 or bits % 64:
            raise ValueError("bits must be a positive multiple of 64")
        self.bits = bits
        self._lock = threading.Lock()
        # Copy-on-write arrays: readers take a reference to a consistent (ids, codes) pair.
        self._state: tuple[IdArray, CodeArray] = (
            np.empty(0, dtype=np.int64),
            np.empty((0, bits // 8), dtype=np.uint8),
        )

    def add(self, ids: IdArray, codes: CodeArray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        codes = np.ascontiguousarray(codes, dtype=np.uint8).reshape(len(ids), self.bits // 8)
        with self._lock:
            cur_ids, cur_codes = self._state
            keep = ~np.isin(cur_ids, ids)
            # Last write wins for duplicate ids within one call.
            _, last = np.unique(ids[::-1], return_index=True)
            sel = len(ids) - 1 - last
            self._state = (
                np.concatenate([cur_ids[keep], ids[sel]]),
                np.concatenate([cur_codes[keep], codes[sel]]),
            )

    def remove(self, ids: IdArray) -> int:
        ids = np.asarray(ids, dtype=np.int64)
        with self._lock:
            cur_ids, cur_codes = self._state
            gone = np.isin(cur_ids, ids)
            self._state = (cur_ids[~gone], cur_codes[~gone])
            return int(gone.sum())

    def search(self, queries: CodeArray, threshold: int, sure: int | None = None) -> list[Hits]:
        del sure  # a scan is exact at any threshold: nothing cheaper to do
        ids, codes = self._state
        queries = np.asarray(queries, dtype=np.uint8).reshape(-1, self.bits // 8)
        out: list[Hits] = []
        for query in queries:
            dist = hamming_distances(codes, query)
            found = np.flatnonzero(dist <= threshold)
            order = np.lexsort((ids[found], dist[found]))
            found = found[order]
            out.append(Hits(ids=ids[found].copy(), distances=dist[found].astype(np.int32)))
        return out

    def __len__(self) -> int:
        return int(self._state[0].shape[0])

    def save(self, path: Path, position: int | None = None) -> None:
        ids, codes = self._state
        at = self.position if position is None else position
        with open(path, "wb") as fh:
            np.savez(fh, bits=np.int64(self.bits), position=np.int64(at), ids=ids, codes=codes)

    @classmethod
    def load(cls, path: Path) -> Self:
        with np.load(path) as data:
            index = cls(int(data["bits"]))
            index.add(data["ids"], data["codes"])
            index.position = int(data["position"]) if "position" in data else 0
        return index
