"""In Chromium, on the example site: Ana names an organisation on her
portability page; the organisation downloads her data from its mail, once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import Inbox, axe_violations

pytestmark = pytest.mark.browser

ANA = "ana@example.nl"
ORG = "intake@nieuwe-bank.example"
MESSAGE = "Wat kost een nieuwe huisstijl?"


@pytest.fixture
def example_site_options():
    return {"mail": True}


@pytest.fixture
def example_site(example_site):
    app = example_site.app
    state = app.extensions["webence_privacy"]
    with app.app_context():
        state.db.session.add(state.models.ContactMessage(
            name="Ana de Vries", email=ANA, purpose="question", message=MESSAGE,
            language="nl", policy_version="1"))
        state.db.session.commit()
    return example_site


def test_an_organisation_downloads_from_its_mail_once(page, example_site, inbox):
    page.goto(example_site.url + "/privacy/request?kind=portability")
    page.get_by_label("E-mailadres").fill(ANA)
    page.get_by_role("button", name="Stuur mij de link").click()
    link = next(u for u in Inbox.links(inbox.wait_to(ANA)[-1]) if "/privacy/request/" in u)
    page.goto(link)
    page.get_by_role("button", name="Bevestigen en verder").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Uw gegevens naar een andere organisatie sturen")\
        .is_visible()

    # A typo first: the message stands beside the field, nothing is sent.
    page.get_by_label("E-mailadres van de organisatie").fill("intake@")
    page.get_by_role("button", name="Naar deze organisatie sturen").click()
    page.wait_for_load_state()
    assert page.locator("#recipient-error").is_visible()
    assert inbox.to(ORG) == []
    assert axe_violations(page) == []

    page.get_by_label("E-mailadres van de organisatie").fill(ORG)
    page.get_by_role("button", name="Naar deze organisatie sturen").click()
    page.wait_for_load_state()
    assert ORG in page.get_by_role("status").inner_text()

    mail = inbox.wait_to(ORG)[-1]
    assert MESSAGE not in Inbox.text(mail)
    url = next(u for u in Inbox.links(mail) if "/privacy/portability/" in u)
    org = page.context.browser.new_context(accept_downloads=True).new_page()
    org.goto(url)
    assert axe_violations(org) == []
    with org.expect_download() as info:
        org.get_by_role("button", name="Download de gegevens (JSON)").click()
    download = info.value
    assert download.suggested_filename == "privacy-export.json"
    data = json.loads(Path(download.path()).read_text(encoding="utf-8"))
    messages = next(s for s in data["sources"] if s["source"] == "ContactMessage")
    assert messages["records"][0]["message"] == MESSAGE

    # Once: the same link now says it has been used.
    response = org.goto(url)
    assert response.status == 410
    assert org.get_by_role("heading", level=1).inner_text() == "Deze download is al gebruikt"
    org.context.close()
