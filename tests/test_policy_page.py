"""A visitor reads the privacy page: generated from the configuration the software runs on."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from flask_webence_privacy import caches

from .conftest import handles

EN = {"Accept-Language": "en"}
NL = {"Accept-Language": "nl"}

DEMO = {
    "PRIVACY_POLICY_VERSIONS": [
        {"version": "2018-05-12", "effective": "2018-05-12"},
    ],
    "PRIVACY_PROCESSORS": [
        {"name": "Hostingpartner B.V.", "purpose": {"nl": "Hosting", "en": "Hosting"},
         "agreement_date": "2018-05-01"},
    ],
    "PRIVACY_COOKIES": [
        {"name": "session", "type": "functional", "purpose": {"nl": "Sessie", "en": "Session"}},
        {"name": "_stats", "type": "analytic", "purpose": {"nl": "Statistiek", "en": "Statistics"}},
    ],
    "PRIVACY_DATA_CATEGORIES": [{"nl": "Bankrekeningnummer", "en": "Bank account number"}],
    "PRIVACY_PURPOSES": [
        {"label": {"nl": "Factureren", "en": "Invoicing"}, "category": "customer"},
    ],
}


def text(response):
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def retention_row(page, category):
    match = re.search(rf'<tr data-category="{category}">(.*?)</tr>', page)
    assert match, f"no retention row for {category}"
    return re.sub(r"<[^>]+>", " ", match.group(1))


def test_page_in_dutch_and_english(make_app):
    app = make_app(**DEMO)
    client = app.test_client()
    nl = text(client.get("/privacy/", headers=NL))
    en = text(client.get("/privacy/", headers=EN))
    assert '<html lang="nl">' in nl and '<html lang="en">' in en
    assert "Privacybeleid" in nl and "Privacy policy" in en
    assert "7 jaar" in retention_row(nl, "customer")
    assert "1 jaar" in retention_row(nl, "default")
    assert "7 years" in retention_row(en, "customer")
    assert "kept while the law requires it" in retention_row(en, "customer")
    assert "erased" in retention_row(en, "default")
    for expected in ("Webence", "info@webence.nl", "Hostingpartner B.V.", "2018-05-01",
                     "Bank account number", "Invoicing", "_stats", "analytic",
                     "younger than 16", "within 4 weeks", "Version 2018-05-12",
                     "May 12, 2018"):
        assert expected in en, expected
    assert "functionele en analytische cookies" in nl
    assert "binnen 4 weken" in nl


def test_changing_retention_changes_the_page(make_app):
    app = make_app(PRIVACY_RETENTION={
        "default": {"months": 6},
        "customer": {"years": 10, "erasable": False},
        "quotes": {"years": 2, "label": {"en": "Quotes", "nl": "Offertes"}},
    })
    page = text(app.test_client().get("/privacy/", headers=EN))
    assert "6 months" in retention_row(page, "default")
    assert "10 years" in retention_row(page, "customer")
    assert "Quotes" in retention_row(page, "quotes")
    assert "2 years" in retention_row(page, "quotes")
    assert "7 years" not in page


def test_minimum_age_and_deadline_come_from_config(make_app):
    app = make_app(PRIVACY_MIN_CONSENT_AGE=13, PRIVACY_REQUEST_DEADLINE_DAYS=30)
    page = text(app.test_client().get("/privacy/", headers=EN))
    assert "younger than 13" in page
    assert "within 30 days" in page


def test_language_switch_sets_a_functional_cookie(make_app):
    app = make_app()
    client = app.test_client()
    assert '<html lang="nl">' in text(client.get("/privacy/"))
    response = client.get("/privacy/language/en?next=/privacy/%3Flang%3Dnl")
    assert response.status_code == 302
    assert response.headers["Location"] == "/privacy/"
    cookie = client.get_cookie("privacy_lang", domain="webence.test")
    assert cookie.value == "en" and cookie.http_only
    assert '<html lang="en">' in text(client.get("/privacy/", headers=NL))


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x",
                                    "/\\evil.example", "javascript:alert(1)"])
def test_language_switch_never_leaves_the_site(make_app, target):
    client = make_app().test_client()
    response = client.get("/privacy/language/en", query_string={"next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == "/privacy/"


def test_unknown_language_is_404(make_app):
    assert make_app().test_client().get("/privacy/language/xx").status_code == 404


def test_earlier_versions_are_listed_and_readable(make_app):
    versions = [{"version": "2018-05-12", "effective": "2018-05-12"}]
    app = make_app(PRIVACY_POLICY_VERSIONS=versions)
    db, privacy = handles(app)
    # The site publishes a new version: the old one keeps its snapshot.
    app.config["PRIVACY_POLICY_VERSIONS"] = [
        *versions,
        {"version": "2026-01-01", "effective": "2026-01-01",
         "changes": {"en": "Adds the newsletter.", "nl": "Voegt de nieuwsbrief toe."}},
    ]
    from flask_webence_privacy import config

    app.extensions["webence_privacy"].settings = config.load(app.config)
    with app.app_context():
        assert privacy.sync_policy() == 1
        assert privacy.current_policy_version() == "2026-01-01"
    client = app.test_client()
    page = text(client.get("/privacy/", headers=EN))
    assert "Version 2026-01-01, in effect since January 1, 2026" in page
    assert 'href="/privacy/versions/2018-05-12"' in page
    assert "Adds the newsletter." in page
    old = client.get("/privacy/versions/2018-05-12", headers=EN)
    assert old.status_code == 200
    old_text = text(old)
    assert "was in effect from May 12, 2018 to January 1, 2026 and has been replaced" in old_text
    assert "7 years" in old_text  # the snapshot taken when 2018-05-12 was current
    current = client.get("/privacy/versions/2026-01-01")
    assert current.status_code == 302 and current.headers["Location"] == "/privacy/"


def test_unknown_version_is_a_404_page(make_app):
    response = make_app().test_client().get("/privacy/versions/9.9", headers=EN)
    assert response.status_code == 404
    assert "Page not found" in text(response)
    assert 'href="/privacy/"' in text(response)


def test_pages_carry_security_headers(make_app):
    response = make_app().test_client().get("/privacy/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "<script" not in response.get_data(as_text=True)
    secure = make_app().test_client().get("/privacy/", base_url="https://webence.test")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    plain = make_app().test_client().get("/privacy/", base_url="http://webence.test")
    assert "Strict-Transport-Security" not in plain.headers  # HSTS only over https
    # Each once, also on a page kept whole and served again.
    again = make_app().test_client()
    again.get("/privacy/")
    kept = again.get("/privacy/")
    assert kept.headers.getlist("Content-Security-Policy") == [csp]
    # No shared cache may give one visitor's page (language, banner) to another.
    for page in (response, kept):
        assert {v.strip() for v in page.headers["Vary"].split(",")} == {"Accept-Language", "Cookie",
                                                                          "Sec-GPC"}


def test_templates_can_be_overridden_one_by_one(make_app, tmp_path):
    override = tmp_path / "templates" / "webence_privacy"
    override.mkdir(parents=True)
    (override / "error.html").write_text("<p>Our own not-found page</p>")

    def setup(app, db, privacy):
        app.template_folder = str(tmp_path / "templates")

    app = make_app(setup=setup)
    client = app.test_client()
    assert "Our own not-found page" in text(client.get("/privacy/versions/none"))
    assert "Privacybeleid" in text(client.get("/privacy/"))  # the others still the package's


def test_a_page_in_a_hosts_own_frame_is_never_kept_for_the_next_visitor(make_app, tmp_path):
    """A host may override the package's frame with one that greets the visitor:
    then the page is made for each visitor, never kept and given to another."""
    override = tmp_path / "templates" / "webence_privacy"
    override.mkdir(parents=True)
    frame = (Path(__file__).resolve().parent.parent / "flask_webence_privacy" / "templates"
             / "webence_privacy" / "base.html").read_text()
    (override / "base.html").write_text(frame.replace(
        '<main id="main"', "<p>Hallo {{ request.cookies.get('who', '') }}</p><main id=\"main\""))

    def setup(app, db, privacy):
        app.template_folder = str(tmp_path / "templates")

    app = make_app(setup=setup)
    anna, ben = app.test_client(), app.test_client()
    anna.set_cookie("who", "Anna", domain="webence.test")
    ben.set_cookie("who", "Ben", domain="webence.test")
    assert "Hallo Anna" in text(anna.get("/privacy/"))
    assert "Hallo Ben" in text(ben.get("/privacy/"))
    assert "Hallo Anna" in text(anna.get("/privacy/"))


def test_custom_prefix(make_app):
    client = make_app(PRIVACY_URL_PREFIX="/privacyverklaring").test_client()
    assert client.get("/privacyverklaring/").status_code == 200
    assert client.get("/privacy/").status_code == 404


def test_only_the_plain_and_lang_urls_are_kept_so_no_url_grows_the_memory(make_app):
    app = make_app()
    client = app.test_client()
    kept = app.extensions["webence_privacy"].caches.pages
    for url in ("/privacy/", "/privacy/?lang=en", "/privacy/?lang=nl"):
        assert client.get(url).status_code == 200
    settled = len(kept)
    for n in range(20):  # what a crawler, a campaign link or a prankster adds
        for url in (f"/privacy/?ref={n}&lang=en", "/privacy/?" + "&".join(["lang=en"] * (n + 2))):
            page = client.get(url)
            assert page.status_code == 200 and "Privacy policy" in text(page)
    assert len(kept) == settled


def test_each_visitor_gets_the_language_their_browser_asks_for_in_any_order(make_app):
    app = make_app()
    client = app.test_client()
    asked = [("en-GB,en;q=0.9", "en"), ("nl-NL,nl;q=0.8,en;q=0.5", "nl"),
             ("en-GB,en;q=0.9", "en"), ("de-DE,de;q=0.9", "nl"), ("fr;q=0.4,en;q=0.6", "en"),
             ("", "nl"), ("nl-NL,nl;q=0.8,en;q=0.5", "nl")]
    for header, expected in asked:
        page = client.get("/privacy/", headers={"Accept-Language": header} if header else {})
        assert f'<html lang="{expected}">' in text(page), header
    # ?lang= and the switch cookie still come before what the browser asks for.
    assert '<html lang="nl">' in text(client.get("/privacy/?lang=nl", headers=EN))
    assert '<html lang="nl">' in text(client.get("/privacy/", headers=EN))  # the cookie it set


def test_the_languages_browsers_asked_for_are_remembered_within_a_bound(make_app):
    app = make_app()
    client = app.test_client()
    for n in range(caches.LANGUAGES_MAX + 50):  # a crawler inventing headers
        header = f"x-{n},en;q=0.5" if n % 2 else f"x-{n},nl;q=0.5"
        page = client.get("/privacy/", headers={"Accept-Language": header})
        assert f'<html lang="{"en" if n % 2 else "nl"}">' in text(page)
        assert len(caches._LANGUAGES) <= caches.LANGUAGES_MAX
    # A header far longer than a browser's is answered, never kept.
    before = dict(caches._LANGUAGES)
    long = "en;q=0.9," + ",".join(f"x-{n};q=0.1" for n in range(200))
    assert '<html lang="en">' in text(client.get("/privacy/", headers={"Accept-Language": long}))
    assert before == caches._LANGUAGES
