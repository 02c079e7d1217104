"""False matches between distinct videos: many neutral videos made from the corpus photos, every ordered pair.

    .venv/bin/python bench/video_fpr.py [--videos N] [--jobs J] [--cache DIR] [--json FILE]

Needs ../shared (the photos and the corpus videos) and the ``ffmpeg`` command. bench/video_recall.py shows 0
false matches in 1,518 pairs of distinct families, which bounds the rate at 2e-3 only; this bench measures it
on enough pairs to show <= 1e-4 (>= 30,000 distinct pairs with 0 false matches, the rule of three).

Videos: ``--videos N`` (<= 512) synthetic 480x360 H.264 videos made with ffmpeg in the same run from the 512
natural photos under ../shared/corpus/photos (BSDS500 + Kodak: 512 different scenes), plus the 12 corpus
originals of bench/video_recall.py (``ORIGINALS``). Each synthetic video is 4-8 s: a slow pan or zoom ("Ken
Burns") over one photo, then a cut to a second photo (held still or slowly zoomed); some open with a title
card (a flat colour with a white caption, from 4 colours x 4 captions, so unrelated videos share identical
title frames, as real channels' intros do), some fade in from and out to black. The photos are shuffled
(fixed seed); videos 0..M/2-1 take photos (2j, 2j+1), videos M/2.. take (2j+1, 2j+2): each photo is in at
most two videos, once panned, once cut to. Pairs of videos that share a photo are excluded (and counted);
every other ordered pair (upload A, stored B, A != B) is of distinct videos.

Hashing: exactly the server's path for an upload, ``redline.signals.hash_video(path, SignalLimits(),
between=True)`` (the ``redline`` ffmpeg frame hasher; the stored side ignores the ``between`` frames, and
the sampled frames are the stored side's), in ``--jobs`` processes. Judging: every distinct ordered pair
(upload A, stored B) is ``redline.match.video.compare_as_server(A.frames, B.frames, 31, 50)``, the function
bench/video_recall.py uses (about 0.3 ms a pair: brute force over all ~270,000 pairs fits, ``--jobs``
processes), then again with ``redline.match.video.VIDEO_MATCH_PCT`` set to 40 (the module's constant, which
``decide`` reads; put back after). Frame selection and the rule are imported, never copied here, so this
stays true when they change.

Frame level (as bench/video_recall.py counts it): each upload's ``query_frames`` PDQ hashes against each
stored video's ``stored_frames`` PDQ hashes of quality >= 50, over the same distinct pairs, in numpy blocks;
the same pass finds the pairs with *any* hash (every hash field of those frames) within 31, a superset of
what ``compare_as_server`` can find: a pair where it found a frame outside that set fails the run.

Positive control (``--controls K``): K of the synthetic videos re-encoded at 240p 150 kb/s must be found as
their source by the same ``compare_as_server``, so a 0 is not a matcher that never matches; a miss fails the
run.

``--cache DIR`` keeps the videos and their frame hashes (keyed by the recipe, and by the hasher's source and
``SignalLimits()``) for reruns. Prints JSON lines.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import random
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

import redline.match.video as match_video  # noqa: E402
import redline.signals.video_frames as video_frames  # noqa: E402
from redline.signals import hash_video  # noqa: E402
from redline.signals.limits import SignalLimits  # noqa: E402
from redline.signals.video import VideoFrame, query_frames, stored_frames  # noqa: E402
from video_recall import CORPUS, ORIGINALS  # noqa: E402

PHOTOS = HERE.parents[1] / "shared" / "corpus" / "photos"
THRESHOLD = 31
MIN_QUALITY = 50
SEED = 18
W, H, FPS = 480, 360, 25
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
CARD_COLOURS = ["0x1a2a4a", "0x101010", "0xf0f0f0", "0x6a1010"]
CARD_TEXTS = ["PART 1", "Chapter One", "Episode 3", "Intro"]
H264 = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p", "-an"]
#: The positive control's edit: 240p at 150 kb/s (a copy each synthetic video must still match).
CONTROL_EDIT = [
    "-vf",
    "scale=-2:240",
    "-c:v",
    "libx264",
    "-b:v",
    "150k",
    "-maxrate",
    "150k",
    "-bufsize",
    "300k",
]
COVER = f"scale={W * 4}:{H * 4}:force_original_aspect_ratio=increase,crop={W * 4}:{H * 4}"
#: (the hasher's code, the limits): cached hashes from another hasher are not reused
HASHER_KEY = hashlib.sha256(
    Path(video_frames.__file__).read_bytes() + repr(SignalLimits()).encode()
).hexdigest()[:12]


@dataclass
class Video:
    name: str
    photos: frozenset[str]
    frames: list[VideoFrame]
    seconds: float
    #: how it was made (None: a corpus original)
    recipe: dict[str, Any] | None = None


def photo_list() -> list[Path]:
    photos = sorted(p for p in PHOTOS.rglob("*") if p.suffix.lower() in {".jpg", ".png"})
    random.Random(SEED).shuffle(photos)
    return photos


def pairing(index: int, photos: list[Path]) -> tuple[Path, Path]:
    """Video ``index``'s (panned photo, cut-to photo): see the module docstring."""
    half = len(photos) // 2
    j, second_pass = index % half, index >= half
    if second_pass:
        return photos[2 * j + 1], photos[(2 * j + 2) % len(photos)]
    return photos[2 * j], photos[2 * j + 1]


