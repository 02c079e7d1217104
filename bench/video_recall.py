"""Video recall: edited copies of the corpus videos against the stored originals, three ways in one run.

    .venv/bin/python bench/video_recall.py [--out DIR] [--json FILE]

Needs ../shared (the corpus videos) and the ``ffmpeg`` command (the edits). For every original (one per
family of clips: the chair cuts are one video, the pattern cuts another, example2.mp4 is a cut of
big_buck_bunny_0_30.webm), each edit of issue #18 is made with ffmpeg into a temporary folder, hashed, and
compared with every original:

* ``md5``: today's video matching (MD5 of the file): found only when the bytes are equal;
* ``hma``: HMA-style vPDQ brute force: every frame at 1 s, quality >= 50, distinct hashes, PDQ distance
  <= 31, a match when >= 80 % of the query's frames (or the stored one's) are found
  (``redline.signals.video.compare_videos`` with Meta's defaults);
* ``redline``: what the server does: stored side ``stored_frame_codes`` (what the survivor's device
  sends), query side ``query_frame_codes`` (what ``/v1/match/file`` looks up), judged by
  ``redline.match.video.decide`` (``compare_as_server``).

Recall: edits of an original found as that original. False matches: (edit or original, another family's
original) pairs reported as matches, over all such pairs; the frame-level false-match rate (frame pairs of
distinct families within the threshold) is printed too, since the pair count bounds the video-level one.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from redline.match.video import compare_as_server
from redline.signals import hash_video
from redline.signals.limits import SignalLimits
from redline.signals.video import VideoFrame, compare_videos, query_frame_codes, stored_frame_codes

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "videos"
THRESHOLD = 31
#: family -> original (relative to CORPUS)
ORIGINALS = {
    "chair": "vpdq-samples/chair-orig-22-sd-bar.mp4",
    "doorknob": "vpdq-samples/doorknob-hd-no-bar.mp4",
    "pattern": "vpdq-samples/pattern-hd-no-bar.mp4",
    "testcard": "vpdq-samples/test-padded-dimensions.mp4",
    "bbb": "clips/big_buck_bunny_0_30.webm",
    "bbb432": "clips/big_buck_bunny_432_433.webm",
    "chaplin": "clips/chaplin.mp4",
    "fire": "clips/fire2.mp4",
    "smpte": "clips/smpte-2997.mp4",
    "audio": "clips/video_with_failing_audio.mp4",
    "example": "clips/doc_medias/example.mp4",
    "example3": "clips/doc_medias/example3.mp4",
}
#: Re-shares in the corpus itself (family, file): other cuts and overlays of the same video.
RESHARES = [
    ("bbb", "clips/doc_medias/example2.mp4"),
    ("chair", "vpdq-samples/chair-19-sd-bar.mp4"),
    ("chair", "vpdq-samples/chair-22-with-large-logo-bar.mp4"),
    ("chair", "vpdq-samples/chair-22-sd-grey-bar.mp4"),
    ("pattern", "vpdq-samples/pattern-sd-with-large-logo-bar.mp4"),
    ("pattern", "vpdq-samples/pattern-sd-grey-bar.mp4"),
]
H264 = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-an"]
EVEN = "scale=trunc(iw/2)*2:trunc(ih/2)*2"


def edits(duration: float) -> dict[str, list[str]]:
    """Issue #18's edits as ffmpeg arguments (after ``-i SOURCE``)."""
    return {
        "reencode_low": ["-c:v", "libx264", "-b:v", "150k", "-maxrate", "150k", "-bufsize", "300k", "-an"],
        "360p": ["-vf", "scale=-2:360", *H264],
        "trim10": ["-ss", f"{duration * 0.10:.3f}", *H264],
        "trim30": ["-ss", f"{duration * 0.30:.3f}", *H264],
        "crop5": ["-vf", f"crop=iw*0.9:ih*0.9,{EVEN}", *H264],
        "letterbox": ["-vf", f"scale=iw*0.75:ih*0.75,pad=iw/0.75:ih/0.75:(ow-iw)/2:(oh-ih)/2,{EVEN}", *H264],
        "mirror": ["-vf", "hflip", *H264],
        "speed125": ["-vf", "setpts=PTS/1.25", *H264],
        "watermark": [
            "-vf",
            "drawbox=x=iw*0.62:y=ih*0.82:w=iw*0.34:h=ih*0.12:color=white@0.75:t=fill,"
            "drawbox=x=iw*0.04:y=ih*0.04:w=ih*0.12:h=ih*0.12:color=yellow@0.8:t=fill",
            *H264,
        ],
        # A phone's screen recording: the video shrunk inside an app's dark frame with a status bar.
        "screenrec": [
            "-vf",
            "scale=iw*0.62:ih*0.62,pad=iw/0.62:ih/0.62*1.25:(ow-iw)/2:(oh-ih)/2.4:color=0x1c1c1e,"
            f"drawbox=x=0:y=0:w=iw:h=ih*0.05:color=0x444448:t=fill,{EVEN}",
            *H264,
        ],
    }


