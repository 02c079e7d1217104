"""False robust matches at a platform's scale: how often would an unrelated upload reach review?

    .venv/bin/python bench/false_match_tail.py --jobs 2 --cache var/tail.npz      # all 512 photos
    .venv/bin/python bench/false_match_tail.py --cache var/tail.npz               # again, from the cache
    .venv/bin/python bench/false_match_tail.py --step 8 --jobs 2                  # quick look

Why: bench/robustness.py finds no false match in the corpus's ~12 million (upload, other photo) pairs. That
bounds the rate per pair at ~2.5e-7 (three over the pairs), but a platform checks each upload against the
*whole* bank: at a million stored pictures an upload meets a million other pictures, so a rate of 2.5e-7 per
pair would be a false robust match in one upload of four, each a review item. The measured zero cannot tell
a platform whether robust matching sends one unrelated upload in ten to review or one in ten million. The
tail of the distribution of (upload, unrelated picture) distances can: this bench measures it and
extrapolates it to the matching threshold.

What it measures: every copy bench/robustness.py makes of every corpus photo (its 46 edits and the untouched
photo, hashed as the server hashes an upload: ``robust.query_hashes``) against every *other* photo's stored
hashes (``robust.entry_hashes``, as a survivor's device stores them) and, to widen the negative set, against
each other photo's four quarters stored as pictures of their own (smaller pictures of other scenes; a quarter
of the copy's own photo is left out, since its copies contain it). For each (copy, picture) pair the
*margin* is the robust rule's distance on the robust threshold's scale (``harness.PairDistances.robust``:
the smallest distance over every pair of hashes less that query hash's own threshold, plus 45): the rule
matches when the margin is at most 45. Plain PDQ's distance (whole upload vs whole stored picture, matched
at 31) is scored the same way as the baseline.

How it extrapolates: the share of unrelated pairs at or below each margin falls roughly geometrically
towards small margins. The bench fits log(share) as a straight line over the lowest margins where at least
``--min-count`` pairs fall (the observed tail, ``--fit-bits`` wide) and extends the line to the threshold.
For a tail whose log falls ever faster (binomial-like, as Hamming distances between independent hashes are),
the straight line *over*-states the share below the observed range, so the figure is an estimate on the
pessimistic side, not a bound: the corpus is 512 photos, and a bank of millions holds kinds of pictures (near
duplicates of popular images, plain backgrounds) that it does not. Expected false matches per upload at N
stored pictures = N x the extrapolated share. Figures go to docs/BENCHMARKS.md ("False robust matches at a
platform's scale").
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from redline.eval import harness
from redline.eval.transforms import TRANSFORMS
from redline.signals.robust import MIN_QUALITY, ROBUST_THRESHOLD, RegionHash, entry_hashes

DEFAULT_PHOTOS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "photos"
BANK_SIZES = (100_000, 1_000_000, 10_000_000)
PLAIN_THRESHOLD = harness.PLAIN_THRESHOLD


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--step", type=int, default=1, help="use every STEP-th photo")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--cache", type=Path, help="keep the hashes here (and read them back if present)")
    parser.add_argument("--no-quarters", action="store_true", help="other photos only, not their quarters")
    parser.add_argument("--min-count", type=int, default=10, help="the fit starts where this many pairs fall")
    parser.add_argument("--fit-bits", type=int, default=10, help="how many margins above that the fit spans")
    parser.add_argument(
        "--min-quality",
        default="",
        help="comma-separated PDQ qualities: also score the robust rule with region hashes below each left "
        "out (recall and false matches side by side)",
    )
    parser.add_argument(
        "--nearest", type=int, default=200, help="how many of the closest pairs to break down"
    )
    args = parser.parse_args()

    started = time.perf_counter()
    hashed = _load(args.cache) if args.cache and args.cache.exists() else None
    if hashed is None:
        photos = harness.load_photos(args.photos)[:: args.step]
        if len(photos) < 3:
            parser.error(f"need at least three images in {args.photos} (with --step {args.step})")
        corpus = harness.hash_corpus(photos, TRANSFORMS, jobs=args.jobs)
        quarters = _quarter_entries(photos)
        hashed = (corpus, quarters)
        if args.cache:
            _save(args.cache, *hashed)
    corpus, quarters = hashed
    hashing = time.perf_counter() - started

    groups = [("other photos", corpus.entries, np.arange(len(corpus.entries)))]
    if not args.no_quarters:
        groups.append(("their quarters", [q for q, _ in quarters], np.array([s for _, s in quarters])))
    cuts = [MIN_QUALITY, *(int(v) for v in args.min_quality.split(",") if v)]
    results = [_score(corpus, groups, cut, args.nearest) for cut in cuts]
    scored = time.perf_counter() - started - hashing

    print(
        f"# {len(corpus.entries)} photos, {len(corpus.queries)} uploads (the untouched photos and "
        f"{len(TRANSFORMS)} edits of each); hashing {hashing:.0f} s, scoring {scored:.0f} s"
    )
    first = results[0]
    print("\n| stored pictures | pictures | unrelated (upload, picture) pairs | smallest margin |")
    print("|---|---|---|---|")
    for name, count, pairs, smallest in first.rows:
        print(f"| {name} | {count:,} | {pairs:,} | {smallest} |")
    print(f"| **all** | | **{len(first.margin):,}** | **{int(first.margin.min())}** |")
    print()
    robust_fit = _tail(first.margin, ROBUST_THRESHOLD, args.min_count, args.fit_bits)
    plain_fit = _tail(first.plain, PLAIN_THRESHOLD, args.min_count, args.fit_bits)
    print(_tail_table(first.margin, robust_fit, first.plain, plain_fit))
    print()
    print(_scale_table(robust_fit, plain_fit))
    nearest = first.nearest
    entries_of = {name: entries for name, entries, _ in groups}
    print(
        f"\nThe {len(nearest)} closest unrelated pairs (margins {nearest[0][0]}-{nearest[-1][0]}): which "
        "upload hash and which stored hash come closest, and the uploads' edits\n"
    )
    kinds: Counter[tuple[str, str]] = Counter()
    edits: Counter[str] = Counter()
    for _, name, qi, ei in nearest:
        kinds[_closest_pair(corpus.queries[qi], entries_of[name][ei])] += 1
        edits[corpus.query_transform[qi]] += 1
    print("| upload hash | stored hash | pairs |\n|---|---|---|")
    for (q_kind, e_kind), count in kinds.most_common(12):
        print(f"| {q_kind} | {e_kind} | {count} |")
    print("\n| upload's edit | pairs |\n|---|---|")
    for edit, count in edits.most_common(12):
        print(f"| {edit} | {count} |")
    if len(results) > 1:
        print(f"\n{_quality_table(results, args.min_count, args.fit_bits)}")


@dataclass
class Scored:
    """One quality cut's answer: the unrelated pairs' margins and plain distances, the closest pairs, and the
    robust rule's recall (edited copies matched to their own photo) overall and per group of edits."""

    cut: int
    margin: npt.NDArray[np.int16]
    plain: npt.NDArray[np.int16]
    rows: list[tuple[str, int, int, int]]
    nearest: list[tuple[int, str, int, int]]
    recall: float
    recall_by_group: dict[str, float]
    smallest: dict[str, int]


