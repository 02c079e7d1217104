"""A phone screenshot of a photo-sharing app, drawn with Pillow around a photo.

Why drawn rather than pasted into ``../shared/corpus/screenshots``: those are desktop web pages with their own
photos in them; a drawn frame lets every layout detail that makes locating the photo hard vary per image —
light or dark theme, a stories row of coloured circles above, text of varying length below, the next post's
header peeking in, and the final downscale a phone or messaging app applies — without any downloaded fonts or
emoji (Pillow's bundled default font only).
"""

from __future__ import annotations

import random

from PIL import Image, ImageDraw, ImageFont

_WIDTH, _HEIGHT = 1080, 2340


def phone_screenshot(photo: Image.Image, rng: random.Random) -> Image.Image:
    """``photo`` full-width in a feed post, inside a 1080x2340 phone frame scaled to 1080/720/540 wide."""
    dark = rng.random() < 0.4
    bg, fg, muted = (
        ((0, 0, 0), (245, 245, 245), (150, 150, 150))
        if dark
        else ((255, 255, 255), (20, 20, 20), (115, 115, 115))
    )
    canvas = Image.new("RGB", (_WIDTH, _HEIGHT), bg)
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=34)
    bold = ImageFont.load_default(size=46)

    # Status bar: clock, signal bars, battery.
    draw.text((60, 24), f"{rng.randint(1, 12)}:{rng.randrange(60):02d}", font=font, fill=fg)
    for i in range(4):
        draw.rectangle((880 + i * 16, 56 - i * 8, 890 + i * 16, 64), fill=fg)
    draw.rounded_rectangle((960, 30, 1030, 64), radius=6, outline=fg, width=3)
    draw.rectangle((966, 36, 966 + rng.randint(10, 58), 58), fill=fg)

    # App header: name and two icons.
    draw.text((40, 110), "Photogram", font=bold, fill=fg)
    draw.ellipse((900, 110, 950, 160), outline=fg, width=4)
    draw.polygon(((980, 112), (1040, 135), (980, 160)), outline=fg, width=4)
    y = 200

    landscape = photo.width >= photo.height
    if landscape and rng.random() < 0.6:
        # Stories row: ringed circles with initials.
        for i in range(6):
            cx = 100 + i * 180
            colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
            draw.ellipse((cx - 70, y + 20, cx + 70, y + 160), outline=(225, 48, 108), width=6)
            draw.ellipse((cx - 58, y + 32, cx + 58, y + 148), fill=colour)
            draw.text((cx - 50, y + 170), f"user{rng.randrange(100)}", font=font, fill=fg)
        y += 230
        draw.line((0, y, _WIDTH, y), fill=muted, width=1)

    # Post header: avatar, handle, menu dots.
    y += 20
    draw.ellipse((30, y, 110, y + 80), fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    draw.text((130, y + 18), f"account_{rng.randrange(10_000)}", font=font, fill=fg)
    for i in range(3):
        draw.ellipse((1000 + i * 18, y + 36, 1008 + i * 18, y + 44), fill=fg)
    y += 100

    # The photo, full width.
    height = round(_WIDTH * photo.height / photo.width)
    canvas.paste(photo.resize((_WIDTH, height), Image.Resampling.LANCZOS), (0, y))
    y += height

    # Action icons, likes, caption, comments, then the next post's header if there is room.
    y += 24
    draw.ellipse((30, y, 90, y + 56), outline=fg, width=5)
    draw.ellipse((120, y, 180, y + 56), outline=fg, width=5)
    draw.polygon(((210, y), (270, y + 28), (210, y + 56)), outline=fg, width=5)
    draw.rectangle((1000, y, 1040, y + 56), outline=fg, width=5)
    y += 80
    draw.text((30, y), f"{rng.randint(10, 99_999):,} likes", font=font, fill=fg)
    y += 50
    words = ["sunset", "weekend", "friends", "memories", "travel", "love", "view", "mood", "summer", "city"]
    caption = " ".join(rng.choice(words) for _ in range(rng.randint(3, 9)))
    draw.text((30, y), f"account_{rng.randrange(100)} {caption}", font=font, fill=fg)
    y += 50
    draw.text((30, y), f"View all {rng.randint(2, 400)} comments", font=font, fill=muted)
    y += 70
    if y + 100 < _HEIGHT - 160:
        draw.ellipse((30, y, 110, y + 80), fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256)))
        draw.text((130, y + 18), f"account_{rng.randrange(10_000)}", font=font, fill=fg)

    # Bottom navigation bar.
    nav = _HEIGHT - 150
    draw.rectangle((0, nav, _WIDTH, _HEIGHT), fill=bg)
    draw.line((0, nav, _WIDTH, nav), fill=muted, width=2)
    for i in range(5):
        cx = 108 + i * 216
        draw.rounded_rectangle((cx - 30, nav + 40, cx + 30, nav + 100), radius=10, outline=fg, width=5)

    width = rng.choice((1080, 720, 540))
    return canvas.resize((width, round(_HEIGHT * width / _WIDTH)), Image.Resampling.LANCZOS)


