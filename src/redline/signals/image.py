"""Image signals: PDQ (with quality and the 8 dihedral variants), MD5 and SHA-256."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pdqhash

from redline.signals.budget import DecodeBudget
from redline.signals.decode import RgbArray, decode_for_pdq
from redline.signals.errors import UnsupportedFormat
from redline.signals.files import check_size, exact_digests, read_bytes
from redline.signals.limits import SignalLimits
from redline.signals.sniff import HEAD_BYTES, sniff

#: Names of the 8 dihedral variants, in ``pdqhash.compute_dihedral``'s order (as in Meta's pdq tool output):
#: the original, rotations counter-clockwise by 90/180/270 degrees, mirror images about the vertical (flipx)
#: and horizontal (flipy) axis, and about the two diagonals.
DIHEDRAL_NAMES: tuple[str, ...] = (
    "orig",
    "rot90",
    "rot180",
    "rot270",
    "flipx",
    "flipy",
    "flipplus",
    "flipminus",
)


@dataclass(frozen=True)
class ImageSignals:
    """Everything Redline derives from one image file. ``to_dict()`` is the JSON form."""

    format: str
    width: int
    height: int
    size: int
    md5: str
    sha256: str
    pdq: str
    pdq_quality: int
    #: Quality below ``SignalLimits.pdq_min_quality``: kept for the record, never used for matching.
    pdq_low_quality: bool
    pdq_dihedral: dict[str, str]
    #: EXIF orientation applied before hashing (1 = none).
    orientation: int = 1
    #: More than one frame in the file (animated GIF/WebP, multi-page TIFF); only the first was hashed.
    animated: bool = False
    media_type: Literal["image"] = field(default="image")
    #: Only when asked for (``hash_image(..., upright_side=N)``): the upright RGB pixels, true aspect ratio,
    #: long side at most N, for robust PDQ (``signals/robust.py``). Never part of :meth:`to_dict`.
    upright: RgbArray | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "upright"}
        data["pdq_dihedral"] = dict(self.pdq_dihedral)
        return data


def pdq_of_pixels(pixels: RgbArray) -> tuple[str, int, dict[str, str]]:
    """(hash, quality, dihedral variants) of upright RGB pixels, via Meta's C++ PDQ."""
    hashes, quality = pdqhash.compute_dihedral(pixels)
    dihedral = {name: bits_to_hex(bits) for name, bits in zip(DIHEDRAL_NAMES, hashes, strict=True)}
    return dihedral["orig"], int(quality), dihedral


def bits_to_hex(bits: Any) -> str:
    """256 booleans, most significant first (pdqhash's order) -> 64 lowercase hex characters."""
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex()


def hash_image(
    source: Path | str | bytes,
    limits: SignalLimits | None = None,
    *,
    upright_side: int | None = None,
    budget: DecodeBudget | None = None,
) -> ImageSignals:
    """Hash one image, given as a path or as the file's bytes. Raises ``SignalError`` and, with a
    ``budget`` that stays full, ``DecoderBusy``; nothing else.

    ``upright_side``: also keep the decoded pixels (:attr:`ImageSignals.upright`) for robust PDQ, from the
    same decode; ``decode.FULL_SIZE`` keeps them at full size. ``budget``: the process's decoding memory
    budget (``signals/budget.py``)."""
    settings = limits or SignalLimits()
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        check_size(len(data), settings.max_file_bytes)
    else:
        data = read_bytes(Path(source), settings.max_file_bytes)
    sniffed = sniff(data[:HEAD_BYTES])
    if sniffed is None:
        raise UnsupportedFormat("the file is not an image or video in a format Redline reads")
    if sniffed.media_type != "image":
        raise UnsupportedFormat(f"the file is a video ({sniffed.container}), not an image")
    decoded = decode_for_pdq(
        data,
        sniffed.container,
        max_pixels=settings.max_pixels,
        jpeg_draft=settings.jpeg_draft,
        upright_side=upright_side,
        budget=budget,
    )
    pdq, quality, dihedral = pdq_of_pixels(decoded.pixels)
    md5, sha256 = exact_digests(data)
    return ImageSignals(
        format=decoded.format,
        width=decoded.width,
        height=decoded.height,
        size=len(data),
        md5=md5,
        sha256=sha256,
        pdq=pdq,
        pdq_quality=quality,
        pdq_low_quality=quality < settings.pdq_min_quality,
        pdq_dihedral=dihedral,
        orientation=decoded.orientation,
        animated=decoded.animated,
        upright=decoded.upright,
    )