def motion(kind: str, frames: int) -> str:
    """zoompan arguments for a slow move over ``frames`` frames."""
    centre = "x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)'"
    moves = {
        "zoom_in": f"z='1+0.25*on/{frames}':{centre}",
        "zoom_out": f"z='1.25-0.25*on/{frames}':{centre}",
        "pan_right": f"z='1.2':x='(iw-iw/zoom)*on/{frames}':y='(ih-ih/zoom)/2'",
        "pan_left": f"z='1.2':x='(iw-iw/zoom)*(1-on/{frames})':y='(ih-ih/zoom)/2'",
        "pan_down": f"z='1.2':x='(iw-iw/zoom)/2':y='(ih-ih/zoom)*on/{frames}'",
        "still": f"z='1.0':{centre}",
        "slow_zoom": f"z='1+0.08*on/{frames}':{centre}",
    }
    return f"zoompan={moves[kind]}:d={frames}:s={W}x{H}:fps={FPS}"


def recipe(index: int, photos: list[Path]) -> dict[str, Any]:
    """Everything that makes video ``index`` (seeded by its index: the same video on every run)."""
    rng = random.Random(f"{SEED}:{index}")
    first, second = pairing(index, photos)
    card = rng.random() < 0.35
    return {
        "first": str(first.relative_to(PHOTOS)),
        "second": str(second.relative_to(PHOTOS)),
        "move": rng.choice(["zoom_in", "zoom_out", "pan_right", "pan_left", "pan_down"]),
        "first_s": round(rng.uniform(2.5, 4.0), 2),
        "cut_move": rng.choice(["still", "slow_zoom"]),
        "second_s": round(rng.uniform(1.5, 2.5), 2),
        "card": [rng.choice(CARD_COLOURS), rng.choice(CARD_TEXTS), round(rng.uniform(1.0, 1.5), 2)]
        if card
        else None,
        "fade_in": rng.random() < 0.5,
        "fade_out": rng.random() < 0.5,
    }


