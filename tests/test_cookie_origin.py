"""The cookie choice is guarded by where the browser says the post comes from
(Sec-Fetch-Site, then Origin), not by a token: a post from another site records
nothing and sets nothing, the site's own page (and a client that is no browser)
is heard; the site's origin is the declared one, never the Host header's."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from flask_webence_privacy.cookies import CHOICE_COOKIE
from flask_webence_privacy.origin import parse_origin

from .conftest import handles

COOKIES = [
    {"name": "site_visits", "type": "analytic", "purpose": "Counts your visits",
     "duration": "1 year"},
    {"name": "ad_id", "type": "marketing", "purpose": "Advertising", "duration": "90 days"},
]
SQLITE = pytest.mark.parametrize("database", ["sqlite"], indirect=True)

#: What a page of another site (or an opaque one) makes a browser send.
FOREIGN = {
    "cross-site": {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
    "same-site": {"Sec-Fetch-Site": "same-site", "Origin": "https://shop.webence.test"},
    "fetch-site-wins": {"Sec-Fetch-Site": "cross-site", "Origin": "https://webence.test"},
    "unknown-fetch-site": {"Sec-Fetch-Site": "somewhere"},
    "foreign-origin": {"Origin": "https://evil.example"},
    "null-origin": {"Origin": "null"},
    "other-scheme": {"Origin": "http://webence.test"},
    "other-port": {"Origin": "https://webence.test:8443"},
    "sub-domain": {"Origin": "https://www.webence.test"},
}
#: What the site's own page, the address bar, or no browser at all sends.
OWN = {
    "same-origin": {"Sec-Fetch-Site": "same-origin", "Origin": "https://webence.test"},
    "typed-in": {"Sec-Fetch-Site": "none"},
    "own-origin": {"Origin": "https://webence.test"},
    "own-origin-default-port": {"Origin": "https://WebEnce.test:443"},
    "no-browser": {},
    "empty-headers": {"Sec-Fetch-Site": "", "Origin": ""},
}


@pytest.fixture
def site(make_app):
    return make_app(PRIVACY_COOKIES=COOKIES)


def ledger(app):
    db, _ = handles(app)
    Consent = app.extensions["webence_privacy"].models.ConsentRecord
    with app.app_context():
        rows = db.session.execute(sa.select(Consent.purpose, Consent.action)
                                  .order_by(Consent.id)).all()
        db.session.remove()
    return [tuple(r) for r in rows]


def choose(client, headers, **extra):
    return client.post("/privacy/cookies", headers={"Accept-Language": "en", **headers},
                       data={"choice": "all", "next": "/", "via": "banner"}, **extra)


def test_a_post_from_another_origin_saves_nothing_sets_nothing_and_looks_the_same(site):
    client = site.test_client()
    answers = {}
    for name, headers in FOREIGN.items():
        response = choose(client, headers)
        assert response.status_code == 403, name
        assert "Set-Cookie" not in response.headers, name
        answers[name] = response.get_data(as_text=True)
    assert ledger(site) == []
    assert client.get_cookie(CHOICE_COOKIE, domain="webence.test") is None
    # The same page whichever header gave the post away, saying nothing was saved.
    assert len(set(answers.values())) == 1
    page = next(iter(answers.values()))
    assert "Your choice could not be saved" in page and "Nothing was saved" in page
    # The visitor's own next choice on the site works.
    assert choose(client, OWN["same-origin"]).status_code == 303
    assert ledger(site) == [("cookies:analytic", "given"), ("cookies:marketing", "given")]


@SQLITE
@pytest.mark.parametrize("name", OWN)
def test_a_post_from_the_sites_own_page_or_from_no_browser_is_saved(site, name):
    client = site.test_client()
    response = choose(client, OWN[name])
    assert response.status_code == 303
    assert client.get_cookie(CHOICE_COOKIE, domain="webence.test") is not None
    assert ledger(site) == [("cookies:analytic", "given"), ("cookies:marketing", "given")]


@SQLITE
def test_the_settings_page_form_is_guarded_alike(site):
    client = site.test_client()
    data = {"type": ["analytic"], "choice": "save"}
    refused = client.post("/privacy/cookies", data=data, headers=FOREIGN["foreign-origin"])
    assert refused.status_code == 403 and ledger(site) == []
    saved = client.post("/privacy/cookies", data=data, headers=OWN["same-origin"])
    assert saved.status_code == 303 and "saved=1" in saved.headers["Location"]
    assert ledger(site) == [("cookies:analytic", "given"), ("cookies:marketing", "withdrawn")]


@SQLITE
def test_the_sites_origin_is_the_declared_address_never_the_host_header(make_app):
    app = make_app(PRIVACY_COOKIES=COOKIES, PRIVACY_SITE_URL="https://www.example.nl/shop",
                   SERVER_NAME=None)
    client = app.test_client()
    # The declared address is the site's origin, not the one the client came by.
    assert choose(client, {"Origin": "https://webence.test"}).status_code == 403
    # A forged Host header does not make the attacker's origin the site's own.
    forged = choose(client, {"Origin": "https://evil.example", "Host": "evil.example"})
    assert forged.status_code == 403 and ledger(app) == []
    assert choose(client, {"Origin": "https://www.example.nl"}).status_code == 303
    assert len(ledger(app)) == 2


@SQLITE
def test_without_a_declared_address_server_name_and_its_scheme_say_it(make_app):
    app = make_app(PRIVACY_COOKIES=COOKIES, SERVER_NAME="webence.test:8080",
                   PREFERRED_URL_SCHEME="http")
    client = app.test_client()
    assert choose(client, {"Origin": "http://webence.test"}).status_code == 403
    assert choose(client, {"Origin": "https://webence.test:8080"}).status_code == 403
    assert choose(client, {"Origin": "http://webence.test:8080"}).status_code == 303


@SQLITE
def test_in_testing_without_either_the_request_is_its_own_origin(make_app):
    app = make_app(PRIVACY_COOKIES=COOKIES, SERVER_NAME=None)
    client = app.test_client()  # https://localhost (PREFERRED_URL_SCHEME)
    assert choose(client, {"Origin": "https://evil.example"}).status_code == 403
    assert choose(client, {"Origin": "https://localhost"}).status_code == 303


@SQLITE
def test_the_other_forms_still_need_their_token(site):
    """Only the cookie choice goes by origin: a contact post from the site's own
    origin without its Flask-WTF token stores nothing."""
    client = site.test_client()
    response = client.post("/privacy/contact", headers=OWN["same-origin"], data={
        "purpose": "question", "name": "Anna", "email": "anna@example.nl",
        "message": "Hallo", "age_ok": "y"})
    assert response.status_code == 400
    db, _ = handles(site)
    Message = site.extensions["webence_privacy"].models.ContactMessage
    with site.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)) == 0


@pytest.mark.parametrize(("value", "origin"), [
    ("https://webence.test", ("https", "webence.test", 443)),
    ("HTTP://Webence.Test:80", ("http", "webence.test", 80)),
    ("http://127.0.0.1:5000", ("http", "127.0.0.1", 5000)),
    ("http://[::1]:8000", ("http", "::1", 8000)),
    ("null", None),
    ("", None),
    ("file://", None),
    ("https://user@webence.test", None),
    ("https://webence.test/path", None),
    ("https://webence.test:99999", None),
    ("webence.test", None),
])
def test_an_origin_is_read_as_a_browser_writes_it(value, origin):
    assert parse_origin(value) == origin
