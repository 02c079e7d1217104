"""Video signals: conformance with Meta's vPDQ reference output, matching between variants, errors."""

from __future__ import annotations

import hashlib
import shutil
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redline.signals import SignalError, VideoFrame, VideoSignals, compare_videos, hash_file, hash_video
from redline.signals.limits import SignalLimits
from tests.support.media import pdq_distance

pytestmark = pytest.mark.shared

SAMPLES = "videos/vpdq-samples"
CLIPS = "videos/clips"
EXTRA = ["big_buck_bunny_0_30.webm", "big_buck_bunny_432_433.webm", "doc_medias/example2.mp4"]


#: Meta's vpdq (the conformance target); the matching hasher is tests/signals/test_video_frames.py's.
VPDQ = SignalLimits(video_hasher="vpdq")


def _vpdq(path: Path) -> VideoSignals:
    return hash_video(path, VPDQ)


@pytest.fixture(scope="session")
def hashed(corpus: Path) -> dict[str, VideoSignals]:
    """Every sample hashed once per session with Meta's vpdq at the default rate."""
    paths = sorted((corpus / SAMPLES).glob("*.mp4")) + [corpus / CLIPS / name for name in EXTRA]
    with ThreadPoolExecutor(max_workers=2) as pool:  # each hash runs in its own child process
        return dict(zip((p.name for p in paths), pool.map(_vpdq, paths), strict=True))


def test_signals_of_a_video(corpus: Path, hashed: dict[str, VideoSignals]) -> None:
    path = corpus / SAMPLES / "chair-orig-22-sd-bar.mp4"
    signals = hashed[path.name]
    data = path.read_bytes()
    assert signals.media_type == "video" and signals.container == "MP4"
    assert signals.size == len(data)
    assert signals.md5 == hashlib.md5(data).hexdigest()
    assert signals.sha256 == hashlib.sha256(data).hexdigest()
    assert signals.fps == SignalLimits().video_fps == 10.0
    assert 21.5 <= signals.duration_s <= 22.5
    assert 200 <= len(signals.frames) <= 230  # ~10 per second
    assert all(len(f.pdq) == 64 and 0 <= f.quality <= 100 for f in signals.frames)
    assert [f.timestamp_s for f in signals.frames] == sorted(f.timestamp_s for f in signals.frames)
    as_dict = signals.to_dict()
    assert as_dict["frames"][0] == {
        "index": 0,
        "timestamp_s": 0.0,
        "pdq": signals.frames[0].pdq,
        "quality": signals.frames[0].quality,
        "mirror": "",  # vpdq hashes whole frames only: no mirror, box, crop, quadrant or bars hashes
        "box": "",
        "box_quality": 0,
        "crop": "",
        "crop_quality": 0,
        "quadrants": (),
        "narrowed": (),
        "bars": "",
        "bars_quality": 0,
    }


def _reference(corpus: Path, name: str) -> dict[int, tuple[int, str]]:
    """frame number -> (quality, pdq) from one of Meta's reference files (one line per frame)."""
    lines = (corpus / "videos/vpdq-reference" / name).read_text().splitlines()
    rows = (line.split(",") for line in lines if line)
    return {int(frame): (int(quality), pdq) for frame, quality, pdq, _ts in rows}


def test_frame_hashes_match_metas_reference(corpus: Path, hashed: dict[str, VideoSignals]) -> None:
    """Each sampled frame against the reference hash of the same frame number (the reference has them all).

    Frames the reference rates below quality 50 are left out: they are flat or black, their hashes noise, and
    matching ignores them anyway (doorknob's quality-0 frames are 50-74 bits apart).
    """
    pooled: list[int] = []
    for path in sorted((corpus / SAMPLES).glob("*.mp4")):
        reference = _reference(corpus, path.with_suffix(".txt").name)
        distances = [
            pdq_distance(f.pdq, reference[f.index][1])
            for f in hashed[path.name].frames
            if reference[f.index][0] >= 50
        ]
        assert sum(d <= 10 for d in distances) / len(distances) >= 0.85, (path.name, sorted(distances))
        pooled += distances
    print(f"\n{len(pooled)} frames, distance histogram {sorted(Counter(pooled).items())}")
    assert len(pooled) > 1000
    assert sum(d <= 10 for d in pooled) / len(pooled) >= 0.95


