"""Bad input: every failure is a SignalError with a documented code, in bounded time; never a crash."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from redline.signals import ERROR_CODES, SignalError, hash_file, hash_image
from redline.signals.limits import SignalLimits
from tests.support.media import encode

pytestmark = pytest.mark.shared  # seeds and fixtures come from ../shared/corpus


def _code(source: Path | bytes, config: SignalLimits | None = None) -> str:
    with pytest.raises(SignalError) as caught:
        hash_image(source, config)
    assert caught.value.code in ERROR_CODES
    assert caught.value.message
    return caught.value.code


def test_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    assert _code(empty) == "empty_file"
    assert _code(b"") == "empty_file"


def test_file_too_large(small_jpeg: bytes, tmp_path: Path) -> None:
    path = tmp_path / "a.jpg"
    path.write_bytes(small_jpeg)
    assert _code(path, SignalLimits(max_file_bytes=100)) == "file_too_large"
    assert _code(small_jpeg, SignalLimits(max_file_bytes=100)) == "file_too_large"


def test_pixel_limit(small_jpeg: bytes) -> None:
    assert _code(small_jpeg, SignalLimits(max_pixels=96 * 64 - 1)) == "too_many_pixels"
    assert hash_image(small_jpeg, SignalLimits(max_pixels=96 * 64)).width == 96


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))


def test_decompression_bomb_is_refused_from_the_header() -> None:
    # 50 000 x 50 000 = 2.5 gigapixels declared in a 100-byte file: refused before any pixel is decoded.
    assert _code(_png_header_only(50_000, 50_000)) == "too_many_pixels"


def test_truncated(small_jpeg: bytes, photo: Image.Image) -> None:
    assert _code(small_jpeg[: len(small_jpeg) // 2]) == "truncated"
    png = encode(photo.resize((200, 100)), "PNG")
    assert _code(png[: len(png) // 2]) in ("truncated", "corrupt")


def test_corrupt(small_jpeg: bytes) -> None:
    assert _code(small_jpeg[:4] + b"\x00" * 200) == "corrupt"
    assert _code(_png_header_only(0, 10)) == "corrupt"


@pytest.mark.parametrize(
    "data",
    [
        b"hello, this is text",
        b"%PDF-1.7\n...",
        b"#EXTM3U\n#EXT-X-VERSION:3\nhttp://example.org/a.ts\n",
        b"\x00" * 1000,
        b"PK\x03\x04zipfile",
    ],
    ids=["text", "pdf", "playlist", "zeros", "zip"],
)
def test_unsupported(data: bytes, tmp_path: Path) -> None:
    assert _code(data) == "unsupported_format"
    path = tmp_path / "x.jpg"
    path.write_bytes(data)
    with pytest.raises(SignalError) as caught:
        hash_file(path)
    assert caught.value.code == "unsupported_format"


def test_recognised_but_unsupported_image_container(photo: Image.Image) -> None:
    # An ICO file is an image Pillow reads, but not one we accept: not a sniffed container.
    assert _code(encode(photo.resize((32, 32)), "ICO")) == "unsupported_format"


def test_missing_path(tmp_path: Path) -> None:
    for path in (tmp_path / "nope.jpg", tmp_path):
        with pytest.raises(SignalError) as caught:
            hash_file(path)
        assert caught.value.code == "unreadable"


def test_a_video_given_to_hash_image(corpus: Path) -> None:
    assert _code(corpus / "videos/clips/doc_medias/example2.mp4") == "unsupported_format"


EXTREMES = [b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x7f\xff"]
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PREFIXES = [
    b"\xff\xd8\xff",
    b"\x89PNG\r\n\x1a\n",
    b"GIF89a",
    b"RIFF\x00\x00\x00\x00WEBPVP8 ",
    b"II*\x00",
    b"MM\x00*",
    b"BM",
    b"\x00\x00\x00\x18ftypheic",
    b"\x00\x00\x00\x1cftypavif",
]


def _only_signal_errors(data: bytes) -> None:
    try:
        hash_image(data, SignalLimits(max_pixels=4_000_000))
    except SignalError as exc:
        assert exc.code in ERROR_CODES


@FUZZ
@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow warns about the damaged metadata it skips
@given(prefix=st.sampled_from(PREFIXES), rest=st.binary(max_size=2048))
def test_fuzz_random_bytes_behind_real_magic_numbers(prefix: bytes, rest: bytes) -> None:
    _only_signal_errors(prefix + rest)


@pytest.fixture(scope="module")
def seeds(photo: Image.Image) -> list[bytes]:
    """Small real images of every format: the material the mutation fuzzer damages."""
    small = photo.resize((48, 32))
    rgba = small.convert("RGBA")
    return [
        encode(small, "JPEG", quality=80),
        encode(small, "JPEG", quality=80, progressive=True),
        encode(rgba, "PNG"),
        encode(small.convert("P"), "GIF"),
        encode(small, "WEBP"),
        encode(rgba, "WEBP", lossless=True),
        encode(small, "TIFF", compression="tiff_lzw"),
        encode(small, "BMP"),
        encode(small, "HEIF"),
        encode(small, "AVIF"),
    ]


@FUZZ
@pytest.mark.filterwarnings("ignore::UserWarning")
@given(data=st.data())
def test_fuzz_mutated_real_images(seeds: list[bytes], data: st.DataObject) -> None:
    seed = bytearray(data.draw(st.sampled_from(seeds)))
    for _ in range(data.draw(st.integers(1, 8))):
        kind = data.draw(st.sampled_from(["flip", "cut", "insert", "overwrite"]))
        at = data.draw(st.integers(0, len(seed) - 1))
        if kind == "flip":
            seed[at] ^= 1 << data.draw(st.integers(0, 7))
        elif kind == "cut":
            del seed[at : at + data.draw(st.integers(1, 64))]
        elif kind == "insert":
            seed[at:at] = data.draw(st.binary(min_size=1, max_size=16))
        else:
            seed[at : at + 4] = data.draw(st.sampled_from(EXTREMES))
        if not seed:
            break
    _only_signal_errors(bytes(seed))
