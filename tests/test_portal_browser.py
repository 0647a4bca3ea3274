"""A visitor of the example site asks for their data, downloads it, then erases it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from .conftest import Inbox, axe_violations

pytestmark = pytest.mark.browser

ANA = "ana@example.nl"
MESSAGE = "Wat kost een nieuwe huisstijl?"


@pytest.fixture
def example_site_options():
    return {"mail": True, "admin": True}  # the maintainer's pages too, for axe


@pytest.fixture
def example_site(example_site):
    """The running site, where Ana asked a question earlier (inserted directly: the
    contact form is another feature's story)."""
    app = example_site.app
    state = app.extensions["webence_privacy"]
    with app.app_context():
        state.db.session.add(state.models.ContactMessage(
            name="Ana de Vries", email=ANA, purpose="question", message=MESSAGE,
            language="nl", policy_version="1"))
        state.db.session.commit()
    return example_site


def mailed_link(inbox) -> str:
    mail = inbox.wait(1)[-1]
    assert ANA in str(mail["To"])
    return next(u for u in Inbox.links(mail) if "/privacy/request/" in u)


def ask(page, example_site, kind_label):
    page.goto(example_site.url + "/")
    page.get_by_role("contentinfo").get_by_role("link", name="Uw gegevens", exact=True).click()
    page.wait_for_url("**/privacy/request")
    assert axe_violations(page) == []
    page.get_by_label("E-mailadres").fill(ANA)
    page.get_by_label(kind_label, exact=True).check()
    page.get_by_role("button", name="Stuur mij de link").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Controleer uw e-mail"
    assert axe_violations(page) == []


def test_visitor_downloads_their_data_then_erases_it(page, example_site, inbox):
    ask(page, example_site, "Uw gegevens inzien")
    link = mailed_link(inbox)
    page.goto(link)
    assert axe_violations(page) == []
    page.get_by_role("button", name="Bevestigen en verder").click()
    page.wait_for_load_state()
    assert MESSAGE in page.content()
    assert axe_violations(page) == []
    with page.expect_download() as info:
        page.get_by_role("link", name="Download uw gegevens (JSON)").click()
    download = info.value
    assert download.suggested_filename == "privacy-export.json"
    data = json.loads(Path(download.path()).read_text(encoding="utf-8"))
    messages = next(s for s in data["sources"] if s["source"] == "ContactMessage")
    assert messages["records"][0]["message"] == MESSAGE

    inbox.clear()
    ask(page, example_site, "Uw gegevens laten verwijderen")
    page.goto(mailed_link(inbox))
    page.get_by_role("button", name="Bevestigen en verder").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Wat wordt gewist").is_visible()
    assert axe_violations(page) == []
    page.get_by_role("button", name="Wis mijn gegevens").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Uw gegevens zijn gewist"
    assert axe_violations(page) == []

    app = example_site.app
    from example_site import db

    with app.app_context():
        models = app.extensions["webence_privacy"].models
        assert db.session.scalar(sa.select(sa.func.count()).select_from(
            models.ContactMessage)) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(
            models.DataRequest).where(models.DataRequest.email.is_not(None))) == 0


def test_the_maintainers_pages_are_accessible(page, example_site, inbox):
    ask(page, example_site, "Bezwaar maken")
    page.goto(mailed_link(inbox))
    page.get_by_role("button", name="Bevestigen en verder").click()
    page.wait_for_load_state()
    assert axe_violations(page) == []
    page.goto(example_site.url + "/privacy/admin/")
    assert page.get_by_role("heading", level=1).inner_text() == "Privacyverzoeken"
    assert axe_violations(page) == []
    page.locator("table.wp-requests a").first.click()
    page.wait_for_url("**/privacy/admin/requests/*")
    assert ANA in page.content()
    assert axe_violations(page) == []
