"""Global Privacy Control (Sec-GPC: 1): a browser's standing "no", honoured for a
visitor who has not chosen; an explicit choice wins; nothing is written for the
signal; the site says so at /.well-known/gpc.json and on the privacy page."""

from __future__ import annotations

import sqlalchemy as sa
from flask import render_template_string

from .conftest import handles

GPC = {"Sec-GPC": "1"}
COOKIES = [
    {"name": "session", "type": "functional", "purpose": "Your session"},
    {"name": "site_visits", "type": "analytic", "purpose": "Counts your visits",
     "duration": "1 year"},
]


def layout(app, db, privacy):
    @app.get("/")
    def home():
        return render_template_string(
            '<!doctype html><html lang="en"><title>Home</title><body>'
            "{{ privacy_cookie_banner() }}<main>Welcome"
            "{% if privacy_consented('analytic') %} [analytics]{% endif %}</main></body></html>")


def records(app) -> int:
    db, _ = handles(app)
    Consent = app.extensions["webence_privacy"].models.ConsentRecord
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Consent))


def test_the_signal_is_a_no_without_a_banner_and_nothing_is_written(make_sqlite_app):
    app = make_sqlite_app(setup=layout, PRIVACY_COOKIES=COOKIES)
    client = app.test_client()
    without = client.get("/").get_data(as_text=True)
    assert 'value="all"' in without  # no signal, no choice: the banner asks
    page = client.get("/", headers=GPC)
    html = page.get_data(as_text=True)
    assert 'value="all"' not in html and "[analytics]" not in html
    assert "Set-Cookie" not in page.headers and "Sec-GPC" in page.headers["Vary"]
    policy = client.get("/privacy/?lang=en", headers=GPC).get_data(as_text=True)
    assert 'value="all"' not in policy
    assert "Global Privacy Control signal, we honour it" in policy
    assert records(app) == 0


def test_the_settings_page_says_so_and_an_explicit_choice_wins(make_sqlite_app):
    app = make_sqlite_app(setup=layout, PRIVACY_COOKIES=COOKIES)
    client = app.test_client()
    settings = client.get("/privacy/cookies?lang=en", headers=GPC).get_data(as_text=True)
    assert "Your browser sends the Global Privacy Control signal. We honour it" in settings
    assert 'name="type" value="analytic"' in settings  # still a choice to make
    chosen = client.post("/privacy/cookies", data={"choice": "all"},
                         headers={**GPC, "Sec-Fetch-Site": "same-origin"})
    assert chosen.status_code == 303
    assert records(app) == 1
    # The visitor's own yes counts from now on, signal or not.
    assert "[analytics]" in client.get("/", headers=GPC).get_data(as_text=True)
    settings = client.get("/privacy/cookies?lang=en", headers=GPC).get_data(as_text=True)
    assert "Your browser sends the Global Privacy Control signal" not in settings


def test_the_well_known_file_says_the_signal_is_honoured(make_sqlite_app):
    app = make_sqlite_app(PRIVACY_POLICY_VERSIONS=[{"version": "2", "effective": "2024-05-12"}])
    answer = app.test_client().get("/.well-known/gpc.json")
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    assert answer.get_json() == {"gpc": True, "lastUpdate": "2024-05-12"}


def test_a_hosts_own_well_known_file_is_left_alone(make_sqlite_app):
    def own(app, db, privacy):
        app.add_url_rule("/.well-known/gpc.json", "own_gpc", lambda: {"gpc": False})

    app = make_sqlite_app(setup=own)
    assert app.test_client().get("/.well-known/gpc.json").get_json() == {"gpc": False}


def test_the_record_states_the_signal_from_the_same_settings(make_sqlite_app):
    app = make_sqlite_app(PRIVACY_COOKIES=COOKIES)
    english = app.test_cli_runner().invoke(args=["privacy", "record", "--language", "en"])
    assert "## Cookie choices" in english.output
    assert "Global Privacy Control signal (Sec-GPC) is honoured" in english.output
    dutch = app.test_cli_runner().invoke(args=["privacy", "record", "--language", "nl"])
    assert "Global Privacy Control-signaal van een browser (Sec-GPC) wordt gerespecteerd" \
        in dutch.output
    # Without optional cookies there is nothing to honour, and the record says nothing.
    plain = make_sqlite_app()
    assert "Cookie choices" not in plain.test_cli_runner().invoke(
        args=["privacy", "record"]).output
