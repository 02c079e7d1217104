"""Which stored regions and query hashes robust matching actually needs: the pairs that find each copy.

    .venv/bin/python bench/robust_pairs.py --step 8 --cache var/robust-pairs-8.json
    .venv/bin/python bench/robust_pairs.py --cache var/robust-pairs-8.json --top 40   # re-analyse, no hashing

Hashes every photo's stored set and every edited copy's query set (as bench/robustness.py does), then, for
each copy against its *own* original only, every (query hash, stored hash) pair within 64 bits. From those it
prints, per label, how many copies that label's pairs alone would find, and a greedy selection of stored
regions and query labels, cheapest first, with the recall each step reaches at a given radius. A smaller
rule (fewer labels, lower radii) can only lose matches, never add false ones, so this is how the recipe is
cut down without re-measuring false matches for every candidate (the chosen one is re-measured in full).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from redline.eval import harness
from redline.eval.transforms import TRANSFORMS
from redline.signals.robust import MIN_QUALITY, WHOLE_THRESHOLD

DEFAULT_PHOTOS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "photos"
#: Pairs further apart than this are not kept (no rule looks beyond the whole-upload threshold).
KEEP = WHOLE_THRESHOLD


def family(label: str) -> str:
    """A query label without its offsets (``window_0.9_+0.02_-0.04`` -> ``window_0.9``), for reading."""
    parts = label.split("_")
    while parts and parts[-1][:1] in "+-" and parts[-1][1:2].isdigit():
        parts.pop()
    return "_".join(parts)


def hash_pairs(photos_dir: Path, step: int, jobs: int) -> dict[str, object]:
    photos = harness.load_photos(photos_dir)[::step]
    corpus = harness.hash_corpus(photos, TRANSFORMS, jobs=jobs)
    copies = []
    for source, transform, queries in zip(
        corpus.query_source, corpus.query_transform, corpus.queries, strict=True
    ):
        if transform == harness.ORIGINAL:
            continue
        stored = corpus.entries[source]
        q_ok = [q for q in queries if q.quality >= MIN_QUALITY]
        s_ok = [s for s in stored if s.quality >= MIN_QUALITY]
        pairs = []
        for q in q_ok:
            qv = int.from_bytes(q.code, "big")
            for s in s_ok:
                d = (qv ^ int.from_bytes(s.code, "big")).bit_count()
                if d <= KEEP:
                    pairs.append((q.label, s.label, d))
        plain = (int.from_bytes(queries[0].code, "big") ^ int.from_bytes(stored[0].code, "big")).bit_count()
        copies.append(
            {
                "photo": corpus.photo_ids[source],
                "transform": transform,
                "plain": plain if min(queries[0].quality, stored[0].quality) >= MIN_QUALITY else 256,
                "pairs": pairs,
                "queries": len(queries),
            }
        )
    return {"photos": len(photos), "copies": copies}


#: Whether the whole-upload hashes are compared at the whole-upload threshold with the stored whole picture
#: only (``--whole-full-only``), and at the region radius with every other stored hash.
WHOLE_FULL_ONLY = False


def limit(q: str, s: str, radius: int, whole: int) -> int:
    if q in ("full", "mirror") and (s == "full" or not WHOLE_FULL_ONLY):
        return whole
    return radius


def found(copy: dict, stored: set[str] | None, queries: set[str] | None, radius: int, whole: int) -> bool:
    """Whether ``copy`` is found by the rule limited to those labels (None: all) at those radii."""
    if copy["plain"] <= 31:
        return True
    for q, s, d in copy["pairs"]:
        if stored is not None and s not in stored:
            continue
        if queries is not None and q not in queries:
            continue
        if d <= limit(q, s, radius, whole):
            return True
    return False


def recall(copies: list[dict], *args: object) -> float:
    return float(np.mean([found(c, *args) for c in copies]))  # type: ignore[arg-type]


def greedy(
    chosen: set[str], pool: set[str], score: Callable[[set[str]], float], target: float, what: str
) -> set[str]:
    """Add from ``pool`` the label that raises ``score`` most, one at a time, until ``target``."""
    chosen, pool = set(chosen), set(pool)
    while pool:
        best = max(pool, key=lambda label: score(chosen | {label}))
        chosen.add(best)
        pool.discard(best)
        got = score(chosen)
        print(f"{len(chosen):3d} {what} +{best:28s} {100 * got:.1f}%")
        if got >= target - 1e-9:
            break
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--step", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--cache", type=Path, required=True, help="hashed pairs (written or read)")
    parser.add_argument("--radius", type=int, default=45)
    parser.add_argument("--whole", type=int, default=WHOLE_THRESHOLD)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument(
        "--whole-full-only", action="store_true", help="whole-upload hashes at --whole vs full"
    )
    parser.add_argument("--groups", default="", help="transforms to score (comma-separated)")
    args = parser.parse_args()
    global WHOLE_FULL_ONLY
    WHOLE_FULL_ONLY = args.whole_full_only
    if args.cache.exists():
        data = json.loads(args.cache.read_text())
    else:
        data = hash_pairs(args.photos, args.step, args.jobs)
        args.cache.parent.mkdir(parents=True, exist_ok=True)
        args.cache.write_text(json.dumps(data))
    copies = data["copies"]
    if args.groups:
        wanted = {g for g in args.groups.split(",")}
        copies = [c for c in copies if c["transform"] in wanted]
    r, w = args.radius, args.whole
    full = recall(copies, None, None, r, w)
    print(f"# {data['photos']} photos, {len(copies)} copies; all labels at {r}/{w}: {100 * full:.1f}%")
    by_transform: dict[str, list[dict]] = defaultdict(list)
    for c in copies:
        by_transform[c["transform"]].append(c)

    # Minimum distance per copy, to see how much radius the current rule needs.
    best = [min([d for _, _, d in c["pairs"]] or [256]) for c in copies]
    print("# best pair distance percentiles:", {p: int(np.percentile(best, p)) for p in (50, 80, 90, 95, 99)})

    stored_counts: Counter[str] = Counter()
    query_counts: Counter[str] = Counter()
    for c in copies:
        stored_counts.update({s for q, s, d in c["pairs"] if d <= limit(q, s, r, w)})
        query_counts.update({q for q, s, d in c["pairs"] if d <= limit(q, s, r, w)})
    print("# stored labels by copies they reach:", stored_counts.most_common(args.top))
    fams: Counter[str] = Counter()
    for c in copies:
        fams.update({family(q) for q, s, d in c["pairs"] if d <= limit(q, s, r, w)})
    print("# query families by copies they reach:", fams.most_common(args.top))

    # Greedy: stored labels first (memory and search cost scale with them), all queries allowed; then
    # query labels for that stored set.
    print(f"\n# greedy stored regions at {r}/{w} (all query labels)")
    chosen_s = greedy({"full"}, set(stored_counts), lambda s: recall(copies, s, None, r, w), full, "stored ")
    print(f"\n# greedy query labels for those {len(chosen_s)} stored regions at {r}/{w}")
    all_q = {q for c in copies for q, _, _ in c["pairs"]}
    target = recall(copies, chosen_s, None, r, w)
    chosen_q = greedy(set(), all_q, lambda q: recall(copies, chosen_s, q, r, w), target, "queries")
    print("\n# per transform with the chosen labels vs all labels")
    for name, group in by_transform.items():
        a = recall(group, None, None, r, w)
        b = recall(group, chosen_s, chosen_q, r, w)
        print(f"| {name} | {100 * a:.1f}% | {100 * b:.1f}% |")
    print("stored:", sorted(chosen_s))
    print("queries:", sorted(chosen_q))


if __name__ == "__main__":
    main()
