"""A visitor makes, keeps and withdraws a cookie choice on the example site, in
a real Chromium, in Dutch and in English; the ledger holds a record per step."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from example_site import VISIT_COOKIE

from .conftest import axe_violations

pytestmark = pytest.mark.browser

WORDS = {
    "nl": {"accept": "Alles accepteren", "reject": "Alles weigeren", "settings": "Cookie-instellingen",
           "banner": "Cookies op deze website", "save": "Mijn keuze opslaan",
           "box": "Analytische cookies", "saved": "Uw keuze is opgeslagen"},
    "en": {"accept": "Accept all", "reject": "Reject all", "settings": "Cookie settings",
           "banner": "Cookies on this website", "save": "Save my choice",
           "box": "Analytic cookies", "saved": "Your choice has been saved"},
}


@pytest.fixture
def example_site_options():
    return {"admin": True}


def ledger(site):
    state = site.app.extensions["webence_privacy"]
    Consent = state.models.ConsentRecord
    with site.app.app_context():
        rows = state.db.session.execute(sa.select(
            Consent.email, Consent.purpose, Consent.action, Consent.form, Consent.language,
            Consent.wording).order_by(Consent.id)).all()
        state.db.session.remove()
    return rows


def site_cookies(page):
    return {c["name"]: c["value"] for c in page.context.cookies()}


@pytest.mark.parametrize("language", ["nl", "en"])
def test_reject_keep_accept_and_withdraw(page, example_site, language):
    w = WORDS[language]
    page.goto(example_site.url + f"/?lang={language}")
    banner = page.get_by_role("region", name=w["banner"])
    assert banner.is_visible()
    accept, reject = (banner.get_by_role("button", name=w[k]) for k in ("accept", "reject"))
    # Equally prominent: the same size and style, side by side.
    assert accept.get_attribute("class") == reject.get_attribute("class")
    assert abs(accept.bounding_box()["height"] - reject.bounding_box()["height"]) < 1
    assert axe_violations(page) == []

    reject.click()
    page.wait_for_load_state()
    assert page.get_by_role("region", name=w["banner"]).count() == 0
    assert VISIT_COOKIE not in site_cookies(page)
    rows = ledger(example_site)
    assert [(r.purpose, r.action, r.form, r.language) for r in rows] == [
        ("cookies:analytic", "withdrawn", "cookie-banner", language)]
    assert w["box"] in rows[0].wording

    # The choice survives a reload, and still no analytic cookie.
    page.reload()
    assert page.get_by_role("region", name=w["banner"]).count() == 0
    assert VISIT_COOKIE not in site_cookies(page)

    # Accept from the settings page, reached from the footer.
    page.get_by_role("contentinfo").get_by_role("link", name=w["settings"]).click()
    box = page.get_by_role("checkbox", name=w["box"])
    assert not box.is_checked()
    assert axe_violations(page) == []
    box.check()
    page.get_by_role("button", name=w["save"]).click()
    page.wait_for_url("**/privacy/cookies?*saved=1*")
    assert w["saved"] in page.get_by_role("status").inner_text()
    assert page.get_by_role("checkbox", name=w["box"]).is_checked()
    page.goto(example_site.url + "/diensten")
    assert site_cookies(page).get(VISIT_COOKIE, "").isdigit()
    assert [(r.action, r.form) for r in ledger(example_site)][1:] == [("given", "cookie-settings")]

    # Withdraw from the footer link, as easily as it was given: the cookie goes.
    page.get_by_role("contentinfo").get_by_role("link", name=w["settings"]).click()
    page.get_by_role("checkbox", name=w["box"]).uncheck()
    page.get_by_role("button", name=w["save"]).click()
    page.wait_for_url("**/privacy/cookies?*saved=1*")
    assert VISIT_COOKIE not in site_cookies(page)
    page.goto(example_site.url + "/")
    assert VISIT_COOKIE not in site_cookies(page)
    rows = ledger(example_site)
    assert [(r.purpose, r.action) for r in rows] == [
        ("cookies:analytic", "withdrawn"), ("cookies:analytic", "given"),
        ("cookies:analytic", "withdrawn")]
    assert len({r.email for r in rows}) == 1  # one browser, one id


def test_the_banner_works_without_javascript(chromium, example_site):
    context = chromium.new_context(locale="en-GB", java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(example_site.url + "/diensten")
        page.get_by_role("button", name="Accept all").click()
        page.wait_for_url("**/diensten")
        assert page.get_by_role("region", name="Cookies on this website").count() == 0
        assert site_cookies(page).get(VISIT_COOKIE) == "1"
        assert [(r.action, r.form) for r in ledger(example_site)] == [("given", "cookie-banner")]
    finally:
        context.close()


def test_the_visits_page_passes_axe(chromium, page, example_site):
    # The visits come from a browser that says it is one (a headless one counts
    # as automated, not as a visit); the maintainer then looks in this one.
    visitor = chromium.new_context(locale="nl-NL", user_agent=(
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Safari/537.36"))
    try:
        browsing = visitor.new_page()
        for path in ("/", "/diensten", "/diensten", "/privacy/"):
            browsing.goto(example_site.url + path)
    finally:
        visitor.close()
    page.goto(example_site.url + "/privacy/admin/visits")
    assert page.get_by_role("heading", level=1).inner_text() == "Websitebezoek"
    assert page.get_by_role("img", name="Paginaweergaven per dag").count() == 1
    assert "/diensten" in page.get_by_role("table", name="Meest bezochte pagina's").inner_text()
    assert axe_violations(page) == []


def test_the_banner_beside_another_form_passes_axe(page, example_site):
    page.goto(example_site.url + "/privacy/contact")
    assert page.get_by_role("region", name="Cookies op deze website").is_visible()
    # The contact form keeps its token; the banner has none (its origin guards it).
    assert page.locator('input[name="csrf_token"]').count() == 1
    assert page.locator('.wp-cookie-banner input[name="csrf_token"]').count() == 0
    assert axe_violations(page) == []
