"""Pages any cache may keep: until a visitor acts, a page with the cookie banner
carries nothing of theirs (no cookie, no session, the same bytes for everyone in
one language); the privacy page has a validator, answers a revalidation with a
304 the visit log still counts, says what it varies on, and takes its
Cache-Control from the site."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
import sqlalchemy as sa
from flask import render_template_string

from flask_webence_privacy import visits
from flask_webence_privacy.config import ConfigurationError, PolicyVersionSpec

from .conftest import handles

COOKIES = [
    {"name": "site_visits", "type": "analytic", "purpose": "Counts your visits",
     "duration": "1 year"},
]
SQLITE = pytest.mark.parametrize("database", ["sqlite"], indirect=True)
#: Two first visitors from different places, in the same language.
VISITORS = [
    {"environ_base": {"REMOTE_ADDR": "198.51.100.7"},
     "headers": {"Accept-Language": "nl-NL,nl;q=0.9", "User-Agent": "Mozilla/5.0 Firefox/128.0"}},
    {"environ_base": {"REMOTE_ADDR": "203.0.113.9"},
     "headers": {"Accept-Language": "nl,en;q=0.5", "User-Agent": "Mozilla/5.0 Chrome/126.0"}},
]


def with_layout(app, db, privacy):
    @app.get("/")
    def home():
        return render_template_string(
            "<!doctype html><html lang=\"nl\"><title>Home</title><body>"
            "{{ privacy_cookie_banner() }}<main>Welkom</main></body></html>")


@pytest.fixture
def site(make_app):
    return make_app(setup=with_layout, PRIVACY_COOKIES=COOKIES, PRIVACY_VISIT_LOG=True)


def first_visits(app, url):
    return [app.test_client().get(url, **visitor) for visitor in VISITORS]


def page_views(app):
    visits.flush(app)
    db, _ = handles(app)
    VisitLog = app.extensions["webence_privacy"].models.VisitLog
    with app.app_context():
        count = db.session.scalar(sa.select(sa.func.count()).select_from(VisitLog))
        db.session.remove()
    return count


@pytest.mark.parametrize("url", ["/", "/privacy/"])
def test_a_first_visit_sets_no_cookie_and_is_the_same_for_every_visitor(site, url):
    first, second = first_visits(site, url)
    assert first.status_code == second.status_code == 200
    assert "Set-Cookie" not in first.headers and "Set-Cookie" not in second.headers
    assert 'value="all"' in first.get_data(as_text=True)  # the banner is there
    assert first.get_data() == second.get_data()
    # Whether the banner shows, and in which language, are what it varies on.
    assert {"accept-language", "cookie"} <= {v.strip().lower()
                                            for v in first.headers["Vary"].split(",")}


def test_the_example_sites_first_page_sets_no_cookie(example_site_app):
    app = example_site_app()
    first, second = first_visits(app, "/")
    assert first.status_code == 200 and "Set-Cookie" not in first.headers
    assert first.get_data() == second.get_data()
    assert "Vary" in first.headers and "Cookie" in first.headers["Vary"]


def test_the_privacy_page_is_revalidated_with_a_304_that_the_visit_log_counts(site):
    client = site.test_client()
    browser = VISITORS[0]["headers"]
    page = client.get("/privacy/", headers=browser)
    etag = page.headers["ETag"]
    assert page.status_code == 200 and etag.startswith('"nl-') and etag.endswith('"')
    assert page.headers["Cache-Control"] == "no-cache"
    again = client.get("/privacy/", headers={**browser, "If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""
    assert again.headers["ETag"] == etag and "Set-Cookie" not in again.headers
    # A validator of another page (or an older one) gets the whole page.
    stale = client.get("/privacy/", headers={**browser, "If-None-Match": '"nl-1-0000"'})
    assert stale.status_code == 200 and stale.get_data() == page.get_data()
    assert page_views(site) == 3  # each visit seen, the 304 too


@SQLITE
def test_the_validator_follows_language_banner_and_policy_version(site):
    client = site.test_client()
    dutch = client.get("/privacy/").headers["ETag"]
    english = client.get("/privacy/?lang=en").headers["ETag"]
    assert english.startswith('"en-') and english != dutch
    # Once this browser has answered, its page has no banner: another validator.
    client.post("/privacy/cookies", data={"choice": "none"})
    answered = client.get("/privacy/", headers={"If-None-Match": dutch})
    assert answered.status_code == 200 and answered.headers["ETag"] != dutch
    # A new version of the policy is a new page.
    state = site.extensions["webence_privacy"]
    newer = PolicyVersionSpec("2099-01-01", dt.date.today())
    state.settings = dataclasses.replace(
        state.settings, policy_versions=(*state.settings.policy_versions, newer))
    fresh = site.test_client().get("/privacy/", headers={"If-None-Match": dutch})
    assert fresh.status_code == 200 and fresh.headers["ETag"].startswith('"nl-2099-01-01-')


@SQLITE
def test_a_page_in_the_hosts_own_frame_has_a_validator_too(make_app, tmp_path):
    (tmp_path / "frame.html").write_text(
        "<!doctype html><html><body>{{ privacy_cookie_banner() }}"
        "{% block content %}{% endblock %}</body></html>")

    def setup(app, db, privacy):
        app.template_folder = str(tmp_path)

    app = make_app(setup=setup, PRIVACY_COOKIES=COOKIES, PRIVACY_BASE_TEMPLATE="frame.html")
    first, second = first_visits(app, "/privacy/")
    assert first.get_data() == second.get_data() and "Set-Cookie" not in first.headers
    etag = first.headers["ETag"]
    assert app.test_client().get("/privacy/", headers={"If-None-Match": etag}).status_code == 304


@SQLITE
def test_the_site_sets_the_privacy_pages_cache_control(make_app):
    app = make_app(PRIVACY_PAGE_CACHE_CONTROL="public, max-age=300")
    assert app.test_client().get("/privacy/").headers["Cache-Control"] == "public, max-age=300"


@SQLITE
@pytest.mark.parametrize("value", ["", "  ", 300, None, "no-cache\r\nSet-Cookie: x=1", "max-age=ä"])
def test_a_cache_control_that_is_no_header_value_stops_the_start(make_app, value):
    with pytest.raises(ConfigurationError, match="PRIVACY_PAGE_CACHE_CONTROL"):
        make_app(create=False, PRIVACY_PAGE_CACHE_CONTROL=value)
