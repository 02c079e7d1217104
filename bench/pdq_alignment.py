"""How far PDQ moves when the hashed rectangle is a little bigger or shifted: why robust PDQ's ladder and
window steps are as fine as they are (docs/ROBUSTNESS.md).

    .venv/bin/python bench/pdq_alignment.py [--step 16]

For corpus photos, the PDQ of a centred crop (0.9, 0.73 and 0.53 of each side) is compared with the PDQ of
the same crop made ``d`` larger (scale) and of the same crop moved right by ``d`` of its own width (shift:
the unit the query's windows step in). The
baseline is the crop itself (0 bits); the matching threshold for region hashes is 45.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from redline.eval import harness
from redline.signals.robust import ROBUST_THRESHOLD, StoredRegion, crop_box, pdq_of

DEFAULT_PHOTOS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "photos"


def bits_apart(a: bytes, b: bytes) -> int:
    return int(np.unpackbits(np.frombuffer(a, np.uint8) ^ np.frombuffer(b, np.uint8)).sum())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--step", type=int, default=16, help="use every STEP-th photo")
    args = parser.parse_args()
    photos = [np.asarray(p.image) for p in harness.load_photos(args.photos)[:: args.step]]
    print(
        f"# {len(photos)} photos; bits from the unchanged crop: median / 90th percentile / share <= "
        f"{ROBUST_THRESHOLD}"
    )
    print("| crop | change | d = 1% | 2% | 3% | 4% | 5% |")
    print("|---|---|---|---|---|---|---|")
    for scale in (0.9, 0.73, 0.53):
        base = StoredRegion(scale)
        for change in ("scale", "shift"):
            cells = []
            for d in (0.01, 0.02, 0.03, 0.04, 0.05):
                grown, shifted = StoredRegion(scale * (1 + d)), StoredRegion(scale, dx=d * scale)
                moved = grown if change == "scale" else shifted
                apart = np.array(
                    [
                        bits_apart(pdq_of(crop_box(px, base.box)).code, pdq_of(crop_box(px, moved.box)).code)
                        for px in photos
                    ]
                )
                cells.append(
                    f"{np.median(apart):.0f} / {np.percentile(apart, 90):.0f} / "
                    f"{np.mean(apart <= ROBUST_THRESHOLD):.0%}"
                )
            print(f"| {scale:g} | {change} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
