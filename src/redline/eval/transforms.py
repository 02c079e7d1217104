"""The edits a re-shared image goes through, as deterministic functions of (image, seed).

Why deterministic: a benchmark figure must be reproducible, and a test must see the same pixels every run.
Each transform takes an RGB image and a ``random.Random`` seeded from (image id, transform name) by
:func:`seeded_rng`, so the same image always gets the same crop offsets, fill colour or sticker positions.

Magnitudes follow Thorn's public PDQ benchmark (imgaug ``Crop(percent=p)``, ``Pad(percent=0.2)``,
``Affine(rotate=...)``) so our figures can be set beside theirs, with one deliberate difference: our crops are
*off-centre* (each side loses ``p`` times a random factor in [0.5, 1.5]), because real crops rarely are
centred and a centred crop would flatter any method that stores centre crops.
"""

from __future__ import annotations

import hashlib
import io
import math
import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

from redline.eval.screenshot import browser_screenshot, chat_screenshot, phone_screenshot
from redline.signals.decode import BACKGROUND

TransformFn = Callable[[Image.Image, random.Random], Image.Image]


@dataclass(frozen=True)
class Transform:
    """A named edit. ``group`` collects variants (e.g. ±4° rotations) for reporting goals."""

    name: str
    group: str
    apply: TransformFn


def seeded_rng(image_id: str, transform_name: str) -> random.Random:
    """The random source for one (image, transform): stable across runs, machines and Python versions."""
    digest = hashlib.sha256(f"{image_id}\0{transform_name}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def crop(fraction: float) -> TransformFn:
    """Remove about ``fraction`` of the width and height from *each* side, off-centre."""

    def apply(img: Image.Image, rng: random.Random) -> Image.Image:
        w, h = img.size
        sides = [fraction * rng.uniform(0.5, 1.5) for _ in range(2)]
        left = round(w * sides[0])
        right = w - round(w * (2 * fraction - sides[0]))
        top = round(h * sides[1])
        bottom = h - round(h * (2 * fraction - sides[1]))
        return img.crop((left, top, right, bottom))

    return apply


def pad(fraction: float, fill: str) -> TransformFn:
    """Add a border of ``fraction`` of the width/height on each side: solid colour or blurred copy."""

    def apply(img: Image.Image, rng: random.Random) -> Image.Image:
        w, h = img.size
        dx, dy = round(w * fraction), round(h * fraction)
        size = (w + 2 * dx, h + 2 * dy)
        if fill == "solid":
            colour = rng.choice(
                [(0, 0, 0), (255, 255, 255), (rng.randrange(256), rng.randrange(256), rng.randrange(256))]
            )
            canvas = Image.new("RGB", size, colour)
        else:
            # What Instagram stories and TikTok do: the photo stretched over the frame, heavily blurred.
            canvas = img.resize(size, Image.Resampling.BILINEAR).filter(
                ImageFilter.GaussianBlur(radius=max(size) / 25)
            )
        canvas.paste(img, (dx, dy))
        return canvas

    return apply


def rotate(degrees: float) -> TransformFn:
    """Rotate counter-clockwise by ``degrees`` on the same canvas, corners filled black (imgaug Affine)."""

    def apply(img: Image.Image, rng: random.Random) -> Image.Image:
        return img.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=False, fillcolor=(0, 0, 0))

    return apply


def jpeg(quality: int) -> TransformFn:
    def apply(img: Image.Image, rng: random.Random) -> Image.Image:
        buffer = io.BytesIO()
        img.save(buffer, format="JPEG", quality=quality)
        buffer.seek(0)
        return Image.open(buffer).convert("RGB")

    return apply


def resize(scale: float) -> TransformFn:
    def apply(img: Image.Image, rng: random.Random) -> Image.Image:
        w, h = img.size
        return img.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.LANCZOS)

    return apply


def mirror(img: Image.Image, rng: random.Random) -> Image.Image:
    return ImageOps.mirror(img)


def greyscale(img: Image.Image, rng: random.Random) -> Image.Image:
    return img.convert("L").convert("RGB")


