"""Every value a person reads is a label in their language (issue 12, item 1).

The data page of an access request, the admin, the maintainer's mail and the
CLI show kinds, statuses, field names, stored values and dates as words in
the reader's language, never the raw column names and codes; a host model's
labels come from its registration. Each story runs on every database.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import re
import zipfile

import pytest
import sqlalchemy as sa

from flask_webence_privacy.config import ConfigurationError

from .conftest import Inbox, handles, host_model, wait_for_delivery
from .test_portal import confirm, file_request, mailed_link

ANA = "ana@example.nl"
#: The contact message's moment, with microseconds as the database holds them.
WRITTEN = dt.datetime(2026, 11, 26, 0, 40, 41, 28539)
#: What the issue found on the page: raw column names, codes, ISO stamps.
RAW_NAMES = ["retention_category", "created_at", "sent_at", "recipient", "request-verify", "id"]
RAW_VALUES = {"quote", "default", "True", "given", "verified", "completed", "request-verify",
              "newsletter", "confirmed", "sent", "nl"}
MICROSECONDS = re.compile(r"\d{2}:\d{2}:\d{2}\.\d+")
ISO_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:")


def _register(app, db, privacy):
    Invoice = host_model(db, "Invoice", extra_columns={
        "plan": sa.String(20), "paid": sa.Boolean, "total": sa.String(20)})
    privacy.register(
        Invoice, category="customer", editable=("plan",),
        label={"en": "Invoices", "nl": "Facturen"},
        purpose={"en": "Bookkeeping", "nl": "Boekhouding"},
        field_labels={"plan": {"en": "Plan", "nl": "Abonnement"},
                      "total": {"en": "Amount", "nl": "Bedrag"}},
        value_labels={"plan": {"basic": {"en": "Basic", "nl": "Basis"}},
                      "total": lambda value, language: f"€ {value}"})
    app.extensions["test_invoice"] = Invoice


@pytest.fixture
def site(make_app):
    return make_app(setup=_register, PRIVACY_ADMIN_CHECK=lambda: True)


def seed(app):
    db, _ = handles(app)
    models = app.extensions["webence_privacy"].models
    Invoice = app.extensions["test_invoice"]
    with app.app_context():
        db.session.add(models.ContactMessage(
            name="Ana de Vries", email=ANA, purpose="quote", retention_category="default",
            message="Graag een offerte.", language="nl", policy_version="1", created_at=WRITTEN))
        db.session.add(models.Subscriber(email=ANA, status="confirmed", language="nl",
                                         confirmed_at=WRITTEN))
        db.session.add(models.ConsentRecord(
            email=ANA, purpose="newsletter", action="given", wording="Ja, graag",
            wording_hash="0" * 64, policy_version="1", form="newsletter", age_confirmed=True,
            created_at=WRITTEN))
        db.session.add(Invoice(email=ANA, plan="basic", paid=True, total="120,00"))
        db.session.commit()


def visible(body: str) -> str:
    """The page's text as read: tags gone, entities decoded, spaces collapsed."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def access_page(site, inbox):
    client = site.test_client()
    assert file_request(client, ANA, "access").status_code in (200, 303)
    link = mailed_link(inbox)
    assert confirm(client, link).status_code == 303
    wait_for_delivery(site)
    return client, link


def test_the_data_page_reads_in_words_in_dutch_and_english(site, inbox):
    seed(site)
    client, link = access_page(site, inbox)
    nl = client.get(f"{link}?lang=nl").get_data(as_text=True)
    en = client.get(f"{link}?lang=en").get_data(as_text=True)
    for body in (nl, en):
        words = visible(body).split()
        assert not [raw for raw in RAW_NAMES if raw in words]
        cells = set(re.findall(r"<t[hd][^>]*>([^<]*)</t[hd]>", body))
        assert not cells & RAW_VALUES
        assert not MICROSECONDS.search(body) and not ISO_STAMP.search(body)
    text_nl, text_en = visible(nl), visible(en)
    # Field labels and values, the package's own and the host's registration's.
    for words in ("Vermelding 1 van 1", "Onderwerp van uw bericht Een offerteaanvraag",
                  "Datum 26 november 2026, 00:40", "Taal Nederlands",
                  "Toestemming Gegeven", "Leeftijd bevestigd Ja",
                  "Toestemming voor Nieuwsbrief", "Status Ingeschreven",
                  "Welke e-mail Privacyverzoek: bevestig uw verzoek", "Status Verzonden",
                  "Verzoek Uw gegevens inzien", "Status Afgerond",
                  "Abonnement Basis", "Bedrag € 120,00", "paid Ja"):
        assert words in text_nl, words
    assert "Gegeven 1 van" not in text_nl
    for words in ("Entry 1 of 1", "Subject of your message A quote request",
                  "Language Dutch", "Consent Given", "Age confirmed Yes",
                  "Which mail Privacy request: confirm your request", "Status Sent",
                  "Request See your data", "Status Completed", "Plan Basic", "Amount € 120,00"):
        assert words in text_en, words
    assert re.search(r"Date November 26, 2026, 12:40\s?AM", text_en.replace("\u202f", " "))
    # The ZIP's readable index reads as the page does.
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"{link}/export.zip?lang=nl").data))
    index = archive.read("index.html").decode()
    assert "Bedrag € 120,00" in visible(index) and "Vermelding 1 van 1" in visible(index)
    assert not MICROSECONDS.search(index) and not ISO_STAMP.search(index)
    # export.json keeps the stored values, for machines.
    data = client.get(f"{link}/export.json").get_json()
    invoice = next(s for s in data["sources"] if s["source"] == "Invoice")
    assert invoice["records"][0]["plan"] == "basic" and invoice["records"][0]["paid"] is True


