"""Cookie choices with server-side proof: the settings page, the banner, the
ledger rows each choice writes, and what bad input gets."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest
import sqlalchemy as sa
from flask import render_template_string

from flask_webence_privacy import cookies, signals, tokens
from flask_webence_privacy.config import ConfigurationError, PolicyVersionSpec
from flask_webence_privacy.cookies import CHOICE_COOKIE
from tests.conftest import csrf_token, handles
from tests.test_deploy_safety import pg_proxy  # noqa: F401 - the fixture

COOKIES = [
    {"name": "session", "type": "functional",
     "purpose": {"nl": "Uw sessie", "en": "Your session"},
     "duration": {"nl": "tot u de browser sluit", "en": "until you close the browser"}},
    {"name": "site_visits", "type": "analytic",
     "purpose": {"nl": "Telt uw bezoeken", "en": "Counts your visits"},
     "duration": {"nl": "1 jaar", "en": "1 year"}},
    {"name": "ad_id", "type": "marketing",
     "purpose": {"nl": "Advertenties", "en": "Advertising"},
     "duration": {"nl": "90 dagen", "en": "90 days"}},
]


def with_layout(app, db, privacy):
    """A host page with the banner, and one that sets its analytic cookie only
    after consent, as a site builder writes them."""

    @app.get("/")
    def home():
        return render_template_string(
            "<!doctype html><html lang=\"nl\"><title>Home</title><body>"
            "{{ privacy_cookie_banner() }}<main>Welkom"
            "{% if privacy_consented('analytic') %} [analytics]{% endif %}</main></body></html>")

    @app.get("/count")
    def count():
        response = app.make_response(f"consented={privacy.consented('analytic')}")
        if privacy.consented("analytic"):
            response.set_cookie("site_visits", "1")
        return response


@pytest.fixture
def site(make_app):
    return make_app(setup=with_layout, PRIVACY_COOKIES=COOKIES)


def ledger(app):
    db, _ = handles(app)
    Consent = app.extensions["webence_privacy"].models.ConsentRecord
    with app.app_context():
        rows = db.session.execute(sa.select(
            Consent.email, Consent.purpose, Consent.action, Consent.wording, Consent.form,
            Consent.policy_version, Consent.ip, Consent.language).order_by(Consent.id)).all()
        db.session.remove()
    return rows


def post_choice(client, data, url="/privacy/cookies"):
    """The banner's or the settings page's form as a browser on the site posts it:
    no token, its own origin."""
    return client.post(url, data=data, environ_base={"REMOTE_ADDR": "203.0.113.77"},
                       headers={"Sec-Fetch-Site": "same-origin", "Origin": "https://webence.test"})


def test_banner_until_a_choice_then_reject_all_is_proven_per_type(site):
    client = site.test_client()
    page = client.get("/").get_data(as_text=True)
    assert "Alles accepteren" in page and "Alles weigeren" in page
    assert 'value="all"' in page and 'value="none"' in page and "/privacy/cookies" in page
    assert "[analytics]" not in page

    response = post_choice(client, {"choice": "none", "next": "/", "via": "banner"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/")
    rows = ledger(site)
    assert [(r.purpose, r.action, r.form, r.ip) for r in rows] == [
        ("cookies:analytic", "withdrawn", "cookie-banner", "203.0.113.0"),
        ("cookies:marketing", "withdrawn", "cookie-banner", "203.0.113.0")]
    assert rows[0].email.startswith("cookie:") and rows[0].email == rows[1].email
    assert "Telt uw bezoeken" in rows[0].wording and rows[0].policy_version
    # The banner is gone, and the analytic cookie is not set.
    page = client.get("/").get_data(as_text=True)
    assert 'value="all"' not in page and "[analytics]" not in page
    assert client.get("/count").get_data(as_text=True) == "consented=False"
    assert client.get_cookie("site_visits", domain="webence.test") is None


def test_accept_from_the_settings_page_then_withdraw(site):
    client = site.test_client()
    seen = []
    signals.cookie_choice_changed.connect(lambda app, **kw: seen.append(kw["given"]), site,
                                          weak=False)
    page = client.get("/privacy/cookies").get_data(as_text=True)
    # Never pre-ticked, and what each cookie does and how long it lives.
    assert "checked" not in page
    assert "site_visits" in page and "1 jaar" in page and "ad_id" in page and "90 dagen" in page
    response = post_choice(client, {"type": ["analytic"], "choice": "save"})
    assert response.status_code == 303 and "saved=1" in response.headers["Location"]
    assert client.get("/count").get_data(as_text=True) == "consented=True"
    assert client.get_cookie("site_visits", domain="webence.test") is not None
    page = client.get("/privacy/cookies?saved=1").get_data(as_text=True)
    assert 'role="status"' in page and 'value="analytic" checked' in page
    assert 'value="marketing" checked' not in page

    response = post_choice(client, {"choice": "save"})
    assert response.status_code == 303
    # Withdrawn: the site's analytic cookie is deleted with the answer.
    assert client.get_cookie("site_visits", domain="webence.test") is None
    assert client.get("/count").get_data(as_text=True) == "consented=False"
    assert [(r.purpose, r.action, r.form) for r in ledger(site)] == [
        ("cookies:analytic", "given", "cookie-settings"),
        ("cookies:marketing", "withdrawn", "cookie-settings"),
        ("cookies:analytic", "withdrawn", "cookie-settings"),
        ("cookies:marketing", "withdrawn", "cookie-settings")]
    assert seen == [frozenset({"analytic"}), frozenset()]


def test_a_forged_cookie_counts_as_no_choice(site):
    client = site.test_client()
    post_choice(client, {"choice": "all"})
    assert client.get("/count").get_data(as_text=True) == "consented=True"
    value = client.get_cookie(CHOICE_COOKIE, domain="webence.test").value
    tampered = value[:-2] + ("AA" if not value.endswith("AA") else "BB")
    client.set_cookie(CHOICE_COOKIE, tampered, domain="webence.test")
    assert client.get("/count").get_data(as_text=True) == "consented=False"
    assert 'value="all"' in client.get("/").get_data(as_text=True)
    client.set_cookie(CHOICE_COOKIE, "not-a-signed-value", domain="webence.test")
    assert client.get("/count").get_data(as_text=True) == "consented=False"


def test_an_unknown_type_is_ignored_and_next_off_site_goes_home(site):
    client = site.test_client()
    response = post_choice(client, {"type": ["analytic", "tracking", "functional"],
                                    "choice": "save", "next": "https://evil.example/x"})
    assert response.status_code == 303
    assert response.headers["Location"] in ("/", "https://webence.test/")
    assert [(r.purpose, r.action) for r in ledger(site)] == [
        ("cookies:analytic", "given"), ("cookies:marketing", "withdrawn")]
    for bad in ("//evil.example/", "/\\evil.example", "javascript:alert(1)"):
        response = post_choice(client, {"choice": "none", "next": bad})
        assert response.headers["Location"] in ("/", "https://webence.test/")


def test_a_new_policy_version_asks_again(make_app):
    app = make_app(setup=with_layout, PRIVACY_COOKIES=COOKIES,
                   PRIVACY_POLICY_VERSIONS=[{"version": "1", "effective": "2020-01-01"}])
    client = app.test_client()
    post_choice(client, {"choice": "all"})
    assert 'value="all"' not in client.get("/").get_data(as_text=True)
    # The site publishes a new version of its policy.
    state = app.extensions["webence_privacy"]
    newer = PolicyVersionSpec("2", dt.date(2021, 1, 1))
    state.settings = dataclasses.replace(
        state.settings, policy_versions=(*state.settings.policy_versions, newer))
    assert 'value="all"' in client.get("/").get_data(as_text=True)
    assert client.get("/count").get_data(as_text=True) == "consented=False"


def test_a_site_without_optional_cookies_shows_no_banner(make_app):
    app = make_app(setup=with_layout, PRIVACY_COOKIES=COOKIES[:1])
    client = app.test_client()
    page = client.get("/").get_data(as_text=True)
    assert "Welkom" in page and "privacy/cookies" not in page
    settings = client.get("/privacy/cookies").get_data(as_text=True)
    assert "Deze website gebruikt geen cookies waarvoor uw toestemming nodig is" in settings
    response = post_choice(client, {"choice": "all"})
    assert response.status_code == 303 and ledger(app) == []
    assert client.get_cookie(CHOICE_COOKIE, domain="webence.test") is None
    with app.test_request_context("/"):
        _, privacy = handles(app)
        assert privacy.consented("functional") is True
        assert privacy.consented("analytic") is False


def test_an_unknown_cookie_type_stops_the_start(make_app):
    with pytest.raises(ConfigurationError, match="PRIVACY_COOKIES\\[1\\].*'tracking'"):
        make_app(create=False, PRIVACY_COOKIES=[COOKIES[0], {**COOKIES[1], "type": "tracking"}])


@pytest.mark.parametrize("kind", ["access", "withdraw"])
def test_the_portal_shows_this_browsers_cookie_records(site, inbox, kind):
    client = site.test_client()
    post_choice(client, {"choice": "all"})
    inbox.clear()
    token = csrf_token(client, "/privacy/request")
    client.post("/privacy/request", data={"csrf_token": token, "email": "ann@example.nl",
                                          "kind": kind})
    (mail,) = inbox.wait_to("ann@example.nl")
    link = next(u for u in inbox.links(mail) if "/privacy/request/" in u)
    path = link.split("webence.test", 1)[1]
    token = csrf_token(client, path)
    client.post(path, data={"csrf_token": token, "action": "verify"})
    page = client.get(path).get_data(as_text=True)
    assert "cookies:analytic" in page and "cookies:marketing" in page
    assert 'href="/privacy/cookies"' in page  # where to change or withdraw it
    # Another browser (no choice cookie) sees no cookie records.
    other = site.test_client()
    assert "cookies:analytic" not in other.get(path).get_data(as_text=True)


def test_the_purge_bounds_the_cookie_records(site):
    client = site.test_client()
    post_choice(client, {"choice": "all"})
    _, privacy = handles(site)
    with site.app_context():
        privacy.purge(now=dt.datetime.now() + dt.timedelta(days=364))
    assert len(ledger(site)) == 2
    with site.app_context():
        privacy.purge(now=dt.datetime.now() + dt.timedelta(days=2 * 366 + 1))
    # A year for the choice, then the proof period (the default category's year).
    assert ledger(site) == []


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_a_database_that_stays_away_saves_nothing_and_sets_nothing(pg_proxy, make_app):  # noqa: F811
    app = make_app(setup=with_layout, PRIVACY_COOKIES=COOKIES,
                   SQLALCHEMY_DATABASE_URI=pg_proxy.url)
    client = app.test_client()
    assert client.get("/privacy/cookies").status_code == 200
    pg_proxy.refusing = True
    pg_proxy.drop()
    response = post_choice(client, {"choice": "all"})
    assert response.status_code == 503
    assert "Uw keuze kon niet worden opgeslagen" in response.get_data(as_text=True)
    assert client.get_cookie(CHOICE_COOKIE, domain="webence.test") is None
    # The host's pages still work, on the safe side: no optional cookie.
    assert client.get("/count").get_data(as_text=True) == "consented=False"
    pg_proxy.refusing = False
    assert ledger(app) == []


def test_choose_per_type_from_the_banner_returns_to_the_page(site):
    client = site.test_client()
    page = client.get("/count?x=1").get_data(as_text=True)
    assert "consented=False" in page
    banner = client.get("/").get_data(as_text=True)
    link = re.search(r'href="(/privacy/cookies\?next=[^"]+)"', banner).group(1).replace("&amp;", "&")
    settings = client.get(link).get_data(as_text=True)
    assert '<input type="hidden" name="next" value="/">' in settings
    response = post_choice(client, {"type": "marketing", "choice": "save", "next": "/"})
    assert response.headers["Location"] in ("/", "https://webence.test/")
    assert [(r.purpose, r.action) for r in ledger(site)] == [
        ("cookies:analytic", "withdrawn"), ("cookies:marketing", "given")]


def test_the_kept_privacy_page_is_the_same_for_every_first_visitor_until_they_answer(site):
    """The privacy page is rendered once and kept (same language, URL and banner
    state): two first visitors get the same bytes and no cookie; once one has
    answered, her page has no banner and the other's still has."""
    anna, ben = site.test_client(), site.test_client()
    first = [client.get("/privacy/") for client in (anna, ben)]
    assert first[0].get_data() == first[1].get_data()
    assert all("Set-Cookie" not in page.headers for page in first)
    assert "\x00" not in first[0].get_data(as_text=True)
    assert 'value="all"' in first[0].get_data(as_text=True)
    taken = post_choice(anna, {"choice": "all", "next": "/privacy/", "via": "banner"})
    assert taken.status_code == 303
    assert [r.action for r in ledger(site)] == ["given", "given"]
    assert 'value="all"' not in anna.get("/privacy/").get_data(as_text=True)
    assert ben.get("/privacy/").get_data() == first[1].get_data()
    # Another language, and a URL with another query, are pages of their own:
    # each banner and language link sends the visitor back where they were.
    english = ben.get("/privacy/?lang=en").get_data(as_text=True)
    assert 'lang="en"' in english and "Accept all" in english
    assert 'name="next" value="/privacy/?lang=en"' in english
    tagged = ben.get("/privacy/?ref=mail").get_data(as_text=True)
    assert 'name="next" value="/privacy/?ref=mail"' in tagged
    assert "next=/privacy/?ref%3Dmail" in tagged or "next=%2Fprivacy%2F%3Fref%3Dmail" in tagged


