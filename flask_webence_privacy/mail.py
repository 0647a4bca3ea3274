"""Mail through an outbox: queued in the record's transaction, sent after commit.

A visitor's message and the mail about it are written together or not at all.
Sending happens after the commit; when the SMTP server is down the row stays
queued with its error and ``flask privacy send-mail`` (cron) delivers it later,
with a limit on attempts. Messages are built by Flask-Mail from validated values,
so no header can be smuggled in. The request writes only the mail's template and
values; whoever sends it (the background thread, ``send-mail``) renders it, so a
form's answer does not wait for its mails' templates.
"""

from __future__ import annotations

import atexit
import datetime as dt
import email.policy
import functools
import json
import logging
import os
import smtplib
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from email.generator import BytesGenerator
from io import BytesIO
from queue import Empty, SimpleQueue
from typing import Any

import sqlalchemy as sa
from flask import Flask, Response, current_app, g, has_request_context
from flask_babel.speaklater import LazyString
from flask_mail import Connection, Message
from jinja2 import TemplateNotFound
from limits import RateLimitItem, RateLimitItemPerDay
from markupsafe import escape

from . import labels
from .config import Settings
from .i18n import gettext as _
from .i18n import lazy_gettext as _l
from .language import speaking
from .models import Models, OutboxRow, insert_all, utcnow
from .net import limit_key_prefix
from .policy import format_days
from .registry import Rule, RuleContext, Source, make_source
from .state import State, get_state
from .tokens import keyed_hash

log = logging.getLogger(__name__)

#: The back-off base and cap between attempts.
BACKOFF = dt.timedelta(minutes=5)
BACKOFF_CAP = dt.timedelta(hours=6)
#: A row left "sending" this long (a worker died mid-send) is tried again.
STALE_SENDING = dt.timedelta(minutes=15)
#: What a delivered mail's stored copy says where its link was.
REDACTED = "[link removed after delivery]"
_HEADER_BREAKERS = ("\r", "\n", "\0")


class HeaderInjectionError(ValueError):
    """A value meant for a mail header held CR, LF or NUL."""


def _clean_header(value: str | None) -> str | None:
    if value is not None and any(c in value for c in _HEADER_BREAKERS):
        raise HeaderInjectionError("mail header values may not contain line breaks")
    return value


def _render(name: str, language: str, context: Mapping[str, Any]) -> str:
    # Straight from the Jinja environment, not render_template: the sender runs
    # outside any request, and the site's context processors may assume one
    # (a current user, request.path). A mail sees its own values, the package's
    # template globals and the settings, whoever renders it.
    template = current_app.jinja_env.get_or_select_template(name)
    with speaking(language):
        return template.render({"privacy_settings": get_state().settings, **context})


def render(template: str, language: str,
           context: Mapping[str, Any]) -> tuple[str, str, str | None]:
    """The subject (on one line), text and HTML of ``email/<template>`` in
    ``language``."""
    base = f"webence_privacy/email/{template}"
    subject = " ".join(_render(f"{base}.subject.txt", language, context).split())
    text = _render(f"{base}.txt", language, context)
    try:
        html: str | None = _render(f"{base}.html", language, context)
    except TemplateNotFound:  # a site may ship text-only overrides
        html = None
    return subject, text, html


# -- a mail's values, kept until the sender renders it ----------------------------------------
#
# The row stores what the templates are given as JSON: rows of the package's tables
# become their columns (a snapshot, as a rendered copy would be), lazy strings are
# resolved in the mail's language, and dates and times keep their type through a
# tag. Markup comes back as plain text (escaped in the HTML part): what the
# database holds is never taken for HTML.

_TAG = "__webence_privacy__"


def freeze(context: Mapping[str, Any], language: str) -> str:
    """``context`` as JSON for :func:`thaw`; a value of another type is refused."""
    return json.dumps({key: _freeze(key, value, language) for key, value in context.items()},
                      separators=(",", ":"))


def _freeze(key: str, value: Any, language: str) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value
    if isinstance(value, dt.datetime):
        return {_TAG: "datetime", "v": value.isoformat()}
    if isinstance(value, dt.date):
        return {_TAG: "date", "v": value.isoformat()}
    if isinstance(value, LazyString):
        # The locale is switched only here: switching it costs more than the
        # rest of a mail's values together, and most mails hold no lazy text.
        with speaking(language):
            return str(value)
    if isinstance(value, list | tuple):
        return [_freeze(key, item, language) for item in value]
    if isinstance(value, Mapping):
        return {str(k): _freeze(key, v, language) for k, v in value.items()}
    if hasattr(value, "__table__"):  # a row: its columns, as they are now
        return {attr.key: _freeze(key, getattr(value, attr.key), language)
                for attr in sa.inspect(value).mapper.column_attrs}
    raise TypeError(f"mail value {key!r} of type {type(value).__name__} cannot be stored")