@dataclass
class Hashed:
    family: str
    name: str
    md5: str
    #: As ``/v1/match/file`` and ``redline scan`` hash an upload (with the frames between the sampled ones);
    #: its sampled frames are exactly what the survivor's device and ``redline protect`` store, and the
    #: stored side ignores ``between``, so these serve both roles.
    frames: list[VideoFrame]
    #: 1 s sampling: HMA-style
    hma: list[VideoFrame]


def code_distances(a: list[str], b: list[str]) -> np.ndarray:
    """Hamming distances between two lists of 64-hex PDQ hashes."""
    if not a or not b:
        return np.zeros((len(a), len(b)), dtype=np.int64)
    ca = np.frombuffer(b"".join(bytes.fromhex(h) for h in a), dtype=">u8").astype(np.uint64).reshape(-1, 4)
    cb = np.frombuffer(b"".join(bytes.fromhex(h) for h in b), dtype=">u8").astype(np.uint64).reshape(-1, 4)
    return np.bitwise_count(ca[:, None, :] ^ cb[None, :, :]).sum(axis=2)


def redline_match(query: Hashed, stored: Hashed) -> bool:
    return compare_as_server(query.frames, stored.frames, THRESHOLD, 50)[0]


def hma_match(query: Hashed, stored: Hashed) -> bool:
    return compare_videos(query.hma, stored.hma).is_match


CACHE: Path | None = None


def hash_one(path: Path, family: str, name: str) -> Hashed:
    """Both hashers' frames of one file (kept under ``--cache`` by file name, for reruns)."""
    dense = _cached(path, "lookup", SignalLimits(), between=True)  # the server's and protect's hasher
    sparse = _cached(path, "hma", SignalLimits(video_hasher="vpdq", video_fps=1.0))
    return Hashed(family, name, dense[0], dense[1], sparse[1])


def _cached(
    path: Path, kind: str, limits: SignalLimits, between: bool = False
) -> tuple[str, list[VideoFrame]]:
    key = CACHE / f"{path.name}.{kind}.json" if CACHE else None
    if key is not None and key.exists():
        raw = json.loads(key.read_text())
        return raw["md5"], [_frame(f) for f in raw["frames"]]
    signals = hash_video(path, limits, between=between)
    if key is not None:
        key.write_text(json.dumps({"md5": signals.md5, "frames": [f.__dict__ for f in signals.frames]}))
    return signals.md5, signals.frames


