"""Driving the survivor portal in Chromium: the media it is given, opening its pages and cases."""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx
from playwright.sync_api import FileChooser, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.support import ATTESTATION

#: The test ids of the portal's attestation checkboxes.
ATTESTATIONS = ["attest-subject", "attest-non-consensual", "attest-adult"]


def media_files(corpus: Path) -> list[Path]:
    return [
        corpus / "pdq-fixtures" / "bridge-mods" / "aaa-orig.jpg",  # 1600x1004 JPEG
        next((corpus / "photos" / "kodak24").rglob("*.png")),  # lossless PNG
        next((corpus / "photos" / "bsds500").rglob("*.jpg")),
        corpus / "videos" / "clips" / "doc_medias" / "example2.mp4",
    ]


def open_portal(page: Page, base: str, lang: str = "en") -> None:
    page.goto(f"{base}/?lang={lang}")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")


def choose_files_with_keyboard(page: Page, testid: str) -> FileChooser:
    """Press Space on the focused file control ``testid`` and return the picker it opens.

    Headless Chromium on a loaded CI machine can drop the key press that opens a picker (a full CI run
    once waited 30 s for a ``filechooser`` event that never came; the same test passes alone). A lost
    press is not a slow one, so waiting longer does not help; pressing again does. Every attempt is still
    a real key press on the focused control: a control the keyboard cannot open fails all three.
    """
    for attempt in range(3):
        focused = page.evaluate("() => document.activeElement?.dataset?.testid ?? null")
        assert focused == testid, f"{testid} lost the focus (now on {focused})"
        try:
            with page.expect_file_chooser(timeout=10_000) as chooser:
                page.keyboard.press("Space")
            return chooser.value
        except PlaywrightTimeout:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def new_case(base: str) -> tuple[str, str]:
    """A case made through the API (random hashes): (case number, secret)."""
    body = {
        "hashes": [{"type": "pdq", "value": secrets.token_hex(32), "quality": 90, "item": 0}],
        "attestation": {**ATTESTATION, "text_version": "t"},
    }
    created = httpx.post(f"{base}/v1/cases", json=body, timeout=10).json()
    return created["case_id"], created["secret"]


def open_case(page: Page, base: str, case: tuple[str, str], lang: str = "en") -> None:
    page.goto(f"{base}/?lang={lang}#case")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    page.get_by_test_id("case-lookup-id").fill(case[0])
    page.get_by_test_id("case-lookup-secret").fill(case[1])
    page.get_by_test_id("case-open").click()
    expect(page.get_by_test_id("case-state")).not_to_be_empty()