def _matches(hashed: dict[str, VideoSignals], a: str, b: str) -> bool:
    return compare_videos(hashed[a].frames, hashed[b].frames).is_match


CHAIR_VARIANTS = [
    "chair-19-sd-bar.mp4",
    "chair-20-sd-bar.mp4",
    "chair-22-sd-grey-bar.mp4",
    "chair-22-sd-sepia-bar.mp4",
    "chair-22-with-small-logo-bar.mp4",
    "chair-orig-22-sd-bar.mp4",
]


def test_same_source_variants_match_each_other(hashed: dict[str, VideoSignals]) -> None:
    for a in CHAIR_VARIANTS:
        for b in CHAIR_VARIANTS:
            assert _matches(hashed, a, b), (a, b, compare_videos(hashed[a].frames, hashed[b].frames))
    assert _matches(hashed, "pattern-sd-grey-bar.mp4", "pattern-sd-with-small-logo-bar.mp4")


def test_different_sources_do_not_match(hashed: dict[str, VideoSignals]) -> None:
    groups = [CHAIR_VARIANTS, [n for n in hashed if n.startswith("pattern")], ["doorknob-hd-no-bar.mp4"]]
    for i, group in enumerate(groups):
        for other in groups[i + 1 :]:
            for a in group:
                for b in other:
                    assert not _matches(hashed, a, b), (a, b)


def test_a_cut_matches_its_source_in_both_directions(hashed: dict[str, VideoSignals]) -> None:
    clip, source = "example2.mp4", "big_buck_bunny_0_30.webm"
    as_query = compare_videos(hashed[clip].frames, hashed[source].frames)
    assert as_query.is_match and as_query.query_match_pct >= 80 and as_query.stored_match_pct < 20
    as_stored = compare_videos(hashed[source].frames, hashed[clip].frames)
    assert as_stored.is_match and as_stored.stored_match_pct >= 80 and as_stored.query_match_pct < 20


def test_the_two_big_buck_bunny_clips_do_not_match(hashed: dict[str, VideoSignals]) -> None:
    assert not _matches(hashed, "big_buck_bunny_0_30.webm", "big_buck_bunny_432_433.webm")
    assert not _matches(hashed, "big_buck_bunny_432_433.webm", "big_buck_bunny_0_30.webm")


def test_low_quality_frames_are_kept_but_not_used(hashed: dict[str, VideoSignals]) -> None:
    bunny = hashed["big_buck_bunny_0_30.webm"]  # opens on black frames (quality 0)
    assert bunny.frames[0].quality < 50
    assert bunny.usable_frames < len(bunny.frames)
    assert bunny.distinct_frames <= bunny.usable_frames


def test_fps_is_configurable(corpus: Path) -> None:
    signals = hash_video(
        corpus / SAMPLES / "doorknob-hd-no-bar.mp4", SignalLimits(video_hasher="vpdq", video_fps=1.0)
    )
    assert signals.fps == 1.0
    assert [round(f.timestamp_s) for f in signals.frames] == list(range(len(signals.frames)))


def _frame(pdq: str, quality: int = 100, index: int = 0) -> VideoFrame:
    return VideoFrame(index=index, timestamp_s=index / 10, pdq=pdq, quality=quality)


def _distinct_hashes(n: int) -> list[str]:
    # Hashes pairwise >= 64 bits apart: each sets a different 64-bit word pattern.
    return [hashlib.sha256(str(i).encode()).hexdigest() for i in range(n)]


