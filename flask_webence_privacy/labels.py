"""What a person reads instead of a stored value: the one place for labels.

A request's kind and status, a field's name, a stored value (``given``,
``True``, a timestamp) each become words in the reader's language here, and the
pages, the admin, the mails and the CLI import these functions, so the same
value never reads two ways. Kind and status labels are lazy: a mail queued in
one language renders them in its recipient's.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from typing import Any

from babel import Locale
from flask_babel import format_date, format_time

from .config import Text, localize
from .i18n import gettext as _
from .i18n import lazy_gettext as _l
from .i18n import ngettext, package_locale

#: A label as a registration gives it: text, text per language, or a lazy string.
Label = Text | Any
#: A registration's value labels for one field: value -> label, or a function of
#: the value and the language that returns the label (None: show the value).
ValueLabels = Mapping[Any, Label] | Callable[[Any, str], Label | None]

STATUS_LABELS: dict[str, Any] = {
    "unverified": _l("Waiting for confirmation"),
    "verified": _l("Confirmed, being handled"),
    "completed": _l("Completed"),
    "rejected": _l("Rejected"),
}

#: Field labels every source gets unless its registration names its own: the
#: usual column names of the package's models and of a host's.
FIELD_LABELS: dict[str, Any] = {
    "id": _l("Number"),
    "name": _l("Name"),
    "email": _l("E-mail address"),
    "phone": _l("Phone number"),
    "company": _l("Company"),
    "message": _l("Message"),
    "purpose": _l("Purpose"),
    "language": _l("Language"),
    "ip": _l("IP address (shortened)"),
    "policy_version": _l("Version of the privacy policy"),
    "created_at": _l("Date"),
    "updated_at": _l("Last changed"),
    "status": _l("Status"),
}


# -- the package's own values, for its sources' value labels --------------------------------

CONSENT_ACTIONS: dict[str, Any] = {"given": _l("Given"), "withdrawn": _l("Withdrawn")}
CONSENT_PURPOSES: dict[str, Any] = {
    "newsletter": _l("Newsletter"),
    "contact": _l("Answering your message"),
}
CONSENT_FORMS: dict[str, Any] = {
    "contact": _l("Contact form"),
    "newsletter": _l("Newsletter sign-up form"),
    "newsletter-confirm": _l("Confirmation link in our mail"),
    "newsletter-unsubscribe": _l("Unsubscribe page"),
    "newsletter-one-click": _l("Unsubscribe button of your mail program"),
    "privacy-request": _l("Privacy request"),
}
MAIL_KINDS: dict[str, Any] = {
    "contact-ack": _l("Confirmation of your message"),
    "contact-notify": _l("Your message, forwarded to us"),
    "newsletter-confirm": _l("Newsletter: confirm your subscription"),
    "newsletter-confirmed": _l("Newsletter: subscription confirmed"),
    "objection-marketing": _l("Your objection, forwarded to us"),
    "request-verify": _l("Privacy request: confirm your request"),
    "request-open": _l("Privacy request: being handled"),
    "request-notify": _l("Privacy request, forwarded to us"),
    "request-extended": _l("Privacy request: more time needed"),
    "request-rejected": _l("Privacy request: rejected"),
    "portability-recipient": _l("Your data, a download link for the organisation you named"),
    "portability-notice": _l("Your data, sent to the organisation you named"),
    "breach-report": _l("Your report of misuse, forwarded to us"),
    "breach-notice": _l("Notice of a data breach"),
}
MAIL_STATUSES: dict[str, Any] = {
    "queued": _l("Waiting to be sent"),
    "sending": _l("Being sent"),
    "sent": _l("Sent"),
    "failed": _l("Could not be delivered"),
}
SUBSCRIBER_STATUSES: dict[str, Any] = {
    "pending": _l("Waiting for confirmation"),
    "confirmed": _l("Subscribed"),
    "unsubscribed": _l("Unsubscribed"),
}
LIST_NAMES: dict[str, Any] = {"newsletter": _l("Newsletter")}


#: Each right's label by its kind, put here by :func:`rights.register` (the right
#: declares it in its module; this module imports no right, as the table needs
#: what the labels need).
KIND_LABELS: dict[str, Any] = {}


def kind_label(kind: str) -> Any:
    """A privacy request's kind as the reader says it ("See your data"); lazy."""
    return KIND_LABELS.get(kind, kind)


