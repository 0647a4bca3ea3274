"""Each PRIVACY_* key is declared once (config.KEYS): the README's table, the
Settings a site gets and the warning about unknown keys all follow from it."""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
import logging
from pathlib import Path

from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_webence_privacy import Privacy
from flask_webence_privacy.config import (
    KEYS,
    ContactPurpose,
    CookieSpec,
    NewsletterSettings,
    Processor,
    Purpose,
    Settings,
    reference_table,
)
from scripts.settings_table import table_span

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_rows() -> dict[str, tuple[str, str]]:
    """The README's configuration reference: key -> (default column, meaning)."""
    text = README.read_text(encoding="utf-8")
    start, end = table_span(text)
    rows = {}
    for line in text[start:end].splitlines()[2:]:
        key, default, meaning = (cell.strip() for cell in line.strip("|").split(" | ", 2))
        rows[key.strip("`")] = (default, meaning)
    return rows


def start(**config):
    app = Flask("site")
    app.config.update(TESTING=True, SECRET_KEY="s", SQLALCHEMY_DATABASE_URI="sqlite://",
                      PRIVACY_CONTROLLER_NAME="Webence", PRIVACY_CONTACT_EMAIL="info@webence.nl")
    app.config.update(config)
    Privacy(app, db=SQLAlchemy(app))
    return app.extensions["webence_privacy"].settings


def test_the_readme_table_is_the_declared_one():
    text = README.read_text(encoding="utf-8")
    start_, end = table_span(text)
    # On a difference: python -m scripts.settings_table writes the table again.
    assert text[start_:end] == reference_table()


def test_the_readme_lists_exactly_the_declared_keys_with_their_defaults():
    rows = readme_rows()
    assert list(rows) == [k.key for k in KEYS]
    for key in KEYS:
        default, meaning = rows[key.key]
        assert meaning and "\n" not in key.doc
        if key.shown_default is None:
            # A default written as Python means what the declaration holds.
            assert ast.literal_eval(default.strip("`")) == key.default, key.key
        else:
            assert default == key.shown_default


def test_settings_has_one_attribute_per_declared_key():
    declared = [k.attr for k in KEYS]
    assert len(set(declared)) == len(declared)
    own = [f.name for f in dataclasses.fields(Settings) if f.name != "newsletter"]
    assert sorted(own) == sorted(a for a in declared if "." not in a)
    grouped = [f.name for f in dataclasses.fields(NewsletterSettings)]
    assert sorted(f"newsletter.{name}" for name in grouped) == sorted(
        a for a in declared if a.startswith("newsletter."))


def test_the_defaults_give_working_settings():
    settings = start()
    assert settings.url_prefix == "/privacy"
    assert settings.site_url is None and settings.csp == {}
    assert settings.newsletter.rate_limit == "10 per hour"
    assert settings.contact_purposes["quote"] == ContactPurpose(
        name="quote", label={"nl": "Een offerteaanvraag", "en": "A quote request"})
    assert settings.proof_retention.name == "default"


def test_a_default_is_the_apps_own_copy():
    app = Flask("site")
    app.config.update(TESTING=True, SECRET_KEY="s", SQLALCHEMY_DATABASE_URI="sqlite://",
                      PRIVACY_CONTROLLER_NAME="Webence", PRIVACY_CONTACT_EMAIL="info@webence.nl")
    Privacy(app, db=SQLAlchemy(app))
    app.config["PRIVACY_RETENTION"]["default"]["years"] = 3
    assert start().retention["default"].years == 1


def test_nested_settings_are_typed_objects():
    settings = start(
        PRIVACY_PURPOSES=[{"label": {"nl": "Factureren", "en": "Invoicing"},
                           "category": "customer", "source": "Subscriber"}],
        PRIVACY_PROCESSORS=[{"name": "Mailhost BV", "purpose": "Mail",
                             "agreement_date": "2018-05-01"}],
        PRIVACY_COOKIES=[{"name": "session", "type": "functional", "purpose": "Session",
                          "duration": {"en": "a day"}}],
    )
    assert settings.purposes == (Purpose(label={"nl": "Factureren", "en": "Invoicing"},
                                         category="customer", source="Subscriber"),)
    assert settings.processors == (Processor(name="Mailhost BV", purpose="Mail",
                                             agreement_date=dt.date(2018, 5, 1)),)
    assert settings.cookies == (CookieSpec(name="session", type="functional",
                                           purpose="Session", duration={"en": "a day"}),)


def test_every_declared_key_is_known_and_a_misspelt_one_is_named(caplog):
    with caplog.at_level(logging.WARNING, logger="flask_webence_privacy"):
        start(**{k.key: k.default for k in KEYS if k.default is not None},
              PRIVACY_SITE_URLS="https://www.webence.nl")
    unknown = [r.getMessage().split()[0] for r in caplog.records
               if "is not a setting" in r.getMessage()]
    assert unknown == ["PRIVACY_SITE_URLS"]
