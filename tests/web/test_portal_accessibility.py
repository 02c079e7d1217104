"""Accessibility of the survivor portal: axe-core finds no serious or critical problem, in English and in
Traditional Chinese, and the whole flow works with the keyboard alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.support.portal import (
    ATTESTATIONS,
    choose_files_with_keyboard,
    media_files,
    new_case,
    open_case,
    open_portal,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.shared,
    pytest.mark.slow,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),  # the page, not the database
]

RUN_AXE = """async () => {
  const result = await axe.run(document);
  const problems = result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  return { problems, passed: result.passes.length };
}"""


def axe_problems(page: Page, axe_source: str) -> list[str]:
    page.evaluate(axe_source)  # run by the test driver: the page's CSP (no inline script) stays in force
    outcome = page.evaluate(RUN_AXE)
    assert outcome["passed"] > 10, "axe-core checked almost nothing: is the page empty?"
    problems: list[str] = outcome["problems"]
    return problems


@pytest.mark.parametrize("lang", ["en", "zh-Hant-HK"])
def test_axe_finds_no_serious_problems(
    chromium: Any, corpus: Path, portal: tuple[str, str], axe_source: str, lang: str
) -> None:
    base, _ = portal
    page = chromium.new_page()
    open_portal(page, base, lang)
    assert axe_problems(page, axe_source) == []
    # With files listed (progress bars, messages, buttons added by script).
    page.get_by_test_id("file-input").set_input_files([str(f) for f in media_files(corpus)[:2]])
    expect(page.locator("[data-testid=file-item][data-state]")).to_have_count(2, timeout=60_000)
    assert axe_problems(page, axe_source) == []
    # The case page, after a failed lookup (status message shown).
    page.goto(f"{base}/?lang={lang}#case")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    page.get_by_test_id("case-lookup-id").fill("no-such-case")
    page.get_by_test_id("case-lookup-secret").fill("wrong")
    page.get_by_test_id("case-open").click()
    expect(page.locator("#case-status")).to_have_class("status problem")
    assert axe_problems(page, axe_source) == []
    # An open case (status, withdrawal, one line per picture), then its withdraw dialog.
    open_case(page, base, new_case(base), lang)
    expect(page.get_by_test_id("case-item")).to_have_count(1)
    assert axe_problems(page, axe_source) == []
    page.get_by_test_id("withdraw").click()
    assert axe_problems(page, axe_source) == []
    page.close()


def tab_to(page: Page, testid: str, limit: int = 80) -> None:
    """Press Tab until the element with ``testid`` has focus (fails if it is not reachable)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement?.dataset?.testid ?? null") == testid:
            return
    raise AssertionError(f"{testid} cannot be reached with the Tab key")


def test_keyboard_only_flow(chromium: Any, corpus: Path, portal: tuple[str, str]) -> None:
    base, _ = portal
    page = chromium.new_page()
    open_portal(page, base)
    for box in ATTESTATIONS:
        tab_to(page, box)
        page.keyboard.press("Space")
        expect(page.get_by_test_id(box)).to_be_checked()
    tab_to(page, "file-input")
    choose_files_with_keyboard(page, "file-input").set_files([str(f) for f in media_files(corpus)[:2]])
    expect(page.locator("[data-testid=file-item][data-state=ready]")).to_have_count(2, timeout=60_000)
    tab_to(page, "submit")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("case-id")).not_to_be_empty()
    # Focus moves to the result, so a screen-reader user hears it; the case is reachable from there.
    assert page.evaluate("() => document.activeElement.id") == "result-heading"
    tab_to(page, "open-case")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("case-state")).not_to_be_empty()
    tab_to(page, "withdraw")
    page.keyboard.press("Enter")
    expect(page.locator("#withdraw-dialog")).to_be_visible()
    page.keyboard.press("Escape")  # the dialog closes without withdrawing
    expect(page.locator("#withdraw-dialog")).to_be_hidden()
    tab_to(page, "withdraw")
    page.keyboard.press("Enter")
    tab_to(page, "withdraw-confirm")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("case-state")).to_have_text("Withdrawn")
    page.close()
