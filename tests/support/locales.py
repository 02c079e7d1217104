"""The portal's languages and their message catalogs (the files the portal itself loads)."""

from __future__ import annotations

import json

from redline.web import STATIC_DIR

LANGUAGES = ["en", "zh-Hant-HK", "zh-Hans"]


def catalog(lang: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((STATIC_DIR / "locales" / f"{lang}.json").read_text("utf-8"))
    return data
