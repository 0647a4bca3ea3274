"""A Dutch visitor of the example site requests a quote, in a real Chromium."""

from __future__ import annotations

import pytest

from .conftest import axe_violations

pytestmark = pytest.mark.browser


def test_visitor_requests_a_quote_from_the_services_page(page, example_site):
    page.goto(example_site.url + "/diensten")
    page.get_by_role("link", name="Vraag een offerte aan").click()
    page.wait_for_url("**/privacy/contact?purpose=quote")
    assert page.get_by_role("heading", level=1).inner_text() == "Contact"
    assert page.get_by_role("radio", name="Een offerteaanvraag").is_checked()
    age_box = page.get_by_role("checkbox", name="Ik ben 16 jaar of ouder")
    assert not age_box.is_checked()
    assert axe_violations(page) == []

    # Sent without the age statement: the form comes back and says why.
    page.get_by_label("Naam").fill("Sanne Jansen")
    page.get_by_label("E-mailadres").fill("sanne@example.nl")
    page.get_by_label("Uw bericht").fill("Graag een offerte voor een webshop met 40 producten.")
    page.get_by_role("button", name="Bericht versturen").click()
    assert page.get_by_role("heading", name="Verbeter het volgende").is_visible()
    assert "oud genoeg bent" in page.locator("#age_ok-error").inner_text()
    assert page.get_by_label("Uw bericht").input_value().startswith("Graag een offerte")
    assert page.get_by_role("radio", name="Een offerteaanvraag").is_checked()
    assert axe_violations(page) == []

    page.get_by_role("checkbox", name="Ik ben 16 jaar of ouder").check()
    page.get_by_role("button", name="Bericht versturen").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Bedankt voor uw bericht"
    assert "Wij hebben uw bericht ontvangen" in page.get_by_role("status").inner_text()
    assert axe_violations(page) == []

    app = example_site.app
    state = app.extensions["webence_privacy"]
    with app.app_context():
        message = state.db.session.scalars(state.db.select(state.models.ContactMessage)).one()
        assert (message.purpose, message.language, message.name) == ("quote", "nl",
                                                                       "Sanne Jansen")
