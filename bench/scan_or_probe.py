"""When the index should scan instead of probing: both paths timed on the same codes and queries.

    .venv/bin/python bench/scan_or_probe.py                                # 0.3M-10M codes, 40-64 bits
    .venv/bin/python bench/scan_or_probe.py --sizes 1000000 --thresholds 64 --queries 2

``MihIndex`` probes its tables unless ``layout.plan_search``'s cost model says a scan of every code is
cheaper (``PROBE_COST`` and ``CANDIDATE_COST`` per probe and candidate against ``SCAN_COST_PER_WORD``). At the
plain index's 31 bits probing wins by orders of magnitude; the choice matters for wide searches, such as the
whole-upload hashes' exact 64-bit search of the stored whole pictures (two queries an upload), where the
probe balls hold hundreds of thousands of keys. For each size and threshold, one process builds a plain
index of random codes (2 threads, as the matcher), forces each strategy in turn on the same queries (codes
of stored rows) and reports the median wall time, the model's two costs and the per-unit times they imply:
``SCAN_COST_PER_WORD`` is right when a scan unit and a probe unit take about the same time.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from redline.index.layout import MAX_MASKS_PER_TABLE, SCAN_COST_PER_WORD, plan_search, search_cost
from redline.index.mih import MihIndex


def _median_ms(index: MihIndex, queries: np.ndarray, threshold: int, rounds: int) -> float:
    index.search(queries, threshold)  # compiles, and builds the plan's masks
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        index.search(queries, threshold)
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1e3)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", default="300000,1000000,3000000,10000000", help="stored codes, comma-separated"
    )
    parser.add_argument("--thresholds", default="40,48,56,64")
    parser.add_argument("--queries", default="2,16", help="queries a search, comma-separated")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    rng = np.random.default_rng(2)
    print(f"# SCAN_COST_PER_WORD = {SCAN_COST_PER_WORD}; ns per unit = time / (queries x model cost)")
    for n in (int(s) for s in args.sizes.split(",")):
        codes = rng.integers(0, 256, (n, 32), dtype=np.uint8)
        index = MihIndex.build(np.arange(n), codes, threads=args.threads, copy=False)
        parts = index._state.main.parts
        scan_cost = n * 4 * SCAN_COST_PER_WORD
        for threshold in (int(t) for t in args.thresholds.split(",")):
            probe_cost, _, most = search_cost(parts, n, threshold)
            for nq in (int(q) for q in args.queries.split(",")):
                queries = codes[rng.integers(0, n, nq)]
                timed = {}
                for strategy in ("probe", "scan"):
                    if strategy == "probe" and most > MAX_MASKS_PER_TABLE:
                        continue  # never probed: too many masks to enumerate
                    index.strategy = strategy
                    timed[strategy] = _median_ms(index, queries, threshold, args.rounds)
                index.strategy = "auto"
                row = {
                    "n": n,
                    "threshold": threshold,
                    "queries": nq,
                    "probe_ms": round(timed.get("probe", float("nan")), 2),
                    "scan_ms": round(timed["scan"], 2),
                    "model_probe": round(probe_cost),
                    "model_scan": round(scan_cost),
                    "ns_per_probe_unit": round(timed.get("probe", float("nan")) * 1e6 / (nq * probe_cost), 1),
                    "ns_per_scan_unit": round(timed["scan"] * 1e6 / (nq * scan_cost), 1),
                    "model_picks": "scan" if plan_search(parts, n, threshold).radii is None else "probe",
                    "faster": min(timed, key=lambda k: timed[k]),
                }
                print(json.dumps(row), flush=True)
        del index, codes


if __name__ == "__main__":
    main()
