"""Retroactive matching at scale: one new survivor picture against 10M seen uploads, vs brute force.

    .venv/bin/python bench/retro.py --n 10000000 --reach 31 --reach 45

What is kept per seen upload (``redline.retro.seen.kept_hashes``): its plain PDQ (also its ``full`` region
hash) and its ``mirror`` hash; synthetic, uniformly random codes (the worst case for the index: no
clusters). A new picture is what a survivor's device stores: its PDQ and 34 ``pdq_region`` crops
(``robust.STORED_REGIONS``). Checking it is ``SeenIndex.candidates`` (what ``find_seen`` does before it reads
the candidates' rows): the PDQ against the seen PDQs at 31, every crop against the seen PDQs and mirrors at
``--reach`` (``seen.WHOLE_UPLOAD_REACH``). Baseline, same run, same codes: brute force with NumPy
(``bitwise_count`` over 64-bit words), which must find exactly the same hits. Planted neighbours check
that both find what they should.

Memory: resident memory the index adds, per seen upload (the codes themselves are 64 bytes). Time: wall
clock and CPU time of the check (the CPU figure is what it costs on a free core; on a loaded machine the
wall clock also waits for one).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from redline.retro import seen
from redline.retro.seen import SeenIndex, SeenQuery

CROPS = 34


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def flipped(code: np.ndarray, bits: int, rng: np.random.Generator) -> np.ndarray:
    out = code.copy()
    for bit in rng.choice(256, bits, replace=False):
        out[bit // 8] ^= 1 << (bit % 8)
    return out


def brute_force(words: np.ndarray, query: np.ndarray, reach: int) -> set[int]:
    """Row numbers of ``words`` (n, 4) uint64 within ``reach`` of ``query`` (4,) uint64."""
    distances = np.bitwise_count(words ^ query).sum(axis=1, dtype=np.int32)
    return set(np.flatnonzero(distances <= reach).tolist())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=10_000_000, help="seen uploads")
    parser.add_argument("--reach", type=int, action="append", help="WHOLE_UPLOAD_REACH values to measure")
    parser.add_argument("--pictures", type=int, default=20, help="new pictures timed per reach")
    parser.add_argument("--baseline-pictures", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    reaches = args.reach or [seen.WHOLE_UPLOAD_REACH]
    rng = np.random.default_rng(7)
    before = rss_mb()
    pdq = rng.integers(0, 256, (args.n, 32), dtype=np.uint8)
    mirror = rng.integers(0, 256, (args.n, 32), dtype=np.uint8)
    pictures = rng.integers(0, 256, (args.pictures, 1 + CROPS, 32), dtype=np.uint8)
    data = rss_mb()
    print(
        f"# {args.n:,} seen uploads (pdq + mirror), {args.pictures} pictures of 1 + {CROPS} hashes; "
        f"{platform.machine()}, load average {os.getloadavg()[0]:.1f} at start"
    )
    results = []
    for reach in reaches:
        seen.WHOLE_UPLOAD_REACH = reach
        # Planted: per picture, an upload whose PDQ is near the picture's, one whose mirror is near crop 5,
        # one whose PDQ (as its full hash) is near crop 7, each just inside the reach.
        planted: dict[int, set[int]] = {}
        pdq_codes, mirror_codes = pdq.copy(), mirror.copy()
        for p in range(args.pictures):
            a, b, c = (p * 3 + 1) * 1000, (p * 3 + 2) * 1000, (p * 3 + 3) * 1000
            pdq_codes[a] = flipped(pictures[p, 0], 20, rng)
            mirror_codes[b] = flipped(pictures[p, 5], reach - 2, rng)
            pdq_codes[c] = flipped(pictures[p, 7], reach - 1, rng)
            planted[p] = {2 * a, 2 * b + 1, 2 * c}
        index = SeenIndex(None)  # type: ignore[arg-type]  # no database: codes are added directly
        ids = np.arange(args.n, dtype=np.int64) * 2
        started = time.perf_counter()
        index.add("pdq", None, ids, pdq_codes)
        index.add("pdq_region", "mirror", ids + 1, mirror_codes)
        build = time.perf_counter() - started
        built = rss_mb()

        def queries(p: int) -> list[SeenQuery]:
            hexes = [bytes(code).hex() for code in pictures[p]]
            return [SeenQuery("pdq", hexes[0]), *(SeenQuery("pdq_region", h) for h in hexes[1:])]

        index.candidates(queries(0))  # compile and page in
        timings, cpu, found = [], [], []
        for p in range(args.pictures):
            t, c = time.perf_counter(), time.process_time()
            hits = index.candidates(queries(p))
            timings.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - c) * 1000)
            found.append(set().union(*hits))
        missed = sum(len(planted[p] - found[p]) for p in range(args.pictures))
        words_pdq, words_mirror = pdq_codes.view(np.uint64), mirror_codes.view(np.uint64)
        base_times, agree = [], True
        for p in range(min(args.baseline_pictures, args.pictures)):
            q = pictures[p].view(np.uint64)
            t = time.perf_counter()
            expected = {2 * i for i in brute_force(words_pdq, q[0], 31)}
            for crop in q[1:]:
                expected |= {2 * i for i in brute_force(words_pdq, crop, reach)}
                expected |= {2 * i + 1 for i in brute_force(words_mirror, crop, reach)}
            base_times.append((time.perf_counter() - t) * 1000)
            agree &= expected == found[p]
        row = {
            "reach": reach,
            "n": args.n,
            "build_s": build,
            "index_mb": built - data,
            "bytes_per_upload": (built - data) * 2**20 / args.n,
            "p50_ms": float(np.median(timings)),
            "max_ms": float(np.max(timings)),
            # CPU time of the check: what it costs on a free core (the wall clock waits for one when the
            # machine is loaded).
            "cpu_p50_ms": float(np.median(cpu)),
            "baseline_ms": float(np.median(base_times)),
            "speedup": float(np.median(base_times) / np.median(timings)),
            "planted_missed": missed,
            "same_hits_as_baseline": agree,
            "load_average": os.getloadavg()[0],
        }
        results.append(row)
        print(
            f"reach {reach}: build {build:.1f} s, index {row['index_mb']:.0f} MB "
            f"({row['bytes_per_upload']:.0f} B per seen upload), one picture p50 {row['p50_ms']:.1f} ms "
            f"(max {row['max_ms']:.1f}, CPU {row['cpu_p50_ms']:.1f}); "
            f"brute force {row['baseline_ms']:.0f} ms ({row['speedup']:.0f}x); "
            f"planted missed {missed}, same hits as brute force: {agree}; load {row['load_average']:.1f}",
            flush=True,
        )
        del index, pdq_codes, mirror_codes
    print(f"# raw input arrays: {data - before:.0f} MB")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
