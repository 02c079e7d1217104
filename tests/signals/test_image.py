"""Image hashing: formats, colour modes, transparency, orientation, animation, quality gate."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from redline.signals import DIHEDRAL_NAMES, hash_file, hash_image
from redline.signals.limits import SignalLimits
from tests.support.media import encode, pdq_distance

pytestmark = pytest.mark.shared

MODES = "pdq-fixtures/misc-images/modes"


def test_signals_of_a_jpeg(corpus: Path) -> None:
    path = corpus / MODES / "original.jpg"
    signals = hash_image(path)
    assert signals.media_type == "image"
    assert signals.format == "JPEG"
    assert (signals.width, signals.height) == (1600, 1004)
    assert signals.size == path.stat().st_size
    assert len(signals.md5) == 32 and len(signals.sha256) == 64 and len(signals.pdq) == 64
    assert signals.pdq == signals.pdq.lower()
    assert signals.pdq_quality == 100 and not signals.pdq_low_quality
    assert list(signals.pdq_dihedral) == list(DIHEDRAL_NAMES)
    assert signals.pdq_dihedral["orig"] == signals.pdq
    data = signals.to_dict()
    assert data["media_type"] == "image" and data["pdq"] == signals.pdq
    # bytes and path give the same result
    assert hash_image(path.read_bytes()) == signals


@pytest.mark.parametrize(
    "name",
    [
        "1.png",
        "CMYK.jpg",
        "F.webp",
        "HSV.webp",
        "I.webp",
        "L.png",
        "LA.png",
        "LAB.webp",
        "P.png",
        "PA.webp",
        "RGB.jpg",
        "RGBA.png",
        "YCbCr.jpg",
    ],
)
def test_colour_mode_fixtures_hash_like_the_original(corpus: Path, name: str) -> None:
    original = hash_image(corpus / MODES / "original.jpg").pdq
    assert pdq_distance(hash_image(corpus / MODES / name).pdq, original) <= 10


@pytest.mark.parametrize(
    "mode",
    ["1", "L", "LA", "P", "PA", "RGBA", "CMYK", "YCbCr", "LAB", "I", "F", "I;16"],
)
def test_every_pillow_mode_converts(photo: Image.Image, mode: str) -> None:
    """Generated in memory and saved as TIFF, so modes the fixtures lack (I;16, F, ...) are covered."""
    reference = hash_image(encode(photo, "PNG")).pdq
    grey = photo.convert("L")
    if mode == "I;16":
        image = Image.fromarray(np.asarray(grey).astype(np.uint16) * 257)
        assert image.mode == "I;16"
    elif mode == "I":
        image = Image.fromarray(np.asarray(grey).astype(np.int32) * 257)
    elif mode == "F":
        image = Image.fromarray(np.asarray(grey).astype(np.float32) / 255.0)
    else:
        image = photo.convert(mode)
    data = encode(image, "TIFF")
    distance = pdq_distance(hash_image(data).pdq, reference)
    assert distance <= (40 if mode == "1" else 12), distance


@pytest.mark.parametrize("mode", ["RGBa", "La", "HSV", "RGBX"])
def test_in_memory_only_modes_convert(photo: Image.Image, mode: str) -> None:
    """Modes no file format stores (Pillow cannot save them) still convert, should a plugin produce them."""
    from redline.signals.decode import _to_rgb

    expected = np.asarray(photo.convert("L" if mode == "La" else "RGB"), dtype=np.int16)
    source = photo.convert("LA").convert("La") if mode == "La" else photo.convert(mode)
    pixels = _to_rgb(source).astype(np.int16)
    if mode == "La":
        pixels = pixels[..., 0]
    assert np.abs(pixels - expected).mean() < 3


def test_transparency_is_composited_on_white(photo: Image.Image) -> None:
    rgba = photo.convert("RGBA")
    alpha = np.zeros((photo.height, photo.width), dtype=np.uint8)
    alpha[:, : photo.width // 2] = 255  # right half fully transparent, its colour data left as is
    rgba.putalpha(Image.fromarray(alpha))
    on_white = Image.new("RGB", photo.size, "white")
    on_white.paste(rgba, mask=rgba.getchannel("A"))
    assert hash_image(encode(rgba, "PNG")).pdq == hash_image(encode(on_white, "PNG")).pdq
    dropped_alpha = hash_image(encode(rgba.convert("RGB"), "PNG")).pdq
    assert pdq_distance(hash_image(encode(rgba, "PNG")).pdq, dropped_alpha) > 31


def test_palette_transparency(corpus: Path) -> None:
    path = corpus / "c2pa/c2pa-rs/sdk/tests/fixtures/libpng-test.png"
    with Image.open(path) as im:
        rgba = im.convert("RGBA")
    on_white = Image.new("RGB", rgba.size, "white")
    on_white.paste(rgba, mask=rgba.getchannel("A"))
    assert pdq_distance(hash_image(path).pdq, hash_image(encode(on_white, "PNG")).pdq) <= 2


@pytest.mark.parametrize(
    ("fmt", "params"),
    [
        ("JPEG", {"quality": 95}),
        ("PNG", {}),
        ("WEBP", {"quality": 95}),
        ("TIFF", {}),
        ("BMP", {}),
        ("GIF", {}),
        ("HEIF", {"quality": 95}),
        ("AVIF", {"quality": 95}),
    ],
)
def test_formats(photo: Image.Image, fmt: str, params: dict[str, object]) -> None:
    reference = hash_image(encode(photo, "PNG")).pdq
    signals = hash_image(encode(photo, fmt, **params))
    assert signals.format == fmt
    assert pdq_distance(signals.pdq, reference) <= (24 if fmt == "GIF" else 10)


def test_animated_gif_hashes_its_first_frame(photo: Image.Image) -> None:
    first = photo.resize((256, 170))
    second = first.transpose(Image.Transpose.ROTATE_180)
    animated = encode(first, "GIF", save_all=True, append_images=[second], duration=100, loop=0)
    signals = hash_image(animated)
    assert signals.animated
    assert signals.pdq == hash_image(encode(first, "GIF")).pdq
    assert not hash_image(encode(first, "GIF")).animated


EXIF_COLUMN = {1: "orig", 3: "rot180", 6: "rot270", 8: "rot90"}


@pytest.fixture(scope="module")
def dihedral_reference(corpus: Path) -> dict[str, dict[str, str]]:
    import csv

    with (corpus / "reference/pdq-cpp-dihedral.csv").open() as f:
        return {row["path"]: row for row in csv.DictReader(f)}


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_exif_orientation_is_applied(
    corpus: Path, dihedral_reference: dict[str, dict[str, str]], orientation: int, tmp_path: Path
) -> None:
    rel = f"pdq-fixtures/reg-test-input/exif-rotn/exif-rotn-{orientation}.jpg"
    signals = hash_image(corpus / rel)
    assert signals.orientation == orientation
    with Image.open(corpus / rel) as im:
        stored = (im.width, im.height)
        upright = im.transpose(_TRANSPOSE[orientation]) if orientation != 1 else im.copy()
    assert (signals.width, signals.height) == upright.size
    if orientation in (6, 8):
        assert upright.size == stored[::-1]
    # The visually upright counterpart (pixels rotated, no EXIF tag) hashes the same.
    counterpart = tmp_path / "upright.tiff"  # lossless and quick to write
    upright.save(counterpart)
    assert pdq_distance(signals.pdq, hash_image(counterpart).pdq) <= 4
    # Against Meta's rotated reference: the C++ tool's dihedral variant of the stored pixels. It rotates in
    # the DCT domain, which is 12-18 bits from hashing rotated pixels on these photos: within the PDQ match
    # threshold, and far from the un-rotated hash.
    reference = dihedral_reference[rel]
    assert pdq_distance(signals.pdq, reference[EXIF_COLUMN[orientation]]) <= 31
    if orientation != 1:
        assert pdq_distance(signals.pdq, reference["orig"]) > 64


_TRANSPOSE = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_270, 8: Image.Transpose.ROTATE_90}


def test_quality_gate_marks_flat_images(corpus: Path) -> None:
    flat = encode(Image.new("RGB", (300, 200), (120, 130, 140)), "PNG")
    signals = hash_image(flat)
    assert signals.pdq_quality < 50 and signals.pdq_low_quality
    assert len(signals.md5) == 32  # exact hashes are unaffected
    low = hash_image(corpus / "pdq-fixtures/reg-test-input/labelme-subset/q0003.jpg")
    assert low.pdq_low_quality
    assert not hash_image(low_quality_threshold_path(corpus), SignalLimits(pdq_min_quality=0)).pdq_low_quality


def low_quality_threshold_path(corpus: Path) -> Path:
    return corpus / "pdq-fixtures/reg-test-input/labelme-subset/q0003.jpg"


def test_jpeg_fast_path_is_close_to_the_full_decode(photo: Image.Image) -> None:
    big = encode(photo.resize((3072, 2048), Image.Resampling.BICUBIC), "JPEG", quality=90)
    fast = hash_image(big)
    full = hash_image(big, SignalLimits(jpeg_draft=False))
    assert (fast.width, fast.height) == (full.width, full.height) == (3072, 2048)
    assert pdq_distance(fast.pdq, full.pdq) <= 12
    assert fast.md5 == full.md5


def test_hash_file_sniffs_instead_of_trusting_the_extension(photo: Image.Image, tmp_path: Path) -> None:
    renamed = tmp_path / "holiday.mp4"
    renamed.write_bytes(encode(photo, "PNG"))
    signals = hash_file(renamed)
    assert signals.media_type == "image" and signals.format == "PNG"


def test_small_images_are_hashed_at_native_size() -> None:
    tiny = Image.fromarray(np.random.default_rng(1).integers(0, 255, (8, 8, 3), dtype=np.uint8))
    signals = hash_image(encode(tiny, "PNG"))
    assert signals.width == 8 and len(signals.pdq) == 64


def test_the_bytes_api_accepts_memory_buffers() -> None:
    data = io.BytesIO()
    Image.new("L", (40, 40), 200).save(data, "PNG")
    assert hash_image(data.getvalue()).format == "PNG"


ORIENTATIONS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    8: Image.Transpose.ROTATE_90,
}


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF", "HEIF", "AVIF"])
@pytest.mark.parametrize("orientation", sorted(ORIENTATIONS))
def test_orientation_tag_in_every_format(photo: Image.Image, fmt: str, orientation: int) -> None:
    """Applied exactly once, whether Redline or the format's loader (TIFF, HEIF) does it."""
    source = photo.resize((384, 256))
    upright = source.transpose(ORIENTATIONS[orientation])
    exif = Image.Exif()
    exif[0x0112] = orientation
    signals = hash_image(encode(source, fmt, exif=exif.tobytes()))
    assert (signals.width, signals.height) == upright.size
    assert pdq_distance(signals.pdq, hash_image(encode(upright, "PNG")).pdq) <= 8