def test_a_returning_visitors_pages_read_no_ledger(site):
    """The answer rides in the signed cookie: once a visitor has answered, the
    banner, ``privacy_consented`` and the privacy page ask the database nothing
    about it (a query per page was most of a returning visitor's page)."""
    client = site.test_client()
    post_choice(client, {"type": ["analytic"], "choice": "save"})
    with site.app_context():
        engine = handles(site)[0].engine
    statements = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        home = client.get("/").get_data(as_text=True)
        count = client.get("/count").get_data(as_text=True)
        policy = client.get("/privacy/").get_data(as_text=True)
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    assert "[analytics]" in home and 'value="all"' not in home
    assert count == "consented=True"
    assert 'value="all"' not in policy
    assert not [s for s in statements if "privacy_consent_record" in s], statements


def test_a_cookie_with_the_id_alone_still_counts_by_the_ledger(site):
    """A choice cookie set before the answer was carried in it holds the id alone:
    the ledger still says what was answered, and the next save carries it."""
    client = site.test_client()
    post_choice(client, {"choice": "all"})
    cid = ledger(site)[0].email.removeprefix("cookie:")
    with site.test_request_context():
        old = tokens.make("cookie-choice", cid)
    client.set_cookie(CHOICE_COOKIE, old, domain="webence.test")
    assert client.get("/count").get_data(as_text=True) == "consented=True"
    assert 'value="all"' not in client.get("/").get_data(as_text=True)
    post_choice(client, {"choice": "none"})
    assert client.get("/count").get_data(as_text=True) == "consented=False"
    assert {r.email for r in ledger(site)} == {f"cookie:{cid}"}  # the same browser id


