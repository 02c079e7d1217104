"""The interface every Hamming-distance index implements.

Why an interface: the bank service needs one thing from an index — "every stored code within distance T of
this query" — while the way to answer it fast changes with scale (brute force for thousands of hashes,
multi-index hashing or similar for 10M-100M). Matching must be *exact*: a stored hash within the threshold
that the index fails to return is a copy of an intimate image left online. So implementations are judged on
recall 1.0 first, speed and memory second.

Codes are fixed-length bit strings packed most-significant-bit first into ``uint8`` rows (``numpy.packbits``
order, the same order as a PDQ hex string), ``bits`` a multiple of 64. Ids are the bank's ``int64`` entry ids.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import numpy as np
from numpy.typing import NDArray

IdArray = NDArray[np.int64]
CodeArray = NDArray[np.uint8]


@dataclass(frozen=True)
class Hits:
    """The stored codes found for one query, ordered by distance then id."""

    ids: IdArray
    distances: NDArray[np.int32]

    def __len__(self) -> int:
        return int(self.ids.shape[0])


def codes_from_hex(values: Sequence[str], bits: int = 256) -> CodeArray:
    """Pack hex strings (most significant nibble first) into an ``(n, bits // 8)`` uint8 array."""
    nbytes = bits // 8
    out = np.empty((len(values), nbytes), dtype=np.uint8)
    for row, value in enumerate(values):
        raw = bytes.fromhex(value)
        if len(raw) != nbytes:
            raise ValueError(f"expected {nbytes * 2} hex characters, got {len(value)}")
        out[row] = np.frombuffer(raw, dtype=np.uint8)
    return out


def hex_from_code(code: CodeArray) -> str:
    """Inverse of :func:`codes_from_hex` for one row."""
    return bytes(np.asarray(code, dtype=np.uint8)).hex()


class HammingIndex(ABC):
    """Exact range search over fixed-length binary codes.

    Contract for implementations:

    * ``search`` returns *every* stored code within ``threshold`` (inclusive) of each query; with ``sure``
      (a first stage for heuristic rules, below) every one within ``sure``, and only codes within
      ``threshold``.
    * ``add`` of an id already present replaces its code; ``remove`` of an absent id is ignored.
    * A change made by ``add``/``remove`` is visible to every ``search`` that starts after it returns.
    * Any number of threads may call ``search`` concurrently with one thread calling ``add``/``remove``.
    """

    bits: int
    #: The bank change-log position this index's contents reflect: stored by ``save``, restored by ``load``,
    #: so the bank can replay only the changes after it. 0 when unknown.
    position: int = 0

    @abstractmethod
    def add(self, ids: IdArray, codes: CodeArray) -> None:
        """Insert or replace ``ids[i] -> codes[i]``."""

    @abstractmethod
    def remove(self, ids: IdArray) -> int:
        """Remove the given ids; returns how many were present."""

    @abstractmethod
    def search(self, queries: CodeArray, threshold: int, sure: int | None = None) -> list[Hits]:
        """All stored codes within Hamming distance ``threshold`` of each query, one ``Hits`` per query.

        ``sure`` (below ``threshold``) lets an index look only as far as an exact search within ``sure``
        needs and verify what it finds at ``threshold``: every code within ``sure`` is returned, one further
        away (up to ``threshold``) when the index's cheaper search happens to reach it. Why: robust PDQ's
        rule (docs/ROBUSTNESS.md) compares ~85 derived hashes at 45 bits, an exact search that costs ~14x
        one at 31, while an edited copy is reached by several pairs and a pair at 32-45 bits is still
        found by most of its tables; its recall is measured (bench/robust_first_stage.py), not assumed.
        Exact lookups (plain PDQ, MD5) never pass it. An index that has no cheaper search ignores it."""

    @abstractmethod
    def __len__(self) -> int:
        """Number of stored codes."""

    @abstractmethod
    def save(self, path: Path, position: int | None = None) -> None:
        """Write a snapshot that :meth:`load` can read back, with ``position`` (default ``self.position``)."""

    @classmethod
    @abstractmethod
    def load(cls, path: Path) -> Self:
        """Read a snapshot written by :meth:`save`; the result's ``position`` is the one saved."""
