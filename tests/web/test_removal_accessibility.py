"""Accessibility of the public removal request form: axe-core finds no serious or critical problem in each
language, empty and with every problem shown, and the quick exit works from the keyboard."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

pytestmark = [
    pytest.mark.browser,
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


@pytest.mark.parametrize("lang", ["en", "zh-Hant-HK", "zh-Hans"])
def test_axe_finds_no_serious_problems(
    chromium: Any, portal: tuple[str, str], axe_source: str, lang: str
) -> None:
    base, _ = portal
    page = chromium.new_page()
    page.goto(f"{base}/removal.html?lang={lang}")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    assert page.evaluate("document.documentElement.lang") == lang
    assert axe_problems(page, axe_source) == []
    for law in ("us", "au"):
        page.get_by_test_id(f"j-{law}").check()
        page.get_by_test_id("s-agent").check()
        page.get_by_test_id("submit").click()
        expect(page.get_by_test_id("error-summary")).to_be_focused()
        assert axe_problems(page, axe_source) == []
    page.goto(f"{base}/removal.html?lang={lang}#status")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    page.get_by_test_id("status-number").fill("TD-NONE")
    page.get_by_test_id("status-secret").fill("wrong")
    page.get_by_test_id("status-open").click()
    expect(page.locator("#status-message")).to_have_class("status problem")
    assert axe_problems(page, axe_source) == []
    page.close()


def test_quick_exit_with_shift_three_times(chromium: Any, portal: tuple[str, str]) -> None:
    base, _ = portal
    page = chromium.new_page()
    page.route("https://www.bbc.com/**", lambda route: route.fulfill(status=200, body="weather"))
    page.goto(f"{base}/removal.html?lang=en")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    page.get_by_test_id("name").fill("Maria Example")
    for _ in range(3):
        page.keyboard.press("Shift")
    page.wait_for_url("https://www.bbc.com/weather")
    page.go_back()  # the form was replaced in history: "Back" does not return to what she typed
    assert "removal.html" not in page.url
    page.close()