def ffmpeg_args(r: dict[str, Any], target: Path) -> list[str]:
    a_frames, b_frames = round(r["first_s"] * FPS), round(r["second_s"] * FPS)
    parts = [
        f"[0:v]{COVER},{motion(r['move'], a_frames)},setsar=1,format=yuv420p[a]",
        f"[1:v]{COVER},{motion(r['cut_move'], b_frames)},setsar=1,format=yuv420p[b]",
    ]
    inputs, total = "[a][b]", r["first_s"] + r["second_s"]
    if r["card"]:
        colour, text, seconds = r["card"]
        parts.insert(
            0,
            f"color=c={colour}:s={W}x{H}:r={FPS}:d={seconds},drawtext=fontfile={FONT}:text='{text}'"
            ":fontcolor=white:fontsize=44:x=(w-tw)/2:y=(h-th)/2:borderw=2,setsar=1,format=yuv420p[t]",
        )
        inputs, total = "[t]" + inputs, total + seconds
    tail = f"concat=n={inputs.count('[')}:v=1:a=0"
    if r["fade_in"]:
        tail += ",fade=t=in:st=0:d=0.5"
    if r["fade_out"]:
        tail += f",fade=t=out:st={total - 0.6:.2f}:d=0.6"
    graph = ";".join([*parts, f"{inputs}{tail}[v]"])
    first, second = PHOTOS / r["first"], PHOTOS / r["second"]
    return ["ffmpeg", "-v", "error", "-y", "-i", str(first), "-i", str(second), "-filter_complex", graph]


def make_and_hash(
    job: tuple[str, dict[str, Any] | None, str, str],
) -> tuple[str, list[dict[str, Any]], float]:
    """(name, frames as dicts, seconds spent) for one video: made from its recipe when it has one."""
    name, r, source, cache = job
    started = time.perf_counter()
    key = Path(cache) / f"{name}.{HASHER_KEY}.frames.json"
    if key.exists():
        return name, json.loads(key.read_text()), 0.0
    path = Path(source)
    if r is not None and not path.exists():
        partial = path.with_suffix(".part.mp4")
        if "copy_of" in r:  # a positive control: a low-bitrate 240p re-encode of a synthetic video
            command = ["ffmpeg", "-v", "error", "-y", "-i", r["copy_of"], *CONTROL_EDIT, str(partial)]
        else:
            command = [*ffmpeg_args(r, path), "-map", "[v]", *H264, str(partial)]
        subprocess.run(command, check=True, timeout=600)
        partial.rename(path)
    # Hashed as an upload (with the frames between the sampled ones): the sampled frames are exactly the
    # stored side's, which ignores ``between``, so one hashing serves both roles.
    frames = [dataclasses.asdict(f) for f in hash_video(path, SignalLimits(), between=True).frames]
    key.write_text(json.dumps(frames))
    return name, frames, time.perf_counter() - started


def hash_fields(frame: VideoFrame, between: bool) -> list[str]:
    """Every hash a frame carries (pdq, mirror, box, crop, the (hash, quality) pairs of its quadrants and
    narrowed crops, and any added later); with ``between`` (the upload's side) also every whole frame
    between it and the next sampled one, (time, hash, quality) each."""
    found: list[str] = []
    for f in dataclasses.fields(frame):
        value = getattr(frame, f.name)
        if f.name == "between":
            found += [item[1] for item in value] if between else []
        elif isinstance(value, str) and value:
            found.append(value)
        elif isinstance(value, (tuple, list)):
            found += [pair[0] for pair in value if pair and pair[0]]
    return found


def words(hashes: list[str]) -> np.ndarray:
    raw = b"".join(bytes.fromhex(h) for h in hashes)
    return np.frombuffer(raw, dtype=">u8").astype(np.uint64).reshape(len(hashes), 4)


@dataclass
class Side:
    """One side's codes of every video, concatenated: ``starts[v]:starts[v + 1]`` are video v's rows."""

    codes: np.ndarray
    starts: np.ndarray
    #: the rows bench/video_recall.py counts at the frame level (PDQ of the frame, quality >= 50)
    frame_level: np.ndarray


def side(videos: list[Video], pick: Any, between: bool) -> Side:
    hashes: list[str] = []
    level: list[bool] = []
    starts = [0]
    for v in videos:
        for f in pick(v.frames):
            every = hash_fields(f, between)
            hashes += every
            level += [
                h == f.pdq and i == every.index(f.pdq) and f.quality >= MIN_QUALITY
                for i, h in enumerate(every)
            ]
        starts.append(len(hashes))
    return Side(words(hashes), np.array(starts), np.array(level, dtype=bool))


