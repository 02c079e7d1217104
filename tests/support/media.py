"""Neutral generated pictures and hash arithmetic for the tests (no people; nothing copied from ../shared)."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from redline.signals import hash_image, robust
from redline.signals.decode import FULL_SIZE
from redline.signals.limits import SignalLimits

#: A corpus photo (relative to ../shared/corpus) that the robust-matching tests crop and frame.
PHOTO = "photos/bsds500/test/100007.jpg"

#: An MP4 header: enough for the magic-number check, and HMA's video signal is only the file's MD5.
FAKE_MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(range(256)) * 8


def pdq_distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def flip(value: str, bits: int) -> str:
    """``value`` with its first ``bits`` bits inverted (a near-duplicate at distance ``bits``)."""
    number = int(value, 16) ^ (((1 << bits) - 1) << (256 - bits))
    return f"{number:064x}"


def region(value: str, quality: int = 90) -> dict[str, Any]:
    return {"type": "pdq_region", "value": value, "quality": quality}


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **params)
    return buf.getvalue()


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def neutral_png(seed: int = 3) -> bytes:
    """A smooth synthetic pattern (no people): enough structure for a high-quality PDQ hash."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:256, 0:256] / 256.0
    image = np.stack(
        [np.sin(x * 9 + rng.random() * 6), np.cos(y * 7 + rng.random() * 6), np.sin((x + y) * 5)], -1
    )
    buffer = io.BytesIO()
    Image.fromarray(((image + 1) * 127).astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def checkerboard(square: int, size: int = 128, fmt: str = "JPEG") -> bytes:
    """A black and white checkerboard (HMA's own hashing tests use 128x128 checkerboards too)."""
    cells = np.indices((size, size)).sum(axis=0) // square % 2 * 255
    out = io.BytesIO()
    Image.fromarray(cells.astype("uint8")).convert("RGB").save(out, fmt)
    return out.getvalue()


def photo_copies(corpus: Path) -> tuple[Image.Image, dict[str, Image.Image]]:
    photo = Image.open(corpus / PHOTO).convert("RGB")
    w, h = photo.size
    inner = photo.crop((round(0.05 * w), round(0.05 * h), w - round(0.05 * w), h - round(0.05 * h)))
    return photo, {
        "cropped and framed": ImageOps.expand(inner, border=round(0.15 * w), fill=(30, 30, 30)),
        "cropped off-centre": photo.crop((round(0.08 * w), round(0.08 * h), w, h)),
    }


def picture_hashes(image: bytes, item: int) -> list[dict[str, Any]]:
    """What the portal stores for one picture: md5, sha256, pdq and its pdq_region crops, with ``item``."""
    pixels = np.asarray(Image.open(io.BytesIO(image)).convert("RGB"))
    plain, *regions = robust.entry_hashes(pixels)
    return [
        {"type": "md5", "value": hashlib.md5(image).hexdigest(), "item": item},
        {"type": "sha256", "value": hashlib.sha256(image).hexdigest(), "item": item},
        {"type": "pdq", "value": plain.hex, "quality": plain.quality, "item": item},
        *({"type": "pdq_region", "value": r.hex, "quality": r.quality, "item": item} for r in regions),
    ]


def stored_reference(path: Path) -> list[robust.RegionHash]:
    """What the bank stores for ``path`` by Python's recipe: full-size decode (EXIF orientation applied,
    transparency on white), then ``robust.entry_hashes``."""
    pixels = hash_image(path, SignalLimits(jpeg_draft=False), upright_side=FULL_SIZE).upright
    assert pixels is not None
    return robust.entry_hashes(pixels)


def distinct_picture(seed: int, fmt: str = "PNG", size: int = 256) -> bytes:
    """A neutral picture (smooth random colour fields, no people) whose PDQ differs from every other seed's:
    an 8x8 random grid upscaled, so pictures of a synthetic collection do not match one another."""
    rng = np.random.default_rng(seed)
    grid = Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
    image = grid.resize((size, size), Image.Resampling.BICUBIC)
    return encode(image, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
