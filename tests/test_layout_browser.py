"""What a visitor sees of the layout, in a real Chromium: the footer at the bottom
of a short page, a request kind's hint under its label, one button style, no
default fieldset border, and tables as labelled cards on a phone."""

from __future__ import annotations

import pytest

from .pagestates import SITE_CONFIG, Walker, inbox_link, scroll_overflow

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def example_site_options():
    return {"mail": True, "admin": True, **SITE_CONFIG}


def box(page, selector: str) -> dict:
    return page.locator(selector).first.bounding_box()


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["1280", "390"])
def test_the_footer_sits_at_the_bottom_of_a_short_page(page, example_site, size):
    page.set_viewport_size(size)
    # Once the cookie banner is answered, the short pages are short.
    page.goto(example_site.url + "/")
    with page.expect_navigation():
        page.locator(".wp-cookie-banner button[value=none]").click()
    for path in ("/privacy/no-such-page", "/no-such-page", "/privacy/newsletter/resend"):
        page.goto(example_site.url + path)
        footer = box(page, "footer")
        assert footer["y"] + footer["height"] == pytest.approx(size["height"], abs=1), path


def test_a_request_kinds_hint_sits_under_its_label_not_its_radio(page, example_site):
    page.set_viewport_size(PHONE)
    page.goto(example_site.url + "/privacy/request")
    radio, label = box(page, "#kind-access"), box(page, "label[for=kind-access]")
    hint = box(page, "#kind-access-hint")
    assert hint["x"] == pytest.approx(label["x"], abs=1)
    assert hint["x"] > radio["x"] + radio["width"]
    assert hint["y"] >= label["y"] + label["height"] - 1


def test_every_button_has_one_size_and_is_not_stretched(page, example_site):
    heights, paddings = set(), set()
    for path in ("/privacy/contact", "/privacy/newsletter", "/privacy/newsletter/resend",
                 "/privacy/request"):
        page.goto(example_site.url + path)
        button = page.locator("main form.wp-form button[type=submit]").first
        style = button.evaluate("b => { const s = getComputedStyle(b);"
                                " return [s.height, s.paddingLeft, s.paddingTop]; }")
        heights.add(style[0])
        paddings.add(tuple(style[1:]))
        assert button.bounding_box()["width"] < box(page, "main form.wp-form")["width"] / 2, path
    assert len(heights) == 1 and len(paddings) == 1, (heights, paddings)


def test_tables_become_labelled_cards_on_a_phone(page, example_site):
    page.set_viewport_size(PHONE)
    page.goto(example_site.url + "/privacy/?lang=en")
    assert scroll_overflow(page) == 0
    row = page.locator('tr[data-category="customer"]')
    cells = row.locator("td")
    labels = [cells.nth(i).evaluate("td => getComputedStyle(td, '::before').content")
              for i in range(cells.count())]
    assert labels == ['"Data"', '"Kept for at most"', '"On an erasure request"']
    first, second = cells.nth(0).bounding_box(), cells.nth(1).bounding_box()
    assert second["y"] >= first["y"] + first["height"] - 1  # stacked, not side by side
    page.set_viewport_size(DESKTOP)
    first, second = cells.nth(0).bounding_box(), cells.nth(1).bounding_box()
    assert second["y"] == pytest.approx(first["y"]) and second["x"] > first["x"]


def test_the_admins_extend_box_has_no_default_fieldset_border(page, example_site, inbox):
    walker = Walker(page, example_site.url, "nl", example_site.app, inbox_link(inbox))
    walker.ask("objection")
    walker.open_request("objection")
    walker.submit()
    page.goto(example_site.url + "/privacy/admin/")
    page.locator("table.wp-requests a").first.click()
    page.wait_for_url("**/privacy/admin/requests/*")
    fieldset = page.locator("main fieldset").first
    assert fieldset.locator("legend").inner_text() == "Verlengen met"
    border = fieldset.evaluate(
        "f => getComputedStyle(f).borderTopStyle + ' ' + getComputedStyle(f).borderTopWidth")
    assert border in ("none 0px", "none 0")
