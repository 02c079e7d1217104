"""Neutral synthetic video clips for the tests (moving colour patterns; no people, nothing from ../shared).

Clips are encoded by the ``ffmpeg`` command (Debian's ``ffmpeg`` package; ``./dev`` installs it): tests that
need one skip with a clear message where it is absent. Frames come from numpy, piped as raw RGB.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

Frame = npt.NDArray[np.uint8]


def need_ffmpeg() -> str:
    found = shutil.which("ffmpeg")
    if found is None:
        pytest.skip("the ffmpeg command is not installed (apt-get install ffmpeg); it makes the test clips")
    return found


def pattern_frames(
    seed: int, seconds: float, fps: int = 10, size: tuple[int, int] = (320, 240)
) -> list[Frame]:
    """A clip of distinct scenes (a new coarse colour pattern every 1.5 s) drifting slowly sideways: every
    second looks different in PDQ, a re-encode stays close, and two seeds make unrelated videos."""
    from PIL import Image

    width, height = size
    rng = np.random.default_rng(seed)
    frames: list[Frame] = []
    scene: Frame | None = None
    for n in range(int(seconds * fps)):
        if scene is None or n % int(1.5 * fps) == 0:
            coarse = rng.integers(0, 256, size=(9, 24, 3), dtype=np.uint8)  # colour blocks: sharp edges
            big = Image.fromarray(coarse).resize((width * 2, height), Image.Resampling.NEAREST)
            scene = np.asarray(big)
        # 6 px a second, wrapping so every frame stays full width (the scene is twice as wide as a frame).
        shift = int(n / fps * 6) % width
        frames.append(np.ascontiguousarray(scene[:, shift : shift + width]))
    return frames


def write_clip(
    path: Path,
    frames: list[Frame],
    fps: float = 10,
    codec: list[str] | None = None,
    filters: str | None = None,
) -> Path:
    """Encode ``frames`` (H.264 in MP4 unless ``codec`` says otherwise); ``filters``: an ffmpeg ``-vf``."""
    ffmpeg = need_ffmpeg()
    height, width = frames[0].shape[:2]
    command = [ffmpeg, "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24"]
    command += ["-s", f"{width}x{height}", "-r", str(fps), "-i", "-"]
    if filters:
        command += ["-vf", filters]
    command += codec or ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "veryfast"]
    command.append(str(path))
    subprocess.run(command, input=b"".join(f.tobytes() for f in frames), check=True, timeout=120)
    return path


def edited(source: Path, target: Path, *args: str) -> Path:
    """``ffmpeg -i source ARGS target``: an edited copy (re-encode, trim, crop, ...)."""
    ffmpeg = need_ffmpeg()
    command = [ffmpeg, "-v", "error", "-y", "-i", str(source), *args, str(target)]
    subprocess.run(command, check=True, timeout=300)
    return target
