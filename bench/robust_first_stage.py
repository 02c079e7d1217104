"""Robust matching with a cheaper index search: probe the tables for a smaller radius, verify at the full one.

    .venv/bin/python bench/robust_first_stage.py --step 8 --cache var/first-stage-8.npz
    .venv/bin/python bench/robust_first_stage.py --cache var/first-stage-8.npz --sure 24,31,38 --groups

An exact multi-index search at the robust threshold (45 of 256 bits) probes Hamming balls of radius 2-4 in
each table; at a million pictures that is most of an upload's cost. ``MihIndex.search(..., sure=G)`` probes
only as far as an exact search at ``G`` would and verifies every candidate at the full threshold: every
stored code within ``G`` is still found, and one between ``G`` and the threshold is found when any one of its
tables' keys is within that table's probe radius (most are: their differing bits spread over the tables).

This bench measures what that costs in recall, on real pairs: it hashes every photo's stored set and every
edited copy's query set (as bench/robustness.py does), keeps each copy's pairs with its *own* original, and
says, for the region index's fixed tables (``PdqRegionSignal.first_stage_tables``), which pairs a search
with each sure radius still finds, and so which copies the rule still matches (the answer does not depend
on the bank's size: ``MihIndex`` with fixed tables). A first stage can only lose
matches, never add false ones, so false matches need no re-measuring. Search times at a million pictures are
``bench/robustness_cost.py --sure G``.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np
import numpy.typing as npt

from redline.eval import harness
from redline.eval.transforms import TRANSFORMS
from redline.index.layout import first_stage_reaches, first_stage_tables
from redline.signals.robust import MIN_QUALITY, ROBUST_THRESHOLD, WHOLE_THRESHOLD
from redline.signals.types import PdqRegionSignal

DEFAULT_PHOTOS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "photos"
PLAIN = 31


def _words(codes: list[bytes]) -> npt.NDArray[np.uint64]:
    return np.frombuffer(b"".join(codes), dtype=np.uint64).reshape(-1, 4).copy()


def arrays_of(corpus: harness.HashedCorpus) -> dict[str, np.ndarray]:
    """A hashed corpus as arrays: stored codes per photo, every edited copy's query codes (the untouched
    originals left out), as this bench reads them."""
    s_codes, s_photo, s_full, s_ok = [], [], [], []
    for index, stored in enumerate(corpus.entries):
        for h in stored:
            s_codes.append(h.code)
            s_photo.append(index)
            s_full.append(h.label == "full")
            s_ok.append(h.quality >= MIN_QUALITY)
    q_codes, q_copy, q_thr, q_ok, q_plain = [], [], [], [], []
    transforms, sources = [], []
    for source, transform, queries in zip(
        corpus.query_source, corpus.query_transform, corpus.queries, strict=True
    ):
        if transform == harness.ORIGINAL:
            continue
        copy = len(transforms)
        transforms.append(transform)
        sources.append(source)
        for k, h in enumerate(queries):
            q_codes.append(h.code)
            q_copy.append(copy)
            q_thr.append(h.threshold)
            q_ok.append(h.quality >= MIN_QUALITY)
            q_plain.append(k == 0)
    return {
        "photos": np.array(len(corpus.entries)),
        "s_codes": _words(s_codes),
        "s_photo": np.array(s_photo),
        "s_full": np.array(s_full),
        "s_ok": np.array(s_ok),
        "q_codes": _words(q_codes),
        "q_copy": np.array(q_copy),
        "q_thr": np.array(q_thr),
        "q_ok": np.array(q_ok),
        "q_plain": np.array(q_plain),
        "transforms": np.array(transforms),
        "sources": np.array(sources),
    }


def hash_and_save(photos_dir: Path, step: int, jobs: int, cache: Path) -> None:
    photos = harness.load_photos(photos_dir)[::step]
    corpus = harness.hash_corpus(photos, TRANSFORMS, jobs=jobs)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(cache, **arrays_of(corpus))


def first_stage_table(data: dict[str, np.ndarray], sures: list[int], tables: int, groups: bool) -> str:
    """Markdown: copies found by the exact search and by each sure radius (and per edit)."""
    pairs = own_pairs(data)
    parts = [part for part, _ in first_stage_tables(256, tables, 0)]
    lines = [
        f"# {int(data['photos'])} photos, {len(data['transforms'])} copies, {pairs['qi'].size} own pairs; "
        f"{len(parts)} tables of {[p.width for p in parts]} bits",
        "| search | copies found | lost vs exact |",
        "|---|---|---|",
    ]
    transforms = data["transforms"]
    exact = copies_found(data, pairs, tables, None)
    runs: list[tuple[str, npt.NDArray[np.bool_]]] = [("exact", exact)]
    for sure in sures:
        radii = [radius for _, radius in first_stage_tables(256, tables, sure)]
        runs.append((f"sure {sure} (radii {sorted(set(radii))})", copies_found(data, pairs, tables, sure)))
    for label, found in runs:
        lost = int((exact & ~found).sum())
        lines.append(f"| {label} | {int(found.sum())}/{found.size} = {100 * found.mean():.2f}% | {lost} |")
    if groups:
        lines += ["", "| edit | " + " | ".join(label.split(" (")[0] for label, _ in runs) + " |"]
        lines.append("|---|" + "---|" * len(runs))
        for name in dict.fromkeys(transforms.tolist()):
            mask = transforms == name
            cells = " | ".join(f"{100 * found[mask].mean():.1f}" for _, found in runs)
            lines.append(f"| {name} | {cells} |")
    return "\n".join(lines)


def _popcount(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
    return np.bitwise_count(x).astype(np.int64)


def own_pairs(data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every (query hash, stored hash of the copy's own original) pair, both usable, with its XOR."""
    q_photo = data["sources"][data["q_copy"]]
    by_photo: dict[int, npt.NDArray[np.int64]] = defaultdict(lambda: np.empty(0, np.int64))
    for photo in np.unique(data["s_photo"]):
        by_photo[int(photo)] = np.flatnonzero((data["s_photo"] == photo) & data["s_ok"])
    qi_list, si_list = [], []
    q_usable = np.flatnonzero(data["q_ok"])
    for photo in np.unique(q_photo):
        qs = q_usable[q_photo[q_usable] == photo]
        ss = by_photo[int(photo)]
        qi_list.append(np.repeat(qs, ss.size))
        si_list.append(np.tile(ss, qs.size))
    qi, si = np.concatenate(qi_list), np.concatenate(si_list)
    xor = data["q_codes"][qi] ^ data["s_codes"][si]
    dist = _popcount(xor).sum(axis=1)
    return {"qi": qi, "si": si, "xor": xor, "dist": dist}


