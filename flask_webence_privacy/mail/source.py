"""The outbox as a source of personal data, with its retention."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import sqlalchemy as sa

from .. import labels
from ..config import Settings
from ..i18n import gettext as _
from ..i18n import lazy_gettext as _l
from ..models import Models
from ..policy import format_days
from ..registry import Rule, RuleContext, Source, make_source


def _rules(source: Source, context: RuleContext) -> Iterator[Rule]:
    """Sent mail goes ``PRIVACY_OUTBOX_DAYS`` after sending; mail given up on,
    and mail never delivered (queued or claimed still), that long after it was
    written: the sender no longer tries it then (:func:`~.delivery.due`)."""
    Outbox = context.models.Outbox
    cutoff = context.now - dt.timedelta(days=context.settings.outbox_days)
    subject = source.subject_key()
    yield Rule(source.table, source.name, "sent", cutoff,
               sa.and_(Outbox.status == "sent", Outbox.sent_at < cutoff), subject)
    yield Rule(source.table, source.name, "failed", cutoff,
               sa.and_(Outbox.status == "failed", Outbox.created_at < cutoff), subject)
    yield Rule(source.table, source.name, "unsent", cutoff,
               sa.and_(Outbox.status.in_(("queued", "sending")), Outbox.created_at < cutoff),
               subject)


def _period(settings: Settings) -> str:
    return _("%(short)s after sending; mail that could not be delivered, %(short)s after "
             "it was written", short=format_days(settings.outbox_days))


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
