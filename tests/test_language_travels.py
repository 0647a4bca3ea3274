"""The visitor's language travels: a form opened with ?lang=en posts back to a
URL that keeps it, the choice is remembered in the switch cookie, and a mailed
link opens in the language the visitor used."""

from __future__ import annotations

import re

from .conftest import Inbox, csrf_token

URL = "/privacy/contact?lang=en"


def test_a_form_in_english_answers_its_errors_in_english(app):
    client = app.test_client()
    page = client.get(URL).get_data(as_text=True)
    assert 'action="/privacy/contact?lang=en"' in page
    # A fresh visitor with no cookie and a Dutch browser posts to that action.
    other = app.test_client()
    token = csrf_token(other, URL)
    other.delete_cookie("privacy_lang")
    response = other.post(URL, headers={"Accept-Language": "nl"}, data={
        "csrf_token": token, "purpose": "question", "name": "", "email": "x@example.nl",
        "message": "Hi", "age_ok": "y"}, follow_redirects=True)
    assert response.status_code == 400
    assert "Enter your name." in response.get_data(as_text=True)


def test_lang_in_the_address_is_remembered_for_the_next_page(app):
    client = app.test_client()
    response = client.get("/privacy/?lang=en", headers={"Accept-Language": "nl"})
    assert "privacy_lang=en" in response.headers.get("Set-Cookie", "")
    page = client.get("/privacy/newsletter", headers={"Accept-Language": "nl"})
    assert '<html lang="en">' in page.get_data(as_text=True)


def test_a_mailed_link_opens_in_the_language_the_visitor_used(app, inbox):
    client = app.test_client()
    url = "/privacy/request?lang=en"
    client.post(url, headers={"Referer": "https://webence.test/privacy/request"}, data={
        "csrf_token": csrf_token(client, url), "email": "lang@example.nl", "kind": "access"},
        follow_redirects=True)
    (mail,) = inbox.wait_to("lang@example.nl")
    link = next(u for u in Inbox.links(mail) if "/privacy/request/" in u)
    assert link.endswith("?lang=en")
    fresh = app.test_client()  # the mail program: no cookie, a Dutch browser
    page = fresh.get(re.sub(r"^https://webence\.test", "", link),
                     headers={"Accept-Language": "nl"}).get_data(as_text=True)
    assert '<html lang="en">' in page
