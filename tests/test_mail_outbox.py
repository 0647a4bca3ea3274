"""Mail is never lost: when the SMTP server is down the visitor still sees success,
the mail waits in the outbox with its error, and ``flask privacy send-mail``
delivers it once the server is back, with back-off and a limit on attempts."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import time

import pytest
from flask import request
from jinja2 import DictLoader

from flask_webence_privacy import mail
from flask_webence_privacy.i18n import lazy_gettext as _l
from flask_webence_privacy.models import utcnow

from .conftest import Inbox, csrf_token, free_port, handles, wait_for_outbox
from .test_deployment import BIN, ROOT

URL = "/privacy/contact"


def send_message(app, **extra):
    client = app.test_client()
    data = {
        "csrf_token": csrf_token(client, URL),
        "purpose": "question",
        "name": "Bram",
        "email": "bram@example.nl",
        "message": "Werkt mijn contactformulier?",
        "age_ok": "y",
    }
    data.update(extra)
    return client.post(URL, data=data, follow_redirects=True)


def outbox(app):
    db, _ = handles(app)
    models = app.extensions["webence_privacy"].models
    with app.app_context():
        rows = db.session.scalars(db.select(models.Outbox).order_by(models.Outbox.id)).all()
        db.session.expunge_all()
        return rows


def test_with_the_smtp_server_down_the_mail_waits_and_cron_delivers_it(make_app, inbox):
    closed = free_port()
    down = make_app(MAIL_PORT=closed)
    response = send_message(down)
    assert response.status_code == 200
    assert "Bedankt voor uw bericht" in response.get_data(as_text=True)

    # The first attempt runs after the response; it fails and leaves both queued.
    rows = wait_for_outbox(down, 2, status="queued", attempts=1)
    assert [(r.kind, r.status, r.attempts) for r in rows] == [
        ("contact-notify", "queued", 1), ("contact-ack", "queued", 1)]
    assert all(r.last_error and "Connection" in r.last_error for r in rows)
    assert inbox.messages == []

    # The server is back: cron runs `flask privacy send-mail` with the right port.
    up = make_app()
    result = up.test_cli_runner().invoke(args=["privacy", "send-mail"])
    assert result.exit_code == 0, result.output
    assert "2 sent" in result.output
    inbox.wait(2)
    assert "Werkt mijn contactformulier?" in Inbox.text(inbox.to("info@webence.nl")[0])
    assert len(inbox.to("bram@example.nl")) == 1
    rows = outbox(up)
    assert [(r.status, r.attempts, r.last_error) for r in rows] == [
        ("sent", 2, None), ("sent", 2, None)]

    # Nothing is sent twice.
    result = up.test_cli_runner().invoke(args=["privacy", "send-mail"])
    assert "0 sent" in result.output
    assert len(inbox.messages) == 2


def test_after_the_last_attempt_a_mail_is_marked_failed(make_app, inbox):
    app = make_app(MAIL_PORT=free_port(), PRIVACY_MAIL_MAX_ATTEMPTS=3)
    send_message(app)
    wait_for_outbox(app, 2, status="queued", attempts=1)  # the try after the response
    db, _ = handles(app)
    state = app.extensions["webence_privacy"]
    now = utcnow()
    with app.app_context():
        # Attempt 2 may follow at once (cron's interval is the pause) ...
        assert mail.deliver_due(state, now=now) == {
            "sent": 0, "failed": 0, "deferred": 2}
        # ... attempt 3 only after the back-off.
        assert mail.deliver_due(state, now=now + dt.timedelta(minutes=4)) == {
            "sent": 0, "failed": 0, "deferred": 0}
        assert mail.deliver_due(state, now=now + dt.timedelta(minutes=6)) == {
            "sent": 0, "failed": 2, "deferred": 0}
        # Given up: later runs leave it alone, and the CLI says so.
        assert mail.deliver_due(state, now=now + dt.timedelta(days=2)) == {
            "sent": 0, "failed": 0, "deferred": 0}
    rows = outbox(app)
    assert [(r.status, r.attempts) for r in rows] == [("failed", 3), ("failed", 3)]
    assert all(r.last_error for r in rows)
    assert inbox.messages == []


def test_the_back_off_doubles_and_is_capped():
    assert mail.backoff(1) == dt.timedelta(0)
    assert mail.backoff(2) == dt.timedelta(minutes=5)
    assert mail.backoff(3) == dt.timedelta(minutes=10)
    assert mail.backoff(20) == mail.BACKOFF_CAP


def test_a_row_is_claimed_once_so_two_workers_never_both_send(make_app, inbox):
    app = make_app(MAIL_PORT=free_port())
    send_message(app)
    # The first app's background attempt has failed for both before the second looks.
    wait_for_outbox(app, 2, status="queued", attempts=1)
    up = make_app()
    db, _ = handles(up)
    state = up.extensions["webence_privacy"]
    ids = [r.id for r in outbox(up)]
    with up.app_context():
        first = mail.send(state, ids)
        second = mail.send(state, ids)
    assert first["sent"] == 2 and second["sent"] == 0
    inbox.wait(2)
    assert len(inbox.messages) == 2


def test_send_mail_reports_counts_when_nothing_is_due(app):
    result = app.test_cli_runner().invoke(args=["privacy", "send-mail"])
    assert result.exit_code == 0
    assert result.output.strip() == "Mail: 0 sent, 0 to retry later, 0 given up."


def test_a_failed_send_logs_no_address_name_or_content(make_app, inbox, caplog):
    app = make_app(MAIL_PORT=free_port())
    with caplog.at_level("DEBUG"):
        send_message(app)
        wait_for_outbox(app, 2, status="queued", attempts=1)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "not sent" in logged
    for personal in ("bram@example.nl", "Bram", "Werkt mijn"):
        assert personal not in logged


def test_a_server_that_never_answers_does_not_hang_the_visitor(make_app, inbox):
    with socket.socket() as silent:  # accepts connections, never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(5)
        app = make_app(MAIL_PORT=silent.getsockname()[1], PRIVACY_MAIL_TIMEOUT=0.5)
        started = time.monotonic()
        response = send_message(app)
        assert time.monotonic() - started < 5
        rows = wait_for_outbox(app, 2, status="queued", attempts=1)
    assert response.status_code == 200
    assert [r.status for r in rows] == ["queued", "queued"]
    assert all("timed out" in r.last_error for r in rows)


# -- rendered by the sender, not in the visitor's request ------------------------------------


def test_the_request_writes_the_mails_values_and_the_sender_renders_them(make_app, inbox):
    app = make_app(PRIVACY_MAIL_DISPATCH="sender")
    response = send_message(app)
    assert response.status_code == 200
    rows = outbox(app)
    # The answer came before any template of the mails was rendered.
    assert [(r.kind, r.template, r.language, r.subject, r.body_text) for r in rows] == [
        ("contact-notify", "contact_notify", "nl", None, None),
        ("contact-ack", "contact_ack", "nl", None, None)]
    values = mail.thaw(rows[0].context)
    assert values["message"]["message"] == "Werkt mijn contactformulier?"
    assert isinstance(values["message"]["created_at"], dt.datetime)
    assert inbox.messages == []

    result = app.test_cli_runner().invoke(args=["privacy", "send-mail"])
    assert "2 sent" in result.output, result.output
    inbox.wait(2)
    notify, ack = inbox.to("info@webence.nl")[0], inbox.to("bram@example.nl")[0]
    assert "Bram" in notify["Subject"]
    assert "Werkt mijn contactformulier?" in Inbox.text(notify)
    assert "ontvangen" in ack["Subject"]
    # The stored copy is what was sent; the values it was made from are gone.
    rows = outbox(app)
    assert [r.subject for r in rows] == [notify["Subject"], ack["Subject"]]
    assert all(r.body_text and r.context is None for r in rows)
    assert "Werkt mijn contactformulier?" in rows[0].body_text


def test_a_mail_whose_template_fails_stays_queued_with_the_error(make_app, inbox):
    def broken_ack(app, db, privacy):
        # A site's own acknowledgement template with a mistake in it.
        app.jinja_loader = DictLoader({
            "webence_privacy/email/contact_ack.txt": "{{ nothing.here() }}"})

    app = make_app(setup=broken_ack)
    response = send_message(app)
    # The visitor's message is taken all the same, and the maintainer hears of it.
    assert "Bedankt voor uw bericht" in response.get_data(as_text=True)
    inbox.wait(1)
    wait_for_outbox(app, 1, kind="contact-notify", status="sent")
    [ack] = wait_for_outbox(app, 1, kind="contact-ack", status="queued", attempts=1)
    assert (ack.status, ack.body_text, ack.subject) == ("queued", None, None)
    assert ack.last_error.startswith("UndefinedError")
    assert ack.context  # kept, to render once the template is fixed
    assert len(inbox.to("info@webence.nl")) == 1 and inbox.to("bram@example.nl") == []


def test_a_mails_values_keep_their_types_and_lazy_text_its_language(app):
    state = app.extensions["webence_privacy"]
    when = dt.datetime(2026, 5, 12, 9, 30, 15, 123456)
    with app.test_request_context("/?lang=en"):
        row = state.models.ContactMessage(name="Anna", email="anna@example.nl",
                                          message="Hoi", purpose="question", created_at=when)
        frozen = mail.freeze({"when": when, "day": when.date(), "pair": ("a", 1),
                              "label": _l("Name"), "row": row, "nothing": None}, "nl")
    values = mail.thaw(frozen)
    assert values["when"] == when and values["day"] == dt.date(2026, 5, 12)
    assert values["pair"] == ["a", 1]
    assert values["label"] == "Naam"  # the mail's language, not the request's
    assert values["row"]["name"] == "Anna" and values["row"]["created_at"] == when
    assert values["nothing"] is None


def test_a_value_that_cannot_be_stored_is_refused_by_name(app):
    with app.app_context(), pytest.raises(TypeError, match="'callback'"):
        mail.freeze({"callback": object()}, "nl")


def test_a_context_processor_that_needs_a_request_does_not_stop_the_mail(make_app, inbox):
    def site_processor(app, db, privacy):
        # Common in sites: a processor reading the request (or the logged-in
        # user), which the sender, running outside any request, does not have.
        @app.context_processor
        def current_path():
            return {"current_path": request.path}

    app = make_app(setup=site_processor)
    send_message(app)
    inbox.wait(2)
    assert "Werkt mijn contactformulier?" in Inbox.text(inbox.to("info@webence.nl")[0])
    assert [r.status for r in wait_for_outbox(app, 2)] == ["sent", "sent"]


def test_draining_the_background_sender_waits_for_the_mail_it_took_on(make_app, inbox):
    # What a stopping worker does (at exit) before its process goes.
    app = make_app()
    send_message(app)
    assert mail.worker(app).drain(10)
    # No polling: once drained, both mails are out and recorded as sent.
    assert [r.status for r in outbox(app)] == ["sent", "sent"]
    assert len(inbox.messages) == 2


def test_a_stopped_watching_sender_finishes_its_mail_and_gives_the_rest_back(
        make_sqlite_app, sqlite_database, inbox, smtp_port):
    """``send-mail --watch`` under systemd: SIGTERM in the middle of a long batch
    stops it within seconds, every mail is either sent once or queued again (none
    left 'sending' until its claim runs out, none sent twice)."""
    app = make_sqlite_app(PRIVACY_MAIL_DISPATCH="sender")
    state = app.extensions["webence_privacy"]
    total = 400
    with app.app_context():
        mail.queue_all(state, [mail.Outgoing(
            kind="contact-ack", to=f"reader{n}@example.nl", template="contact_ack",
            language="nl", context={"purpose_label": "Een vraag", "controller_name": "Webence",
                                    "contact_email": "info@webence.nl"}) for n in range(total)])
        state.db.session.commit()
    env = {**os.environ, "FLASK_APP": "example_site", "FLASK_DEBUG": "0",
           "WEBENCE_SQLALCHEMY_DATABASE_URI": sqlite_database["SQLALCHEMY_DATABASE_URI"],
           "WEBENCE_PRIVACY_SITE_URL": "https://webence.test",
           "WEBENCE_SECRET_KEY": "stop-test-secret",
           "WEBENCE_PRIVACY_HASH_KEY": "stop-test-hash-key",
           "WEBENCE_MAIL_SERVER": "127.0.0.1", "WEBENCE_MAIL_PORT": str(smtp_port)}
    sender = subprocess.Popen(
        [str(BIN / "flask"), "privacy", "send-mail", "--watch", "--interval", "0.2"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        inbox.wait(20, timeout=30)
        sender.send_signal(signal.SIGTERM)
        assert sender.wait(10) == 0
    finally:
        if sender.poll() is None:
            sender.kill()
        output = sender.stdout.read().decode()
        sender.stdout.close()
    rows = outbox(app)
    statuses = {status: sum(1 for r in rows if r.status == status) for status in
                {r.status for r in rows}}
    assert "sending" not in statuses, (statuses, output)
    sent = statuses.get("sent", 0)
    assert 20 <= sent < total and statuses.get("queued", 0) == total - sent, statuses
    assert all(r.attempts == 0 for r in rows if r.status == "queued")
    time.sleep(0.2)  # nothing more arrives after the stop
    assert len(inbox.messages) == sent
    assert len({m["To"] for m in inbox.messages}) == sent  # none twice


@pytest.mark.parametrize("name", [
    "Ëlise van den Bërg-Ünïcødé, Øresund Façades & Co.",
    "B" * 200,                                   # one word as long as the form allows
    "Jan " * 50,                                 # a long name of short words
])
def test_what_the_server_receives_is_plain_rfc_5322_whatever_the_name(make_app, inbox, name):
    """The sender writes each mail's headers as stored (non-ASCII as RFC 2047
    words) without folding them again: every line within 998 octets, CRLF
    only, and the subject, sender and Reply-To read back exactly."""
    app = make_app(PRIVACY_MAIL_DISPATCH="sender")
    assert send_message(app, name=name, email="elise@example.nl").status_code == 200
    result = app.test_cli_runner().invoke(args=["privacy", "send-mail"])
    assert "2 sent" in result.output, result.output
    inbox.wait(2)
    [notify] = inbox.to("info@webence.nl")
    assert notify["Subject"] == f"Een vraag van {name.strip()}"
    assert notify["Reply-To"].addresses[0].addr_spec == "elise@example.nl"
    assert notify["From"].addresses[0].addr_spec
    assert name.strip() in Inbox.text(notify)
    for envelope in inbox.envelopes:
        raw = envelope.content
        assert b"\n" not in raw.replace(b"\r\n", b""), "a bare LF"
        assert max(len(line) for line in raw.split(b"\r\n")) <= 998
        head = raw.split(b"\r\n\r\n", 1)[0]
        assert all(b < 128 for b in head), "a header that is not ASCII"


def test_a_header_too_long_for_one_line_is_folded(make_app, inbox):
    """No header the package writes comes near 998 octets, but a site's own
    subject template that did gets it folded (Flask-Mail's way), not written
    as an overlong line a server may refuse."""
    def long_subject(app, db, privacy):
        app.jinja_loader = DictLoader({
            "webence_privacy/email/contact_ack.subject.txt": "Ontvangen " + "x" * 1500})

    app = make_app(setup=long_subject, PRIVACY_MAIL_DISPATCH="sender")
    send_message(app)
    app.test_cli_runner().invoke(args=["privacy", "send-mail"])
    [ack] = inbox.wait_to("bram@example.nl")
    assert ack["Subject"].replace(" ", "") == "Ontvangen" + "x" * 1500
    raw = next(e.content for e in inbox.envelopes if b"bram@example.nl" in e.content)
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998


def test_a_sites_own_header_with_non_ascii_text_arrives_readable(make_app, inbox):
    """Flask-Mail's own writing raises on such a header (it leaves it unencoded);
    the package writes it as RFC 2047 words."""
    app = make_app(PRIVACY_MAIL_DISPATCH="sender")
    state = app.extensions["webence_privacy"]
    with app.app_context():
        mail.queue_all(state, [mail.Outgoing(
            kind="contact-ack", to="lezer@example.nl", template="contact_ack", language="nl",
            headers={"X-Webence-Note": "Één tést van de site"},
            context={"purpose_label": "Een vraag", "controller_name": "Webence",
                     "contact_email": "info@webence.nl"})])
        state.db.session.commit()
    result = app.test_cli_runner().invoke(args=["privacy", "send-mail"])
    assert "1 sent" in result.output, result.output
    [received] = inbox.wait_to("lezer@example.nl")
    assert received["X-Webence-Note"] == "Één tést van de site"
