"""Decoding an image file into the pixels PDQ hashes.

The steps, each for a reason (docs/SIGNALS.md says the same for operators):

1. Only formats recognised from the file's bytes reach Pillow, and Pillow is told which one to use.
2. The pixel count is checked from the header, before any pixel is decoded (decompression bombs).
3. Large JPEGs are decoded at reduced size by the JPEG library itself (DCT scaling, Pillow's ``draft``).
4. EXIF orientation is applied: phones store photos sideways plus a "rotate me" tag, and a survivor's photo
   must hash like what everyone sees on screen.
5. Images larger than 512 px on a side are sampled to exactly 512x512 by nearest neighbour with OpenCV's
   rule (source index = floor(i * size / 512)): this is what Meta's C++ PDQ tool does, and reproducing it
   gives bit-identical hashes to the reference. Sampling first also makes step 6 cheap.
6. Every colour mode becomes 8-bit RGB; transparent pixels are composited on white.

On request (``upright_side``) the same decode also yields the upright pixels with their true aspect ratio,
long side at most ``upright_side`` (same nearest-neighbour rule): what robust PDQ (``signals/robust.py``)
needs, since it crops windows and measures angles that the 512x512 square would distort. One decode serves
both, so a large upload is not decoded twice.
"""

from __future__ import annotations

import io
import sys
import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pillow_heif
from PIL import Image, ImageCms, UnidentifiedImageError

from redline.signals.errors import (
    CorruptFile,
    SignalError,
    TooManyPixels,
    TruncatedFile,
    UnsupportedFormat,
)

pillow_heif.register_heif_opener()
# Our own pixel limit replaces Pillow's bomb warning (raised above ~89 MP, below our 100 MP default). Set once
# here rather than with catch_warnings() per call, which is not thread-safe.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

#: Side of the square the C++ reference samples large images to before hashing.
PDQ_SIDE = 512
#: ``upright_side`` value that keeps the upright pixels at full size (the survivor's side: the portal crops
#: the full-size image before sampling, and ``redline protect`` must do the same).
FULL_SIZE = sys.maxsize
#: Transparent pixels are composited on this colour (white, as browsers and chat apps show them).
BACKGROUND = 255

#: Our container name (from the magic number) -> the Pillow plugins allowed to open it.
PILLOW_FORMATS: dict[str, list[str]] = {
    "JPEG": ["JPEG"],
    "PNG": ["PNG"],
    "GIF": ["GIF"],
    "WEBP": ["WEBP"],
    "TIFF": ["TIFF"],
    "BMP": ["BMP"],
    "HEIF": ["HEIF"],
    "AVIF": ["AVIF", "HEIF"],
}

#: EXIF orientation tag value -> the transpose that makes the image upright.
_ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_EXIF_ORIENTATION = 0x0112

RgbArray = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class DecodedImage:
    #: Upright 8-bit RGB pixels, at most PDQ_SIDE on each side.
    pixels: RgbArray
    format: str
    #: Full size of the image after EXIF orientation.
    width: int
    height: int
    #: EXIF orientation that was applied (1 = none).
    orientation: int
    #: True when the file holds more than one frame (animated GIF/WebP, multi-page TIFF): the first is hashed.
    animated: bool
    #: Only when asked for (``upright_side``): upright 8-bit RGB pixels, true aspect ratio, long side at most
    #: ``upright_side``.
    upright: RgbArray | None = None


def decode_for_pdq(
    data: bytes,
    container: str,
    *,
    max_pixels: int,
    jpeg_draft: bool,
    apply_orientation: bool = True,
    upright_side: int | None = None,
) -> DecodedImage:
    """Decode ``data`` (recognised as ``container``) into upright RGB pixels ready for PDQ; with
    ``upright_side``, also into :attr:`DecodedImage.upright` (see the module docstring).

    ``apply_orientation=False`` exists for conformance checks only: Meta's reference ignores EXIF orientation.
    """
    formats = PILLOW_FORMATS.get(container)
    if formats is None:
        raise UnsupportedFormat(f"{container} images are not supported")
    try:
        return _decode(
            data,
            formats,
            max_pixels,
            jpeg_draft=jpeg_draft,
            orient=apply_orientation,
            upright_side=upright_side,
        )
    except SignalError:
        raise
    except Image.DecompressionBombError:
        raise TooManyPixels("the image has more pixels than the decoder accepts") from None
    except UnidentifiedImageError:
        raise CorruptFile(f"the file starts like a {container} image but cannot be read as one") from None
    except MemoryError:
        raise TooManyPixels("the image needs more memory to decode than is available") from None
    except Exception as exc:
        # Decoder plugins raise whatever they like on damaged input (OSError, SyntaxError, struct.error,
        # RuntimeError from libavif/libheif, ...); all of it means the file cannot be decoded.
        raise _classify(exc, container) from None


