"""The robustness benchmark as a library: hash originals and transformed copies, score match rules.

Flow: :func:`load_photos` reads a folder of distinct images; :func:`hash_corpus` stores each original the way
a survivor's device would (:func:`redline.signals.robust.entry_hashes`) and hashes every transformed copy
the way a platform would (:func:`redline.signals.robust.query_hashes`); :func:`pair_distances` compares every
query with every stored entry; :func:`report` turns that into recall per transform and false-positive rates
for the plain-PDQ baseline and the robust rule, all from the same hashes in the same run.

False positives are counted per (query, stored image) pair where the two are different photos:
``distinct`` uses the untouched originals as queries (every ordered pair of distinct photos), ``all`` uses
every transformed query too (what a platform sees), ``hard`` uses halves of the same photo (see
:func:`half_photos`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

from redline.eval import distances
from redline.eval.transforms import TRANSFORMS, Transform, apply_transform, transform_named
from redline.signals.robust import (
    MIN_QUALITY,
    ROBUST_THRESHOLD,
    WHOLE_THRESHOLD,
    RegionHash,
    entry_hashes,
    query_hashes,
)
from redline.signals.types import PdqSignal

ORIGINAL = "original"
PLAIN_THRESHOLD = PdqSignal.default_threshold
TARGET_FPR = 1e-4
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}
#: Transforms applied to the hard-negative halves (a subset, to bound the run time).
#: How much looser the whole-upload hashes (plain, mirrored) are than every other query hash.
WHOLE_SLACK = WHOLE_THRESHOLD - ROBUST_THRESHOLD
HARD_NEGATIVE_TRANSFORMS = ("crop_10", "pad_20_blur", "rotate_+4", "screenshot", "jpeg_50")


@dataclass(frozen=True)
class Photo:
    id: str
    image: Image.Image


def load_photos(folder: Path, limit: int | None = None) -> list[Photo]:
    """Every image under ``folder`` (sorted by path, so runs are comparable), at most ``limit``."""
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if limit is not None:
        paths = paths[:limit]
    return [Photo(str(p.relative_to(folder)), Image.open(p).convert("RGB")) for p in paths]


def half_photos(photos: Iterable[Photo]) -> list[Photo]:
    """Hard negatives: each photo cut into two halves that share no pixels (left/right, or top/bottom for
    portrait photos). The two halves show the same place, light and camera — "same scene, different photo",
    like two frames of a pan — yet neither contains the other, so any match between them is false."""
    halves = []
    for photo in photos:
        w, h = photo.image.size
        if w >= h:
            boxes = ((0, 0, w // 2, h), (w - w // 2, 0, w, h))
        else:
            boxes = ((0, 0, w, h // 2), (0, h - h // 2, w, h))
        for side, box in zip("ab", boxes, strict=True):
            halves.append(Photo(f"{photo.id}#{side}", photo.image.crop(box)))
    return halves


@dataclass
class HashedCorpus:
    photo_ids: list[str]
    entries: list[list[RegionHash]]
    #: One query per (photo, transform): its source photo's index, transform name and hashes.
    query_source: list[int] = field(default_factory=list)
    query_transform: list[str] = field(default_factory=list)
    queries: list[list[RegionHash]] = field(default_factory=list)


def _hash_one(args: tuple[Photo, tuple[str, ...]]) -> tuple[list[RegionHash], list[list[RegionHash]]]:
    photo, names = args
    pixels = np.asarray(photo.image)
    stored = entry_hashes(pixels)
    queried = []
    for name in names:
        img = photo.image
        if name != ORIGINAL:
            img = apply_transform(transform_named(name), photo.id, photo.image)
        queried.append(query_hashes(np.asarray(img)))
    return stored, queried


def hash_corpus(
    photos: Sequence[Photo], transforms: Sequence[Transform] = TRANSFORMS, jobs: int = 1
) -> HashedCorpus:
    """Store every photo and query it untouched plus once per transform (``jobs`` processes)."""
    names = (ORIGINAL, *(t.name for t in transforms))
    work = [(photo, names) for photo in photos]
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            results = list(pool.map(_hash_one, work, chunksize=4))
    else:
        results = [_hash_one(item) for item in work]
    corpus = HashedCorpus([p.id for p in photos], [stored for stored, _ in results])
    for index, (_, queried) in enumerate(results):
        for name, hashes in zip(names, queried, strict=True):
            corpus.query_source.append(index)
            corpus.query_transform.append(name)
            corpus.queries.append(hashes)
    return corpus


@dataclass(frozen=True)
class PairDistances:
    """``plain[q, e]``: plain query hash vs stored full hash; ``robust[q, e]``: the smallest distance over
    every (query hash, stored hash) pair, each measured against its query hash's own threshold and put on the
    scale of :data:`ROBUST_THRESHOLD` (distance + ROBUST_THRESHOLD - threshold), so ``robust <=
    ROBUST_THRESHOLD`` is the robust rule. 256 (plain: 256 or more) where a hash is missing or below PDQ
    quality 50."""

    plain: npt.NDArray[np.int16]
    robust: npt.NDArray[np.int16]


def _flatten(
    groups: Sequence[list[RegionHash]],
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.bool_], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """All hashes as (n, 4) uint64 rows, whether each is usable, group boundaries (:func:`distances.bounds`)
    and each row's slack (its threshold above ROBUST_THRESHOLD)."""
    raw = b"".join(h.code for group in groups for h in group)
    words = np.frombuffer(raw, dtype=np.uint64).reshape(-1, 4)
    ok = np.array([h.quality >= MIN_QUALITY for group in groups for h in group], dtype=bool)
    slack = np.array([h.threshold - ROBUST_THRESHOLD for group in groups for h in group], dtype=np.int64)
    return words, ok, distances.bounds([len(group) for group in groups]), slack


