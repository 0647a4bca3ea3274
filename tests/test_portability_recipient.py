"""Portability to an organisation (GDPR art. 20(2)): on a confirmed portability
request's page the person names an organisation's address; the organisation is
mailed a single-use link to the export (never the data), the person a notice.

Each story runs on SQLite, PostgreSQL and MariaDB (``make_app`` over ``database``),
with mail through the real SMTP inbox."""

from __future__ import annotations

import io
import json
import re
import zipfile
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from itsdangerous.timed import TimestampSigner

from .conftest import Inbox, csrf_token, wait_for_delivery

ANA = "ana@example.nl"
ORG = "intake@nieuwe-bank.example"
MESSAGE = "Kunt u een offerte maken voor een webshop met iDEAL?"
REFERER = {"Referer": "https://webence.test/privacy/request"}


@pytest.fixture
def site(make_app):
    return make_app(PRIVACY_ADMIN_CHECK=lambda: True)


def _seed(app) -> None:
    state = app.extensions["webence_privacy"]
    with app.app_context():
        state.db.session.add(state.models.ContactMessage(
            name="Ana de Vries", email=ANA, purpose="quote", retention_category="default",
            message=MESSAGE, language="en", policy_version="1"))
        state.db.session.commit()


def _token(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def _verified_portability(site, inbox):
    """Ana files a portability request, opens the mailed link and confirms it."""
    _seed(site)
    client = site.test_client()
    client.post("/privacy/request", headers=REFERER, data={
        "csrf_token": csrf_token(client, "/privacy/request"), "email": ANA,
        "kind": "portability"})
    mail = inbox.wait_to(ANA)[-1]
    link = urlsplit(next(u for u in Inbox.links(mail) if "/privacy/request/" in u)).path
    page = client.get(link)
    assert client.post(link, data={"csrf_token": _token(page.get_data(as_text=True)),
                                   "action": "verify"}).status_code == 303
    wait_for_delivery(site)
    inbox.clear()
    return client, link


def _name(client, link, recipient):
    token = _token(client.get(link).get_data(as_text=True))
    return client.post(link, data={"csrf_token": token, "action": "send",
                                   "recipient": recipient})


def _request_row(site):
    state = site.extensions["webence_privacy"]
    with site.app_context():
        row = state.db.session.scalars(sa.select(state.models.DataRequest)).one()
        state.db.session.expunge(row)
        return row


def test_the_organisation_downloads_the_export_once(site, inbox):
    client, link = _verified_portability(site, inbox)
    page = client.get(link).get_data(as_text=True)
    assert 'name="recipient"' in page

    response = _name(client, link, "  Intake@Nieuwe-Bank.example ")
    assert response.status_code == 303
    row = _request_row(site)
    assert row.recipient == ORG and row.recipient_at is not None
    assert row.status == "verified" and row.recipient_downloaded_at is None
    assert row.recipient_token_hash and len(row.recipient_token_hash) == 64

    # The organisation's mail: a link, none of the data.
    org_mail = inbox.wait_to(ORG)[-1]
    body = Inbox.text(org_mail) + Inbox.html(org_mail)
    for secret in (MESSAGE, "Ana de Vries", ANA):
        assert secret not in body
    url = next(u for u in Inbox.links(org_mail) if "/privacy/portability/" in u)
    assert urlsplit(url).path.rsplit("/", 1)[1] not in row.recipient_token_hash

    # The person's notice names the recipient.
    notice = inbox.wait_to(ANA)[-1]
    assert ORG in Inbox.text(notice) and ORG in str(notice["Subject"])

    # The organisation opens the link (nothing is spent) and downloads once.
    org = site.test_client()
    landing = org.get(urlsplit(url).path)
    assert landing.status_code == 200 and MESSAGE not in landing.get_data(as_text=True)
    assert org.get(urlsplit(url).path).status_code == 200
    download = org.post(urlsplit(url).path, data={
        "csrf_token": _token(landing.get_data(as_text=True)), "format": "json"})
    assert download.status_code == 200
    assert download.headers["Content-Disposition"] == 'attachment; filename="privacy-export.json"'
    data = json.loads(download.data)
    messages = next(s for s in data["sources"] if s["source"] == "ContactMessage")
    assert messages["records"][0]["message"] == MESSAGE

    row = _request_row(site)
    assert row.status == "completed" and row.recipient_downloaded_at is not None
    assert row.completed_at is not None

    # A second use is refused, as a page that says so; no data.
    again = org.post(urlsplit(url).path + "?lang=en", data={
        "csrf_token": _token(landing.get_data(as_text=True)), "format": "zip"})
    assert again.status_code == 410
    assert "already been used" in again.get_data(as_text=True)
    assert MESSAGE not in again.get_data(as_text=True)
    assert org.get(urlsplit(url).path).status_code == 410

    # The person's page says the organisation has it, and offers no second send.
    page = client.get(link + "?lang=en").get_data(as_text=True)
    assert f"{ORG} downloaded your data" in page and 'name="recipient"' not in page


def test_the_zip_downloads_too(site, inbox):
    client, link = _verified_portability(site, inbox)
    assert _name(client, link, ORG).status_code == 303
    url = urlsplit(next(u for u in Inbox.links(inbox.wait_to(ORG)[-1])
                        if "/privacy/portability/" in u)).path
    org = site.test_client()
    response = org.post(url, data={"csrf_token": _token(org.get(url).get_data(as_text=True)),
                                   "format": "zip"})
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert {"index.html", "export.json", "ContactMessage.csv"} <= set(archive.namelist())


@pytest.mark.parametrize("recipient", ["not an address", "intake@", "a\r\nBcc: x@example.org",
                                       ""])
def test_a_recipient_that_is_not_an_address_is_refused(site, inbox, recipient):
    client, link = _verified_portability(site, inbox)
    response = _name(client, link, recipient)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    # The message stands beside the field, which keeps its name.
    assert 'id="recipient-error"' in html and 'name="recipient"' in html
    row = _request_row(site)
    assert row.recipient is None and row.recipient_token_hash is None
    assert row.status == "completed"  # as verifying left it
    state = site.extensions["webence_privacy"]
    with site.app_context():
        kinds = state.db.session.scalars(sa.select(state.models.Outbox.kind)).all()
    assert not [k for k in kinds if k.startswith("portability")]


def test_a_recipient_is_named_once_per_request(site, inbox):
    client, link = _verified_portability(site, inbox)
    token = _token(client.get(link).get_data(as_text=True))
    assert _name(client, link, ORG).status_code == 303
    # The page offers no second form; a second post (a replayed one) is refused.
    assert 'name="recipient"' not in client.get(link).get_data(as_text=True)
    second = client.post(link, data={"csrf_token": token, "action": "send",
                                     "recipient": "other@example.org"})
    assert second.status_code == 409
    assert _request_row(site).recipient == ORG


def test_the_organisations_link_expires(site, inbox, monkeypatch):
    client, link = _verified_portability(site, inbox)
    assert _name(client, link, ORG).status_code == 303
    url = urlsplit(next(u for u in Inbox.links(inbox.wait_to(ORG)[-1])
                        if "/privacy/portability/" in u)).path
    max_age = site.extensions["webence_privacy"].settings.token_max_age
    later = TimestampSigner.get_timestamp(None) + max_age + 60  # type: ignore[arg-type]
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: later)
    response = site.test_client().get(url)
    assert response.status_code == 410
    assert _request_row(site).recipient_downloaded_at is None


def test_a_request_link_is_not_an_organisations_link(site, inbox):
    client, link = _verified_portability(site, inbox)
    token = link.rsplit("/", 1)[1]
    assert site.test_client().get(f"/privacy/portability/{token}").status_code == 400


def test_only_a_confirmed_portability_request_sends(site, inbox):
    _seed(site)
    client = site.test_client()
    client.post("/privacy/request", headers=REFERER, data={
        "csrf_token": csrf_token(client, "/privacy/request"), "email": ANA, "kind": "access"})
    link = urlsplit(next(u for u in Inbox.links(inbox.wait_to(ANA)[-1])
                         if "/privacy/request/" in u)).path
    token = _token(client.get(link).get_data(as_text=True))
    assert client.post(link, data={"csrf_token": token, "action": "send",
                                   "recipient": ORG}).status_code == 409  # unverified
    client.post(link, data={"csrf_token": token, "action": "verify"})
    assert client.post(link, data={"csrf_token": token, "action": "send",
                                   "recipient": ORG}).status_code == 400  # access: no such act
    assert _request_row(site).recipient is None