def _score(
    corpus: harness.HashedCorpus, groups: list[tuple[str, list[list[RegionHash]], Any]], cut: int, keep: int
) -> Scored:
    """Margins with every *region* hash of quality below ``cut`` left out on both sides (plain PDQ keeps its
    own minimum, 50: only the robust rule is gated)."""
    source = np.array(corpus.query_source)
    queries = _gated(corpus.queries, cut)
    margins, plains, rows, nearest, smallest = [], [], [], [], {}
    own_robust = None
    for name, entries, entry_source in groups:
        d = harness.pair_distances(queries, _gated(entries, cut))
        if name == groups[0][0]:
            own_robust = d.robust[np.arange(len(source)), source]
        unrelated = source[:, None] != entry_source[None, :]
        margins.append(d.robust[unrelated])
        rows.append((name, len(entries), int(unrelated.sum()), int(d.robust[unrelated].min())))
        smallest[name] = int(d.robust[unrelated].min())
        masked = np.where(unrelated, d.robust, np.int16(512))
        flat = np.argpartition(masked, keep, axis=None)[:keep]
        for qi, ei in zip(*np.unravel_index(flat, masked.shape), strict=True):
            nearest.append((int(masked[qi, ei]), name, int(qi), int(ei)))
        if cut == MIN_QUALITY:
            plains.append(d.plain[unrelated])
        else:
            plains.append(np.empty(0, np.int16))
    assert own_robust is not None
    own_plain = _own_plain(corpus)
    hit = (own_plain <= PLAIN_THRESHOLD) | (own_robust <= ROBUST_THRESHOLD)
    transform = np.array(corpus.query_transform)
    edited = transform != harness.ORIGINAL
    group_of = {t.name: t.group for t in TRANSFORMS}
    groups_seen = sorted({group_of[t] for t in transform[edited]})
    by_group = {
        g: float(hit[edited & np.array([group_of.get(t) == g for t in transform])].mean())
        for g in groups_seen
    }
    return Scored(
        cut,
        np.concatenate(margins),
        np.concatenate(plains),
        rows,
        sorted(nearest)[:keep],
        float(hit[edited].mean()),
        by_group,
        smallest,
    )