def segment_sums(matrix: np.ndarray, starts: np.ndarray, axis: int) -> np.ndarray:
    """Sums of ``matrix`` over the row (axis 0) or column (axis 1) segments ``starts`` (empty ones are 0)."""
    cum = np.cumsum(matrix, axis=axis, dtype=np.int64)
    pad = [(0, 0), (0, 0)]
    pad[axis] = (1, 0)
    cum = np.pad(cum, pad)
    return np.diff(np.take(cum, starts, axis=axis), axis=axis)


def hits_by_pair(up: Side, st: Side, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(any-hash hits, frame-level hits) within THRESHOLD for every (upload, stored) video pair, n x n."""
    any_hits = np.zeros((n, n), dtype=np.int64)
    level_hits = np.zeros((n, n), dtype=np.int64)
    rows_per_block = 512
    v = 0
    while v < n:  # blocks of whole upload videos
        w = v + 1
        while w < n and up.starts[w + 1] - up.starts[v] <= rows_per_block:
            w += 1
        lo, hi = up.starts[v], up.starts[w]
        a = up.codes[lo:hi]
        d = np.zeros((hi - lo, len(st.codes)), dtype=np.uint16)
        for k in range(4):
            d += np.bitwise_count(a[:, k, None] ^ st.codes[None, :, k])
        close = d <= THRESHOLD
        local = up.starts[v : w + 1] - lo
        any_hits[v:w] = segment_sums(segment_sums(close, local, 0), st.starts, 1)
        level = close & up.frame_level[lo:hi, None] & st.frame_level[None, :]
        level_hits[v:w] = segment_sums(segment_sums(level, local, 0), st.starts, 1)
        v = w
    return any_hits, level_hits


def upper_bound(found: int, pairs: int) -> float:
    """95 % upper bound on a rate: the rule of three for 0 found, else Wilson's score interval."""
    if pairs == 0:
        return 1.0
    if found == 0:
        return 3.0 / pairs
    p, z = found / pairs, 1.96
    centre = p + z * z / (2 * pairs)
    spread = z * ((p * (1 - p) + z * z / (4 * pairs)) / pairs) ** 0.5
    return (centre + spread) / (1 + z * z / pairs)


#: set before the judging pool forks: its workers inherit them
VIDEOS: list[Video] = []
EXCLUDED: np.ndarray = np.zeros((0, 0), dtype=bool)

Verdict = tuple[int, int, bool, float, float | None, int]


def judge_upload(job: tuple[int, float]) -> list[Verdict]:
    """Upload ``a`` against every stored video it is distinct from, ``compare_as_server`` with
    ``VIDEO_MATCH_PCT`` at ``pct``: (a, b, matched, upload_pct, stored_pct, matched_frames) per pair."""
    a, pct = job
    kept = match_video.VIDEO_MATCH_PCT
    match_video.VIDEO_MATCH_PCT = pct
    try:
        out: list[Verdict] = []
        for b, stored in enumerate(VIDEOS):
            if EXCLUDED[a, b]:
                continue
            matched, o = match_video.compare_as_server(
                VIDEOS[a].frames, stored.frames, THRESHOLD, MIN_QUALITY
            )
            out.append((a, b, matched, o.upload_pct, o.stored_pct, o.matched_frames))
        return out
    finally:
        match_video.VIDEO_MATCH_PCT = kept


def kind(video: Video) -> str:
    return "syn" if video.name.startswith("syn") else "orig"


def emit(record: dict[str, Any], sink: list[dict[str, Any]]) -> None:
    print(json.dumps(record), flush=True)
    sink.append(record)


def make_all(
    args: argparse.Namespace, photos: list[Path]
) -> tuple[list[Video], list[tuple[Video, int]], int]:
    """Every video made (the synthetic ones) and hashed in ``--jobs`` processes: (videos, the controls with
    the index of their source, how many were hashed now rather than read from the cache)."""
    jobs: list[tuple[str, dict[str, Any] | None, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.cache or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(args.videos):
            r = recipe(i, photos)
            name = f"syn{i:04d}-{hashlib.sha256(json.dumps(r, sort_keys=True).encode()).hexdigest()[:10]}"
            jobs.append((name, r, str(folder / f"{name}.mp4"), str(folder)))
        for family, rel in ORIGINALS.items():
            jobs.append((f"orig-{family}-{Path(rel).stem}", None, str(CORPUS / rel), str(folder)))
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            hashed = list(pool.map(make_and_hash, jobs, chunksize=4))
            # the controls after their sources exist: every (videos / controls)-th synthetic video, re-encoded
            step = max(1, args.videos // args.controls) if args.controls else 0
            copies = [
                (
                    f"ctl-{jobs[i][0]}",
                    {"copy_of": jobs[i][2]},
                    str(folder / f"ctl-{jobs[i][0]}.mp4"),
                    str(folder),
                )
                for i in range(0, args.videos, step or args.videos + 1)
            ][: args.controls]
            controls = [
                (copy, i * step) for i, copy in enumerate(pool.map(make_and_hash, copies, chunksize=4))
            ]
    videos = []
    for (name, frames, _), (_, r, _, _) in zip(hashed, jobs, strict=True):
        used = frozenset([r["first"], r["second"]]) if r else frozenset([name])
        decoded = [VideoFrame(**f) for f in frames]
        videos.append(Video(name, used, decoded, decoded[-1].timestamp_s if decoded else 0.0, r))
    copies_of = [
        (Video(c[0], frozenset(), [VideoFrame(**f) for f in c[1]], 0.0), source) for c, source in controls
    ]
    now = sum(1 for _, _, seconds in hashed if seconds > 0) + sum(1 for (_, _, s), _ in controls if s > 0)
    return videos, copies_of, now


def main() -> int:
    global VIDEOS, EXCLUDED
    parser = argparse.ArgumentParser()
    parser.add_argument("--videos", type=int, default=512, help="synthetic videos (at most the 512 photos)")
    parser.add_argument("--jobs", type=int, default=2, help="processes making, hashing and judging")
    parser.add_argument("--cache", type=Path, default=None, help="keep the videos and their hashes here")
    parser.add_argument("--controls", type=int, default=32, help="re-encoded copies that must match")
    parser.add_argument("--json", type=Path, default=None, help="also write every record here")
    args = parser.parse_args()
    if not PHOTOS.exists() or not CORPUS.exists():
        print(f"no corpus at {PHOTOS.parent}", file=sys.stderr)
        return 2
    photos = photo_list()
    if not 1 <= args.videos <= len(photos):
        parser.error(f"--videos must be 1..{len(photos)}")
    records: list[dict[str, Any]] = []
    started = time.perf_counter()
    videos, controls, hashed_now = make_all(args, photos)
    hashed_s = time.perf_counter() - started
    n = len(videos)
    same = np.eye(n, dtype=bool)
    shares_photo = np.array([[bool(a.photos & b.photos) for b in videos] for a in videos]) & ~same
    excluded = same | shares_photo
    synthetic = [v for v in videos if v.recipe]
    emit(
        {
            "event": "videos",
            "synthetic": len(synthetic),
            "corpus_originals": n - len(synthetic),
            "with_title_card": sum(1 for v in synthetic if v.recipe and v.recipe["card"]),
            "fade_in": sum(1 for v in synthetic if v.recipe and v.recipe["fade_in"]),
            "fade_out": sum(1 for v in synthetic if v.recipe and v.recipe["fade_out"]),
            "synthetic_seconds_mean": round(float(np.mean([v.seconds for v in synthetic])), 2),
            "frames_per_video_mean": round(float(np.mean([len(v.frames) for v in videos])), 1),
            "ordered_pairs_sharing_a_photo_excluded": int(shares_photo.sum()),
            "made_and_hashed_s": round(hashed_s, 1),
            "hashed_now": hashed_now,
            "jobs": args.jobs,
        },
        records,
    )

    # Positive control: copies of these videos are found (a 0 below is not a matcher that never matches).
    found = [
        match_video.compare_as_server(copy.frames, videos[i].frames, THRESHOLD, MIN_QUALITY)[0]
        for copy, i in controls
    ]
    emit(
        {
            "event": "control",
            "edit": " ".join(CONTROL_EDIT),
            "copies": len(found),
            "found_as_their_source": sum(found),
            "missed": [copy.name for (copy, _), hit in zip(controls, found, strict=True) if not hit],
        },
        records,
    )

    # Frame level, and every pair with any hash of one within THRESHOLD of the other's (numpy).
    t = time.perf_counter()
    up = side(videos, lambda frames: query_frames(frames, MIN_QUALITY), between=True)
    st = side(videos, stored_frames, between=False)
    any_hits, level_hits = hits_by_pair(up, st, n)
    up_level = segment_sums(up.frame_level[:, None].astype(np.int64), up.starts, 0)[:, 0]
    st_level = segment_sums(st.frame_level[:, None].astype(np.int64), st.starts, 0)[:, 0]
    frame_pairs = int((np.outer(up_level, st_level) * ~excluded).sum())
    frame_hits = int((level_hits * ~excluded).sum())
    emit(
        {
            "event": "frames",
            "threshold": THRESHOLD,
            "frame_pairs": frame_pairs,
            "frame_pairs_within": frame_hits,
            "rate": frame_hits / frame_pairs if frame_pairs else 0.0,
            "upper_95": upper_bound(frame_hits, frame_pairs),
            "video_pairs_with_a_frame_within": int(((level_hits > 0) & ~excluded).sum()),
            "video_pairs_with_any_hash_within": int(((any_hits > 0) & ~excluded).sum()),
            "query_hashes": len(up.codes),
            "stored_hashes": len(st.codes),
            "seconds": round(time.perf_counter() - t, 1),
        },
        records,
    )

    # Every distinct ordered pair through compare_as_server, at the module's VIDEO_MATCH_PCT and at 40 %.
    VIDEOS, EXCLUDED = videos, excluded
    inconsistent = 0
    for pct in (match_video.VIDEO_MATCH_PCT, 40.0):
        t = time.perf_counter()
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            verdicts = [
                v for row in pool.map(judge_upload, [(a, pct) for a in range(n)], chunksize=8) for v in row
            ]
        false = [v for v in verdicts if v[2]]
        # compare_as_server found a frame only where the numpy pass saw a hash within THRESHOLD
        inconsistent += sum(1 for a, b, _, _, _, frames in verdicts if frames > 0 and any_hits[a, b] == 0)
        by_kind: dict[str, list[int]] = {}
        for a, b, matched, *_ in verdicts:
            counts = by_kind.setdefault(f"{kind(videos[a])}-{kind(videos[b])}", [0, 0])
            counts[0] += int(matched)
            counts[1] += 1
        closest = sorted(verdicts, key=lambda v: (-max(v[3], v[4] or 0.0), -v[5]))[:5]
        emit(
            {
                "event": "false_matches",
                "video_match_pct": pct,
                "videos": n,
                "ordered_distinct_pairs": len(verdicts),
                "false_video_matches": len(false),
                "rate": len(false) / len(verdicts),
                "upper_95": upper_bound(len(false), len(verdicts)),
                "by_kind_false_pairs": by_kind,
                "pairs_with_a_frame_found": sum(1 for v in verdicts if v[5] > 0),
                "closest": [
                    {
                        "upload": videos[a].name,
                        "stored": videos[b].name,
                        "upload_pct": up_pct,
                        "stored_pct": st_pct,
                        "matched_frames": frames,
                    }
                    for a, b, _, up_pct, st_pct, frames in closest
                ],
                "matches": [[videos[a].name, videos[b].name, u, s, f] for a, b, _, u, s, f in false[:20]],
                "seconds": round(time.perf_counter() - t, 1),
            },
            records,
        )
    emit(
        {"event": "done", "total_s": round(time.perf_counter() - started, 1), "inconsistent": inconsistent},
        records,
    )
    if args.json:
        args.json.write_text(json.dumps(records, indent=2))
    return 1 if inconsistent or not all(found) else 0


if __name__ == "__main__":
    sys.exit(main())
