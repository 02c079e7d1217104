"""How the MIH index splits codes into tables, and how it plans a search for a given threshold.

Multi-index hashing (Norouzi et al., 2012) cuts each code into ``m`` disjoint substrings and keeps one hash
table per substring. If two codes differ in at most ``T`` bits and table ``j`` is probed within radius
``r_j``, then ``sum(r_j + 1) > T`` guarantees that at least one table sees a substring distance ``<= r_j``
(otherwise the total would be at least ``sum(r_j + 1)``). Radii may differ per table, which lets any ``T``
be covered exactly; a table with radius -1 is not probed.

Choosing the number of tables is a trade between probes (grows with substring length and radius) and
candidates to verify (``n * probes / 2**width`` per table), and memory (4 bytes per code per table). Each
probe and each candidate costs a random memory access, so the plan minimises their sum; when that sum is
larger than a sequential scan of all codes would cost, the plan says "scan" instead.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from redline.signals.types import PdqSignal

# Above this many codes, the fastest split would cost more memory than the 100M goal allows (4 bytes per code
# per table); 32-bit parts, the fewest tables, keep the candidate count low at that scale.
WIDE_TABLES_FROM = 1 << 25
# Residual key bits are stored in one byte per entry.
MAX_RESIDUAL_BITS = 8
# Most directory bits per table: 2**24 offsets x 4 bytes = 64 MiB per table.
MAX_DIR_BITS = 24
# Relative costs, measured on the 2-core development machine: a probe or a candidate is a random memory
# access; a scanned code is a sequential read of its words plus popcounts. bench/scan_or_probe.py times both
# at 0.3M-10M codes and 40-64 bits: a scanned word takes ~0.47x the time the first value (0.06) assumed;
# with 0.024 the wrong picks, where the two paths are close, cost 0.8% of the time over 96 cases, at most
# 1.43x on one (docs/BENCHMARKS.md, "Scan or probe").
PROBE_COST = 1.0
CANDIDATE_COST = 1.0
SCAN_COST_PER_WORD = 0.024
# Never enumerate more probe masks than this per table (memory and setup time); scan instead.
MAX_MASKS_PER_TABLE = 250_000
DEFAULT_THRESHOLD = PdqSignal.default_threshold  # what the table split is tuned for unless told otherwise


@dataclass(frozen=True)
class Part:
    """One table's substring: ``width`` (<= 32) consecutive bits of the code starting at bit ``start``.

    Bits are numbered within the code's ``uint64`` words (bit ``start % 64`` of word ``start // 64``); a part
    may straddle two words.
    """

    start: int
    width: int
    dir_bits: int


@dataclass(frozen=True)
class Plan:
    """How to answer one threshold: per-table radii, or ``None`` when a linear scan is cheaper."""

    radii: tuple[int, ...] | None
    masks: NDArray[np.uint64]
    masks_base: tuple[int, ...]
    masks_count: tuple[int, ...]


def split(bits: int, m: int, n: int) -> tuple[Part, ...]:
    """``m`` near-equal consecutive parts; about ``n / 2`` directory buckets, the rest in a residual byte."""
    want_dir = max(8, math.ceil(math.log2(max(n, 2))) - 1)
    parts: list[Part] = []
    start = 0
    for k in range(m):
        width = bits // m + (1 if k < bits % m else 0)
        dir_bits = min(width, MAX_DIR_BITS, max(want_dir, width - MAX_RESIDUAL_BITS))
        parts.append(Part(start=start, width=width, dir_bits=dir_bits))
        start += width
    return tuple(parts)


def choose_parts(bits: int, n: int, threshold: int = DEFAULT_THRESHOLD) -> tuple[Part, ...]:
    """The table split with the cheapest search at ``threshold`` (the index's usual one: PDQ's 31, robust
    PDQ regions' 45) for ``n`` codes. Searches at any other threshold stay exact, only slower.

    Above ~33M codes memory decides instead: 32-bit parts, the fewest tables (4 bytes per code each).
    """
    fewest = bits // 32
    if n >= WIDE_TABLES_FROM:
        return split(bits, fewest, n)
    candidates = [split(bits, m, n) for m in range(fewest, bits // 12 + 1)]
    return min(candidates, key=lambda parts: search_cost(parts, n, threshold)[0])


@lru_cache(maxsize=64)
def ball_masks(width: int, radius: int) -> NDArray[np.uint64]:
    """Every XOR mask of at most ``radius`` set bits among ``width`` bits, closest first."""
    masks = [
        sum(1 << b for b in combo)
        for r in range(radius + 1)
        for combo in itertools.combinations(range(width), r)
    ]
    out = np.array(masks, dtype=np.uint64)
    out.flags.writeable = False
    return out


def ball_size(width: int, radius: int) -> int:
    return sum(math.comb(width, r) for r in range(radius + 1))


def allot_radii(parts: tuple[Part, ...], threshold: int) -> tuple[int, ...]:
    """Radii with ``sum(r + 1) == threshold + 1`` (the least that is exact), widest tables get the extra."""
    m = len(parts)
    order = sorted(range(m), key=lambda j: -parts[j].width)
    radii = [-1] * m
    budget = threshold + 1  # sum of (r + 1) over tables must reach this
    if budget <= m:
        for j in order[:budget]:
            radii[j] = 0
        return tuple(radii)
    base, extra = divmod(budget, m)
    for rank, j in enumerate(order):
        radii[j] = base - 1 + (1 if rank < extra else 0)
    return tuple(radii)


def search_cost(parts: tuple[Part, ...], n: int, threshold: int) -> tuple[float, tuple[int, ...], int]:
    """Estimated cost of probing (random accesses), the radii, and the largest per-table probe count."""
    radii = allot_radii(parts, threshold)
    probes = [ball_size(p.width, r) if r >= 0 else 0 for p, r in zip(parts, radii, strict=True)]
    cost = sum(k * (PROBE_COST + CANDIDATE_COST * n / 2**p.width) for p, k in zip(parts, probes, strict=True))
    return cost, radii, max(probes)


def plan_search(parts: tuple[Part, ...], n: int, threshold: int, strategy: str = "auto") -> Plan:
    """Probe the tables, or scan (``strategy="auto"``: whichever the cost model says is cheaper)."""
    probe_cost, radii, most_probes = search_cost(parts, n, threshold)
    words = sum(p.width for p in parts) // 64
    scan_cost = n * words * SCAN_COST_PER_WORD
    cheaper_to_scan = probe_cost >= scan_cost and strategy != "probe"
    if strategy == "scan" or cheaper_to_scan or most_probes > MAX_MASKS_PER_TABLE:
        return Plan(radii=None, masks=np.empty(0, np.uint64), masks_base=(), masks_count=())
    chunks = [
        ball_masks(p.width, r) if r >= 0 else np.empty(0, np.uint64)
        for p, r in zip(parts, radii, strict=True)
    ]
    base = np.concatenate([[0], np.cumsum([len(c) for c in chunks])[:-1]]).astype(np.int64)
    return Plan(
        radii=radii,
        masks=np.concatenate(chunks).astype(np.uint64),
        masks_base=tuple(int(b) for b in base),
        masks_count=tuple(len(c) for c in chunks),
    )


def first_stage_tables(bits: int, tables: int, sure: int) -> list[tuple[Part, int]]:
    """The fixed tables of a first-stage search and each one's probe radius for ``sure``: what defines
    which codes beyond ``sure`` it finds. Starts and widths do not depend on the index's size."""
    parts = split(bits, tables, 2)
    return list(zip(parts, allot_radii(parts, sure), strict=True))


def first_stage_reaches(
    xor: NDArray[np.uint64], tables: int, sure: int, bits: int = 256
) -> NDArray[np.bool_]:
    """Which pairs a first-stage search (``MihIndex.search(..., sure=)`` on ``tables`` fixed tables) reaches,
    from their codes' XOR as ``(n, bits // 64)`` words (the index's view of packed codes): those within
    ``sure``, and those with one table's key within that table's radius. The index answers exactly this;
    ``redline compare`` and bench/robust_first_stage.py use it to apply the server's rule to known pairs."""
    xor = np.asarray(xor, dtype=np.uint64).reshape(-1, bits // 64)
    reached: NDArray[np.bool_] = np.bitwise_count(xor).sum(axis=1) <= sure
    for part, radius in first_stage_tables(bits, tables, sure):
        if radius < 0:
            continue
        word, shift = part.start >> 6, part.start & 63
        key = xor[:, word] >> np.uint64(shift)
        if shift + part.width > 64:
            key = key | (xor[:, word + 1] << np.uint64(64 - shift))
        key = key & np.uint64((1 << part.width) - 1)
        reached |= np.bitwise_count(key) <= radius
    return reached