def watermark(img: Image.Image, rng: random.Random) -> Image.Image:
    """A semi-transparent handle in a corner and a larger one across the middle, as reposting accounts add."""
    w, h = img.size
    base = img.convert("RGBA")
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    handle = f"@repost_{rng.randrange(10_000):04d}"
    small = ImageFont.load_default(size=max(10, h // 18))
    big = ImageFont.load_default(size=max(14, h // 9))
    draw.text((w * 0.04, h * 0.9), handle, font=small, fill=(255, 255, 255, 200))
    draw.text(
        (w * rng.uniform(0.1, 0.3), h * rng.uniform(0.35, 0.55)), handle, font=big, fill=(255, 255, 255, 110)
    )
    return Image.alpha_composite(base, layer).convert("RGB")


def stickers(img: Image.Image, rng: random.Random) -> Image.Image:
    """One to three opaque 'emoji' (a face drawn from circles) or polygon stickers, 8-14% of the width."""
    out = img.copy()
    draw = ImageDraw.Draw(out)
    w, h = img.size
    for _ in range(rng.randint(1, 3)):
        r = w * rng.uniform(0.04, 0.07)
        cx, cy = rng.uniform(r, w - r), rng.uniform(r, h - r)
        if rng.random() < 0.5:
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(255, 204, 51), outline=(120, 80, 0))
            for ex in (-0.35, 0.35):
                draw.ellipse(
                    (cx + ex * r - r * 0.12, cy - r * 0.35, cx + ex * r + r * 0.12, cy - r * 0.1),
                    fill=(60, 40, 20),
                )
            draw.arc(
                (cx - r * 0.5, cy - r * 0.3, cx + r * 0.5, cy + r * 0.55),
                20,
                160,
                fill=(60, 40, 20),
                width=max(1, round(r / 8)),
            )
        else:
            colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
            draw.regular_polygon(
                (cx, cy, r), n_sides=rng.choice([5, 6, 8]), rotation=rng.uniform(0, 90), fill=colour
            )
    return out


def screenshot(img: Image.Image, rng: random.Random) -> Image.Image:
    return phone_screenshot(img, rng)


def rotate_fit(degrees: float, fill: str) -> TransformFn:
    """Rotate with the canvas enlarged to hold the whole picture (what phone editors and most apps do),
    corners filled black, white or transparent. A transparent PNG reaches the hasher flattened onto the
    decoder's background, so it is flattened the same way here."""

    def apply(img: Image.Image, rng: random.Random) -> Image.Image:
        if fill == "transparent":
            rotated = img.convert("RGBA").rotate(
                degrees, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(0, 0, 0, 0)
            )
            backdrop = Image.new("RGBA", rotated.size, (BACKGROUND, BACKGROUND, BACKGROUND, 255))
            return Image.alpha_composite(backdrop, rotated).convert("RGB")
        colour = (0, 0, 0) if fill == "black" else (255, 255, 255)
        return img.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=colour)

    return apply


def straighten(degrees: float) -> TransformFn:
    """A "straighten" tool: rotate, then crop to the largest centred rectangle of the original aspect ratio
    that holds no corner fill, and scale back to the original size."""

    def apply(img: Image.Image, rng: random.Random) -> Image.Image:
        w, h = img.size
        a = math.radians(abs(degrees))
        # The largest w' x h' (w'/h' = w/h) centred rectangle inside the w x h picture rotated by a.
        scale = 1 / (math.cos(a) + math.sin(a) * max(w / h, h / w))
        rotated = img.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=False)
        cw, ch = w * scale, h * scale
        box = (round((w - cw) / 2), round((h - ch) / 2), round((w + cw) / 2), round((h + ch) / 2))
        return rotated.crop(box).resize((w, h), Image.Resampling.LANCZOS)

    return apply


def _other_content(size: tuple[int, int], rng: random.Random) -> Image.Image:
    """Smooth, photo-like content unrelated to the picture (a few random low-frequency waves in colour),
    standing in for what an inpainting tool paints into the region."""
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    channels = []
    for _ in range(3):
        total = np.zeros((h, w), np.float32)
        for _ in range(4):
            fx, fy = rng.uniform(0.5, 4) / max(w, 1), rng.uniform(0.5, 4) / max(h, 1)
            total += np.sin(2 * math.pi * (fx * x + fy * y) + rng.uniform(0, 2 * math.pi))
        channels.append(total)
    pixels = (np.stack(channels, -1) / 4 + 1) * 127.5
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8))


def replace_part(area: float, fill: str) -> TransformFn:
    """Part of the picture repainted, the rest untouched: a region of ``area`` of the picture in its lower
    middle (where "undress" tools repaint clothing), filled with other content, a heavy blur or noise. This is
    how an AI-made image derived from someone's public photo differs from its source."""

    def apply(img: Image.Image, rng: random.Random) -> Image.Image:
        w, h = img.size
        # A region 1.2 times as wide (relative) as it is tall, reaching down to about the bottom edge.
        rh = min(1.0, math.sqrt(area / 1.2))
        rw = min(1.0, area / rh)
        bw, bh = max(1, round(w * rw)), max(1, round(h * rh))
        left = round((w - bw) * rng.uniform(0.4, 0.6))
        top = h - bh - round((h - bh) * rng.uniform(0, 0.5))
        box = (left, top, left + bw, top + bh)
        if fill == "other":
            patch = _other_content((bw, bh), rng)
        elif fill == "blur":
            patch = img.crop(box).filter(ImageFilter.GaussianBlur(radius=max(bw, bh) / 8))
        else:
            noise = np.random.default_rng(rng.randrange(2**32)).integers(0, 256, (bh, bw, 3), dtype=np.uint8)
            patch = Image.fromarray(noise)
        out = img.copy()
        out.paste(patch, box[:2])
        return out

    return apply


def chat_screen(img: Image.Image, rng: random.Random) -> Image.Image:
    return chat_screenshot(img, rng)


def browser_screen(img: Image.Image, rng: random.Random) -> Image.Image:
    return browser_screenshot(img, rng)


def chain(*fns: TransformFn) -> TransformFn:
    def apply(img: Image.Image, rng: random.Random) -> Image.Image:
        for fn in fns:
            img = fn(img, rng)
        return img

    return apply


