"""The maintainer files a letter's request in a real Chromium: the form, its error
state and the result are accessible (axe-core, WCAG 2.1 AA), and the person's
mail carries the link that confirms it."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from flask_webence_privacy.models import utcnow

from .conftest import Inbox, axe_violations

pytestmark = pytest.mark.browser

PIET = "piet@example.nl"


@pytest.fixture
def example_site_options():
    return {"mail": True, "admin": True}


def test_the_maintainer_files_a_letter_and_the_person_confirms(page, example_site, inbox):
    page.goto(example_site.url + "/privacy/admin/")
    page.get_by_role("link", name="Nieuw verzoek").click()
    page.wait_for_url("**/privacy/admin/requests/new")
    assert page.get_by_role("heading", level=1).inner_text() == "Nieuw verzoek"
    assert axe_violations(page) == []

    # A date in the future comes back with the error beside the field.
    page.get_by_label("E-mailadres van de betrokkene").fill(PIET)
    page.get_by_label("Soort verzoek").select_option("erasure")
    page.get_by_label("Binnengekomen via").select_option("letter")
    future = (utcnow().date() + dt.timedelta(days=3)).isoformat()
    page.get_by_label("Binnengekomen op").fill(future)
    page.get_by_role("button", name="Verzoek vastleggen en de link mailen").click()
    assert page.locator("#received-error").inner_text().startswith(future)
    assert axe_violations(page) == []

    received = (utcnow().date() - dt.timedelta(days=2)).isoformat()
    page.get_by_label("Binnengekomen op").fill(received)
    page.get_by_role("button", name="Verzoek vastleggen en de link mailen").click()
    page.wait_for_url(re.compile(r".*/privacy/admin/requests/\d+$"))
    assert f'brief, <time datetime="{received}">' in page.content()
    assert axe_violations(page) == []

    link = next(u for u in Inbox.links(inbox.wait_to(PIET)[-1]) if "/privacy/request/" in u)
    page.goto(link)
    page.get_by_role("button", name="Bevestigen en verder").click()
    page.wait_for_load_state()
    page.goto(example_site.url + "/privacy/admin/")
    row = page.locator("table.wp-requests tbody tr").first
    assert "brief" in row.inner_text()
    assert axe_violations(page) == []
