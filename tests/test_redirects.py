"""Every successful form post answers 303 with its result page; reloading that
page sends and stores nothing again, keeps the visitor's language and shows
the same page to known and unknown addresses.

Each story counts the rows in the database and the mails in the outbox before
and after two reloads of the result page.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import sqlalchemy as sa

from flask_webence_privacy.models import utcnow

from .conftest import Inbox, csrf_token, handles, wait_for_outbox

KNOWN = "ana@example.nl"
UNKNOWN = "nobody@example.nl"


def rows(app) -> dict[str, int]:
    """How many rows each of the package's tables holds (the outbox included)."""
    db, _ = handles(app)
    models = app.extensions["webence_privacy"].models
    with app.app_context():
        return {model.__tablename__: db.session.scalar(
                    sa.select(sa.func.count()).select_from(model))
                for model in models.all()}


def target(response) -> str:
    """The path and query a 303 points to."""
    assert response.status_code == 303, response.status_code
    parts = urlsplit(response.headers["Location"])
    return parts.path + (f"?{parts.query}" if parts.query else "")


def reload_twice(app, client, location: str, expect: str) -> str:
    """GET the result page twice: the same page, and nothing new in any table."""
    before = rows(app)
    first = client.get(location)
    second = client.get(location)
    assert first.status_code == second.status_code == 200
    body = first.get_data(as_text=True)
    assert expect in body
    assert second.get_data(as_text=True) == body
    assert first.headers["Cache-Control"] == "no-store"
    assert rows(app) == before
    return body


def test_contact_post_lands_on_the_thank_you_page_and_a_reload_sends_nothing(app, inbox):
    client = app.test_client()
    url = "/privacy/contact?lang=en"
    response = client.post(url, data={
        "csrf_token": csrf_token(client, url), "purpose": "question", "name": "Anna",
        "email": KNOWN, "message": "Hello", "age_ok": "y"})
    location = target(response)
    assert location == "/privacy/contact/sent?lang=en"
    wait_for_outbox(app, 2)
    stored = rows(app)
    assert stored["privacy_contact_message"] == 1 and stored["privacy_consent_record"] == 1
    reload_twice(app, client, location, "Thank you for your message")
    assert len(inbox.wait(2)) == 2


def test_a_contact_form_with_errors_still_answers_400_with_the_form(app, inbox):
    client = app.test_client()
    url = "/privacy/contact?lang=en"
    response = client.post(url, data={
        "csrf_token": csrf_token(client, url), "purpose": "question", "name": "Anna",
        "email": "not an address", "message": "Hello", "age_ok": "y"})
    assert response.status_code == 400
    assert 'id="email-error"' in response.get_data(as_text=True)
    assert rows(app)["privacy_contact_message"] == 0


def known_subscriber(app) -> None:
    """KNOWN is already a confirmed subscriber."""
    db, _ = handles(app)
    models = app.extensions["webence_privacy"].models
    with app.app_context():
        db.session.add(models.Subscriber(email=KNOWN, status="confirmed", language="en",
                                         confirmed_at=utcnow()))
        db.session.commit()


def subscribe(client, email: str):
    url = "/privacy/newsletter?lang=en"
    return client.post(url, data={"csrf_token": csrf_token(client, url), "email": email,
                                  "consent": "y", "age_ok": "y"})


def test_newsletter_sign_up_redirects_the_same_for_known_and_unknown(app, inbox):
    known_subscriber(app)
    client = app.test_client()
    known, unknown = subscribe(client, KNOWN), subscribe(client, UNKNOWN)
    assert target(known) == target(unknown) == "/privacy/newsletter/sent?lang=en"
    assert KNOWN not in known.headers["Location"]
    first = reload_twice(app, client, target(known), "Check your inbox")
    assert client.get(target(unknown)).get_data(as_text=True) == first

    resend = "/privacy/newsletter/resend?lang=en"
    for email in (KNOWN, UNKNOWN):
        response = client.post(resend, data={"csrf_token": csrf_token(client, resend),
                                             "email": email})
        assert target(response) == "/privacy/newsletter/resent?lang=en"
    reload_twice(app, client, target(response), "Check your inbox")


def test_confirming_and_unsubscribing_redirect_and_a_reload_changes_nothing(app, inbox):
    client = app.test_client()
    subscribe(client, UNKNOWN)
    link = [x for x in Inbox.links(inbox.wait_to(UNKNOWN)[-1]) if "/newsletter/confirm/" in x][0]
    path = urlsplit(link).path
    response = client.post(path + "?lang=en", data={"csrf_token": csrf_token(client, path)})
    location = target(response)
    assert location.startswith("/privacy/newsletter/confirmed/") and location.endswith("?lang=en")
    assert UNKNOWN not in location
    wait_for_outbox(app, 2)
    body = reload_twice(app, client, location, "Subscription confirmed")
    # The page still offers the opt-out link (signed anew, so it may differ by its time).
    unsubscribe = urlsplit(re.search(r'href="([^"]*/newsletter/unsubscribe/[^"]+)"',
                                     body).group(1)).path
    assert client.get(unsubscribe).status_code == 200

    # The unsubscribe button lands back on its link's page, which says it is done.
    response = client.post(unsubscribe, data={"csrf_token": csrf_token(client, unsubscribe)})
    assert target(response) == unsubscribe
    reload_twice(app, client, unsubscribe, "You are unsubscribed")
    # A mail client's RFC 8058 one-click POST still gets a 200 and no redirect.
    one_click = app.test_client().post(unsubscribe, data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200 and "Location" not in one_click.headers


def test_a_tampered_or_foreign_result_token_shows_an_error_page(app):
    client = app.test_client()
    assert client.get("/privacy/newsletter/confirmed/garbage").status_code == 404
    assert client.get("/privacy/request/erased/garbage").status_code == 400


def file_request(client, email: str):
    url = "/privacy/request?lang=en"
    return client.post(url, headers={"Referer": "https://webence.test/privacy/request"},
                       data={"csrf_token": csrf_token(client, url), "email": email,
                             "kind": "access"})


def test_a_request_redirects_the_same_for_known_and_unknown(app, inbox):
    known_subscriber(app)
    client = app.test_client()
    known, unknown = file_request(client, KNOWN), file_request(client, UNKNOWN)
    assert target(known) == target(unknown) == "/privacy/request/sent?lang=en"
    wait_for_outbox(app, 2)
    assert rows(app)["privacy_data_request"] == 2
    reload_twice(app, client, target(known), "Check your e-mail")


def test_confirming_a_request_redirects_to_its_page_in_the_same_language(app, inbox):
    client = app.test_client()
    file_request(client, UNKNOWN)
    link = [x for x in Inbox.links(inbox.wait_to(UNKNOWN)[-1]) if "/privacy/request/" in x][0]
    path = urlsplit(link).path
    response = client.post(path + "?lang=en", data={"csrf_token": csrf_token(client, path),
                                                    "action": "verify"})
    assert target(response) == path + "?lang=en"
    wait_for_outbox(app, 2)  # the link, and the maintainer's notice: once
    reload_twice(app, client, path + "?lang=en", "Your data")


def test_the_redirect_has_no_body_for_a_browser_to_leave_unread(app, inbox):
    """A browser resets a connection on which it left a body unread; the
    development server then closes the response late, and what runs on close
    waits."""
    response = file_request(app.test_client(), UNKNOWN)
    assert response.status_code == 303
    assert response.get_data() == b"" and response.headers["Content-Length"] == "0"
