"""Sending what the outbox holds: claim, render, send, record; retry with a
back-off; take over what a dead sender held.

A sender claims rows with a conditional UPDATE, so two never both send one mail.
A claim is a lease: a row left "sending" longer than :func:`claim_lease` (a
sender killed mid-batch, a database cut) is due again, and a sender working
through a long batch renews the claims it still holds. Mail older than
``PRIVACY_OUTBOX_DAYS`` is not sent any more (the purge deletes it): a message
is never delivered, or kept, past the period the privacy page states.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable

import sqlalchemy as sa
from markupsafe import escape

from ..config import Settings
from ..models import OutboxRow, utcnow
from ..state import State
from ..text import printable
from .render import content
from .smtp import Transport, message

log = logging.getLogger(__name__)

#: The back-off base and cap between attempts.
BACKOFF = dt.timedelta(minutes=5)
BACKOFF_CAP = dt.timedelta(hours=6)
#: How much longer than ``PRIVACY_MAIL_TIMEOUT`` a claim holds: connecting,
#: greeting, logging in and sending each wait at most that long, and a sender
#: renews its claims while it works through a batch.
CLAIM_MARGIN = dt.timedelta(seconds=50)
#: What a delivered mail's stored copy says where its link was.
REDACTED = "[link removed after delivery]"
#: The subject column's length: a longer subject (a site's own template) is
#: sent whole and stored cut, or the outcome of a sent mail could not be written.
SUBJECT_LENGTH = 255


def claim_lease(settings: Settings) -> dt.timedelta:
    """How long a claim holds before another sender may take the row (a minute
    with the default ten-second timeout)."""
    return dt.timedelta(seconds=settings.mail_timeout) + CLAIM_MARGIN


def due(state: State, now: dt.datetime) -> sa.ColumnElement[bool]:
    """Rows to send at ``now``: queued and their time come, or claimed by a
    sender whose lease has run out; written within the outbox period."""
    Outbox, settings = state.models.Outbox, state.settings
    return sa.and_(
        Outbox.created_at >= now - dt.timedelta(days=settings.outbox_days),
        sa.or_(sa.and_(Outbox.status == "queued", Outbox.next_attempt_at <= now),
               sa.and_(Outbox.status == "sending",
                       Outbox.next_attempt_at <= now - claim_lease(settings))))


def _claim(state: State, ids: list[int], now: dt.datetime) -> list[int]:
    """Take rows for sending: a conditional UPDATE, so two senders never both send
    one mail. One statement for the batch where the database says which rows it
    changed (RETURNING); row by row elsewhere."""
    db, Outbox = state.db, state.models.Outbox
    take = (sa.update(Outbox).where(due(state, now))
            .values(status="sending", attempts=Outbox.attempts + 1, next_attempt_at=now)
            .execution_options(synchronize_session=False))
    if db.engine.dialect.update_returning:
        claimed = list(db.session.scalars(take.where(Outbox.id.in_(ids)).returning(Outbox.id)))
    else:
        claimed = [row_id for row_id in ids
                   if getattr(db.session.execute(take.where(Outbox.id == row_id)), "rowcount", 0) == 1]
    db.session.commit()
    return sorted(claimed)


def _renew(state: State, ids: list[int], now: dt.datetime) -> None:
    """Renew the claims this sender still holds (the heartbeat of a long batch)."""
    Outbox = state.models.Outbox
    state.db.session.execute(
        sa.update(Outbox).where(Outbox.id.in_(ids), Outbox.status == "sending")
        .values(next_attempt_at=now).execution_options(synchronize_session=False))
    state.db.session.commit()


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
    values are not needed any more). The subject as one line of plain text, its
    control characters written out."""
    if row.body_text is None:
        subject, row.body_text, row.body_html = content(row)
        row.subject = printable(subject)
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


class _Clock:
    """``now`` as the caller gave it, moved on by the time since: a sender's
    clock when a command or a test names the moment it runs at."""

    def __init__(self, start: dt.datetime) -> None:
        self.start, self.started = start, time.monotonic()

    def __call__(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=time.monotonic() - self.started)


def send(state: State, ids: Iterable[int | None], *,
         now: dt.datetime | None = None,
         stop: threading.Event | None = None) -> dict[str, int]:
    """Send the given outbox rows now, over one SMTP connection; failures stay
    queued with their error and a back-off. When ``stop`` is set (SIGTERM) the
    mail being sent is finished and the rest goes back to the queue at once,
    rather than waiting out the claim."""
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
    clock, renewed, lease = _Clock(moment), moment, claim_lease(settings)
    transport = Transport(settings.mail_timeout)
    try:
        for n, row in enumerate(rows):
            if stop is not None and stop.is_set():
                _release(rows[n:], moment)
                _record(state, rows[n:])
                break
            if clock() - renewed >= lease / 3:
                renewed = clock()
                _renew(state, [r.id for r in rows[n:]], renewed)
            _send_one(state, transport, row, moment, report)
    finally:
        transport.close()
    return report


def _send_one(state: State, transport: Transport, row: OutboxRow, moment: dt.datetime,
              report: dict[str, int]) -> None:
    settings = state.settings
    try:
        _render_stored(row)
    except Exception as exc:  # a site's template that fails: note why, keep it
        _not_sent(row, exc, moment, settings, report)
        _record(state, [row])
        return
    try:
        transport.send(message(row, settings))
    except Exception as exc:  # any transport failure: keep the mail, note why
        transport.close(broken=True)  # the next mail gets a fresh connection
        _not_sent(row, exc, moment, settings, report)
    else:
        row.status = "sent"
        row.sent_at = utcnow()
        row.last_error = None
        redact(row)
        report["sent"] += 1
    # Each outcome is recorded before the next mail: a crash never makes a
    # delivered mail look undelivered (and sent twice later).
    _record(state, [row])


#: The columns a sender changes: what it rendered, redacted and decided.
_OUTCOME = ("status", "attempts", "next_attempt_at", "sent_at", "last_error", "subject",
            "body_text", "body_html", "headers", "context", "live_links")


def _record(state: State, rows: list[OutboxRow]) -> None:
    """Write the outcome of sent (or given back) rows and commit: one short
    write transaction."""
    outbox = state.models.Outbox.__table__
    statement = _outcome_statement(outbox)
    for row in rows:
        values = {key: getattr(row, key) for key in _OUTCOME}
        if row.subject is not None:
            values["subject"] = row.subject[:SUBJECT_LENGTH]
        state.db.session.execute(statement, {"row_id": row.id, **values})
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
    """What ``flask privacy send-mail`` does: send every row :func:`due` now,
    claims of a sender that died included."""
    now = now or utcnow()
    Outbox = state.models.Outbox
    ids = state.db.session.scalars(
        sa.select(Outbox.id).where(due(state, now)).order_by(Outbox.id).limit(limit)).all()
    return send(state, ids, now=now, stop=stop)


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
