"""The benchmark's compiled all-pairs kernel equals a plain Python computation of the same definition
(harness.PairDistances): robust = min over usable pairs of (distance - query slack, the slack only against
the stored whole picture, an entry's first hash: ``robust.allowance_applies``, unless it is negative, a
stricter threshold, which counts against every hash), plain = first vs first."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from redline.eval import harness
from redline.signals.robust import (
    MIN_QUALITY,
    ROBUST_THRESHOLD,
    STRIP_THRESHOLD,
    WHOLE_THRESHOLD,
    RegionHash,
    allowance_applies,
)


def _groups(rng: np.random.Generator, count: int, query: bool) -> list[list[RegionHash]]:
    base = rng.integers(0, 256, size=32, dtype=np.uint8)
    groups = []
    for _ in range(count):
        group = []
        for position in range(int(rng.integers(1, 6))):
            # Near one shared code, so distances fall on both sides of the thresholds.
            flips = rng.random(256) < rng.uniform(0.05, 0.5)
            code = np.packbits(np.unpackbits(base) ^ flips.astype(np.uint8)).tobytes()
            quality = int(rng.choice([100, 100, 100, MIN_QUALITY - 1]))
            choices = [ROBUST_THRESHOLD, WHOLE_THRESHOLD, STRIP_THRESHOLD]
            threshold = int(rng.choice(choices)) if query else ROBUST_THRESHOLD
            # An entry's first hash is its whole picture (robust.entry_hashes), the others crops.
            label = "full" if position == 0 else "crop"
            group.append(RegionHash(label, code, quality, threshold))
        groups.append(group)
    return groups


def _distance(a: RegionHash, b: RegionHash) -> int:
    return int(np.unpackbits(np.frombuffer(a.code, np.uint8) ^ np.frombuffer(b.code, np.uint8)).sum())


def _reference(
    queries: list[list[RegionHash]], entries: list[list[RegionHash]]
) -> tuple[np.ndarray, np.ndarray]:
    plain = np.empty((len(queries), len(entries)), dtype=np.int16)
    robust = np.empty_like(plain)
    for i, q in enumerate(queries):
        for j, e in enumerate(entries):
            best = 256
            for a in q:
                for b in e:
                    if a.quality >= MIN_QUALITY and b.quality >= MIN_QUALITY:
                        slack = a.threshold - ROBUST_THRESHOLD
                        if slack > 0 and not allowance_applies(b.label):
                            slack = 0
                        best = min(best, _distance(a, b) - slack)
            robust[i, j] = best
            a, b = q[0], e[0]
            slack = a.threshold - ROBUST_THRESHOLD
            if a.quality >= MIN_QUALITY and b.quality >= MIN_QUALITY:
                plain[i, j] = _distance(a, b)
            else:
                plain[i, j] = 256 + slack
    return plain, robust


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_queries=st.integers(1, 7), n_entries=st.integers(1, 7))
def test_kernel_equals_numpy_reference(seed: int, n_queries: int, n_entries: int) -> None:
    rng = np.random.default_rng(seed)
    queries, entries = _groups(rng, n_queries, query=True), _groups(rng, n_entries, query=False)
    d = harness.pair_distances(queries, entries)
    plain, robust = _reference(queries, entries)
    assert (d.plain == plain).all()
    assert (d.robust == robust).all()
