"""Image hashing speed and fast-path accuracy, against "Pillow full decode + pdqhash" in the same run.

    .venv/bin/python bench/hashing.py                         # defaults: 8 images per kind, 3 rounds
    .venv/bin/python bench/hashing.py --images 4 --seconds 2 --distance-images 30   # quick look
    .venv/bin/python bench/hashing.py --json var/bench-hashing.json

Test images are generated from ../shared/corpus/photos into a temporary folder: 12 MP JPEGs (4000x3000,
upscaled with light sensor-like noise, quality 90), 2 MP JPEGs (1728x1152) and 1080p PNGs (1920x1080).

Pipelines, each timed over the same files:
  baseline     Pillow full decode -> RGB array -> pdqhash.compute on the full image
  full-decode  redline.signals.hash_image with jpeg_draft=False (reference-exact: full decode, 512 sampling)
  redline      redline.signals.hash_image as shipped (JPEG DCT-scaled decode); also MD5, SHA-256, dihedral
Rounds alternate the pipelines so load from other processes on a shared machine hits them alike; the
median round is reported. Per core = one process; --jobs N = N worker processes over the same files.
Distances: fast path vs full decode on --distance-images 12 MP JPEGs and on the corpus's real large JPEGs.
Figures go to docs/BENCHMARKS.md, section "Hashing".
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pdqhash
from PIL import Image

from redline.signals import hash_image
from redline.signals.limits import SignalLimits

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
KINDS = {
    "12MP JPEG": ((4000, 3000), "JPEG"),
    "2MP JPEG": ((1728, 1152), "JPEG"),
    "1080p PNG": ((1920, 1080), "PNG"),
}
FULL = SignalLimits(jpeg_draft=False)


def baseline(path: Path) -> str:
    with Image.open(path) as im:
        pixels = np.asarray(im.convert("RGB"))
    bits, _quality = pdqhash.compute(pixels)
    return np.packbits(bits.astype(np.uint8)).tobytes().hex()


def full_decode(path: Path) -> str:
    return hash_image(path, FULL).pdq


def redline(path: Path) -> str:
    return hash_image(path).pdq


PIPELINES: dict[str, Callable[[Path], str]] = {
    "baseline": baseline,
    "full-decode": full_decode,
    "redline": redline,
}


def sources(count: int) -> list[Path]:
    kodak = sorted((CORPUS / "photos" / "kodak24").rglob("*.png"))
    bsds = sorted((CORPUS / "photos" / "bsds500").rglob("*.jpg"))
    return (kodak + bsds)[:count]


def make_image(source: Path, size: tuple[int, int], fmt: str, out: Path, seed: int) -> Path:
    with Image.open(source) as im:
        image = im.convert("RGB").resize(size, Image.Resampling.LANCZOS)
    if fmt == "JPEG" and size[0] * size[1] >= 10_000_000:
        # Upscaled photos are unnaturally smooth; camera files carry sensor noise.
        noise = np.random.default_rng(seed).normal(0, 2.0, (size[1], size[0], 3))
        image = Image.fromarray(np.clip(np.asarray(image) + noise, 0, 255).astype(np.uint8))
    image.save(out, fmt, **({"quality": 90} if fmt == "JPEG" else {"compress_level": 6}))
    return out


def rate(pipeline: str, files: list[Path], seconds: float, jobs: int) -> float:
    """Images per second, hashing ``files`` over and over for at least ``seconds``."""
    work = PIPELINES[pipeline]
    done, start = 0, time.perf_counter()
    if jobs == 1:
        while time.perf_counter() - start < seconds:
            for path in files:
                work(path)
            done += len(files)
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(work, files[:jobs]))  # start the workers before timing
            start = time.perf_counter()
            while time.perf_counter() - start < seconds:
                done += len(list(pool.map(work, files * jobs)))
    return done / (time.perf_counter() - start)


def distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def summary(values: list[int]) -> dict[str, float]:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(np.ceil(0.99 * len(ordered))) - 1)]
    return {"n": len(values), "mean": round(statistics.fmean(values), 2), "p99": p99, "max": ordered[-1]}


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--images", type=int, default=8, help="distinct images per kind for timing")
    parser.add_argument("--seconds", type=float, default=4.0, help="minimum time per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--distance-images", type=int, default=100)
    parser.add_argument("--no-speed", action="store_true", help="only the distance measurements")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    report: dict[str, object] = {"machine": f"{platform.machine()}, {platform.processor() or '?'}"}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        speed: dict[str, dict[str, float]] = {}
        for kind, (size, fmt) in {} if args.no_speed else KINDS.items():
            files = [
                make_image(src, size, fmt, folder / f"{kind.replace(' ', '_')}_{i}.{fmt.lower()}", i)
                for i, src in enumerate(sources(args.images))
            ]
            for jobs in sorted({1, args.jobs}):
                rounds: dict[str, list[float]] = {name: [] for name in PIPELINES}
                for _ in range(args.rounds):
                    for name in PIPELINES:
                        rounds[name].append(rate(name, files, args.seconds, jobs))
                row = {name: round(statistics.median(values), 2) for name, values in rounds.items()}
                row["redline / baseline"] = round(row["redline"] / row["baseline"], 1)
                speed[f"{kind}, {'1 process' if jobs == 1 else f'--jobs {jobs}'}"] = row
                print(f"{kind:10} jobs={jobs}: {row}", flush=True)
        report["images_per_second"] = speed

        # "full-decode vs baseline" shows what the reference's own 512x512 sampling moves, fast path aside.
        names = ("vs full-decode", "vs baseline", "full-decode vs baseline")
        distances: dict[str, list[int]] = {name: [] for name in names}
        for i, src in enumerate(sources(args.distance_images)):
            path = make_image(src, (4000, 3000), "JPEG", folder / f"distance_{i}.jpg", 1000 + i)
            fast, full, base = redline(path), full_decode(path), baseline(path)
            distances["vs full-decode"].append(distance(fast, full))
            distances["vs baseline"].append(distance(fast, base))
            distances["full-decode vs baseline"].append(distance(full, base))
            path.unlink()
        report["fast_path_distance_12MP"] = {k: summary(v) for k, v in distances.items()}
        print("12 MP fast path distance:", report["fast_path_distance_12MP"], flush=True)

    # Real camera/AI files: only those PDQ rates >= 50 (below, hashes are not used for matching).
    real = [p for p in sorted(CORPUS.rglob("*.jp*g")) if _min_side(p) >= 1024]
    full = {p: hash_image(p, FULL) for p in real}
    real_distances = [distance(redline(p), full[p].pdq) for p in real if full[p].pdq_quality >= 50]
    report["fast_path_distance_corpus_large_jpegs"] = {**summary(real_distances), "values": real_distances}
    print("corpus JPEGs >= 1024 px:", report["fast_path_distance_corpus_large_jpegs"], flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))


def _min_side(path: Path) -> int:
    with Image.open(path) as im:
        return min(im.size)


if __name__ == "__main__":
    main()
