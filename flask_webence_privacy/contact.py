"""The contact and quote form's rules: store the message with its purpose, prove
the consent, and queue the mail about it, all in one transaction.

Nothing here reads the request: the view (or any other caller) passes plain,
already-collected values, so the rules can be used and tested without HTTP.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import nullcontext

from flask import current_app

from . import address, consent, mail
from .config import ContactPurpose, Settings, localize
from .i18n import gettext as _
from .i18n import lazy_gettext as _l
from .language import current_language, speaking
from .models import ContactMessageRow, Models, insert_all, utcnow
from .policy import category_periods, current_version, format_period
from .registry import Source, make_source
from .signals import consent_given, message_received
from .state import State, get_state
from .text import has_control

log = logging.getLogger(__name__)

#: The consent record's purpose and form name for this form.
CONSENT_PURPOSE = "contact"
FORM_NAME = "contact"

#: Field limits, shared by the form and the domain check (the columns allow this much).
MAX_NAME = 200
MAX_PHONE = 40
MAX_COMPANY = 200
MAX_MESSAGE = 5000

#: At most this many acknowledgements to one address per day: the form must not
#: become a way to mail-bomb someone else's address.
ACK_CAP_PER_DAY = 5


class ContactError(ValueError):
    """A value the form should have refused reached the domain layer."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def purposes(settings: Settings) -> Mapping[str, ContactPurpose]:
    """The configured purposes, in order, by name."""
    return settings.contact_purposes


def purpose_label(settings: Settings, name: str, language: str) -> str:
    spec = settings.contact_purposes.get(name)
    return localize(spec.label, language) if spec else name


def notice(language: str | None = None) -> str:
    """What the form says about the use of the details, in ``language``."""
    with speaking(language) if language else nullcontext():
        return _(
            "We use these details only to answer your question or quote request. "
            "Our privacy policy says how long we keep them and what your rights are."
        )


def consent_wording(state: State, language: str) -> str:
    """The exact text the visitor agreed to: the notice and the age statement."""
    def make() -> str:
        with speaking(language):
            return f"{notice()}\n{consent.age_statement(state.settings)}"

    return state.caches.text(("contact-consent", language), make)


def submit(
    state: State,
    *,
    name: str,
    email: str,
    phone: str | None,
    company: str | None,
    purpose: str,
    message: str,
    language: str,
    ip: str | None,
) -> ContactMessageRow:
    """Store a message with its consent proof and its two mails; send after commit.

    Raises :class:`ContactError` for a value the form should have refused, so a
    caller that skips the form still cannot store a half-valid message.
    """
    settings: Settings = state.settings
    db, models = state.db, state.models
    name, phone, company = _clean(name), _clean(phone) or None, _clean(company) or None
    _check(settings, name=name, phone=phone, company=company, purpose=purpose, message=message)
    try:
        email = address.canonical(email)
    except address.InvalidAddress as exc:
        raise ContactError("email", str(exc)) from None
    if language not in settings.languages:
        language = settings.default_language

    version = current_version(settings).version
    now = utcnow()
    record = models.ContactMessage(
        name=name,
        email=email,
        phone=phone,
        company=company,
        purpose=purpose,
        retention_category=settings.contact_purposes[purpose].category,
        message=message,
        language=language,
        ip=ip,
        policy_version=version,
        created_at=now,
    )
    try:
        proof = consent.new_record(
            state,
            consent.GIVEN,
            email=email,
            purpose=CONSENT_PURPOSE,
            wording=consent_wording(state, language),
            form=FORM_NAME,
            age_confirmed=True,
            language=language,
            ip=ip,
            policy_version=version,
        )
        outgoing = [_notification(state, record)]
        if mail.within_daily_cap(state, "contact-ack", email, ACK_CAP_PER_DAY):
            outgoing.append(_ack(state, record))
        mails = mail.outbox_rows(state, outgoing)
        # The message, its proof and its mails in one go: one statement on
        # PostgreSQL. The mails hold the message's values, not its id (not yet
        # known when they are written together).
        insert_all(db.session, [record, proof, *mails])
        queued = [row.id for row in mails]
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise

    # After the commit, and after the response: the visitor never waits for SMTP,
    # and a failing server leaves the mail queued for send-mail, never lost.
    mail.dispatch(state, queued)

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    message_received.send(app, message=record)
    consent_given.send(app, record=proof, email=email, purpose=CONSENT_PURPOSE)
    return record