def test_a_signed_cookie_from_another_policy_version_or_shape_asks_again(site):
    client = site.test_client()
    post_choice(client, {"choice": "all"})
    cid = ledger(site)[0].email.removeprefix("cookie:")
    with site.test_request_context():
        earlier = tokens.make("cookie-choice", [cid, "2001-01-01", ["analytic", "marketing"],
                                                ["analytic", "marketing"]])
        odd = tokens.make("cookie-choice", [cid, ["analytic"]])
    for value in (earlier, odd):
        client.set_cookie(CHOICE_COOKIE, value, domain="webence.test")
        assert client.get("/count").get_data(as_text=True) == "consented=False"
        assert 'value="all"' in client.get("/").get_data(as_text=True)


def test_a_choice_cookies_signature_is_checked_once_and_its_age_every_time(site, monkeypatch):
    client = site.test_client()
    post_choice(client, {"type": ["analytic"], "choice": "save"})
    checks = []
    real = cookies.load_timed
    monkeypatch.setattr(cookies, "load_timed", lambda *a, **k: checks.append(1) or real(*a, **k))
    for _ in range(3):
        assert client.get("/count").get_data(as_text=True) == "consented=True"
    assert len(checks) == 1
    # A year and a second after it was signed it counts no more, remembered or not.
    later = cookies.time.time() + cookies.CHOICE_MAX_AGE + 1
    monkeypatch.setattr(cookies.time, "time", lambda: later)
    assert client.get("/count").get_data(as_text=True) == "consented=False"
    assert 'value="all"' in client.get("/").get_data(as_text=True)