def _frame(raw: dict[str, object]) -> VideoFrame:
    """A cached frame (JSON turned the tuples into lists)."""
    for key in ("quadrants", "narrowed", "between"):
        if key in raw:
            raw[key] = tuple(tuple(x) for x in raw[key])  # type: ignore[attr-defined]
    return VideoFrame(**raw)  # type: ignore[arg-type]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--cache", type=Path, default=None, help="keep edited clips and hashes here")
    parser.add_argument("--verbose", action="store_true", help="print each copy's verdicts")
    args = parser.parse_args()
    global CACHE
    if args.cache:
        args.cache.mkdir(parents=True, exist_ok=True)
        CACHE = args.cache
    if not CORPUS.exists():
        print(f"no corpus at {CORPUS}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    originals = {fam: hash_one(CORPUS / rel, fam, "original") for fam, rel in ORIGINALS.items()}
    queries: list[Hashed] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.cache or Path(tmp)
        for fam, rel in ORIGINALS.items():
            source = CORPUS / rel
            duration = originals[fam].frames[-1].timestamp_s + 0.1
            for edit, ffargs in edits(duration).items():
                target = folder / f"{fam}-{edit}.mp4"
                if not target.exists():
                    cmd = ["ffmpeg", "-v", "error", "-y", "-i", str(source), *ffargs, str(target)]
                    subprocess.run(cmd, check=True, timeout=600)
                queries.append(hash_one(target, fam, edit))
    for fam, rel in RESHARES:
        queries.append(hash_one(CORPUS / rel, fam, "corpus:" + Path(rel).name))
    hashed_s = time.perf_counter() - started

    methods = {
        "md5": lambda q, s: q.md5 == s.md5,
        "hma": hma_match,
        "redline": redline_match,
    }
    recall: dict[str, dict[str, list[bool]]] = {m: {} for m in methods}
    false: dict[str, list[int]] = {m: [0, 0] for m in methods}
    for q in queries:
        if args.verbose:
            verdicts = " ".join(f"{m}={int(fn(q, originals[q.family]))}" for m, fn in methods.items())
            print(f"{q.family:10} {q.name:22} {verdicts}")
        for m, fn in methods.items():
            recall[m].setdefault(q.name if not q.name.startswith("corpus:") else "corpus_reshare", []).append(
                fn(q, originals[q.family])
            )
    # False matches: every query and every original against every other family's original.
    negatives = [*queries, *originals.values()]
    for q in negatives:
        for fam, s in originals.items():
            if fam == q.family:
                continue
            for m, fn in methods.items():
                false[m][0] += int(fn(q, s))
                false[m][1] += 1
    # Frame-level: every stored hash of each original (whole frame, box, crop, quadrants) vs every hash the
    # server looks an upload of another family up by (whole, box, mirror, quadrants, narrowed crops).
    frame_pairs = frame_hits = 0
    for q in negatives:
        asked = [c.value for c in query_frame_codes(q.frames, 50)]
        for fam, s in originals.items():
            if fam != q.family:
                kept = [c.value for c in stored_frame_codes(s.frames) if c.quality >= 50]
                d = code_distances(asked, kept)
                frame_pairs += d.size
                frame_hits += int((d <= THRESHOLD).sum())

    report: dict[str, object] = {"hashing_s": round(hashed_s, 1), "queries": len(queries)}
    print(f"{len(queries)} edited/re-shared copies of {len(originals)} originals, hashed in {hashed_s:.0f} s")
    edits_seen = list(recall["redline"])
    print(f"{'edit':16}" + "".join(f"{m:>10}" for m in methods))
    for e in edits_seen:
        print(f"{e:16}" + "".join(f"{sum(recall[m][e])}/{len(recall[m][e]):<6}".rjust(10) for m in methods))
    for m in methods:
        every = [x for e in edits_seen for x in recall[m][e]]
        fm, pairs = false[m]
        share = sum(every) / len(every)
        print(f"{m:8} recall {sum(every)}/{len(every)} = {share:.1%}; false matches {fm}/{pairs}")
        report[m] = {
            "recall": round(sum(every) / len(every), 4),
            "found": sum(every),
            "copies": len(every),
            "by_edit": {e: [sum(recall[m][e]), len(recall[m][e])] for e in edits_seen},
            "false_matches": fm,
            "negative_pairs": pairs,
        }
    print(f"frame pairs of distinct videos within {THRESHOLD}: {frame_hits}/{frame_pairs}")
    report["frame_false"] = [frame_hits, frame_pairs]
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
