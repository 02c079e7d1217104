"""Exact PDQ range search at threshold 31: faiss brute force, faiss MultiHash (HMA's PDQIndex), Redline's MIH.

    .venv/bin/python bench/index.py --n 10000000 [--dist uniform|clustered] [--json] [--methods ...]

One run, same data and queries for every method: each method runs in a fresh child process that regenerates
the same seeded data, so its memory figure is its own (``rss_mb``: resident memory after the build, with the
input arrays dropped, minus the process's memory before the data existed; ``peak_rss_mb``: the high-water
mark on the same basis). Half the queries have a true neighbour at distance 0..31, half are random.
Recall is measured against faiss's brute force (run as a separate child when ``faiss_flat`` is not among the
methods) over every query.

Timings: ``p50_ms``/``p99_ms`` are single-query latencies with one thread; ``qps_1t``/``qps_2t`` are batch
throughputs with one and two threads.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

THRESHOLD = 31
BITS = 256
METHODS = ("faiss_flat", "faiss_multihash", "redline")


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_data(n: int, dist: str, nq: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` codes and ``nq`` queries; clustered = families of 16 around a centre, members 1..31 bits away."""
    rng = np.random.default_rng(seed)
    nbytes = BITS // 8
    if dist == "uniform":
        codes = rng.integers(0, 256, (n, nbytes), dtype=np.uint8)
    else:
        centres = rng.integers(0, 256, (max(1, n // 16), nbytes), dtype=np.uint8)
        codes = np.empty((n, nbytes), dtype=np.uint8)
        chunk = 1 << 20
        for start in range(0, n, chunk):
            stop = min(n, start + chunk)
            block = centres[rng.integers(0, centres.shape[0], stop - start)]
            flips = rng.integers(1, THRESHOLD + 1, stop - start)
            rows = np.arange(stop - start)
            for j in range(THRESHOLD):
                on = rows[flips > j]
                pos = rng.integers(0, BITS, on.size)
                block[on, pos // 8] ^= (1 << (pos % 8)).astype(np.uint8)
            codes[start:stop] = block
    queries = rng.integers(0, 256, (nq, nbytes), dtype=np.uint8)
    for i in range(nq // 2):
        bits = np.unpackbits(codes[rng.integers(0, n)])
        bits[rng.choice(BITS, size=int(rng.integers(0, THRESHOLD + 1)), replace=False)] ^= 1
        queries[i] = np.packbits(bits)
    return codes, queries


class Faiss:
    def __init__(self, kind: str) -> None:
        try:
            import faiss
        except ImportError:  # the optional ``bench`` extra: the service and its tests do not need faiss
            sys.exit('faiss is not installed: .venv/bin/pip install -c constraints.txt -e ".[bench]"')

        self.faiss = faiss
        if kind == "faiss_flat":
            self.index = faiss.IndexBinaryFlat(BITS)
        else:  # python-threatexchange's PDQIndex: 16 tables of 16 bits, probing 1-bit flips
            self.index = faiss.IndexBinaryMultiHash(BITS, 16, 16)
            self.index.nflip = 1

    def build(self, codes: np.ndarray) -> None:
        self.index.add(codes)

    def search(self, queries: np.ndarray, threads: int) -> list[np.ndarray]:
        self.faiss.omp_set_num_threads(threads)
        lims, _, ids = self.index.range_search(queries, THRESHOLD + 1)  # faiss's binary radius is exclusive
        return [ids[lims[i] : lims[i + 1]] for i in range(queries.shape[0])]


class Redline:
    def __init__(self) -> None:
        from redline.index import MihIndex

        self.cls = MihIndex
        warm = MihIndex.build(np.arange(5000), np.zeros((5000, BITS // 8), np.uint8))  # compile numba kernels
        warm.search(np.zeros((2, BITS // 8), np.uint8), THRESHOLD)
        self.index: Any = None

    def build(self, codes: np.ndarray) -> None:
        ids = np.arange(codes.shape[0], dtype=np.int64)
        self.index = self.cls.build(ids, codes, bits=BITS, copy=False)

    def search(self, queries: np.ndarray, threads: int) -> list[np.ndarray]:
        self.index.threads = threads
        return [hits.ids for hits in self.index.search(queries, THRESHOLD)]


def snapshot_timings(engine: Redline) -> dict[str, float]:
    """Save a snapshot and read it back fully into memory (not memory-mapped): the restart path."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "index.snapshot"
        t0 = time.perf_counter()
        engine.index.save(path, position=1)
        saved = time.perf_counter() - t0
        t0 = time.perf_counter()
        loaded = engine.cls.load(path)
        load_s = time.perf_counter() - t0
        size = path.stat().st_size / 2**20
        del loaded
    return {
        "snapshot_mb": round(size),
        "snapshot_save_s": round(saved, 2),
        "snapshot_load_s": round(load_s, 2),
    }


def child(method: str, n: int, dist: str, nq: int, seed: int, out: Path, truth_only: bool) -> None:
    engine: Faiss | Redline = Redline() if method == "redline" else Faiss(method)
    gc.collect()
    base = rss_mb()
    codes, queries = make_data(n, dist, nq, seed)
    started = time.perf_counter()
    engine.build(codes)
    build_s = time.perf_counter() - started
    del codes
    gc.collect()
    index_mb = rss_mb() - base
    latencies = [0.0]
    for i in range(0 if truth_only else nq):
        t0 = time.perf_counter()
        engine.search(queries[i : i + 1], 1)
        latencies.append(time.perf_counter() - t0)
    qps = {}
    results: list[np.ndarray] = []
    for threads in (2,) if truth_only else (1, 2):
        t0 = time.perf_counter()
        results = engine.search(queries, threads)
        qps[threads] = nq / (time.perf_counter() - t0)
    lens = np.array([len(r) for r in results], dtype=np.int64)
    flat = np.concatenate(results).astype(np.int64) if results else np.empty(0, np.int64)
    np.savez(out, lens=lens, ids=flat)
    peak = peak_mb() - base  # before the snapshot round trip, which holds a second copy for a moment
    snap = snapshot_timings(engine) if isinstance(engine, Redline) and n <= 20_000_000 else {}
    row = {
        "method": method,
        "n": n,
        "dist": dist,
        "build_s": round(build_s, 2),
        "rss_mb": round(index_mb),
        "peak_rss_mb": round(peak),
        "p50_ms": round(float(np.percentile(latencies, 50)) * 1e3, 3),
        "p99_ms": round(float(np.percentile(latencies, 99)) * 1e3, 3),
        "qps_1t": round(qps.get(1, 0)),
        "qps_2t": round(qps[2]),
        **snap,
    }
    print("RESULT " + json.dumps(row), flush=True)


def load_hits(path: Path) -> list[set[int]]:
    with np.load(path) as data:
        lens, ids = data["lens"], data["ids"]
    bounds = np.concatenate([[0], np.cumsum(lens)])
    return [set(ids[a:b].tolist()) for a, b in itertools.pairwise(bounds)]


def run_child(method: str, args: argparse.Namespace, out: Path, truth_only: bool = False) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", method, "--n", str(args.n), "--dist", args.dist]
    cmd += ["--truth-only"] if truth_only else []
    cmd += ["--queries", str(args.queries), "--seed", str(args.seed), "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            result: dict[str, Any] = json.loads(line[len("RESULT ") :])
            return result
    raise RuntimeError(f"{method} failed:\n{proc.stdout}\n{proc.stderr}")


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--dist", choices=["uniform", "clustered"], default="uniform")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", choices=METHODS, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--truth-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.n, args.dist, args.queries, args.seed, args.out, args.truth_only)
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        outs = {m: Path(tmp) / f"{m}.npz" for m in METHODS}
        for method in args.methods:  # one at a time: the 10M MultiHash and 100M runs need the memory
            rows.append(run_child(method, args, outs[method]))
            if not args.json:
                print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
        if "faiss_flat" not in args.methods:
            run_child("faiss_flat", args, outs["faiss_flat"], truth_only=True)  # ground truth, untimed
        truth = load_hits(outs["faiss_flat"])
        expected = sum(len(t) for t in truth)
        for row in rows:
            got = load_hits(outs[row["method"]])
            found = sum(len(t & g) for t, g in zip(truth, got, strict=True))
            row["recall"] = round(found / expected, 6) if expected else 1.0
            row["false_hits"] = sum(len(g - t) for t, g in zip(truth, got, strict=True))
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        for row in rows:
            print(
                f"{row['method']:16} n={row['n']} {row['dist']:9} build {row['build_s']:7.2f} s  "
                f"rss {row['rss_mb']:6} MB  p50 {row['p50_ms']:7.3f} ms  p99 {row['p99_ms']:7.3f} ms  "
                f"{row['qps_1t']:6} q/s 1t  {row['qps_2t']:6} q/s 2t  recall {row['recall']}"
            )


if __name__ == "__main__":
    main()