def pair_distances(queries: Sequence[list[RegionHash]], entries: Sequence[list[RegionHash]]) -> PairDistances:
    """Distances between every query and every stored entry (see :class:`PairDistances`)."""
    if not all(queries) or not all(entries):
        raise ValueError("every query and every entry needs at least one hash (its plain hash comes first)")
    e_words, e_ok, e_bounds, _ = _flatten(entries)
    q_words, q_ok, q_bounds, q_slack = _flatten(queries)
    plain = np.empty((len(queries), len(entries)), dtype=np.int16)
    robust = np.empty_like(plain)
    distances.group_minima(q_words, q_ok, q_slack, q_bounds, e_words, e_ok, e_bounds, robust, plain)
    return PairDistances(plain, robust)


@dataclass(frozen=True)
class Rule:
    """A match rule: plain distance <= ``plain``, or (when ``robust`` is set) any other pair <= ``robust``."""

    name: str
    plain: int
    robust: int | None = None

    def matches(self, d: PairDistances) -> npt.NDArray[np.bool_]:
        hit = d.plain <= self.plain
        if self.robust is not None:
            hit |= d.robust <= self.robust
        return hit


def plain_threshold_for(d: PairDistances, fpr: float) -> int:
    """The largest plain-PDQ threshold whose false-positive rate over the off-diagonal pairs is <= ``fpr``."""
    off = np.eye(*d.plain.shape) == 0
    values = np.sort(d.plain[off])
    allowed = int(fpr * len(values))
    return int(values[allowed]) - 1 if allowed < len(values) else 256


@dataclass
class Report:
    rules: list[Rule]
    transforms: list[str]
    #: recall[rule][transform], share of transformed copies matched to their own original.
    recall: dict[str, dict[str, float]]
    fpr_distinct: dict[str, float]
    fpr_all: dict[str, float]
    fpr_hard: dict[str, float]
    counts: dict[str, int]
    hashes_per_entry: float
    hashes_per_query: float
    #: robust threshold -> (overall recall, FPR over all queries, FPR on hard negatives): choosing the point.
    sweep: dict[int, tuple[float, float, float]] = field(default_factory=dict)


