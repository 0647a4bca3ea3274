"""A visitor finds the privacy page from the example site, in a real Chromium."""

from __future__ import annotations

import pytest

from .conftest import axe_violations

pytestmark = pytest.mark.browser


def test_visitor_reads_the_retention_periods_in_english(page, example_site):
    page.goto(example_site.url + "/")
    assert page.locator("html").get_attribute("lang") == "nl"
    page.get_by_role("contentinfo").get_by_role("link", name="Privacybeleid").click()
    page.wait_for_url("**/privacy/")
    assert page.get_by_role("heading", level=1).inner_text() == "Privacybeleid"
    assert "7 jaar" in page.locator('tr[data-category="customer"]').inner_text()
    assert axe_violations(page) == []

    page.get_by_role("link", name="English").click()
    page.wait_for_url("**/privacy/")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", level=1).inner_text() == "Privacy policy"
    customer = page.locator('tr[data-category="customer"]').inner_text()
    default = page.locator('tr[data-category="default"]').inner_text()
    assert "Customer and contract data" in customer and "7 years" in customer
    assert "All other data" in default and "1 year" in default
    assert axe_violations(page) == []

    # The choice sticks: the home page is now English too.
    page.goto(example_site.url + "/")
    assert page.locator("html").get_attribute("lang") == "en"


def test_keyboard_reaches_the_language_switch(page, example_site):
    page.goto(example_site.url + "/privacy/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent").strip() == "Naar de inhoud"
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent").strip() == "English":
            break
    else:
        pytest.fail("the English link is not reachable by keyboard")
    page.keyboard.press("Enter")
    page.wait_for_url("**/privacy/")
    assert page.locator("html").get_attribute("lang") == "en"
