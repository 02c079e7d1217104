# mypy: ignore-errors
# (Numba compiles the kernel with its own type inference, as in redline.index.kernels; its Python-facing
# behaviour is exercised by tests/eval, which compares it with a plain Python computation.)
"""The benchmark's all-pairs distance kernel, compiled with numba.

Why not numpy: with about a hundred hashes per query and dozens per stored image (docs/ROBUSTNESS.md), the
full corpus (512 photos, 25 queries
each) is ~25 billion hash pairs. Broadcasting them in numpy is memory-bound: `bench/robustness.py` spent
81 s on hard negatives and scoring for 64 photos, which grows with the square of the photos (over an hour
for the full corpus, extrapolated, not run). This loop keeps each pair in registers and runs on every core:
306 s for hard negatives and scoring on the full corpus (docs/BENCHMARKS.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange

from redline.index.kernels import popcount

#: Distance given to a pair with an unusable hash (PDQ quality too low): beyond any threshold.
UNUSABLE = 256


@njit(parallel=True, cache=True)
def group_minima(
    q_words: Any,
    q_ok: Any,
    q_slack: Any,
    q_bounds: Any,
    e_words: Any,
    e_ok: Any,
    e_bounds: Any,
    robust: Any,
    plain: Any,
) -> None:  # pragma: no cover - compiled
    """For each (query group, entry group): ``robust`` = min over usable pairs of (distance - query slack),
    the slack counting only against the entry's first hash (the whole picture: the whole-upload hashes'
    allowance, ``robust.allowance_applies``) and a negative slack (a stricter threshold) against every hash;
    ``plain`` = distance of the two groups' first hashes
    (``UNUSABLE + slack`` when either is unusable)."""
    for qg in prange(q_bounds.shape[0] - 1):
        q_lo, q_hi = q_bounds[qg], q_bounds[qg + 1]
        for eg in range(e_bounds.shape[0] - 1):
            e_lo, e_hi = e_bounds[eg], e_bounds[eg + 1]
            best = UNUSABLE
            for i in range(q_lo, q_hi):
                if not q_ok[i]:
                    continue
                for j in range(e_lo, e_hi):
                    if not e_ok[j]:
                        continue
                    d = 0
                    for w in range(4):
                        d += np.int64(popcount(q_words[i, w] ^ e_words[j, w]))
                    if j == e_lo or q_slack[i] < 0:  # a stricter threshold counts everywhere
                        d -= q_slack[i]
                    if d < best:
                        best = d
            robust[qg, eg] = best
            if q_ok[q_lo] and e_ok[e_lo]:
                d = 0
                for w in range(4):
                    d += np.int64(popcount(q_words[q_lo, w] ^ e_words[e_lo, w]))
                plain[qg, eg] = d
            else:
                plain[qg, eg] = UNUSABLE + q_slack[q_lo]


def bounds(sizes: Any) -> Any:
    """Group boundaries: group ``g`` is rows ``bounds[g]:bounds[g + 1]``."""
    return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