def copies_found(
    data: dict[str, np.ndarray], pairs: dict[str, np.ndarray], tables: int, sure: int | None
) -> npt.NDArray[np.bool_]:
    """Which copies the robust rule matches when region searches probe for ``sure`` (None: exact)."""
    qi, si, dist, xor = pairs["qi"], pairs["si"], pairs["dist"], pairs["xor"]
    q_thr, s_full, q_plain = data["q_thr"][qi], data["s_full"][si], data["q_plain"][qi]
    slack = q_thr - ROBUST_THRESHOLD
    # The plain rule (exact, pdq index), and the whole-upload hashes at 64 against the stored whole picture
    # (the pdq index: one row per picture, searched exactly).
    plain_hit = q_plain & s_full & (dist <= PLAIN)
    whole_hit = (slack > 0) & s_full & (dist <= WHOLE_THRESHOLD)
    # Every query hash at 45 against every stored region (the pdq_region index).
    region_hit = dist <= ROBUST_THRESHOLD + np.minimum(slack, 0)  # the edge strips' stricter threshold
    if sure is not None and sure < ROBUST_THRESHOLD:
        region_hit &= first_stage_reaches(xor, tables, sure)
    hit = plain_hit | whole_hit | region_hit
    found = np.zeros(len(data["transforms"]), bool)
    found[data["q_copy"][qi[hit]]] = True
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--step", type=int, default=8, help="use every STEP-th photo")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--cache", type=Path, required=True, help="hashes (written, or read if present)")
    parser.add_argument("--tables", type=int, default=PdqRegionSignal.first_stage_tables)
    parser.add_argument("--sure", default="24,28,31,34,38", help="sure radii to compare with exact")
    parser.add_argument("--groups", action="store_true", help="also print recall per edit")
    args = parser.parse_args()
    if not args.cache.exists():
        hash_and_save(args.photos, args.step, args.jobs, args.cache)
    data = dict(np.load(args.cache))
    sures = [int(v) for v in args.sure.split(",") if v]
    print(first_stage_table(data, sures, args.tables, args.groups))


if __name__ == "__main__":
    main()