TRANSFORMS: tuple[Transform, ...] = (
    Transform("crop_5", "crop_5", crop(0.05)),
    Transform("crop_10", "crop_10", crop(0.10)),
    Transform("crop_20", "crop_20", crop(0.20)),
    Transform("pad_20_solid", "pad_20", pad(0.20, "solid")),
    Transform("pad_20_blur", "pad_20", pad(0.20, "blur")),
    Transform("rotate_+4", "rotate_4", rotate(4)),
    Transform("rotate_-4", "rotate_4", rotate(-4)),
    Transform("rotate_+10", "rotate_10", rotate(10)),
    Transform("rotate_-10", "rotate_10", rotate(-10)),
    Transform("jpeg_30", "jpeg", jpeg(30)),
    Transform("jpeg_50", "jpeg", jpeg(50)),
    Transform("jpeg_95", "jpeg", jpeg(95)),
    Transform("resize_0.25", "resize", resize(0.25)),
    Transform("resize_0.5", "resize", resize(0.5)),
    Transform("mirror", "mirror", mirror),
    Transform("greyscale", "greyscale", greyscale),
    Transform("watermark", "watermark", watermark),
    Transform("stickers", "stickers", stickers),
    Transform("screenshot", "screenshot", screenshot),
    Transform("screenshot+jpeg_50", "screenshot", chain(screenshot, jpeg(50))),
    Transform("crop_5+jpeg_50", "combination", chain(crop(0.05), jpeg(50))),
    Transform("pad_20_blur+resize_0.5", "combination", chain(pad(0.20, "blur"), resize(0.5))),
    Transform("rotate_+4+crop_5", "combination", chain(rotate(4), crop(0.05))),
    Transform("mirror+stickers+jpeg_50", "combination", chain(mirror, stickers, jpeg(50))),
    # Issue #15's edits: the canvas enlarged to fit a rotation, straightening, deep crops, part of the
    # picture repainted, the picture inside a chat app or a desktop browser, and those with JPEG 50 / resize.
    Transform("rotate_fit_+2_black", "rotate_fit", rotate_fit(2, "black")),
    Transform("rotate_fit_-5_white", "rotate_fit", rotate_fit(-5, "white")),
    Transform("rotate_fit_+10_transparent", "rotate_fit", rotate_fit(10, "transparent")),
    Transform("rotate_fit_-10_black", "rotate_fit", rotate_fit(-10, "black")),
    Transform("straighten_+2", "straighten", straighten(2)),
    Transform("straighten_-5", "straighten", straighten(-5)),
    Transform("straighten_+10", "straighten", straighten(10)),
    Transform("crop_25", "crop_25", crop(0.25)),
    Transform("crop_33", "crop_33", crop(0.33)),
    Transform("replace_30_other", "replace_30", replace_part(0.30, "other")),
    Transform("replace_30_blur", "replace_30", replace_part(0.30, "blur")),
    Transform("replace_30_noise", "replace_30", replace_part(0.30, "noise")),
    Transform("replace_50_other", "replace_50", replace_part(0.50, "other")),
    Transform("replace_50_blur", "replace_50", replace_part(0.50, "blur")),
    Transform("replace_50_noise", "replace_50", replace_part(0.50, "noise")),
    Transform("screenshot_chat", "screenshot_app", chat_screen),
    Transform("screenshot_browser", "screenshot_app", browser_screen),
    Transform("rotate_fit_-5_white+jpeg_50", "combination_15", chain(rotate_fit(-5, "white"), jpeg(50))),
    Transform("straighten_+5+resize_0.5", "combination_15", chain(straighten(5), resize(0.5))),
    Transform("crop_25+jpeg_50", "combination_15", chain(crop(0.25), jpeg(50))),
    Transform(
        "replace_30_other+resize_0.5", "combination_15", chain(replace_part(0.30, "other"), resize(0.5))
    ),
    Transform("screenshot_chat+jpeg_50", "combination_15", chain(chat_screen, jpeg(50))),
)


#: Off-centre crops of every size from 2.5% to 25% a side, for ``bench/robustness.py --crop-sweep``: a
#: recipe tuned to the three benchmark sizes (5/10/20%) alone would miss the sizes between them.
CROP_SWEEP: tuple[Transform, ...] = tuple(
    Transform(f"crop_{percent:g}", "crop_sweep", crop(percent / 100))
    for percent in (2.5, 7.5, 12.5, 15, 17.5, 22.5, 25)
)


def transform_named(name: str) -> Transform:
    for transform in (*TRANSFORMS, *CROP_SWEEP):
        if transform.name == name:
            return transform
    known = ", ".join(t.name for t in (*TRANSFORMS, *CROP_SWEEP))
    raise KeyError(f"unknown transform {name!r}; known: {known}")


def apply_transform(transform: Transform, image_id: str, img: Image.Image) -> Image.Image:
    """``transform`` applied to ``img`` with the seed that belongs to (image, transform)."""
    return transform.apply(img.convert("RGB"), seeded_rng(image_id, transform.name)).convert("RGB")
