"""Decoding an image file into the pixels PDQ hashes.

The steps, each for a reason (docs/SIGNALS.md says the same for operators):

1. Only formats recognised from the file's bytes reach Pillow, and Pillow is told which one to use.
2. The pixel count is checked from the header, before any pixel is decoded (decompression bombs).
3. Large JPEGs are decoded at reduced size by the JPEG library itself (DCT scaling, Pillow's ``draft``).
4. EXIF orientation is applied: phones store photos sideways plus a "rotate me" tag, and a survivor's photo
   must hash like what everyone sees on screen.
5. Before any pixel is decoded, the memory the decode will hold is reserved from the process's decoding
   budget when one is given (``signals/budget.py``): concurrent uploads cannot together exhaust memory.
6. Images larger than 512 px on a side are sampled to exactly 512x512 by nearest neighbour with OpenCV's
   rule (source index = floor(i * size / 512)): this is what Meta's C++ PDQ tool does, and reproducing it
   gives bit-identical hashes to the reference. The sampled rows are read one at a time from the decoded
   frame and the EXIF orientation is applied to the small result (the same pixels as transposing first),
   so the full frame is never copied: the decoder's own frame is the only full-size copy we make.
7. Every colour mode becomes 8-bit RGB; transparent pixels are composited on white.

On request (``upright_side``) the same decode also yields the upright pixels with their true aspect ratio,
long side at most ``upright_side`` (same nearest-neighbour rule): what robust PDQ (``signals/robust.py``)
needs, since it crops windows and measures angles that the 512x512 square would distort. One decode serves
both, so a large upload is not decoded twice.
"""

from __future__ import annotations

import contextlib
import io
import sys
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pillow_heif
from PIL import Image, ImageCms, UnidentifiedImageError

