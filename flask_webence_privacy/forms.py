"""Form pieces every feature shares: the address field and the age statement."""

from __future__ import annotations

from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired, Length, ValidationError

from .i18n import gettext as _
from .i18n import lazy_gettext as _l

#: RFC 5321's limit for a path; longer input is refused before it is parsed.
MAX_EMAIL_LENGTH = 254
_CONTROL = {chr(c) for c in range(32)} | {"\x7f"}


def normalize_email(value: str) -> str:
    """Validate and normalise an address (email-validator): lower-cased domain,
    no display name, no line breaks. Raises ValueError with a visitor's message."""
    value = (value or "").strip()
    if not value:
        raise ValueError(_("Enter your e-mail address."))
    if len(value) > MAX_EMAIL_LENGTH or any(c in _CONTROL for c in value):
        raise ValueError(_("Enter a valid e-mail address, like name@example.nl."))
    try:
        result = validate_email(
            value,
            check_deliverability=current_app.config.get("PRIVACY_CHECK_DELIVERABILITY", False),
        )
    except EmailNotValidError:
        raise ValueError(_("Enter a valid e-mail address, like name@example.nl.")) from None
    return result.normalized


class EmailAddress:
    """WTForms validator: replaces the field's data with the normalised address."""

    def __call__(self, form: Any, field: Any) -> None:
        try:
            field.data = normalize_email(field.data)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


class NoControlCharacters:
    """Refuse CR, LF, NUL and other control characters (tabs and breaks allowed
    where ``multiline`` is set, as in a message body)."""

    def __init__(self, multiline: bool = False) -> None:
        self.allowed = {"\n", "\r", "\t"} if multiline else set()

    def __call__(self, form: Any, field: Any) -> None:
        if field.data and any(c in _CONTROL and c not in self.allowed for c in field.data):
            raise ValidationError(_("This field contains characters that are not allowed."))


def email_field(label: Any = None) -> StringField:
    return StringField(
        label or _l("E-mail address"),
        validators=[DataRequired(message=_l("Enter your e-mail address.")),
                    Length(max=MAX_EMAIL_LENGTH), EmailAddress()],
        filters=[lambda v: v.strip() if isinstance(v, str) else v],
        render_kw={"autocomplete": "email", "type": "email", "maxlength": MAX_EMAIL_LENGTH},
    )


class AgeLabel:
    """The age statement's label, with the configured minimum age at render time."""

    def __str__(self) -> str:
        age = current_app.config.get("PRIVACY_MIN_CONSENT_AGE", 16)
        return _("I am %(age)d or older, or have permission from a parent or guardian", age=age)

    def __html__(self) -> str:
        from markupsafe import escape

        return str(escape(str(self)))


def age_field() -> BooleanField:
    """The required age-16 box (GDPR art. 8, UAVG art. 5): never pre-ticked."""
    return BooleanField(
        AgeLabel(),
        default=False,
        validators=[DataRequired(message=_l(
            "We can only store your details if you are old enough or have permission "
            "from a parent or guardian."))],
    )
