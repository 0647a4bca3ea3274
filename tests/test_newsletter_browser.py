"""A visitor subscribes on the example site, confirms through the link in the real
mail, and unsubscribes again, in a real Chromium; every page passes axe."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from .conftest import Inbox, axe_violations

pytestmark = pytest.mark.browser


@pytest.fixture
def example_site_options():
    return {"mail": True}


def test_visitor_subscribes_confirms_and_unsubscribes(page, example_site, inbox):
    page.goto(example_site.url + "/")
    page.get_by_role("contentinfo").get_by_role("link", name="Nieuwsbrief").click()
    page.wait_for_url("**/privacy/newsletter")
    assert page.get_by_role("heading", level=1).inner_text() == "Nieuwsbrief"
    assert axe_violations(page) == []

    # Sending without the boxes: messages beside the fields, nothing sent.
    page.get_by_label("E-mailadres").fill("bezoeker@example.nl")
    page.get_by_role("button", name="Aanmelden").click()
    assert page.get_by_role("alert").is_visible()
    assert "Vink het vakje aan" in page.locator("#error-summary").inner_text()
    assert axe_violations(page) == []

    page.get_by_label("Ja, stuur mij de nieuwsbrief van Webence per e-mail.").check()
    page.get_by_label("16 jaar of ouder", exact=False).check()
    page.get_by_role("button", name="Aanmelden").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Kijk in uw mailbox"
    assert axe_violations(page) == []

    mail = inbox.wait(1)[0]
    assert mail["To"] == "bezoeker@example.nl"
    assert "Bevestig uw inschrijving" in mail["Subject"]
    link = next(x for x in Inbox.links(mail) if "/newsletter/confirm/" in x)
    # The link is absolute for wherever the site runs; open it on the live server.
    page.goto(example_site.url + urlsplit(link).path)
    assert page.get_by_role("heading", level=1).inner_text() == "Bevestig uw inschrijving"
    assert axe_violations(page) == []
    with example_site.app.app_context():
        assert example_site.app.extensions["webence_privacy"].privacy.newsletter_recipients() == []

    page.get_by_role("button", name="Mijn inschrijving bevestigen").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Inschrijving bevestigd"
    assert axe_violations(page) == []
    with example_site.app.app_context():
        privacy = example_site.app.extensions["webence_privacy"].privacy
        assert privacy.newsletter_recipients() == ["bezoeker@example.nl"]

    # The confirmation-success mail carries the opt-out link.
    welcome = inbox.wait(2)[1]
    unsubscribe = next(x for x in Inbox.links(welcome) if "/newsletter/unsubscribe/" in x)
    page.goto(example_site.url + urlsplit(unsubscribe).path)
    assert page.get_by_role("heading", level=1).inner_text() == "Afmelden voor de nieuwsbrief"
    assert axe_violations(page) == []
    page.get_by_role("button", name="Afmelden").click()
    assert page.get_by_role("heading", level=1).inner_text() == "U bent afgemeld"
    assert axe_violations(page) == []
    with example_site.app.app_context():
        assert privacy.newsletter_recipients() == []