#: How a request reached the maintainer: the portal, or a person who wrote,
#: phoned or sent a letter.
CHANNEL_LABELS: dict[str, Any] = {"web": _l("web form"), "mail": _l("e-mail"),
                                  "phone": _l("phone"), "letter": _l("letter")}


def channel_label(channel: str) -> Any:
    """How a request arrived, in words ("phone"); lazy."""
    return CHANNEL_LABELS.get(channel, channel)


def consent_purpose(purpose: str) -> Any:
    """What a consent was for ("Newsletter"); lazy. A host's own purpose reads as given."""
    return CONSENT_PURPOSES.get(purpose, purpose)


def status_label(status: str) -> Any:
    """A privacy request's status in words; lazy."""
    return STATUS_LABELS.get(status, status)


def text(label: Label | None, language: str) -> str:
    """A label in ``language``: a mapping picks its language, a lazy string
    renders in the active locale."""
    if label is None:
        return ""
    if isinstance(label, (str, Mapping)):
        return localize(label, language)
    return str(label)


def language_name(code: object, language: str) -> str | None:
    """"nl" -> "Nederlands" (in ``language``); None for what is no language code."""
    if not isinstance(code, str) or not code:
        return None
    try:
        return str(Locale.parse(code).get_display_name(language) or code)
    except (ValueError, TypeError):
        return None


def date_text(value: dt.date | dt.datetime | str | None, with_time: bool = True) -> str:
    """A date or moment in the active locale, to the minute: what a person reads."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    with package_locale():
        return _date_text(value, with_time)


def _date_text(value: dt.date | dt.datetime, with_time: bool) -> str:
    if isinstance(value, dt.datetime):
        day = str(format_date(value, "long"))
        if not with_time:
            return day
        # Long date, short time ("26 november 2026, 00:40"): no seconds, no
        # fractions, each in the locale's own order; converted alike to the
        # site's time zone by Flask-Babel.
        return f"{day}, {format_time(value, 'short')}"
    return str(format_date(value, "long"))


def request_kind(value: Any, language: str) -> Any:
    """Value labels of a request's kind column."""
    return kind_label(value) if isinstance(value, str) else None


#: What the package writes as a self-served request's outcome (the maintainer's
#: own words stay as typed).
SELF_SERVED_OUTCOME = "self-service: data shown and offered as download"
SENT_OUTCOME = "sent to the organisation you named: downloaded"
CORRECTION_OUTCOME = re.compile(r"self-service correction: (\d+) field\(s\)")


def request_outcome(value: Any, language: str) -> Any:
    """Value labels of a request's resolution column: the package's own notes."""
    if value == SELF_SERVED_OUTCOME:
        return _("You saw your data on the page and could download it")
    if value == SENT_OUTCOME:
        return _("The organisation you named downloaded your data")
    found = CORRECTION_OUTCOME.fullmatch(value) if isinstance(value, str) else None
    if found:
        return ngettext("You corrected %(num)d field yourself",
                        "You corrected %(num)d fields yourself", int(found[1]))
    return None


def date_only(value: Any, language: str) -> str | None:
    """Value labels of a column whose time of day means nothing (a due date)."""
    if isinstance(value, (dt.date, dt.datetime)):
        return date_text(value, with_time=False)
    return None


def request_status(value: Any, language: str) -> Any:
    """Value labels of a request's status column."""
    return status_label(value) if isinstance(value, str) else None


#: Value labels every source gets for a column of this name unless it names its own.
VALUE_LABELS: dict[str, ValueLabels] = {"language": language_name}


def value_text(value: object, language: str, labels: ValueLabels | None = None) -> str:
    """A stored value as a person reads it: the registration's label for it, else
    yes/no, a formatted date, or the value itself; a dash for nothing."""
    if labels is not None and value is not None:
        found = labels(value, language) if callable(labels) else labels.get(value)
        if found is not None:
            return text(found, language)
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, (dt.datetime, dt.date)):
        return date_text(value)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def day_short(value: dt.date) -> str:
    """A day as a chart's axis marks it ("12 mrt.", "Mar 12"), in the active locale."""
    with package_locale():
        return str(format_date(value, "d MMM"))
