"""Mail through an outbox: queued in the record's transaction, sent after commit.

A visitor's message and the mail about it are written together or not at all.
Sending happens after the commit; when the SMTP server is down the row stays
queued with its error and ``flask privacy send-mail`` (cron) delivers it later,
with a limit on attempts. The request writes only the mail's template and
values; whoever sends it (the background sender, ``send-mail``) renders it, so
a form's answer does not wait for its mails' templates.

One job per module:

- :mod:`.outbox`: writing mail in the caller's transaction (``queue``)
- :mod:`.frozen`: a mail's values kept until it is rendered
- :mod:`.render`: subject, text and HTML from the templates
- :mod:`.headers`: header values shown as written, the Message-ID
- :mod:`.smtp`: the message and the connection that carries a batch
- :mod:`.delivery`: claims, sending, retries, the due mail
- :mod:`.caps`: daily caps per address and per mailbox
- :mod:`.source`: the outbox as a source of personal data, and its retention
- :mod:`.dispatch`: leaving the request path, the app's background sender
"""

from __future__ import annotations

from .caps import mailbox_allows, recent_notifications, within_daily_cap
from .delivery import (
    BACKOFF,
    BACKOFF_CAP,
    REDACTED,
    backoff,
    claim_lease,
    deliver_due,
    redact,
    send,
    watch,
)
from .dispatch import dispatch, init_app, worker
from .frozen import freeze, thaw
from .headers import HeaderInjectionError
from .outbox import Outgoing, Queued, outbox_rows, queue, queue_all
from .render import content, render
from .source import source

__all__ = [
    "BACKOFF",
    "BACKOFF_CAP",
    "REDACTED",
    "HeaderInjectionError",
    "Outgoing",
    "Queued",
    "backoff",
    "claim_lease",
    "mailbox_allows",
    "content",
    "deliver_due",
    "dispatch",
    "freeze",
    "init_app",
    "outbox_rows",
    "queue",
    "queue_all",
    "recent_notifications",
    "redact",
    "render",
    "send",
    "source",
    "thaw",
    "watch",
    "within_daily_cap",
    "worker",
]
