"""Every character the portal shows has a glyph in the test browser, in every language.

Without a CJK font, Chromium draws Chinese as empty boxes (the font's missing-glyph shape), and a test that
reads text would still pass. This one draws each character the page shows on a canvas, in the page's own
font, and compares it with the drawing of a code point no font has (U+10FFFD, private use): the same
pixels mean the same missing-glyph box. ``./dev test`` installs the fonts (fonts-noto-cjk); the second test
shows the check catches a browser without them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from tests.support import CHROMIUM_ARGS
from tests.support.locales import LANGUAGES, catalog
from tests.support.portal import open_portal

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),  # the page, not the database
]

#: Returns the characters of ``chars`` drawn exactly like a code point that no font has.
MISSING_GLYPHS = """(chars) => {
  const canvas = document.createElement('canvas');
  canvas.width = 48;
  canvas.height = 48;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.font = `32px ${getComputedStyle(document.body).fontFamily}`;
  const drawing = (c) => {
    ctx.clearRect(0, 0, 48, 48);
    ctx.fillText(c, 4, 36);
    const alpha = ctx.getImageData(0, 0, 48, 48).data;
    let sum = 0;
    for (let i = 3; i < alpha.length; i += 4) sum = (sum * 31 + alpha[i] * (i + 1)) % 2147483647;
    return sum;
  };
  const box = drawing('\\u{10FFFD}');
  return chars.filter((c) => drawing(c) === box);
}"""


def chromium_path() -> str:
    return shutil.which("chromium") or "/usr/bin/chromium"


def shown_characters(page: Page, lang: str) -> list[str]:
    """Every character the page can show in ``lang``: its catalog and what is on screen (help services)."""
    text = "".join(catalog(lang).values()) + page.locator("body").inner_text()
    return sorted({c for c in text if not c.isspace()})


def missing(page: Page, chars: list[str]) -> list[str]:
    found: list[str] = page.evaluate(MISSING_GLYPHS, chars)
    return found


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_character_of_the_page_has_a_glyph(chromium: Any, portal: tuple[str, str], lang: str) -> None:
    base, _ = portal
    page = chromium.new_page()
    open_portal(page, base, lang)
    chars = shown_characters(page, lang)
    assert len(chars) > (300 if lang != "en" else 60)
    # The check itself works: another code point without any glyph is reported, a letter is not.
    assert missing(page, ["\U0010fffc", "A"]) == ["\U0010fffc"]
    absent = missing(page, chars)
    assert not absent, (
        f"{len(absent)} characters of the {lang} page render as empty boxes, e.g. {''.join(absent[:20])}: "
        "install the fonts (./dev test installs fonts-noto-cjk)"
    )
    page.close()


def test_the_check_catches_a_browser_without_cjk_fonts(
    chromium: Any, portal: tuple[str, str], tmp_path: Path
) -> None:
    """The same check, in a Chromium that sees only the Latin fonts (DejaVu): Chinese must be reported."""
    latin = Path("/usr/share/fonts/truetype/dejavu")
    if not latin.is_dir():
        pytest.skip("DejaVu fonts not installed: no Latin-only font set to test the check with")
    config = tmp_path / "fonts.conf"
    config.write_text(
        '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd">'
        f"<fontconfig><dir>{latin}</dir><cachedir>{tmp_path / 'cache'}</cachedir></fontconfig>"
    )
    base, _ = portal
    env = {**os.environ, "FONTCONFIG_FILE": str(config)}
    browser = chromium.browser_type.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, env=env)
    try:
        page = browser.new_page()
        open_portal(page, base, "zh-Hant-HK")
        chars = shown_characters(page, "zh-Hant-HK")
        absent = missing(page, chars)
    finally:
        browser.close()
    assert len(absent) > 200, f"only {len(absent)} of {len(chars)} reported without a CJK font"
    assert "撤" in absent and "A" not in absent
