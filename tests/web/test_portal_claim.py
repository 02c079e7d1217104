"""The person depicted claims a third-party case in the portal, in every language; the hand-over sheet
renders in all three. Screenshots go to ``$REDLINE_SCREENSHOTS`` when set (looked at before release)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from redline.help_services import DEFAULT_SERVICES
from redline.intake.sheets import sheet_html
from tests.support.bank import new_key
from tests.support.media import distinct_picture, picture_hashes
from tests.support.portal import open_case

pytestmark = [pytest.mark.browser]
SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _shot(page: Any, name: str) -> None:
    folder = os.environ.get("REDLINE_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


@SQLITE
@pytest.mark.parametrize("lang", ["en", "zh-Hant-HK", "zh-Hans"])
def test_she_claims_her_case_and_the_sheets_secret_stops_working(
    chromium: Any, portal: tuple[str, str], lang: str
) -> None:
    base, db_url = portal
    key = {"Authorization": f"Bearer {new_key(db_url, 'flag')}"}
    body = {"hashes": picture_hashes(distinct_picture(60), 0)}
    created = httpx.post(f"{base}/v1/intake/cases", headers=key, json=body, timeout=10).json()
    page = chromium.new_page()
    try:
        open_case(page, base, (created["case_id"], created["secret"]), lang)
        expect(page.get_by_test_id("claim-box")).to_be_visible()
        expect(page.get_by_test_id("claimed-note")).to_be_hidden()
        _shot(page, f"claim-before-{lang}")
        page.get_by_test_id("claim").click()
        expect(page.get_by_test_id("claim-result")).to_be_visible()
        new_secret = page.get_by_test_id("claim-secret").inner_text()
        assert new_secret and new_secret != created["secret"]
        expect(page.get_by_test_id("claim-box")).to_be_hidden()
        expect(page.get_by_test_id("claim-secret")).to_be_focused()
        _shot(page, f"claim-after-{lang}")
        sheet = {"X-Case-Secret": created["secret"]}
        stale = httpx.get(f"{base}/v1/cases/{created['case_id']}", headers=sheet)
        assert stale.status_code == 401
        # Opened again with her own secret: claimed, no claim button, withdrawal still first.
        open_case(page, base, (created["case_id"], new_secret), lang)
        expect(page.get_by_test_id("claimed-note")).to_be_visible()
        expect(page.get_by_test_id("claim-box")).to_be_hidden()
        expect(page.get_by_test_id("withdraw")).to_be_visible()
    finally:
        page.close()


@SQLITE
def test_the_claim_box_and_the_new_secret_pass_axe(
    chromium: Any, portal: tuple[str, str], axe_source: str
) -> None:
    from tests.web.test_portal_accessibility import axe_problems

    base, db_url = portal
    key = {"Authorization": f"Bearer {new_key(db_url, 'flag')}"}
    body = {"hashes": picture_hashes(distinct_picture(61), 0)}
    created = httpx.post(f"{base}/v1/intake/cases", headers=key, json=body, timeout=10).json()
    page = chromium.new_page()
    try:
        open_case(page, base, (created["case_id"], created["secret"]), "zh-Hant-HK")
        assert axe_problems(page, axe_source) == []
        page.get_by_test_id("claim").click()
        expect(page.get_by_test_id("claim-result")).to_be_visible()
        assert axe_problems(page, axe_source) == []
    finally:
        page.close()


@SQLITE
def test_a_case_she_submitted_herself_shows_no_claim(chromium: Any, portal: tuple[str, str]) -> None:
    from tests.support.portal import new_case

    base, _ = portal
    page = chromium.new_page()
    try:
        open_case(page, base, new_case(base))
        expect(page.get_by_test_id("claim-box")).to_be_hidden()
        expect(page.get_by_test_id("claimed-note")).to_be_hidden()
    finally:
        page.close()


def test_the_hand_over_sheet_prints_in_three_languages(chromium: Any, tmp_path: Path) -> None:
    html = sheet_html(
        case_id="RL-ABCD-EFGH-IJKL-MNOP",
        secret="7K3M-Q9XD-2B4N-8R6T-5W1Z-0HJC",
        portal="https://redline.example",
        services=DEFAULT_SERVICES,
        prepared_for="folder 1 · person-001",
    )
    path = tmp_path / "sheet.html"
    path.write_text(html, "utf-8")
    page = chromium.new_page()
    try:
        page.goto(path.as_uri())
        sections = page.locator("section")
        expect(sections).to_have_count(3)
        assert [sections.nth(i).get_attribute("lang") for i in range(3)] == ["en", "zh-Hant", "zh-Hans"]
        for i in range(3):
            text = sections.nth(i).inner_text()
            assert "RL-ABCD-EFGH-IJKL-MNOP" in text and "https://redline.example/#case" in text
        assert "Revenge Porn Helpline" in sections.nth(0).inner_text()
        assert page.locator("script").count() == 0
        _shot(page, "sheet")
        pdf = page.pdf()  # it prints (one language per page)
        assert pdf.startswith(b"%PDF")
    finally:
        page.close()