def chat_screenshot(photo: Image.Image, rng: random.Random) -> Image.Image:
    """``photo`` as a sent picture in a messaging app: a rounded bubble about two thirds of the screen wide,
    between message bubbles, with a header and an input bar; scaled as phones save screenshots."""
    dark = rng.random() < 0.4
    bg, bubble, fg = (
        ((12, 16, 20), (0, 92, 75), (235, 235, 235))
        if dark
        else ((236, 229, 221), (220, 248, 198), (20, 20, 20))
    )
    canvas = Image.new("RGB", (_WIDTH, _HEIGHT), bg)
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=36)
    draw.rectangle((0, 0, _WIDTH, 200), fill=(7, 94, 84) if not dark else (31, 44, 52))
    draw.ellipse((110, 80, 200, 170), fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    draw.text((230, 100), f"friend_{rng.randrange(1000)}", font=font, fill=(255, 255, 255))
    y = 240
    for _ in range(rng.randint(1, 3)):
        text_w = rng.randint(300, 800)
        mine = rng.random() < 0.5
        x0 = _WIDTH - 40 - text_w if mine else 40
        draw.rounded_rectangle(
            (x0, y, x0 + text_w, y + 90),
            radius=24,
            fill=bubble if mine else ((32, 44, 51) if dark else (255, 255, 255)),
        )
        draw.text((x0 + 24, y + 24), "see this" if mine else "what?", font=font, fill=fg)
        y += 120
    width = round(_WIDTH * rng.uniform(0.62, 0.72))
    height = min(round(width * photo.height / photo.width), _HEIGHT - y - 320)
    width = round(height * photo.width / photo.height)
    x0 = _WIDTH - 40 - width - 16 if rng.random() < 0.5 else 40
    draw.rounded_rectangle((x0, y, x0 + width + 16, y + height + 60), radius=24, fill=bubble)
    canvas.paste(photo.resize((width, height), Image.Resampling.LANCZOS), (x0 + 8, y + 8))
    draw.text(
        (x0 + width - 120, y + height + 14),
        f"{rng.randint(1, 12)}:{rng.randrange(60):02d}",
        font=ImageFont.load_default(size=28),
        fill=fg,
    )
    draw.rounded_rectangle(
        (30, _HEIGHT - 150, _WIDTH - 160, _HEIGHT - 50),
        radius=50,
        fill=(32, 44, 51) if dark else (255, 255, 255),
    )
    draw.ellipse((_WIDTH - 140, _HEIGHT - 150, _WIDTH - 40, _HEIGHT - 50), fill=(0, 168, 132))
    scale = rng.choice((1080, 720, 540))
    return canvas.resize((scale, round(_HEIGHT * scale / _WIDTH)), Image.Resampling.LANCZOS)


def browser_screenshot(photo: Image.Image, rng: random.Random) -> Image.Image:
    """``photo`` on a web page in a desktop browser window (tabs, address bar, a side column of text), the
    whole screen captured at 1920x1080 or 1366x768."""
    sw, sh = rng.choice(((1920, 1080), (1366, 768)))
    canvas = Image.new("RGB", (sw, sh), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=max(14, sh // 60))
    draw.rectangle((0, 0, sw, sh // 12), fill=(222, 225, 230))
    draw.rounded_rectangle((sw // 50, sh // 60, sw // 5, sh // 12), radius=8, fill=(255, 255, 255))
    draw.text((sw // 40, sh // 40), "Forum - thread", font=font, fill=(30, 30, 30))
    draw.rounded_rectangle(
        (sw // 10, sh // 12 + 6, sw * 9 // 10, sh // 12 + sh // 22), radius=14, fill=(241, 243, 244)
    )
    draw.text(
        (sw // 9, sh // 12 + 12),
        f"https://example.org/t/{rng.randrange(10**6)}",
        font=font,
        fill=(60, 60, 60),
    )
    top = sh // 12 + sh // 20 + 20
    left = round(sw * rng.uniform(0.08, 0.2))
    max_w, max_h = round(sw * 0.5), sh - top - 40
    scale = min(max_w / photo.width, max_h / photo.height)
    pw, ph = max(1, round(photo.width * scale)), max(1, round(photo.height * scale))
    canvas.paste(photo.resize((pw, ph), Image.Resampling.LANCZOS), (left, top + 20))
    for line in range(12):
        y = top + 30 + line * (sh // 24)
        draw.text(
            (left + pw + 40, y),
            " ".join("lorem" for _ in range(rng.randint(3, 8))),
            font=font,
            fill=(70, 70, 70),
        )
    return canvas
