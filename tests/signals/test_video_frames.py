"""The matching video hasher (``signals.video_frames``): frames hashed inside their content box and mirrored,
and its bounds on bad input (no video stream, truncated, long, slow, memory, odd codecs, variable frame
rate, concurrency). Clips are generated (tests/support/video.py), so nothing here needs ../shared."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest

from redline.signals import SignalError, hash_video
from redline.signals.budget import DecodeBudget, DecoderBusy
from redline.signals.limits import SignalLimits
from redline.signals.video import VideoSignals, query_frames, stored_frames
from tests.support.media import pdq_distance
from tests.support.video import edited, need_ffmpeg, pattern_frames, write_clip

H264 = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"]


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_clip(tmp_path_factory.mktemp("clips") / "original.mp4", pattern_frames(seed=11, seconds=8))


def found_share(query: VideoSignals, stored: VideoSignals, use_mirror: bool = False) -> float:
    """Share of the stored moments (whole frame or content box) with an upload frame's hash (whole or box;
    mirror instead with ``use_mirror``) within PDQ's 31."""
    kept = stored_frames(stored.frames)
    frames = query_frames(query.frames, 50)
    hashes = [f.mirror for f in frames] if use_mirror else [h for f in frames for h in (f.pdq, f.box) if h]
    found = [s for s in kept if min(pdq_distance(x, h) for x in (s.pdq, s.box) if x for h in hashes) <= 31]
    return len(found) / len(kept)


def test_frames_are_sampled_at_the_set_rate_with_mirror_hashes(original: Path) -> None:
    signals = hash_video(original)
    assert signals.hasher == "redline" and signals.fps == 8.0 and not signals.truncated
    assert len(signals.frames) == 64  # 8 s at 8 a second
    assert [f.timestamp_s for f in signals.frames[:3]] == [0.0, 0.125, 0.25]
    assert all(f.box == "" for f in signals.frames)  # no bars: the whole frame is the picture
    assert all(len(f.mirror) == 64 and f.mirror != f.pdq for f in signals.frames)


def test_a_letterboxed_copy_is_hashed_inside_its_bars(original: Path, tmp_path: Path) -> None:
    bars = "scale=iw*0.7:ih*0.7,pad=iw/0.7:ih/0.7*1.2:(ow-iw)/2:(oh-ih)/2,scale=trunc(iw/2)*2:trunc(ih/2)*2"
    boxed = hash_video(edited(original, tmp_path / "boxed.mp4", "-vf", bars, *H264))
    assert all(f.box for f in boxed.frames)
    assert found_share(boxed, hash_video(original)) >= 0.7
    whole = SignalLimits(video_hasher="vpdq", video_fps=4.0)  # vpdq hashes the whole frame, bars and all
    assert found_share(hash_video(tmp_path / "boxed.mp4", whole), hash_video(original, whole)) < 0.3


def test_a_mirrored_copy_is_found_by_its_mirror_hashes(original: Path, tmp_path: Path) -> None:
    flipped = hash_video(edited(original, tmp_path / "flipped.mp4", "-vf", "hflip", *H264))
    stored = hash_video(original)
    assert found_share(flipped, stored) < 0.3 and found_share(flipped, stored, use_mirror=True) >= 0.8


def test_a_file_without_a_video_stream_is_a_clear_error(tmp_path: Path) -> None:
    ffmpeg = need_ffmpeg()
    audio = tmp_path / "audio.mp4"
    command = [ffmpeg, "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=1", str(audio)]
    subprocess.run(command, check=True, timeout=60)
    with pytest.raises(SignalError) as caught:
        hash_video(audio)
    assert caught.value.code == "corrupt" and "no video stream" in caught.value.message


def test_a_truncated_video_gives_its_first_frames(original: Path, tmp_path: Path) -> None:
    streamable = edited(original, tmp_path / "fast.mp4", "-c", "copy", "-movflags", "+faststart")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(streamable.read_bytes()[: streamable.stat().st_size * 6 // 10])
    partial = hash_video(cut)
    assert 8 <= len(partial.frames) < 64  # a bounded, partial result: the frames before the cut


def test_only_the_first_video_max_seconds_are_hashed(original: Path) -> None:
    signals = hash_video(original, SignalLimits(video_max_seconds=2.0))
    assert signals.truncated and len(signals.frames) == 16 and signals.duration_s < 2.0


def test_time_and_memory_limits(original: Path) -> None:
    with pytest.raises(SignalError) as slow:
        hash_video(original, SignalLimits(video_timeout_s=0.01))
    assert slow.value.code == "timeout"
    with pytest.raises(SignalError) as big:  # FFmpeg cannot even start under 32 MiB: refused, not run
        hash_video(original, SignalLimits(video_max_memory_bytes=32 * 1024 * 1024))
    assert big.value.code == "corrupt"


@pytest.mark.parametrize(
    ("name", "codec"),
    [
        ("vp9.webm", ["-c:v", "libvpx-vp9", "-b:v", "300k", "-deadline", "realtime"]),
        ("mpeg4.avi", ["-c:v", "mpeg4", "-q:v", "5"]),
    ],
)
def test_other_codecs_hash_alike(original: Path, tmp_path: Path, name: str, codec: list[str]) -> None:
    other = hash_video(edited(original, tmp_path / name, *codec))
    assert found_share(other, hash_video(original)) >= 0.8


def test_variable_frame_rate_keeps_time(original: Path, tmp_path: Path) -> None:
    # Every third frame dropped and the rest kept at their times: irregular frame intervals.
    vfr = edited(
        original, tmp_path / "vfr.mp4", "-vf", "select='not(eq(mod(n,3),0))'", "-fps_mode", "vfr", *H264
    )
    signals = hash_video(vfr)
    assert 7.0 <= signals.duration_s <= 8.0
    assert found_share(signals, hash_video(original)) >= 0.8


def test_a_server_decodes_as_many_videos_as_its_budget_holds(original: Path) -> None:
    limits = SignalLimits()
    budget = DecodeBudget(limits.video_max_memory_bytes, wait_s=0.2)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with budget.reserve(limits.video_max_memory_bytes):
            holding.set()
            release.wait(5)

    other = threading.Thread(target=hold)
    other.start()
    try:
        assert holding.wait(5)
        with pytest.raises(DecoderBusy):
            hash_video(original, limits, budget)
    finally:
        release.set()
        other.join()
    assert hash_video(original, limits, budget).frames  # once the other is done