def test_the_correction_and_withdrawal_forms_name_fields_and_consents_in_words(site, inbox):
    seed(site)
    client = site.test_client()
    assert file_request(client, ANA, "rectification").status_code in (200, 303)
    fix = mailed_link(inbox)
    assert confirm(client, fix).status_code == 303
    wait_for_delivery(site)
    inbox.clear()
    assert file_request(client, ANA, "withdraw").status_code in (200, 303)
    withdraw = mailed_link(inbox)
    assert confirm(client, withdraw).status_code == 303
    for lang, fields, consent in (("nl", ("Naam", "Telefoonnummer", "Bedrijf", "Abonnement"),
                                   "Nieuwsbrief (gegeven op 26 november 2026)"),
                                  ("en", ("Name", "Phone number", "Company", "Plan"),
                                   "Newsletter (given on November 26, 2026)")):
        form = client.get(f"{fix}?lang={lang}").get_data(as_text=True)
        labels = re.findall(r'<label for="fix-[^"]+">([^<]*)</label>', form)
        assert set(labels) == set(fields), labels
        page = client.get(f"{withdraw}?lang={lang}").get_data(as_text=True)
        boxes = [visible(x) for x in re.findall(r'<label for="purpose-\d+">(.*?)</label>', page)]
        assert boxes == [consent]


def confirmed_request_notice(site, inbox, kind: str):
    """Ana files and confirms a request of ``kind``: the maintainer's mail about it."""
    client = site.test_client()
    assert file_request(client, ANA, kind).status_code in (200, 303)
    link = mailed_link(inbox)
    inbox.clear()
    assert confirm(client, link).status_code == 303
    wait_for_delivery(site)
    return client, inbox.wait_to("info@webence.nl")[-1]


def test_the_admin_and_the_maintainers_mail_show_labels(site, inbox):
    client, notify = confirmed_request_notice(site, inbox, "erasure")
    assert str(notify["Subject"]) == "Privacyverzoek bevestigd: Uw gegevens laten verwijderen (#1)"
    assert "erasure" not in Inbox.text(notify)
    index = visible(client.get("/privacy/admin/?lang=nl").get_data(as_text=True))
    assert "Uw gegevens laten verwijderen Bevestigd, in behandeling" in index
    assert "verified" not in index and "erasure" not in index
    detail = client.get("/privacy/admin/requests/1?lang=nl").get_data(as_text=True)
    assert "Wat er is gedaan" in detail and "(optioneel) (optioneel)" not in visible(detail)
    assert "Status Bevestigd, in behandeling" in visible(detail)
    assert not MICROSECONDS.search(detail)
    detail_en = visible(client.get("/privacy/admin/requests/1?lang=en").get_data(as_text=True))
    assert "Request 1: Erase your data" in detail_en
    assert "Status Confirmed, being handled" in detail_en
    assert "What was done (optional)" in detail_en
    # The CLI lists the same labels (in English, as all its output).
    result = site.test_cli_runner().invoke(args=["privacy", "requests"])
    assert result.exit_code == 0
    assert "#1\tErase your data\tConfirmed, being handled\tdue " in result.output


def test_the_maintainers_subject_follows_the_sites_language(make_app, inbox):
    site = make_app(setup=_register, PRIVACY_ADMIN_CHECK=lambda: True,
                    PRIVACY_DEFAULT_LANGUAGE="en")
    _, notify = confirmed_request_notice(site, inbox, "objection")
    assert str(notify["Subject"]) == "Privacy request confirmed: Object to processing (#1)"


@pytest.mark.parametrize("options, says", [
    ({"field_labels": {"nope": "Nee"}}, "field_labels='nope' is not a column of invoice"),
    ({"value_labels": {"plan": ["basic"]}}, "value_labels['plan'] must be a mapping"),
    ({"value_labels": {"missing": {"a": "b"}}}, "value_labels='missing' is not a column"),
])
def test_a_label_for_a_column_that_is_not_there_is_a_startup_error(make_app, options, says):
    def setup(app, db, privacy):
        Invoice = host_model(db, "Invoice", extra_columns={"plan": sa.String(20)})
        privacy.register(Invoice, **options)

    with pytest.raises(ConfigurationError, match=re.escape(says)):
        make_app(setup=setup)


PROCESSORS = [{"name": "Hostingpartner B.V.", "purpose": {"nl": "Hosting", "en": "Hosting"},
               "agreement_date": dt.date(2018, 5, 12)}]


def test_the_privacy_page_dates_and_addresses(make_app):
    site = make_app(PRIVACY_PROCESSORS=PROCESSORS,
                    PRIVACY_POLICY_INTRO={"nl": "Vragen? Schrijf naar privacy@webence.nl.",
                                          "en": "Questions? Write to privacy@webence.nl."},
                    PRIVACY_POLICY_VERSIONS=[{"version": "2", "effective": "2018-05-12"}])
    client = site.test_client()
    for language, date in (("en", "May 12, 2018"), ("nl", "12 mei 2018")):
        body = client.get(f"/privacy/?lang={language}").get_data(as_text=True)
        text = visible(body)
        # Every date reads the same way; no ISO date beside a written one.
        assert text.count(date) >= 2, language
        assert "2018-05-12" not in text
        # Every address on the page is a link that writes to it.
        addresses = re.findall(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", text)
        links = re.findall(r'<a href="mailto:([^"]+)">\1</a>', body)
        assert len(addresses) >= 4 and len(links) == len(addresses), (addresses, links)
