"""A site builder's configuration mistakes stop init_app with a message that names
the key and the value at fault; good values arrive in Settings as documented."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_webence_privacy import ConfigurationError, Privacy
from flask_webence_privacy.config import Processor, Purpose, SiteURL

REQUIRED = {
    "SECRET_KEY": "s",
    "SQLALCHEMY_DATABASE_URI": "sqlite://",
    "PRIVACY_CONTROLLER_NAME": "Webence",
    "PRIVACY_CONTACT_EMAIL": "info@webence.nl",
}


def start(production: bool = False, **config):
    """init_app on a new app; ``production``: neither debug nor testing, with its
    hash key set apart (the site's address is up to ``config``)."""
    app = Flask("site")
    app.config.update(REQUIRED)
    app.config.update({"PRIVACY_HASH_KEY": "h"} if production else {"TESTING": True})
    app.config.update(config)
    db = SQLAlchemy(app)
    Privacy(app, db=db)
    return app.extensions["webence_privacy"].settings


def refused(**config) -> str:
    with pytest.raises(ConfigurationError) as info:
        start(**config)
    return str(info.value)


# -- PRIVACY_SITE_URL ---------------------------------------------------------------


@pytest.mark.parametrize("value", [
    "www.example.com",                    # no scheme
    "ftp://www.example.com",              # not http(s)
    "https:www.example.com",
    "https://",                           # no host
    "https:///shop",
    "https://user:secret@www.example.com",
    "https://www.example.com/?utm=1",
    "https://www.example.com/#top",
    "https://www.example.com?",
    "https://www.exa mple.com",
    "https://www.example.com:99999",
    "https://www.example.com:http",
    "https://exämple.com",
    "https://-bad-.example.com",
    "https://www.example.com\r\nX-Injected: 1",
    42,
])
def test_a_bad_site_url_is_refused_naming_key_and_value(value):
    message = refused(PRIVACY_SITE_URL=value)
    assert message.startswith("PRIVACY_SITE_URL")
    assert repr(value) in message


@pytest.mark.parametrize(("value", "parsed", "base"), [
    ("https://www.example.com", SiteURL("https", "www.example.com", ""),
     "https://www.example.com"),
    ("https://www.example.com/", SiteURL("https", "www.example.com", ""),
     "https://www.example.com"),
    ("https://www.example.com/shop/", SiteURL("https", "www.example.com", "/shop"),
     "https://www.example.com/shop"),
    ("HTTP://Shop.Example.COM:8080/a/b", SiteURL("http", "shop.example.com:8080", "/a/b"),
     "http://shop.example.com:8080/a/b"),
    ("http://[::1]:5000", SiteURL("http", "[::1]:5000", ""), "http://[::1]:5000"),
    ("https://xn--exmple-cua.com", SiteURL("https", "xn--exmple-cua.com", ""),
     "https://xn--exmple-cua.com"),
])
def test_a_site_url_is_parsed_into_its_parts(value, parsed, base):
    site = start(PRIVACY_SITE_URL=value).site_url
    assert site == parsed
    assert site.base == base


def test_outside_debug_and_testing_the_site_url_or_server_name_is_required():
    message = refused(production=True)
    assert message.startswith("PRIVACY_SITE_URL is required outside debug and testing")
    assert "SERVER_NAME" in message
    # Flask 3.0 does not enforce TRUSTED_HOSTS: it is no address to build links from.
    assert refused(production=True, TRUSTED_HOSTS=["www.webence.nl"]).startswith(
        "PRIVACY_SITE_URL is required")
    assert start(production=True, PRIVACY_SITE_URL="https://www.webence.nl").site_url.base == (
        "https://www.webence.nl")
    assert start(production=True, SERVER_NAME="www.webence.nl").site_url is None
    assert start(DEBUG=True, TESTING=False).site_url is None


# -- PRIVACY_CSP --------------------------------------------------------------------


@pytest.mark.parametrize(("value", "named"), [
    ("style-src https://cdn.example.com", "'style-src https://cdn.example.com'"),
    ({"script-scr": ["https://cdn.example.com"]}, "'script-scr'"),
    ({"sandbox": ["allow-forms"]}, "'sandbox'"),
    ({"style-src": "https://cdn.example.com"}, "'https://cdn.example.com'"),
    ({"style-src": [""]}, "''"),
    ({"style-src": ["https://a.example https://b.example"]}, "'https://a.example https://b.example'"),
    ({"style-src": ["https://a.example;"]}, "'https://a.example;'"),
    ({"img-src": ["https://a.example,https://b.example"]}, "'https://a.example,https://b.example'"),
    ({"font-src": ["https://a.example\nscript-src *"]}, "script-src *"),
    ({"font-src": [None]}, "None"),
])
def test_a_malformed_csp_is_refused_naming_key_and_value(value, named):
    message = refused(PRIVACY_CSP=value)
    assert message.startswith("PRIVACY_CSP")
    assert named in message


@pytest.mark.parametrize("directive", ["script-src", "default-src", "script-src-elem"])
@pytest.mark.parametrize("source", [
    "'unsafe-inline'", "'UNSAFE-INLINE'", "'unsafe-eval'", "'unsafe-hashes'", "'strict-dynamic'",
    "*", "data:", "http:", "https:", "https://*", "*:443", "'nonce-abc123'",
])
def test_nothing_that_lets_any_script_run_is_accepted(directive, source):
    message = refused(PRIVACY_CSP={"style-src": ["https://cdn.example.com"],
                                   directive: ["https://cdn.example.com", source]})
    assert message.startswith(f"PRIVACY_CSP[{directive!r}]")
    assert repr(source) in message


def test_a_sites_extra_sources_arrive_per_directive():
    csp = start(PRIVACY_CSP={
        "style-src": ["https://cdn.jsdelivr.net", "'unsafe-inline'", "https://cdn.jsdelivr.net"],
        "Font-Src": ("https://fonts.gstatic.com",),
        "script-src": ["https://cdn.jsdelivr.net", "'sha256-abc='", "'self'"],
        "img-src": ["data:", "https:"],
    }).csp
    assert csp == {
        "style-src": ("https://cdn.jsdelivr.net", "'unsafe-inline'"),
        "font-src": ("https://fonts.gstatic.com",),
        "script-src": ("https://cdn.jsdelivr.net", "'sha256-abc='", "'self'"),
        "img-src": ("data:", "https:"),
    }


# -- the other keys -------------------------------------------------------------------


@pytest.mark.parametrize(("config", "named"), [
    ({"PRIVACY_PURPOSES": [{"label": "Invoicing", "descripton": "x"}]},
     "PRIVACY_PURPOSES[0] has unknown key(s) 'descripton'"),
    ({"PRIVACY_PURPOSES": [{"label": 5}]}, "PRIVACY_PURPOSES[0]['label']"),
    ({"PRIVACY_PURPOSES": [{"label": "x"}, {"label": "y", "category": "forever"}]},
     "PRIVACY_PURPOSES[1] names unknown retention category 'forever'"),
    ({"PRIVACY_PURPOSES": "Invoicing"}, "PRIVACY_PURPOSES must be a list, got 'Invoicing'"),
    ({"PRIVACY_PROCESSORS": [{"name": "Host", "purpose": "Hosting",
                              "agreement_date": "May 2018"}]},
     "PRIVACY_PROCESSORS[0]['agreement_date'] must be a date (YYYY-MM-DD), got 'May 2018'"),
    ({"PRIVACY_PROCESSORS": [{"name": "", "purpose": "Hosting"}]},
     "PRIVACY_PROCESSORS[0]['name']"),
    ({"PRIVACY_COOKIES": [{"name": "session", "type": "functional"}]},
     "PRIVACY_COOKIES[0] needs a 'purpose' entry"),
    ({"PRIVACY_COOKIES": [{"name": "ga", "type": "tracking", "purpose": "x"}]},
     "PRIVACY_COOKIES[0] ('ga') has unknown type 'tracking'"),
    ({"PRIVACY_CONTACT_PURPOSES": {"order": {"label": "Order", "category": "forever"}}},
     "PRIVACY_CONTACT_PURPOSES['order'] names unknown retention category 'forever'"),
    ({"PRIVACY_CONTACT_PURPOSES": {"order": {"label": "Order", "kategory": "default"}}},
     "PRIVACY_CONTACT_PURPOSES['order'] has unknown key(s) 'kategory'"),
    ({"PRIVACY_DATA_CATEGORIES": ["Name", 3]}, "PRIVACY_DATA_CATEGORIES[1]"),
    ({"PRIVACY_POLICY_INTRO": {"en": 3}}, "PRIVACY_POLICY_INTRO"),
    ({"PRIVACY_VISIT_LOG": "yes"}, "PRIVACY_VISIT_LOG must be True or False, got 'yes'"),
    ({"PRIVACY_NOTIFY_EMAIL": "maintainer"}, "PRIVACY_NOTIFY_EMAIL is not an e-mail address: "
                                             "'maintainer'"),
    ({"PRIVACY_MAIL_SENDER": "Webence"}, "PRIVACY_MAIL_SENDER must be an address"),
    ({"PRIVACY_RATELIMIT_STORAGE_URI": "redis"}, "PRIVACY_RATELIMIT_STORAGE_URI must be a "
                                                 "storage URI"),
    ({"PRIVACY_TOKEN_MAX_AGE": 10}, "PRIVACY_TOKEN_MAX_AGE must be an integer >= 60, got 10"),
    ({"PRIVACY_MAIL_TIMEOUT": 0}, "PRIVACY_MAIL_TIMEOUT must be a number of seconds > 0, got 0"),
    ({"PRIVACY_MAIL_DISPATCH": "later"}, "PRIVACY_MAIL_DISPATCH must be"),
    ({"PRIVACY_PROOF_RETENTION": "forever"}, "PRIVACY_PROOF_RETENTION names unknown retention "
                                             "category 'forever'"),
    ({"PRIVACY_BASE_TEMPLATE": ""}, "PRIVACY_BASE_TEMPLATE must be a non-empty string, got ''"),
    ({"PRIVACY_DEFAULT_LANGUAGE": "de"}, "PRIVACY_DEFAULT_LANGUAGE must be one of "
                                         "PRIVACY_LANGUAGES, got 'de'"),
    ({"PRIVACY_NEWSLETTER_RATE_LIMIT": ""}, "PRIVACY_NEWSLETTER_RATE_LIMIT must be a limit"),
])
def test_a_bad_value_is_refused_naming_key_and_value(config, named):
    assert named in refused(**config)


def test_a_hash_key_of_the_wrong_type_is_refused_without_repeating_it():
    message = refused(PRIVACY_HASH_KEY=918273645)
    assert message.startswith("PRIVACY_HASH_KEY must be a string or bytes")
    assert "918273645" not in message


def test_good_nested_values_arrive_typed():
    settings = start(
        PRIVACY_PURPOSES=[{"label": "Invoicing", "description": "", "category": "customer"}],
        PRIVACY_PROCESSORS=[{"name": "Host", "purpose": {"en": "Hosting"},
                             "agreement_date": dt.date(2018, 5, 1), "location": "NL"}],
        PRIVACY_MAIL_SENDER=("Webence", "noreply@webence.nl"),
    )
    assert settings.purposes == (Purpose(label="Invoicing", category="customer"),)
    assert settings.processors == (Processor(name="Host", purpose={"en": "Hosting"},
                                             location="NL", agreement_date=dt.date(2018, 5, 1)),)
    assert settings.mail_sender == ("Webence", "noreply@webence.nl")
