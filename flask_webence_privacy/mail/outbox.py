"""Writing mail to the outbox, in the caller's transaction: a record and the mail
about it are stored together or not at all."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..models import OutboxRow, insert_all, utcnow
from ..state import State
from .frozen import freeze
from .headers import refuse_breaks


@dataclass(frozen=True)
class Queued:
    """A mail written to the outbox: its id, for :func:`~.dispatch.dispatch`."""

    id: int


@dataclass(frozen=True)
class Outgoing:
    """A mail to write to the outbox: who gets it, which template in which
    language, and the values the template is given.

    ``links`` are the working links the mail carries: kept until delivery, then
    taken out of the stored copy (:func:`~.delivery.redact`).
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
    it, after the response (:func:`~.render.content`)."""
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
        refuse_breaks(value)
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
