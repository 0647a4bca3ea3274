"""A site builder registers the extension: what they get, and the errors they see."""

from __future__ import annotations

import pytest
from flask import Flask
from flask_babel import Babel
from flask_mail import Mail
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

from flask_webence_privacy import ConfigurationError, Privacy

from .conftest import host_model

REQUIRED = {
    # A production app: not debug, not testing, its address declared, its hash key apart.
    "SERVER_NAME": "www.webence.nl",
    "PRIVACY_HASH_KEY": "h",
    "SECRET_KEY": "s",
    "SQLALCHEMY_DATABASE_URI": "sqlite://",
    "PRIVACY_CONTROLLER_NAME": "Webence",
    "PRIVACY_CONTACT_EMAIL": "info@webence.nl",
}


def build(**config):
    app = Flask("site")
    app.config.update(REQUIRED)
    app.config.update(config)
    db = SQLAlchemy(app)
    privacy = Privacy()
    privacy.init_app(app, db=db)
    return app, db, privacy


def test_state_lives_in_app_extensions():
    app, db, privacy = build()
    state = app.extensions["webence_privacy"]
    assert state.privacy is privacy
    assert state.db is db
    assert app.config["PRIVACY_URL_PREFIX"] == "/privacy"
    assert app.config["PRIVACY_MIN_CONSENT_AGE"] == 16
    assert app.config["PRIVACY_REQUEST_DEADLINE_DAYS"] == 28
    assert {"mail", "babel"} <= set(app.extensions)
    # CSRF on the package's own forms only: no site-wide CSRFProtect appears.
    assert "csrf" not in app.extensions


def test_constructor_with_app_registers_at_once():
    app = Flask("site")
    app.config.update(REQUIRED)
    db = SQLAlchemy(app)
    privacy = Privacy(app, db=db)
    assert app.extensions["webence_privacy"].privacy is privacy


def test_second_registration_is_an_error():
    app, db, privacy = build()
    with pytest.raises(RuntimeError, match="already registered"):
        privacy.init_app(app, db=db)
    with pytest.raises(RuntimeError, match="already registered"):
        Privacy().init_app(app, db=db)


@pytest.mark.parametrize("key", ["PRIVACY_CONTROLLER_NAME", "PRIVACY_CONTACT_EMAIL"])
def test_missing_required_key_is_named(key):
    app = Flask("site")
    app.config.update({k: v for k, v in REQUIRED.items() if k != key})
    db = SQLAlchemy(app)
    with pytest.raises(ConfigurationError, match=key):
        Privacy(app, db=db)
    assert "webence_privacy" not in app.extensions


@pytest.mark.parametrize(
    ("retention", "named"),
    [
        ({"default": {"weeks": 2}}, "unknown key.*weeks"),
        ({"default": {"years": -1}}, r"\['default'\]\['years'\] must not be negative"),
        ({"default": {"years": "one"}}, r"\['years'\] must be an integer"),
        ({"default": {"years": 0}}, "longer than zero"),
        ({"customer": {"years": 7}}, "'default' category"),
        ({"default": {"years": 1}, "customer": {"years": 7, "erasable": "no"}}, "erasable"),
        ("7 years", "PRIVACY_RETENTION must be a non-empty mapping"),
    ],
)
def test_malformed_retention_names_the_key(retention, named):
    with pytest.raises(ConfigurationError, match="PRIVACY_RETENTION") as info:
        build(PRIVACY_RETENTION=retention)
    assert info.match(named)


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"PRIVACY_MIN_CONSENT_AGE": "16"}, "PRIVACY_MIN_CONSENT_AGE"),
        ({"PRIVACY_REQUEST_DEADLINE_DAYS": 0}, "PRIVACY_REQUEST_DEADLINE_DAYS"),
        ({"PRIVACY_URL_PREFIX": "privacy"}, "PRIVACY_URL_PREFIX"),
        ({"PRIVACY_ADMIN_CHECK": True}, "PRIVACY_ADMIN_CHECK"),
        ({"PRIVACY_CONTACT_EMAIL": "info\r\nBcc: x@y.z"}, "PRIVACY_CONTACT_EMAIL"),
        ({"PRIVACY_POLICY_VERSIONS": [{"version": "1", "effective": "12-05-2018"}]},
         r"PRIVACY_POLICY_VERSIONS\[0\]\['effective'\]"),
        ({"PRIVACY_PURPOSES": [{"label": "x", "category": "forever"}]}, "PRIVACY_PURPOSES"),
        ({"PRIVACY_PROCESSORS": [{"name": "Host"}]}, "PRIVACY_PROCESSORS"),
    ],
)
def test_malformed_settings_name_the_key(config, named):
    with pytest.raises(ConfigurationError, match=named):
        build(**config)


