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
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import sqlalchemy as sa
from flask import current_app, render_template
from flask_babel import force_locale
from flask_mail import Connection, Message
from jinja2 import TemplateNotFound

from .config import Settings
from .i18n import gettext as _
from .models import Models, OutboxRow, utcnow
from .policy import format_days
from .registry import Rule, RuleContext, Source, make_source
from .state import State

log = logging.getLogger(__name__)

#: The back-off base and cap between attempts.
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
            html: str | None = render_template(f"{base}.html", **context)
        except TemplateNotFound:  # a site may ship text-only overrides
            html = None
    return " ".join(subject.split()), text, html


def queue(
    state: State,
    *,
    kind: str,
    to: str,
    template: str,
    language: str,
    subject_email: str | None = None,
    reply_to: str | None = None,
    headers: Mapping[str, str] | None = None,
    **context: Any,
) -> OutboxRow:
    """Add a rendered mail to the session (the caller commits with its record)."""
    subject, text, html = render(template, language, **context)
    for value in (to, reply_to, subject, *(headers or {}).values()):
        _clean_header(value)
    row = state.models.Outbox(
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
    state.db.session.add(row)
    return row


def _sender(settings: Settings) -> str | tuple[str, str]:
    configured: str | tuple[str, str] | None = (
        settings.mail_sender or current_app.config.get("MAIL_DEFAULT_SENDER"))
    return configured or (settings.controller_name, settings.contact_email)


def _message(row: OutboxRow, settings: Settings) -> Message:
    return Message(
        subject=row.subject,
        recipients=[row.recipient],
        body=row.body_text,
        html=row.body_html,
        sender=_sender(settings),
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


def _deliver(message: Message, timeout: float) -> None:
    mail = current_app.extensions["mail"]
    if not hasattr(mail, "server"):  # a host's own mail object: use it as it is
        mail.send(message)
        return
    with _TimedConnection(mail, timeout) as connection:
        connection.send(message)


def _claim(state: State, row_id: int, now: dt.datetime) -> bool:
    """Take one row for sending; a conditional UPDATE so two workers never both send."""
    db, Outbox = state.db, state.models.Outbox
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
    return getattr(result, "rowcount", 0) == 1


def send(state: State, ids: Iterable[int | None], *,
         now: dt.datetime | None = None) -> dict[str, int]:
    """Send the given outbox rows now; failures stay queued with their error."""
    db, settings = state.db, state.settings
    report = {"sent": 0, "failed": 0, "deferred": 0}
    for row_id in ids:
        if row_id is None:
            continue
        moment = now or utcnow()
        if not _claim(state, row_id, moment):
            continue
        row = db.session.get(state.models.Outbox, row_id)
        if row is None:
            continue
        db.session.refresh(row)
        try:
            _deliver(_message(row, settings), settings.mail_timeout)
        except Exception as exc:  # any transport failure: keep the mail, note why
            give_up = row.attempts >= settings.mail_max_attempts
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


def backoff(attempts: int) -> dt.timedelta:
    """Wait before the next try after ``attempts`` failures.

    The first failure is usually the send right after a visitor's submit; the
    next cron run may retry at once (cron's own interval is the pause). After
    that the wait doubles from BACKOFF, capped, so a long outage is not hammered
    and a message still goes out within hours of the server's return.
    """
    if attempts <= 1:
        return dt.timedelta(0)
    doublings: int = 2 ** (attempts - 2)
    return min(BACKOFF * doublings, BACKOFF_CAP)


def deliver_due(state: State, *, now: dt.datetime | None = None,
                limit: int = 500) -> dict[str, int]:
    """What ``flask privacy send-mail`` does: send every queued row whose time has come."""
    now = now or utcnow()
    db, Outbox = state.db, state.models.Outbox
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
    return send(state, ids, now=now)


def sent_today(state: State, kind: str, recipient: str, now: dt.datetime) -> int:
    """Mails of ``kind`` queued for ``recipient`` in the last day (a cap's count)."""
    Outbox = state.models.Outbox
    return state.db.session.scalar(
        sa.select(sa.func.count(Outbox.id)).where(
            Outbox.kind == kind, Outbox.recipient == recipient,
            Outbox.created_at >= now - dt.timedelta(days=1))) or 0


# -- as a source of personal data, with its retention ------------------------------------


def _rules(source: Source, context: RuleContext) -> Iterator[Rule]:
    """Sent mail, and mail given up on, go ``PRIVACY_OUTBOX_DAYS`` after sending or
    queueing; queued mail is kept until it is delivered."""
    Outbox = context.models.Outbox
    cutoff = context.now - dt.timedelta(days=context.settings.outbox_days)
    subject = source.subject_key()
    yield Rule(source.table, source.name, "sent", cutoff,
               sa.and_(Outbox.status == "sent", Outbox.sent_at < cutoff), subject)
    yield Rule(source.table, source.name, "failed", cutoff,
               sa.and_(Outbox.status == "failed", Outbox.created_at < cutoff), subject)


def _period(settings: Settings) -> str:
    return _("%(short)s after sending, or after delivery failed",
             short=format_days(settings.outbox_days))


def source(models: Models) -> Source:
    return make_source(
        models.Outbox,
        email="subject_email",
        other_emails=("recipient",),
        label={"en": "Mail we sent you", "nl": "E-mail die wij u stuurden"},
        purpose={"en": "Delivering mail about your messages and requests",
                 "nl": "E-mail over uw berichten en verzoeken bezorgen"},
        fields=("kind", "recipient", "subject", "status", "created_at", "sent_at"),
        builtin=True,
        canonical_email=True,
        rules=_rules,
        period=_period,
    )
