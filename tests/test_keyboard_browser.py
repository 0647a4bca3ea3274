"""A visitor who uses only the keyboard (Tab, Space, Enter, typing) answers the
cookie banner, sends the contact form, asks for their data and downloads it; every control they reach
shows a visible focus indicator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from .conftest import Inbox

pytestmark = pytest.mark.browser

ANA = "ana@example.nl"
MESSAGE = "Wat kost een nieuwe huisstijl?"

#: The focused element, described: what it is and how its focus is drawn.
FOCUSED = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  return {tag: el.tagName.toLowerCase(), type: el.type || '', name: el.name || '',
          id: el.id || '', text: (el.textContent || '').trim(), href: el.getAttribute('href') || '',
          outline: style.outlineStyle, outlineWidth: parseFloat(style.outlineWidth) || 0,
          shadow: style.boxShadow, visible: el.matches(':focus-visible')};
}"""


@pytest.fixture
def example_site_options():
    return {"mail": True}


def tab_to(page, matches, limit: int = 40) -> dict:
    """Press Tab until the focused element ``matches``; every element passed on
    the way must show its focus (an outline of 2px or more, or a shadow)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused["tag"] != "body":
            assert focused["visible"], f"focus is not visible on {focused}"
            assert (focused["outline"] != "none" and focused["outlineWidth"] >= 2) or (
                focused["shadow"] != "none"), f"no focus indicator on {focused}"
        if matches(focused):
            return focused
    pytest.fail(f"Tab never reached the control; last focus on {focused}")


def named(name: str):
    return lambda f: f["name"] == name


def test_a_keyboard_user_sends_the_contact_form_and_gets_their_data(page, example_site, inbox):
    page.goto(example_site.url + "/privacy/contact")
    # The cookie banner comes first: "Reject all" by keyboard, and it is gone.
    tab_to(page, lambda f: f["tag"] == "button" and f["name"] == "choice"
           and f["text"] in ("Alles weigeren", "Reject all"))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator(".wp-cookie-banner").count() == 0
    assert "/privacy/contact" in page.url

    # The contact form: a purpose (radio), name, address, message, the age statement.
    tab_to(page, named("purpose"))
    page.keyboard.press("Space")
    tab_to(page, named("name"))
    page.keyboard.type("Ana de Vries")
    tab_to(page, named("email"))
    page.keyboard.type(ANA)
    tab_to(page, named("message"))
    page.keyboard.type(MESSAGE)
    tab_to(page, named("age_ok"))
    page.keyboard.press("Space")
    tab_to(page, lambda f: f["tag"] == "button" and f["type"] == "submit")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_by_role("heading", level=1).inner_text() == "Bedankt voor uw bericht"
    app = example_site.app
    state = app.extensions["webence_privacy"]
    with app.app_context():
        stored = state.db.session.scalars(sa.select(state.models.ContactMessage)).all()
        assert [(m.email, m.message) for m in stored] == [(ANA, MESSAGE)]

    # An access request: address, the kind (the first choice), the button.
    inbox.clear()
    page.goto(example_site.url + "/privacy/request")
    tab_to(page, named("email"))
    page.keyboard.type(ANA)
    focused = tab_to(page, named("kind"))
    assert focused["id"] == "kind-access"
    page.keyboard.press("Space")
    tab_to(page, lambda f: f["tag"] == "button" and f["type"] == "submit")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_by_role("heading", level=1).inner_text() == "Controleer uw e-mail"

    mail = inbox.wait_to(ANA)[-1]
    page.goto(next(u for u in Inbox.links(mail) if "/privacy/request/" in u))
    tab_to(page, lambda f: f["tag"] == "button")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert MESSAGE in page.locator("main").inner_text()
    tab_to(page, lambda f: f["href"].endswith("export.json"))
    with page.expect_download() as info:
        page.keyboard.press("Enter")
    data = json.loads(Path(info.value.path()).read_text(encoding="utf-8"))
    messages = next(s for s in data["sources"] if s["source"] == "ContactMessage")
    assert messages["records"][0]["message"] == MESSAGE
