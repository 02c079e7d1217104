"""Robustness benchmark: recall per re-share edit and false-positive rates, plain PDQ vs robust PDQ.

    .venv/bin/python bench/robustness.py                      # all ~512 photos, library mode
    .venv/bin/python bench/robustness.py --step 8 --jobs 2    # every 8th photo, quick look
    .venv/bin/python bench/robustness.py --json var/robustness.json
    .venv/bin/python bench/robustness.py --step 4 --crop-sweep  # crops of 2.5-25% a side instead
    .venv/bin/python bench/robustness.py --only screenshot,screenshot_chat  # some edits (group or name)
    .venv/bin/python bench/robustness.py --drop-stored crop_0.5_  # also scored without the stored quadrants

Library mode calls the hash functions directly (the same code the server and, ported, the portal run).
Plain PDQ at 31 and at the threshold that keeps FPR <= 1e-4 are the baselines, scored on the same hashes in
the same run. ``--drop-stored`` scores the same hashes a second time with the stored regions whose labels
start with one of its prefixes left out: every stored hash is computed from the picture alone, so that is
exactly the recipe that does not store them, measured beside the one that does. Figures go to
docs/BENCHMARKS.md, section "Robustness".
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import time
from pathlib import Path

import numpy as np

import robust_first_stage  # bench/robust_first_stage.py, beside this script
from redline.eval import harness
from redline.eval.transforms import CROP_SWEEP, TRANSFORMS, transform_named
from redline.signals.robust import ROBUST_THRESHOLD
from redline.signals.types import PdqRegionSignal

DEFAULT_PHOTOS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "photos"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--step", type=int, default=1, help="use every STEP-th photo")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--robust-threshold", type=int, default=ROBUST_THRESHOLD)
    parser.add_argument("--no-hard", action="store_true", help="skip the hard-negative halves")
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")
    parser.add_argument(
        "--crop-sweep",
        action="store_true",
        help="crops of 2.5-25%% a side (between the benchmark sizes) instead of its edits",
    )
    parser.add_argument(
        "--first-stage",
        default=str(PdqRegionSignal.sure_radius),
        help="also say which edited copies the index's first stage keeps at these sure radii "
        "(comma-separated; bench/robust_first_stage.py; empty: skip)",
    )
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated edit names or groups (e.g. screenshot_app) to run instead of all of them; "
        "the false-positive pairs are then those edits' copies",
    )
    parser.add_argument("--save-arrays", type=Path, help="keep the hashes for bench/robust_first_stage.py")
    parser.add_argument(
        "--drop-stored",
        default="",
        help="comma-separated label prefixes of stored regions (e.g. crop_0.5_, the quadrants): also score "
        "the same hashes without them",
    )
    args = parser.parse_args()
    transforms = CROP_SWEEP if args.crop_sweep else TRANSFORMS
    if args.only:
        wanted = set(args.only.split(","))
        transforms = tuple(t for t in transforms if t.name in wanted or t.group in wanted)
        if not transforms:
            parser.error(f"--only {args.only}: no such edit or group")

    photos = harness.load_photos(args.photos)[:: args.step]
    if len(photos) < 2:
        parser.error(f"need at least two images in {args.photos} (with --step {args.step})")
    started = time.perf_counter()
    corpus = harness.hash_corpus(photos, transforms, jobs=args.jobs)
    hashed = time.perf_counter()
    hard = None
    if not args.no_hard:
        hard_transforms = [transform_named(n) for n in harness.HARD_NEGATIVE_TRANSFORMS]
        hard = harness.hash_corpus(harness.half_photos(photos), hard_transforms, jobs=args.jobs)
    rep = harness.report(corpus, hard, args.robust_threshold, sweep=range(30, 66, 3))
    finished = time.perf_counter()
    print(
        f"# {len(photos)} photos from {args.photos}, {len(transforms)} transforms, jobs={args.jobs}, "
        f"{platform.machine()} {platform.python_version()}"
    )
    print(
        f"# hashing {hashed - started:.0f} s, hard negatives + scoring {finished - hashed:.0f} s; "
        f"hashes per stored image {rep.hashes_per_entry:.1f}, per query {rep.hashes_per_query:.1f}"
    )
    print(harness.markdown(rep))
    if args.first_stage or args.save_arrays:
        arrays = robust_first_stage.arrays_of(corpus)
        if args.save_arrays:
            args.save_arrays.parent.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(args.save_arrays, **arrays)
        if args.first_stage:
            print("\n## The index's first stage (own pairs; it can only lose matches)\n")
            print(_first_stage(arrays, args.first_stage))
    if args.drop_stored:
        prefixes = tuple(args.drop_stored.split(","))
        fewer = _without_stored(corpus, prefixes)
        dropped = len(corpus.entries[0]) - len(fewer.entries[0])
        fewer_hard = None if hard is None else _without_stored(hard, prefixes)
        fewer_rep = harness.report(fewer, fewer_hard, args.robust_threshold, sweep=range(30, 66, 3))
        names = ", ".join(f"{p}*" for p in prefixes)
        print(f"\n## The same hashes without the stored regions {names} ({dropped} a picture)\n")
        print(f"# hashes per stored image {fewer_rep.hashes_per_entry:.1f}")
        print(harness.markdown(fewer_rep))
        if args.first_stage:
            print("\n## The index's first stage, without them\n")
            print(_first_stage(robust_first_stage.arrays_of(fewer), args.first_stage))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(dataclasses.asdict(rep), indent=1, default=str))


def _first_stage(arrays: dict[str, np.ndarray], sures: str) -> str:
    tables = PdqRegionSignal.first_stage_tables
    assert tables is not None
    radii = [int(v) for v in sures.split(",")]
    return robust_first_stage.first_stage_table(arrays, radii, tables, groups=True)


def _without_stored(corpus: harness.HashedCorpus, prefixes: tuple[str, ...]) -> harness.HashedCorpus:
    """The corpus with every stored hash whose label starts with one of ``prefixes`` left out (the plain
    whole-picture hash, labelled ``full``, always kept)."""
    entries = [
        [h for h in stored if h.label == "full" or not h.label.startswith(prefixes)]
        for stored in corpus.entries
    ]
    return dataclasses.replace(corpus, entries=entries)


if __name__ == "__main__":
    main()