def _gated(groups: list[list[RegionHash]], cut: int) -> list[list[RegionHash]]:
    if cut <= MIN_QUALITY:
        return groups
    return [[h if h.quality >= cut else dataclasses.replace(h, quality=0) for h in g] for g in groups]


def _own_plain(corpus: harness.HashedCorpus) -> npt.NDArray[np.int64]:
    """Each copy's plain PDQ distance to its own photo (256 where either hash is below quality 50)."""
    out = np.full(len(corpus.queries), 256, np.int64)
    for k, (queries, s) in enumerate(zip(corpus.queries, corpus.query_source, strict=True)):
        q, e = queries[0], corpus.entries[s][0]
        if q.quality >= MIN_QUALITY and e.quality >= MIN_QUALITY:
            out[k] = int(
                np.unpackbits(np.frombuffer(q.code, np.uint8) ^ np.frombuffer(e.code, np.uint8)).sum()
            )
    return out


def _quality_table(results: list[Scored], min_count: int, fit_bits: int) -> str:
    names = list(results[0].smallest)
    # The groups of edits that lose most between the first cut and the last (then the hardest ones).
    first, last = results[0].recall_by_group, results[-1].recall_by_group
    worst = sorted(first, key=lambda g: (last[g] - first[g], first[g]))[:4]
    lines = [
        "| region hashes matched from quality | recall, all edits | "
        + " | ".join(f"recall, {g}" for g in worst)
        + " | "
        + " | ".join(f"smallest margin, {n}" for n in names)
        + " | unrelated pairs <= 45 | fitted share at 45 | false matches per upload at 1,000,000 |",
        "|---|---|" + "---|" * (len(worst) + len(names)) + "---|---|---|",
    ]
    for r in results:
        fit = _tail(r.margin, ROBUST_THRESHOLD, min_count, fit_bits)
        share = fit.share(ROBUST_THRESHOLD) if fit else float("nan")
        cells = [
            str(r.cut),
            f"{100 * r.recall:.2f}%",
            *(f"{100 * r.recall_by_group[g]:.1f}%" for g in worst),
            *(str(r.smallest[n]) for n in names),
            str(int((r.margin <= ROBUST_THRESHOLD).sum())),
            f"{share:.1e}",
            _one_in(1_000_000 * share),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _kind(label: str) -> str:
    """A hash label up to its first number: ``crop_0.53_+0.07_+0.00`` -> ``crop_0.53``."""
    kept = []
    for part in label.split("_"):
        kept.append(part)
        if part[:1].isdigit() or part[:1] in "+-":
            break
    return "_".join(kept)


def _closest_pair(queries: list[RegionHash], stored: list[RegionHash]) -> tuple[str, str]:
    """Which (upload hash, stored hash) gives the pair its margin, by the rule of
    ``redline.eval.distances.group_minima`` (a looser threshold counts only against the whole picture)."""
    q = np.frombuffer(b"".join(h.code for h in queries), dtype=np.uint8).reshape(-1, 32)
    e = np.frombuffer(b"".join(h.code for h in stored), dtype=np.uint8).reshape(-1, 32)
    d = np.unpackbits(q[:, None, :] ^ e[None, :, :], axis=-1).sum(axis=-1).astype(np.int64)
    slack = np.array([h.threshold - ROBUST_THRESHOLD for h in queries])[:, None]
    applies = (np.arange(len(stored)) == 0)[None, :] | (slack < 0)
    d = d - np.where(applies, slack, 0)
    usable = (
        np.array([h.quality >= MIN_QUALITY for h in queries])[:, None]
        & np.array([h.quality >= MIN_QUALITY for h in stored])[None, :]
    )
    d[~usable] = 1 << 20
    i, j = np.unravel_index(int(np.argmin(d)), d.shape)
    return _kind(queries[i].label), _kind(stored[j].label)


def _quarter_entries(photos: list[harness.Photo]) -> list[tuple[list[RegionHash], int]]:
    """Each photo's four quarters stored as pictures of their own, with the index of the photo they came
    from (so that its own copies, which contain them, are not counted against them)."""
    out = []
    for index, photo in enumerate(photos):
        w, h = photo.image.size
        for box in (
            (0, 0, w // 2, h // 2),
            (w // 2, 0, w, h // 2),
            (0, h // 2, w // 2, h),
            (w // 2, h // 2, w, h),
        ):
            out.append((entry_hashes(np.asarray(photo.image.crop(box))), index))
    return out


class Fit:
    """log10(share of pairs at or below margin m) = intercept + slope * m, over ``[lo, hi]``."""

    def __init__(self, slope: float, intercept: float, lo: int, hi: int, threshold: int) -> None:
        self.slope, self.intercept, self.lo, self.hi, self.threshold = slope, intercept, lo, hi, threshold

    def share(self, m: int) -> float:
        return float(10 ** (self.intercept + self.slope * m))

    @property
    def per_bit(self) -> float:
        """How many times the share shrinks for each bit closer."""
        return float(10**self.slope)


def _tail(values: npt.NDArray[np.int16], threshold: int, min_count: int, fit_bits: int) -> Fit | None:
    counts = np.bincount(values.astype(np.int64).clip(0, 512), minlength=513).cumsum()
    total = len(values)
    start = int(np.searchsorted(counts, min_count))  # first margin with >= min_count pairs at or below it
    lo, hi = start, start + fit_bits
    ms = np.arange(lo, hi + 1)
    if hi > 512 or counts[lo] == 0:
        return None
    y = np.log10(counts[ms] / total)
    slope, intercept = np.polyfit(ms, y, 1)
    return Fit(float(slope), float(intercept), lo, hi, threshold)


def _tail_table(
    margin: npt.NDArray[np.int16], robust: Fit | None, plain: npt.NDArray[np.int16], plain_fit: Fit | None
) -> str:
    total = len(margin)
    counts = np.bincount(margin.astype(np.int64).clip(0, 512), minlength=513).cumsum()
    pcounts = np.bincount(plain.astype(np.int64).clip(0, 512), minlength=513).cumsum()
    lines = [
        "| margin (robust) | pairs at or below | share | line's share |   | plain PDQ distance | pairs at or "
        "below | share | line's share |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    r_lo = robust.lo if robust else int(margin.min())
    p_lo = plain_fit.lo if plain_fit else int(plain.min())
    for k in range(-4, 14, 2):
        rm, pm = r_lo + k, p_lo + k
        cells = []
        for m, c, fit in ((rm, counts, robust), (pm, pcounts, plain_fit)):
            line = f"{fit.share(m):.1e}" if fit else "-"
            cells.append(f"{m} | {int(c[m]):,} | {c[m] / total:.1e} | {line}")
        lines.append(f"| {cells[0]} |   | {cells[1]} |")
    return "\n".join(lines)


def _scale_table(robust: Fit | None, plain: Fit | None) -> str:
    lines = [
        "| rule | fitted over | shrinks per bit | share at the threshold (extrapolated) | "
        + " | ".join(f"false matches per upload at {n:,} pictures" for n in BANK_SIZES)
        + " |",
        "|---|---|---|---|" + "---|" * len(BANK_SIZES),
    ]
    for name, fit in (
        (f"robust (margin <= {ROBUST_THRESHOLD})", robust),
        (f"plain PDQ <= {PLAIN_THRESHOLD}", plain),
    ):
        if fit is None:
            lines.append(f"| {name} | too few pairs to fit |")
            continue
        share = fit.share(fit.threshold)
        per_upload = " | ".join(_one_in(n * share) for n in BANK_SIZES)
        lines.append(f"| {name} | {fit.lo}-{fit.hi} | {fit.per_bit:.2f}x | {share:.1e} | {per_upload} |")
    return "\n".join(lines)


def _one_in(expected: float) -> str:
    if expected <= 0:
        return "0"
    every = 1 / expected
    digits = max(0, math.floor(math.log10(every)) - 1)  # two significant figures
    return f"{expected:.1e} (one upload in {round(every, -digits):,.0f})"


# The cache: region hashes as arrays (codes, qualities, thresholds, labels, group sizes), not pickles.


def _flat(groups: list[list[RegionHash]], prefix: str) -> dict[str, np.ndarray]:
    hashes = [h for g in groups for h in g]
    return {
        f"{prefix}_codes": np.frombuffer(b"".join(h.code for h in hashes), dtype=np.uint8).reshape(-1, 32),
        f"{prefix}_quality": np.array([h.quality for h in hashes], dtype=np.int16),
        f"{prefix}_threshold": np.array([h.threshold for h in hashes], dtype=np.int16),
        f"{prefix}_label": np.array([h.label for h in hashes]),
        f"{prefix}_sizes": np.array([len(g) for g in groups], dtype=np.int64),
    }


def _unflat(data: dict[str, np.ndarray], prefix: str) -> list[list[RegionHash]]:
    codes, quality = data[f"{prefix}_codes"], data[f"{prefix}_quality"]
    threshold, label = data[f"{prefix}_threshold"], data[f"{prefix}_label"]
    out, i = [], 0
    for size in data[f"{prefix}_sizes"]:
        out.append(
            [
                RegionHash(str(label[k]), codes[k].tobytes(), int(quality[k]), int(threshold[k]))
                for k in range(i, i + int(size))
            ]
        )
        i += int(size)
    return out


def _save(path: Path, corpus: harness.HashedCorpus, quarters: list[tuple[list[RegionHash], int]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        path,
        photo_ids=np.array(corpus.photo_ids),
        query_source=np.array(corpus.query_source),
        query_transform=np.array(corpus.query_transform),
        quarter_source=np.array([s for _, s in quarters]),
        **_flat(corpus.entries, "e"),
        **_flat(corpus.queries, "q"),
        **_flat([q for q, _ in quarters], "k"),
    )


def _load(path: Path) -> tuple[harness.HashedCorpus, list[tuple[list[RegionHash], int]]]:
    data = dict(np.load(path))
    corpus = harness.HashedCorpus(
        [str(p) for p in data["photo_ids"]],
        _unflat(data, "e"),
        [int(s) for s in data["query_source"]],
        [str(t) for t in data["query_transform"]],
        _unflat(data, "q"),
    )
    quarters = list(zip(_unflat(data, "k"), [int(s) for s in data["quarter_source"]], strict=True))
    return corpus, quarters


if __name__ == "__main__":
    main()
