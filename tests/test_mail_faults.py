"""Mail that never strands: a database whose one connection serves every thread,
a sender that died holding its claims, a retry the recipient's server sees twice,
mail that outlives its period; and headers that show what a visitor typed."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import logging
import threading
import time
from email.utils import formataddr
from typing import Any

import pytest
import sqlalchemy as sa
from jinja2 import DictLoader

from flask_webence_privacy import mail
from flask_webence_privacy.mail import delivery
from flask_webence_privacy.models import utcnow

from .conftest import AppFactory, csrf_token, free_port, handles

URL = "/privacy/contact"
ENCODED_WORD = "=?utf-8?q?Urgent=3A_reset_password?="


def post_contact(client: Any, **extra: str) -> Any:
    data = {"csrf_token": csrf_token(client, URL), "purpose": "question", "name": "Bram",
            "email": "bram@example.nl", "message": "Werkt het?", "age_ok": "y", **extra}
    return client.post(URL, data=data, follow_redirects=True)


def outbox(app: Any) -> list[Any]:
    db, _ = handles(app)
    Outbox = app.extensions["webence_privacy"].models.Outbox
    with app.app_context():
        rows = db.session.scalars(sa.select(Outbox).order_by(Outbox.id)).all()
        db.session.expunge_all()
        db.session.remove()
    return list(rows)


def queue_ack(app: Any, to: str = "bram@example.nl") -> int:
    """One acknowledgement written to the outbox, as a form would, not sent."""
    state = app.extensions["webence_privacy"]
    with app.app_context():
        [queued] = mail.queue_all(state, [mail.Outgoing(
            kind="contact-ack", to=to, template="contact_ack", language="nl",
            context={"purpose_label": "Een vraag", "controller_name": "Webence",
                     "contact_email": "info@webence.nl"})])
        state.db.session.commit()
        state.db.session.remove()
    return queued.id


def set_row(app: Any, row_id: int, **values: Any) -> None:
    db, _ = handles(app)
    Outbox = app.extensions["webence_privacy"].models.Outbox
    with app.app_context():
        db.session.execute(sa.update(Outbox).where(Outbox.id == row_id).values(**values))
        db.session.commit()
        db.session.remove()


def send_mail(app: Any) -> str:
    result = app.test_cli_runner().invoke(args=["privacy", "send-mail"])
    assert result.exit_code == 0, result.output
    return result.output


# -- SQLite in memory: one connection for every thread -----------------------------------


@pytest.fixture
def make_memory_app(smtp_port: int) -> Any:
    """Apps on ``sqlite://``, as Flask-SQLAlchemy sets it up for a test suite: a
    StaticPool, the one connection shared by every thread."""
    factory = AppFactory({"SQLALCHEMY_DATABASE_URI": "sqlite://"}, smtp_port)
    yield factory
    factory.teardown()


def test_on_sqlite_in_memory_every_mail_is_sent_by_the_time_the_answer_is_read(
        make_memory_app, inbox, caplog):
    app = make_memory_app(PRIVACY_CONTACT_RATE_LIMIT="1000 per minute")
    client = app.test_client()
    with caplog.at_level(logging.WARNING):
        for n in range(30):
            response = post_contact(client, email=f"reader{n}@example.nl",
                                    message=f"Bericht {n}")
            assert response.status_code == 200
            # The test reads the database right after the answer, as a host's
            # own tests do: the sender never used the connection meanwhile.
            rows = outbox(app)
            assert [r.status for r in rows] == ["sent"] * (2 * (n + 1)), n
    assert len(inbox.wait(60)) == 60
    assert {r.status for r in outbox(app)} == {"sent"}
    assert [r for r in caplog.records if r.name.startswith("flask_webence_privacy")] == []


def test_on_sqlite_in_memory_the_visit_log_writes_in_the_pages_thread(make_memory_app):
    app = make_memory_app(PRIVACY_VISIT_LOG=True)
    client = app.test_client()
    for _ in range(5):
        assert client.get("/privacy/").status_code == 200
    db, _ = handles(app)
    VisitLog = app.extensions["webence_privacy"].models.VisitLog
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(VisitLog)) == 5


# -- a sender that died holding its claims -----------------------------------------------


def test_a_dead_senders_claim_is_retaken_by_send_mail_within_a_minute(make_app, inbox):
    app = make_app(PRIVACY_MAIL_DISPATCH="sender")
    now = utcnow()
    dead = queue_ack(app, "dead@example.nl")
    alive = queue_ack(app, "alive@example.nl")
    # One claimed 61 s ago by a worker that was SIGKILLed; one 20 s ago by a
    # sender still at work.
    set_row(app, dead, status="sending", attempts=1,
            next_attempt_at=now - dt.timedelta(seconds=61))
    set_row(app, alive, status="sending", attempts=1,
            next_attempt_at=now - dt.timedelta(seconds=20))
    assert "1 sent" in send_mail(app)
    [message] = inbox.wait(1)
    assert str(message["To"]) == "dead@example.nl"
    assert {r.recipient: (r.status, r.attempts) for r in outbox(app)} == {
        "dead@example.nl": ("sent", 2), "alive@example.nl": ("sending", 1)}


def test_a_long_batch_renews_its_claims_so_no_second_sender_takes_them(
        make_app, inbox, monkeypatch):
    """A claim lasts PRIVACY_MAIL_TIMEOUT and a margin; a sender working through
    a batch longer than that renews what it still holds (here the claim lasts a
    second and each mail takes 0.25 s to render)."""
    monkeypatch.setattr(delivery, "CLAIM_MARGIN", dt.timedelta(seconds=0.9))

    def slow_templates(app, db, privacy):
        app.jinja_env.globals["slowly"] = lambda: time.sleep(0.25) or ""
        app.jinja_loader = DictLoader({
            "webence_privacy/email/contact_ack.txt": "{{ slowly() }}Ontvangen."})

    app = make_app(setup=slow_templates, PRIVACY_MAIL_DISPATCH="sender",
                   PRIVACY_MAIL_TIMEOUT=0.1)
    ids = [queue_ack(app, f"reader{n}@example.nl") for n in range(8)]
    state = app.extensions["webence_privacy"]
    reports: list[dict[str, int]] = []

    def first_sender() -> None:
        with app.app_context():
            reports.append(mail.send(state, ids))

    thread = threading.Thread(target=first_sender)
    started = time.monotonic()
    thread.start()
    while thread.is_alive() and "sending" not in {r.status for r in outbox(app)}:
        time.sleep(0.01)  # the first sender has claimed the batch
    while thread.is_alive():  # a second sender (cron) runs every 0.1 s meanwhile
        with app.app_context():
            reports.append(mail.deliver_due(state))
        thread.join(0.1)
    assert time.monotonic() - started > 1.5  # the batch outlasted its first claim
    messages = inbox.wait(8)
    assert sorted(str(m["To"]) for m in messages) == sorted(
        f"reader{n}@example.nl" for n in range(8))
    assert sum(r["sent"] for r in reports) == 8
    assert {(r.status, r.attempts) for r in outbox(app)} == {("sent", 1)}


# -- a retry the recipient's server sees twice ---------------------------------------------


class GreylistingServer:
    """An SMTP server that takes a message's data and then answers 451 the first
    time (a greylisting server, or one whose answer is lost): the mail arrives
    twice, once per attempt."""

    def __init__(self) -> None:
        self.received: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.received.append(email.message_from_bytes(envelope.content,
                                                      policy=email.policy.default))
        return "451 try again later" if len(self.received) == 1 else "250 OK"


@pytest.fixture
def greylisting() -> Any:
    from aiosmtpd.controller import Controller

    handler = GreylistingServer()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller.port, handler
    controller.stop()


def test_a_retried_mail_keeps_its_message_id(make_app, greylisting):
    port, server = greylisting
    app = make_app(MAIL_PORT=port, PRIVACY_MAIL_DISPATCH="sender")
    row_id = queue_ack(app)
    assert "1 to retry later" in send_mail(app)
    assert "1 sent" in send_mail(app)
    first, second = server.received
    assert first["Message-ID"] == second["Message-ID"]
    # Of the site, and naming nobody: the row's id and a keyed hash.
    assert first["Message-ID"].startswith(f"<privacy.{row_id}.")
    assert first["Message-ID"].endswith("@webence.test>")
    assert "bram" not in first["Message-ID"]
    other = queue_ack(app, "anna@example.nl")
    assert "1 sent" in send_mail(app)
    assert server.received[2]["Message-ID"].startswith(f"<privacy.{other}.")


# -- mail that outlives its period ---------------------------------------------------------


def test_unsent_mail_is_given_up_and_deleted_when_the_outbox_period_ends(make_app, inbox):
    app = make_app(PRIVACY_MAIL_DISPATCH="sender")
    now = utcnow()
    old_queued = queue_ack(app, "old@example.nl")
    old_claimed = queue_ack(app, "claimed@example.nl")
    recent = queue_ack(app, "recent@example.nl")
    set_row(app, old_queued, created_at=now - dt.timedelta(days=31),
            next_attempt_at=now - dt.timedelta(days=1), attempts=3)
    set_row(app, old_claimed, created_at=now - dt.timedelta(days=31), status="sending",
            next_attempt_at=now - dt.timedelta(days=20), attempts=1)
    set_row(app, recent, created_at=now - dt.timedelta(days=29))
    # The sender no longer tries what is past the period ...
    assert "1 sent" in send_mail(app)
    assert [str(m["To"]) for m in inbox.wait(1)] == ["recent@example.nl"]
    # ... and the purge deletes it, with the visitor's words inside.
    _, privacy = handles(app)
    with app.app_context():
        report = privacy.purge()
    assert report.count("Outbox") == 2
    assert [r.recipient for r in outbox(app)] == ["recent@example.nl"]


def test_the_privacy_page_says_undelivered_mail_goes_with_the_period(app):
    page = app.test_client().get("/privacy/?lang=en").get_data(as_text=True)
    assert ("30 days after sending; mail that could not be delivered, 30 days after it "
            "was written") in page


# -- flask privacy check -------------------------------------------------------------------


def test_the_check_warns_of_mail_due_or_claimed_too_long(make_app):
    app = make_app(PRIVACY_MAIL_DISPATCH="sender")
    now = utcnow()
    fresh = queue_ack(app, "fresh@example.nl")
    result = app.test_cli_runner().invoke(args=["privacy", "check"])
    assert "privacy.W009" not in result.output  # mail of a minute ago: cron's next run
    waiting, claimed = queue_ack(app, "waiting@example.nl"), queue_ack(app, "claimed@example.nl")
    set_row(app, waiting, next_attempt_at=now - dt.timedelta(minutes=20))
    set_row(app, claimed, status="sending", next_attempt_at=now - dt.timedelta(minutes=20))
    result = app.test_cli_runner().invoke(args=["privacy", "check"])
    assert result.exit_code != 0
    assert ("privacy.W009: 1 mail(s) due for more than 15 minutes and 1 claimed by a sender "
            "that stopped are not sent") in result.output
    assert fresh


# -- headers show what was typed -----------------------------------------------------------


def test_a_name_that_reads_as_an_encoded_word_arrives_as_typed(make_app, inbox):
    app = make_app()
    client = app.test_client()
    assert post_contact(client, name=ENCODED_WORD).status_code == 200
    [notify] = inbox.wait_to("info@webence.nl")
    # The maintainer's program decodes encoded words: it shows the name as typed.
    assert notify["Subject"] == f"Een vraag van {ENCODED_WORD}"
    assert "Urgent: reset password" not in notify["Subject"]


def test_a_reply_to_name_and_a_subject_with_control_characters_arrive_literally(
        make_app, inbox):
    def escaping_subject(app, db, privacy):
        app.jinja_loader = DictLoader({
            "webence_privacy/email/contact_ack.subject.txt": "Ontvangen \x1b]0;pwned\x07 klaar"})

    app = make_app(setup=escaping_subject, PRIVACY_MAIL_DISPATCH="sender")
    state = app.extensions["webence_privacy"]
    with app.app_context():
        mail.queue(state, kind="contact-ack", to="bram@example.nl", template="contact_ack",
                   language="nl", reply_to=formataddr((ENCODED_WORD, "anna@example.nl")),
                   purpose_label="Een vraag", controller_name="Webence",
                   contact_email="info@webence.nl")
        state.db.session.commit()
    assert "1 sent" in send_mail(app)
    [message] = inbox.wait(1)
    assert message["Subject"] == "Ontvangen \\x1b]0;pwned\\x07 klaar"
    [reply_to] = message["Reply-To"].addresses
    assert (reply_to.display_name, reply_to.addr_spec) == (ENCODED_WORD, "anna@example.nl")
    raw = inbox.envelopes[0].content
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert b"\x1b" not in head and b"\x07" not in head
