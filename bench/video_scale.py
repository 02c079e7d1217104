"""Matching one 60 s upload against a bank of 100,000 videos (synthetic frame hashes), and the index memory.

    .venv/bin/python bench/video_scale.py [--videos 100000] [--seconds 60] [--threads 2]

The bank: each video stored as the survivor's device stores it (``signals.video.stored_frame_codes``: the
first 8 kept frames at any moment, then at most one a second, near-duplicates dropped; each kept frame as
its whole-frame hash, its centred 90 % and its four quadrants, plus its box for frames with bars), here
``--stored-per-video`` hashes (396: a 60 s video whose every second is kept, 66 moments x 6 hashes: the most
a 60 s video without bars stores); consecutive hashes of a video are related (a random walk of ~40 bits per
step), videos are independent random 256-bit hashes. The upload: 60 s at 8 frames a second, each frame by
``--queries-per-frame`` hashes (2: whole and mirror) plus 4 quadrant hashes at each of ``--quadrant-moments``
moments (66: those a stored copy would keep), plus ``--between-per-second`` whole frames between the
sampled ones (``signals.video.between_codes``; default 3.7 a second, their mean over bench/video_recall.py's
138 clips; a fast pan throughout gives up to 24, capped at 300 an upload), what
``VpdqSignal.upload_queries`` gives a 60 s upload without bars: 1,224 + 222 queries; half of the frames a
re-encoded copy of one bank video (its hashes with 12 random bits flipped), half unrelated.

Reported: the index search of all queries at PDQ's 31 (what ``Matcher.match`` does for ``vpdq``), the
per-video judgement (``redline.match.video.decide``), and the index's bytes per stored video. The baseline
in the same run is brute force over every stored frame (HMA's vPDQ without an index) on a sample of the
bank, scaled to the whole bank.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from redline.index import MihIndex
from redline.match.video import decide
from redline.signals.video import MAX_BETWEEN_QUERIES

BITS = 256
#: Hashes one stored moment of a video without bars is kept as: whole frame, centred crop, 4 quadrants.
STORED_PER_MOMENT = 6


def flip(codes: np.ndarray, bits: int, rng: np.random.Generator) -> np.ndarray:
    out = codes.copy()
    for row in out:
        for b in rng.choice(BITS, size=bits, replace=False):
            row[b // 8] ^= np.uint8(1 << (7 - b % 8))
    return out


def bank(videos: int, per_video: int, rng: np.random.Generator) -> np.ndarray:
    """(videos * per_video, 32) uint8 codes: per video a random start, then a walk of 40 bits per frame."""
    codes = np.empty((videos, per_video, 32), dtype=np.uint8)
    codes[:, 0] = rng.integers(0, 256, size=(videos, 32), dtype=np.uint8)
    for j in range(1, per_video):
        mask = np.zeros((videos, BITS), dtype=bool)
        idx = rng.integers(0, BITS, size=(videos, 40))  # ~40 distinct bits (a repeat flips one fewer)
        np.put_along_axis(mask, idx, True, axis=1)
        codes[:, j] = codes[:, j - 1] ^ np.packbits(mask, axis=1)
    return codes.reshape(videos * per_video, 32)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--videos", type=int, default=100_000)
    # 66 kept frames (the first 8 at any moment, then one a second) x 6 hashes (whole, crop, 4 quadrants).
    parser.add_argument("--stored-per-video", type=int, default=396)
    # Per query frame: whole, mirror (a frame without bars; with bars: + box, bars, 2 narrowed) ...
    parser.add_argument("--queries-per-frame", type=int, default=2)
    # ... plus 4 quadrants at each moment a stored copy would keep (66 in 60 s): query_frame_codes.
    parser.add_argument("--quadrant-moments", type=int, default=66)
    # ... plus whole frames between the sampled ones where the picture moves fast (between_codes).
    parser.add_argument("--between-per-second", type=float, default=3.7)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    rng = np.random.default_rng(18)
    per = args.stored_per_video
    started = time.perf_counter()
    codes = bank(args.videos, per, rng)
    ids = np.arange(len(codes), dtype=np.int64)
    index = MihIndex(BITS, tuned_for=31, threads=args.threads)
    index.add(ids, codes)
    built = time.perf_counter() - started
    memory = index.array_bytes
    print(f"{args.videos} videos x {per} frames = {len(codes)} frame hashes, built in {built:.1f} s")
    print(f"index memory {memory / 2**20:.0f} MiB = {memory / args.videos:.0f} bytes per video")

    target = args.videos // 2
    n = args.seconds * 8
    copied = flip(np.repeat(codes[target * per : (target + 1) * per], 4, axis=0)[: n // 2], 12, rng)
    unrelated = rng.integers(0, 256, size=(n - len(copied), 32), dtype=np.uint8)
    frames = np.concatenate([copied, unrelated])
    # The frame's other hashes (mirror, quadrants): other codes, unrelated to the bank.
    between = min(MAX_BETWEEN_QUERIES, round(args.between_per_second * args.seconds))
    extra = n * (args.queries_per_frame - 1) + 4 * args.quadrant_moments + between
    others = rng.integers(0, 256, size=(extra, 32), dtype=np.uint8)
    queries = np.ascontiguousarray(np.concatenate([frames, others]))
    index.search(queries[:4], 31)  # compile
    times = []
    for _ in range(5):
        t = time.perf_counter()
        hits = index.search(queries, 31)
        found: dict[int, tuple[set[int], set[int]]] = {}
        for q, h in enumerate(hits):
            for frame_id in h.ids.tolist():
                units, stored = found.setdefault(frame_id // per, (set(), set()))
                units.add((q % n) // 8)
                stored.add(frame_id)
        moments = per // STORED_PER_MOMENT
        verdicts = {
            v: decide(len(u), args.seconds, len(s) // STORED_PER_MOMENT, moments)[0]
            for v, (u, s) in found.items()
        }
        times.append(time.perf_counter() - t)
    matched = [v for v, ok in verdicts.items() if ok]
    best = min(times)
    shape = (
        f"60 s at 8/s, {args.queries_per_frame} a frame, 4 at {args.quadrant_moments} moments, "
        f"{between} between"
    )
    print(f"{len(queries)} queries ({shape}): {best * 1000:.0f} ms", end=" ")
    print(f"(best of 5, {args.threads} threads); median {sorted(times)[2] * 1000:.0f} ms;", end=" ")
    print(f"videos matched {matched} (planted {target})")

    sampled = 500
    sample = codes[: sampled * per]
    t = time.perf_counter()
    a = queries.view(">u8").astype(np.uint64)
    b = sample.view(">u8").astype(np.uint64)
    hits = 0
    for start in range(0, len(a), 16):
        hits += int(
            (np.bitwise_count(a[start : start + 16, None, :] ^ b[None, :, :]).sum(axis=2) <= 31).sum()
        )
    brute = (time.perf_counter() - t) * args.videos / sampled
    print(f"brute force (HMA-style, no index), scaled from {sampled} videos: {brute:.1f} s", end=" ")
    print(f"= {brute / best:.0f}x the index")
    return 0


if __name__ == "__main__":
    sys.exit(main())
