"""Mail through an outbox: queued in the record's transaction, sent after commit.

A visitor's message and the mail about it are written together or not at all.
Sending happens after the commit; when the SMTP server is down the row stays
queued with its error and ``flask privacy send-mail`` (cron) delivers it later,
with a limit on attempts. Messages are built by Flask-Mail from validated values,
so no header can be smuggled in.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import smtplib
from collections.abc import Iterable, Mapping
from typing import Any

from flask import current_app, render_template
from flask_babel import force_locale
from flask_mail import Connection, Message

from .models import utcnow

log = logging.getLogger(__name__)

#: Attempts before a mail is given up on (status "failed"), and the back-off base.
MAX_ATTEMPTS = 6
BACKOFF = dt.timedelta(minutes=5)
BACKOFF_CAP = dt.timedelta(hours=6)
#: A row left "sending" this long (a worker died mid-send) is tried again.
STALE_SENDING = dt.timedelta(minutes=15)
_HEADER_BREAKERS = ("\r", "\n", "\0")


class HeaderInjectionError(ValueError):
    """A value meant for a mail header held CR, LF or NUL."""


def _clean_header(value: str | None) -> str | None:
    if value is not None and any(c in value for c in _HEADER_BREAKERS):
        raise HeaderInjectionError("mail header values may not contain line breaks")
    return value


def render(template: str, language: str, **context: Any) -> tuple[str, str, str | None]:
    """Render ``email/<template>`` (.subject.txt, .txt, .html) in ``language``."""
    base = f"webence_privacy/email/{template}"
    with force_locale(language):
        subject = render_template(f"{base}.subject.txt", **context).strip()
        text = render_template(f"{base}.txt", **context)
        try:
            html = render_template(f"{base}.html", **context)
        except Exception as exc:  # a site may ship text-only overrides
            if type(exc).__name__ != "TemplateNotFound":
                raise
            html = None
    return " ".join(subject.split()), text, html


def queue(
    db: Any,
    models: Any,
    *,
    kind: str,
    to: str,
    template: str,
    language: str,
    subject_email: str | None = None,
    reply_to: str | None = None,
    headers: Mapping[str, str] | None = None,
    **context: Any,
) -> Any:
    """Add a rendered mail to the session (the caller commits with its record)."""
    subject, text, html = render(template, language, **context)
    for value in (to, reply_to, subject, *(headers or {}).values()):
        _clean_header(value)
    row = models.Outbox(
        kind=kind,
        recipient=to,
        reply_to=reply_to,
        subject=subject,
        body_text=text,
        body_html=html,
        headers=json.dumps(dict(headers)) if headers else None,
        subject_email=subject_email,
        status="queued",
        next_attempt_at=utcnow(),
    )
    db.session.add(row)
    return row


def _sender() -> Any:
    config = current_app.config
    return (
        config.get("PRIVACY_MAIL_SENDER")
        or config.get("MAIL_DEFAULT_SENDER")
        or (config["PRIVACY_CONTROLLER_NAME"], config["PRIVACY_CONTACT_EMAIL"])
    )


def _message(row: Any) -> Message:
    return Message(
        subject=row.subject,
        recipients=[row.recipient],
        body=row.body_text,
        html=row.body_html,
        sender=_sender(),
        reply_to=row.reply_to,
        extra_headers=json.loads(row.headers) if row.headers else None,
    )


class _TimedConnection(Connection):
    """Flask-Mail's connection with a socket timeout: Flask-Mail sets none, so a
    server that accepts but never answers would hang the visitor's request."""

    def __init__(self, mail: Any, timeout: float) -> None:
        super().__init__(mail)
        self.timeout = timeout

    def configure_host(self) -> smtplib.SMTP:
        mail = self.mail
        smtp = smtplib.SMTP_SSL if mail.use_ssl else smtplib.SMTP
        host = smtp(mail.server, mail.port, timeout=self.timeout)
        host.set_debuglevel(int(mail.debug))
        if mail.use_tls:
            host.starttls()
        if mail.username and mail.password:
            host.login(mail.username, mail.password)
        return host


def _deliver(message: Message) -> None:
    mail = current_app.extensions["mail"]
    if not hasattr(mail, "server"):  # a host's own mail object: use it as it is
        mail.send(message)
        return
    timeout = float(current_app.config.get("PRIVACY_MAIL_TIMEOUT") or 10)
    with _TimedConnection(mail, timeout) as connection:
        connection.send(message)


def _claim(db: Any, models: Any, row_id: int, now: dt.datetime) -> bool:
    """Take one row for sending; a conditional UPDATE so two workers never both send."""
    Outbox = models.Outbox
    result = db.session.execute(
        db.update(Outbox)
        .where(Outbox.id == row_id)
        .where(
            db.or_(
                db.and_(Outbox.status == "queued", Outbox.next_attempt_at <= now),
                db.and_(Outbox.status == "sending", Outbox.next_attempt_at <= now - STALE_SENDING),
            )
        )
        .values(status="sending", attempts=Outbox.attempts + 1, next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


def send(db: Any, models: Any, ids: Iterable[int], *, now: dt.datetime | None = None) -> dict:
    """Send the given outbox rows now; failures stay queued with their error."""
    report = {"sent": 0, "failed": 0, "deferred": 0}
    for row_id in ids:
        moment = now or utcnow()
        if not _claim(db, models, row_id, moment):
            continue
        row = db.session.get(models.Outbox, row_id)
        db.session.refresh(row)
        try:
            _deliver(_message(row))
        except Exception as exc:  # any transport failure: keep the mail, note why
            give_up = row.attempts >= max_attempts()
            row.status = "failed" if give_up else "queued"
            row.last_error = f"{type(exc).__name__}: {exc}"[:1000]
            row.next_attempt_at = moment + backoff(row.attempts)
            report["failed" if give_up else "deferred"] += 1
            # No address in the log line: the outbox id is enough to find it.
            log.warning("privacy mail %s not sent (attempt %s): %s",
                        row.id, row.attempts, type(exc).__name__)
        else:
            row.status = "sent"
            row.sent_at = utcnow()
            row.last_error = None
            report["sent"] += 1
        db.session.commit()
    return report


def max_attempts() -> int:
    return int(current_app.config.get("PRIVACY_MAIL_MAX_ATTEMPTS") or MAX_ATTEMPTS)


def backoff(attempts: int) -> dt.timedelta:
    """Wait before the next try after ``attempts`` failures.

    The first failure is usually the send right after a visitor's submit; the
    next cron run may retry at once (cron's own interval is the pause). After
    that the wait doubles from BACKOFF, capped, so a long outage is not hammered
    and a message still goes out within hours of the server's return.
    """
    if attempts <= 1:
        return dt.timedelta(0)
    return min(BACKOFF * (2 ** (attempts - 2)), BACKOFF_CAP)


def deliver_due(db: Any, models: Any, *, now: dt.datetime | None = None,
                limit: int = 500) -> dict:
    """What ``flask privacy send-mail`` does: send every queued row whose time has come."""
    now = now or utcnow()
    Outbox = models.Outbox
    ids = db.session.scalars(
        db.select(Outbox.id)
        .where(
            db.or_(
                db.and_(Outbox.status == "queued", Outbox.next_attempt_at <= now),
                db.and_(Outbox.status == "sending", Outbox.next_attempt_at <= now - STALE_SENDING),
            )
        )
        .order_by(Outbox.id)
        .limit(limit)
    ).all()
    return send(db, models, ids, now=now)