def test_compare_videos_counts_each_direction() -> None:
    long = [_frame(h, index=i) for i, h in enumerate(_distinct_hashes(20))]
    clip = long[5:9]
    result = compare_videos(clip, long)
    assert (result.query_match_pct, result.stored_match_pct) == (100.0, 20.0)
    assert (result.query_frames, result.stored_frames) == (4, 20)
    assert result.is_match
    assert compare_videos(long, clip).is_match
    assert not compare_videos(clip, long, match_pct=101).is_match


def test_compare_videos_ignores_low_quality_and_duplicates() -> None:
    hashes = _distinct_hashes(4)
    query = [_frame(hashes[0], quality=10), _frame(hashes[1]), _frame(hashes[1])]
    stored = [_frame(hashes[0]), _frame(hashes[1])]
    result = compare_videos(query, stored)
    assert result.query_frames == 1 and result.query_match_pct == 100.0
    nothing = compare_videos([], stored)
    assert (nothing.query_match_pct, nothing.stored_match_pct, nothing.is_match) == (0.0, 0.0, False)


def test_compare_videos_uses_the_distance_threshold() -> None:
    base = _distinct_hashes(1)[0]
    near = f"{int(base, 16) ^ ((1 << 31) - 1):064x}"  # 31 bits flipped
    assert compare_videos([_frame(base)], [_frame(near)]).is_match
    assert not compare_videos([_frame(base)], [_frame(near)], distance_threshold=30).is_match


@pytest.mark.parametrize("cut", [0.5, 0.05])
def test_damaged_videos(corpus: Path, tmp_path: Path, cut: float) -> None:
    data = (corpus / SAMPLES / "doorknob-hd-no-bar.mp4").read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(SignalError) as caught:
        hash_video(path, VPDQ)  # vpdq aborts on a cut file (the matching hasher gives its first frames)
    assert caught.value.code == "corrupt"


def test_hash_file_recognises_videos_by_their_bytes(corpus: Path, tmp_path: Path) -> None:
    renamed = tmp_path / "photo.jpg"
    shutil.copy(corpus / CLIPS / "doc_medias/example2.mp4", renamed)
    signals = hash_file(renamed, SignalLimits(video_fps=1.0))
    assert signals.media_type == "video"


def test_images_and_other_files_are_not_videos(corpus: Path, tmp_path: Path) -> None:
    text = tmp_path / "a.mp4"
    text.write_text("not a video")
    for path, code in [
        (corpus / "pdq-fixtures/misc-images/small.jpg", "unsupported_format"),
        (text, "unsupported_format"),
    ]:
        with pytest.raises(SignalError) as caught:
            hash_video(path)
        assert caught.value.code == code


def test_time_limit(corpus: Path) -> None:
    with pytest.raises(SignalError) as caught:
        hash_video(corpus / SAMPLES / "chair-19-sd-bar.mp4", SignalLimits(video_timeout_s=0.05))
    assert caught.value.code == "timeout"


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_damaged_videos_never_crash(corpus: Path, tmp_path: Path, data: st.DataObject) -> None:
    """Cut and bit-flipped real clips: a result or a SignalError, never a crash of this process."""
    video = bytearray((corpus / CLIPS / "doc_medias/example2.mp4").read_bytes())
    if data.draw(st.booleans()):
        del video[data.draw(st.integers(64, len(video) - 1)) :]
    for _ in range(data.draw(st.integers(0, 40))):
        video[data.draw(st.integers(0, len(video) - 1))] ^= 1 << data.draw(st.integers(0, 7))
    path = tmp_path / "damaged.mp4"
    path.write_bytes(bytes(video))
    try:
        signals = hash_video(path, SignalLimits(video_fps=2.0))
    except SignalError as exc:
        assert exc.code in ("corrupt", "unsupported_format", "timeout")
    else:
        assert signals.frames