def report(
    corpus: HashedCorpus,
    hard: HashedCorpus | None = None,
    robust_threshold: int = ROBUST_THRESHOLD,
    sweep: Iterable[int] = (),
) -> Report:
    """Recall and false-positive rates of plain PDQ (31 and the 1e-4 threshold) and of the robust rule."""
    d = pair_distances(corpus.queries, corpus.entries)
    source = np.array(corpus.query_source)
    transform = np.array(corpus.query_transform)
    is_original = transform == ORIGINAL
    distinct = PairDistances(d.plain[is_original], d.robust[is_original])
    own = np.zeros(d.plain.shape, dtype=bool)
    own[np.arange(len(source)), source] = True
    rules = [
        Rule(f"pdq@{PLAIN_THRESHOLD}", PLAIN_THRESHOLD),
        Rule(
            f"pdq@{plain_threshold_for(distinct, TARGET_FPR)} (FPR<=1e-4)",
            plain_threshold_for(distinct, TARGET_FPR),
        ),
        Rule(
            f"robust (whole <= {robust_threshold + WHOLE_SLACK}, others <= {robust_threshold})",
            PLAIN_THRESHOLD,
            robust_threshold,
        ),
    ]
    names = [t for t in dict.fromkeys(corpus.query_transform) if t != ORIGINAL]
    recall: dict[str, dict[str, float]] = {}
    fpr_distinct: dict[str, float] = {}
    fpr_all: dict[str, float] = {}
    fpr_hard: dict[str, float] = {}
    hard_d = hard_mask = None
    if hard is not None:
        hard_d = pair_distances(hard.queries, hard.entries)
        partner = np.array([i ^ 1 for i in hard.query_source])  # halves come in (a, b) pairs
        hard_mask = np.zeros(hard_d.plain.shape, dtype=bool)
        hard_mask[np.arange(len(partner)), partner] = True
    for rule in rules:
        hit = rule.matches(d)
        recall[rule.name] = {name: float(hit[own & (transform == name)[:, None]].mean()) for name in names}
        recall[rule.name]["overall"] = float(hit[own & ~is_original[:, None]].mean())
        fpr_distinct[rule.name] = float(hit[is_original][~own[is_original]].mean())
        fpr_all[rule.name] = float(hit[~own].mean())
        if hard_d is not None and hard_mask is not None:
            fpr_hard[rule.name] = float(rule.matches(hard_d)[hard_mask].mean())
    counts = {
        "photos": len(corpus.entries),
        "queries": int((~is_original).sum()),
        "distinct_pairs": int((~own[is_original]).sum()),
        "all_pairs": int((~own).sum()),
        "hard_pairs": int(hard_mask.sum()) if hard_mask is not None else 0,
    }
    swept = {}
    for threshold in sweep:
        swept_rule = Rule("sweep", PLAIN_THRESHOLD, threshold)
        hit = swept_rule.matches(d)
        hard_fpr = (
            float(swept_rule.matches(hard_d)[hard_mask].mean())
            if (hard_d is not None and hard_mask is not None)
            else float("nan")
        )
        swept[threshold] = (float(hit[own & ~is_original[:, None]].mean()), float(hit[~own].mean()), hard_fpr)
    return Report(
        rules,
        names,
        recall,
        fpr_distinct,
        fpr_all,
        fpr_hard,
        counts,
        float(np.mean([len(e) for e in corpus.entries])),
        float(np.mean([len(q) for q in corpus.queries])),
        swept,
    )


def markdown(rep: Report) -> str:
    """The report as Markdown tables (what docs/BENCHMARKS.md shows)."""
    names = [r.name for r in rep.rules]
    lines = ["| transform | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for t in [*rep.transforms, "overall"]:
        cells = " | ".join(f"{100 * rep.recall[n][t]:.1f}%" for n in names)
        lines.append(f"| {'**overall**' if t == 'overall' else t} | {cells} |")
    lines.append("")
    lines.append("| false-positive rate | " + " | ".join(names) + " |")
    lines.append("|---" * (len(names) + 1) + "|")
    rows = [
        ("distinct originals", rep.fpr_distinct, rep.counts["distinct_pairs"]),
        ("all queries vs other photos", rep.fpr_all, rep.counts["all_pairs"]),
    ]
    if rep.fpr_hard:
        rows.append(("hard negatives (halves)", rep.fpr_hard, rep.counts["hard_pairs"]))
    for label, values, pairs in rows:
        cells = " | ".join(f"{values[n]:.2e} ({round(values[n] * pairs)})" for n in names)
        lines.append(f"| {label}, {pairs:,} pairs | {cells} |")
    if rep.counts["distinct_pairs"] < 1 / TARGET_FPR:
        lines += [
            "",
            f"Note: {rep.counts['distinct_pairs']:,} distinct pairs are too few to measure a "
            f"false-positive rate of {TARGET_FPR:g}; use more images.",
        ]
    if rep.sweep:
        lines += [
            "",
            f"| robust threshold (whole-upload hashes +{WHOLE_SLACK}) | overall recall | "
            "FPR, all queries | FPR, hard negatives |",
            "|---|---|---|---|",
        ]
        for threshold, (rec, fpr, hard_fpr) in sorted(rep.sweep.items()):
            lines.append(f"| {threshold} | {100 * rec:.1f}% | {fpr:.2e} | {hard_fpr:.2e} |")
    return "\n".join(lines)
