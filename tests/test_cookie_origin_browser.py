"""In a real Chromium: a page of another origin (another port on loopback, and
another site) that submits a form to the example site's /privacy/cookies by
itself records nothing and sets no analytic cookie; the site's own banner,
which carries no token, still works by mouse and by keyboard."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask

from example_site import VISIT_COOKIE
from flask_webence_privacy.cookies import CHOICE_COOKIE

pytestmark = pytest.mark.browser

#: A page that posts "accept all" to the site the moment it loads, as a page of
#: another site would try to (its script is its own; the site's CSP is not in play).
FORGERY = """<!doctype html><html lang="en"><title>Win a prize</title>
<form method="post" action="{action}">
  <input type="hidden" name="choice" value="all">
  <input type="hidden" name="next" value="/">
  <input type="hidden" name="via" value="banner">
</form>
<script>document.forms[0].submit()</script>
"""


def ledger(site):
    state = site.app.extensions["webence_privacy"]
    Consent = state.models.ConsentRecord
    with site.app.app_context():
        rows = state.db.session.execute(
            sa.select(Consent.purpose, Consent.action, Consent.form).order_by(Consent.id)).all()
        state.db.session.remove()
    return [tuple(r) for r in rows]


def cookie_names(page):
    return {c["name"] for c in page.context.cookies()}


@pytest.fixture
def other_origin(live_server, example_site):
    """A server of its own on another loopback port, serving the forging page."""
    app = Flask("elsewhere")
    app.add_url_rule("/", "forge", lambda: FORGERY.format(
        action=example_site.url + "/privacy/cookies"))
    return live_server(app)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"], ids=["other-port", "other-site"])
def test_a_page_of_another_origin_cannot_record_a_choice(page, example_site, other_origin, host):
    forging_page = f"http://{host}:{other_origin.port}/"
    with page.expect_response(lambda r: r.url.endswith("/privacy/cookies")
                              and r.request.method == "POST") as answer:
        page.goto(forging_page)
    assert answer.value.status == 403
    page.wait_for_load_state()
    assert "Nothing was saved" in page.content() or "niets opgeslagen" in page.content()
    assert ledger(example_site) == []
    assert VISIT_COOKIE not in cookie_names(page) and CHOICE_COOKIE not in cookie_names(page)
    # The visitor still gets asked on the site, and nothing counts their visits.
    page.goto(example_site.url + "/diensten")
    assert page.locator(".wp-cookie-banner").count() == 1
    assert VISIT_COOKIE not in cookie_names(page)


def test_the_sites_own_banner_still_works_by_click(page, example_site):
    page.goto(example_site.url + "/diensten?lang=en")
    page.locator(".wp-cookie-banner").get_by_role("button", name="Accept all").click()
    page.wait_for_url("**/diensten*")
    assert page.locator(".wp-cookie-banner").count() == 0
    assert ledger(example_site) == [("cookies:analytic", "given", "cookie-banner")]
    page.goto(example_site.url + "/")
    assert VISIT_COOKIE in cookie_names(page)


def test_the_sites_own_banner_still_works_by_keyboard(page, example_site):
    page.goto(example_site.url + "/?lang=en")
    reject = page.locator(".wp-cookie-banner").get_by_role("button", name="Reject all")
    for _ in range(30):  # Tab through the page until the button has the focus
        page.keyboard.press("Tab")
        if reject.evaluate("b => b === document.activeElement"):
            break
    else:
        pytest.fail("Reject all is not reachable with Tab")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator(".wp-cookie-banner").count() == 0
    assert ledger(example_site) == [("cookies:analytic", "withdrawn", "cookie-banner")]
    assert VISIT_COOKIE not in cookie_names(page) and CHOICE_COOKIE in cookie_names(page)
