"""The matching video hasher (``signals.video_frames``): frames hashed inside their content box and mirrored,
and its bounds on bad input (no video stream, truncated, long, slow, memory, odd codecs, variable frame
rate, concurrency). Clips are generated (tests/support/video.py), so nothing here needs ../shared."""

from __future__ import annotations

import dataclasses
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

from redline.match.video import compare_as_server
from redline.signals import SignalError, hash_video
from redline.signals.budget import DecodeBudget, DecoderBusy
from redline.signals.limits import SignalLimits
from redline.signals.video import (
    VideoFrame,
    VideoSignals,
    between_codes,
    query_frame_codes,
    query_frames,
    stored_frame_codes,
    stored_frames,
)
from redline.signals.video_frames import bars_box
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
    assert len(hash_video(cut, between=True).frames) == len(partial.frames)  # and so as an upload


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
    # Decoded densely as an upload, the sampled frames are still exactly these.
    dense = hash_video(vfr, between=True)
    assert [dataclasses.replace(f, between=()) for f in dense.frames] == signals.frames


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


def fast_pan(seconds: float, fps: int = 30) -> list[np.ndarray]:
    """A fast sideways pan over one wide scene: frames 1/16 s apart are far apart in PDQ."""
    from PIL import Image

    rng = np.random.default_rng(5)
    coarse = rng.integers(0, 256, size=(9, 240, 3), dtype=np.uint8)
    scene = np.asarray(Image.fromarray(coarse).resize((320 * 16, 240), Image.Resampling.NEAREST))
    return [np.ascontiguousarray(scene[:, n * 40 : n * 40 + 320]) for n in range(int(seconds * fps))]


def test_an_upload_is_also_looked_up_by_the_frames_between_its_sampled_ones(tmp_path: Path) -> None:
    stored = hash_video(write_clip(tmp_path / "pan.mp4", fast_pan(4), fps=30))
    # Trimmed by one frame (1/30 s): the copy's sampled moments fall between the original's.
    copy = edited(tmp_path / "pan.mp4", tmp_path / "trimmed.mp4", "-ss", "0.033", *H264)
    upload, plain = hash_video(copy, between=True), hash_video(copy)
    # The sampled frames are the very frames hashed without (so quadrants meet at the same moments) ...
    assert [dataclasses.replace(f, between=()) for f in upload.frames] == plain.frames
    # ... and between each two, the three frames decoded at 4x the rate (the first also has the one before).
    assert [t for t, _, _ in upload.frames[1].between] == [0.188, 0.219, 0.25]
    assert all(len(f.between) == 3 for f in upload.frames[1:-1]) and len(upload.frames[0].between) == 4
    assert all(f.between == () for f in stored.frames)  # the stored side never has them
    labels = {c.label for c in query_frame_codes(upload.frames, 50)}
    assert "between" in labels
    assert compare_as_server(upload.frames, stored.frames, 31, 50)[0]
    # Without them the copy is missed: the sampled frames alone are too far from the stored moments.
    assert not compare_as_server(plain.frames, stored.frames, 31, 50)[0]


def test_between_frames_are_looked_up_only_where_the_picture_moves() -> None:
    still, moved = "0" * 64, "f" * 64
    frames = [
        VideoFrame(0, 0.0, still, 90, between=((0.031, still, 90), (0.062, moved, 90), (0.094, moved, 90))),
        VideoFrame(1, 0.125, moved, 90, between=((0.156, still, 20),)),  # too low a quality
    ]
    codes = between_codes(frames, 50)
    assert [(c.at_ms, c.label) for c in codes] == [(62, "between")]  # the repeat of it is not looked up


def test_bars_stop_at_the_picture_even_where_its_edge_is_one_colour() -> None:
    """A letterboxed test card whose own first column is a band of flat green (bright colours once
    overflowed the grey computation and made such bands look like bars): the box is the picture."""
    rng = np.random.default_rng(3)
    frame = np.zeros((320, 320, 3), dtype=np.uint8)
    frame[40:280, 40:280] = rng.integers(0, 256, size=(240, 240, 3), dtype=np.uint8)
    frame[40:280, 40:64] = (40, 220, 60)
    frame[40:280, 256:280] = (250, 250, 250)
    assert bars_box(frame) == (0.125, 0.125, 0.875, 0.875)
    # Bars of another colour than black still count: a phone's grey status bar over its dark frame.
    frame[:12] = (68, 68, 72)
    frame[12:40] = (28, 28, 30)
    assert bars_box(frame) == (0.125, 0.125, 0.875, 0.875)


def test_the_picture_inside_flat_bars_is_stored_too() -> None:
    """A film with bars of its own (4:3 in a 16:9 frame): a copy that adds bars loses both, and its
    picture inside all flat bars meets the stored one."""
    whole, box, bars = "0" * 64, "1" * 64, "2" * 64
    frame = VideoFrame(0, 0.0, whole, 90, box=box, box_quality=80, bars=bars, bars_quality=70)
    stored = {(c.label, c.value) for c in stored_frame_codes([frame])}
    assert {("", whole), ("box", box), ("bars", bars)} <= stored
    featureless = VideoFrame(0, 0.0, whole, 90, bars=bars, bars_quality=0)
    assert "bars" not in {c.label for c in stored_frame_codes([featureless])}


def test_only_the_start_of_a_long_upload_is_decoded_densely(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After ``BETWEEN_SECONDS`` only the sampled frames are decoded (a 3-hour upload stays within its time
    limit), and they are still exactly the frames hashed without the between frames."""
    import redline.signals.video_frames as video_frames

    clip = write_clip(tmp_path / "pan.mp4", fast_pan(3), fps=30)
    monkeypatch.setattr(video_frames, "BETWEEN_SECONDS", 1.0)
    upload, plain = hash_video(clip, between=True), hash_video(clip)
    assert [dataclasses.replace(f, between=()) for f in upload.frames] == plain.frames
    assert all(f.between for f in upload.frames if f.timestamp_s < 0.875)
    assert not any(f.between for f in upload.frames if f.timestamp_s >= 1.0)
    # And a long one is still cut at video_max_seconds, and says so.
    cut = hash_video(clip, SignalLimits(video_max_seconds=2.0), between=True)
    assert cut.truncated and len(cut.frames) == 16 and cut.duration_s < 2.0