def thaw(frozen: str | None) -> dict[str, Any]:
    """The values :func:`freeze` stored, with their types back."""
    return json.loads(frozen, object_hook=_thaw) if frozen else {}


def _thaw(data: dict[str, Any]) -> Any:
    tag = data.get(_TAG)
    if tag == "datetime":
        return dt.datetime.fromisoformat(data["v"])
    if tag == "date":
        return dt.date.fromisoformat(data["v"])
    return data


def content(row: OutboxRow) -> tuple[str, str, str | None]:
    """A mail's subject, text and HTML, rendered now where the sender has not yet
    (the viewer of a queued mail; the sender stores what it renders)."""
    if row.body_text is None and row.template:
        language = row.language or get_state().settings.default_language
        return render(row.template, language, thaw(row.context))
    return row.subject or "", row.body_text or "", row.body_html


@dataclass(frozen=True)
class Queued:
    """A mail written to the outbox: its id, for :func:`dispatch`."""

    id: int


@dataclass(frozen=True)
class Outgoing:
    """A mail to write to the outbox: who gets it, which template in which
    language, and the values the template is given.

    ``links`` are the working links the mail carries: kept until delivery, then
    taken out of the stored copy (:func:`redact`).
    """

    kind: str
    to: str
    template: str
    language: str
    subject_email: str | None = None
    reply_to: str | None = None
    headers: Mapping[str, str] | None = None
    links: Iterable[str] = ()
    context: Mapping[str, Any] = field(default_factory=dict)


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
    links: Iterable[str] = (),
    **context: Any,
) -> Queued:
    """Write one mail in the caller's transaction (the caller commits it with its
    record): its template, language and values (``context``). The sender renders
    it, after the response (:func:`content`)."""
    [queued] = queue_all(state, [Outgoing(
        kind=kind, to=to, template=template, language=language, subject_email=subject_email,
        reply_to=reply_to, headers=headers, links=links, context=context)])
    return queued


def queue_all(state: State, mails: Sequence[Outgoing]) -> list[Queued]:
    """Write several mails in the caller's transaction, in as few statements as
    the database allows (:func:`~flask_webence_privacy.models.insert_all`); their
    ids come back in the order given."""
    rows = outbox_rows(state, mails)
    insert_all(state.db.session, rows)
    return [Queued(row.id) for row in rows]


def outbox_rows(state: State, mails: Sequence[Outgoing]) -> list[OutboxRow]:
    """The outbox rows of ``mails``, not yet written: for a caller that writes
    them with the record they belong to in one
    :func:`~flask_webence_privacy.models.insert_all`."""
    now = utcnow()
    return [state.models.Outbox(**_row(mail, now)) for mail in mails]