def test_outside_debug_and_testing_the_site_must_declare_its_address():
    with pytest.raises(ConfigurationError, match="^PRIVACY_SITE_URL is required.*SERVER_NAME"):
        build(SERVER_NAME=None)
    # TRUSTED_HOSTS alone does not do: Flask 3.0 does not enforce it.
    with pytest.raises(ConfigurationError, match="PRIVACY_SITE_URL"):
        build(SERVER_NAME=None, TRUSTED_HOSTS=["www.webence.nl"])
    # Either PRIVACY_SITE_URL or SERVER_NAME will do; in debug mode neither is needed.
    assert build(SERVER_NAME=None, PRIVACY_SITE_URL="https://www.webence.nl")[0]
    assert build(SERVER_NAME=None, DEBUG=True)[0]


def test_outside_debug_and_testing_the_hash_key_must_be_set_apart():
    with pytest.raises(ConfigurationError, match="PRIVACY_HASH_KEY is required"):
        build(PRIVACY_HASH_KEY=None)
    app, _, _ = build(PRIVACY_HASH_KEY=None, TESTING=True)  # SECRET_KEY stands in
    assert app.extensions["webence_privacy"].settings.hash_key == b"s"


def test_the_session_cookie_gets_samesite_and_secure_unless_the_host_chose():
    app, _, _ = build(PREFERRED_URL_SCHEME="https")
    assert (app.config["SESSION_COOKIE_SAMESITE"], app.config["SESSION_COOKIE_SECURE"]) == (
        "Lax", True)
    app, _, _ = build(SESSION_COOKIE_SAMESITE="Strict")
    assert (app.config["SESSION_COOKIE_SAMESITE"], app.config["SESSION_COOKIE_SECURE"]) == (
        "Strict", False)


def test_forgotten_init_app_says_so():
    app = Flask("site")
    app.config.update(REQUIRED)
    with app.app_context(), pytest.raises(RuntimeError, match="init_app"):
        Privacy().sync_policy()


def test_host_extensions_are_reused_not_replaced():
    app = Flask("site")
    app.config.update(REQUIRED)
    db = SQLAlchemy(app)
    mail, babel, csrf = Mail(app), Babel(app), CSRFProtect(app)
    Privacy(app, db=db)
    assert app.extensions["mail"] is mail.state
    assert app.extensions["babel"].instance is babel
    assert app.extensions["csrf"] is csrf


def test_unknown_category_in_a_registration_is_named():
    app = Flask("site")
    app.config.update(REQUIRED)
    db = SQLAlchemy(app)
    privacy = Privacy()
    privacy.register(host_model(db, "Invoice"), category="bookkeeping")
    with pytest.raises(ConfigurationError, match="'bookkeeping'"):
        privacy.init_app(app, db=db)


def test_registration_checks_columns():
    app = Flask("site")
    app.config.update(REQUIRED)
    db = SQLAlchemy(app)

    class Lead(db.Model):
        id = db.Column(db.Integer, primary_key=True)
        mail = db.Column(db.String(254))
        created_at = db.Column(db.DateTime)

    with pytest.raises(ConfigurationError, match="email='email' is not a column"):
        Privacy().register(Lead)
    privacy = Privacy()
    assert privacy.register(Lead, email="mail") is Lead
    # An app factory registers again for each app it builds: the same options are
    # the same registration; other ones are named.
    assert privacy.register(Lead, email="mail") is Lead
    assert [s.name for s in privacy._host_sources] == ["Lead"]
    with pytest.raises(ConfigurationError, match=r"register\(Lead\).*category='default' then "
                                                 r"'customer'"):
        privacy.register(Lead, email="mail", category="customer")
