"""Helpers shared by the signals tests: PDQ distance and in-memory image encoding."""

from __future__ import annotations

import io

from PIL import Image


def pdq_distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **params)
    return buf.getvalue()
