"""Retroactive matching: recall per kept set of hashes per seen upload, beside forward matching.

    .venv/bin/python bench/retro_recall.py --step 16 --jobs 2        # 32 photos (quick; what is recorded)
    .venv/bin/python bench/retro_recall.py --json var/retro_recall.json

Forward matching compares every hash an upload is looked up by (its plain PDQ and ~110 derived robust
hashes) with what the bank stores of a picture. Retroactive matching compares the same pairs the other way
round, but only with what was *kept* of the upload (``redline.retro.seen.KEPT_REGION_LABELS``), so its
recall is forward matching's with the query side cut down to the kept hashes: measured here on the same
hashes in the same run (same library code the server runs, ``redline.eval.harness``), for several choices
of what to keep, with the bytes each costs per seen upload (hash bytes; MD5 and SHA-256 add 48 more each
time). Forward matching (everything kept) is the baseline. Figures: docs/BENCHMARKS.md, "Retroactive".
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from redline.eval import harness
from redline.eval.transforms import TRANSFORMS
from redline.signals.robust import ROBUST_THRESHOLD, RegionHash

DEFAULT_PHOTOS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "photos"

WHOLE = {"full", "mirror"}
#: What may be kept per seen upload: a name, which derived hashes (by label) stay, and the largest distance
#: a pair with a kept whole-upload hash (full, mirror) may have (None: forward matching's 64).
POLICIES: list[tuple[str, Callable[[str], bool] | None, int | None]] = [
    ("plain pdq only", None, None),
    ("pdq + mirror, whole pairs <= 31", lambda label: label in WHOLE, 31),
    ("pdq + mirror, whole pairs <= 38", lambda label: label in WHOLE, 38),
    ("pdq + mirror, whole pairs <= 45", lambda label: label in WHOLE, 45),
    ("pdq + mirror, whole pairs <= 64 (forward's)", lambda label: label in WHOLE, None),
    ("+ 8 quadrants", lambda label: label in WHOLE or "quadrant" in label, None),
    ("+ centred crops", lambda label: label in WHOLE or "quadrant" in label or "centred" in label, None),
    ("everything (= forward)", lambda label: True, None),
]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--step", type=int, default=16, help="use every STEP-th photo")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    photos = harness.load_photos(args.photos)[:: args.step]
    if len(photos) < 2:
        parser.error(f"need at least two images in {args.photos}")
    started = time.perf_counter()
    corpus = harness.hash_corpus(photos, TRANSFORMS, jobs=args.jobs)
    hashed = time.perf_counter() - started
    source = np.array(corpus.query_source)
    transform = np.array(corpus.query_transform)
    edited = transform != harness.ORIGINAL
    own = np.zeros((len(source), len(corpus.entries)), dtype=bool)
    own[np.arange(len(source)), source] = True
    rows = []
    for name, keep, whole_reach in POLICIES:
        queries: list[list[RegionHash]] = [
            [q[0], *(h for h in q[1:] if keep is not None and keep(h.label))] for q in corpus.queries
        ]
        d = harness.pair_distances(queries, corpus.entries)
        rule = harness.Rule(name, harness.PLAIN_THRESHOLD, ROBUST_THRESHOLD if keep is not None else None)
        hit = rule.matches(d)
        if whole_reach is not None:
            # Only whole-upload hashes are kept besides the plain one: their pairs, on the robust scale
            # (distance - WHOLE_SLACK), at the stricter reach.
            hit = (d.plain <= harness.PLAIN_THRESHOLD) | (d.robust <= whole_reach - harness.WHOLE_SLACK)
        per_upload = float(np.mean([len(q) for q in queries]))
        rows.append(
            {
                "kept": name,
                "hashes_per_upload": per_upload,
                "bytes_per_upload": per_upload * 32,
                "recall": float(hit[own & edited[:, None]].mean()),
                "recall_by_transform": {
                    t: float(hit[own & (transform == t)[:, None]].mean())
                    for t in dict.fromkeys(transform[edited])
                },
                "false_positive_rate": float(hit[~own].mean()),
            }
        )
    forward = rows[-1]["recall"]
    print(f"# {len(photos)} photos, {len(TRANSFORMS)} edits each, hashing {hashed:.0f} s, jobs={args.jobs}")
    print("| kept per seen upload | hashes | bytes | recall | of forward | false-positive rate |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        share = r["recall"] / forward if forward else float("nan")
        print(
            f"| {r['kept']} | {r['hashes_per_upload']:.1f} | {r['bytes_per_upload']:.0f} | "
            f"{100 * r['recall']:.1f}% | {100 * share:.0f}% | {r['false_positive_rate']:.1e} |"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"photos": len(photos), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