def _decode(
    data: bytes,
    formats: list[str],
    max_pixels: int,
    *,
    jpeg_draft: bool,
    orient: bool,
    upright_side: int | None,
) -> DecodedImage:
    with Image.open(io.BytesIO(data), formats=formats) as im:
        width, height = im.size
        if width <= 0 or height <= 0:
            raise CorruptFile("the image has no pixels")
        if width * height > max_pixels:
            raise TooManyPixels(
                f"the image is {width}x{height} = {width * height:,} pixels; the limit is {max_pixels:,}"
            )
        image_format = im.format or formats[0]
        animated = bool(getattr(im, "is_animated", False))
        orientation = _orientation(im) if orient else 1
        if jpeg_draft and image_format in ("JPEG", "MPO"):
            # The JPEG library decodes at 1/2, 1/4 or 1/8 scale, as small as possible while both sides stay
            # >= PDQ_SIDE: a 12 MP photo decodes ~20x faster, a few bits from the full-decode hash.
            im.draft(im.mode, (PDQ_SIDE, PDQ_SIDE))
        im.load()
        # Some loaders apply the orientation themselves and drop the tag (Pillow's TIFF plugin, whose size
        # is upright from the start; pillow-heif): transpose only when the tag is still there after loading.
        pending = _orientation(im) if orient else 1
        upright = im.transpose(_ORIENTATION_TRANSPOSE[pending]) if pending != 1 else im
        pdq_size = _pdq_size(*upright.size)
        pixels = _to_rgb(_sample(upright, pdq_size))
        kept = None
        if upright_side is not None:
            fit = _fit_size(*upright.size, upright_side)
            kept = pixels if fit == pdq_size else _to_rgb(_sample(upright, fit))
    if pending in (5, 6, 7, 8):
        width, height = height, width
    return DecodedImage(pixels, image_format, width, height, orientation, animated, kept)


def _orientation(im: Image.Image) -> int:
    """EXIF orientation 1-8; anything missing or malformed counts as 1 (upright)."""
    try:
        value = im.getexif().get(_EXIF_ORIENTATION, 1)
    except Exception:  # malformed EXIF must not stop hashing: treat as no orientation
        return 1
    return value if isinstance(value, int) and value in _ORIENTATION_TRANSPOSE else 1


def _pdq_size(width: int, height: int) -> tuple[int, int]:
    """PDQ_SIDE x PDQ_SIDE when either side is larger (the C++ reference's rule), else unchanged."""
    return (PDQ_SIDE, PDQ_SIDE) if width > PDQ_SIDE or height > PDQ_SIDE else (width, height)


def _fit_size(width: int, height: int, side: int) -> tuple[int, int]:
    """Aspect ratio kept, long side at most ``side``."""
    if max(width, height) <= side:
        return width, height
    scale = side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _sample(im: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Nearest-neighbour sample to ``size`` (source index = floor(i * side / new side)), exactly as the C++
    reference samples to PDQ_SIDE x PDQ_SIDE."""
    width, height = im.size
    if (width, height) == size:
        return im
    if im.mode == "1":
        # Bilevel images are dithered: single sampled pixels are noise (12 bits off the greyscale original
        # on Meta's fixture), the average of each area is the picture (2 bits off). Deliberately differs
        # from the reference, which has no special case.
        return im.convert("L").resize(size, Image.Resampling.BOX)
    rows = np.arange(size[1]) * height // size[1]
    cols = np.arange(size[0]) * width // size[0]
    sampled = np.ascontiguousarray(np.asarray(im)[rows][:, cols])
    small = Image.frombytes(im.mode, size, sampled.tobytes())
    if im.mode in ("P", "PA"):
        if im.palette is not None:
            small.putpalette(im.palette.tobytes(), rawmode=im.palette.mode)
        if "transparency" in im.info:
            small.info["transparency"] = im.info["transparency"]
    return small


def _to_rgb(im: Image.Image) -> RgbArray:
    mode = im.mode
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif mode == "La":
        im = im.convert("LA").convert("RGBA")  # Pillow has no direct La -> RGBA
    elif mode in ("PA", "LA", "RGBa"):
        im = im.convert("RGBA")
    elif mode == "LAB":
        im = _lab_to_rgb(im)
    elif mode in ("I", "F") or mode.startswith("I;16"):
        im = _high_depth_to_l(im)
    if im.mode == "RGBA":
        return _composite(np.asarray(im))
    try:
        rgb = im.convert("RGB") if im.mode != "RGB" else im
    except ValueError:
        raise UnsupportedFormat(f"the colour mode {mode} is not supported") from None
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))


def _composite(rgba: npt.NDArray[np.uint8]) -> RgbArray:
    alpha = rgba[..., 3:4].astype(np.uint16)
    rgb = rgba[..., :3].astype(np.uint16)
    out = (rgb * alpha + BACKGROUND * (255 - alpha) + 127) // 255
    return np.ascontiguousarray(out.astype(np.uint8))


def _high_depth_to_l(im: Image.Image) -> Image.Image:
    """16-bit, 32-bit integer and float greyscale to 8 bits.

    The range is read from the values: 0-1 floats are scaled by 255, values within 0-255 kept, values within
    0-65535 (16-bit) divided by 257; anything else is stretched from its minimum to its maximum.
    """
    values = np.asarray(im).astype(np.float64)
    values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    if im.mode == "F" and low >= 0.0 and high <= 1.0:
        scaled = values * 255.0
    elif low >= 0.0 and high <= 255.0 and not im.mode.startswith("I;16"):
        scaled = values
    elif low >= 0.0 and high <= 65535.0:
        scaled = values / 257.0
    else:
        scaled = (values - low) * (255.0 / (high - low)) if high > low else np.zeros_like(values)
    return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8))


def _lab_to_rgb(im: Image.Image) -> Image.Image:
    transform = ImageCms.buildTransform(
        ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB"), "LAB", "RGB"
    )
    converted = ImageCms.applyTransform(im, transform)
    return converted if converted is not None else im.convert("RGB")


def _classify(exc: BaseException, container: str) -> SignalError:
    """Turn a decoder exception into our error, telling truncation apart from other damage."""
    text = str(exc).lower()
    if isinstance(exc, EOFError) or "truncated" in text or "premature end" in text or "end of file" in text:
        return TruncatedFile(f"the {container} file ends before the image does (incomplete copy?)")
    return CorruptFile(f"the {container} file is damaged and cannot be decoded")

