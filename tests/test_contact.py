"""A visitor asks a question or requests a quote through the contact form.

Each story runs on SQLite and PostgreSQL, with mail going to a real SMTP server.
"""

from __future__ import annotations

import re
import uuid

import pytest
import redis
import sqlalchemy as sa
from flask import render_template_string

from flask_webence_privacy import contact, signals
from flask_webence_privacy.config import ConfigurationError
from flask_webence_privacy.forms import age_field

from .conftest import Inbox, csrf_token, free_port, handles, missing, wait_for_outbox
from .test_deployment import REDIS, answers

URL = "/privacy/contact"


def form_data(client, **overrides):
    data = {
        "csrf_token": csrf_token(client, URL),
        "purpose": "quote",
        "name": "Anna de Vries",
        "email": "Anna@Example.NL",
        "phone": "+31 20 123 4567",
        "company": "Bakkerij De Vries",
        "message": "Wat kost een nieuwe website?\nGraag een offerte.",
        "age_ok": "y",
        "website": "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def counts(app):
    db, privacy = handles(app)
    models = app.extensions["webence_privacy"].models
    with app.app_context():
        return {
            name: db.session.scalar(db.select(db.func.count()).select_from(model))
            for name, model in (("messages", models.ContactMessage),
                                ("consents", models.ConsentRecord),
                                ("outbox", models.Outbox))
        }


NOTHING = {"messages": 0, "consents": 0, "outbox": 0}


def test_request_a_quote_link_preselects_the_purpose(app):
    page = app.test_client().get(URL + "?purpose=quote").get_data(as_text=True)
    assert re.search(r'<input checked id="purpose-\d" name="purpose" type="radio" value="quote">',
                     page)
    plain = app.test_client().get(URL).get_data(as_text=True)
    assert re.search(r'<input checked id="purpose-\d" name="purpose" type="radio" '
                     r'value="question">', plain)
    # The age box is never pre-ticked.
    assert not re.search(r'<input[^>]*checked[^>]*name="age_ok"', page)


def test_visitor_sends_a_quote_request_and_both_mails_arrive(app, inbox):
    received, consents = [], []
    client = app.test_client()
    with signals.message_received.connected_to(
        lambda sender, message: received.append(message.id), app
    ), signals.consent_given.connected_to(
        lambda sender, record, email, purpose: consents.append((email, purpose)), app
    ):
        response = client.post(URL, data=form_data(client), follow_redirects=True)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Bedankt voor uw bericht" in page
    assert response.headers["Cache-Control"] == "no-store"

    db, _ = handles(app)
    models = app.extensions["webence_privacy"].models
    with app.app_context():
        message = db.session.scalars(db.select(models.ContactMessage)).one()
        assert message.purpose == "quote"
        assert message.retention_category == "default"
        assert message.email == "anna@example.nl"  # the canonical address: all lower-cased
        assert message.language == "nl"
        assert message.ip == "127.0.0.0"  # truncated before storage
        assert message.policy_version == "1"
        assert message.message.startswith("Wat kost een nieuwe website?")
        proof = db.session.scalars(db.select(models.ConsentRecord)).one()
        assert (proof.email, proof.purpose, proof.form, proof.action) == (
            "anna@example.nl", "contact", "contact", "given")
        assert proof.age_confirmed is True
        assert proof.policy_version == "1"
        assert "Ik ben 16 jaar of ouder" in proof.wording
        assert "offerteaanvraag te beantwoorden" in proof.wording
    # Both mails leave after the response, and the outbox says so.
    assert [r.status for r in wait_for_outbox(app, 2)] == ["sent", "sent"]
    assert received == [message.id]
    assert consents == [("anna@example.nl", "contact")]

    inbox.wait(2)
    (notify,) = inbox.to("info@webence.nl")
    assert notify["Subject"] == "Een offerteaanvraag van Anna de Vries"
    assert str(notify["Reply-To"]) == "anna@example.nl"
    assert "noreply@webence.nl" in str(notify["From"])
    assert "Wat kost een nieuwe website?" in Inbox.text(notify)
    assert "Wat kost een nieuwe website?" in Inbox.html(notify)
    (ack,) = inbox.to("anna@example.nl")
    assert ack["Subject"] == "Wij hebben uw bericht ontvangen – Webence"
    assert "noreply@webence.nl" in str(ack["From"])
    text = Inbox.text(ack)
    assert "Een offerteaanvraag" in text
    # Nothing the visitor typed is repeated to the address they typed.
    assert "Wat kost" not in text and "Anna de Vries" not in text


def test_acknowledgement_arrives_in_the_visitors_language(app, inbox):
    client = app.test_client()
    client.get(URL, headers={"Accept-Language": "en"})
    response = client.post(
        URL, data=form_data(client, purpose="question", phone="", company=""),
        headers={"Accept-Language": "en"}, follow_redirects=True)
    assert response.status_code == 200
    assert "Thank you for your message" in response.get_data(as_text=True)
    inbox.wait(2)
    (ack,) = inbox.to("anna@example.nl")
    assert ack["Subject"] == "We received your message – Webence"
    assert "A question" in Inbox.text(ack)
    # The maintainer reads the site's default language.
    (notify,) = inbox.to("info@webence.nl")
    assert notify["Subject"] == "Een vraag van Anna de Vries"
    db, _ = handles(app)
    with app.app_context():
        models = app.extensions["webence_privacy"].models
        message = db.session.scalars(db.select(models.ContactMessage)).one()
        assert (message.language, message.phone, message.company) == ("en", None, None)


BAD_INPUT = {
    "no name": ({"name": ""}, "name", "Vul uw naam in."),
    "invalid address": ({"email": "anna@"}, "email", "Vul een geldig e-mailadres in"),
    "no address": ({"email": ""}, "email", "Vul uw e-mailadres in."),
    "no message": ({"message": "  "}, "message", "Vul uw bericht in."),
    "no age statement": ({"age_ok": None}, "age_ok", "oud genoeg bent"),
    "unknown purpose": ({"purpose": "spam"}, "purpose", "Kies waar uw bericht over gaat."),
    "no purpose": ({"purpose": None}, "purpose", "Kies waar uw bericht over gaat."),
    "CR/LF in the name (a mail header)": (
        {"name": "Anna\r\nBcc: victim@example.org"}, "name", "niet zijn toegestaan"),
    "LF in the address (a mail header)": (
        {"email": "anna@example.nl\nBcc: victim@example.org"}, "email", "geldig e-mailadres"),
    "NUL in the message": ({"message": "hallo\x00"}, "message", "niet zijn toegestaan"),
    "name too long": ({"name": "A" * 201}, "name", "Gebruik hoogstens 200 tekens."),
    "message too long": ({"message": "x" * 5001}, "message", "Gebruik hoogstens 5000 tekens."),
    "phone with letters": ({"phone": "call me maybe"}, "phone", "Gebruik alleen cijfers"),
    "no CSRF token": ({"csrf_token": None}, None, "Het formulier was verlopen"),
    "forged CSRF token": ({"csrf_token": "forged"}, None, "Het formulier was verlopen"),
}


@pytest.mark.parametrize("change,field,says", BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_gives_the_form_back_and_stores_nothing(app, inbox, change, field, says):
    client = app.test_client()
    data = form_data(client, **{"message": "Mijn eigen tekst die bewaard moet blijven", **change})
    response = client.post(URL, data=data, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Verbeter het volgende" in page
    assert says in page
    if field:
        # The message sits beside its field and the field is marked invalid.
        assert f'id="{field}-error"' in page
    if "message" not in change:
        assert "Mijn eigen tekst die bewaard moet blijven" in page  # the visitor's text kept
    if "name" not in change:
        assert 'value="Anna de Vries"' in page
    assert counts(app) == NOTHING  # no outbox row: no mail on its way
    assert inbox.messages == []


def test_a_filled_honeypot_looks_like_success_but_stores_nothing(app, inbox):
    client = app.test_client()
    response = client.post(URL, data=form_data(client, website="https://spam.example"), follow_redirects=True)
    assert response.status_code == 200
    assert "Bedankt voor uw bericht" in response.get_data(as_text=True)
    assert counts(app) == NOTHING  # no outbox row: no mail on its way
    assert inbox.messages == []


def test_the_honeypot_is_hidden_from_people_and_assistive_technology(app):
    page = app.test_client().get(URL).get_data(as_text=True)
    block = re.search(r'<div class="wp-honeypot" aria-hidden="true">(.*?)</div>', page, re.S)
    assert block and '<label for="website">' in block.group(1)
    assert re.search(r'<input autocomplete="off" id="website" name="website" tabindex="-1"',
                     block.group(1))


def test_an_oversized_body_is_refused_with_a_clear_page(app, inbox):
    client = app.test_client()
    response = client.post(URL, data=form_data(client, message="x" * 70_000), follow_redirects=True)
    assert response.status_code == 413
    assert "Bericht te lang" in response.get_data(as_text=True)
    assert counts(app) == NOTHING


def test_too_many_posts_from_one_ip_are_refused(make_app, inbox):
    app = make_app(PRIVACY_CONTACT_RATE_LIMIT="2 per minute")
    client = app.test_client()
    for _ in range(2):
        assert client.post(URL, data=form_data(client), follow_redirects=True).status_code == 200
    response = client.post(URL, data=form_data(client), follow_redirects=True)
    assert response.status_code == 429
    assert "Te veel berichten" in response.get_data(as_text=True)
    assert counts(app)["messages"] == 2
    assert client.get(URL).status_code == 200  # reading the form is not limited


def test_a_site_adds_a_purpose_with_its_own_retention(make_app, inbox):
    app = make_app(PRIVACY_CONTACT_PURPOSES={
        "question": {"label": {"nl": "Een vraag", "en": "A question"}},
        "support": {"label": {"nl": "Hulp bij mijn website", "en": "Help with my website"},
                    "category": "customer"},
    })
    client = app.test_client()
    assert "Hulp bij mijn website" in client.get(URL).get_data(as_text=True)
    response = client.post(URL, data=form_data(client, purpose="support"), follow_redirects=True)
    assert response.status_code == 200
    db, _ = handles(app)
    with app.app_context():
        models = app.extensions["webence_privacy"].models
        message = db.session.scalars(db.select(models.ContactMessage)).one()
        assert (message.purpose, message.retention_category) == ("support", "customer")
    inbox.wait(2)
    assert inbox.to("info@webence.nl")[0]["Subject"] == "Hulp bij mijn website van Anna de Vries"


def test_a_purpose_with_an_unknown_retention_category_is_a_startup_error(make_app):
    with pytest.raises(ConfigurationError, match=r"PRIVACY_CONTACT_PURPOSES\['x'\].*'forever'"):
        make_app(create=False, PRIVACY_CONTACT_PURPOSES={
            "x": {"label": {"nl": "X", "en": "X"}, "category": "forever"}})


def test_one_address_gets_a_limited_number_of_acknowledgements(make_app, inbox):
    app = make_app(PRIVACY_CONTACT_RATE_LIMIT="100 per minute")
    client = app.test_client()
    for _ in range(contact.ACK_CAP_PER_DAY + 2):
        assert client.post(URL, data=form_data(client), follow_redirects=True).status_code == 200
    inbox.wait(2 * contact.ACK_CAP_PER_DAY + 2)
    # Every mail is out, and no acknowledgement past the cap was even queued.
    wait_for_outbox(app, count=contact.ACK_CAP_PER_DAY + 2, kind="contact-notify")
    wait_for_outbox(app, count=contact.ACK_CAP_PER_DAY, kind="contact-ack")
    assert len(inbox.to("info@webence.nl")) == contact.ACK_CAP_PER_DAY + 2
    assert len(inbox.to("anna@example.nl")) == contact.ACK_CAP_PER_DAY


def test_the_acknowledgement_cap_holds_over_every_worker_of_the_site(make_app, inbox):
    """Two processes of one site (two apps on one database and one Redis): the
    cap counts in the limit storage they share, not per process."""
    if not answers(*REDIS):
        missing("Redis on 127.0.0.1:6379")
    config = {"PRIVACY_CONTACT_RATE_LIMIT": "100 per minute",
              "PRIVACY_RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
              "RATELIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex}"}
    workers = [make_app(**config), make_app(create=False, **config)]
    clients = [worker.test_client() for worker in workers]
    posts = contact.ACK_CAP_PER_DAY + 2
    for n in range(posts):
        client = clients[n % 2]
        assert client.post(URL, data=form_data(client)).status_code == 303
    inbox.wait(2 * contact.ACK_CAP_PER_DAY + 2)
    wait_for_outbox(workers[0], count=posts, kind="contact-notify")
    wait_for_outbox(workers[0], count=contact.ACK_CAP_PER_DAY, kind="contact-ack")
    assert len(inbox.to("anna@example.nl")) == contact.ACK_CAP_PER_DAY
    # The storage holds a keyed hash of the address, never the address.
    keys = redis.Redis(*REDIS).keys(f"*{config['RATELIMIT_KEY_PREFIX']}*mail-cap*")
    assert keys and not any(b"anna" in key.lower() for key in keys)


def test_without_its_limit_storage_the_form_keeps_the_message_and_counts_the_cap_in_process(
        make_app, inbox, caplog):
    # Redis is down: the cap counts in this process's memory until it answers
    # again (tests/test_limits_faults.py has the rest), so the acknowledgement
    # goes, the message and the maintainer's mail too.
    app = make_app(PRIVACY_RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{free_port()}/0")
    client = app.test_client()
    response = client.post(URL, data=form_data(client), follow_redirects=True)
    assert response.status_code == 200
    assert "Bedankt" in response.get_data(as_text=True)
    assert counts(app) == {"messages": 1, "consents": 1, "outbox": 2}
    [notify] = wait_for_outbox(app, count=1, kind="contact-notify")
    assert notify.recipient == "info@webence.nl"
    wait_for_outbox(app, count=1, kind="contact-ack")
    assert "storage unreachable" in caplog.text


def test_on_postgresql_a_contact_post_writes_its_rows_in_one_statement(make_app, database, inbox):
    """The message, its consent proof and both mails: one round trip to the
    database and the commit (one INSERT per row elsewhere)."""
    app = make_app(PRIVACY_MAIL_DISPATCH="sender")  # no sender thread's statements
    client = app.test_client()
    data = form_data(client)
    db, _ = handles(app)
    written: list[str] = []
    with app.app_context():
        engine = db.engine

    def seen(conn, cursor, statement, *args):
        written.append(statement.split()[0].upper())

    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        assert client.post(URL, data=data).status_code == 303
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    if database["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        assert written == ["WITH"]
    else:
        assert set(written) == {"INSERT"}  # no query: the cap counts in the limit storage
    assert counts(app) == {"messages": 1, "consents": 1, "outbox": 2}
    assert app.test_cli_runner().invoke(args=["privacy", "send-mail"]).exit_code == 0
    inbox.wait(2)
    assert {m["To"] for m in inbox.messages} == {"info@webence.nl", "anna@example.nl"}


def test_the_domain_refuses_a_line_break_in_a_header_value_even_without_the_form(app):
    state = app.extensions["webence_privacy"]
    with app.test_request_context(), pytest.raises(contact.ContactError):
        contact.submit(state, name="Eve\nBcc: x@example.org", email="eve@example.org",
                       phone=None, company=None, purpose="question", message="hi",
                       language="nl", ip=None)
    assert counts(app) == NOTHING


def test_the_age_notice_macro_works_in_a_host_form_with_the_configured_age(make_app):
    from flask_wtf import FlaskForm

    app = make_app(PRIVACY_MIN_CONSENT_AGE=13)

    class HostForm(FlaskForm):
        age_ok = age_field()

    with app.test_request_context("/?lang=nl"):
        html = render_template_string(
            '{% import "webence_privacy/_macros.html" as m %}{{ m.age_notice(form.age_ok) }}',
            form=HostForm(),
        )
    assert "Ik ben 13 jaar of ouder, of heb toestemming van een ouder of voogd" in html
    assert "van 13 jaar of ouder" in html
    assert 'aria-describedby="age_ok-hint"' in html
    assert "checked" not in html


def test_markup_a_visitor_types_is_escaped_on_the_page_and_in_the_mail(app, inbox):
    client = app.test_client()
    script = '<script>alert("x")</script>'
    response = client.post(URL, data=form_data(client, email="", name=script), follow_redirects=True)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert script not in page and "&lt;script&gt;" in page

    response = client.post(URL, data=form_data(client, name=script, message=script), follow_redirects=True)
    assert response.status_code == 200
    inbox.wait(2)
    (notify,) = inbox.to("info@webence.nl")
    assert script not in Inbox.html(notify)
    assert "&lt;script&gt;" in Inbox.html(notify)
    assert script in Inbox.text(notify)  # plain text shows it as the visitor typed it


def test_the_form_page_runs_under_a_strict_csp_with_no_inline_style_or_script(app):
    response = app.test_client().get(URL)
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    page = response.get_data(as_text=True)
    assert "<script" not in page and "style=" not in page and "<style" not in page


def test_the_acknowledgement_carries_no_marketing_and_no_links(app, inbox):
    client = app.test_client()
    client.post(URL, data=form_data(client), follow_redirects=True)
    inbox.wait(2)
    (ack,) = inbox.to("anna@example.nl")
    assert Inbox.links(ack) == []
    assert "<a " not in Inbox.html(ack)
    assert ack["List-Unsubscribe"] is None


def test_the_stored_ip_comes_from_trusted_proxies_only(make_app, inbox):
    forged = {"X-Forwarded-For": "203.0.113.77"}
    direct = make_app()
    client = direct.test_client()
    client.post(URL, data=form_data(client), headers=forged, follow_redirects=True)
    behind_proxy = make_app(PRIVACY_TRUSTED_PROXIES=1)
    client = behind_proxy.test_client()
    client.post(URL, data=form_data(client), headers=forged, follow_redirects=True)
    db, _ = handles(direct)
    with direct.app_context():
        models = direct.extensions["webence_privacy"].models
        ips = db.session.scalars(
            db.select(models.ContactMessage.ip).order_by(models.ContactMessage.id)).all()
    # Both apps share the test database: the first ignored the header it cannot trust.
    assert ips == ["127.0.0.0", "203.0.113.0"]


def test_a_body_past_the_hosts_own_max_content_length_gets_the_clear_page(make_app):
    app = make_app(MAX_CONTENT_LENGTH=2000)
    client = app.test_client()
    response = client.post(URL, data=form_data(client, message="x" * 3000), follow_redirects=True)
    assert response.status_code == 413
    assert "Bericht te lang" in response.get_data(as_text=True)
    assert counts(app) == NOTHING


def test_withdrawing_the_contact_consent_adds_a_record_and_keeps_the_proof(app, inbox):
    from flask_webence_privacy import consent

    client = app.test_client()
    client.post(URL, data=form_data(client), follow_redirects=True)
    state = app.extensions["webence_privacy"]
    with app.app_context():
        consent.withdraw(state, email="anna@example.nl", purpose="contact",
                         wording="withdrawn by phone", form="admin")
        state.db.session.commit()
        rows = state.db.session.scalars(
            state.db.select(state.models.ConsentRecord).order_by(state.models.ConsentRecord.id)
        ).all()
        assert [r.action for r in rows] == ["given", "withdrawn"]
        assert not consent.has_consent(state, "anna@example.nl", "contact")
