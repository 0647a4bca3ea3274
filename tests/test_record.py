"""The record of processing activities (GDPR art. 30), printed from the registry."""

from __future__ import annotations

import json

from flask_webence_privacy import record
from tests.conftest import handles, host_model

CONFIG = {
    "PRIVACY_CONTROLLER_ADDRESS": "Voorbeeldstraat 1, Utrecht",
    "PRIVACY_PURPOSES": [{"label": {"en": "Invoicing", "nl": "Facturatie"}, "category": "customer"}],
    "PRIVACY_DATA_CATEGORIES": [{"en": "Name and address", "nl": "Naam en adres"}],
    "PRIVACY_PROCESSORS": [{"name": "Mailhost BV", "purpose": {"en": "Sending mail"},
                            "location": "EU", "agreement_date": "2024-03-01"}],
    "PRIVACY_SECURITY_MEASURES": ["TLS on every page"],
}


def with_invoices(app, db, privacy):
    Invoice = host_model(db, "Invoice", table="host_invoice",
                         extra_columns={"amount": db.Integer})
    privacy.register(Invoice, category="customer", purpose="Bookkeeping duty (7 years)",
                     label="Invoices")


def test_the_record_lists_every_registered_source_with_its_period(make_app):
    app = make_app(setup=with_invoices, **CONFIG)
    with app.app_context():
        data = record.build(app.extensions["webence_privacy"])
        names = [a["name"] for a in data["activities"]]
        assert names == [s.name for s in handles(app)[1].sources]
    invoices = next(a for a in data["activities"] if a["name"] == "Invoice")
    assert invoices["retention"] == "7 years"
    assert invoices["erasable_on_request"] is False
    assert invoices["data_categories"] == ["id", "email", "amount", "created_at"]
    outbox = next(a for a in data["activities"] if a["name"] == "Outbox")
    assert outbox["retention"] == ("30 days after sending; mail that could not be delivered, "
                                   "30 days after it was written")
    assert data["controller"]["address"] == "Voorbeeldstraat 1, Utrecht"
    assert data["processors"][0]["name"] == "Mailhost BV"
    assert "TLS on every page" in data["security_measures"]
    assert data["purposes"][0] == {"label": "Invoicing", "description": "",
                                   "retention_category": "customer", "retention": "7 years"}


def test_flask_privacy_record_prints_markdown_and_json(make_app):
    app = make_app(setup=with_invoices, PRIVACY_VISIT_LOG=True, **CONFIG)
    runner = app.test_cli_runner()
    markdown = runner.invoke(args=["privacy", "record"])
    assert markdown.exit_code == 0, markdown.output
    assert markdown.output.startswith("# Record of processing activities (GDPR art. 30)")
    assert "| Invoices (`host_invoice`) | Bookkeeping duty (7 years) |" in markdown.output
    assert "Visit log" in markdown.output and "Mailhost BV" in markdown.output
    as_json = runner.invoke(args=["privacy", "record", "--json"])
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.output)
    assert "VisitLog" in [a["name"] for a in data["activities"]]
    assert [c["name"] for c in data["retention_categories"]] == ["default", "customer"]


def test_the_record_in_dutch_uses_the_dutch_texts(make_app):
    app = make_app(**CONFIG)
    output = app.test_cli_runner().invoke(args=["privacy", "record", "--language", "nl"]).output
    assert "Facturatie" in output and "7 jaar" in output