def _row(mail: Outgoing, now: dt.datetime) -> dict[str, Any]:
    for value in (mail.to, mail.reply_to, *(mail.headers or {}).values()):
        _clean_header(value)
    links = list(mail.links)
    return {
        "kind": mail.kind,
        "recipient": mail.to,
        "reply_to": mail.reply_to,
        "template": mail.template,
        "language": mail.language,
        "context": freeze(mail.context, mail.language),
        "headers": json.dumps(dict(mail.headers)) if mail.headers else None,
        "subject_email": mail.subject_email,
        "live_links": json.dumps(links) if links else None,
        "status": "queued",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def _sender(settings: Settings) -> str | tuple[str, str]:
    configured: str | tuple[str, str] | None = (
        settings.mail_sender or current_app.config.get("MAIL_DEFAULT_SENDER"))
    return configured or (settings.controller_name, settings.contact_email)


#: How a mail is written: headers as Flask-Mail stored them (its subject and
#: addresses already RFC 2047 words where they are not ASCII), CRLF line ends,
#: nothing folded again. Flask-Mail's SMTP policy parsed every header once more
#: to fold it: about half of the time to send a mail, for a mail that reads the
#: same.
_WRITE_POLICY = email.policy.compat32.clone(linesep="\r\n", max_line_length=None)
#: RFC 5322's limit for any line of a message.
MAX_LINE = 998


class _Message(Message):
    """Flask-Mail's message, written without folding its headers again."""

    def as_bytes(self) -> bytes:
        built = self._message()
        built.policy = email.policy.compat32  # its headers are read as stored, too
        out = BytesIO()
        BytesGenerator(out, mangle_from_=False, policy=_WRITE_POLICY).flatten(built)
        data = out.getvalue()
        head = data.split(b"\r\n\r\n", 1)[0]
        if any(len(line) > MAX_LINE for line in head.split(b"\r\n")):
            return super().as_bytes()  # a header too long for one line: folded
        return data


def _message(row: OutboxRow, settings: Settings) -> Message:
    return _Message(
        subject=row.subject or "",
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


class _Transport:
    """One SMTP connection for a batch of mail, opened on the first message: a
    batch of several mails costs one connect, one EHLO and one login."""

    def __init__(self, timeout: float) -> None:
        self.mail = current_app.extensions["mail"]
        self.timeout = timeout
        self.connection: _TimedConnection | None = None
        self.unreachable: Exception | None = None

    def send(self, message: Message) -> None:
        if not hasattr(self.mail, "server"):  # a host's own mail object: use it as it is
            self.mail.send(message)
            return
        if self.unreachable is not None:
            raise self.unreachable  # no second wait for a server that did not answer
        if self.connection is None:
            connection = _TimedConnection(self.mail, self.timeout)
            try:
                connection.__enter__()
            except Exception as exc:
                self.unreachable = exc
                raise
            self.connection = connection
        self.connection.send(message)

    def close(self, broken: bool = False) -> None:
        if self.connection is not None:
            host = self.connection.host
            try:
                if host is not None and not broken:
                    host.quit()
                elif host is not None:
                    host.close()
            except Exception:  # noqa: BLE001 - a connection that died is closed already
                log.debug("privacy mail: closing a broken SMTP connection")
            self.connection = None


def _claim(state: State, ids: list[int], now: dt.datetime) -> list[int]:
    """Take rows for sending: a conditional UPDATE, so two senders never both send
    one mail. One statement for the batch where the database says which rows it
    changed (RETURNING); row by row elsewhere."""
    db, Outbox = state.db, state.models.Outbox
    due = sa.or_(
        sa.and_(Outbox.status == "queued", Outbox.next_attempt_at <= now),
        sa.and_(Outbox.status == "sending", Outbox.next_attempt_at <= now - STALE_SENDING),
    )
    take = (sa.update(Outbox).where(due)
            .values(status="sending", attempts=Outbox.attempts + 1, next_attempt_at=now)
            .execution_options(synchronize_session=False))
    if db.engine.dialect.update_returning:
        claimed = list(db.session.scalars(take.where(Outbox.id.in_(ids)).returning(Outbox.id)))
    else:
        claimed = [row_id for row_id in ids
                   if getattr(db.session.execute(take.where(Outbox.id == row_id)), "rowcount", 0) == 1]
    db.session.commit()
    return sorted(claimed)


def redact(row: OutboxRow) -> None:
    """Take the working links out of a mail once it is delivered: the archive of
    what was sent must not open anyone's data page (no live token at rest)."""
    links = json.loads(row.live_links) if row.live_links else []
    for link in sorted(links, key=len, reverse=True):
        if row.body_text:
            row.body_text = row.body_text.replace(link, REDACTED)
        if row.body_html:
            row.body_html = row.body_html.replace(link, REDACTED).replace(
                str(escape(link)), REDACTED)
        if row.headers:
            row.headers = row.headers.replace(json.dumps(link)[1:-1], REDACTED)
    row.live_links = None
    row.context = None


def _render_stored(row: OutboxRow) -> None:
    """Render a queued mail into its row: the copy that is sent and kept (its
    values are not needed any more)."""
    if row.body_text is None:
        subject, row.body_text, row.body_html = content(row)
        row.subject = _clean_header(subject)
        row.context = None


def _release(rows: list[OutboxRow], moment: dt.datetime) -> None:
    """Give claimed rows back unsent: queued and due, the attempt not counted."""
    for row in rows:
        row.status = "queued"
        row.attempts = max(0, row.attempts - 1)
        row.next_attempt_at = moment


def _not_sent(row: OutboxRow, exc: Exception, moment: dt.datetime, settings: Settings,
              report: dict[str, int]) -> None:
    give_up = row.attempts >= settings.mail_max_attempts
    row.status = "failed" if give_up else "queued"
    row.last_error = f"{type(exc).__name__}: {exc}"[:1000]
    row.next_attempt_at = moment + backoff(row.attempts)
    report["failed" if give_up else "deferred"] += 1
    # No address in the log line: the outbox id is enough to find it.
    log.warning("privacy mail %s not sent (attempt %s): %s",
                row.id, row.attempts, type(exc).__name__)


def send(state: State, ids: Iterable[int | None], *,
         now: dt.datetime | None = None,
         stop: threading.Event | None = None) -> dict[str, int]:
    """Send the given outbox rows now, over one SMTP connection; failures stay
    queued with their error and a back-off. When ``stop`` is set (SIGTERM) the
    mail being sent is finished and the rest goes back to the queue at once,
    rather than waiting out the stale-claim time."""
    db, settings = state.db, state.settings
    report = {"sent": 0, "failed": 0, "deferred": 0}
    moment = now or utcnow()
    claimed = _claim(state, sorted({i for i in ids if i is not None}), moment)
    if not claimed:
        return report
    Outbox = state.models.Outbox
    rows = list(db.session.scalars(sa.select(Outbox).where(Outbox.id.in_(claimed))
                                   .order_by(Outbox.id)))
    # Rendered and sent outside any transaction, each outcome written by id: a
    # transaction held open over SMTP would keep SQLite's shared lock, and a
    # visitor's form could not commit until the mail had gone.
    for row in rows:
        db.session.expunge(row)
    db.session.commit()
    transport = _Transport(settings.mail_timeout)
    try:
        for n, row in enumerate(rows):
            if stop is not None and stop.is_set():
                _release(rows[n:], moment)
                _record(state, rows[n:])
                break
            try:
                _render_stored(row)
            except Exception as exc:  # a site's template that fails: note why, keep it
                _not_sent(row, exc, moment, settings, report)
                _record(state, [row])
                continue
            try:
                transport.send(_message(row, settings))
            except Exception as exc:  # any transport failure: keep the mail, note why
                transport.close(broken=True)  # the next mail gets a fresh connection
                _not_sent(row, exc, moment, settings, report)
            else:
                row.status = "sent"
                row.sent_at = utcnow()
                row.last_error = None
                redact(row)
                report["sent"] += 1
            # Each outcome is recorded before the next mail: a crash never makes
            # a delivered mail look undelivered (and sent twice later).
            _record(state, [row])
    finally:
        transport.close()
    return report


#: The columns a sender changes: what it rendered, redacted and decided.
_OUTCOME = ("status", "attempts", "next_attempt_at", "sent_at", "last_error", "subject",
            "body_text", "body_html", "headers", "context", "live_links")


def _record(state: State, rows: list[OutboxRow]) -> None:
    """Write the outcome of sent (or given back) rows and commit: one short
    write transaction."""
    outbox = state.models.Outbox.__table__
    statement = _outcome_statement(outbox)
    for row in rows:
        state.db.session.execute(statement, {"row_id": row.id,
                                             **{key: getattr(row, key) for key in _OUTCOME}})
    state.db.session.commit()


@functools.lru_cache(maxsize=64)
def _outcome_statement(outbox: sa.Table) -> sa.Update:
    return sa.update(outbox).where(outbox.c.id == sa.bindparam("row_id")).values(
        {key: sa.bindparam(key) for key in _OUTCOME})


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


def deliver_due(state: State, *, now: dt.datetime | None = None, limit: int = 500,
                stop: threading.Event | None = None) -> dict[str, int]:
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
    return send(state, ids, now=now, stop=stop)


def within_daily_cap(state: State, kind: str, recipient: str, cap: int) -> bool:
    """Count one more mail of ``kind`` to ``recipient`` and say whether it stays
    within ``cap`` a day (the acknowledgement's cap: a form must not become a way
    to mail-bomb someone else's address).

    Counted in the rate limiter's storage, not by a query on the outbox: shared by
    every worker where limits are (``PRIVACY_RATELIMIT_STORAGE_URI``), and no
    statement on the request path. The key is a keyed hash of the address, so the
    storage never holds it. When the storage cannot be reached the mail is not
    queued: the cap protects someone else's inbox, the form's own record and the
    maintainer's mail do not depend on it.
    """
    prefix = limit_key_prefix(current_app)
    try:
        return bool(state.limiter.limiter.hit(
            _daily(cap), prefix, "mail-cap", kind, keyed_hash(recipient)))
    except Exception:  # noqa: BLE001 - the limiter's storage (Redis) is down
        log.warning("the daily cap of %r mails could not be counted (rate-limit storage "
                    "unreachable): this one is not queued", kind, exc_info=True)
        return False


@functools.lru_cache(maxsize=16)
def _daily(cap: int) -> RateLimitItem:
    return RateLimitItemPerDay(cap)


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
        field_labels={"kind": _l("Which mail"), "recipient": _l("Sent to"),
                      "subject": _l("Subject"), "created_at": _l("Written on"),
                      "sent_at": _l("Sent on")},
        value_labels={"kind": labels.MAIL_KINDS, "status": labels.MAIL_STATUSES},
    )


# -- leaving the request path ------------------------------------------------------------
#
# A view commits its rows and their mail in one transaction and answers; the
# mail goes after the response (a background thread of this process, several
# mails over one connection), to the site's task queue (PRIVACY_MAIL_DISPATCH),
# or only through `flask privacy send-mail --watch`. Every answer takes the same
# path whatever the address, so its time tells nothing about the address.

_PENDING = "_webence_privacy_mail"
#: Seconds the background sender waits for more mail before its thread ends.
IDLE = 5.0


class MailWorker:
    """One background sender per process and app, started on demand (and again
    in a forked worker): mail queued by requests goes out over one connection."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.pending: SimpleQueue[list[int]] = SimpleQueue()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.pid = 0
        # Batches handed over and not yet sent (or given up on), for drain().
        self.unfinished = 0
        self.done = threading.Condition()

    def submit(self, ids: list[int]) -> None:
        with self.done:
            self.unfinished += 1
        self.pending.put(ids)
        with self.lock:
            if self.thread is None or self.pid != os.getpid() or not self.thread.is_alive():
                self.pid = os.getpid()
                self.thread = threading.Thread(target=self._run, name="privacy-mail", daemon=True)
                self.thread.start()

    def _run(self) -> None:
        while True:
            try:
                batch = self.pending.get(timeout=IDLE)
            except Empty:
                with self.lock:
                    if self.pending.empty():
                        self.thread = None
                        return
                continue
            batches = 1
            while True:  # what else has come meanwhile goes over the same connection
                try:
                    batch += self.pending.get_nowait()
                    batches += 1
                except Empty:
                    break
            try:
                self._send(batch)
            finally:
                with self.done:
                    self.unfinished -= batches
                    self.done.notify_all()

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every mail handed over has been tried (a worker shutting
        down, a test tearing down its database); False if time ran out."""
        with self.done:
            return self.done.wait_for(lambda: self.unfinished <= 0, timeout)

    def _send(self, ids: list[int]) -> None:
        with self.app.app_context():
            state = get_state()
            try:
                send(state, ids)
            except Exception as exc:  # noqa: BLE001 - the rows stay queued for send-mail
                log.warning("privacy mail: background sending failed (%s); "
                            "flask privacy send-mail will deliver", type(exc).__name__)
            finally:
                state.db.session.remove()


_workers: weakref.WeakKeyDictionary[Flask, MailWorker] = weakref.WeakKeyDictionary()


@atexit.register
def _drain_at_exit() -> None:
    """A worker that stops (gunicorn's graceful restart) first sends what it took
    on, rather than leave it "sending" until the stale-claim wait is over."""
    for found in list(_workers.values()):
        found.drain(IDLE)


def worker(app: Flask) -> MailWorker:
    found = _workers.get(app)
    if found is None:
        found = _workers[app] = MailWorker(app)
    return found


def dispatch(state: State, ids: Iterable[int | None]) -> None:
    """Hand committed outbox rows to delivery, never sending inside a request."""
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return
    how = state.settings.mail_dispatch
    if callable(how):
        how(wanted)  # the site's task queue; the outbox stays the record
    elif how == "sender":
        return  # `flask privacy send-mail --watch` (or cron) delivers
    elif has_request_context():
        pending: list[int] = g.setdefault(_PENDING, [])
        pending.extend(wanted)
    else:
        send(state, wanted)  # a command or a shell: nobody waits for an answer


def _after_response(response: Response) -> Response:
    """Hand the request's committed mail to the background sender as the answer
    leaves: the sender is a thread, so the visitor never waits for SMTP. Not on
    the response's close: a server may close it late (Werkzeug's, when the
    browser follows a 303 at once), and mail would wait on an unrelated socket."""
    ids: list[int] | None = g.pop(_PENDING, None)
    if ids:
        worker(current_app._get_current_object()).submit(ids)  # type: ignore[attr-defined]
    return response


def init_app(app: Flask) -> None:
    app.after_request(_after_response)


def watch(state: State, *, interval: float, stop: threading.Event,
          on_report: Callable[[dict[str, int]], None] | None = None) -> None:
    """``flask privacy send-mail --watch``: deliver what is due, then again every
    ``interval`` seconds until ``stop`` is set (SIGTERM from systemd)."""
    while not stop.is_set():
        report = deliver_due(state, stop=stop)
        state.db.session.remove()
        if on_report is not None and any(report.values()):
            on_report(report)
        stop.wait(interval)