def _clean(value: str | None) -> str:
    return (value or "").strip()


def _check(settings: Settings, *, name: str, phone: str | None, company: str | None,
           purpose: str, message: str) -> None:
    if purpose not in settings.contact_purposes:
        raise ContactError("purpose", "unknown purpose")
    if not name or len(name) > MAX_NAME or has_control(name):
        raise ContactError("name", "missing, too long or with control characters")
    if phone and (len(phone) > MAX_PHONE or has_control(phone)):
        raise ContactError("phone", "too long or with control characters")
    if company and (len(company) > MAX_COMPANY or has_control(company)):
        raise ContactError("company", "too long or with control characters")
    if not (message or "").strip() or len(message) > MAX_MESSAGE or has_control(
        message, multiline=True
    ):
        raise ContactError("message", "missing, too long or with control characters")


def _notification(state: State, record: ContactMessageRow) -> mail.Outgoing:
    """The maintainer's mail: the message and its purpose; Reply-To the visitor."""
    settings: Settings = state.settings
    language = settings.default_language
    return mail.Outgoing(
        kind="contact-notify",
        to=settings.notify_email,
        template="contact_notify",
        language=language,
        subject_email=record.email,
        reply_to=record.email,
        context={"message": record,
                 "purpose_label": purpose_label(settings, record.purpose, language),
                 "controller_name": settings.controller_name},
    )


def _ack(state: State, record: ContactMessageRow) -> mail.Outgoing:
    """The visitor's acknowledgement, in their language. It repeats nothing the
    visitor typed (not even the name): anyone can type someone else's address,
    and the form must not carry their text to that inbox. No marketing either."""
    settings: Settings = state.settings
    language = record.language or settings.default_language
    return mail.Outgoing(
        kind="contact-ack",
        to=record.email,
        template="contact_ack",
        language=language,
        subject_email=record.email,
        context={"purpose_label": purpose_label(settings, record.purpose, language),
                 "controller_name": settings.controller_name,
                 "contact_email": settings.contact_email},
    )


def _period(settings: Settings) -> str:
    """The periods of the form's purposes, not of every category there is: one
    period when they agree, else each purpose with its own."""
    purposes = settings.contact_purposes
    periods = {name: category_periods(settings, [spec.category]) for name, spec in purposes.items()}
    if len(set(periods.values())) == 1:
        return next(iter(periods.values()))
    language = current_language()
    return "; ".join(f"{purpose_label(settings, name, language)}: {period}"
                     for name, period in periods.items())


def _purpose_value(value: object, language: str) -> str | None:
    settings = get_state().settings
    return purpose_label(settings, value, language) if isinstance(value, str) else None


def _category_value(value: object, language: str) -> str | None:
    settings = get_state().settings
    if not isinstance(value, str) or value not in settings.retention:
        return None
    return format_period(settings.category(value))


def source(models: Models) -> Source:
    """Contact messages follow their purpose's retention category, stored per row."""
    return make_source(
        models.ContactMessage,
        category_column="retention_category",
        label={"en": "Contact and quote messages", "nl": "Contact- en offerteberichten"},
        purpose={"en": "Answering your question or quote request",
                 "nl": "Uw vraag of offerteaanvraag beantwoorden"},
        editable=("name", "phone", "company"),
        builtin=True,
        canonical_email=True,
        period=_period,
        field_labels={"purpose": _l("Subject of your message"),
                      "retention_category": _l("Kept for")},
        value_labels={"purpose": _purpose_value, "retention_category": _category_value},
    )
