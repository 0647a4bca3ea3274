"""A visitor subscribes to the newsletter, confirms through the mailed link and
unsubscribes again, with one click from their mail program. Real SMTP inbox,
SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
import re
import time
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest
from itsdangerous.timed import TimestampSigner

from flask_webence_privacy import newsletter, signals, tokens

from .conftest import Inbox, csrf_token, handles, wait_for_outbox

URL = "/privacy/newsletter"
ADDRESS = "anna@example.nl"
WORDING_EN = ("Yes, send me the newsletter of Webence by e-mail. "
              "I can unsubscribe at any time.")


def subscribe(client, email=ADDRESS, lang="en", **fields):
    data = {"email": email, "consent": "y", "age_ok": "y",
            "csrf_token": csrf_token(client, f"{URL}?lang={lang}")}
    data.update(fields)
    return client.post(f"{URL}?lang={lang}", data=data, follow_redirects=True)


def path_of(link: str) -> str:
    return urlsplit(link).path


def confirm_link(inbox: Inbox, email: str = ADDRESS, count: int = 1) -> str:
    mails = inbox.wait_to(email, count)
    links = [x for x in Inbox.links(mails[-1]) if "/newsletter/confirm/" in x]
    assert len(links) == 1
    return links[0]


def confirm(client, link: str):
    return client.post(path_of(link), data={"csrf_token": csrf_token(client, path_of(link))},
                       follow_redirects=True)


def subscribed(app, client, inbox, email=ADDRESS) -> str:
    """A confirmed subscriber; returns the confirmation link."""
    assert subscribe(client, email).status_code == 200
    link = confirm_link(inbox, email)
    assert confirm(client, link).status_code == 200
    return link


def recipients(app, **kwargs):
    with app.app_context():
        return handles(app)[1].newsletter_recipients(**kwargs)


def subscriber_row(app, email=ADDRESS):
    with app.app_context():
        db = handles(app)[0]
        Subscriber = app.extensions["webence_privacy"].models.Subscriber
        row = db.session.scalar(db.select(Subscriber).where(Subscriber.email == email))
        if row is not None:
            db.session.expunge(row)
        return row


def consents(app, email=ADDRESS):
    with app.app_context():
        db = handles(app)[0]
        Consent = app.extensions["webence_privacy"].models.ConsentRecord
        rows = db.session.scalars(
            db.select(Consent).where(Consent.email == email).order_by(Consent.id)).all()
        return [(r.action, r.form, r.wording, r.policy_version, r.age_confirmed) for r in rows]


def counts(app):
    with app.app_context():
        db = handles(app)[0]
        models = app.extensions["webence_privacy"].models
        return {name: db.session.scalar(db.select(db.func.count()).select_from(model))
                for name, model in (("subscribers", models.Subscriber),
                                    ("consents", models.ConsentRecord),
                                    ("outbox", models.Outbox))}


@contextmanager
def captured(signal, app):
    seen = []

    def receiver(sender, **kwargs):
        seen.append(kwargs)

    signal.connect(receiver, app)
    try:
        yield seen
    finally:
        signal.disconnect(receiver, app)


def english(client):
    """A visitor whose browser asks for English (the site's default is Dutch)."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def without_csrf(body: str) -> str:
    return re.sub(r'name="csrf_token" type="hidden" value="[^"]+"', "", body)


# -- the whole double opt-in --------------------------------------------------------


def test_double_opt_in_with_the_link_from_the_mail(app, inbox):
    client = english(app.test_client())
    page = client.get(f"{URL}?lang=en").get_data(as_text=True)
    assert WORDING_EN in page
    assert 'name="consent"' in page and "checked" not in page  # never pre-ticked

    with captured(signals.subscribed, app) as subscribed_seen:
        response = subscribe(client)
    assert response.status_code == 200
    assert "Check your inbox" in response.get_data(as_text=True)
    assert len(subscribed_seen) == 1
    assert recipients(app) == []  # pending: not yet a recipient

    mail = inbox.wait(1)[0]
    assert mail["To"] == ADDRESS
    assert "Confirm your subscription" in mail["Subject"]
    link = confirm_link(inbox)
    assert link.startswith("https://webence.test/privacy/newsletter/confirm/")
    assert ADDRESS not in link and "anna" not in link

    # Opening the link shows a button and changes nothing.
    shown = client.get(path_of(link))
    assert shown.status_code == 200
    assert "Confirm my subscription" in shown.get_data(as_text=True)
    assert shown.headers["Cache-Control"] == "no-store"
    assert shown.headers["Referrer-Policy"] == "no-referrer"
    assert subscriber_row(app).status == "pending"

    with captured(signals.subscription_confirmed, app) as confirmed_seen:
        done = confirm(client, link)
    assert done.status_code == 200
    body = done.get_data(as_text=True)
    assert "Subscription confirmed" in body
    assert "/privacy/newsletter/unsubscribe/" in body
    assert len(confirmed_seen) == 1
    assert recipients(app) == [ADDRESS]

    row = subscriber_row(app)
    assert row.status == "confirmed" and row.confirmed_at is not None
    assert row.confirm_token_hash is None

    # Consent proof: the exact wording shown, the policy version, the form.
    assert consents(app) == [
        ("given", "newsletter", WORDING_EN, "1", True),
        ("given", "newsletter-confirm", WORDING_EN, "1", True),
    ]

    # The confirmation-success mail carries the opt-out link and RFC 8058 headers.
    inbox.wait(2)
    welcome = inbox.to(ADDRESS)[-1]
    assert "is confirmed" in welcome["Subject"]
    assert welcome["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/privacy/newsletter/unsubscribe/" in welcome["List-Unsubscribe"]


def test_the_confirmation_mail_carries_no_marketing(app, inbox):
    subscribe(english(app.test_client()))
    text = Inbox.text(inbox.wait(1)[0])
    links = Inbox.links(inbox.wait(1)[0])
    assert len(links) == 1 and "/newsletter/confirm/" in links[0]
    assert "48 hours" in text


def test_a_confirmation_link_works_once(app, inbox):
    client = english(app.test_client())
    subscribe(client)
    link = confirm_link(inbox)
    assert confirm(client, link).status_code == 200
    again = client.post(path_of(link), data={"csrf_token": csrf_token(client, URL)}, follow_redirects=True)
    assert again.status_code == 410
    assert "can no longer be used" in again.get_data(as_text=True)
    assert [c[1] for c in consents(app)].count("newsletter-confirm") == 1


def test_a_newer_link_replaces_the_older(app, inbox):
    client = english(app.test_client())
    subscribe(client)
    first = confirm_link(inbox)
    subscribe(client)
    second = confirm_link(inbox, count=2)
    assert first != second
    assert client.get(path_of(first)).status_code == 410
    assert confirm(client, second).status_code == 200


def test_confirming_needs_the_csrf_token(app, inbox):
    client = english(app.test_client())
    subscribe(client)
    link = confirm_link(inbox)
    response = client.post(path_of(link) + "?lang=en", data={}, follow_redirects=True)
    assert response.status_code == 400
    assert "The form had expired" in response.get_data(as_text=True)
    assert subscriber_row(app).status == "pending"


# -- one-click opt-out (RFC 8058) ------------------------------------------------------


def test_one_click_post_from_a_fresh_client_without_cookies(app, inbox):
    subscribed(app, english(app.test_client()), inbox)
    assert recipients(app) == [ADDRESS]
    with app.app_context():
        headers = handles(app)[1].unsubscribe_headers(ADDRESS)
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = re.fullmatch(r"<(https://[^>]+)>", headers["List-Unsubscribe"]).group(1)
    assert url.startswith("https://webence.test/privacy/newsletter/unsubscribe/")

    mail_client = english(app.test_client(use_cookies=False))
    with captured(signals.unsubscribed, app) as seen:
        response = mail_client.post(
            path_of(url), data="List-Unsubscribe=One-Click",
            content_type="application/x-www-form-urlencoded",
        )
    assert response.status_code == 200  # no redirect
    assert "Set-Cookie" not in response.headers
    assert "You are unsubscribed" in response.get_data(as_text=True)
    assert seen and seen[0]["one_click"] is True
    assert recipients(app) == []

    # Twice is fine.
    again = mail_client.post(path_of(url), data={"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200
    assert len(seen) == 1

    # Only what honours the opt-out is kept.
    row = subscriber_row(app)
    assert row.status == "unsubscribed" and row.unsubscribed_at is not None
    assert row.language is None and row.policy_version is None
    assert row.confirm_token_hash is None and row.confirmed_at is None
    assert consents(app)[-1][:2] == ("withdrawn", "newsletter-one-click")


def test_unsubscribe_page_needs_a_button_press_and_csrf(app, inbox):
    client = english(app.test_client())
    subscribed(app, client, inbox)
    with app.app_context():
        url = newsletter.unsubscribe_url(app.extensions["webence_privacy"],
                                         subscriber_row(app))
    path = path_of(url)

    # Opening the link changes nothing (mail scanners open links).
    page = client.get(path)
    assert page.status_code == 200 and "Unsubscribe" in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    assert recipients(app) == [ADDRESS]

    # A POST that is neither the one-click body nor carries the CSRF token is refused.
    assert client.post(path, data={}, follow_redirects=True).status_code == 400
    assert client.post(path, data={"List-Unsubscribe": "One-Click", "x": "1"}).status_code == 400
    assert recipients(app) == [ADDRESS]

    response = client.post(path, data={"csrf_token": csrf_token(client, path)}, follow_redirects=True)
    assert response.status_code == 200
    assert "You are unsubscribed" in response.get_data(as_text=True)
    assert recipients(app) == []
    assert consents(app)[-1][:2] == ("withdrawn", "newsletter-unsubscribe")
    # The page says so afterwards, still changing nothing.
    assert "You are unsubscribed" in client.get(path).get_data(as_text=True)


def test_the_unsubscribe_token_holds_no_readable_address(app, inbox):
    subscribed(app, english(app.test_client()), inbox)
    with app.app_context():
        headers = handles(app)[1].unsubscribe_headers(ADDRESS)
    token = headers["List-Unsubscribe"].rsplit("/", 1)[1].rstrip(">")
    payload = token.split(".")[0]
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    assert "@" not in decoded and "anna" not in decoded
    assert set(json.loads(decoded)) == {"s", "l", "h"}


def test_unsubscribe_headers_include_a_configured_mailto(make_app, inbox):
    app = make_app(PRIVACY_NEWSLETTER_UNSUBSCRIBE_MAILTO="unsubscribe@webence.nl")
    subscribed(app, english(app.test_client()), inbox)
    with app.app_context():
        value = handles(app)[1].unsubscribe_headers(ADDRESS)["List-Unsubscribe"]
    assert value.startswith("<https://webence.test/privacy/newsletter/unsubscribe/")
    assert value.endswith(", <mailto:unsubscribe@webence.nl?subject=unsubscribe>")


# -- no enumeration, no flooding ------------------------------------------------------


def test_same_page_for_new_pending_confirmed_and_unsubscribed(make_app, inbox):
    app = make_app(PRIVACY_NEWSLETTER_RATE_LIMIT="100 per minute")
    client = english(app.test_client())
    subscribed(app, client, inbox, "confirmed@example.nl")
    subscribe(client, "pending@example.nl")
    subscribed(app, client, inbox, "gone@example.nl")
    with app.app_context():
        state = app.extensions["webence_privacy"]
        row = subscriber_row(app, "gone@example.nl")
        url = newsletter.unsubscribe_url(state, row)
    client.post(path_of(url), data={"List-Unsubscribe": "One-Click"})
    inbox.clear()

    bodies = {}
    for email in ("new@example.nl", "pending@example.nl", "confirmed@example.nl",
                  "gone@example.nl"):
        response = subscribe(client, email)
        assert response.status_code == 200
        bodies[email] = without_csrf(response.get_data(as_text=True))
    assert len(set(bodies.values())) == 1

    # A confirmed subscriber gets no second confirmation mail; the others do
    # (three confirmation mails before the inbox was cleared, three now).
    wait_for_outbox(app, count=6, kind="newsletter-confirm")
    inbox.wait(3)
    assert inbox.to("confirmed@example.nl") == []
    assert {str(m["To"]) for m in inbox.messages} == {
        "new@example.nl", "pending@example.nl", "gone@example.nl"}
    assert recipients(app) == ["confirmed@example.nl"]


def test_confirmation_mails_to_one_address_are_capped(make_app, inbox):
    app = make_app(PRIVACY_NEWSLETTER_RATE_LIMIT="100 per minute")
    client = english(app.test_client())
    bodies = set()
    for _ in range(5):
        response = subscribe(client)
        assert response.status_code == 200
        bodies.add(without_csrf(response.get_data(as_text=True)))
    assert len(bodies) == 1
    inbox.wait(3)
    wait_for_outbox(app, count=3, kind="newsletter-confirm")  # the capped ones never queued
    assert len(inbox.to(ADDRESS)) == 3


def test_resend_answers_the_same_for_every_address(app, inbox):
    client = english(app.test_client())
    subscribe(client)
    inbox.wait(1)
    bodies = set()
    for email in (ADDRESS, "nobody@example.nl"):
        token = csrf_token(client, f"{URL}/resend?lang=en")
        response = client.post(f"{URL}/resend?lang=en", data={"email": email, "csrf_token": token},
                               follow_redirects=True)
        assert response.status_code == 200
        bodies.add(without_csrf(response.get_data(as_text=True)))
    assert len(bodies) == 1
    inbox.wait(2)
    wait_for_outbox(app, count=2, kind="newsletter-confirm")
    assert len(inbox.to(ADDRESS)) == 2 and inbox.to("nobody@example.nl") == []


def test_the_subscribe_form_is_rate_limited_per_ip(make_app, inbox):
    app = make_app(PRIVACY_NEWSLETTER_RATE_LIMIT="2 per minute")
    client = english(app.test_client())
    assert subscribe(client, "a@example.nl").status_code == 200
    assert subscribe(client, "b@example.nl").status_code == 200
    response = subscribe(client, "c@example.nl")
    assert response.status_code == 429
    assert subscriber_row(app, "c@example.nl") is None


# -- bad input --------------------------------------------------------------------


@pytest.mark.parametrize("fields, field_message", [
    ({"email": "not-an-address"}, "Enter a valid e-mail address"),
    ({"email": "anna@example.nl\r\nBcc: x@example.nl"}, "Enter a valid e-mail address"),
    ({"consent": ""}, "Tick the box to receive the newsletter."),
    ({"age_ok": ""}, "old enough"),
    ({"csrf_token": ""}, "The form had expired"),
])
def test_bad_input_gives_the_form_again_and_stores_nothing(app, inbox, fields, field_message):
    client = english(app.test_client())
    response = subscribe(client, **fields)
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert field_message in body
    assert 'name="email"' in body
    # No outbox row: no mail on its way.
    assert counts(app) == {"subscribers": 0, "consents": 0, "outbox": 0}
    assert inbox.messages == []


def test_the_typed_address_is_kept_on_error(app, inbox):
    response = subscribe(english(app.test_client()), consent="")
    assert f'value="{ADDRESS}"' in response.get_data(as_text=True)


# -- expired, tampered, unknown, wrong-purpose links ------------------------------------


def test_an_expired_link_offers_a_new_one(make_app, inbox, monkeypatch):
    app = make_app(PRIVACY_NEWSLETTER_CONFIRM_HOURS=2)
    client = english(app.test_client())
    # The link was signed three hours ago.
    monkeypatch.setattr(TimestampSigner, "get_timestamp",
                        lambda self: int(time.time()) - 3 * 3600)
    subscribe(client)
    monkeypatch.undo()
    link = confirm_link(inbox)

    shown = client.get(path_of(link) + "?lang=en")
    assert shown.status_code == 410
    body = shown.get_data(as_text=True)
    assert "This link has expired" in body and "Send a new link" in body
    assert confirm(client, link).status_code == 410
    assert subscriber_row(app).status == "pending"

    token = csrf_token(client, path_of(link))
    response = client.post(f"{URL}/resend", data={"email": ADDRESS, "csrf_token": token},
                           follow_redirects=True)
    assert response.status_code == 200
    fresh = confirm_link(inbox, count=2)
    assert fresh != link
    assert confirm(client, fresh).status_code == 200
    assert recipients(app) == [ADDRESS]


def test_tampered_and_unknown_links_change_nothing(app, inbox):
    client = english(app.test_client())
    subscribe(client)
    link = confirm_link(inbox)
    token = path_of(link).rsplit("/", 1)[1]
    tampered = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    with app.app_context():
        unknown = tokens.make("newsletter-confirm", {"s": 999999, "n": "x"})
        unknown_unsub = tokens.make("newsletter-unsubscribe", {"s": 999999, "l": "newsletter",
                                                               "h": "0" * 16})
    for bad in (tampered, unknown, "garbage", "x" * 1000):
        for method in (client.get, client.post):
            response = method(f"{URL}/confirm/{bad}?lang=en",
                              data={"csrf_token": csrf_token(client, URL)})
            assert response.status_code == 404
            assert "This link is not valid" in response.get_data(as_text=True)
    for bad in (tampered, unknown_unsub, "garbage"):
        response = client.post(f"{URL}/unsubscribe/{bad}",
                               data={"List-Unsubscribe": "One-Click"})
        assert response.status_code == 404
    assert subscriber_row(app).status == "pending"
    assert len(consents(app)) == 1


def test_a_token_of_one_purpose_is_refused_by_the_other(app, inbox):
    client = english(app.test_client())
    subscribe(client)
    confirm_token = path_of(confirm_link(inbox)).rsplit("/", 1)[1]
    response = client.post(f"{URL}/unsubscribe/{confirm_token}",
                           data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 404
    assert confirm(client, f"https://webence.test{URL}/confirm/{confirm_token}").status_code == 200

    with app.app_context():
        unsub = newsletter.unsubscribe_token(subscriber_row(app))
    assert client.get(f"{URL}/confirm/{unsub}").status_code == 404
    response = client.post(f"{URL}/confirm/{unsub}", data={"csrf_token": csrf_token(client, URL)},
                           follow_redirects=True)
    assert response.status_code == 404
    assert recipients(app) == [ADDRESS]


# -- consent under the current policy version, objection, retention -----------------------


def test_recipients_can_require_consent_under_the_current_policy(make_app, inbox):
    versions = [{"version": "2018", "effective": "2018-05-12"}]
    first = make_app(PRIVACY_POLICY_VERSIONS=versions)
    subscribed(first, english(first.test_client()), inbox)
    assert recipients(first, require_current_consent=True) == [ADDRESS]

    # The site publishes a new version (new newsletter wording) on the same database.
    second = make_app(
        create=True,
        PRIVACY_POLICY_VERSIONS=[*versions, {"version": "2025", "effective": "2025-01-01"}],
        PRIVACY_NEWSLETTER_WORDING={"en": "Yes, send me the monthly newsletter.",
                                    "nl": "Ja, stuur mij de maandelijkse nieuwsbrief."},
    )
    assert recipients(second) == [ADDRESS]
    assert recipients(second, require_current_consent=True) == []

    # Asked again, the subscriber consents under the new wording through a mailed link.
    client = english(second.test_client())
    inbox.clear()
    page = client.get(f"{URL}?lang=en").get_data(as_text=True)
    assert "Yes, send me the monthly newsletter." in page
    assert subscribe(client).status_code == 200
    assert recipients(second, require_current_consent=True) == []  # not yet confirmed
    assert confirm(client, confirm_link(inbox)).status_code == 200
    assert recipients(second, require_current_consent=True) == [ADDRESS]
    assert consents(second)[-1] == ("given", "newsletter-confirm",
                                    "Yes, send me the monthly newsletter.", "2025", True)


def test_an_objection_to_marketing_stops_the_newsletter(app, inbox):
    subscribed(app, english(app.test_client()), inbox)
    db = handles(app)[0]
    Mark = app.extensions["webence_privacy"].models.SubjectMark
    with app.app_context():
        db.session.add(Mark(email=ADDRESS, kind="objection", grounds="no marketing"))
        db.session.commit()
    assert recipients(app) == []
    with app.app_context():
        mark = db.session.scalar(db.select(Mark))
        from flask_webence_privacy.models import utcnow

        mark.lifted_at = utcnow()
        db.session.commit()
    assert recipients(app) == [ADDRESS]


def test_unconfirmed_subscriptions_are_purged_after_the_configured_days(make_app, inbox):
    import datetime as dt

    from flask_webence_privacy.models import utcnow

    app = make_app(PRIVACY_NEWSLETTER_PENDING_DAYS=7,
                   PRIVACY_NEWSLETTER_RATE_LIMIT="100 per minute")
    client = english(app.test_client())
    subscribed(app, client, inbox, "kept@example.nl")
    subscribe(client, "never@example.nl")
    privacy = app.extensions["webence_privacy"].privacy
    with app.app_context():
        now = utcnow()

        def pending(days, dry_run=False):
            report = privacy.purge(now + dt.timedelta(days=days), dry_run=dry_run)
            return report.count("Subscriber", "pending")

        assert pending(6) == 0
        assert pending(8, dry_run=True) == 1
        assert subscriber_row(app, "never@example.nl") is not None
        assert pending(8) == 1
        assert pending(8) == 0
    assert subscriber_row(app, "never@example.nl") is None
    assert consents(app, "never@example.nl") == []  # an address anyone could have typed
    assert recipients(app) == ["kept@example.nl"]
    assert len(consents(app, "kept@example.nl")) == 2


def test_two_concurrent_confirmations_give_one_success(app, inbox):
    import threading

    client = english(app.test_client())
    subscribe(client)
    token = path_of(confirm_link(inbox)).rsplit("/", 1)[1]
    state = app.extensions["webence_privacy"]
    barrier = threading.Barrier(2)
    results = []

    def attempt():
        with app.app_context():
            barrier.wait()
            try:
                newsletter.confirm(state, token)
                results.append("ok")
            except newsletter.LinkError as exc:
                results.append(exc.reason)
            finally:
                handles(app)[0].session.remove()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == ["ok", "used"]
    assert [c[1] for c in consents(app)].count("newsletter-confirm") == 1
