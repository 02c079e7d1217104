"""What a survivor meets first on the portal, in Chromium against the real app: quick exit from every state
(the withdraw dialog included) by button and by keyboard; the case page as one plain line per picture, in
every language, with Withdraw on the first screen; real help services; the small details (the attestation
message, the file control, the saved file's name)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from redline.bank import service
from redline.bank.db import Database
from tests.support import wait_until
from tests.support.locales import LANGUAGES, catalog
from tests.support.media import neutral_png
from tests.support.portal import ATTESTATIONS, choose_files_with_keyboard, new_case, open_case, open_portal

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),  # the page, not the database
]

NEUTRAL = "https://www.bbc.com/**"


def pictures(folder: Path, count: int) -> list[Path]:
    """Distinct generated patterns (no people), as PNG files."""
    folder.mkdir(exist_ok=True)
    paths = []
    for seed in range(count):
        path = folder / f"pattern-{seed}.png"
        path.write_bytes(neutral_png(seed + 11))
        paths.append(path)
    return paths


# ---------------------------------------------------------------------------------------------- quick exit

#: Every state a page can be in, reached from a fresh page; each returns the test id of the exit button
#: that is usable there (in the withdraw dialog the rest of the page is inert).
STATES: dict[str, Callable[[Page, str, Path], str]] = {}


def state(name: str) -> Callable[[Callable[[Page, str, Path], str]], Callable[[Page, str, Path], str]]:
    def register(reach: Callable[[Page, str, Path], str]) -> Callable[[Page, str, Path], str]:
        STATES[name] = reach
        return reach

    return register


@state("start")
def _start(page: Page, base: str, tmp: Path) -> str:
    open_portal(page, base)
    return "quick-exit"


@state("hashing files")
def _hashing(page: Page, base: str, tmp: Path) -> str:
    open_portal(page, base)
    page.get_by_test_id("file-input").set_input_files([str(p) for p in pictures(tmp, 3)])
    return "quick-exit"


@state("files ready, previews shown, Chinese")
def _previews(page: Page, base: str, tmp: Path) -> str:
    open_portal(page, base, "zh-Hant-HK")
    page.get_by_test_id("file-input").set_input_files([str(p) for p in pictures(tmp, 2)])
    expect(page.locator("[data-testid=file-item][data-state=ready]")).to_have_count(2, timeout=60_000)
    page.get_by_test_id("toggle-previews").click()
    return "quick-exit"


def ready_file(page: Page, tmp: Path) -> None:
    page.get_by_test_id("file-input").set_input_files([str(pictures(tmp, 1)[0])])
    expect(page.locator("[data-testid=file-item][data-state=ready]")).to_have_count(1, timeout=60_000)


@state("attestation error")
def _attest_error(page: Page, base: str, tmp: Path) -> str:
    open_portal(page, base)
    ready_file(page, tmp)
    page.get_by_test_id("submit").click()
    expect(page.locator("#submit-status")).to_have_class("status problem")
    return "quick-exit"


@state("case number and secret shown")
def _result(page: Page, base: str, tmp: Path) -> str:
    open_portal(page, base)
    ready_file(page, tmp)
    for box in ATTESTATIONS:
        page.get_by_test_id(box).check()
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("case-secret")).not_to_be_empty()
    return "quick-exit"


@state("case form")
def _case_form(page: Page, base: str, tmp: Path) -> str:
    page.goto(f"{base}/#case")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    page.get_by_test_id("case-lookup-id").fill("RL-TYPED")
    return "quick-exit"


@state("case open")
def _case_open(page: Page, base: str, tmp: Path) -> str:
    open_case(page, base, new_case(base))
    return "quick-exit"


@state("withdraw dialog open")
def _dialog(page: Page, base: str, tmp: Path) -> str:
    open_case(page, base, new_case(base))
    page.get_by_test_id("withdraw").click()
    expect(page.locator("#withdraw-dialog")).to_be_visible()
    return "quick-exit-dialog"


@state("withdraw dialog open, Chinese")
def _dialog_zh(page: Page, base: str, tmp: Path) -> str:
    open_case(page, base, new_case(base), "zh-Hans")
    page.get_by_test_id("withdraw").click()
    expect(page.locator("#withdraw-dialog")).to_be_visible()
    return "quick-exit-dialog"


@state("withdrawn")
def _withdrawn(page: Page, base: str, tmp: Path) -> str:
    open_case(page, base, new_case(base))
    page.get_by_test_id("withdraw").click()
    page.get_by_test_id("withdraw-confirm").click()
    expect(page.get_by_test_id("case-state")).to_have_text("Withdrawn")
    return "quick-exit"


def leaves_for_good(page: Page, base: str) -> None:
    page.wait_for_url(NEUTRAL, timeout=5_000)
    page.go_back()
    assert not page.url.startswith(base), "Back must not return to the portal"


@pytest.mark.parametrize("how", ["button", "keyboard"])
@pytest.mark.parametrize("name", list(STATES))
def test_quick_exit_works_from_every_state(
    chromium: Any, portal: tuple[str, str], tmp_path: Path, name: str, how: str
) -> None:
    base, _ = portal
    context = chromium.new_context()
    context.route(NEUTRAL, lambda route: route.fulfill(body="<title>Weather</title>weather"))
    page = context.new_page()
    button = STATES[name](page, base, tmp_path)
    if how == "button":
        exit_button = page.get_by_test_id(button)
        expect(exit_button).to_be_visible()
        exit_button.click()  # Playwright refuses to click an inert or covered button: this one is live
    else:
        for _ in range(3):
            page.keyboard.press("Shift")
    leaves_for_good(page, base)
    context.close()


def test_typing_capitals_does_not_leave(chromium: Any, portal: tuple[str, str]) -> None:
    base, _ = portal
    page = chromium.new_page()
    page.goto(f"{base}/#case")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    page.get_by_test_id("case-lookup-id").click()
    for key in ("Shift+R", "Shift+L", "Shift+A", "Shift+B", "Shift+C", "Shift+D"):
        page.keyboard.press(key)
    page.wait_for_timeout(300)
    assert page.url.startswith(base)
    expect(page.get_by_test_id("case-lookup-id")).to_have_value("RLABCD")
    page.close()


# ---------------------------------------------------------------------------------------------- case page

INTERNAL_WORDS = re.compile(
    r"block_and_review|\breview\b|\bblock\b|\bpdq|md5|sha256|PendingReview|NotBlocked|\bBlocked\b|"
    r"Recorded|case\.|status\.|\{|undefined|null|NaN"
)


def platform_key(db_url: str) -> str:
    db = Database(db_url)
    try:
        with db.write() as session:
            _, token = service.create_api_key(session, name="platform", scopes=["match"], actor="test")
    finally:
        db.dispose()
    return token


def indexed_entries(db_url: str) -> int:
    """Perceptual entries the match index holds once it has caught up (usable quality)."""
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            count: int = conn.execute(
                sa.text(
                    "SELECT count(*) FROM entries WHERE status = 'active' "
                    "AND signal_type IN ('pdq', 'pdq_region') AND quality >= 50"
                )
            ).scalar_one()
    finally:
        engine.dispose()
    return count


def test_case_page_is_one_plain_line_per_picture_in_every_language(
    chromium: Any, portal: tuple[str, str], tmp_path: Path
) -> None:
    base, db_url = portal
    files = pictures(tmp_path, 3)
    page = chromium.new_page(viewport={"width": 1280, "height": 800})
    open_portal(page, base)
    page.get_by_test_id("file-input").set_input_files([str(f) for f in files])
    expect(page.locator("[data-testid=file-item][data-state=ready]")).to_have_count(3, timeout=60_000)
    for box in ATTESTATIONS:
        page.get_by_test_id(box).check()
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("case-secret")).not_to_be_empty()
    case = (page.get_by_test_id("case-id").inner_text(), page.get_by_test_id("case-secret").inner_text())

    # A platform uploads an exact copy of the first picture: its MD5, SHA-256, PDQ and region hashes all
    # match, and the survivor is told of one copy, blocked.
    headers = {"Authorization": f"Bearer {platform_key(db_url)}"}
    # Upload only once the index holds the pictures' perceptual hashes (pdq + 35 pdq_region each): an
    # earlier upload would match the exact hashes only, and every upload that matches is a copy found.
    perceptual = indexed_entries(db_url)
    assert perceptual > 3
    wait_until(lambda: httpx.get(f"{base}/readyz").json().get("entries", 0) >= perceptual, timeout=5.0)
    response = httpx.post(
        f"{base}/v1/match/file",
        headers=headers,
        files={"file": ("upload.png", files[0].read_bytes(), "image/png")},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    hits = [m for r in response.json()["results"] for m in r["matches"]]
    assert {"md5", "sha256", "pdq"} <= {m["type"] for m in hits}  # several hash matches, one upload

    english = catalog("en")
    expected_first = {
        lang: words["case.line"]
        .replace("{label}", words["case.item.picture"].replace("{n}", "1"))
        .replace("{status}", words["case.itemStatus.active"])
        .replace(
            "{found}",
            words["case.found.list"]
            .replace("{found}", words["case.found.one"])
            .replace("{parts}", words["case.reported.Blocked"].replace("{count}", "1")),
        )
        for lang, words in ((lang, catalog(lang)) for lang in LANGUAGES)
    }
    first_line = "Picture 1. Platforms are looking for it. Platforms found 1 copy: 1 blocked."
    assert expected_first["en"] == first_line
    for lang in LANGUAGES:
        open_case(page, base, case, lang)
        lines = page.get_by_test_id("case-item")
        expect(lines).to_have_count(3)  # one line per picture, not 38 per picture
        texts = [" ".join(t.split()) for t in lines.all_inner_texts()]
        assert texts[0] == " ".join(expected_first[lang].split()), (lang, texts[0])
        assert all(catalog(lang)["case.found.none"] in t for t in texts[1:]), (lang, texts)
        details = page.locator("#case-details").inner_text()
        assert not INTERNAL_WORDS.search(details), (lang, INTERNAL_WORDS.search(details))
        if lang != "en":  # translated, not English with Chinese around it
            latin = set(re.findall(r"[A-Za-z]{3,}", details)) - {"Shift"}
            assert not latin, (lang, latin)
            assert english["case.found.one"] not in details
        # Withdraw is on the first screen, not 8,000 px down.
        box = page.get_by_test_id("withdraw").bounding_box()
        assert box is not None and box["y"] + box["height"] <= 800, (lang, box)
        expect(page.get_by_test_id("case-matches")).to_have_text(
            catalog(lang)["case.total.one"], use_inner_text=True
        )
    # The language can change with the case open: the lines follow it.
    page.get_by_test_id("language").select_option("en")
    expect(page.get_by_test_id("case-item").first).to_have_text(expected_first["en"], use_inner_text=True)
    page.close()


# ------------------------------------------------------------------------------------------ getting help


def test_getting_help_lists_real_services_in_the_pages_language(
    chromium: Any, portal: tuple[str, str]
) -> None:
    base, _ = portal
    page = chromium.new_page()
    open_portal(page, base)
    services = page.get_by_test_id("help-services")
    expect(services).to_contain_text("Revenge Porn Helpline (UK)")
    expect(services).to_contain_text("0345 6000 459")
    expect(services.locator("a[href='tel:03456000459']")).to_have_count(1)
    stopncii = services.locator("a[href='https://stopncii.org/']")
    expect(stopncii).to_have_attribute("rel", "noreferrer noopener")
    page.get_by_test_id("language").select_option("zh-Hant-HK")
    expect(services).to_contain_text("風雨蘭")
    expect(services).to_contain_text("2343 2255")
    expect(services).not_to_contain_text("Revenge Porn Helpline")
    page.close()


# --------------------------------------------------------------------------------------------- details


def test_the_tick_the_boxes_message_goes_once_the_boxes_are_ticked(
    chromium: Any, portal: tuple[str, str], tmp_path: Path
) -> None:
    base, _ = portal
    page = chromium.new_page()
    open_portal(page, base)
    ready_file(page, tmp_path)
    page.get_by_test_id("submit").click()
    status = page.locator("#submit-status")
    expect(status).to_have_text(catalog("en")["submit.needAttest"])
    for box in ATTESTATIONS[:2]:
        page.get_by_test_id(box).check()
    expect(status).to_have_text(catalog("en")["submit.needAttest"])  # one box is still empty
    page.get_by_test_id(ATTESTATIONS[2]).check()
    expect(status).to_have_text("")
    page.close()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_file_control_speaks_the_pages_language(
    chromium: Any, portal: tuple[str, str], tmp_path: Path, lang: str
) -> None:
    """Chromium's own file control says "No file chosen" in the browser's language, even after files were
    added (the page resets it so a file can be chosen again): it is hidden, and the page's label shows."""
    base, _ = portal
    context = chromium.new_context(locale="de-DE")  # a browser language the page does not speak
    page = context.new_page()
    open_portal(page, base, lang)
    page.get_by_test_id("file-input").set_input_files([str(p) for p in pictures(tmp_path, 2)])
    expect(page.locator("[data-testid=file-item]")).to_have_count(2)
    native = page.get_by_test_id("file-input").bounding_box()
    assert native is not None and native["width"] <= 1 and native["height"] <= 1
    assert page.get_by_test_id("file-input").evaluate("e => getComputedStyle(e).opacity") == "0"
    label = page.locator("label[for=file-input]")
    expect(label).to_be_visible()
    expect(label).to_have_text(catalog(lang)["files.choose"])
    # Still a keyboard control: focusing it and pressing Space opens the picker.
    page.get_by_test_id("file-input").focus()
    choose_files_with_keyboard(page, "file-input")
    context.close()


def test_the_saved_case_file_has_a_neutral_name(
    chromium: Any, portal: tuple[str, str], tmp_path: Path
) -> None:
    base, _ = portal
    context = chromium.new_context(accept_downloads=True)
    page = context.new_page()
    _result(page, base, tmp_path)
    with page.expect_download() as saved:
        page.get_by_test_id("download-credentials").click()
    name = saved.value.suggested_filename
    assert re.fullmatch(r"note-\d{4}-\d{2}-\d{2}\.txt", name), name
    text = Path(saved.value.path()).read_text("utf-8")
    assert page.get_by_test_id("case-id").inner_text() in text
    assert page.get_by_test_id("case-secret").inner_text() in text
    context.close()
