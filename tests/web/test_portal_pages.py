"""The portal's three public pages together, in Chromium against the real app: the front page leads to the
intake page and the removal form and they lead back, in the visitor's language; the one quick exit
(quick-exit.js) works on all three, by button and by Shift pressed three times."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from redline.web import STATIC_DIR
from tests.support.locales import LANGUAGES, catalog
from tests.support.portal import open_portal

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),  # the page, not the database
]

NEUTRAL = "https://www.bbc.com/**"
FILED_KEY = "redline-intake-filed"  # what intake.js keeps in the tab's sessionStorage


def removal_catalog(lang: str) -> dict[str, str]:
    path = STATIC_DIR / "locales" / "removal" / f"{lang}.json"
    data: dict[str, str] = json.loads(path.read_text("utf-8"))
    return data


@pytest.fixture
def page(chromium: Any) -> Iterator[Page]:
    context = chromium.new_context()
    context.route(NEUTRAL, lambda route: route.fulfill(body="<title>Weather</title>weather"))
    yield context.new_page()
    context.close()


def ready(page: Page, lang: str) -> None:
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    assert page.evaluate("document.documentElement.lang") == lang
    expect(page.get_by_test_id("language")).to_have_value(lang)


# ---------------------------------------------------------------------------------------------- links


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_front_page_leads_to_both_pages_and_back_in_the_chosen_language(
    page: Page, portal: tuple[str, str], axe_source: str, lang: str
) -> None:
    from tests.web.test_portal_accessibility import axe_problems

    base, _ = portal
    words = catalog(lang)
    open_portal(page, base, lang)
    section = page.get_by_test_id("other-ways")
    expect(section).to_be_visible()
    expect(section.get_by_role("heading")).to_have_text(words["other.heading"])
    expect(page.get_by_test_id("to-removal")).to_have_text(words["other.removal.link"])
    expect(page.get_by_test_id("to-intake")).to_have_text(words["other.intake.link"])
    assert axe_problems(page, axe_source) == []

    page.get_by_test_id("to-removal").click()
    page.wait_for_url(f"{base}/removal.html?lang={lang}")
    ready(page, lang)
    expect(page.locator("#file-heading")).to_have_text(removal_catalog(lang)["intro.heading"])
    back = page.get_by_role("link", name=removal_catalog(lang)["nav.portal"], exact=True)
    back.click()
    page.wait_for_url(f"{base}/?lang={lang}")
    ready(page, lang)
    expect(page.locator("#submit-heading")).to_have_text(words["intro.heading"])

    page.get_by_test_id("to-intake").click()
    page.wait_for_url(f"{base}/intake.html?lang={lang}")
    ready(page, lang)
    expect(page.locator("#intake-heading")).to_have_text(words["intake.heading"])
    page.get_by_role("link", name=words["nav.submit"], exact=True).click()
    page.wait_for_url(f"{base}/?lang={lang}#submit")
    ready(page, lang)
    expect(page.locator("#view-submit")).to_be_visible()


def test_a_language_chosen_on_the_page_goes_with_the_links(page: Page, portal: tuple[str, str]) -> None:
    base, _ = portal
    open_portal(page, base, "en")
    page.get_by_test_id("language").select_option("zh-Hans")
    expect(page.get_by_test_id("to-intake")).to_have_text(catalog("zh-Hans")["other.intake.link"])
    page.get_by_test_id("to-intake").click()
    page.wait_for_url(f"{base}/intake.html?lang=zh-Hans")
    ready(page, "zh-Hans")
    page.get_by_test_id("language").select_option("zh-Hant-HK")
    page.get_by_role("link", name=catalog("zh-Hant-HK")["nav.case"], exact=True).click()
    page.wait_for_url(f"{base}/?lang=zh-Hant-HK#case")
    ready(page, "zh-Hant-HK")
    expect(page.locator("#view-case")).to_be_visible()
    page.goto(f"{base}/?lang=en")
    ready(page, "en")
    page.get_by_test_id("to-removal").click()
    page.wait_for_url(f"{base}/removal.html?lang=en")
    ready(page, "en")
    page.get_by_test_id("language").select_option("zh-Hant-HK")
    page.get_by_role("link", name=removal_catalog("zh-Hant-HK")["nav.portal"], exact=True).click()
    page.wait_for_url(f"{base}/?lang=zh-Hant-HK")
    ready(page, "zh-Hant-HK")


def test_after_following_the_links_back_does_not_return_to_the_portal_after_the_quick_exit(
    page: Page, portal: tuple[str, str]
) -> None:
    """The links replace the page in the tab's history: after the exit, "Back" reaches no portal page."""
    base, _ = portal
    page.goto("about:blank")
    open_portal(page, base, "en")
    page.get_by_test_id("to-removal").click()
    page.wait_for_url(f"{base}/removal.html?lang=en")
    ready(page, "en")
    page.get_by_test_id("quick-exit").click()
    page.wait_for_url(NEUTRAL)
    page.go_back()
    assert not page.url.startswith(base), page.url


# ---------------------------------------------------------------------------------------------- quick exit

PAGES = {"portal": "/?lang=en#case", "intake": "/intake.html?lang=en", "removal": "/removal.html?lang=en"}
#: A text field on each page, typed into before leaving (typing capitals must not leave).
FIELDS = {"portal": "case-lookup-id", "intake": "flag-key", "removal": "name"}


@pytest.mark.parametrize("how", ["button", "keyboard"])
@pytest.mark.parametrize("name", list(PAGES))
def test_the_quick_exit_works_on_every_page(page: Page, portal: tuple[str, str], name: str, how: str) -> None:
    base, _ = portal
    page.goto(f"{base}{PAGES[name]}")
    ready(page, "en")
    field = page.get_by_test_id(FIELDS[name])
    if name == "intake":
        # What the intake page keeps in the tab (persons it filed): the exit must forget it.
        page.evaluate(f"sessionStorage.setItem('{FILED_KEY}', JSON.stringify({{persons: {{x: {{}}}}}}))")
    field.click()
    for key in ("Shift+R", "Shift+L", "Shift+A", "Shift+B"):
        page.keyboard.press(key)
    page.wait_for_timeout(300)
    assert page.url.startswith(base), "typing capitals must not leave"
    expect(field).to_have_value("RLAB")
    if how == "button":
        page.get_by_test_id("quick-exit").click()
    else:
        for _ in range(3):
            page.keyboard.press("Shift")
    page.wait_for_url(NEUTRAL, timeout=5_000)
    page.go_back()
    assert not page.url.startswith(base), "Back must not return to the page"
    if name == "intake":
        page.goto(f"{base}/intake.html")
        assert page.evaluate(f"sessionStorage.getItem('{FILED_KEY}')") is None


# ---------------------------------------------------------------------------------------------- language


@pytest.mark.parametrize("path", ["/", "/intake.html", "/removal.html"])
def test_every_page_reads_the_browsers_preferences_alike(
    chromium: Any, portal: tuple[str, str], path: str
) -> None:
    """Opened without ``?lang=``, each page picks the first language it speaks from the browser's list
    (here French, which it does not speak, then Taiwanese Chinese: traditional characters)."""
    base, _ = portal
    context = chromium.new_context()
    context.add_init_script(
        "Object.defineProperty(navigator, 'languages', { get: () => ['fr-FR', 'zh-TW'] });"
        "Object.defineProperty(navigator, 'language', { get: () => 'fr-FR' });"
    )
    page = context.new_page()
    page.goto(base + path)
    ready(page, "zh-Hant-HK")
    context.close()
