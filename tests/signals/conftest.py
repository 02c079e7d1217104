"""Fixtures for the signals tests: corpus paths and small generated images."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from tests.support.media import encode


@pytest.fixture(scope="session")
def photo(corpus: Path) -> Image.Image:
    """A natural photo (Kodak, 768x512 RGB), the source of generated test images."""
    path = sorted((corpus / "photos" / "kodak24").rglob("*.png"))[2]
    with Image.open(path) as im:
        return im.convert("RGB")


@pytest.fixture(scope="session")
def small_jpeg(photo: Image.Image) -> bytes:
    """A small real JPEG for mutation tests (bytes)."""
    return encode(photo.resize((96, 64)), "JPEG", quality=85)
