"""What each built-in signal type derives from a file's signals (stored by a survivor's device, queried by
``/v1/match/file``), and its value format."""

from __future__ import annotations

import io
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from redline.signals import ImageSignals, VideoFrame, VideoSignals, hash_file, robust
from redline.signals.limits import SignalLimits
from redline.signals.types import MAX_VIDEO_QUERIES, SIGNAL_TYPES, PdqSignal, signal_type
from tests.support.media import neutral_png


def video(frames: list[tuple[str, int]]) -> VideoSignals:
    return VideoSignals(
        size=1, md5="a" * 32, sha256="b" * 64, container="mp4", duration_s=1.0, fps=1.0,
        frames=[VideoFrame(i, float(i), pdq, q) for i, (pdq, q) in enumerate(frames)],
        usable_frames=0, distinct_frames=0,
    )  # fmt: skip


def derived(
    kind_name: str, signals: ImageSignals | VideoSignals, stored: bool
) -> list[tuple[str, int | None]]:
    kind = signal_type(kind_name)
    hashes = kind.stored_hashes(signals) if stored else kind.upload_queries(signals, 50)
    return [(h.value, h.quality) for h in hashes]


def test_a_video_is_looked_up_by_its_distinct_usable_frames_and_stored_by_its_digests() -> None:
    one, two = "1" * 64, "2" * 64
    clip = video([(one, 90), (one, 95), (two, 49), (two, 50)])
    assert derived("pdq", clip, stored=False) == [(one, 90), (two, 50)]  # duplicates once, quality >= 50
    assert derived("md5", clip, stored=False) == [("a" * 32, None)]
    assert derived("pdq_region", clip, stored=False) == [] and derived("pdq", clip, stored=True) == []
    stored = [h.type for kind in SIGNAL_TYPES.values() for h in kind.stored_hashes(clip)]
    assert stored == ["md5", "sha256", "vpdq", "vpdq"]  # its frames (quality > 0, one a second, distinct)
    assert [(h.value, h.at_ms) for h in signal_type("vpdq").stored_hashes(clip)] == [(one, 0), (two, 2000)]
    rng = random.Random(7)
    many = video([(f"{rng.getrandbits(256):064x}", 80) for _ in range(MAX_VIDEO_QUERIES + 5)])
    assert len(derived("pdq", many, stored=False)) == MAX_VIDEO_QUERIES


def test_an_image_stores_region_hashes_only_with_its_pixels(tmp_path: Path) -> None:
    path = tmp_path / "pattern.png"
    path.write_bytes(neutral_png())
    plain = hash_file(path, SignalLimits())
    with_pixels = hash_file(path, SignalLimits(), upright_side=1024)
    assert isinstance(plain, ImageSignals) and plain.pdq_quality >= PdqSignal.min_quality
    assert derived("pdq", plain, stored=True) == [(plain.pdq, plain.pdq_quality)]
    assert derived("pdq_region", plain, stored=True) == []
    regions = derived("pdq_region", with_pixels, stored=True)
    assert regions[0] == (plain.pdq, plain.pdq_quality) and len(regions) > 1  # the whole picture, then crops
    queries = signal_type("pdq_region").upload_queries(with_pixels, 50)
    assert queries and queries[0].label == "full" and all((q.quality or 0) >= 50 for q in queries)


@pytest.mark.parametrize(("name", "value"), [("pdq", "F" * 64), ("md5", " " + "A" * 32 + "\n")])
def test_values_are_canonical_lowercase_hex(name: str, value: str) -> None:
    assert signal_type(name).normalize(value) == value.strip().lower()
    with pytest.raises(ValueError, match="hexadecimal"):
        signal_type(name).normalize(value.strip()[:-1] + "g")


def test_an_uploads_whole_region_query_is_the_decodes_own_pdq(tmp_path: Path) -> None:
    """The robust ``full`` query is the PDQ plain matching uses (the decode's, of the file's own pixels),
    not a second PDQ of the reduced upright copy, which samples a large picture twice and comes out a few
    bits off: the same hash the survivor's device stores as ``full``."""
    rng = np.random.default_rng(4)
    y, x = np.mgrid[0:1333, 0:1999] / 1999.0
    smooth = np.stack([np.sin(x * 11), np.cos(y * 13), np.sin((x - y) * 7)], -1)
    pixels = ((smooth + 1) * 110 + rng.integers(0, 30, size=(1333, 1999, 3))).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    path = tmp_path / "large.png"
    path.write_bytes(buffer.getvalue())
    signals = hash_file(path, SignalLimits(), upright_side=robust.QUERY_SIDE)
    assert isinstance(signals, ImageSignals) and signals.upright is not None
    assert max(signals.upright.shape) == robust.QUERY_SIDE  # reduced, so the two PDQs can differ
    assert robust.pdq_of(signals.upright).hex != signals.pdq  # they do here
    queries = signal_type("pdq_region").upload_queries(signals, 50)
    assert queries[0].label == "full" and queries[0].value == signals.pdq
    assert queries[0].quality == signals.pdq_quality