from redline.signals.budget import DecodeBudget, DecoderBusy, release_free_memory
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
# Pillow allocates large images in blocks of 16 MiB by default, which glibc serves from its heaps once its
# mmap threshold has adapted upwards (to at most 32 MiB); freed, they stay in the process (one heap per
# thread), so after a few concurrent large decodes the server's RSS keeps their sum. Blocks of 64 MiB are
# always mapped and unmapped by glibc: memory goes back to the system when an image is freed. Small images
# are unaffected (a block is never larger than the image).
Image.core.set_block_size(64 * 1024 * 1024)  # type: ignore[attr-defined]

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
    budget: DecodeBudget | None = None,
) -> DecodedImage:
    """Decode ``data`` (recognised as ``container``) into upright RGB pixels ready for PDQ; with
    ``upright_side``, also into :attr:`DecodedImage.upright` (see the module docstring). With ``budget``,
    the decode first reserves its memory there (may raise ``budget.DecoderBusy``).

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
            budget=budget,
        )
    except (SignalError, DecoderBusy):
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
    budget: DecodeBudget | None,
) -> DecodedImage:
    # The reservation is given back only once _decode_held has returned: Pillow frees an image's pixels when
    # the last reference to it goes, not when it is closed.
    with contextlib.ExitStack() as held:
        return _decode_held(
            data,
            formats,
            max_pixels,
            jpeg_draft=jpeg_draft,
            orient=orient,
            upright_side=upright_side,
            budget=budget,
            held=held,
        )


def _decode_held(
    data: bytes,
    formats: list[str],
    max_pixels: int,
    *,
    jpeg_draft: bool,
    orient: bool,
    upright_side: int | None,
    budget: DecodeBudget | None,
    held: contextlib.ExitStack,
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
        if jpeg_draft and image_format in ("JPEG", "MPO"):
            # The JPEG library decodes at 1/2, 1/4 or 1/8 scale, as small as possible while both sides stay
            # >= PDQ_SIDE: a 12 MP photo decodes ~20x faster, a few bits from the full-decode hash.
            im.draft(im.mode, (PDQ_SIDE, PDQ_SIDE))
        if budget is not None:
            # Before anything that may decode pixels (Pillow's PNG plugin decodes the whole image to find
            # EXIF after the pixel data). Held until the image's memory is freed and handed back (_decode).
            # The file's own bytes are held too (read whole for hashing): counted, so that many large files
            # at once wait like many large images.
            held.enter_context(budget.reserve(decode_cost(im, width * height) + len(data)))
            held.callback(release_free_memory)
        animated = bool(getattr(im, "is_animated", False))
        orientation = _orientation(im) if orient else 1
        im.load()
        # Some loaders apply the orientation themselves and drop the tag (Pillow's TIFF plugin, whose size
        # is upright from the start; pillow-heif): transpose only when the tag is still there after loading.
        pending = _orientation(im) if orient else 1
        upright_size = im.size[::-1] if pending in (5, 6, 7, 8) else im.size
        pdq_size = _pdq_size(*upright_size)
        pixels = _to_rgb(_sample(im, pdq_size, pending))
        kept = None
        if upright_side is not None:
            fit = _fit_size(*upright_size, upright_side)
            kept = pixels if fit == pdq_size else _to_rgb(_sample(im, fit, pending))
    if pending in (5, 6, 7, 8):
        width, height = height, width
    return DecodedImage(pixels, image_format, width, height, orientation, animated, kept)


#: Full-size buffers a decoder holds at its peak, counting the frame Pillow fills (measured with
#: bench/decode_memory.py): libwebp's animation decoder, the only WebP decoder Pillow has, keeps two RGBA
#: canvases and hands Pillow a copy of one; libheif decodes into its own buffer.
_DECODER_COPIES = {"WEBP": 4, "HEIF": 2, "AVIF": 2}
#: Working memory besides the frames (decoder state, our sampled rows): small, but never zero.
_SLACK = 8 * 1024 * 1024


def decode_cost(im: Image.Image, full_pixels: int) -> int:
    """Bytes the decode of ``im`` (opened, not loaded; after ``draft``) will hold at its peak: the frame
    Pillow fills (1, 2 or 4 bytes per pixel: Pillow stores RGB and every multi-band mode in 4) times the
    decoder's copies, and a progressive JPEG's coefficient buffer, which is full size whatever the DCT
    scaling (2 bytes per coefficient of each component at its own sampling)."""
    mode = im.mode
    per_pixel = 1 if mode in ("1", "L", "P") else 2 if mode.startswith("I;16") else 4
    cost = im.size[0] * im.size[1] * per_pixel * _DECODER_COPIES.get(im.format or "", 1) + _SLACK
    if im.format in ("JPEG", "MPO") and (im.info.get("progressive") or im.info.get("progression")):
        layers = getattr(im, "layer", None) or [("", 1, 1, 0)] * 3
        h_max = max(layer[1] for layer in layers) or 1
        v_max = max(layer[2] for layer in layers) or 1
        share = sum(layer[1] * layer[2] for layer in layers) / (h_max * v_max)
        cost += int(full_pixels * share * 2)
    return cost


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


def _sample(im: Image.Image, size: tuple[int, int], orientation: int = 1) -> Image.Image:
    """The upright image (``im`` with EXIF ``orientation`` applied) nearest-neighbour sampled to ``size``
    (source index = floor(i * side / new side)), exactly as the C++ reference samples to PDQ_SIDE x
    PDQ_SIDE. Only the sampled rows of ``im`` are read; the small result is transposed."""
    if im.mode == "1":
        # Bilevel images are dithered: single sampled pixels are noise (12 bits off the greyscale original
        # on Meta's fixture), the average of each area is the picture (2 bits off). Deliberately differs
        # from the reference, which has no special case. (1 byte per pixel at most: the copies are small.)
        upright = im.transpose(_ORIENTATION_TRANSPOSE[orientation]) if orientation != 1 else im
        if upright.size == size:
            return upright
        return upright.convert("L").resize(size, Image.Resampling.BOX)
    swapped = orientation in (5, 6, 7, 8)
    upright_w, upright_h = (im.height, im.width) if swapped else im.size
    if (upright_w, upright_h) == size and orientation == 1:
        return im
    up_rows = np.arange(size[1]) * upright_h // size[1]
    up_cols = np.arange(size[0]) * upright_w // size[0]
    # Upright pixel (r, c) is pixel (y, x) of the stored image: which stored rows and columns, in which
    # order, for each orientation (Pillow's transposes, checked against them in tests/signals).
    if swapped:
        src_rows, src_cols = up_cols, up_rows
        flip_rows, flip_cols = orientation in (6, 7), orientation in (7, 8)
    else:
        src_rows, src_cols = up_rows, up_cols
        flip_rows, flip_cols = orientation in (3, 4), orientation in (2, 3)
    if flip_rows:
        src_rows = im.height - 1 - src_rows
    if flip_cols:
        src_cols = im.width - 1 - src_cols
    sampled = _gather(im, src_rows, src_cols)
    if swapped:
        sampled = np.ascontiguousarray(sampled.swapaxes(0, 1))
    small = Image.frombytes(im.mode, size, sampled.tobytes())
    if im.mode in ("P", "PA"):
        if im.palette is not None:
            small.putpalette(im.palette.tobytes(), rawmode=im.palette.mode)
        if "transparency" in im.info:
            small.info["transparency"] = im.info["transparency"]
    return small


def _gather(im: Image.Image, rows: npt.NDArray[np.int64], cols: npt.NDArray[np.int64]) -> npt.NDArray[Any]:
    """``np.asarray(im)[rows][:, cols]`` without making the whole array: one row of ``im`` at a time."""
    out: npt.NDArray[Any] | None = None
    cache: dict[int, npt.NDArray[Any]] = {}
    for i, y in enumerate(rows.tolist()):
        line = cache.get(y)
        if line is None:
            line = np.asarray(im.crop((0, y, im.width, y + 1)))[0][cols]
            cache = {y: line}  # consecutive sampled rows repeat when upscaling; keep only the last
        if out is None:
            out = np.empty((len(rows), *line.shape), dtype=line.dtype)
        out[i] = line
    assert out is not None
    return out


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
